"""Client WebSocket connection: frames read in the consumer's own task, heartbeat, idle deadline, typed errors.

``async with open_ws(url, ...) as ws:`` connects (TCP, TLS for ``wss``, handshake) and yields a
:class:`WsConnection`. It speaks WebSocket through wsproto over a trio stream we own, and reads **in the task
that calls** :meth:`WsConnection.receive`: a frame goes from the socket to the consumer with no task hop in
between (a hop through a memory channel costs a scheduler round per frame, which was most of the transport's
share of the market-data latency). Each read stamps its frames with the wall clock passed in (the ``ts_recv``
of canonical events; ``time.time_ns`` by default, the actor system's clock in the book feed) and
``trio.current_time()``.

The socket must still be read while the consumer is busy elsewhere, because pongs ride on it: a *keeper* task
takes over reading once the consumer has stayed away for ``_KEEP_AFTER`` seconds, buffering at most
``message_queue_size`` frames. A consumer that lets that buffer fill has already lost data, so the connection
fails with :class:`ConnectionLost` and the feed resyncs on reconnect rather than silently skipping frames. The
consumer takes the socket back (cancelling the keeper's pending read, which loses nothing) when it returns.

Failures are *reported*, not thrown into the caller's task group: the first failure is recorded, and
:meth:`WsConnection.receive` raises it after the frames that arrived before it (a clean close by the server
delivers everything it sent first). The failure classes:

* peer closed (clean close frame or TCP reset), EOF -> :class:`ConnectionLost` (the close code in the text);
* no pong within ``pong_timeout`` after a ping -> :class:`ConnectionLost`;
* nothing at all (no message, ping or pong) within ``idle_timeout`` -> :class:`TransportTimeout` (mark the
  book stale, reconnect). Control frames count: a quiet market on a live connection (the server's pings
  still arrive) is not a dead connection;
* a message over ``max_message_size`` -> close 1009, :class:`ConnectionLost`;
* consumer too slow (buffer full) -> :class:`ConnectionLost`.

A dead connection is closed at once without a close handshake. Exactly one typed error leaves :func:`open_ws`
(see :func:`clobactors.transport.errors.raise_collapsed`). Plain ``ws://`` is accepted only for loopback hosts
(the simulator), like ``http://`` in the REST transport.
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Final, final
from urllib.parse import urlsplit

import attrs
import trio
import wsproto
import wsproto.utilities
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason

from clobactors.errors import ConfigError, ConnectFailed, ConnectionLost, TransportError, TransportTimeout
from clobactors.transport.errors import map_transport_errors, raise_collapsed
from clobactors.transport.http import is_loopback_host
from clobactors.transport.ws_handshake import RECEIVE_CHUNK, client_handshake, close_text

__all__ = ["WsConnection", "WsFrame", "WsStatistics", "open_ws"]

#: How long the consumer may stay away from ``receive`` before the keeper task reads for it. Short against any
#: pong timeout; long against the time a consumer spends on one frame, so the keeper stays asleep while the
#: consumer keeps up.
_KEEP_AFTER: Final = 0.05
#: Buffered frames handed out in a row before ``receive`` lets other tasks run.
_YIELD_EVERY: Final = 16
_TOO_BIG: Final = CloseReason.MESSAGE_TOO_BIG


@final
@attrs.frozen
class WsFrame:
    """One message with its receive times: wall clock (for events) and Trio clock (for latency, staleness)."""

    data: str | bytes
    received_ns: int
    received_at: float


@final
@attrs.frozen
class WsStatistics:
    """Counters and buffer use. ``peak_buffer_used`` sizes ``message_queue_size`` from measurement.

    ``bytes_received`` counts message lengths (characters for text messages). ``keeper_reads`` counts reads
    made while the consumer was away (each one a frame that waited for the consumer).
    """

    frames_received: int
    bytes_received: int
    frames_sent: int
    pings_sent: int
    pongs_received: int
    current_buffer_used: int
    peak_buffer_used: int
    max_buffer_size: int
    keeper_reads: int
    failure: str | None


@final
@attrs.define(eq=False)
class WsConnection(trio.abc.AsyncResource):
    """An open client WebSocket. Receive with :meth:`receive` or ``async for``; send with :meth:`send`.

    Built by :func:`open_ws`. One task receives at a time (the consumer); any task may send.
    """

    _proto: wsproto.WSConnection
    _stream: trio.abc.Stream
    _endpoint: str
    _max_message_size: int
    _queue_size: int
    _ping_interval: float | None
    _pong_timeout: float
    _idle_timeout: float | None
    _close_timeout: float
    _wall_ns: Callable[[], int] = attrs.field(repr=False)
    _frames: deque[WsFrame] = attrs.field(factory=deque, init=False, repr=False)
    _partial: list[str | bytes] = attrs.field(factory=list, init=False, repr=False)
    _partial_size: int = attrs.field(default=0, init=False)
    _pongs: dict[bytes, trio.Event] = attrs.field(factory=dict, init=False, repr=False)
    _write_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock, init=False, repr=False)
    _tasks: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False, repr=False)
    _tasks_done: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    #: Someone reads the socket (the consumer, or the keeper while the consumer is away).
    _reading: bool = attrs.field(default=False, init=False)
    _read_scope: trio.CancelScope | None = attrs.field(default=None, init=False, repr=False)
    _read_done: trio.Event | None = attrs.field(default=None, init=False, repr=False)
    _consumer_in: bool = attrs.field(default=False, init=False)
    _left_at: float = attrs.field(default=0.0, init=False)
    _keeper_wait: trio.Event | None = attrs.field(default=None, init=False, repr=False)
    _last_heard_at: float = attrs.field(default=0.0, init=False)
    _handed: int = attrs.field(default=0, init=False)
    _failure: TransportError | None = attrs.field(default=None, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    _frames_received: int = attrs.field(default=0, init=False)
    _bytes_received: int = attrs.field(default=0, init=False)
    _frames_sent: int = attrs.field(default=0, init=False)
    _pings_sent: int = attrs.field(default=0, init=False)
    _pongs_received: int = attrs.field(default=0, init=False)
    _peak: int = attrs.field(default=0, init=False)
    _keeper_reads: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._left_at = self._last_heard_at = trio.current_time()

    @property
    def failure(self) -> TransportError | None:
        """The error that ended the connection, once one was seen."""
        return self._failure

    async def receive(self) -> WsFrame:
        """The next frame. After the last frame of a dead connection, raises why it died (typed)."""
        frames = self._frames
        if frames and not self._closed:
            self._handed += 1
            if self._handed >= _YIELD_EVERY:
                self._handed = 0
                await trio.lowlevel.checkpoint()
            else:
                await trio.lowlevel.checkpoint_if_cancelled()
            if frames:  # (another receiver may have taken it meanwhile)
                self._left_at = trio.current_time()
                return frames.popleft()
        self._handed = 0
        self._consumer_in = True
        try:
            while not frames:
                if self._closed:
                    raise ConnectionLost("WebSocket closed locally", self._endpoint)
                if self._failure is not None:
                    raise self._ended()
                if self._reading:  # the keeper reads for us: take the socket back
                    if self._read_scope is not None:
                        self._read_scope.cancel()
                    if self._read_done is None:
                        self._read_done = trio.Event()
                    await self._read_done.wait()
                    continue
                await self._read(consumer=True)
            return frames.popleft()
        finally:
            self._consumer_in = False
            self._left_at = trio.current_time()
            if self._keeper_wait is not None:
                self._keeper_wait.set()
                self._keeper_wait = None

    def __aiter__(self) -> AsyncIterator[WsFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WsFrame]:
        while True:
            yield await self.receive()

    async def send(self, message: str | bytes) -> None:
        """Send one message; writes are serialized in FIFO order so subscriptions keep their order."""
        if self._closed:
            raise ConnectionLost("WebSocket closed locally", self._endpoint)
        if self._failure is not None:
            raise self._ended()
        event = TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)
        await self._send_event(event)
        self._frames_sent += 1

    def statistics(self) -> WsStatistics:
        return WsStatistics(
            frames_received=self._frames_received,
            bytes_received=self._bytes_received,
            frames_sent=self._frames_sent,
            pings_sent=self._pings_sent,
            pongs_received=self._pongs_received,
            current_buffer_used=len(self._frames),
            peak_buffer_used=self._peak,
            max_buffer_size=self._queue_size,
            keeper_reads=self._keeper_reads,
            failure=str(self._failure) if self._failure is not None else None,
        )

    async def aclose(self) -> None:
        """Close: a close handshake if the connection is healthy, bounded by ``close_timeout`` and shielded
        from cancellation; an immediate TCP close if it already failed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel()
        if self._read_scope is not None:
            self._read_scope.cancel()
        with trio.CancelScope(shield=True):
            await self._tasks_done.wait()
            while self._reading:  # a consumer in another task is leaving its read
                self._read_done = self._read_done or trio.Event()
                await self._read_done.wait()
            if self._failure is None and self._proto.state is ConnectionState.OPEN:
                with trio.move_on_after(self._close_timeout):
                    await self._close_handshake()
            await trio.aclose_forcefully(self._stream)

    # -- reading ---------------------------------------------------------------------------------------------

    async def _read(self, *, consumer: bool) -> None:
        """One read from the socket, its events handled; frames land in ``_frames``. Only one task at a time."""
        self._reading = True
        try:
            scope = self._read_scope = trio.CancelScope()
            try:
                with scope:
                    data = await self._stream.receive_some(RECEIVE_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                if self._closed:
                    return
                self._fail(ConnectionLost(f"{close_text(CloseReason.ABNORMAL_CLOSURE, None)}: {exc!r}", self._endpoint))
                return
            finally:
                self._read_scope = None
            if scope.cancelled_caught:
                return
            if not consumer:
                self._keeper_reads += 1
            now = trio.current_time()
            if not data:
                self._fail(ConnectionLost(f"{close_text(CloseReason.ABNORMAL_CLOSURE, None)}: EOF", self._endpoint))
                return
            self._proto.receive_data(bytes(data))
            self._last_heard_at = now
            await self._handle_events(now, self._wall_ns(), consumer)
        finally:
            self._reading = False
            if self._read_done is not None:
                self._read_done.set()
                self._read_done = None

    async def _handle_events(self, now: float, wall: int, consumer: bool) -> None:
        frames = self._frames
        for event in self._proto.events():
            if isinstance(event, Message):
                data: str | bytes = event.data if isinstance(event.data, str) else bytes(event.data)
                if not event.message_finished or self._partial:
                    data = await self._assemble(data, event.message_finished)
                    if not data:
                        if self._failure is not None:
                            return
                        continue
                elif len(data) > self._max_message_size:
                    await self._too_big()
                    return
                if not consumer and len(frames) >= self._queue_size:
                    self._fail(ConnectionLost("receive buffer full: consumer too slow", self._endpoint))
                    return
                frames.append(WsFrame(data, wall, now))
                self._frames_received += 1
                self._bytes_received += len(data)
                if len(frames) > self._peak:
                    self._peak = len(frames)
            elif isinstance(event, Ping):
                await self._send_control(event.response())
            elif isinstance(event, Pong):
                waiter = self._pongs.pop(bytes(event.payload), None)
                if waiter is not None:
                    waiter.set()
            elif isinstance(event, CloseConnection):
                if self._proto.state is ConnectionState.REMOTE_CLOSING:
                    await self._send_control(event.response())
                self._fail(ConnectionLost(close_text(event.code, event.reason), self._endpoint))
                return

    async def _assemble(self, chunk: str | bytes, finished: bool) -> str | bytes:
        """A fragment of a message; the whole message once ``finished`` (empty until then, or when too big)."""
        self._partial.append(chunk)
        self._partial_size += len(chunk)
        if self._partial_size > self._max_message_size:
            await self._too_big()
            return ""
        if not finished:
            return ""
        parts, self._partial, self._partial_size = self._partial, [], 0
        if isinstance(chunk, str):
            return "".join(p for p in parts if isinstance(p, str))
        return b"".join(p for p in parts if isinstance(p, bytes))

    async def _too_big(self) -> None:
        """Close with 1009 (the peer learns why), then fail."""
        if self._proto.state is ConnectionState.OPEN:
            await self._send_control(CloseConnection(code=_TOO_BIG, reason="message too big"))
        self._fail(ConnectionLost(close_text(_TOO_BIG, "message too big"), self._endpoint))

    # -- writing ---------------------------------------------------------------------------------------------

    async def _send_event(self, event: TextMessage | BytesMessage | Ping | Pong | CloseConnection) -> None:
        async with self._write_lock:
            try:
                data = self._proto.send(event)
            except wsproto.utilities.LocalProtocolError as exc:  # the connection is closing
                raise ConnectionLost("WebSocket closing", self._endpoint) from exc
            with map_transport_errors(self._endpoint):
                await self._stream.send_all(data)

    async def _send_control(self, event: Ping | Pong | CloseConnection) -> None:
        """A control frame on behalf of the protocol; a broken socket here is reported by the next read."""
        with suppress(TransportError):
            await self._send_event(event)

    async def _close_handshake(self) -> None:
        await self._send_control(CloseConnection(code=CloseReason.NORMAL_CLOSURE))
        while self._proto.state is not ConnectionState.CLOSED:
            data = await self._stream.receive_some(RECEIVE_CHUNK)
            self._proto.receive_data(bytes(data) if data else None)
            for _ in self._proto.events():
                pass
            if not data:
                return

    # -- background tasks ------------------------------------------------------------------------------------

    def _fail(self, error: TransportError) -> None:
        if self._failure is None:
            self._failure = error
        self._tasks.cancel()
        if self._read_scope is not None:
            self._read_scope.cancel()

    def _ended(self) -> TransportError:
        failure = self._failure
        if failure is None:
            return ConnectionLost("WebSocket closed", self._endpoint)
        fresh = type(failure)(failure.message, failure.endpoint)
        fresh.__cause__ = failure.__cause__
        return fresh

    async def _run(self) -> None:
        """Keeper, idle watch and heartbeat under one cancel scope; the first failure cancels them all."""
        try:
            with self._tasks:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._keeper)
                    if self._idle_timeout is not None:
                        nursery.start_soon(self._idle_watch, self._idle_timeout)
                    if self._ping_interval is not None:
                        nursery.start_soon(self._heartbeat, self._ping_interval)
        finally:
            self._tasks_done.set()

    async def _keeper(self) -> None:
        """Read for the consumer while it stays away (pongs, close frames, overflow detection)."""
        while self._failure is None:
            if self._consumer_in or self._reading:
                self._keeper_wait = trio.Event()
                await self._keeper_wait.wait()
                continue
            due = self._left_at + _KEEP_AFTER
            if trio.current_time() < due:
                await trio.sleep_until(due)
                continue
            while not self._consumer_in and self._failure is None:
                await self._read(consumer=False)

    async def _idle_watch(self, quiet: float) -> None:
        """Fail when nothing came for ``quiet`` s: one sleep per quiet period, nothing per frame."""
        while True:
            due = self._last_heard_at + quiet
            if trio.current_time() >= due:
                self._fail(TransportTimeout(f"nothing received for {quiet:g}s", self._endpoint))
                return
            await trio.sleep_until(due)

    async def _heartbeat(self, interval: float) -> None:
        deadline = trio.current_time()
        while True:
            deadline = max(deadline + interval, trio.current_time())
            await trio.sleep_until(deadline)
            self._pings_sent += 1
            payload = b"cli" + self._pings_sent.to_bytes(8, "big")
            answered = self._pongs[payload] = trio.Event()
            try:
                await self._send_event(Ping(payload=payload))
            except TransportError:
                return  # the next read reports it
            with trio.move_on_after(self._pong_timeout):
                await answered.wait()
                self._pongs_received += 1
                continue
            self._pongs.pop(payload, None)
            self._fail(ConnectionLost(f"no pong within {self._pong_timeout:g}s", self._endpoint))
            return


def _target(url: str) -> tuple[str, int, str, bool, str]:
    """``(host, port, resource, tls, endpoint)``; the endpoint has no query (it may carry a key)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"WebSocket URL must be ws(s)://host[:port]/path, got scheme {parts.scheme!r}")
    tls = parts.scheme == "wss"
    if not tls and not is_loopback_host(parts.hostname):
        raise ConfigError(f"plain ws:// is only allowed to loopback hosts, not {parts.hostname!r}")
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError as exc:
        raise ConfigError(f"bad port in WebSocket URL: {exc}") from exc
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return parts.hostname, port, resource, tls, endpoint


@asynccontextmanager
async def open_ws(
    url: str,
    *,
    max_message_size: int = 1 << 22,
    message_queue_size: int = 1024,
    ping_interval: float | None = None,
    pong_timeout: float = 10.0,
    idle_timeout: float | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
    extra_headers: Sequence[tuple[str, str]] = (),
    ssl_context: ssl.SSLContext | None = None,
    endpoint: str | None = None,
    wall_ns: Callable[[], int] = time.time_ns,
) -> AsyncIterator[WsConnection]:
    """Connect to ``url`` and yield a :class:`WsConnection`; close it on exit, even when cancelled.

    ``max_message_size`` and ``message_queue_size`` are per exchange (a full depth snapshot can be
    megabytes). ``ping_interval`` enables client pings, each of which must be answered within
    ``pong_timeout``; ``idle_timeout`` fails the connection when no message arrives for that long.
    ``endpoint`` overrides the name used in errors, for URLs whose *path* carries a secret (listen keys).
    ``wall_ns`` stamps ``received_ns`` (inject the actor system's clock so tests control it).
    Raises :class:`ConfigError` for a bad URL and :class:`ConnectFailed` when no connection could be made
    within ``connect_timeout``.
    """
    host, port, resource, tls, default_endpoint = _target(url)
    where = endpoint or default_endpoint
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
    host_header = host if port == (443 if tls else 80) else f"{host}:{port}"
    try:
        async with trio.open_nursery() as nursery:
            with map_transport_errors(where, connecting=True):
                with trio.move_on_after(connect_timeout) as connecting:
                    stream: trio.abc.Stream
                    if tls:
                        context = ssl_context or ssl.create_default_context()
                        stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=context)
                    else:
                        stream = await trio.open_tcp_stream(host, port)
                    try:
                        proto = await client_handshake(stream, host_header, resource, headers, where)
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
                if connecting.cancelled_caught:
                    raise ConnectFailed(f"no connection within {connect_timeout:g}s", where)
            conn = WsConnection(
                proto,
                stream,
                where,
                max_message_size,
                message_queue_size,
                ping_interval,
                pong_timeout,
                idle_timeout,
                close_timeout,
                wall_ns,
            )
            # A first message that came with the handshake's answer.
            await conn._handle_events(trio.current_time(), wall_ns(), True)
            nursery.start_soon(conn._run)
            try:
                yield conn
            finally:
                await conn.aclose()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise_collapsed(group, where)
