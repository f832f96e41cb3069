"""How an open client WebSocket ends: its first failure recorded, a pending read stopped, the close handshake.

Part of :mod:`clobactors.transport.ws` (whose docstring has the overview). :class:`_WsLifecycle` is the base of
:class:`~clobactors.transport.ws_connection.WsConnection`, split out because ending a connection is a job of
its own (``aclose``, ``_fail`` and the typed error ``receive`` raises after it, a message too big, the control
frames wsproto writes: ping answers, the heartbeat's pings, close). It holds methods only (no slots, no fields:
the state stays the connection's attrs fields, declared below for the type checker), so the per-frame path in
:mod:`clobactors.transport.ws_connection` reads every attribute where it did before and makes no extra call:
nothing here runs for a data frame.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Final

import trio
import wsproto
import wsproto.utilities
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason

from clobactors.errors import ConnectionLost, TransportError
from clobactors.transport.errors import map_transport_errors
from clobactors.transport.ws_handshake import RECEIVE_CHUNK, close_text

__all__: list[str] = []

_TOO_BIG: Final = CloseReason.MESSAGE_TOO_BIG


class _WsLifecycle(trio.abc.AsyncResource):
    """Closing and failing an open WebSocket; the state is the subclass's (see the module docstring)."""

    if TYPE_CHECKING:
        # The subclass's attrs fields (its slots), declared for the type checker only.
        _proto: wsproto.WSConnection
        _stream: trio.abc.Stream
        _endpoint: str
        _close_timeout: float
        _write_lock: trio.StrictFIFOLock
        _tasks: trio.CancelScope
        _tasks_done: trio.Event
        _reading: bool
        _read_scope: trio.CancelScope | None
        _read_done: trio.Event | None
        _socket: trio.socket.SocketType | None
        _failure: TransportError | None
        _closed: bool
    else:
        # No slots of its own, so instances stay dict-free. Hidden from mypy, which would otherwise check the
        # assignments below against this empty ``__slots__`` rather than the subclass's.
        __slots__ = ()

    async def aclose(self) -> None:
        """Close: a close handshake if the connection is healthy, bounded by ``close_timeout`` and shielded
        from cancellation; an immediate TCP close if it already failed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel()
        self._stop_read()
        with trio.CancelScope(shield=True):
            await self._tasks_done.wait()
            while self._reading:  # a consumer in another task is leaving its read
                self._read_done = self._read_done or trio.Event()
                await self._read_done.wait()
            if self._failure is None and self._proto.state is ConnectionState.OPEN:
                with trio.move_on_after(self._close_timeout):
                    await self._close_handshake()
            await trio.aclose_forcefully(self._stream)

    # -- failure ---------------------------------------------------------------------------------------------

    def _fail(self, error: TransportError) -> None:
        """Record the first failure; stop the background duties and any pending read (receive reports it)."""
        if self._failure is None:
            self._failure = error
        self._tasks.cancel()
        self._stop_read()

    def _stop_read(self) -> None:
        """End a pending read: cancel the keeper's, wake a consumer's (the connection is failed or closing)."""
        if self._read_scope is not None:
            self._read_scope.cancel()
        elif self._reading and self._socket is not None:
            trio.lowlevel.notify_closing(self._socket)

    def _ended(self) -> TransportError:
        failure = self._failure
        if failure is None:
            return ConnectionLost("WebSocket closed", self._endpoint)
        fresh = type(failure)(failure.message, failure.endpoint)
        fresh.__cause__ = failure.__cause__
        return fresh

    async def _too_big(self) -> None:
        """Close with 1009 (the peer learns why), then fail."""
        if self._proto.state is ConnectionState.OPEN:
            await self._send_control(CloseConnection(code=_TOO_BIG, reason="message too big"))
        self._fail(ConnectionLost(close_text(_TOO_BIG, "message too big"), self._endpoint))

    # -- control frames and the close handshake --------------------------------------------------------------

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
