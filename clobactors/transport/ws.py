"""Client WebSocket connection: one reader task, timestamped frames, heartbeat, idle deadline, typed errors.

``async with open_ws(url, ...) as ws:`` connects (TCP, TLS for ``wss``, handshake) and yields a
:class:`WsConnection`. Inside, one reader task owns the receive side: it stamps every message with
``time.time_ns()`` (the ``ts_recv`` of canonical events) and ``trio.current_time()``, and puts it into a
bounded memory channel with ``send_nowait``. The reader never blocks on the consumer, because pongs ride on
the same socket; a consumer that lets the buffer fill has already lost data, so the connection fails with
:class:`ConnectionLost` and the feed resyncs on reconnect rather than silently skipping frames.

Failures are *reported*, not thrown into the caller's task group: the reader or the heartbeat records the
first failure, closes the channel, and :meth:`WsConnection.receive` raises it after the frames that arrived
before it (a clean close by the server delivers everything it sent first). The failure classes:

* peer closed (clean close frame or TCP reset), reader hit EOF -> :class:`ConnectionLost`;
* no pong within ``pong_timeout`` after a ping -> :class:`ConnectionLost`;
* no message within ``idle_timeout`` -> :class:`TransportTimeout` (mark the book stale, reconnect);
* consumer too slow (buffer full) -> :class:`ConnectionLost`.

We wrap a stream we open ourselves (``trio_websocket.wrap_client_stream``) instead of
``open_websocket_url``: owning the stream lets a dead connection be closed at once without a close
handshake, and keeps trio-websocket's exception-group policy out of our API. Exactly one typed error leaves
:func:`open_ws` (see :func:`clobactors.transport.errors.raise_collapsed`).

Plain ``ws://`` is accepted only for loopback hosts (the simulator), like ``http://`` in the REST transport.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Final, final
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from clobactors.errors import ConfigError, ConnectFailed, ConnectionLost, TransportError, TransportTimeout
from clobactors.transport.errors import map_transport_errors, raise_collapsed, translate_exception
from clobactors.transport.http import is_loopback_host

__all__ = ["WsConnection", "WsFrame", "WsStatistics", "open_ws"]

#: trio-websocket's own queue between its reader and ours; ours drains it at once, so it stays small.
_INNER_QUEUE: Final = 16


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

    ``bytes_received`` counts message lengths (characters for text messages).
    """

    frames_received: int
    bytes_received: int
    frames_sent: int
    pings_sent: int
    pongs_received: int
    current_buffer_used: int
    peak_buffer_used: int
    max_buffer_size: int
    failure: str | None


@final
@attrs.define(eq=False)
class WsConnection(trio.abc.AsyncResource):
    """An open client WebSocket. Receive with :meth:`receive` or ``async for``; send with :meth:`send`.

    Built by :func:`open_ws`; construct it directly only in tests of this module.
    """

    _ws: trio_websocket.WebSocketConnection
    _stream: trio.abc.Stream
    _endpoint: str
    _send_channel: trio.MemorySendChannel[WsFrame] = attrs.field(repr=False)
    _receive_channel: trio.MemoryReceiveChannel[WsFrame] = attrs.field(repr=False)
    _ping_interval: float | None
    _pong_timeout: float
    _idle_timeout: float | None
    _close_timeout: float
    _write_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock, init=False)
    _tasks: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    _failure: TransportError | None = attrs.field(default=None, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    _frames_received: int = attrs.field(default=0, init=False)
    _bytes_received: int = attrs.field(default=0, init=False)
    _frames_sent: int = attrs.field(default=0, init=False)
    _pings_sent: int = attrs.field(default=0, init=False)
    _pongs_received: int = attrs.field(default=0, init=False)

    @property
    def failure(self) -> TransportError | None:
        """The error that ended the connection, once the reader or heartbeat saw one."""
        return self._failure

    async def receive(self) -> WsFrame:
        """The next frame. After the last frame of a dead connection, raises why it died (typed)."""
        try:
            return await self._receive_channel.receive()
        except trio.EndOfChannel:
            raise self._ended() from None
        except trio.ClosedResourceError:
            raise ConnectionLost("WebSocket closed locally", self._endpoint) from None

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
        async with self._write_lock:
            with map_transport_errors(self._endpoint):
                await self._ws.send_message(message)
        self._frames_sent += 1

    def statistics(self) -> WsStatistics:
        stats = self._receive_channel.statistics()
        return WsStatistics(
            frames_received=self._frames_received,
            bytes_received=self._bytes_received,
            frames_sent=self._frames_sent,
            pings_sent=self._pings_sent,
            pongs_received=self._pongs_received,
            current_buffer_used=stats.current_buffer_used,
            peak_buffer_used=stats.peak_buffer_used,
            max_buffer_size=int(stats.max_buffer_size),
            failure=str(self._failure) if self._failure is not None else None,
        )

    async def aclose(self) -> None:
        """Close: a close handshake if the connection is healthy, bounded by ``close_timeout`` and shielded
        from cancellation; an immediate TCP close if it already failed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel()
        self._receive_channel.close()
        with trio.CancelScope(shield=True):
            if self._failure is None and self._ws.closed is None:
                with trio.move_on_after(self._close_timeout):
                    await self._ws.aclose()
            await trio.aclose_forcefully(self._stream)

    # -- background tasks -------------------------------------------------------------------------------

    def _fail(self, error: TransportError) -> None:
        if self._failure is None:
            self._failure = error
        self._tasks.cancel()

    def _ended(self) -> TransportError:
        failure = self._failure
        if failure is None:
            return ConnectionLost("WebSocket closed", self._endpoint)
        fresh = type(failure)(failure.message, failure.endpoint)
        fresh.__cause__ = failure.__cause__
        return fresh

    async def _run(self) -> None:
        """Reader and heartbeat under one cancel scope; the first failure cancels both."""
        with self._tasks:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader)
                if self._ping_interval is not None:
                    nursery.start_soon(self._heartbeat, self._ping_interval)

    async def _reader(self) -> None:
        send = self._send_channel
        with send:
            try:
                while True:
                    message = await self._next_message()
                    if message is None:
                        return
                    frame = WsFrame(message, time.time_ns(), trio.current_time())
                    try:
                        send.send_nowait(frame)
                    except trio.WouldBlock:
                        self._fail(ConnectionLost("receive buffer full: consumer too slow", self._endpoint))
                        return
                    except trio.BrokenResourceError:
                        return  # aclose() closed the receiving end while this frame was in flight
                    self._frames_received += 1
                    self._bytes_received += len(message)
            except trio_websocket.ConnectionClosed as exc:
                error = translate_exception(exc, self._endpoint)
                assert isinstance(error, TransportError)
                error.__cause__ = exc
                self._fail(error)

    async def _next_message(self) -> str | bytes | None:
        if self._idle_timeout is None:
            return await self._ws.get_message()
        with trio.move_on_after(self._idle_timeout):
            return await self._ws.get_message()
        self._fail(TransportTimeout(f"no message for {self._idle_timeout:g}s", self._endpoint))
        return None

    async def _heartbeat(self, interval: float) -> None:
        deadline = trio.current_time()
        while True:
            deadline = max(deadline + interval, trio.current_time())
            await trio.sleep_until(deadline)
            self._pings_sent += 1
            payload = b"cli" + self._pings_sent.to_bytes(8, "big")
            with trio.move_on_after(self._pong_timeout):
                try:
                    await self._ws.ping(payload)
                except trio_websocket.ConnectionClosed:
                    return  # the reader reports it
                self._pongs_received += 1
                continue
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
) -> AsyncIterator[WsConnection]:
    """Connect to ``url`` and yield a :class:`WsConnection`; close it on exit, even when cancelled.

    ``max_message_size`` and ``message_queue_size`` are per exchange (a full depth snapshot can be
    megabytes). ``ping_interval`` enables client pings, each of which must be answered within
    ``pong_timeout``; ``idle_timeout`` fails the connection when no message arrives for that long.
    ``endpoint`` overrides the name used in errors, for URLs whose *path* carries a secret (listen keys).
    Raises :class:`ConfigError` for a bad URL and :class:`ConnectFailed` when no connection could be made
    within ``connect_timeout``.
    """
    host, port, resource, tls, default_endpoint = _target(url)
    where = endpoint or default_endpoint
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
    send, receive = trio.open_memory_channel[WsFrame](message_queue_size)
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
                        ws = await trio_websocket.wrap_client_stream(
                            nursery,
                            stream,
                            host,
                            resource,
                            extra_headers=headers,
                            message_queue_size=_INNER_QUEUE,
                            max_message_size=max_message_size,
                        )
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
                if connecting.cancelled_caught:
                    raise ConnectFailed(f"no connection within {connect_timeout:g}s", where)
            conn = WsConnection(
                ws,
                stream,
                where,
                send,
                receive,
                ping_interval,
                pong_timeout,
                idle_timeout,
                close_timeout,
            )
            nursery.start_soon(conn._run)
            try:
                yield conn
            finally:
                await conn.aclose()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise_collapsed(group, where)
