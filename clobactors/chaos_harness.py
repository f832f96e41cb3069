"""A chaos harness: the simulator under a fault plan, a session with its strategies, and the observers.

:func:`open_chaos` is what :func:`clobactors.chaos.run_chaos` is built on, and what a test or a user's own
scenario uses to drive faults by hand: it yields a :class:`ChaosHarness` holding the simulator (with its
:class:`~clobactors.sim.fault_injector.FaultInjector`), the running session, a
:class:`~clobactors.invariants.SessionObserver` fed from the bus since before the session started, and a
:class:`~clobactors.monitor.Monitor`. :meth:`ChaosHarness.quiet_point` checks the invariants;
:meth:`ChaosHarness.recoveries` judges every fault injected so far.

Run it under trio's ``MockClock``: the session's wall clock is pinned to the virtual clock, so its signed
timestamps carry the simulator's time however fast virtual time runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Actor
from clobactors.actors.bus import Bus
from clobactors.actors.session import Session, open_session
from clobactors.chaos_recovery import Recovery, evaluate
from clobactors.config import Environment, ExchangeConfig, OrderEntry, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.invariants import SessionObserver, Violation, book_key, check_session, user_key
from clobactors.messages import OrderUpdate
from clobactors.monitor import Monitor
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultPlan
from clobactors.sim.records import OrderInfo
from clobactors.sim.server import PERPETUAL_FACES, Simulator, open_simulator
from clobactors.strategies.market_making import MarketMaker, RequoteMode

__all__ = [
    "MARKETS",
    "PERP_MARKETS",
    "ChaosHarness",
    "QuietPoint",
    "StrategyFactories",
    "instruments_for",
    "market_makers",
    "open_chaos",
    "quiet_point",
    "session_dialect",
]

#: Simulator symbol -> canonical instrument, for the markets chaos runs on.
MARKETS: Final = {"BTCUSDT": "BTC-USDT", "ETHUSDT": "ETH-USDT"}
#: The same on a perpetual face (``binance-usdm``): the symbols are linear perpetuals.
PERP_MARKETS: Final = {"BTCUSDT": "BTC-USDT-PERP", "ETHUSDT": "ETH-USDT-PERP"}
#: Simulator face -> the dialect a session speaks to it, where the two names differ.
_DIALECTS: Final = {"binance-usdm": "binance_usdm"}
StrategyFactories = Sequence[tuple[str, Callable[[], Actor]]]


def session_dialect(exchange: str) -> str:
    """The dialect registry name a session uses against the simulator face ``exchange``."""
    return _DIALECTS.get(exchange, exchange)


def instruments_for(exchange: str, symbols: Sequence[str]) -> dict[str, str]:
    """Canonical instrument -> simulator symbol for ``symbols`` on the face ``exchange`` (perpetuals on a
    perpetual face); a symbol outside the known markets keeps its own name."""
    markets = PERP_MARKETS if exchange in PERPETUAL_FACES else MARKETS
    return {markets.get(s, s): s for s in symbols}


@final
@attrs.frozen
class QuietPoint:
    """One invariant check: when (seconds on the fault clock), whether the session settled, what disagreed."""

    at: float
    settled: bool
    waited: float
    violations: tuple[Violation, ...]


@final
@attrs.define(eq=False)
class ChaosHarness:
    """One exchange of a session under faults; see the module docstring."""

    exchange: str
    sim: Simulator
    session: Session
    injector: FaultInjector
    observer: SessionObserver
    monitor: Monitor
    #: The session's instruments -> the simulator's symbols.
    instruments: Mapping[str, str]

    def elapsed(self) -> float:
        """Seconds since the simulator started (the fault log's clock)."""
        return self.injector.elapsed()

    async def quiet_point(self, *, settle: float = 75.0, max_wait: float = 60.0, calm: float = 2.0) -> QuietPoint:
        return await quiet_point(
            self.session, self.sim, self.injector, self.observer, self.exchange, self.instruments,
            settle=settle, max_wait=max_wait, calm=calm,
        )  # fmt: skip

    def recoveries(self) -> tuple[Recovery, ...]:
        symbols = {s: i for i, s in self.instruments.items()}
        return tuple(
            evaluate(f, self.injector.log, self.observer, self.exchange, symbols) for f in self.injector.log.faults
        )


def market_makers(
    exchange: str,
    instruments: Mapping[str, str],
    *,
    requote: RequoteMode = RequoteMode.CANCEL_PLACE,
    made: list[MarketMaker] | None = None,
) -> StrategyFactories:
    """The default strategies: one market maker per instrument, requoting as ``requote`` says. Every maker
    built (restarts included) is appended to ``made``, when given, so a run can read their statistics."""

    def maker(instrument: str) -> tuple[str, Callable[[], Actor]]:
        name = f"mm.{instrument}"

        def build() -> MarketMaker:
            actor = MarketMaker(
                name=name, exchange=exchange, instrument=instrument, size=Decimal("0.01"),
                half_spread_bps=Decimal("2"), requote=requote,
            )  # fmt: skip
            if made is not None:
                made.append(actor)
            return actor

        return name, build

    return [maker(instrument) for instrument in instruments]


@contextlib.asynccontextmanager
async def open_chaos(
    plan: FaultPlan,
    *,
    exchange: str = "binance",
    seed: int = 1,
    symbols: Sequence[str] = ("BTCUSDT",),
    strategies: Callable[[str, Mapping[str, str]], StrategyFactories] | None = market_makers,
    order_entry: OrderEntry = OrderEntry.REST,
) -> AsyncIterator[ChaosHarness]:
    """The simulator under ``plan`` and a session trading ``symbols`` on it with ``strategies(exchange,
    instruments)`` (``None``: no strategy), its orders sent as ``order_entry`` says; stops both on exit."""
    instruments = instruments_for(exchange, symbols)
    dialect = session_dialect(exchange)
    observer, monitor = SessionObserver(), Monitor()
    async with open_simulator(exchange, seed=seed, symbols=list(symbols), faults=plan) as sim:
        injector = sim.faults
        assert isinstance(injector, FaultInjector)
        observer.t0 = injector.t0
        account, engine = sim.account_id, sim.engine

        def lookup(update: OrderUpdate) -> OrderInfo | None:
            symbol = instruments.get(update.instrument)
            return None if symbol is None else engine.order(account, symbol, client_order_id=update.client_order_id)

        observer.lookup = lookup
        base_ns, base_t = sim.now_ns(), trio.current_time()

        def wall_ns() -> int:
            return base_ns + round((trio.current_time() - base_t) * 1e9)

        config = SessionConfig(
            exchanges=(
                ExchangeConfig(
                    name=exchange, dialect=dialect if dialect != exchange else "", instruments=tuple(instruments),
                    environment=Environment.CUSTOM, rest=sim.rest_url, ws=sim.ws_url,
                    ws_api=sim.ws_api_url, cancel_all_on_stop=True,
                    order_entry=order_entry,
                ),
            ),
            seed=seed,
        )  # fmt: skip
        credentials = get_credentials(dialect, {"api_key": sim.api_key, "api_secret": sim.api_secret})
        factories = strategies(exchange, instruments) if strategies is not None else ()
        bus = Bus()
        events = bus.subscribe("", prefix=True, name="chaos-observer", market_capacity=64)
        async with trio.open_nursery() as nursery:

            async def fold() -> None:
                async for event in events:
                    observer.observe(event)
                    monitor.observe(event)

            nursery.start_soon(fold)
            async with open_session(
                config, strategies=factories, credentials={exchange: credentials}, bus=bus, wall_ns=wall_ns
            ) as session:
                yield ChaosHarness(exchange, sim, session, injector, observer, monitor, instruments)
            nursery.cancel_scope.cancel()


async def quiet_point(
    session: Session,
    sim: Simulator,
    injector: FaultInjector | None,
    observer: SessionObserver,
    exchange: str,
    symbols: Mapping[str, str],
    *,
    settle: float = 75.0,
    max_wait: float = 60.0,
    calm: float = 2.0,
) -> QuietPoint:
    """Suspend faults, let the session heal, pause the flow, compare the session with the simulator, resume.

    The market keeps moving while the session heals (a book resyncs from the deltas it sees), for ``settle``
    seconds (long enough for a half-open socket to be noticed) and then until it is settled, at most
    ``max_wait`` more: every book of ``symbols`` and the user stream synced, no order pending or unknown,
    nothing injected still in effect. Then the flow pauses and, once no account event came for ``calm``
    seconds, both sides are compared.
    """
    at = injector.elapsed() if injector is not None else trio.current_time() - observer.t0
    if injector is not None:
        injector.suspend()
    started = trio.current_time()
    paused = False
    try:
        await trio.sleep(settle)
        why = await _wait_until(max_wait, lambda: _unsettled(injector, observer, exchange, symbols))
        sim.pause_flow()
        paused = True
        await _wait_until(
            max_wait,
            lambda: (
                _unsettled(injector, observer, exchange, symbols)
                or ("" if trio.current_time() - observer.t0 - observer.last_account_event >= calm else "busy")
            ),
        )
        await trio.sleep(calm)  # the last depth window and stream events reach the session
        violations = await check_session(session, exchange, sim, observer, symbols)
        if why:
            violations.insert(0, Violation("settle", exchange, f"not settled {settle + max_wait:g}s after: {why}"))
    finally:
        if paused:
            sim.resume_flow()
        if injector is not None:
            injector.resume()
    return QuietPoint(at, not why, trio.current_time() - started, tuple(violations))


async def _wait_until(limit: float, reason: Callable[[], str]) -> str:
    """Poll ``reason`` (empty: done) every 0.5 s for at most ``limit`` seconds; the last reason."""
    why = reason()
    with trio.move_on_after(limit):
        while why:
            await trio.sleep(0.5)
            why = reason()
    return why


def _unsettled(
    injector: FaultInjector | None, observer: SessionObserver, exchange: str, symbols: Mapping[str, str]
) -> str:
    reasons = [f"{name} not synced" for name in sorted(symbols) if not observer.healthy(book_key(exchange, name))]
    if not observer.healthy(user_key(exchange)):
        reasons.append("user stream not synced")
    pending = observer.unsettled_orders(exchange)
    if pending:
        reasons.append(f"orders unsettled: {', '.join(pending[:5])}")
    if injector is not None and injector.disturbed:
        reasons.append("a fault is still in effect")
    return "; ".join(reasons)
