"""An open client WebSocket: frames read in the consumer's own task, writes under one lock, a typed failure.

Part of :mod:`clobactors.transport.ws` (whose docstring has the overview). This module holds the connection
itself and its per-frame path, :meth:`WsConnection.receive` -> ``_read`` -> ``_ingest`` -> ``_handle_events``,
kept in one class so that a frame costs no extra call or attribute lookup. How the connection ends (``aclose``,
``_fail``, the close handshake, the control frames wsproto writes) is its base class in
:mod:`clobactors.transport.ws_lifecycle`, methods only, none of them on a data frame's path. The background
duties that share its state (the keeper, the idle watch, the heartbeat) live in
:mod:`clobactors.transport.ws_duties`; connecting lives in :mod:`clobactors.transport.ws_open`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Final, final

import attrs
import trio
import wsproto
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Message, Ping, Pong
from wsproto.frame_protocol import CloseReason

from clobactors.errors import ConnectionLost, TransportError
from clobactors.transport.errors import map_transport_errors
from clobactors.transport.ws_frames import client_frame
from clobactors.transport.ws_handshake import RECEIVE_CHUNK, close_text
from clobactors.transport.ws_lifecycle import _WsLifecycle
from clobactors.transport.ws_records import WsFrame, WsStatistics

__all__ = ["WsConnection", "WsFrame", "WsStatistics"]

#: Buffered frames handed out in a row before ``receive`` lets other tasks run.
_YIELD_EVERY: Final = 16


@final
@attrs.define(eq=False)
class WsConnection(_WsLifecycle):
    """An open client WebSocket. Receive with :meth:`receive` or ``async for``; send with :meth:`send`.

    Built by :func:`~clobactors.transport.ws_open.open_ws`. One task receives at a time (the consumer); any
    task may send; :meth:`aclose` (from :mod:`clobactors.transport.ws_lifecycle`) closes. The background duties
    (:mod:`clobactors.transport.ws_duties`) share this state: the keeper reads through ``_read`` and waits on
    ``_keeper_wait``; the heartbeat fills ``_pongs``, which ``_handle_events`` answers.
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
    #: Bytes read but not yet a whole frame (``_ingest`` parses frames itself).
    _inbuf: bytes = attrs.field(default=b"", init=False, repr=False)
    #: A fragmented message is in progress (its frames go through wsproto, which assembles them).
    _fragmented: bool = attrs.field(default=False, init=False)
    _pongs: dict[bytes, trio.Event] = attrs.field(factory=dict, init=False, repr=False)
    _write_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock, init=False, repr=False)
    _tasks: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False, repr=False)
    _tasks_done: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    #: Someone reads the socket (the consumer, or the keeper while the consumer is away).
    _reading: bool = attrs.field(default=False, init=False)
    _read_scope: trio.CancelScope | None = attrs.field(default=None, init=False, repr=False)
    #: The socket under the stream (through TLS), when there is one: a consumer's read blocked on it is woken
    #: by ``notify_closing`` when the connection fails or closes, so it needs no cancel scope of its own.
    _socket: trio.socket.SocketType | None = attrs.field(default=None, init=False, repr=False)
    #: Frames were handed to the consumer since the last read (see :meth:`receive`).
    _handed_out: bool = attrs.field(default=False, init=False)
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
        stream = self._stream
        while isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        if isinstance(stream, trio.SocketStream):
            self._socket = stream.socket

    @property
    def writing(self) -> bool:
        """A write is in progress: a :meth:`send` now would wait for it."""
        return self._write_lock.locked()

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
                self._handed_out = True
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
                if self._handed_out:
                    # What we handed out woke someone (a strategy, through the bus): let them run before we
                    # pay for a read that usually finds nothing and parks (~30 µs in context, bench/run.py
                    # loopback-market), then look again. Twice: trio runs a batch in random order, so after
                    # one yield we would still go first half the time.
                    self._handed_out = False
                    await trio.lowlevel.checkpoint()
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    continue
                await self._read(consumer=True)
            self._handed_out = True
            return frames.popleft()
        finally:
            self._consumer_in = False
            self._left_at = trio.current_time()
            if self._keeper_wait is not None:  # parked while we were in: at most once per _KEEP_AFTER
                self._keeper_wait.set()
                self._keeper_wait = None

    def __aiter__(self) -> AsyncIterator[WsFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WsFrame]:
        while True:
            yield await self.receive()

    async def send(self, message: str | bytes) -> None:
        """Send one message; writes are serialized in FIFO order so subscriptions keep their order.

        The frame is built here (:func:`~clobactors.transport.ws_frames.client_frame`, not wsproto's ~6 µs) and,
        when no other write is in progress, written before the task yields: an order frame leaves first.
        """
        if self._closed:
            raise ConnectionLost("WebSocket closed locally", self._endpoint)
        if self._failure is not None:
            raise self._ended()
        data = client_frame(message)
        lock = self._write_lock
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if self._proto.state is not ConnectionState.OPEN:  # a close went out (or came in) meanwhile
                raise ConnectionLost("WebSocket closing", self._endpoint)
            try:
                with map_transport_errors(self._endpoint):
                    await self._stream.send_all(data)
            except trio.Cancelled:
                # Part of the frame may be on the wire: another frame after it would be garbage to the peer.
                self._fail(ConnectionLost("a send was cancelled part-way; the connection is unusable", self._endpoint))
                raise
        finally:
            lock.release()
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

    # -- reading ---------------------------------------------------------------------------------------------

    async def _read(self, *, consumer: bool) -> None:
        """One read from the socket, its events handled; frames land in ``_frames``. Only one task at a time."""
        self._reading = True
        try:
            try:
                if consumer and self._socket is not None:
                    # No cancel scope (~5 µs a read): _fail and aclose wake this read with notify_closing.
                    data = await self._stream.receive_some(RECEIVE_CHUNK)
                else:  # the keeper's read, which the consumer cancels to take the socket back
                    scope = self._read_scope = trio.CancelScope()
                    with scope:
                        data = await self._stream.receive_some(RECEIVE_CHUNK)
                    if scope.cancelled_caught:
                        return
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                if self._closed or self._failure is not None:
                    return
                self._fail(ConnectionLost(f"{close_text(CloseReason.ABNORMAL_CLOSURE, None)}: {exc!r}", self._endpoint))
                return
            finally:
                self._read_scope = None
            if not consumer:
                self._keeper_reads += 1
            now = trio.current_time()
            if not data:
                self._fail(ConnectionLost(f"{close_text(CloseReason.ABNORMAL_CLOSURE, None)}: EOF", self._endpoint))
                return
            self._last_heard_at = now
            await self._ingest(data if type(data) is bytes else bytes(data), now, self._wall_ns(), consumer)
        finally:
            self._reading = False
            if self._read_done is not None:
                self._read_done.set()
                self._read_done = None

    async def _ingest(self, data: bytes, now: float, wall: int, consumer: bool) -> None:
        """Split ``data`` (after any partial frame kept from the last read) into frames; keep the tail.

        The plain case, a whole unmasked text or binary message in one frame, is parsed here: going through
        wsproto's frame parser cost ~9 µs a frame (``/tmp`` stamps of ``loopback-market``; a third of the
        session's share at 1 k frames/s), this ~1 µs. Everything else (pings, pongs, close, fragments, a
        masked frame, reserved bits, bad UTF-8) goes to wsproto as *whole* frames, so its buffer is always
        empty between calls and its state (close handshake, fragment assembly, protocol errors) stays its own.
        A frame declaring more than ``max_message_size`` fails the connection (close 1009) before it is read.
        """
        buf = self._inbuf + data if self._inbuf else data
        end, pos = len(buf), 0
        frames = self._frames
        limit = self._max_message_size
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            size, head = b1 & 0x7F, 2
            if size == 126:
                if end - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size > limit:
                self._inbuf = b""
                await self._too_big()
                return
            if b1 & 0x80:
                head += 4  # a masked frame (servers must not mask): wsproto refuses it
            stop = pos + head + size
            if stop > end:
                break
            text: str | bytes | None = None
            if (b0 == 0x81 or b0 == 0x82) and not b1 & 0x80 and not self._fragmented:
                text = buf[pos + head : stop]
                if b0 == 0x81:
                    try:
                        text = text.decode()
                    except UnicodeDecodeError:
                        text = None  # wsproto closes with 1007
            if text is None:
                opcode = b0 & 0x0F
                if opcode < 3:  # data or continuation: track fragments so the fast path stays out of them
                    self._fragmented = not b0 & 0x80
                self._proto.receive_data(buf[pos:stop])
                await self._handle_events(now, wall, consumer)
                if self._failure is not None:
                    self._inbuf = b""
                    return
            else:
                if not consumer and len(frames) >= self._queue_size:
                    self._inbuf = b""
                    self._fail(ConnectionLost("receive buffer full: consumer too slow", self._endpoint))
                    return
                frames.append(WsFrame(text, wall, now))
                self._frames_received += 1
                self._bytes_received += len(text)
                if len(frames) > self._peak:
                    self._peak = len(frames)
            pos = stop
        self._inbuf = buf[pos:] if pos else buf

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
