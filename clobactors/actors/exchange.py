"""What the actors of one exchange share, and the one path every REST request of theirs takes.

An :class:`ExchangeLink` bundles the exchange's dialect, credentials, REST transport, reference data and
clock offset. It is built once per exchange tree (by the session) and handed to the rate limiter, book feed,
user stream and order manager, which all talk REST through :meth:`ExchangeLink.rest`:

1. take the request's cost at its :class:`~clobactors.ratelimit.Priority` from the limiter: in the caller's
   task through :attr:`ExchangeLink.gate` when nobody is queued and the pools have room, otherwise by asking
   the exchange's :class:`~clobactors.actors.rate_limiter.RateLimiterActor` (:class:`Acquire`; the answer is
   the grant time) and waiting in its priority queue (:mod:`clobactors.actors.rate_gate`);
2. send it; transport failures propagate as :class:`~clobactors.errors.TransportError` subclasses;
3. raise the limiter's counts to the usage the exchange reported in headers;
4. on a rate-limit answer (429/418) pause every grant;
5. raise the dialect's typed :class:`~clobactors.errors.ExchangeError` for an error answer;
6. return the result, for the dialect to decode.

Reference data (instruments, rules, pools, server time) is loaded by the rate limiter when it starts, with
:meth:`ExchangeLink.load_reference_data`, unthrottled because the pools are not known before it. The
supervisor starts the limiter first, so every other actor of the tree finds :attr:`ExchangeLink.info` set.

The link holds no I/O resource of its own: the session owns :attr:`ExchangeLink.http` and closes it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, final

import attrs
import msgspec
import trio

from clobactors.actors.actor import Context
from clobactors.actors.order_lane import LaneAnswer, OrderLane
from clobactors.actors.rate_gate import RateGate
from clobactors.errors import ActorUnavailable, ConfigError, ConnectFailed, RateLimited
from clobactors.exchanges.standard import ExchangeInfo, SpotDialect
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.model import Instrument
from clobactors.ratelimit import Priority
from clobactors.rules import InstrumentRules
from clobactors.transport.http import HttpTransport, PendingAnswer

__all__ = [
    "Acquire",
    "ClockSync",
    "ExchangeLink",
    "PendingRest",
    "RateLimitedNotice",
    "UsageReport",
]

logger: Final = logging.getLogger(__name__)


# -- messages to the rate limiter ---------------------------------------------------------------------------


@final
class Acquire(msgspec.Struct, frozen=True, kw_only=True):
    """Ask (request/reply): wait for ``cost`` at ``priority``; the reply is the grant time (``float``).

    The grant time is what :class:`UsageReport` passes back as ``sent_at``. An asker that gives up (its scope
    is cancelled) has its ticket withdrawn; a cost that can never fit fails with ConfigError.
    """

    cost: Mapping[str, int]
    priority: Priority


@final
class UsageReport(msgspec.Struct, frozen=True, kw_only=True):
    """Tell: ``(pool, used)`` figures reported on the answer to a request granted at ``sent_at``."""

    usage: tuple[tuple[str, int], ...]
    sent_at: float | None = None


@final
class RateLimitedNotice(msgspec.Struct, frozen=True, kw_only=True):
    """Tell: the exchange answered 429 (or 418 when ``banned``); pause every grant ``retry_after`` seconds."""

    retry_after: float | None = None
    banned: bool = False


@final
class ClockSync(msgspec.Struct, frozen=True):
    """Tell: :attr:`ExchangeLink.time_offset_ms` changed; realign fixed windows to the exchange's clock."""


# -- the link ------------------------------------------------------------------------------------------------


def _wall_ns() -> int:
    return time.time_ns()


@final
@attrs.define
class ExchangeLink:
    """What the actors of one exchange share: dialect, credentials, REST transport, reference data, clock
    offset. Mutable on purpose: the rate limiter fills :attr:`info`, clock syncs update the offset."""

    #: Exchange key, e.g. ``"binance"``.
    name: str
    dialect: SpotDialect[Any]
    http: HttpTransport
    credentials: object | None = attrs.field(default=None, repr=False)
    #: Actor name of this exchange's RateLimiterActor (``""``: unthrottled).
    rate_limiter: str = ""
    #: Set once reference data is loaded.
    info: ExchangeInfo | None = None
    #: Exchange clock minus local wall clock, milliseconds.
    time_offset_ms: int = 0
    #: Local wall clock (injected so tests can pin it to the virtual clock).
    wall_ns: Callable[[], int] = attrs.field(default=_wall_ns, repr=False)
    #: The running limiter's fast path (set by the RateLimiterActor while it runs).
    gate: RateGate | None = attrs.field(default=None, repr=False)
    #: The exchange's order-entry WebSocket while it is up (set by the OrderEntry actor): the requests it can
    #: carry go there instead of REST (:mod:`clobactors.actors.order_lane`).
    lane: OrderLane | None = attrs.field(default=None, repr=False)

    def now_ms(self) -> int:
        """Exchange-aligned wall-clock milliseconds, for signing timestamps."""
        return self.wall_ns() // 1_000_000 + self.time_offset_ms

    def clock_offset(self) -> float:
        """Exchange epoch seconds minus the trio clock: where the exchange's fixed windows roll over."""
        return self.now_ms() / 1000 - trio.current_time()

    def rate_limited(self, gate: RateGate, retry_after: float | None, *, banned: bool) -> None:
        """Pause every grant after a 429 (or a 418 ban) and say so in the log."""
        now = trio.current_time()
        until = gate.on_rate_limited(retry_after, banned=banned)
        logger.warning(
            "%s: %s; every request paused for %.3fs",
            self.name,
            "IP banned (418)" if banned else "rate limited (429)",
            until - now,
        )

    def _info(self) -> ExchangeInfo:
        if self.info is None:
            raise ConfigError(f"{self.name}: reference data is not loaded yet (is the rate limiter running?)")
        return self.info

    def rules(self, name: str) -> InstrumentRules:
        """Trading rules of canonical instrument ``name``; ConfigError if the exchange does not list it."""
        try:
            return self._info().rules[name]
        except KeyError:
            raise ConfigError(f"{self.name} does not list instrument {name!r}") from None

    def instrument(self, name: str) -> Instrument:
        """Canonical name -> :class:`Instrument` (ConfigError if unknown)."""
        return self.rules(name).instrument

    def instruments(self) -> tuple[Instrument, ...]:
        """Every instrument the exchange lists."""
        return tuple(r.instrument for r in self._info().rules.values())

    async def rest(self, ctx: Context, spec: HttpRequestSpec, priority: Priority) -> HttpResult:
        """Send one request through the rate limiter and return the answer, or raise a typed error.

        Raises TransportError subclasses (nothing or something may have reached the exchange), the dialect's
        ExchangeError subclasses for error answers, and ActorUnavailable when the limiter is not running.
        """
        sent_at: float | None = None
        if self.rate_limiter:
            sent_at = await self._acquire(ctx, spec, priority)
        lane = self.lane
        prepared = lane.prepare(spec) if lane is not None else None
        if lane is not None and prepared is not None:
            try:
                answer = await lane.send(prepared)
            except ConnectFailed:
                pass  # the lane closed before the write: nothing left, so REST carries it
            else:
                return await self._conclude(ctx, await answer.receive(), sent_at)
        return await self._conclude(ctx, await self.http.request(spec), sent_at)

    async def try_send(self, ctx: Context, spec: HttpRequestSpec, priority: Priority) -> PendingRest | None:
        """The first half of :meth:`rest` when nothing has to wait: grant and write in the caller's task.

        ``None`` (nothing granted, nothing sent) unless the gate grants at once and a kept-alive connection
        is free. An error raised here also means nothing was sent (a cost that can never fit, a header we
        must not write); whatever happens once the bytes may have left is raised by
        :meth:`PendingRest.receive`, which must be awaited exactly once.
        """
        lane = self.lane
        if lane is not None and not lane.ready_nowait():
            return None  # a write is in progress (or the lane is going): the task's path waits for its turn
        prepared = lane.prepare(spec) if lane is not None else None
        if prepared is None and not self.http.ready_nowait():
            return None
        sent_at: float | None = None
        if self.rate_limiter:
            gate = self.gate
            if gate is None:
                return None
            sent_at = gate.try_grant(self.dialect.request_cost(spec), priority)
            if sent_at is None:
                return None
        if lane is not None and prepared is not None:
            return PendingRest(self, ctx, await lane.send(prepared), sent_at)
        return PendingRest(self, ctx, await self.http.send_nowait(spec), sent_at)

    async def _conclude(self, ctx: Context, result: HttpResult, sent_at: float | None) -> HttpResult:
        """Steps 3-6 of the module docstring on one answer."""
        if self.rate_limiter:
            usage = tuple(self.dialect.reported_usage(result))
            if usage:
                gate = self.gate
                if gate is not None:
                    gate.observe_usage(usage, sent_at)
                else:
                    await self._tell_limiter(ctx, UsageReport(usage=usage, sent_at=sent_at))
        if self.dialect.is_error(result):
            error = self.dialect.map_error(result)
            if isinstance(error, RateLimited) and self.rate_limiter:
                gate = self.gate
                if gate is not None:
                    self.rate_limited(gate, error.retry_after, banned=error.banned)
                else:
                    notice = RateLimitedNotice(retry_after=error.retry_after, banned=error.banned)
                    await self._tell_limiter(ctx, notice)
            raise error
        return result

    async def _acquire(self, ctx: Context, spec: HttpRequestSpec, priority: Priority) -> float | None:
        """The grant time: at once through the gate when uncontended, else from the limiter's queue."""
        cost = self.dialect.request_cost(spec)
        gate = self.gate
        if gate is None:
            granted = await ctx.ask(self.rate_limiter, Acquire(cost=dict(cost), priority=priority))
            return granted if isinstance(granted, float) else None
        at = gate.try_grant(cost, priority)
        if at is not None:
            return at
        gate.contend(priority)
        try:
            granted = await ctx.ask(self.rate_limiter, Acquire(cost=dict(cost), priority=priority))
        finally:
            gate.settled(priority)
        return granted if isinstance(granted, float) else None

    async def rest_unthrottled(self, spec: HttpRequestSpec) -> HttpResult:
        """Send without the limiter (reference data before the pools are known); errors as :meth:`rest`."""
        result = await self.http.request(spec)
        if self.dialect.is_error(result):
            raise self.dialect.map_error(result)
        return result

    async def load_reference_data(self, ctx: Context) -> ExchangeInfo:
        """Fetch instruments, rules and pools, register the instruments with the dialect, sync the clock.

        Unthrottled: it is the limiter's own first request, made before it knows the pools.
        """
        result = await self.rest_unthrottled(self.dialect.exchange_info_request())
        info = self.dialect.decode_exchange_info(result)
        self.dialect.register_instruments([r.instrument for r in info.rules.values()])
        self.info = info
        await self.sync_clock(ctx, throttled=False)
        logger.info(
            "%s: %d instruments, %d rate-limit pools, clock offset %d ms",
            self.name,
            len(info.rules),
            len(info.pools),
            self.time_offset_ms,
        )
        return info

    async def sync_clock(self, ctx: Context, *, throttled: bool = True) -> int:
        """Measure the exchange clock (round-trip midpoint), update :attr:`time_offset_ms`, return it.

        When throttled the request goes through the limiter at QUERY priority and the limiter is told to
        realign its fixed windows.
        """
        spec = self.dialect.server_time_request()
        before = self.wall_ns()
        if throttled:
            result = await self.rest(ctx, spec, Priority.QUERY)
        else:
            result = await self.rest_unthrottled(spec)
        after = self.wall_ns()
        server_ms = self.dialect.decode_server_time(result)
        self.time_offset_ms = server_ms - (before + after) // 2_000_000
        if throttled and self.rate_limiter:
            gate = self.gate
            if gate is not None:
                gate.set_clock_offset(self.clock_offset())
            else:
                await self._tell_limiter(ctx, ClockSync())
        return self.time_offset_ms

    async def _tell_limiter(self, ctx: Context, message: object) -> None:
        # Advisory: a limiter that is restarting rebuilds its counts from scratch anyway.
        with contextlib.suppress(ActorUnavailable):
            await ctx.tell(self.rate_limiter, message)


@final
@attrs.define(eq=False)
class PendingRest:
    """A request :meth:`ExchangeLink.try_send` granted and wrote; :meth:`receive` completes the rest call."""

    _link: ExchangeLink
    _ctx: Context = attrs.field(repr=False)
    _answer: PendingAnswer | LaneAnswer = attrs.field(repr=False)
    _sent_at: float | None = None

    async def receive(self) -> HttpResult:
        """The answer, or the typed error :meth:`ExchangeLink.rest` would raise; await it exactly once."""
        return await self._link._conclude(self._ctx, await self._answer.receive(), self._sent_at)
