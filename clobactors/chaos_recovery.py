"""Recovery figures for a chaos run: did the session heal from each injected fault, and how fast.

Each :class:`~clobactors.sim.faults.InjectedFault` carries a :class:`~clobactors.sim.faults.Probe` saying
where its effect shows. Times are seconds on the fault log's clock (trio time since the simulator started),
measured *from the fault*:

* ``BOOK`` (the books of the fault's symbols; every book of the exchange when it names none) and ``USER`` (the
  user stream): the fault *disrupted* a feed if it went stale or down (``FeedStale``/``FeedDown``) between
  the fault and the end of its detection window (the fault's end plus :func:`detection_window`), or was
  already unhealthy at the fault. It is *recovered* at the first ``FeedSynced`` after that (books resynced,
  the user stream reconnected *and* reconciled); time to recover runs to the slowest feed. A fault that
  disrupted nothing was *absorbed*: recovered, with time to recover equal to its own length (0 for a
  single frame, the window for latency).
* ``ORDER`` (one order, by client order id): recovered at the first published state of the order after the
  fault that is settled (open, filled, cancelled, rejected, expired: neither pending nor unknown), i.e. once
  the session knows the order's real state; absorbed if nothing was published after the fault and the
  state before it was settled.
* ``REST``: recovered at the first successful answer after the fault (after its window for latency; on a
  signed request for clock skew; on the same route for 5xx and timeouts, on any route for 429/418), as
  the simulator saw it.

A disruption inside the detection window is attributed to every fault on that feed that preceded it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, final

import attrs

from clobactors.invariants import SessionObserver, book_key, user_key
from clobactors.model import OrderStatus
from clobactors.sim.faults import FaultKind, FaultLog, InjectedFault, Probe

__all__ = ["KindFigures", "Recovery", "detection_window", "evaluate", "kind_figures"]

_UNSETTLED: Final = frozenset({OrderStatus.PENDING_CREATE, OrderStatus.PENDING_CANCEL, OrderStatus.UNKNOWN})
#: Seconds after a fault's end within which a disruption is attributed to it. A half-open socket is only
#: noticed once the client's idle timeout (Binance market streams: 60 s) or ping deadline (40 s) passes.
_DETECTION: Final = {FaultKind.WS_HALF_OPEN: 75.0}
_DEFAULT_DETECTION: Final = 10.0


def detection_window(kind: FaultKind) -> float:
    return _DETECTION.get(kind, _DEFAULT_DETECTION)


@final
@attrs.frozen
class Recovery:
    """The verdict on one fault. ``time_to_recover`` is None when it did not recover."""

    fault: InjectedFault
    recovered: bool
    disrupted: bool
    time_to_recover: float | None


def _state_at(timeline: Sequence[tuple[float, bool]], t: float) -> bool | None:
    state: bool | None = None
    for at, healthy in timeline:
        if at > t:
            break
        state = healthy
    return state


def _feed_recovery(timeline: Sequence[tuple[float, bool]], start: float, end: float) -> tuple[bool, float | None]:
    """(disrupted, recovered at) for one feed: see the module docstring."""
    disrupted_at: float | None = start if _state_at(timeline, start) is False else None
    if disrupted_at is None:
        disrupted_at = next((t for t, healthy in timeline if start <= t <= end and not healthy), None)
    if disrupted_at is None:
        return False, None
    healed = next((t for t, healthy in timeline if t >= disrupted_at and healthy), None)
    return True, healed


def evaluate(
    fault: InjectedFault,
    log: FaultLog,
    observer: SessionObserver,
    exchange: str,
    instruments: Mapping[str, str],
) -> Recovery:
    """Judge one fault; ``instruments`` maps the simulator's symbols to the session's instruments."""
    match fault.probe:
        case Probe.REST:
            at = log.rest_recovered.get(fault.seq)
            return Recovery(fault, at is not None, True, None if at is None else at - fault.at)
        case Probe.ORDER:
            return _order_recovery(fault, observer, exchange)
        case Probe.BOOK:
            names = [instruments[s] for s in fault.symbols if s in instruments] or sorted(instruments.values())
            keys = [book_key(exchange, name) for name in names]
        case Probe.USER:
            keys = [user_key(exchange)]
    horizon = fault.end + detection_window(fault.kind)
    disrupted, healed_at = False, fault.end
    for key in keys:
        hit, healed = _feed_recovery(observer.health.get(key, ()), fault.at, horizon)
        if hit:
            disrupted = True
            if healed is None:
                return Recovery(fault, False, True, None)
            healed_at = max(healed_at, healed)
    return Recovery(fault, True, disrupted, healed_at - fault.at)


def _order_recovery(fault: InjectedFault, observer: SessionObserver, exchange: str) -> Recovery:
    history = observer.order_history.get((exchange, fault.client_order_id), [])
    before = [status for t, status in history if t < fault.at]
    for t, status in history:
        if t >= fault.at and status not in _UNSETTLED:
            return Recovery(fault, True, True, t - fault.at)
    if not any(t >= fault.at for t, _ in history) and before and before[-1] not in _UNSETTLED:
        return Recovery(fault, True, False, 0.0)
    return Recovery(fault, False, True, None)


@final
@attrs.frozen
class KindFigures:
    """One row of the chaos table."""

    kind: FaultKind
    injected: int
    recovered: int
    absorbed: int
    ttr_median: float | None
    ttr_max: float | None

    @property
    def unrecovered(self) -> int:
        return self.injected - self.recovered


def kind_figures(recoveries: Iterable[Recovery]) -> list[KindFigures]:
    """Per kind: counts and time-to-recover median and max over recovered faults, in FaultKind order."""
    by_kind: dict[FaultKind, list[Recovery]] = {}
    for recovery in recoveries:
        by_kind.setdefault(recovery.fault.kind, []).append(recovery)
    rows = []
    for kind in FaultKind:
        group = by_kind.get(kind)
        if not group:
            continue
        times = [r.time_to_recover for r in group if r.time_to_recover is not None]
        rows.append(
            KindFigures(
                kind=kind,
                injected=len(group),
                recovered=sum(r.recovered for r in group),
                absorbed=sum(r.recovered and not r.disrupted for r in group),
                ttr_median=statistics.median(times) if times else None,
                ttr_max=max(times) if times else None,
            )
        )
    return rows
