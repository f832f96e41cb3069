"""The ``clobactors`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from clobactors import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clobactors",
        description="Connect trading programs to central-limit-order-book exchanges.",
    )
    parser.add_argument("--version", action="version", version=f"clobactors {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
