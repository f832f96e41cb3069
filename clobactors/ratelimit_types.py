"""What the rate limiter is asked and answers: :data:`Cost`, :class:`Priority`, and the frozen records
(:class:`Ticket`, :class:`Grant`, :class:`Wait`, :class:`PollResult`, the statistics).

Declarations only, no arithmetic: kept apart from :class:`~clobactors.ratelimit.RateLimiter`, whose state
machine fills the rest of :mod:`clobactors.ratelimit`, so the limiter reads on its own. Import every name from
:mod:`clobactors.ratelimit`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeAlias, final

import attrs

from clobactors.ratelimit_windows import WindowKind

__all__ = [
    "Cost",
    "Grant",
    "PollResult",
    "PoolStatistics",
    "Priority",
    "RateLimiterStatistics",
    "Ticket",
    "Wait",
]

#: Units a request consumes per pool name.
Cost: TypeAlias = Mapping[str, int]


class Priority(enum.IntEnum):
    """Who goes first when capacity is short; a larger value is served first."""

    #: Snapshots and other market-data fetches: a stale book can wait.
    MARKET_DATA = 0
    #: Account and order queries, reconciliation.
    QUERY = 1
    #: New orders and amendments.
    ORDER = 2
    #: Cancels: they reduce risk, may use the reserve, and jump every queue.
    CANCEL = 3


@final
@attrs.frozen
class Ticket:
    """A queued request; granted tickets come back from :meth:`RateLimiter.poll`."""

    id: int
    priority: Priority
    #: ``(pool name, units)`` pairs, zero units left out.
    cost: tuple[tuple[str, int], ...]
    enqueued_at: float


@final
@attrs.frozen
class Grant:
    """The request may be sent now; ``at`` is the grant time to pass back as ``sent_at``."""

    at: float


@final
@attrs.frozen
class Wait:
    """Not now: ask again at ``until`` (exact when nothing else arrives meanwhile)."""

    until: float


@final
@attrs.frozen
class PollResult:
    """Tickets granted by one poll, and when to poll again (``None``: nobody is waiting)."""

    granted: tuple[Ticket, ...]
    next_wakeup: float | None


@final
@attrs.frozen
class PoolStatistics:
    """One pool's count as of the ``now`` given to :meth:`RateLimiter.statistics`."""

    name: str
    kind: WindowKind
    limit: int
    #: What non-cancel requests may use: ``limit`` minus the cancel reserve.
    usable: int
    window: float
    used: int
    #: Fixed: when the window resets. Sliding: when the oldest units expire (``None``: nothing counted).
    resets_at: float | None


@final
@attrs.frozen
class RateLimiterStatistics:
    """A snapshot for dashboards and alarms; the dicts are copies."""

    pools: tuple[PoolStatistics, ...]
    waiting: dict[Priority, int]
    granted: dict[Priority, int]
    cancelled: int
    #: ``None`` when no pause was ever requested; compare with ``now`` to see whether it is over.
    paused_until: float | None
    pauses: int
    bans: int
    #: Server reports that raised our count (we undercounted: another client on the IP, a clock offset).
    usage_corrections: int
    #: Server reports dropped: unknown pool, negative figure, or about a window that has already rolled.
    observations_ignored: int
