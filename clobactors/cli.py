"""The ``clobactors`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from clobactors import __version__
from clobactors.chaos import add_chaos_parser
from clobactors.cli_sim import add_sim_parser
from clobactors.demo import add_demo_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clobactors",
        description="Connect trading programs to central-limit-order-book exchanges.",
    )
    parser.add_argument("--version", action="version", version=f"clobactors {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_demo_parser(subcommands)
    add_sim_parser(subcommands)
    add_chaos_parser(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
