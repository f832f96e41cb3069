"""A small HTTP/1.1 server on Trio and h11, for the simulator's REST faces on loopback.

One task per connection drives an ``h11.Connection`` (sans-IO) over a ``trio.SocketStream``: read one whole
request (Content-Length or chunked body, bounded by ``max_body_size``), hand it to the face's handler, write
the answer, and loop while the client keeps the connection alive. The server never dies of its clients:

* a malformed request gets h11's status hint (400, 413, 431 ...), a log line, and a closed connection;
* a handler exception gets a JSON 500 and a log line;
* any other failure inside a connection task is logged and ends that connection only.

Fault injection (``sim/faults.py``) needs answers that are not answers, so a handler returns a
:data:`HandlerResult`: an :class:`HttpResponse`, :class:`DropConnection` (the order was accepted but the
response is lost) or :class:`HalfOpen` (the socket stays open and silent). Latency is the handler's own
``trio.sleep`` before it returns.

Shutdown is cancellation: cancelling the nursery that runs :meth:`HttpServer.serve` closes the listener and
every connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Final, TypeAlias, assert_never, final
from urllib.parse import parse_qsl

import attrs
import h11
import msgspec
import trio

__all__ = [
    "DropConnection",
    "HalfOpen",
    "HandlerResult",
    "HttpHandler",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
    "HttpServerStatistics",
]

logger: Final = logging.getLogger(__name__)

_RECEIVE_SIZE: Final = 64 * 1024
#: How long a closing connection waits for the client's FIN after ours, so an unread tail of the request
#: does not turn our close into a RST that destroys the response in flight.
_LINGER: Final = 2.0


@final
@attrs.frozen
class HttpRequest:
    """One complete request as the face sees it.

    ``query`` is the raw query string exactly as sent (signatures are verified over it); ``params`` is the
    same string decoded into pairs, in order, duplicates and blank values kept. Header names are lower-case.
    """

    method: str
    path: str
    query: str
    params: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client: tuple[str, int]

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


@final
@attrs.frozen
class HttpResponse:
    """An answer. ``content-length`` is added when absent."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def json(
        cls, payload: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> HttpResponse:
        """A JSON answer; ``payload`` is encoded with msgspec unless it is already ``bytes``."""
        body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
        return cls(status, (("content-type", "application/json"), *headers), body)


@final
@attrs.frozen
class DropConnection:
    """Close the socket without answering: the client sees the connection die after sending its request."""


@final
@attrs.frozen
class HalfOpen:
    """Never answer and keep the socket open (until the client leaves or the server stops)."""


HandlerResult: TypeAlias = HttpResponse | DropConnection | HalfOpen
HttpHandler: TypeAlias = Callable[[HttpRequest], Awaitable[HandlerResult]]


@final
@attrs.frozen
class HttpServerStatistics:
    """Counters since the server was created. ``errors`` = ``malformed`` + ``handler_errors``."""

    connections_accepted: int
    connections_open: int
    requests: int
    malformed: int
    handler_errors: int
    dropped: int
    half_open: int

    @property
    def errors(self) -> int:
        return self.malformed + self.handler_errors


class _Malformed(Exception):
    """A request h11 accepted but we cannot serve (too big, not ASCII); carries the status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@final
@attrs.define
class HttpServer:
    """Serves one handler over HTTP/1.1 with keep-alive: ``port = await nursery.start(server.serve)``."""

    _handler: HttpHandler
    _max_body_size: int = 1 << 20
    _max_header_size: int = 16 << 10
    #: Seconds a connection may sit between requests (or take to send one) before we close it.
    _idle_timeout: float = 60.0
    _port: int | None = attrs.field(default=None, init=False)
    _accepted: int = attrs.field(default=0, init=False)
    _open: int = attrs.field(default=0, init=False)
    _requests: int = attrs.field(default=0, init=False)
    _malformed: int = attrs.field(default=0, init=False)
    _handler_errors: int = attrs.field(default=0, init=False)
    _dropped: int = attrs.field(default=0, init=False)
    _half_open: int = attrs.field(default=0, init=False)

    @property
    def port(self) -> int | None:
        """The bound port once serving, else None."""
        return self._port

    def statistics(self) -> HttpServerStatistics:
        return HttpServerStatistics(
            connections_accepted=self._accepted,
            connections_open=self._open,
            requests=self._requests,
            malformed=self._malformed,
            handler_errors=self._handler_errors,
            dropped=self._dropped,
            half_open=self._half_open,
        )

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0 picks a free port) and serve until cancelled; reports the bound port.

        Use a literal address: a name such as ``localhost`` may bind several listeners on different ports.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        self._port = int(listeners[0].socket.getsockname()[1])
        async with trio.open_nursery() as nursery:
            # serve_listeners owns the listeners from here and closes them when cancelled.
            await nursery.start(trio.serve_listeners, self._handle_connection, listeners)
            logger.debug("HTTP server listening on %s:%d", host, self._port)
            task_status.started(self._port)

    async def _handle_connection(self, stream: trio.SocketStream) -> None:
        self._accepted += 1
        self._open += 1
        client = _peer(stream)
        try:
            await self._serve_connection(stream, client)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("connection from %s:%d broke: %r", *client, exc)
        except Exception:
            # Last line of defence: one bad connection must not take the listener down with it.
            logger.exception("HTTP connection task from %s:%d failed", *client)
        finally:
            self._open -= 1
            await trio.aclose_forcefully(stream)

    async def _serve_connection(self, stream: trio.SocketStream, client: tuple[str, int]) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_header_size)
        while True:
            try:
                request = await self._read_request(stream, conn, client)
            except h11.RemoteProtocolError as exc:
                await self._reject(stream, conn, client, str(exc), exc.error_status_hint)
                return
            except _Malformed as exc:
                await self._reject(stream, conn, client, str(exc), exc.status)
                return
            if request is None:
                return
            self._requests += 1
            result = await self._call_handler(request)
            match result:
                case HttpResponse():
                    await _send_response(stream, conn, result, head=request.method == "HEAD")
                case DropConnection():
                    self._dropped += 1
                    return
                case HalfOpen():
                    self._half_open += 1
                    await _discard_until_eof(stream)
                    return
                case _:
                    assert_never(result)
            if conn.our_state is h11.MUST_CLOSE:
                await _linger_close(stream)
                return
            conn.start_next_cycle()

    async def _read_request(
        self, stream: trio.SocketStream, conn: h11.Connection, client: tuple[str, int]
    ) -> HttpRequest | None:
        """The next complete request, or None when the client left or idled past the timeout."""
        start: h11.Request | None = None
        body = bytearray()
        with trio.move_on_after(self._idle_timeout):
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if conn.they_are_waiting_for_100_continue:
                        await stream.send_all(
                            _h11_send(conn, h11.InformationalResponse(status_code=100, headers=[]))
                        )
                    conn.receive_data(await stream.receive_some(_RECEIVE_SIZE))
                elif isinstance(event, h11.Request):
                    start = event
                    declared = _content_length(event)
                    if declared is not None and declared > self._max_body_size:
                        raise _Malformed(
                            f"body of {declared} bytes over the {self._max_body_size} limit", 413
                        )
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > self._max_body_size:
                        raise _Malformed(f"body over the {self._max_body_size} byte limit", 413)
                elif isinstance(event, h11.EndOfMessage):
                    assert start is not None  # h11 guarantees Request before EndOfMessage
                    return _build_request(start, bytes(body), client)
                else:  # ConnectionClosed, or PAUSED (cannot happen: we answer before reading on)
                    return None
        logger.debug("closing idle connection from %s:%d", *client)
        return None

    async def _call_handler(self, request: HttpRequest) -> HandlerResult:
        try:
            return await self._handler(request)
        except Exception:
            self._handler_errors += 1
            logger.exception("handler failed on %s %s", request.method, request.path)
            return HttpResponse.json({"error": "internal server error"}, status=500)

    async def _reject(
        self,
        stream: trio.SocketStream,
        conn: h11.Connection,
        client: tuple[str, int],
        message: str,
        status: int,
    ) -> None:
        self._malformed += 1
        logger.warning("malformed request from %s:%d: %s (answering %d)", *client, message, status)
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            response = HttpResponse.json({"error": message}, status=status, headers=[("connection", "close")])
            await _send_response(stream, conn, response, head=False)
        await _linger_close(stream)


def _peer(stream: trio.SocketStream) -> tuple[str, int]:
    address = stream.socket.getpeername()
    return (str(address[0]), int(address[1]))


def _content_length(request: h11.Request) -> int | None:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)  # h11 has validated it as digits
    return None


def _build_request(start: h11.Request, body: bytes, client: tuple[str, int]) -> HttpRequest:
    try:
        target = start.target.decode("ascii")
        path, _, query = target.partition("?")
        params = parse_qsl(query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Malformed(f"undecodable request target: {exc}", 400) from exc
    return HttpRequest(
        method=start.method.decode("ascii"),
        path=path,
        query=query,
        params=tuple(params),
        headers=tuple((k.decode("ascii"), v.decode("latin-1")) for k, v in start.headers),
        body=body,
        client=client,
    )


async def _send_response(
    stream: trio.SocketStream, conn: h11.Connection, response: HttpResponse, *, head: bool
) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    if not any(k.lower() == b"content-length" for k, _ in headers):
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    try:
        reason = HTTPStatus(response.status).phrase.encode("ascii")
    except ValueError:
        reason = b""
    data = _h11_send(conn, h11.Response(status_code=response.status, headers=headers, reason=reason))
    if response.body and not head:
        data += _h11_send(conn, h11.Data(data=response.body))
    data += _h11_send(conn, h11.EndOfMessage())
    await stream.send_all(data)


def _h11_send(conn: h11.Connection, event: h11.Event) -> bytes:
    return conn.send(event) or b""  # None only for ConnectionClosed, which we never send


async def _linger_close(stream: trio.SocketStream) -> None:
    """Half-close, then read until the client's FIN (bounded), so the answer is not lost to a RST."""
    with trio.move_on_after(_LINGER):
        try:
            await stream.send_eof()
            await _discard_until_eof(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def _discard_until_eof(stream: trio.SocketStream) -> None:
    while await stream.receive_some(_RECEIVE_SIZE):
        pass
