"""The record of injected faults: what was injected, when, where, and how its recovery is observed.

Split from :mod:`clobactors.sim.faults` (the plan: what *should* go wrong) because this is the other side, what
*did*: :class:`~clobactors.sim.fault_injector.FaultInjector` appends an :class:`InjectedFault` to the
:class:`FaultLog` at each injection, and :mod:`clobactors.sim.fault_probes` and :mod:`clobactors.chaos_recovery`
read it back with its :class:`Probe` to judge recovery. Every name here is re-exported by
:mod:`clobactors.sim.faults`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, final

import attrs

if TYPE_CHECKING:
    from clobactors.sim.faults import FaultKind

__all__ = ["FaultLog", "InjectedFault", "Probe"]


class Probe(enum.Enum):
    """How the session's recovery from one injected fault is observed (see ``docs/fault-injection.md``)."""

    #: The books of ``symbols``: recovered at their next FeedSynced after the disruption the fault caused.
    BOOK = "book"
    #: The user stream: recovered at its next FeedSynced (reconciled) after the disruption.
    USER = "user"
    #: One order (``client_order_id``): recovered once the session knows its real state.
    ORDER = "order"
    #: REST: recovered at the first successful answer after the fault (signed, for clock skew).
    REST = "rest"


@final
@attrs.frozen
class InjectedFault:
    """One fault as injected: what, when (seconds since the simulator started), where, how to watch it heal."""

    seq: int
    kind: FaultKind
    at: float
    target: str
    probe: Probe
    #: Exchange symbols the fault touched (market topics, a snapshot request).
    symbols: tuple[str, ...] = ()
    client_order_id: str = ""
    #: End of a window fault (latency, a reverting clock skew); recovery is judged from then on.
    until: float | None = None

    @property
    def end(self) -> float:
        return self.at if self.until is None else self.until


@final
@attrs.define
class FaultLog:
    """Every injected fault, in order, and what the simulator alone can tell about REST recovery."""

    faults: list[InjectedFault] = attrs.field(factory=list)
    #: seq -> seconds at which the first successful REST answer ended a REST-probed fault.
    rest_recovered: dict[int, float] = attrs.field(factory=dict)
    #: Scheduled firings that found nothing to hit (no matching connection) or came while suspended.
    skipped: int = 0

    def record(self, kind: FaultKind, at: float, target: str, probe: Probe, **extra: object) -> InjectedFault:
        fault = InjectedFault(len(self.faults) + 1, kind, at, target, probe, **extra)  # type: ignore[arg-type]
        self.faults.append(fault)
        return fault

    def counts(self) -> dict[FaultKind, int]:
        out: dict[FaultKind, int] = {}
        for fault in self.faults:
            out[fault.kind] = out.get(fault.kind, 0) + 1
        return out

    def signature(self) -> list[tuple[str, float, str]]:
        """``(kind, time, target)`` of every fault: equal for two runs that injected the same faults."""
        return [(f.kind.value, round(f.at, 6), f.target) for f in self.faults]
