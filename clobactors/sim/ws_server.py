"""WebSocket serving for the simulator's exchange faces, on wsproto over loopback TCP.

The face writes ``async def handler(conn: ServerWsConnection) -> None``; the server accepts TCP, reads the
opening handshake, calls the handler, and closes the WebSocket when the handler returns (1000), fails
(1011, logged) or the server stops (1001). A client that vanishes ends the handler with
:class:`~clobactors.errors.ConnectionLost` from ``receive``/``send``; that is a normal end, not an error.

We own each connection's TCP stream (no WebSocket library between it and us):
:meth:`ServerWsConnection.abort` resets it without a close frame, which is how fault injection simulates a
dropped network, and :meth:`ServerWsConnection.stall` freezes it (nothing read, nothing written, pings
unanswered, socket open), which is how it simulates a half-open connection.
:meth:`ServerWsConnection.send_many` writes a batch of messages with one ``send_all`` (the simulator's
per-connection writer sends everything queued at once). The protocol rules live sans-IO in
:mod:`clobactors.sim.ws_protocol`, the connection's I/O in :mod:`clobactors.sim.ws_connection`.

Heartbeat is a mechanism, the face picks the policy: with :class:`WsHeartbeat` the server pings every
``interval`` seconds and aborts a connection that has not answered any ping for ``pong_timeout`` seconds
(Binance: ping every 20 s, drop after 60 s without pong). A face wanting another policy leaves it off and
calls :meth:`ServerWsConnection.ping` itself. Pings *from* the client are answered automatically.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias, final

import attrs
import trio
import wsproto.utilities
from wsproto.events import Request

from clobactors.errors import TransportError
from clobactors.sim.ws_connection import Counters, ServerWsConnection, WsHeartbeat
from clobactors.sim.ws_protocol import ServerProtocol
from clobactors.transport.ws_handshake import RECEIVE_CHUNK

__all__ = ["ServerWsConnection", "WsHandler", "WsHeartbeat", "WsServer", "WsServerStatistics"]

logger: Final = logging.getLogger(__name__)

#: A handshake request larger than this is refused (a real client's is well under 1 KiB plus its headers).
_MAX_REQUEST: Final = 1 << 16
_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


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
    _counters: Counters = attrs.field(factory=Counters, init=False)

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
        conn: ServerWsConnection | None = None
        try:
            async with trio.open_nursery() as nursery:
                proto = ServerProtocol(self._max_message_size)
                request: Request | None = None
                with trio.move_on_after(self._handshake_timeout) as waiting:
                    request = await _read_request(proto, stream, endpoint)
                if waiting.cancelled_caught:
                    logger.info("%s: no WebSocket handshake within %gs", endpoint, self._handshake_timeout)
                elif request is not None:
                    conn = ServerWsConnection(
                        request,
                        proto,
                        stream,
                        nursery,
                        self._counters,
                        self._heartbeat,
                        client,
                        endpoint,
                        self._message_queue_size,
                    )
                    await self._run_handler(conn, endpoint)
                nursery.cancel_scope.cancel()
        except* (TransportError, trio.BrokenResourceError, trio.ClosedResourceError):
            logger.debug("%s went away", endpoint)
        except* Exception:
            # One broken connection must not stop the server; the traceback goes to the log.
            logger.exception("%s: WebSocket connection task failed", endpoint)
        finally:
            self._counters.open -= 1
            if conn is not None:
                conn.release()
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


async def _read_request(proto: ServerProtocol, stream: trio.SocketStream, endpoint: str) -> Request | None:
    """The client's upgrade request; None when it hung up or sent something else (answered 400)."""
    size = 0
    while True:
        try:
            data = await stream.receive_some(RECEIVE_CHUNK)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return None
        size += len(data)
        try:
            request = proto.receive_request(bytes(data) if data else None)
        except wsproto.utilities.RemoteProtocolError as exc:
            logger.info("%s: bad WebSocket handshake: %s", endpoint, exc)
            with contextlib.suppress(TransportError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await stream.send_all(_BAD_REQUEST)
            return None
        if request is not None:
            return request
        if not data or size > _MAX_REQUEST:
            return None
