"""``clobactors demo``: the embedded simulator, a session connected to it, and the market maker, watched live.

It needs no network and no credentials: the simulator runs in the same process on loopback, speaking the
exchange's own protocol, and the session connects to it with exactly the code that connects to the real
exchange (only the URLs differ). The screen shows top of book, own orders, fills, balances, feed health and
restarts; when stdout is not a terminal it prints one plain line a second instead. The run ends after
``--seconds`` (or Ctrl-C) with a summary: orders, fills, volume, PnL, reconnects, restarts.

``--exchange binance-usdm`` runs the same maker on the perpetuals (``BTCUSDT`` -> ``BTC-USDT-PERP``) against
the embedded USD-M simulator; the session speaks the ``binance_usdm`` dialect. Nothing else changes: the
actors and the maker are exchange-agnostic.

``--strategy xemm`` runs the cross-exchange maker instead (:mod:`clobactors.strategies.cross_exchange`): two
simulators, Binance spot and Binance USD-M, one session over both; quotes on spot ``BTC-USDT``, hedges on
``BTC-USDT-PERP``. The perpetual's mid follows the spot mid loosely (its flow is pulled 0.1 % of the gap at
each of its ~20 events a second, a half-life of about 35 s, as a perpetual tracks its index) on top of its
own random walk, so the two drift apart for seconds and quotes fill when the gap passes the fees and the
minimum profit. The PnL line marks each venue's inventory to that venue's own mid, so it carries the basis
between them. The screen adds each maker's exposure and hedge counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Final, TextIO

import attrs
import trio

from clobactors.actors.actor import Actor
from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.session import open_session
from clobactors.config import Environment, ExchangeConfig, OrderEntry, SessionConfig
from clobactors.errors import ClobactorsError, ConfigError
from clobactors.exchanges import get_credentials
from clobactors.monitor import Monitor, Summary
from clobactors.sim.config import CATALOGUE, SimSymbol
from clobactors.sim.server import Simulator, open_simulator
from clobactors.strategies.cross_exchange import CrossExchangeMaker
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
#: ``--strategy`` choices: the market maker (default) and the cross-exchange maker.
DEMO_STRATEGIES: Final = ("market_maker", "xemm")
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
    strategy: str = "market_maker",
    order_entry: OrderEntry = OrderEntry.REST,
) -> Summary:
    """Run the demo for ``seconds`` on ``exchange`` (a key of :data:`DEMO_EXCHANGES`) and return its summary
    (also printed to ``out``). ``strategy="xemm"`` runs :func:`run_xemm_demo` (``exchange`` must stay
    ``binance``, its maker venue). ``order_entry`` picks REST or the exchange's WebSocket API for orders."""
    if strategy not in DEMO_STRATEGIES:
        raise ConfigError(f"demo strategy must be one of {list(DEMO_STRATEGIES)}, not {strategy!r}")
    if strategy == "xemm":
        if exchange != "binance":
            raise ConfigError("the xemm demo quotes on binance and hedges on binance-usdm: leave --exchange out")
        return await run_xemm_demo(
            seconds=seconds, seed=seed, symbols=symbols, out=out, live=live, refresh=refresh, size=size,
            order_entry=order_entry,
        )  # fmt: skip
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
                    order_entry=order_entry,
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
        session = open_session(config, strategies=strategies, credentials={name: credentials}, bus=bus)
        await _watch(session, monitor, events, seconds=seconds, out=out, live=live, refresh=refresh)
    return _print_summary(monitor, out)


async def _watch(
    session: AbstractAsyncContextManager[object],
    monitor: Monitor,
    events: Subscription,
    *,
    seconds: float,
    out: TextIO,
    live: bool,
    refresh: float,
    extra: Callable[[], list[str]] = list,
) -> None:
    """Run ``session`` for ``seconds`` while folding ``events`` into ``monitor`` and showing it (``extra``:
    lines a strategy adds to each screen and plain line)."""
    started = trio.current_time()
    async with trio.open_nursery() as nursery:

        async def fold() -> None:
            async for event in events:
                monitor.observe(event)

        nursery.start_soon(fold)
        async with session:
            deadline = started + seconds
            next_plain = started
            while (now := trio.current_time()) < deadline:
                if live:
                    out.write(_CLEAR + "\n".join([*monitor.render(now - started), *extra()]) + "\n")
                    out.flush()
                elif now >= next_plain:
                    print(" ".join([monitor.status_line(now - started), *extra()]), file=out, flush=True)
                    next_plain += 1.0
                await trio.sleep(min(refresh, max(0.0, deadline - now)))
        nursery.cancel_scope.cancel()
    # The session has stopped (quotes cancelled): fold in what is still queued.
    while True:
        try:
            monitor.observe(events.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            break


def _print_summary(monitor: Monitor, out: TextIO, extra: Sequence[str] = ()) -> Summary:
    summary = monitor.summary()
    print("", file=out)
    print("summary", file=out)
    for line in [*summary.lines(), *extra]:
        print(f"  {line}", file=out)
    out.flush()
    return summary


async def run_xemm_demo(
    *,
    seconds: float,
    seed: int = 0,
    symbols: Sequence[str] = ("BTCUSDT",),
    out: TextIO = sys.stdout,
    live: bool | None = None,
    refresh: float = 0.5,
    size: Decimal = Decimal("0.01"),
    min_profit_bps: Decimal = Decimal("1"),
    order_entry: OrderEntry = OrderEntry.REST,
) -> Summary:
    """The cross-exchange demo: quote on the spot simulator, hedge on the USD-M one (see the module docstring).

    The spot simulator charges makers no fee here (as Binance does on some pairs and tiers; its catalogue
    default is 0.1 %), the USD-M one its usual 0.05 % taker fee, and the makers are told exactly that: a quote
    sits 0.05 % plus ``min_profit_bps`` from the perpetual book, near enough for the two independent walks to
    reach it in a short run, and every fill earns ``min_profit_bps`` after fees against the book it was
    priced from.
    """
    live = out.isatty() if live is None else live
    spot_face, spot, spot_markets = DEMO_EXCHANGES["binance"]
    perp_face, perp, perp_markets = DEMO_EXCHANGES["binance-usdm"]
    pairs = [(spot_markets.get(s, s), perp_markets.get(s, s)) for s in symbols]
    monitor = Monitor()
    makers: dict[str, CrossExchangeMaker] = {}
    async with (
        open_simulator(spot_face, seed=seed, symbols=[_zero_maker_fee(s) for s in symbols]) as spot_sim,
        open_simulator(perp_face, seed=seed, symbols=list(symbols)) as perp_sim,
    ):
        for symbol in symbols:
            _anchor(perp_sim, spot_sim, symbol)
        config = SessionConfig(
            exchanges=tuple(
                ExchangeConfig(
                    name=name, instruments=instruments, environment=Environment.CUSTOM, rest=sim.rest_url,
                    ws=sim.ws_url, ws_api=sim.ws_api_url, cancel_all_on_stop=True, order_entry=order_entry,
                )
                for name, sim, instruments in (
                    (spot, spot_sim, tuple(p[0] for p in pairs)), (perp, perp_sim, tuple(p[1] for p in pairs))
                )
            ),
            seed=seed,
        )  # fmt: skip
        credentials = {
            name: get_credentials(name, {"api_key": sim.api_key, "api_secret": sim.api_secret})
            for name, sim in ((spot, spot_sim), (perp, perp_sim))
        }
        bus = Bus()
        events = bus.subscribe("", prefix=True, name="demo-monitor", market_capacity=4096)

        def maker(instrument: str, hedge: str) -> tuple[str, Callable[[], Actor]]:
            name = f"xemm.{instrument}"

            def build() -> Actor:
                makers[instrument] = CrossExchangeMaker(
                    name=name, exchange=spot, instrument=instrument, hedge_exchange=perp, hedge_instrument=hedge,
                    size=size, min_profit_bps=min_profit_bps, maker_fee=Decimal(0), hedge_fee=Decimal("0.0005"),
                    max_unhedged=size * 2,
                )  # fmt: skip
                return makers[instrument]

            return name, build

        def lines() -> list[str]:
            return [_xemm_line(instrument, m) for instrument, m in sorted(makers.items())]

        print(f"simulator: REST {spot_sim.rest_url}  WS {spot_sim.ws_url}  (seed {seed})", file=out, flush=True)
        print(f"simulator: REST {perp_sim.rest_url}  WS {perp_sim.ws_url}  (seed {seed})", file=out, flush=True)
        session = open_session(
            config, strategies=[maker(*pair) for pair in pairs], credentials=credentials, bus=bus
        )
        await _watch(session, monitor, events, seconds=seconds, out=out, live=live, refresh=refresh, extra=lines)
    return _print_summary(monitor, out, lines())


def _anchor(perp: Simulator, spot: Simulator, symbol: str) -> None:
    """Make the perpetual simulator's mid of ``symbol`` follow the spot simulator's (its index)."""
    spot_flow, perp_flow = spot.flow, perp.flow
    if spot_flow is not None and perp_flow is not None:
        perp_flow.anchor(symbol, lambda: spot_flow.mid(symbol) if spot_flow.started else None, pull=0.001)


def _zero_maker_fee(symbol: str) -> SimSymbol | str:
    """The spot catalogue's ``symbol`` with no maker fee (unknown names are left for the simulator to refuse)."""
    known = CATALOGUE.get(symbol.strip().upper())
    return symbol if known is None else attrs.evolve(known, maker_fee=Decimal(0))


def _xemm_line(instrument: str, maker: CrossExchangeMaker) -> str:
    stats = maker.statistics()
    return (
        f"xemm {instrument}: exposure={stats.exposure.normalize():f} in_flight={stats.in_flight.normalize():f} "
        f"maker_fills={stats.maker_fills} hedges={stats.hedges_placed} hedge_fills={stats.hedge_fills} "
        f"hedge_failures={stats.hedge_failures} paused={'yes' if stats.paused else 'no'}"
    )


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
    parser.add_argument(
        "--strategy", default="market_maker", choices=DEMO_STRATEGIES,
        help="market_maker (default) or xemm: quote on binance spot, hedge every fill on binance-usdm",
    )
    parser.add_argument(
        "--order-entry", default="rest", choices=[e.value for e in OrderEntry],
        help="send orders over REST (default) or the exchange's WebSocket API",
    )
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.set_defaults(run=_main)


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    symbols = [s.strip().upper() for s in str(args.symbols).split(",") if s.strip()]
    try:
        trio.run(lambda: run_demo(seconds=args.seconds, seed=args.seed, symbols=symbols,
                                  live=False if args.plain else None, exchange=args.exchange,
                                  strategy=args.strategy, order_entry=OrderEntry(args.order_entry)))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except ClobactorsError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0
