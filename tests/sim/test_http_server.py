"""The simulator's h11 server over real loopback sockets, under the autojump clock.

Raw TCP clients (parsed with an h11 client connection) probe what httpx would hide: malformed requests,
chunked bodies, pipelined keep-alive, idle closes. httpx checks the normal path end to end.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import h11
import httpx
import pytest
import trio
import trio.testing

from clobactors.errors import ConnectionLost, TransportTimeout
from clobactors.httpspec import HttpRequestSpec
from clobactors.sim.http_server import (
    DropConnection,
    HalfOpen,
    HandlerResult,
    HttpRequest,
    HttpResponse,
    HttpServer,
)
from clobactors.transport.http import HttpTimeouts, HttpTransport


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def deadline(seconds: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Fail the test if it takes more than ``seconds`` on the trio clock."""

    def decorate(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def wrapper(*args: object, **kwargs: object) -> None:
            with trio.fail_after(seconds):
                await fn(*args, **kwargs)

        return wrapper

    return decorate


@asynccontextmanager
async def serving(server: HttpServer) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        yield port
        nursery.cancel_scope.cancel()


async def echo(request: HttpRequest) -> HandlerResult:
    return HttpResponse.json(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "params": [list(p) for p in request.params],
            "body": request.body.decode(),
            "ct": request.header("Content-Type"),
        }
    )


async def read_responses(stream: trio.SocketStream, count: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Read ``count`` responses with an h11 client; also report whether the server then closed."""
    client = h11.Connection(h11.CLIENT)
    # h11 insists on a request before a response: tell it about the ones we sent.
    out: list[tuple[int, bytes]] = []
    status, body = 0, b""
    client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    client.send(h11.EndOfMessage())
    while len(out) < count:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Response):
            status, body = event.status_code, b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            out.append((status, body))
            if len(out) < count:
                client.start_next_cycle()
                client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
                client.send(h11.EndOfMessage())
        else:
            raise AssertionError(f"unexpected {event!r}")
    closed = await stream.receive_some(65536) == b"" if client.our_state is h11.MUST_CLOSE else False
    return out, closed


@deadline(30)
async def test_get_and_post_with_query_and_body(autojump_clock: trio.testing.MockClock) -> None:
    server = HttpServer(echo)
    async with serving(server) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        got = (await client.get("/api/v3/order?symbol=BTC&x=1&x=&y=a%20b")).json()
        posted = (await client.post("/api/v3/order", content=b"symbol=BTC&side=BUY")).json()
    assert got == {
        "method": "GET",
        "path": "/api/v3/order",
        "query": "symbol=BTC&x=1&x=&y=a%20b",
        "params": [["symbol", "BTC"], ["x", "1"], ["x", ""], ["y", "a b"]],
        "body": "",
        "ct": None,
    }
    assert (posted["method"], posted["body"], posted["query"]) == ("POST", "symbol=BTC&side=BUY", "")
    stats = server.statistics()
    assert (stats.requests, stats.connections_accepted, stats.errors) == (2, 1, 0)


@deadline(30)
async def test_keep_alive_pipelined_and_chunked(autojump_clock: trio.testing.MockClock) -> None:
    server = HttpServer(echo)
    async with serving(server) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(
                b"GET /a?k=v HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            responses, closed = await read_responses(stream, 3)
    assert [status for status, _ in responses] == [200, 200, 200]
    assert b'"path":"/a"' in responses[0][1]
    assert b'"body":"abcde"' in responses[1][1]
    assert b'"path":"/c"' in responses[2][1]
    assert closed
    assert server.statistics().connections_accepted == 1


@deadline(30)
async def test_malformed_request_gets_400_and_server_lives(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = HttpServer(echo)
    async with serving(server) as port:
        with caplog.at_level(logging.WARNING, logger="clobactors.sim.http_server"):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(b"THIS IS NOT HTTP\r\n\r\n")
                responses, closed = await read_responses(stream, 1)
        assert responses[0][0] == 400
        assert closed
        assert any("malformed request" in r.getMessage() for r in caplog.records)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/still/alive")).status_code == 200
    assert server.statistics().malformed == 1


@deadline(30)
async def test_oversized_body_gets_413(autojump_clock: trio.testing.MockClock) -> None:
    server = HttpServer(echo, max_body_size=10)
    async with serving(server) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
            responses, _ = await read_responses(stream, 1)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:  # chunked: the limit is only known while reading
            await stream.send_all(
                b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n"
            )
            await stream.send_all(b"5\r\nworld\r\n0\r\n\r\n")
            responses += (await read_responses(stream, 1))[0]
    assert [status for status, _ in responses] == [413, 413]


@deadline(30)
async def test_handler_exception_is_500_json(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: HttpRequest) -> HandlerResult:
        raise ValueError("face bug")

    server = HttpServer(broken)
    async with serving(server) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        with caplog.at_level(logging.ERROR, logger="clobactors.sim.http_server"):
            response = await client.get("/x")
            again = await client.get("/y")  # same connection still usable
    assert (response.status_code, response.json()) == (500, {"error": "internal server error"})
    assert again.status_code == 500
    assert any("handler failed" in r.getMessage() for r in caplog.records)
    assert server.statistics().handler_errors == 2


@deadline(30)
async def test_drop_connection_reaches_the_client_as_connection_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def lose_first(request: HttpRequest) -> HandlerResult:
        nonlocal calls
        calls += 1
        return DropConnection() if calls == 1 else HttpResponse(204)

    server = HttpServer(lose_first)
    async with serving(server) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(ConnectionLost):
            await http.request(HttpRequestSpec(method="POST", path="/order"))
        assert (await http.request(HttpRequestSpec(method="POST", path="/order"))).status == 204
    assert server.statistics().dropped == 1


@deadline(30)
async def test_half_open_with_client_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async def silent(request: HttpRequest) -> HandlerResult:
        return HalfOpen()

    server = HttpServer(silent)
    async with serving(server) as port:
        async with HttpTransport.from_url(f"http://127.0.0.1:{port}", timeouts=HttpTimeouts(read=3)) as http:
            start = trio.current_time()
            with pytest.raises(TransportTimeout):
                await http.request(HttpRequestSpec(method="GET", path="/x"))
            assert trio.current_time() - start == 3
        await trio.testing.wait_all_tasks_blocked()
        stats = server.statistics()
        assert (stats.half_open, stats.connections_open) == (1, 0)  # freed once the client left


@deadline(30)
async def test_delay_is_the_handlers_sleep(autojump_clock: trio.testing.MockClock) -> None:
    async def slow(request: HttpRequest) -> HandlerResult:
        await trio.sleep(0.25)
        return HttpResponse(200, body=b"late")

    async with serving(HttpServer(slow)) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        result = await http.request(HttpRequestSpec(method="GET", path="/x"))
    assert (result.body, result.elapsed) == (b"late", 0.25)


@deadline(300)
async def test_idle_connection_closed_at_exact_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(HttpServer(echo, idle_timeout=42.0)) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            start = trio.current_time()
            assert await stream.receive_some(100) == b""
            assert trio.current_time() - start == 42.0


@deadline(30)
async def test_head_has_no_body_and_unknown_status_has_no_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def handler(request: HttpRequest) -> HandlerResult:
        return HttpResponse(299 if request.method == "GET" else 200, body=b"abc")

    async with (
        serving(HttpServer(handler)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c,
    ):
        head = await c.head("/x")
        get = await c.get("/x")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "3")
    assert (get.status_code, get.content, get.reason_phrase) == (299, b"abc", "")


@deadline(30)
async def test_shutdown_closes_listener_and_connections(autojump_clock: trio.testing.MockClock) -> None:
    server = HttpServer(echo)
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().connections_open == 1
        nursery.cancel_scope.cancel()
    async with stream:
        assert await stream.receive_some(100) == b""
    with pytest.raises(OSError, match=r"Connection refused|all attempts to connect"):
        await trio.open_tcp_stream("127.0.0.1", port)
    assert server.statistics().connections_open == 0
