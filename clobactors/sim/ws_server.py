"""WebSocket serving for the simulator's exchange faces, on trio-websocket over loopback TCP.

The face writes ``async def handler(conn: ServerWsConnection) -> None``; the server accepts TCP, runs the
opening handshake, calls the handler, and closes the WebSocket when the handler returns (1000), fails
(1011, logged) or the server stops (1001). A client that vanishes ends the handler with
:class:`~clobactors.errors.ConnectionLost` from ``receive``/``send``; that is a normal end, not an error.

We run each connection ourselves (``trio.serve_listeners`` + ``trio_websocket.wrap_server_stream``) rather
than through ``serve_websocket`` so that we keep the TCP stream: :meth:`ServerWsConnection.abort` resets it
without a close frame, which is how fault injection simulates a dropped network, and
:meth:`ServerWsConnection.stall` freezes it (nothing read, nothing written, pings unanswered, socket open),
which is how it simulates a half-open connection.

Heartbeat is a mechanism, the face picks the policy: with :class:`WsHeartbeat` the server pings every
``interval`` seconds and aborts a connection that has not answered any ping for ``pong_timeout`` seconds
(Binance: ping every 20 s, drop after 60 s without pong). A face wanting another policy leaves it off and
calls :meth:`ServerWsConnection.ping` itself. Pings *from* the client are answered automatically.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TypeAlias, final
from urllib.parse import parse_qsl

import attrs
import trio
import trio_websocket

from clobactors.errors import TransportError
from clobactors.transport.errors import map_transport_errors

__all__ = ["ServerWsConnection", "WsHandler", "WsHeartbeat", "WsServer", "WsServerStatistics"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.frozen
class WsHeartbeat:
    """Server-initiated pings: one every ``interval`` s; abort when no pong for ``pong_timeout`` s."""

    interval: float
    pong_timeout: float


@final
@attrs.frozen
class WsServerStatistics:
    """Counters since the server was created."""

    connections_accepted: int
    connections_open: int
    handshakes_rejected: int
    messages_received: int
    messages_sent: int
    aborted: int
    pong_timeouts: int
    handler_errors: int


@attrs.define
class _Counters:
    accepted: int = 0
    open: int = 0
    rejected: int = 0
    received: int = 0
    sent: int = 0
    aborted: int = 0
    pong_timeouts: int = 0
    handler_errors: int = 0


@final
class _Valve(trio.abc.HalfCloseableStream):
    """The TCP stream as trio-websocket sees it; :meth:`stall` freezes both directions until :meth:`release`.

    A frozen connection reads nothing, so the WebSocket library answers no ping: the peer sees exactly a
    half-open socket. Releasing (on abort or shutdown) lets blocked calls reach the closed socket and fail.
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._stalled = False
        self._released = trio.Event()

    def stall(self) -> None:
        self._stalled = True

    def release(self) -> None:
        self._released.set()

    async def _gate(self) -> None:
        if self._stalled and not self._released.is_set():
            await self._released.wait()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._gate()
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._gate()
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        await self._gate()
        return await self._stream.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self._gate()
        await self._stream.send_eof()

    async def aclose(self) -> None:
        self.release()
        await self._stream.aclose()


@final
@attrs.define
class ServerWsConnection:
    """One client as the face sees it. The handshake is accepted on first ``send``/``receive`` unless the
    face calls :meth:`accept` (to pick a subprotocol or headers) or :meth:`reject` first."""

    _request: trio_websocket.WebSocketRequest
    _stream: trio.SocketStream
    _nursery: trio.Nursery
    _counters: _Counters
    _heartbeat: WsHeartbeat | None
    _client: tuple[str, int]
    _endpoint: str
    _valve: _Valve | None = None
    _ws: trio_websocket.WebSocketConnection | None = None
    _rejected: bool = False
    _aborted: bool = False
    _watchdog: tuple[trio.CancelScope, float] | None = None
    _ping_seq: int = 0

    @property
    def path(self) -> str:
        """Request path without the query (``/ws/btcusdt@depth``)."""
        return self._request.path.partition("?")[0]

    @property
    def query(self) -> str:
        """Raw query string, empty when none."""
        return self._request.path.partition("?")[2]

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """The query decoded into ordered pairs (duplicates and blank values kept)."""
        return tuple(parse_qsl(self.query, keep_blank_values=True))

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Handshake request headers, lower-case names."""
        return tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self._request.headers)

    @property
    def client(self) -> tuple[str, int]:
        """The client's ``(host, port)``."""
        return self._client

    @property
    def close_reason(self) -> tuple[int, str] | None:
        """``(code, reason)`` once the WebSocket is closed or closing, else None."""
        reason = self._ws.closed if self._ws is not None else None
        return None if reason is None else (reason.code, reason.reason or "")

    async def accept(
        self, *, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Complete the handshake (idempotent). Starts the server heartbeat if configured."""
        if self._ws is not None:
            return
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        with map_transport_errors(self._endpoint, connecting=True):
            self._ws = await self._request.accept(subprotocol=subprotocol, extra_headers=extra)
        if self._heartbeat is not None:
            self._nursery.start_soon(self._run_heartbeat, self._heartbeat)

    async def reject(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Refuse the handshake with an HTTP answer (401 bad key, 404 unknown stream, 429 ...)."""
        if self._ws is not None or self._rejected:
            return
        self._rejected = True
        self._counters.rejected += 1
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        with map_transport_errors(self._endpoint):
            await self._request.reject(status, extra_headers=extra, body=body or None)

    async def send(self, message: str | bytes) -> None:
        """Send one message; raises :class:`ConnectionLost` when the client is gone."""
        ws = await self._accepted()
        with map_transport_errors(self._endpoint):
            await ws.send_message(message)
        self._counters.sent += 1

    async def receive(self) -> str | bytes:
        """The next message; raises :class:`ConnectionLost` when the client closed or vanished."""
        ws = await self._accepted()
        with map_transport_errors(self._endpoint):
            message = await ws.get_message()
        self._counters.received += 1
        return message

    async def ping(self, payload: bytes | None = None) -> None:
        """Ping and wait for the matching pong (wrap in ``trio.fail_after`` for a deadline)."""
        ws = await self._accepted()
        if payload is None:
            self._ping_seq += 1
            payload = b"srv" + self._ping_seq.to_bytes(8, "big")
        with map_transport_errors(self._endpoint):
            await ws.ping(payload)
        if self._watchdog is not None:
            scope, pong_timeout = self._watchdog
            scope.deadline = trio.current_time() + pong_timeout

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Clean close: close frame, wait (bounded, shielded) for the client's, then close TCP.

        Before the handshake was accepted this answers it instead: 503 on shutdown (1001), 500 on a handler
        failure (1011), else 404. Never raises for a client that is already gone.
        """
        if self._aborted:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT):
            try:
                if self._ws is None:
                    await self.reject({1001: 503, 1011: 500}.get(code, 404))
                else:
                    await self._ws.aclose(code, reason or None)
            except TransportError:
                pass
        await trio.aclose_forcefully(self._stream)

    async def abort(self) -> None:
        """Abrupt close: TCP reset, no close frame (a dead network as the client sees it)."""
        if self._aborted:
            return
        self._aborted = True
        self._counters.aborted += 1
        if self._valve is not None:
            self._valve.release()  # first: a stalled reader must reach the socket it is about to lose
        with contextlib.suppress(OSError):  # already closed
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self._stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await trio.aclose_forcefully(self._stream)

    def stall(self) -> None:
        """Half-open: from now on nothing is read or written (pings go unanswered) and the socket stays open,
        until the peer's or our own heartbeat gives up, or :meth:`abort`."""
        if self._valve is not None:
            self._valve.stall()

    async def _accepted(self) -> trio_websocket.WebSocketConnection:
        if self._ws is None:
            await self.accept()
        assert self._ws is not None
        return self._ws

    async def _run_heartbeat(self, heartbeat: WsHeartbeat) -> None:
        """Ping every ``interval``; abort at exactly ``pong_timeout`` after the last pong.

        The watchdog is a cancel scope whose deadline every pong pushes forward, so the abort time is exact.
        """
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._ping_forever, heartbeat.interval, nursery)
            with trio.move_on_after(heartbeat.pong_timeout) as watchdog:
                self._watchdog = (watchdog, heartbeat.pong_timeout)
                await trio.sleep_forever()
            self._watchdog = None
            self._counters.pong_timeouts += 1
            logger.info("no pong from %s:%d for %gs, aborting", *self.client, heartbeat.pong_timeout)
            nursery.cancel_scope.cancel()
            await self.abort()

    async def _ping_forever(self, interval: float, nursery: trio.Nursery) -> None:
        deadline = trio.current_time()
        while True:
            deadline += interval
            await trio.sleep_until(deadline)
            nursery.start_soon(self._ping_quietly)

    async def _ping_quietly(self) -> None:
        with contextlib.suppress(TransportError):  # the handler's receive() reports the closed connection
            await self.ping()


#: Close handshake bound; also used when the server stops (shielded).
_CLOSE_TIMEOUT: Final = 2.0

WsHandler: TypeAlias = Callable[[ServerWsConnection], Awaitable[None]]


@final
@attrs.define
class WsServer:
    """Serves one handler over WebSocket. Start it with ``port = await nursery.start(server.serve)``."""

    _handler: WsHandler
    #: Largest message accepted from a client; bigger ones close the connection with 1009.
    _max_message_size: int = 1 << 20
    _message_queue_size: int = 64
    _heartbeat: WsHeartbeat | None = None
    _handshake_timeout: float = 10.0
    _port: int | None = attrs.field(default=None, init=False)
    _counters: _Counters = attrs.field(factory=_Counters, init=False)

    @property
    def port(self) -> int | None:
        """The bound port once serving, else None."""
        return self._port

    def statistics(self) -> WsServerStatistics:
        c = self._counters
        return WsServerStatistics(
            connections_accepted=c.accepted,
            connections_open=c.open,
            handshakes_rejected=c.rejected,
            messages_received=c.received,
            messages_sent=c.sent,
            aborted=c.aborted,
            pong_timeouts=c.pong_timeouts,
            handler_errors=c.handler_errors,
        )

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0 picks a free port) and serve until cancelled; reports the bound port."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        self._port = int(listeners[0].socket.getsockname()[1])
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle_connection, listeners)
            logger.debug("WebSocket server listening on %s:%d", host, self._port)
            task_status.started(self._port)

    async def _handle_connection(self, stream: trio.SocketStream) -> None:
        self._counters.accepted += 1
        self._counters.open += 1
        peer = stream.socket.getpeername()
        client = (str(peer[0]), int(peer[1]))
        endpoint = f"ws client {client[0]}:{client[1]}"
        valve = _Valve(stream)
        try:
            async with trio.open_nursery() as nursery:
                conn: ServerWsConnection | None = None
                with trio.move_on_after(self._handshake_timeout):
                    request = await trio_websocket.wrap_server_stream(
                        nursery,
                        valve,
                        message_queue_size=self._message_queue_size,
                        max_message_size=self._max_message_size,
                    )
                    conn = ServerWsConnection(
                        request, stream, nursery, self._counters, self._heartbeat, client, endpoint, valve
                    )
                if conn is None:
                    logger.info("%s: no WebSocket handshake within %gs", endpoint, self._handshake_timeout)
                else:
                    await self._run_handler(conn, endpoint)
                nursery.cancel_scope.cancel()
        except* (
            TransportError,
            trio_websocket.ConnectionClosed,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ):
            logger.debug("%s went away", endpoint)
        except* Exception:
            # One broken connection must not stop the server; the traceback goes to the log.
            logger.exception("%s: WebSocket connection task failed", endpoint)
        finally:
            self._counters.open -= 1
            valve.release()
            await trio.aclose_forcefully(stream)

    async def _run_handler(self, conn: ServerWsConnection, endpoint: str) -> None:
        try:
            await self._handler(conn)
        except trio.Cancelled:
            await conn.close(1001, "server shutting down")
            raise
        except TransportError:
            raise  # the client went away: a normal end
        except Exception:
            # Logged before closing: a shutdown cancelling the close must not lose the report.
            self._counters.handler_errors += 1
            logger.exception("%s: WebSocket handler failed", endpoint)
            await conn.close(1011, "internal error")
        else:
            await conn.close(1000)
