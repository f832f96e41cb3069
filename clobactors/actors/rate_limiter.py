"""The rate limiter actor: one per exchange account/IP, serving :class:`Acquire` asks in priority order.

It is the first actor of an exchange tree. On start it loads the exchange's reference data through
:meth:`ExchangeLink.load_reference_data` (unthrottled: the pools come from that very answer), builds the pure
:class:`~clobactors.ratelimit.RateLimiter` from the pools with the fixed windows aligned to the exchange's
clock, and only then reports ready, so everything started after it finds the reference data loaded.

The limiter is wrapped in a :class:`~clobactors.actors.rate_gate.RateGate` published on
:attr:`ExchangeLink.gate` while this incarnation runs: ``ExchangeLink.rest`` grants uncontended requests
there, in the caller's task, and applies usage reports, 429/418 pauses and clock syncs there too. Only
requests that must wait come here as :class:`Acquire` asks (see :mod:`clobactors.actors.rate_gate`).

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
from clobactors.actors.rate_gate import RateGate
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
    #: Of ``granted``, those granted in the caller's task (:meth:`RateGate.try_grant`), not queued here.
    immediate: int
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
    _gate: RateGate | None = attrs.field(default=None, init=False)
    _waiters: dict[int, tuple[Ticket, Request]] = attrs.field(factory=dict, init=False)
    _granted: int = attrs.field(default=0, init=False)
    _abandoned: int = attrs.field(default=0, init=False)
    _unexpected: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.sweep_interval) and self.sweep_interval > 0):
            raise ConfigError(f"sweep_interval must be a positive number, got {self.sweep_interval!r}")

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load reference data, build the limiter, report ready, then serve the inbox until stopped."""
        info = await self.link.load_reference_data(ctx)
        limiter = RateLimiter(info.pools, cancel_reserve=self.cancel_reserve, clock_offset=self.link.clock_offset())
        gate = RateGate(limiter)
        self._limiter, self._gate = limiter, gate
        self.link.gate = gate
        try:
            task_status.started()
            await self._serve(ctx, limiter, gate)
        finally:
            if self.link.gate is gate:
                self.link.gate = None  # a restarted limiter starts from scratch; until then, asks fail

    async def _serve(self, ctx: Context, limiter: RateLimiter, gate: RateGate) -> None:
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
                self._handle(limiter, gate, message)

    def _handle(self, limiter: RateLimiter, gate: RateGate, message: object) -> None:
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
                gate.observe_usage(usage, sent_at)
            case RateLimitedNotice(retry_after=retry_after, banned=banned):
                self.link.rate_limited(gate, retry_after, banned=banned)
            case ClockSync():
                gate.set_clock_offset(self.link.clock_offset())
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
        limiter, gate = self._limiter, self._gate
        immediate = 0 if gate is None else gate.immediate
        return RateLimiterActorStatistics(
            limiter=None if limiter is None else limiter.statistics(trio.current_time()),
            waiting=len(self._waiters),
            granted=self._granted + immediate,
            immediate=immediate,
            abandoned=self._abandoned,
            usage_reports=0 if gate is None else gate.usage_reports,
            rate_limited_notices=0 if gate is None else gate.notices,
            clock_syncs=0 if gate is None else gate.clock_syncs,
            unexpected=self._unexpected,
        )
