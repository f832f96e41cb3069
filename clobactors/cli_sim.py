"""``clobactors sim <exchange>``: run a simulated exchange on loopback until interrupted.

Prints exactly one JSON line on stdout once serving, for scripts and other processes to read::

    {"exchange": "binance", "rest": "http://127.0.0.1:8080", "ws": "ws://127.0.0.1:8081",
     "ws_api": "ws://127.0.0.1:8081/ws-api/v3", "api_key": "...", "api_secret": "..."}

``--port N`` puts REST on N and the WebSocket endpoints (streams and WebSocket API) on N+1; 0 (the default)
picks free ports. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Final

import trio

from clobactors.errors import ConfigError
from clobactors.sim.server import FACES, Simulator, open_simulator

__all__ = ["add_sim_parser", "ready_line", "run_sim"]

DEFAULT_SYMBOLS_ARG: Final = "BTCUSDT,ETHUSDT"


def add_sim_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``sim`` subcommand."""
    parser = subparsers.add_parser("sim", help="run a simulated exchange on loopback until interrupted")
    parser.add_argument("exchange", choices=sorted(FACES), help="which exchange's protocol to serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="REST port; WebSocket on port+1 (default 0: free ports)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the order flow and the credentials")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS_ARG, help="comma-separated exchange symbols")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and errors to stderr")
    parser.set_defaults(run=run_sim)


def ready_line(sim: Simulator) -> str:
    """The one JSON line announcing where the simulator serves and with which credentials."""
    return json.dumps(
        {
            "exchange": sim.exchange,
            "rest": sim.rest_url,
            "ws": sim.ws_url,
            "ws_api": sim.ws_api_url,
            "api_key": sim.api_key,
            "api_secret": sim.api_secret,
        }
    )


async def _serve(args: argparse.Namespace) -> None:
    port: int = args.port
    symbols = [s for s in args.symbols.split(",") if s.strip()]
    async with open_simulator(
        args.exchange,
        seed=args.seed,
        symbols=symbols,
        host=args.host,
        rest_port=port,
        ws_port=port + 1 if port else 0,
    ) as sim:
        print(ready_line(sim), flush=True)
        await trio.sleep_forever()


def run_sim(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (exit 0); a bad configuration exits 2 with the reason on stderr."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        trio.run(_serve, args)
    except KeyboardInterrupt:
        return 0
    except (ConfigError, OSError) as exc:
        print(f"clobactors sim: {exc}", file=sys.stderr)
        return 2
    return 0
