"""Pure rate-limit arithmetic: weighted pools, strict priorities, pauses and server-reported usage.

No I/O and no clock of its own: every method takes ``now``, seconds on the caller's monotonic clock
(``trio.current_time()``), so tests run on plain floats. The rate-limiter actor wraps one
:class:`RateLimiter`:

* A :class:`Pool` is one limit as the exchange defines it: ``limit`` units per ``window`` seconds, counted in
  a ``FIXED`` window aligned to the exchange's clock (Binance's REQUEST_WEIGHT minute resets at each minute
  of server time) or a ``SLIDING`` window (OKX's "20 requests per 2 seconds" is rolling).
* A request's :data:`Cost` maps pool names to units (weight 4 on ``REQUEST_WEIGHT_1M`` plus 1 on
  ``ORDERS_10S``...). Acquiring is atomic: every pool or none.
* Waiters are served by :class:`Priority` (CANCEL > ORDER > QUERY > MARKET_DATA), FIFO within one. A waiter
  that does not fit *reserves* its cost in each of its pools, so nothing behind it can take capacity it
  needs: cancels are never starved by orders or queries, and no waiter is starved within its class.
* ``cancel_reserve``: the fraction of every limit that only cancels may use, so that a burst of orders or
  queries can never leave us unable to pull our quotes.
* 429/418 pause every grant until ``retry_after`` (:meth:`RateLimiter.on_rate_limited`), and the used
  weight the exchange reports in headers raises our count (:meth:`RateLimiter.observe_usage`).

An actor drives it with a queue::

    ticket = limiter.enqueue(cost, Priority.ORDER, trio.current_time())
    result = limiter.poll(trio.current_time())  # after every enqueue/cancel/observe, and at wakeups
    # wake the waiters of result.granted; sleep until result.next_wakeup or the next message

or, without a queue, with :meth:`RateLimiter.try_acquire`, which returns a :class:`Grant` or a :class:`Wait`.
A request's cost larger than what its priority may ever use is a :class:`~clobactors.errors.ConfigError` at
once, never a deadlock.

Pools and window arithmetic live in :mod:`clobactors.ratelimit_windows`, the costs, priorities and records
the limiter takes and answers in :mod:`clobactors.ratelimit_types`; import every name from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.ratelimit_types import (
    Cost,
    Grant,
    PollResult,
    PoolStatistics,
    Priority,
    RateLimiterStatistics,
    Ticket,
    Wait,
)
from clobactors.ratelimit_windows import (
    FixedWindow,
    Pool,
    SlidingWindow,
    WindowKind,
    check_count,
    check_seconds,
    pools_from_rate_limits,
    reserved_for,
)

__all__ = [
    "Cost",
    "Grant",
    "PollResult",
    "Pool",
    "PoolStatistics",
    "Priority",
    "RateLimiter",
    "RateLimiterStatistics",
    "Ticket",
    "Wait",
    "WindowKind",
    "pools_from_rate_limits",
]

_SERVE_ORDER: Final = tuple(sorted(Priority, reverse=True))
#: Each priority's own queue and those served before it.
_AHEAD: Final = {p: _SERVE_ORDER[: _SERVE_ORDER.index(p) + 1] for p in _SERVE_ORDER}


@final
@attrs.define
class RateLimiter:
    """Weighted pools with strict priorities; see the module docstring. Not thread-safe, and needs no lock
    under trio as long as one actor owns it."""

    _pools: Sequence[Pool]
    #: Fraction of each limit only cancels may use (``0.1``: others stop at 90 %).
    _cancel_reserve: float = 0.1
    #: Seconds to add to ``now`` to get the exchange's epoch time, where fixed windows are aligned.
    _clock_offset: float = 0.0
    #: Pause after a 429 that carries no Retry-After.
    _default_retry_after: float = 5.0
    #: Pause after a 418 (IP ban) that carries no Retry-After.
    _default_ban: float = 120.0
    _states: dict[str, FixedWindow | SlidingWindow] = attrs.field(init=False, factory=dict)
    _usable: dict[str, int] = attrs.field(init=False, factory=dict)
    _waiting: dict[Priority, dict[int, Ticket]] = attrs.field(
        init=False, factory=lambda: {p: {} for p in _SERVE_ORDER}
    )
    _granted: dict[Priority, int] = attrs.field(init=False, factory=lambda: dict.fromkeys(Priority, 0))
    _now: float = attrs.field(init=False, default=-math.inf)
    _paused_until: float | None = attrs.field(init=False, default=None)
    _next_id: int = attrs.field(init=False, default=0)
    _cancelled: int = attrs.field(init=False, default=0)
    _pauses: int = attrs.field(init=False, default=0)
    _bans: int = attrs.field(init=False, default=0)
    _corrections: int = attrs.field(init=False, default=0)
    _ignored: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._pools = tuple(self._pools)
        reserve = check_seconds(self._cancel_reserve, "cancel_reserve", strict=False)
        if reserve >= 1:
            raise ConfigError(f"cancel_reserve must be below 1, got {reserve!r}")
        self._clock_offset = check_seconds(self._clock_offset, "clock_offset", minimum=-math.inf, strict=False)
        check_seconds(self._default_retry_after, "default_retry_after")
        check_seconds(self._default_ban, "default_ban")
        for pool in self._pools:
            if pool.name in self._states:
                raise ConfigError(f"rate-limit pool {pool.name!r} is defined twice")
            self._states[pool.name] = (
                FixedWindow(pool, self._clock_offset) if pool.kind is WindowKind.FIXED else SlidingWindow(pool)
            )
            self._usable[pool.name] = pool.limit - reserved_for(pool.limit, reserve)

    # -- requests ------------------------------------------------------------------------------------------

    def enqueue(self, cost: Cost, priority: Priority, now: float) -> Ticket:
        """Queue a request; it is granted by a later :meth:`poll` (possibly the very next one)."""
        now = self._tick(now)
        ticket = Ticket(self._next_id, priority, self._freeze(cost, priority), now)
        self._next_id += 1
        self._waiting[priority][ticket.id] = ticket
        return ticket

    def cancel(self, ticket: Ticket) -> bool:
        """Withdraw a waiting ticket (its requester gave up); False if it was already granted or withdrawn."""
        if self._waiting[ticket.priority].pop(ticket.id, None) is None:
            return False
        self._cancelled += 1
        return True

    def poll(self, now: float) -> PollResult:
        """Grant every waiting ticket that fits, in priority then FIFO order, and say when to poll again.

        The wakeup is the earliest time some waiter fits if nothing else happens meanwhile, so polling at
        it grants at least one ticket.
        """
        now = self._tick(now)
        paused = self._paused_until is not None and now < self._paused_until
        granted: list[Ticket] = []
        reserved: dict[str, int] = {}
        wakeup = math.inf
        for priority in _SERVE_ORDER:
            queue = self._waiting[priority]
            for ticket in list(queue.values()):
                ready = self._ready_at(ticket.cost, priority, reserved, now)
                if ready == now and not paused:
                    del queue[ticket.id]
                    self._grant(ticket.cost, priority, now)
                    granted.append(ticket)
                    continue
                wakeup = min(wakeup, ready)
                for name, units in ticket.cost:
                    reserved[name] = reserved.get(name, 0) + units
        if not any(self._waiting.values()):
            return PollResult(tuple(granted), None)
        if paused and self._paused_until is not None:
            wakeup = max(wakeup, self._paused_until)
        return PollResult(tuple(granted), wakeup)

    def has_waiters(self, priority: Priority) -> bool:
        """True when a ticket of ``priority`` or higher is queued (a newcomer must then queue behind it)."""
        waiting = self._waiting
        return any(waiting[p] for p in _SERVE_ORDER[: _SERVE_ORDER.index(priority) + 1])

    def grant_now(self, cost: Cost, priority: Priority, now: float) -> float | None:
        """The grant time when nobody of ``priority`` or higher is queued, no pause holds and the cost fits;
        else change nothing and answer ``None`` (the caller queues). The uncontended case of
        :meth:`try_acquire` in one pass, without its answer objects: the order path's grant
        (``bench/run.py order-overhead``)."""
        now = self._tick(now)
        if self._paused_until is not None and now < self._paused_until:
            return None
        units = self._fits_now(cost, priority)
        if units is None:
            return None
        self._grant(units, priority, now)
        return now

    def check_cost(self, cost: Cost, priority: Priority) -> None:
        """ConfigError if ``cost`` names an unknown pool, is malformed, or can never fit at ``priority``."""
        self._freeze(cost, priority)

    def try_acquire(self, cost: Cost, priority: Priority, now: float) -> Grant | Wait:
        """Grant at once if the request fits behind every queued waiter of its priority or higher."""
        at = self.grant_now(cost, priority, now)
        if at is not None:
            return Grant(at)
        now = self._now
        units = self._freeze(cost, priority)
        reserved: dict[str, int] = {}
        for ahead in _SERVE_ORDER[: _SERVE_ORDER.index(priority) + 1]:
            for ticket in self._waiting[ahead].values():
                for name, amount in ticket.cost:
                    reserved[name] = reserved.get(name, 0) + amount
        ready = self._ready_at(units, priority, reserved, now)
        paused_until = -math.inf if self._paused_until is None else self._paused_until
        if ready == now and now >= paused_until:
            self._grant(units, priority, now)
            return Grant(now)
        if ready == math.inf:  # queued waiters hold what it needs; they drain within a window or so
            ready = now + min(self._states[name].spec.window for name, _ in units)
        return Wait(max(ready, paused_until))

    # -- what the exchange tells us ------------------------------------------------------------------------

    def on_rate_limited(self, now: float, retry_after: float | None = None, *, banned: bool = False) -> float:
        """Pause every grant after a 429 (``banned=False``) or 418; return the end of the pause.

        A missing, negative or non-finite ``retry_after`` falls back to the configured default, longer for
        a ban. A pause is never shortened by a later, shorter answer.
        """
        now = self._tick(now)
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            retry_after = self._default_ban if banned else self._default_retry_after
        until = now + retry_after
        self._paused_until = until if self._paused_until is None else max(self._paused_until, until)
        self._pauses += 1
        self._bans += banned
        return self._paused_until

    @property
    def paused_until(self) -> float | None:
        """End of the latest pause (it may be over already), ``None`` if there never was one."""
        return self._paused_until

    def observe_usage(self, pool: str, used: int, now: float, *, sent_at: float | None = None) -> bool:
        """Raise our count of ``pool`` to the figure the exchange reported (e.g. ``X-MBX-USED-WEIGHT-1M``).

        Our count is never lowered: it includes what we sent this window even if the exchange's answer was
        computed before those requests arrived. ``sent_at`` is the grant time of the request whose answer
        carried the figure; a report about a window that has rolled since is ignored. Unknown pools and
        negative figures are counted and ignored (they come from the exchange, not from a bug of ours).
        Returns whether the count went up.
        """
        now = self._tick(now)
        state = self._states.get(pool)
        outcome = None if state is None or used < 0 else state.observe(used, now, sent_at)
        if outcome is None:
            self._ignored += 1
            return False
        self._corrections += outcome
        return outcome

    def set_clock_offset(self, offset: float, now: float) -> None:
        """Realign fixed windows to the exchange's clock (``offset`` = server epoch time − ``now``).

        A current window may get longer, never shorter, so what we counted in it is not forgotten early.
        """
        now = self._tick(now)
        self._clock_offset = check_seconds(offset, "clock_offset", minimum=-math.inf, strict=False)
        for state in self._states.values():
            state.realign(self._clock_offset, now)

    def statistics(self, now: float) -> RateLimiterStatistics:
        """Counts as of ``now`` (it takes ``now`` because a window's count depends on the time)."""
        now = self._tick(now)
        pools = tuple(
            PoolStatistics(
                name=pool.name,
                kind=pool.kind,
                limit=pool.limit,
                usable=self._usable[pool.name],
                window=pool.window,
                used=self._states[pool.name].used,
                resets_at=self._states[pool.name].resets_at(),
            )
            for pool in self._pools
        )
        return RateLimiterStatistics(
            pools=pools,
            waiting={p: len(self._waiting[p]) for p in Priority},
            granted=dict(self._granted),
            cancelled=self._cancelled,
            paused_until=self._paused_until,
            pauses=self._pauses,
            bans=self._bans,
            usage_corrections=self._corrections,
            observations_ignored=self._ignored,
        )

    # -- internals -----------------------------------------------------------------------------------------

    def _fits_now(self, cost: Cost, priority: Priority) -> tuple[tuple[str, int], ...] | None:
        """The frozen cost when it fits now with nobody of its priority or higher queued, else ``None``.

        The usual grant in one pass (~2 µs instead of ~6, ``bench/run.py order-overhead``); anything unusual
        (a queue, a cost that does not fit, a malformed cost, an unknown pool or priority) answers ``None`` and
        the full path decides, raising what it raises.
        """
        ahead = _AHEAD.get(priority)
        if ahead is None:
            return None
        waiting = self._waiting
        for queued in ahead:
            if waiting[queued]:
                return None
        states = self._states
        usable = self._usable
        cancel = priority is Priority.CANCEL
        frozen: list[tuple[str, int]] = []
        for name, units in cost.items():
            state = states.get(name)
            if state is None or units.__class__ is not int or units < 0:
                return None
            if state.used + units > (state.spec.limit if cancel else usable[name]):
                return None
            if units:
                frozen.append((name, units))
        return tuple(frozen)

    def _tick(self, now: float) -> float:
        """Roll every window forward to ``now``; time never runs backwards (a stale ``now`` is clamped)."""
        if now.__class__ is not float or not now >= self._now or not math.isfinite(now):
            if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
                raise ConfigError(f"now must be a finite number of seconds, got {now!r}")
            now = max(float(now), self._now)
        self._now = now
        for state in self._states.values():
            state.advance(now)
        return now

    def _freeze(self, cost: Cost, priority: Priority) -> tuple[tuple[str, int], ...]:
        if not isinstance(priority, Priority):
            raise ConfigError(f"priority must be a Priority, got {priority!r}")
        frozen: list[tuple[str, int]] = []
        for name, raw in cost.items():
            if name not in self._states:
                raise ConfigError(f"unknown rate-limit pool {name!r}; known: {sorted(self._states)}")
            units = check_count(raw, f"cost on pool {name!r}", minimum=0)
            allowed = self._allowed(name, priority)
            if units > allowed:
                raise ConfigError(
                    f"a {priority.name} request costing {units} on pool {name!r} can never be sent: it may "
                    f"use at most {allowed} (limit {self._states[name].spec.limit})"
                )
            if units:
                frozen.append((name, units))
        return tuple(frozen)

    def _allowed(self, name: str, priority: Priority) -> int:
        return self._states[name].spec.limit if priority is Priority.CANCEL else self._usable[name]

    def _ready_at(
        self, cost: tuple[tuple[str, int], ...], priority: Priority, reserved: dict[str, int], now: float
    ) -> float:
        """Earliest time the cost fits on top of ``reserved`` if nothing is granted meanwhile."""
        ready = now
        for name, units in cost:
            need = reserved.get(name, 0) + units
            ready = max(ready, self._states[name].ready_at(need, self._allowed(name, priority), now))
        return ready

    def _grant(self, cost: tuple[tuple[str, int], ...], priority: Priority, now: float) -> None:
        for name, units in cost:
            self._states[name].record(units, now)
        self._granted[priority] += 1
