"""The rate limiter's fast path: grant in the caller's task when nobody is queued and the pools have room.

:class:`RateGate` holds the pure :class:`~clobactors.ratelimit.RateLimiter` of one exchange. The
:class:`~clobactors.actors.rate_limiter.RateLimiterActor` creates it when its pools are known and publishes
it on :attr:`ExchangeLink.gate <clobactors.actors.exchange.ExchangeLink.gate>`; every
:meth:`~clobactors.actors.exchange.ExchangeLink.rest` then tries :meth:`RateGate.try_grant` first. An ask to
the actor cost ~60 µs of two task switches on the order path (``bench/run.py order-overhead``); the
arithmetic itself is a few µs. Only contended requests still queue at the actor, so every rule holds:

* strict priorities and FIFO within one: a request is granted at once only if no ticket of its priority or
  higher is queued at the limiter *or on its way there* (:meth:`RateGate.contend` counts asks in flight),
  so a newcomer never overtakes an earlier waiter it would compete with;
* the cancel reserve, pauses after 429/418 and server-reported usage are the limiter's own arithmetic,
  applied the same way on both paths (:meth:`RateLimiter.try_acquire` checks reserve and pause);
* nothing done here frees capacity (grants take it, reports and pauses only delay), so the actor's next
  wakeup is never too late: at worst it wakes, finds nothing ready, and sleeps again.

Trio runs one task at a time and nothing here awaits, so the gate needs no lock.
"""

from __future__ import annotations

from typing import final

import attrs
import trio

from clobactors.ratelimit import Cost, Priority, RateLimiter

__all__ = ["RateGate"]


@final
@attrs.define
class RateGate:
    """One exchange's limiter shared by its actor and the callers of ``ExchangeLink.rest``."""

    limiter: RateLimiter
    _in_flight: list[int] = attrs.field(factory=lambda: [0] * len(Priority), init=False)
    _immediate: int = attrs.field(default=0, init=False)
    _usage_reports: int = attrs.field(default=0, init=False)
    _notices: int = attrs.field(default=0, init=False)
    _clock_syncs: int = attrs.field(default=0, init=False)

    def try_grant(self, cost: Cost, priority: Priority) -> float | None:
        """The grant time if the request may be sent now without queueing, else ``None`` (ask the actor).

        A cost that can never fit raises ConfigError, as the actor would answer.
        """
        if any(self._in_flight[priority:]):
            return None
        at = self.limiter.grant_now(cost, priority, trio.current_time())  # nobody of priority or higher queued
        if at is not None:
            self._immediate += 1
            return at
        self.limiter.check_cost(cost, priority)
        return None

    def contend(self, priority: Priority) -> None:
        """An ask at ``priority`` is on its way to the actor: hold back newcomers it must precede."""
        self._in_flight[priority] += 1

    def settled(self, priority: Priority) -> None:
        """That ask was answered (or given up)."""
        self._in_flight[priority] -= 1

    def observe_usage(self, usage: tuple[tuple[str, int], ...], sent_at: float | None) -> None:
        """Raise our counts to the usage the exchange reported on an answer (see ``observe_usage``)."""
        self._usage_reports += 1
        now = trio.current_time()
        for pool, used in usage:
            self.limiter.observe_usage(pool, used, now, sent_at=sent_at)

    def on_rate_limited(self, retry_after: float | None, *, banned: bool) -> float:
        """Pause every grant after a 429/418; the end of the pause."""
        self._notices += 1
        return self.limiter.on_rate_limited(trio.current_time(), retry_after, banned=banned)

    def set_clock_offset(self, offset: float) -> None:
        """Realign fixed windows after a clock sync."""
        self._clock_syncs += 1
        self.limiter.set_clock_offset(offset, trio.current_time())

    @property
    def immediate(self) -> int:
        """Requests granted in the caller's task, without the actor."""
        return self._immediate

    @property
    def usage_reports(self) -> int:
        return self._usage_reports

    @property
    def notices(self) -> int:
        return self._notices

    @property
    def clock_syncs(self) -> int:
        return self._clock_syncs
