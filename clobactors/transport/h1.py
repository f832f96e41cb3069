"""A small HTTP/1.1 keep-alive client on trio streams: the REST hot path of :class:`HttpTransport`.

Why not httpx here: measured on the order path (``bench/run.py order-overhead``), httpx spends ~100 µs
between ``send`` and the first byte written (URL merging and validation, its request model, httpcore's pool
and lock checkpoints), more than all the rest of our path together. This client writes the request in the
caller's task with no checkpoint before the ``send`` syscall when a pooled connection is idle, and can do it
in two steps (:meth:`Http11Pool.send_nowait`, then :meth:`Http11Call.answer`) so the order manager writes
from its own task and waits for the answer in another.

* **Requests** are serialized here, validated as h11 validates them (method from the spec's set, target
  ASCII without spaces, header names RFC 9110 tokens, values without CR/LF/NUL), because h11's own
  serializer (header normalisation and validation, ~16 µs) was the largest remaining cost before the wire.
* **Answers** are parsed by h11, which is robust against whatever the peer sends. Its state machine is told
  of the request (method and ``Host`` only: all it uses to frame the answer) *after* the bytes are written,
  so that work overlaps the exchange's.
* **Safety** as :func:`~clobactors.transport.http.create_http_client` enforces it: TLS verified with
  ``ssl.create_default_context()`` (the caller may pass its own context; plain http only to loopback), no
  redirects (a 3xx is a result), no proxies, no environment.
* **Timeouts** are trio cancel scopes, exact under ``MockClock``: connect and pool -> :class:`ConnectFailed`
  (nothing sent); write and read (per receive, as httpx) -> :class:`TransportTimeout` (outcome unknown). A
  caller's own ``fail_after`` stays ``trio.TooSlowError``. A write on a kept-alive connection that polls
  writable with room for the whole request cannot wait, so it goes without a scope (~7 µs saved).
* **Keep-alive**: an idle connection that became readable (the server closed it, or sent garbage) is
  discarded before use. A reused connection whose write fails is retried once on a fresh one: a failed
  write means the request never left complete, so the exchange cannot have acted on it. A connection that
  breaks *after* the request was written is :class:`ConnectionLost` (outcome unknown), never retried.
"""

from __future__ import annotations

import re
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeAlias, final

import attrs
import h11
import trio

from clobactors.errors import ConnectFailed, ConnectionLost, LocalProtocolError, TransportTimeout
from clobactors.httpspec import HttpRequestSpec, HttpResult

__all__ = ["Connect", "Http11Call", "Http11Pool", "encode_request_head", "header_block"]

#: Opens a connected stream to the pool's origin (the test and bench seam); TLS is layered by the pool.
Connect: TypeAlias = Callable[[], Awaitable[trio.abc.Stream]]

_TOKEN: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_VALUE: Final = re.compile(r"(?:[\x21-\x7e](?:[ \t]*[\x21-\x7e])*)?")
#: Framing headers are ours to write: a caller's copy could smuggle a second request.
_RESERVED: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_MAX_RECEIVE: Final = 65536
_MAX_ANSWER: Final = 64 << 20
#: Header pairs a pool remembers as valid (see :func:`encode_request_head`).
_MAX_CHECKED: Final = 256
_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})


def encode_request_head(
    method: str,
    target: str,
    host: str,
    headers: Sequence[tuple[str, str]],
    length: int,
    checked: set[tuple[str, str]] | None = None,
) -> bytes:
    """The request line and headers, validated; a header h11 would refuse is our bug (LocalProtocolError).

    ``checked`` remembers pairs that passed (an exchange sends the same few on every request: the API key,
    the defaults), so each is validated once; the caller bounds its size.
    """
    return _head(method, target, header_block(host, headers, checked), length)


def header_block(host: str, headers: Sequence[tuple[str, str]], checked: set[tuple[str, str]] | None = None) -> str:
    """``Host`` and ``headers`` as header lines, validated (see :func:`encode_request_head`)."""
    lines = [f"Host: {host}\r\n"]
    for header in headers:
        name, value = header
        if checked is None or header not in checked:
            if not _TOKEN.fullmatch(name) or not _VALUE.fullmatch(value) or name.lower() in _RESERVED:
                raise LocalProtocolError(f"illegal request header {name!r}")
            if checked is not None and len(checked) < _MAX_CHECKED:
                checked.add(header)
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)


def _head(method: str, target: str, block: str, length: int) -> bytes:
    framing = f"Content-Length: {length}\r\n" if length or method in _WITH_BODY else ""
    try:
        return f"{method} {target} HTTP/1.1\r\n{block}{framing}\r\n".encode("ascii")
    except UnicodeEncodeError:
        raise LocalProtocolError("request headers must be ASCII") from None


def _socket_of(stream: trio.abc.Stream) -> trio.socket.SocketType | None:
    """The socket under ``stream``: a ``trio.SocketStream``'s, or any stream's that exposes one the same way
    (a :data:`Connect` seam's wrapper), through TLS layers."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    sock = getattr(stream, "socket", None)
    return sock if isinstance(sock, trio.socket.SocketType) else None


def _poll_idle(conn: _Connection) -> int:
    """What an idle connection is ready for: :data:`_DEAD` when it has something to read (EOF: the server
    closed it, or stray bytes), else :data:`_ROOMY` or not as a small request can be written at once."""
    sock = _socket_of(conn.stream)
    if sock is None:
        return 0
    try:
        if hasattr(select, "poll"):
            if conn.poller is None:  # registered once per connection: the check runs on every reuse
                conn.poller = select.poll()
                conn.poller.register(sock.fileno(), select.POLLIN | select.POLLOUT)
                # POLLOUT means at least a third of the send buffer is free (Linux: free >= queued / 2).
                conn.room = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 3
            ready = conn.poller.poll(0)
            events = ready[0][1] if ready else 0
            if events & (select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL):
                return _DEAD
            return _ROOMY if events & select.POLLOUT else 0
        return _DEAD if select.select([sock.fileno()], [], [], 0)[0] else 0
    except (OSError, ValueError):
        return _DEAD  # closed or unusable: discard it


#: :func:`_poll_idle` answers.
_DEAD: Final = 1
_ROOMY: Final = 2


@attrs.define(eq=False)
class _Connection:
    stream: trio.abc.Stream
    parser: h11.Connection = attrs.field(factory=lambda: h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20))
    poller: select.poll | None = attrs.field(default=None, repr=False)
    #: Bytes a write is sure to hand to the kernel at once while the socket polls writable.
    room: int = 0
    #: Set by :meth:`Http11Pool._take_idle`: the next write of at most :attr:`room` bytes cannot block.
    roomy: bool = False


class _WriteFailed(Exception):
    """The request did not leave complete (internal: a reused connection is then retried)."""


@final
@attrs.define
class Http11Pool(trio.abc.AsyncResource):
    """Keep-alive HTTP/1.1 connections to one origin (see the module docstring). One request per connection
    at a time; at most ``max_connections`` at once, others wait up to the pool timeout."""

    host: str
    port: int
    #: ``Host`` header value and the ``scheme://host[:port]`` prefix of endpoints in errors.
    authority: str
    origin: str
    tls: ssl.SSLContext | None = attrs.field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    write_timeout: float = 10.0
    pool_timeout: float = 5.0
    max_connections: int = 16
    #: Sent with every request, before the request's own (may carry an API key: never in reprs).
    default_headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    connect: Connect | None = attrs.field(default=None, repr=False)
    _idle: list[_Connection] = attrs.field(factory=list, init=False, repr=False)
    _slots: trio.Semaphore = attrs.field(init=False, repr=False)
    _closed: bool = attrs.field(default=False, init=False)
    _checked: set[tuple[str, str]] = attrs.field(factory=set, init=False, repr=False)
    #: A request's own headers -> the validated header block (Host, defaults, them); may hold an API key.
    _blocks: dict[tuple[tuple[str, str], ...], str] = attrs.field(factory=dict, init=False, repr=False)
    opened: int = attrs.field(default=0, init=False)
    reused: int = attrs.field(default=0, init=False)
    retried: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._slots = trio.Semaphore(self.max_connections)

    async def request(self, spec: HttpRequestSpec, target: str, endpoint: str) -> HttpResult:
        """Send ``spec`` to ``target`` (path and query) and read the whole answer; typed errors only."""
        payload = self._payload(spec, target)
        try:
            self._slots.acquire_nowait()  # no checkpoint before the bytes leave when a slot is free
        except trio.WouldBlock:
            with trio.move_on_after(self.pool_timeout) as scope:
                await self._slots.acquire()
            if scope.cancelled_caught:
                raise ConnectFailed("no pooled connection available in time", endpoint) from None
        call = Http11Call(self, spec.method, payload, endpoint, trio.current_time())
        await call._write_idle()
        return await call.answer()

    def ready_nowait(self) -> bool:
        """True when :meth:`send_nowait` would find a free slot and a kept-alive connection right now."""
        return bool(self._idle) and self._slots.value > 0 and not self._closed

    async def send_nowait(self, spec: HttpRequestSpec, target: str, endpoint: str) -> Http11Call:
        """Write ``spec`` on an idle kept-alive connection in the caller's task, without waiting for one.

        ``trio.WouldBlock`` (nothing taken) when no slot is free. Errors raised here mean nothing was sent;
        once the bytes may have left, failures are kept for :meth:`Http11Call.answer`, which must then be
        awaited (it releases the slot). A dead idle connection leaves the write to ``answer``.
        """
        payload = self._payload(spec, target)
        self._slots.acquire_nowait()
        call = Http11Call(self, spec.method, payload, endpoint, trio.current_time())
        await call._write_idle()
        return call

    def _payload(self, spec: HttpRequestSpec, target: str) -> bytes:
        # The header lines of one headers tuple (the API key's, usually) are validated and joined once:
        # ~2 µs a request on the order path (bench/run.py order-overhead).
        block = self._blocks.get(spec.headers)
        if block is None:
            block = header_block(self.authority, (*self.default_headers, *spec.headers), self._checked)
            if len(self._blocks) >= _MAX_CHECKED:
                self._blocks.clear()
            self._blocks[spec.headers] = block
        head = _head(spec.method, target, block, len(spec.body))
        return head + spec.body if spec.body else head

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            ready = _poll_idle(conn)
            if ready != _DEAD:
                conn.roomy = ready == _ROOMY
                self.reused += 1
                return conn
            _abandon(conn)
        return None

    async def _open(self, endpoint: str) -> _Connection:
        with trio.move_on_after(self.connect_timeout) as scope:
            try:
                if self.connect is not None:
                    stream = await self.connect()
                else:
                    stream = await trio.open_tcp_stream(self.host, self.port)
                if self.tls is not None:
                    tls = trio.SSLStream(stream, self.tls, server_hostname=self.host, https_compatible=True)
                    try:
                        await tls.do_handshake()
                    except BaseException:
                        await trio.aclose_forcefully(tls)
                        raise
                    stream = tls
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
                raise ConnectFailed(f"connect failed: {exc!r}", endpoint) from exc
        if scope.cancelled_caught:
            raise ConnectFailed("connect timed out", endpoint)
        self.opened += 1
        return _Connection(stream)

    async def _write(self, conn: _Connection, payload: bytes, endpoint: str) -> None:
        roomy, conn.roomy = conn.roomy and len(payload) <= conn.room, False
        if roomy:
            # The socket has room for all of it, so the write cannot wait and needs no timeout: a cancel
            # scope costs ~7 µs before the first byte (bench/run.py order-overhead).
            await _send(conn, payload)
            return
        with trio.move_on_after(self.write_timeout) as scope:
            await _send(conn, payload)
        if scope.cancelled_caught:
            await trio.aclose_forcefully(conn.stream)
            raise TransportTimeout("write timed out: no answer in time", endpoint)

    async def _answer(self, conn: _Connection, method: str, start: float, endpoint: str) -> HttpResult:
        """Read one answer; return the connection to the pool when both sides allow keep-alive."""
        parser = conn.parser
        try:
            parser.send(h11.Request(method=method, target="/", headers=[("Host", self.authority)]))
            parser.send(h11.EndOfMessage())
            status, headers, body = await self._read(conn, endpoint)
        except BaseException:
            await trio.aclose_forcefully(conn.stream)
            raise
        elapsed = trio.current_time() - start
        if parser.our_state is h11.DONE and parser.their_state is h11.DONE and not self._closed:
            parser.start_next_cycle()
            self._idle.append(conn)
        else:
            await trio.aclose_forcefully(conn.stream)
        return HttpResult(status=status, headers=headers, body=body, elapsed=elapsed)

    async def _read(self, conn: _Connection, endpoint: str) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        parser = conn.parser
        status = 0
        headers: tuple[tuple[str, str], ...] = ()
        chunks: list[bytes] = []
        size = 0
        with trio.CancelScope() as scope:
            while True:
                try:
                    event = parser.next_event()
                except h11.RemoteProtocolError as exc:
                    what = "no complete answer" if status == 0 else "a malformed answer"
                    raise ConnectionLost(f"server sent {what} ({exc})", endpoint) from exc
                if event is h11.NEED_DATA:
                    scope.deadline = trio.current_time() + self.read_timeout
                    try:
                        data = await conn.stream.receive_some(_MAX_RECEIVE)
                    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
                        raise ConnectionLost(f"{type(exc).__name__}: {exc}", endpoint) from exc
                    scope.deadline = float("inf")
                    parser.receive_data(data if isinstance(data, bytes) else bytes(data))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > _MAX_ANSWER:
                        raise ConnectionLost(f"answer larger than {_MAX_ANSWER} bytes", endpoint)
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return status, headers, b"".join(chunks)
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionLost("server disconnected without sending a complete response", endpoint)
                # InformationalResponse (1xx): wait for the final answer
        raise TransportTimeout("ReadTimeout: no answer in time", endpoint)

    async def aclose(self) -> None:
        """Close idle connections; requests in flight close theirs when they end."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await trio.aclose_forcefully(conn.stream)


@final
@attrs.define(eq=False)
class Http11Call:
    """One request holding a pool slot: written on a kept-alive connection already, or not yet.

    :meth:`answer` finishes it (opens a fresh connection and writes if needed, reads the answer) and releases
    the slot, whatever happens: every call must be answered exactly once.
    """

    _pool: Http11Pool
    _method: str
    _payload: bytes = attrs.field(repr=False)
    _endpoint: str
    _start: float
    _conn: _Connection | None = attrs.field(default=None, repr=False)
    _error: TransportTimeout | None = None
    _released: bool = False

    async def _write_idle(self) -> None:
        """Write on an idle connection if there is one (a write timeout is kept for :meth:`answer`)."""
        conn = self._pool._take_idle()
        if conn is None:
            return
        try:
            await self._pool._write(conn, self._payload, self._endpoint)
        except _WriteFailed:
            self._pool.retried += 1  # it never left complete: answer() resends on a fresh connection
        except TransportTimeout as exc:
            self._error = exc  # part may have left: the outcome is unknown, never resent
        except BaseException:
            self._release()
            raise
        else:
            self._conn = conn

    async def answer(self) -> HttpResult:
        """Write on a fresh connection if still unsent, then read the whole answer; typed errors only."""
        try:
            if self._error is not None:
                raise self._error
            conn = self._conn
            if conn is None:
                conn = await self._pool._open(self._endpoint)
                try:
                    await self._pool._write(conn, self._payload, self._endpoint)
                except _WriteFailed as exc:
                    raise ConnectionLost(f"write failed: {exc.__cause__!r}", self._endpoint) from exc.__cause__
            return await self._pool._answer(conn, self._method, self._start, self._endpoint)
        finally:
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._pool._slots.release()


async def _send(conn: _Connection, payload: bytes) -> None:
    """Write ``payload``; a failed write closes the connection and raises :class:`_WriteFailed`."""
    try:
        await conn.stream.send_all(payload)
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
        await trio.aclose_forcefully(conn.stream)
        raise _WriteFailed() from exc
    except BaseException:
        await trio.aclose_forcefully(conn.stream)
        raise


def _abandon(conn: _Connection) -> None:
    """Close a dead idle connection without waiting (its peer is gone; nothing is owed to it)."""
    sock = _socket_of(conn.stream)
    if sock is not None:
        sock.close()
