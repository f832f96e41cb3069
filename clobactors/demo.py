"""``clobactors demo``: the embedded simulator, a session connected to it, and the market maker, watched live.

It needs no network and no credentials: the simulator runs in the same process on loopback, speaking the
exchange's own protocol, and the session connects to it with exactly the code that connects to the real
exchange (only the URLs differ). The screen shows top of book, own orders, fills, balances, feed health and
restarts; when stdout is not a terminal it prints one plain line a second instead. The run ends after
``--seconds`` (or Ctrl-C) with a summary: orders, fills, volume, PnL, reconnects, restarts.

``--exchange binance-usdm`` runs the same maker on the perpetuals (``BTCUSDT`` -> ``BTC-USDT-PERP``) against
the embedded USD-M simulator; the session speaks the ``binance_usdm`` dialect. Nothing else changes: the
actors and the maker are exchange-agnostic.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final, TextIO

import trio

from clobactors.actors.actor import Actor
from clobactors.actors.bus import Bus
from clobactors.actors.session import open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.errors import ClobactorsError, ConfigError
from clobactors.exchanges import get_credentials
from clobactors.monitor import Monitor, Summary
from clobactors.sim.server import open_simulator
from clobactors.strategies.market_making import MarketMaker

__all__ = ["add_demo_parser", "run_demo"]

#: Simulator symbol -> canonical instrument, for the demo's markets.
DEMO_MARKETS: Final = {"BTCUSDT": "BTC-USDT", "ETHUSDT": "ETH-USDT"}
#: The same for the perpetual simulator (``binance-usdm``).
DEMO_PERP_MARKETS: Final = {"BTCUSDT": "BTC-USDT-PERP", "ETHUSDT": "ETH-USDT-PERP"}
#: ``--exchange`` choice -> (simulator face, session exchange and dialect name, canonical names by symbol).
DEMO_EXCHANGES: Final = {
    "binance": ("binance", "binance", DEMO_MARKETS),
    "binance-usdm": ("binance-usdm", "binance_usdm", DEMO_PERP_MARKETS),
}
_CLEAR: Final = "\x1b[H\x1b[2J"


async def run_demo(
    *,
    seconds: float,
    seed: int = 0,
    symbols: Sequence[str] = ("BTCUSDT",),
    out: TextIO = sys.stdout,
    live: bool | None = None,
    refresh: float = 0.5,
    size: Decimal = Decimal("0.01"),
    half_spread_bps: Decimal = Decimal("1"),
    exchange: str = "binance",
) -> Summary:
    """Run the demo for ``seconds`` on ``exchange`` (a key of :data:`DEMO_EXCHANGES`) and return its summary
    (also printed to ``out``)."""
    if exchange not in DEMO_EXCHANGES:
        raise ConfigError(f"demo exchange must be one of {sorted(DEMO_EXCHANGES)}, not {exchange!r}")
    face, name, markets = DEMO_EXCHANGES[exchange]
    live = out.isatty() if live is None else live
    instruments = tuple(markets.get(s, s) for s in symbols)
    monitor = Monitor()
    async with open_simulator(face, seed=seed, symbols=list(symbols)) as sim:
        config = SessionConfig(
            exchanges=(
                ExchangeConfig(
                    name=name, instruments=instruments, environment=Environment.CUSTOM,
                    rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url, cancel_all_on_stop=True,
                ),
            ),
            seed=seed,
        )
        credentials = get_credentials(name, {"api_key": sim.api_key, "api_secret": sim.api_secret})
        bus = Bus()
        events = bus.subscribe("", prefix=True, name="demo-monitor", market_capacity=4096)

        exchange_name = name

        def maker(instrument: str) -> tuple[str, Callable[[], Actor]]:
            name = f"mm.{instrument}"
            return name, lambda: MarketMaker(
                name=name, exchange=exchange_name, instrument=instrument, size=size, half_spread_bps=half_spread_bps
            )

        strategies = [maker(instrument) for instrument in instruments]
        print(f"simulator: REST {sim.rest_url}  WS {sim.ws_url}  (seed {seed})", file=out, flush=True)
        started = trio.current_time()
        async with trio.open_nursery() as nursery:

            async def fold() -> None:
                async for event in events:
                    monitor.observe(event)

            nursery.start_soon(fold)
            async with open_session(config, strategies=strategies, credentials={name: credentials}, bus=bus):
                deadline = started + seconds
                next_plain = started
                while (now := trio.current_time()) < deadline:
                    if live:
                        out.write(_CLEAR + "\n".join(monitor.render(now - started)) + "\n")
                        out.flush()
                    elif now >= next_plain:
                        print(monitor.status_line(now - started), file=out, flush=True)
                        next_plain += 1.0
                    await trio.sleep(min(refresh, max(0.0, deadline - now)))
            nursery.cancel_scope.cancel()
        # The session has stopped (quotes cancelled): fold in what is still queued.
        while True:
            try:
                monitor.observe(events.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
    summary = monitor.summary()
    print("", file=out)
    print("summary", file=out)
    for line in summary.lines():
        print(f"  {line}", file=out)
    out.flush()
    return summary


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="run the market maker against the embedded simulator and watch it live"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated market")
    parser.add_argument("--symbols", default="BTCUSDT", help="comma-separated simulator symbols (BTCUSDT,ETHUSDT)")
    parser.add_argument(
        "--exchange", default="binance", choices=sorted(DEMO_EXCHANGES),
        help="simulated venue: binance (spot, default) or binance-usdm (perpetuals)",
    )
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.set_defaults(run=_main)


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    symbols = [s.strip().upper() for s in str(args.symbols).split(",") if s.strip()]
    try:
        trio.run(lambda: run_demo(seconds=args.seconds, seed=args.seed, symbols=symbols,
                                  live=False if args.plain else None, exchange=args.exchange))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except ClobactorsError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0
