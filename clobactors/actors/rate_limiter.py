"""The rate limiter actor: one per exchange account/IP, serving :class:`Acquire` asks in priority order.

It is the first actor of an exchange tree. On start it loads the exchange's reference data through
:meth:`ExchangeLink.load_reference_data` (unthrottled: the pools come from that very answer), builds the pure
:class:`~clobactors.ratelimit.RateLimiter` from the pools with the fixed windows aligned to the exchange's
clock, and only then reports ready, so everything started after it finds the reference data loaded.

Protocol (messages defined in :mod:`clobactors.actors.exchange`):

* ``ask(Acquire(cost, priority))`` -> the grant time (``float``, trio clock). Queued by priority
  (CANCEL > ORDER > QUERY > MARKET_DATA), FIFO within one. A cost that can never fit fails with ConfigError.
  An asker that gives up (cancelled, ``fail_after``) has its ticket withdrawn at the next sweep, so it holds
  no capacity it will never use.
* ``tell(UsageReport(usage, sent_at))``: the used weight the exchange reported raises our count.
* ``tell(RateLimitedNotice(retry_after, banned))``: a 429/418 pauses every grant until ``retry_after``.
* ``tell(ClockSync())``: the link's clock offset changed; realign the fixed windows.

Nothing here is exchange-specific: pools, costs and usage figures all come from the dialect.
"""

from __future__ import annotations

import logging
import math
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context, Request
from clobactors.actors.exchange import (
    Acquire,
    ClockSync,
    ExchangeLink,
    RateLimitedNotice,
    UsageReport,
)
from clobactors.errors import ConfigError
from clobactors.ratelimit import RateLimiter, RateLimiterStatistics, Ticket

__all__ = [
    "Acquire",
    "ClockSync",
    "RateLimitedNotice",
    "RateLimiterActor",
    "RateLimiterActorStatistics",
    "UsageReport",
]

logger: Final = logging.getLogger(__name__)


@final
@attrs.frozen
class RateLimiterActorStatistics:
    """The actor's counters plus the pure limiter's snapshot (``None`` before reference data is loaded)."""

    limiter: RateLimiterStatistics | None
    #: Asks waiting for a grant now.
    waiting: int
    granted: int
    #: Tickets withdrawn because their asker gave up.
    abandoned: int
    usage_reports: int
    rate_limited_notices: int
    clock_syncs: int
    #: Messages that were neither of the four kinds above (dropped and logged).
    unexpected: int


@final
@attrs.define
class RateLimiterActor:
    """Serves one exchange's rate-limit pools to every actor of its tree (see the module docstring).

    ``sweep_interval`` bounds how long an abandoned ticket may hold capacity before it is withdrawn.
    """

    name: str
    link: ExchangeLink
    cancel_reserve: float = 0.1
    sweep_interval: float = 0.1
    _limiter: RateLimiter | None = attrs.field(default=None, init=False)
    _waiters: dict[int, tuple[Ticket, Request]] = attrs.field(factory=dict, init=False)
    _granted: int = attrs.field(default=0, init=False)
    _abandoned: int = attrs.field(default=0, init=False)
    _usage_reports: int = attrs.field(default=0, init=False)
    _notices: int = attrs.field(default=0, init=False)
    _clock_syncs: int = attrs.field(default=0, init=False)
    _unexpected: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.sweep_interval) and self.sweep_interval > 0):
            raise ConfigError(f"sweep_interval must be a positive number, got {self.sweep_interval!r}")

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load reference data, build the limiter, report ready, then serve the inbox until stopped."""
        info = await self.link.load_reference_data(ctx)
        limiter = RateLimiter(info.pools, cancel_reserve=self.cancel_reserve, clock_offset=self._clock_offset())
        self._limiter = limiter
        task_status.started()
        while True:
            wakeup = self._poll(limiter)
            deadline = math.inf
            if self._waiters:
                # Sweep for askers that gave up even while nothing is due, so their reservations go.
                deadline = trio.current_time() + self.sweep_interval
                if wakeup is not None:
                    deadline = min(deadline, wakeup)
            with trio.move_on_at(deadline):
                message = await ctx.inbox.receive()
                self._handle(limiter, message)

    def _clock_offset(self) -> float:
        """Exchange epoch seconds minus the trio clock: where the exchange's fixed windows roll over."""
        return self.link.now_ms() / 1000 - trio.current_time()

    def _handle(self, limiter: RateLimiter, message: object) -> None:
        now = trio.current_time()
        match message:
            case Request(payload=Acquire() as acquire):
                try:
                    ticket = limiter.enqueue(acquire.cost, acquire.priority, now)
                except ConfigError as exc:
                    message.fail(exc)
                    return
                self._waiters[ticket.id] = (ticket, message)
            case UsageReport(usage=usage, sent_at=sent_at):
                self._usage_reports += 1
                for pool, used in usage:
                    limiter.observe_usage(pool, used, now, sent_at=sent_at)
            case RateLimitedNotice(retry_after=retry_after, banned=banned):
                self._notices += 1
                until = limiter.on_rate_limited(now, retry_after, banned=banned)
                logger.warning(
                    "%s: %s; every request paused for %.3fs",
                    self.link.name,
                    "IP banned (418)" if banned else "rate limited (429)",
                    until - now,
                )
            case ClockSync():
                self._clock_syncs += 1
                limiter.set_clock_offset(self._clock_offset(), now)
            case Request():
                self._unexpected += 1
                message.fail(ConfigError(f"{self.name} does not serve {type(message.payload).__name__}"))
            case _:
                self._unexpected += 1
                logger.warning("%s: dropped unexpected message %r", self.name, type(message).__name__)

    def _poll(self, limiter: RateLimiter) -> float | None:
        """Withdraw abandoned tickets, grant what fits, and return when to poll again."""
        for ticket_id, (ticket, request) in list(self._waiters.items()):
            if request.abandoned:
                limiter.cancel(ticket)
                del self._waiters[ticket_id]
                self._abandoned += 1
        now = trio.current_time()
        result = limiter.poll(now)
        for ticket in result.granted:
            _, request = self._waiters.pop(ticket.id)
            self._granted += 1
            request.reply(now)
        return result.next_wakeup

    def statistics(self) -> RateLimiterActorStatistics:
        limiter = self._limiter
        return RateLimiterActorStatistics(
            limiter=None if limiter is None else limiter.statistics(trio.current_time()),
            waiting=len(self._waiters),
            granted=self._granted,
            abandoned=self._abandoned,
            usage_reports=self._usage_reports,
            rate_limited_notices=self._notices,
            clock_syncs=self._clock_syncs,
            unexpected=self._unexpected,
        )
