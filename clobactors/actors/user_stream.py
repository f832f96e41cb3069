"""The exchange-agnostic user stream: the private WebSocket, authenticated per the dialect, into the order manager.

:class:`UserStream` drives any dialect's ``user_stream_auth``:

* ``LISTEN_KEY``: create a key over REST (``listen_key_request``), connect to ``user_stream_url(key)``, and
  keep the key alive every ``listen_key_interval`` seconds on a drift-free schedule. A keepalive the exchange
  refuses (the key is gone) reconnects with a new key; a keepalive lost to the network is retried with
  backoff before the key can expire.
* ``SIGNED_FRAME``: connect to ``user_stream_url()``, then send each of ``user_stream_login_frames`` and wait
  for its ACK (within ``login_timeout``). An ERROR answer raises :class:`~clobactors.errors.
  AuthenticationFailed` out of ``run``: a bad key or signature is not cured by retrying, so the supervisor
  sees it.

Decoded account events go to the order manager as one :class:`~clobactors.actors.order_messages.OrderReport`
per frame, with ``tell`` (waits for room, never drops). The user stream does **not** publish account
events itself: the order manager merges what REST answers and what the stream says through one order
state machine, and is the only publisher, so a fill seen on both paths reaches subscribers exactly once.

After every (re)connect, once authenticated, it asks the order manager to
:class:`~clobactors.actors.order_messages.Reconcile` (retried with backoff while the order manager is
unavailable); only then is the stream trusted again, announced with ``FeedSynced(feed="user")``. A frame
the dialect could not decode with hint RESYNC, or a report the order manager could not take, means an event
may be lost: the stream asks for another reconcile. Lifecycle: ``FeedConnected`` once authenticated,
``FeedSynced`` once reconciled, ``FeedDown`` when the connection is lost.

Reconnects: ConnectionLost, TransportTimeout (client pings every ``ping_interval`` unanswered), a RECONNECT
control (``listenKeyExpired``, ``eventStreamTerminated``, maintenance) or hint. A connection that made
progress (authenticated and reconciled, or delivered an event) is reopened at once after a RECONNECT and
with the first backoff delay otherwise; one that made none backs off further. Failures before the first
authenticated connection crash the actor so its supervisor's backoff and intensity apply. Listen keys never
appear in logs or errors: the connection is opened with a redacted ``endpoint``.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable
from typing import Final, assert_never, final

import attrs
import trio

from clobactors.actors.actor import Context, ReadyOnce, unwrap_exception_group
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_messages import OrderReport, Reconcile
from clobactors.backoff import Backoff
from clobactors.errors import (
    ActorUnavailable,
    AuthenticationFailed,
    ClobactorsError,
    ConfigError,
    ExchangeError,
    ExchangeUnavailable,
    RateLimited,
    RecoveryHint,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
)
from clobactors.exchanges.standard import Control, ControlKind, UserStreamAuth
from clobactors.httpspec import REDACTED
from clobactors.messages import AccountEvent, FeedConnected, FeedDown, FeedSynced
from clobactors.ratelimit import Priority
from clobactors.transport.ws import WsConnection, open_ws

__all__ = ["UserStream", "UserStreamStatistics"]

logger: Final = logging.getLogger(__name__)

#: Reconnect, reconcile and keepalive retry delays: 0.5 s doubling to 30 s, up to 10 % shorter at random.
_DEFAULT_BACKOFF: Final = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.1)


@final
@attrs.frozen
class UserStreamStatistics:
    """Counters of one user-stream incarnation."""

    connects: int
    reconnects: int
    frames: int
    events_forwarded: int
    reports_sent: int
    #: Events the order manager could not take (it was restarting); a reconcile covers them.
    undelivered: int
    malformed: int
    control_errors: int
    listen_keys: int
    keepalives: int
    keepalive_failures: int
    reconciles: int
    reconcile_failures: int
    connected: bool
    #: Authenticated and reconciled since the last (re)connect.
    trusted: bool


class _Reconnect(Exception):
    """Internal: reopen the connection (at once if it made progress); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.define
class _Counters:
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    forwarded: int = 0
    reports: int = 0
    undelivered: int = 0
    malformed: int = 0
    errors: int = 0
    listen_keys: int = 0
    keepalives: int = 0
    keepalive_failures: int = 0
    reconciles: int = 0
    reconcile_failures: int = 0


@final
@attrs.define(eq=False)
class UserStream:
    """The user-stream actor of one exchange account; reports go to the actor named ``order_manager``."""

    name: str
    link: ExchangeLink
    order_manager: str
    backoff: Backoff = _DEFAULT_BACKOFF
    rng: random.Random | None = attrs.field(default=None, repr=False)
    #: Client pings keep a quiet stream honest (account streams may be silent for hours, so no idle timeout).
    ping_interval: float | None = 30.0
    pong_timeout: float = 10.0
    #: Seconds to wait for the ACK of each login frame (SIGNED_FRAME auth).
    login_timeout: float = 10.0
    message_queue_size: int = 1024
    feed: str = "user"
    _counters: _Counters = attrs.field(init=False, factory=_Counters, repr=False)
    _request_ids: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1), repr=False)
    _rng: random.Random = attrs.field(init=False, factory=random.Random, repr=False)
    _connected: bool = attrs.field(init=False, default=False)
    _trusted: bool = attrs.field(init=False, default=False)
    _progress: bool = attrs.field(init=False, default=False)
    _reconciling: bool = attrs.field(init=False, default=False)
    _reconcile_again: str | None = attrs.field(init=False, default=None)

    def statistics(self) -> UserStreamStatistics:
        c = self._counters
        return UserStreamStatistics(
            connects=c.connects,
            reconnects=c.reconnects,
            frames=c.frames,
            events_forwarded=c.forwarded,
            reports_sent=c.reports,
            undelivered=c.undelivered,
            malformed=c.malformed,
            control_errors=c.errors,
            listen_keys=c.listen_keys,
            keepalives=c.keepalives,
            keepalive_failures=c.keepalive_failures,
            reconciles=c.reconciles,
            reconcile_failures=c.reconcile_failures,
            connected=self._connected,
            trusted=self._trusted,
        )

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect and authenticate, report ready, then keep the stream up until cancelled."""
        if self.link.credentials is None:
            raise ConfigError(f"user stream {self.name!r} needs credentials for {self.link.name}")
        self._rng = self.rng if self.rng is not None else ctx.system.rng_for(self.name)
        with unwrap_exception_group():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ctx.refuse_requests)
                await self._run_connections(ctx, task_status)
                nursery.cancel_scope.cancel()

    async def _run_connections(self, ctx: Context, task_status: trio.TaskStatus[None]) -> None:
        on_ready = ReadyOnce(task_status)
        attempt = 0

        while True:
            self._progress = False
            immediate = False
            try:
                await self._connection(ctx, on_ready)
            except AuthenticationFailed:
                raise
            except _Reconnect as exc:
                reason, immediate = exc.reason, True
            except (TransportError, RateLimited, ExchangeUnavailable, ActorUnavailable) as exc:
                if not on_ready.ready:
                    raise
                reason = str(exc)
            self._trusted = False
            if self._connected:
                self._connected = False
                await ctx.publish(
                    FeedDown(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=self.feed, reason=reason)
                )
            logger.info("%s: user stream down: %s", self.name, reason)
            if self._progress:
                attempt = 0
            if not (immediate and self._progress):
                await trio.sleep(self.backoff.delay(attempt, self._rng))
                attempt += 1
            self._counters.reconnects += 1

    async def _connection(self, ctx: Context, on_ready: Callable[[], None]) -> None:
        """One connection: authenticate, announce, reconcile, keep alive and read until it fails."""
        self._reconcile_again = None
        dialect, credentials = self.link.dialect, self.link.credentials
        listen_key = ""
        match dialect.user_stream_auth:
            case UserStreamAuth.LISTEN_KEY:
                result = await self.link.rest(ctx, dialect.listen_key_request(credentials), Priority.QUERY)
                listen_key = dialect.decode_listen_key(result)
                self._counters.listen_keys += 1
            case UserStreamAuth.SIGNED_FRAME:
                pass
            case _:
                assert_never(dialect.user_stream_auth)
        url = dialect.user_stream_url(listen_key)
        async with open_ws(
            url,
            endpoint=url.partition("?")[0].replace(listen_key, REDACTED) if listen_key else None,
            max_message_size=dialect.max_message_size,
            message_queue_size=self.message_queue_size,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            wall_ns=ctx.system.wall_ns,
        ) as ws:
            if dialect.user_stream_auth is UserStreamAuth.SIGNED_FRAME:
                await self._login(ctx, ws)
            self._counters.connects += 1
            self._connected = True
            await ctx.publish(FeedConnected(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=self.feed))
            on_ready()
            with unwrap_exception_group():
                async with trio.open_nursery() as tasks:
                    self._request_reconcile(ctx, tasks, "user stream (re)connected")
                    if listen_key:
                        tasks.start_soon(self._keepalive, ctx, listen_key)
                    await self._read(ctx, ws, tasks)

    async def _login(self, ctx: Context, ws: WsConnection) -> None:
        """Send each login frame and wait for its ACK; ERROR -> AuthenticationFailed."""
        dialect = self.link.dialect
        request_id = next(self._request_ids)
        for frame in dialect.user_stream_login_frames(self.link.credentials, self.link.now_ms(), request_id):
            await ws.send(frame)
            with trio.move_on_after(self.login_timeout) as waiting:
                while not await self._await_ack(ctx, ws, request_id):
                    pass
            if waiting.cancelled_caught:
                raise TransportTimeout(f"no answer to the user-stream login within {self.login_timeout:g}s")

    async def _await_ack(self, ctx: Context, ws: WsConnection, request_id: int) -> bool:
        """Read one frame during login; True once it carried our ACK."""
        frame = await ws.receive()
        self._counters.frames += 1
        try:
            items = self.link.dialect.decode_user(frame.data, frame.received_ns)
        except RemoteProtocolError as exc:
            self._counters.malformed += 1
            logger.warning("%s: malformed frame during login: %s", self.name, exc)
            return False
        acked = False
        events: list[AccountEvent] = []
        for item in items:
            if not isinstance(item, Control):
                events.append(item)
            elif item.kind is ControlKind.ERROR:
                raise AuthenticationFailed(f"user-stream login refused: {item.detail}", exchange=self.link.name)
            elif item.kind is ControlKind.RECONNECT:
                raise _Reconnect(f"exchange asked to reconnect during login: {item.detail}")
            elif item.kind is ControlKind.ACK and item.request_id in (None, request_id, str(request_id)):
                acked = True
        await self._report(ctx, events, None)
        return acked

    async def _read(self, ctx: Context, ws: WsConnection, tasks: trio.Nursery) -> None:
        """The reader: decode each frame, forward its account events, act on controls; returns only by raising."""
        dialect, counters = self.link.dialect, self._counters
        while True:
            frame = await ws.receive()
            counters.frames += 1
            try:
                items = dialect.decode_user(frame.data, frame.received_ns)
            except RemoteProtocolError as exc:
                counters.malformed += 1
                logger.warning("%s: malformed user-stream frame: %s", self.name, exc)
                if exc.hint is RecoveryHint.RECONNECT:
                    raise _Reconnect(f"protocol error: {exc}") from None
                if exc.hint is RecoveryHint.RESYNC:
                    self._request_reconcile(ctx, tasks, f"undecodable account frame: {exc}")
                continue
            events: list[AccountEvent] = []
            reconnect: str | None = None
            for item in items:
                if not isinstance(item, Control):
                    events.append(item)
                    continue
                match item.kind:
                    case ControlKind.ACK | ControlKind.PONG:
                        pass
                    case ControlKind.ERROR:
                        counters.errors += 1
                        logger.warning("%s: exchange error on the user stream: %s", self.name, item.detail)
                    case ControlKind.RECONNECT:
                        reconnect = f"exchange asked to reconnect: {item.detail}"
                    case _:
                        assert_never(item.kind)
            await self._report(ctx, events, tasks)
            if reconnect is not None:
                raise _Reconnect(reconnect)

    async def _report(self, ctx: Context, events: list[AccountEvent], tasks: trio.Nursery | None) -> None:
        """Tell the order manager (waits for room); if it is down, a reconcile will cover what it missed."""
        if not events:
            return
        try:
            await ctx.tell(self.order_manager, OrderReport(events=tuple(events)))
        except ActorUnavailable:
            self._counters.undelivered += len(events)
            logger.warning("%s: order manager unavailable, %d events to reconcile", self.name, len(events))
            if tasks is not None:
                self._request_reconcile(ctx, tasks, "order manager missed stream events")
            return
        self._progress = True
        self._counters.reports += 1
        self._counters.forwarded += len(events)

    def _request_reconcile(self, ctx: Context, tasks: trio.Nursery, reason: str) -> None:
        """Start a reconcile, or queue one more after the running one (events may predate its REST view)."""
        self._trusted = False
        if self._reconciling:
            self._reconcile_again = reason
            return
        self._reconciling = True
        tasks.start_soon(self._reconcile, ctx, reason)

    async def _reconcile(self, ctx: Context, reason: str) -> None:
        attempt = 0
        try:
            while True:
                try:
                    await ctx.ask(self.order_manager, Reconcile(reason=reason))
                except ClobactorsError as exc:
                    self._counters.reconcile_failures += 1
                    logger.warning("%s: reconcile failed: %s", self.name, exc)
                    await trio.sleep(self.backoff.delay(attempt, self._rng))
                    attempt += 1
                    continue
                self._counters.reconciles += 1
                if self._reconcile_again is None:
                    break
                reason, self._reconcile_again, attempt = self._reconcile_again, None, 0
        finally:
            self._reconciling = False
        self._trusted = self._progress = True
        await ctx.publish(FeedSynced(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=self.feed))

    async def _keepalive(self, ctx: Context, listen_key: str) -> None:
        """Keep the listen key alive on a drift-free schedule; a refused keepalive means a new key."""
        dialect, credentials = self.link.dialect, self.link.credentials
        deadline = trio.current_time()
        while True:
            deadline += dialect.listen_key_interval
            await trio.sleep_until(deadline)
            attempt = 0
            while True:
                try:
                    spec = dialect.listen_key_keepalive_request(credentials, listen_key)
                    await self.link.rest(ctx, spec, Priority.QUERY)
                except (TransportError, RateLimited, ExchangeUnavailable, ActorUnavailable) as exc:
                    self._counters.keepalive_failures += 1
                    logger.warning("%s: listen-key keepalive failed: %s", self.name, exc)
                    await trio.sleep(self.backoff.delay(attempt, self._rng))
                    attempt += 1
                    continue
                except ExchangeError as exc:
                    self._counters.keepalive_failures += 1
                    raise _Reconnect(f"listen-key keepalive refused: {exc}") from None
                self._counters.keepalives += 1
                break
