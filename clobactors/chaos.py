"""``clobactors chaos``: a session and its strategies against the simulator under a fault plan, with figures.

:func:`run_chaos` starts the embedded simulator with a :class:`~clobactors.sim.faults.FaultPlan` (a seeded
schedule of every fault kind by default, or your own), a session connected to it with exactly the code that
connects to the real exchange, and the strategies (the market maker by default, or yours). Every
``quiet_every`` seconds, and at the end, it holds a *quiet point*: no new faults, the synthetic order flow
paused, ``settle`` seconds to let the session heal, then :func:`~clobactors.invariants.check_session`
compares the session with the simulator (books, orders, fills, balances). Afterwards each injected fault is
judged by :mod:`clobactors.chaos_recovery` and the run prints one row per fault kind: injected, recovered,
absorbed (no visible disruption), time to recover (median, max), then the invariant violations.

With ``requote=RequoteMode.AMEND`` (``--requote amend``) the market makers move their quotes with ModifyOrder
instead of cancel + place, and a generated schedule adds faults aimed at the exchange's modify route (its fault
vocabulary's ``modify_target``: lost answers, 5xx, timeouts, refusals), so the amendment path heals under
faults too.

With ``order_entry=OrderEntry.WEBSOCKET`` (``--order-entry websocket``, Binance spot or USD-M) the session sends
its orders over the exchange's WebSocket API, and a generated schedule aims its request faults at WebSocket API
requests instead of REST routes (the vocabulary's ``ws_request_target``; the amend faults at the modify route's
twin, ``WS order.cancelReplace`` on spot, ``WS order.modify`` on USD-M): the same kinds, as many, at the same
times.

Time is virtual: run it under trio's ``MockClock`` (the CLI does), and ``--seconds 600`` of exchange time pass
in a few seconds of wall time with the timeouts, heartbeats and backoffs the session uses in production. The
session's wall clock is pinned to the virtual clock, so signatures carry the simulator's time.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, TextIO, final

import attrs
import trio
import trio.testing

from clobactors.chaos_harness import QuietPoint, StrategyFactories, market_makers, open_chaos
from clobactors.chaos_recovery import KindFigures, Recovery, kind_figures
from clobactors.config import OrderEntry
from clobactors.errors import ClobactorsError, ConfigError
from clobactors.invariants import Violation
from clobactors.sim.fault_vocab import VOCABULARIES, FaultVocabulary, vocabulary_for
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.ws_request_faults import is_ws_target
from clobactors.strategies.market_making import MarketMaker, MarketMakerStatistics, RequoteMode

__all__ = ["AMEND_FAULT_KINDS", "ChaosReport", "add_chaos_parser", "amend_faults", "parse_kinds", "parse_requote",
           "run_chaos", "ws_request_faults"]  # fmt: skip

logger: Final = logging.getLogger(__name__)

#: Kinds a generated amend schedule also aims at the modify route: what can go wrong with one request.
AMEND_FAULT_KINDS: Final = (FaultKind.LOST_ACK, FaultKind.HTTP_5XX, FaultKind.HTTP_TIMEOUT, FaultKind.REJECT_ORDER)
#: Seconds between amend-route faults on average (on top of the every-15-seconds general schedule).
_AMEND_FAULT_GAP: Final = 45.0


@final
@attrs.frozen
class ChaosReport:
    """Everything a chaos run measured."""

    seed: int
    seconds: float
    rows: tuple[KindFigures, ...]
    recoveries: tuple[Recovery, ...]
    quiet_points: tuple[QuietPoint, ...]
    skipped: int
    summary: tuple[str, ...]
    requote: RequoteMode = RequoteMode.CANCEL_PLACE
    order_entry: OrderEntry = OrderEntry.REST
    #: The default market makers' statistics, one per incarnation (empty with your own strategies).
    makers: tuple[MarketMakerStatistics, ...] = ()

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(v for q in self.quiet_points for v in q.violations)

    @property
    def unrecovered(self) -> tuple[Recovery, ...]:
        return tuple(r for r in self.recoveries if not r.recovered)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.unrecovered

    def lines(self) -> list[str]:
        out = [f"{'fault kind':<18} {'injected':>8} {'recovered':>9} {'absorbed':>8} {'ttr median':>10} {'ttr max':>8}"]
        for row in self.rows:
            out.append(
                f"{row.kind.value:<18} {row.injected:>8} {row.recovered:>9} {row.absorbed:>8} "
                f"{_seconds(row.ttr_median):>10} {_seconds(row.ttr_max):>8}"
            )
        total = sum(r.injected for r in self.rows)
        out.append(f"{'total':<18} {total:>8} {sum(r.recovered for r in self.rows):>9}")
        out.append("")
        out.append(
            f"quiet points {len(self.quiet_points)}, invariant violations {len(self.violations)}"
            f"{f', skipped firings {self.skipped}' if self.skipped else ''}"
        )
        for violation in self.violations:
            out.append(f"  VIOLATION {violation}")
        for recovery in self.unrecovered:
            f = recovery.fault
            out.append(f"  NOT RECOVERED {f.kind.value} at {f.at:.3f}s on {f.target}")
        if self.makers:
            def count(field: Callable[[MarketMakerStatistics], int]) -> int:
                return sum(field(m) for m in self.makers)

            out.append(
                f"market makers ({self.requote.value}): requotes {count(lambda m: m.requotes)}, placed "
                f"{count(lambda m: m.quotes_placed)}, cancelled {count(lambda m: m.quotes_cancelled)}, amends "
                f"{count(lambda m: m.amends)}, amend fallbacks {count(lambda m: m.amend_fallbacks)}, fills "
                f"{count(lambda m: m.fills)}, errors {count(lambda m: m.errors)}"
            )
        return out


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


async def run_chaos(
    *,
    exchange: str = "binance",
    seconds: float = 600.0,
    seed: int = 1,
    kinds: Iterable[FaultKind] | None = None,
    plan: FaultPlan | None = None,
    symbols: Sequence[str] = ("BTCUSDT",),
    strategies: Callable[[str, Mapping[str, str]], StrategyFactories] | None = market_makers,
    quiet_every: float = 200.0,
    settle: float = 75.0,
    requote: RequoteMode = RequoteMode.CANCEL_PLACE,
    order_entry: OrderEntry = OrderEntry.REST,
    out: TextIO | None = None,
) -> ChaosReport:
    """Run a session with ``strategies`` (default: a market maker per instrument, requoting as ``requote``
    says) against the simulator under ``plan`` (default: :meth:`FaultPlan.generate` over ``kinds``, every kind
    by default, plus :func:`amend_faults` when ``requote`` is AMEND; its request faults aimed at the WebSocket
    API by :func:`ws_request_faults` when ``order_entry`` is WEBSOCKET) for ``seconds`` of simulated time, and
    return (and print to ``out``) the figures.

    ``strategies(exchange, instruments)`` gets the session's exchange name and the instruments
    (canonical name -> simulator symbol) and returns ``(name, factory)`` pairs, as ``open_session`` takes.
    A quiet point is held every ``quiet_every`` seconds and at the end; the generated plan leaves them alone.
    """
    if seconds <= 0 or quiet_every <= 0:
        raise ConfigError("seconds and quiet_every must be positive")
    checks = [*_frange(quiet_every, seconds), seconds]
    if plan is None:
        quiet = [(t, t + settle + 20.0) for t in checks]
        chosen = tuple(kinds) if kinds is not None else tuple(FaultKind)
        plan = FaultPlan.generate(seed, seconds, chosen, quiet=quiet)
        if requote is RequoteMode.AMEND:
            extra = amend_faults(exchange, seed, seconds, chosen, quiet=quiet, order_entry=order_entry)
            plan = FaultPlan(rules=tuple(sorted((*plan.rules, *extra), key=_when)), seed=plan.seed)
        if order_entry is OrderEntry.WEBSOCKET:
            plan = FaultPlan(rules=ws_request_faults(plan.rules, vocabulary_for(exchange)), seed=plan.seed)
    makers: list[MarketMaker] = []
    if strategies is market_makers:
        strategies = functools.partial(market_makers, requote=requote, made=makers)
    points: list[QuietPoint] = []
    async with open_chaos(
        plan, exchange=exchange, seed=seed, symbols=symbols, strategies=strategies, order_entry=order_entry
    ) as chaos:
        for check_at in checks:
            await trio.sleep_until(chaos.injector.t0 + check_at)
            point = await chaos.quiet_point(settle=settle)
            points.append(point)
            logger.info("quiet point at %.1fs: %d violations", point.at, len(point.violations))
        # The run is over: hits still armed must not land on the shutdown (cancel-all on stop), unjudged.
        chaos.injector.suspend()
    recoveries = chaos.recoveries()
    report = ChaosReport(
        seed=seed,
        seconds=seconds,
        rows=tuple(kind_figures(recoveries)),
        recoveries=recoveries,
        quiet_points=tuple(points),
        skipped=chaos.injector.log.skipped,
        summary=tuple(chaos.monitor.summary().lines()),
        requote=requote,
        order_entry=order_entry,
        makers=tuple(m.statistics() for m in makers),
    )
    if out is not None:
        for line in report.lines():
            print(line, file=out)
        print("", file=out)
        for line in report.summary:
            print(f"  {line}", file=out)
        out.flush()
    return report


def amend_faults(
    exchange: str,
    seed: int,
    seconds: float,
    kinds: Iterable[FaultKind] = AMEND_FAULT_KINDS,
    *,
    quiet: Sequence[tuple[float, float]] = (),
    order_entry: OrderEntry = OrderEntry.REST,
) -> tuple[FaultRule, ...]:
    """Faults of :data:`AMEND_FAULT_KINDS` (those also in ``kinds``) aimed at ``exchange``'s modify route, at
    seeded times outside the ``quiet`` windows: one every 45 s on average, each kind at least once. The
    generated schedule's defaults aim lost answers and refusals at the placement route only, and the
    route-wide kinds hit a modification only by chance. Over the WebSocket API (``order_entry``) the route is
    its twin there. The route comes from the face's fault vocabulary; no faults for an unknown face."""
    vocabulary = VOCABULARIES.get(exchange)
    route = vocabulary.modify_target(order_entry is OrderEntry.WEBSOCKET) if vocabulary is not None else None
    chosen = [k for k in AMEND_FAULT_KINDS if k in set(kinds)]
    if route is None or not chosen:
        return ()
    schedule = FaultPlan.generate(seed, seconds, chosen, mean_gap=_AMEND_FAULT_GAP, start=20.0, quiet=quiet)
    return tuple(attrs.evolve(rule, target=route) for rule in schedule.rules)


def ws_request_faults(rules: Iterable[FaultRule], vocabulary: FaultVocabulary) -> tuple[FaultRule, ...]:
    """``rules`` with the request kinds aimed at WebSocket API requests (``vocabulary.ws_request_target``)
    unless they name a ``WS`` target already; every other rule as it is."""
    out = []
    for rule in rules:
        target = None if is_ws_target(rule.target) else vocabulary.ws_request_target(rule.kind)
        out.append(attrs.evolve(rule, target=target) if target is not None else rule)
    return tuple(out)


def _when(rule: FaultRule) -> tuple[float, str]:
    return (rule.at or 0.0, rule.kind.value)


def _frange(step: float, stop: float) -> Iterable[float]:
    n = 1
    while n * step < stop:
        yield n * step
        n += 1


# -- command line --------------------------------------------------------------------------------------------


def add_chaos_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``chaos`` subcommand."""
    parser = subparsers.add_parser(
        "chaos", help="run the market maker against the simulator under injected faults and print recovery figures"
    )
    parser.add_argument(
        "--exchange",
        default="binance",
        help="simulator face: binance (spot, default) or binance-usdm (USD-M perpetuals)",
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="simulated seconds to run (default 600)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the market and the fault schedule")
    known = ", ".join(k.value for k in FaultKind)
    parser.add_argument("--faults", default="all", help=f"comma-separated fault kinds, or 'all' ({known})")
    parser.add_argument("--plan", type=Path, help="a TOML fault plan instead of the generated schedule")
    parser.add_argument("--symbols", default="BTCUSDT", help="comma-separated simulator symbols (BTCUSDT,ETHUSDT)")
    parser.add_argument("--quiet-every", type=float, default=200.0, help="seconds between invariant checks")
    parser.add_argument(
        "--requote",
        default="cancel",
        help="how the market makers move their quotes: cancel (cancel + place, default) or amend (ModifyOrder; "
        "adds faults on the modify route)",
    )
    parser.add_argument(
        "--order-entry",
        default="rest",
        choices=[e.value for e in OrderEntry],
        help="how orders reach the exchange: rest (default) or websocket (the exchange's WebSocket API: "
        "/ws-api/v3 on binance, /ws-fapi/v1 on binance-usdm; the request faults then hit WebSocket API requests)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.set_defaults(run=_main)


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    if text.strip().lower() in ("", "all"):
        return tuple(FaultKind)
    kinds = []
    for name in text.split(","):
        try:
            kinds.append(FaultKind(name.strip().lower()))
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise ConfigError(f"unknown fault kind {name.strip()!r}; known: {known}") from None
    return tuple(kinds)


def parse_requote(text: str) -> RequoteMode:
    """``--requote``: ``cancel`` (or ``cancel_place``) or ``amend``."""
    name = text.strip().lower()
    if name == "cancel":
        return RequoteMode.CANCEL_PLACE
    try:
        return RequoteMode(name)
    except ValueError:
        raise ConfigError(f"unknown requote mode {text.strip()!r}; known: cancel, amend") from None


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr)
    try:
        kinds = parse_kinds(args.faults)
        requote = parse_requote(args.requote)
        order_entry = OrderEntry(args.order_entry)
        plan = FaultPlan.from_toml(args.plan) if args.plan else None
        symbols = [s.strip().upper() for s in str(args.symbols).split(",") if s.strip()]
        print(
            f"chaos: {args.exchange}, {args.seconds:g} simulated seconds, seed {args.seed}, "
            f"{'plan ' + str(args.plan) if plan else f'{len(kinds)} fault kinds'}, requote {requote.value}, "
            f"orders over {order_entry.value} (virtual time)",
            flush=True,
        )
        started = time.monotonic()
        report = trio.run(
            lambda: run_chaos(
                exchange=args.exchange, seconds=args.seconds, seed=args.seed, kinds=kinds, plan=plan,
                symbols=symbols, quiet_every=args.quiet_every, requote=requote, order_entry=order_entry,
                out=sys.stdout,
            ),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )  # fmt: skip
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except ClobactorsError as exc:
        print(f"chaos failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nwall time {time.monotonic() - started:.1f}s", flush=True)
    return 0 if report.ok else 1
