"""One simulator WebSocket connection as a face sees it: the I/O shell around :class:`ServerProtocol`.

A reader task (started when the handshake is accepted) owns the socket's receive side: it answers pings,
acknowledges pongs, and hands whole messages to :meth:`ServerWsConnection.receive` through a bounded inbox
(``message_queue_size``; a full inbox stops reading, which is backpressure on the client). Every write goes
through one FIFO lock; :meth:`ServerWsConnection.send_many` frames a whole batch into one buffer and writes
it with one ``send_all``, which is what lets the simulator send tens of thousands of frames a second.

A write cancelled part-way leaves half a frame on the wire; after that the connection can only be reset
(:meth:`~ServerWsConnection.close` does so by itself), since a close frame would land inside the half frame.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Final, final
from urllib.parse import parse_qsl

import attrs
import trio
from wsproto.events import Request

from clobactors.errors import ConnectionLost, TransportError
from clobactors.sim.ws_protocol import ServerProtocol
from clobactors.transport.errors import map_transport_errors
from clobactors.transport.ws_handshake import RECEIVE_CHUNK, close_text

__all__ = ["CLOSE_TIMEOUT", "Counters", "ServerWsConnection", "WsHeartbeat"]

logger: Final = logging.getLogger("clobactors.sim.ws_server")

#: Close handshake bound; also used when the server stops (shielded).
CLOSE_TIMEOUT: Final = 2.0
_ABNORMAL: Final = 1006


@final
@attrs.frozen
class WsHeartbeat:
    """Server-initiated pings: one every ``interval`` s; abort when no pong for ``pong_timeout`` s."""

    interval: float
    pong_timeout: float


@attrs.define
class Counters:
    """The server's counters, shared by its connections (read through ``WsServer.statistics``)."""

    accepted: int = 0
    open: int = 0
    rejected: int = 0
    received: int = 0
    sent: int = 0
    aborted: int = 0
    pong_timeouts: int = 0
    handler_errors: int = 0


def _latin1(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


@final
@attrs.define(eq=False)
class ServerWsConnection:
    """One client as the face sees it. The handshake is accepted on first ``send``/``receive`` unless the
    face calls :meth:`accept` (to pick a subprotocol or headers) or :meth:`reject` first."""

    _request: Request
    _proto: ServerProtocol
    _stream: trio.SocketStream
    _nursery: trio.Nursery
    _counters: Counters
    _heartbeat: WsHeartbeat | None
    _client: tuple[str, int]
    _endpoint: str
    _queue_size: int
    _accepted: bool = False
    _rejected: bool = False
    _aborted: bool = False
    #: A write was cancelled part-way: the stream holds half a frame.
    _torn: bool = False
    _stalled: bool = False
    _released: trio.Event = attrs.field(factory=trio.Event)
    _write_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock)
    _inbox: tuple[trio.MemorySendChannel[str | bytes], trio.MemoryReceiveChannel[str | bytes]] | None = None
    _ended: str | None = None
    _reader_done: trio.Event = attrs.field(factory=trio.Event)
    _pings: OrderedDict[bytes, trio.Event] = attrs.field(factory=OrderedDict)
    _watchdog: tuple[trio.CancelScope, float] | None = None
    _ping_seq: int = 0

    @property
    def path(self) -> str:
        """Request path without the query (``/ws/btcusdt@depth``)."""
        return self._request.target.partition("?")[0]

    @property
    def query(self) -> str:
        """Raw query string, empty when none."""
        return self._request.target.partition("?")[2]

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """The query decoded into ordered pairs (duplicates and blank values kept)."""
        return tuple(parse_qsl(self.query, keep_blank_values=True))

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Handshake request headers, lower-case names."""
        return tuple(
            (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1")) for k, v in self._request.extra_headers
        )

    @property
    def client(self) -> tuple[str, int]:
        """The client's ``(host, port)``."""
        return self._client

    @property
    def close_reason(self) -> tuple[int, str] | None:
        """``(code, reason)`` once the WebSocket is closed or closing, else None."""
        return self._proto.close_reason

    async def accept(self, *, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Complete the handshake (idempotent). Starts the reader and the server heartbeat if configured."""
        if self._accepted or self._rejected:
            return
        self._accepted = True
        with map_transport_errors(self._endpoint, connecting=True):
            await self._write(self._proto.accept(subprotocol, _latin1(headers)))
        self._inbox = trio.open_memory_channel[str | bytes](self._queue_size)
        self._nursery.start_soon(self._reader)
        if self._heartbeat is not None:
            self._nursery.start_soon(self._run_heartbeat, self._heartbeat)

    async def reject(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Refuse the handshake with an HTTP answer (401 bad key, 404 unknown stream, 429 ...)."""
        if self._accepted or self._rejected:
            return
        self._rejected = True
        self._counters.rejected += 1
        with map_transport_errors(self._endpoint):
            await self._write(self._proto.reject(status, _latin1(headers), body))

    async def send(self, message: str | bytes) -> None:
        """Send one message; raises :class:`ConnectionLost` when the client is gone."""
        await self.send_many((message,))

    async def send_many(self, messages: Sequence[str | bytes]) -> None:
        """Send messages in order with one write; raises :class:`ConnectionLost` when the client is gone."""
        await self._ensure_accepted()
        async with self._write_lock:
            # Checked under the lock: the reader may have answered the peer's close while we waited for it.
            if self._proto.close_reason is not None or self._ended is not None or not self._proto.open:
                code, reason = self._proto.close_reason or (_ABNORMAL, "")
                raise ConnectionLost(self._ended or close_text(code, reason or None), self._endpoint)
            data = self._proto.encode(messages)
            await self._send_all(data)
        self._counters.sent += len(messages)

    async def receive(self) -> str | bytes:
        """The next message; raises :class:`ConnectionLost` when the client closed or vanished."""
        await self._ensure_accepted()
        assert self._inbox is not None
        try:
            message = await self._inbox[1].receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ConnectionLost(self._ended or "WebSocket closed", self._endpoint) from None
        self._counters.received += 1
        return message

    async def ping(self, payload: bytes | None = None) -> None:
        """Ping and wait for the matching pong (wrap in ``trio.fail_after`` for a deadline)."""
        await self._ensure_accepted()
        if payload is None:
            self._ping_seq += 1
            payload = b"srv" + self._ping_seq.to_bytes(8, "big")
        if self._ended is not None or not self._proto.open:
            raise ConnectionLost(self._ended or "WebSocket closing", self._endpoint)
        answered = self._pings[payload] = trio.Event()
        await self._write(self._proto.ping(payload))
        await answered.wait()
        if self._watchdog is not None:
            scope, pong_timeout = self._watchdog
            scope.deadline = trio.current_time() + pong_timeout

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Clean close: close frame, wait (bounded, shielded) for the client's, then close TCP.

        Before the handshake was accepted this answers it instead: 503 on shutdown (1001), 500 on a handler
        failure (1011), else 404. After a torn write it resets instead. Never raises for a client already gone.
        """
        if self._aborted:
            return
        if self._torn:
            await self.abort()
            return
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT):
            try:
                if not self._accepted:
                    await self.reject({1001: 503, 1011: 500}.get(code, 404))
                else:
                    await self._write(self._proto.close(code, reason))
                    if self._inbox is not None:
                        self._inbox[1].close()  # a reader blocked on a full inbox goes on to read the close
                    await self._reader_done.wait()
            except TransportError:
                pass
        await trio.aclose_forcefully(self._stream)

    async def abort(self) -> None:
        """Abrupt close: TCP reset, no close frame (a dead network as the client sees it)."""
        if self._aborted:
            return
        self._aborted = True
        self._counters.aborted += 1
        self._released.set()  # first: a stalled reader must reach the socket it is about to lose
        with contextlib.suppress(OSError):  # already closed
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self._stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await trio.aclose_forcefully(self._stream)

    def stall(self) -> None:
        """Half-open: from now on nothing is read or written (pings go unanswered) and the socket stays open,
        until the peer's or our own heartbeat gives up, or :meth:`abort`."""
        self._stalled = True

    def release(self) -> None:
        """Let a stalled connection's blocked calls reach the (closing) socket; the server calls it at the end."""
        self._released.set()

    # -- I/O -------------------------------------------------------------------------------------------------

    async def _ensure_accepted(self) -> None:
        if not self._accepted:
            await self.accept()

    async def _gate(self) -> None:
        if self._stalled and not self._released.is_set():
            await self._released.wait()

    async def _write(self, data: bytes) -> None:
        """A control frame or handshake answer, in turn with messages."""
        if not data:
            return
        async with self._write_lock:
            await self._send_all(data)

    async def _send_all(self, data: bytes) -> None:
        await self._gate()
        with map_transport_errors(self._endpoint):
            self._torn = True
            await self._stream.send_all(data)
            self._torn = False

    async def _reader(self) -> None:
        """Read until the close handshake, EOF or reset; ``receive`` raises why after the last message."""
        assert self._inbox is not None
        inbox = self._inbox[0]
        why: str | None = None
        try:
            inbound = self._proto.receive(b"")  # bytes that came with the upgrade request
            while True:
                if inbound.reply:
                    with contextlib.suppress(TransportError):  # the next read reports it
                        await self._write(inbound.reply)
                for payload in inbound.pongs:
                    self._pong(payload)
                for message in inbound.messages:
                    with contextlib.suppress(trio.BrokenResourceError):  # closing: nobody will read it
                        await inbox.send(message)
                if inbound.ended:
                    code, reason = self._proto.close_reason or (_ABNORMAL, "")
                    why = close_text(code, reason or None)
                    return
                await self._gate()
                try:
                    data = await self._stream.receive_some(RECEIVE_CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    why = f"{close_text(_ABNORMAL, None)}: {type(exc).__name__}"
                    return
                if not data:
                    why = f"{close_text(_ABNORMAL, None)}: EOF"
                    return
                inbound = self._proto.receive(bytes(data))
        finally:
            self._ended = why or "WebSocket closed"
            inbox.close()
            self._reader_done.set()

    def _pong(self, payload: bytes) -> None:
        """A pong acknowledges its ping and every earlier one still waiting (as RFC 6455 allows)."""
        if payload not in self._pings:
            return
        while self._pings:
            key, waiter = self._pings.popitem(last=False)
            waiter.set()
            if key == payload:
                return

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
