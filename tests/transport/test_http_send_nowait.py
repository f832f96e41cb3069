"""The two-step REST send (``ready_nowait`` / ``send_nowait`` then ``PendingAnswer.receive``) of the h11 engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
import pytest
import trio
import trio.testing

from clobactors.errors import TransportTimeout
from clobactors.httpspec import HttpRequestSpec
from clobactors.sim.http_server import HandlerResult, HttpRequest, HttpResponse, HttpServer
from clobactors.transport.http import HttpTimeouts, HttpTransport
from tests.transport.test_http import BrokenWrites


@asynccontextmanager
async def serving(arrived: list[str]) -> AsyncIterator[int]:
    async def handler(request: HttpRequest) -> HandlerResult:
        arrived.append(request.path)
        return HttpResponse(200, body=request.path.encode())

    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(HttpServer(handler).serve)
        yield port
        nursery.cancel_scope.cancel()


async def test_send_nowait_writes_at_once_and_receives_later(autojump_clock: trio.testing.MockClock) -> None:
    arrived: list[str] = []
    async with serving(arrived) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        assert not http.ready_nowait()  # no kept-alive connection yet
        await http.request(HttpRequestSpec(method="GET", path="/warm"))
        assert http.ready_nowait()
        pending = await http.send_nowait(HttpRequestSpec(method="POST", path="/order", body=b"x=1"))
        assert not http.ready_nowait()  # the connection is busy until answered
        await trio.testing.wait_all_tasks_blocked()
        assert arrived == ["/warm", "/order"]  # on the wire before anyone waited for the answer
        result = await pending.receive()
        assert result.body == b"/order"
        assert http.ready_nowait()
        stats = http.statistics()
    assert (stats.requests, stats.connections, stats.reused, stats.failed, stats.bytes_sent) == (2, 1, 1, 0, 3)


async def test_a_dead_kept_alive_connection_is_resent_on_a_fresh_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    arrived: list[str] = []
    async with serving(arrived) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        await http.request(HttpRequestSpec(method="GET", path="/warm"))
        pool = http._h1
        assert pool is not None
        (conn,) = pool._idle
        conn.stream = BrokenWrites(conn.stream)
        pending = await http.send_nowait(HttpRequestSpec(method="POST", path="/order"))  # nothing left
        assert arrived == ["/warm"]
        assert (await pending.receive()).body == b"/order"
        stats = http.statistics()
    assert (stats.connections, stats.retried, stats.failed) == (2, 1, 0)


async def test_the_httpx_engine_never_sends_nowait() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with HttpTransport.from_url("http://127.0.0.1:9", transport=transport) as http:
        assert not http.ready_nowait()
        with pytest.raises(trio.WouldBlock):
            await http.send_nowait(HttpRequestSpec(method="GET", path="/x"))


async def test_a_write_on_a_full_kept_alive_socket_still_times_out(autojump_clock: trio.testing.MockClock) -> None:
    """A kept-alive connection is written without a timeout only when it polls writable with room; one whose
    peer stopped reading (send buffer full) keeps the write timeout: TransportTimeout, never a hang."""
    async def answer_once_then_stop_reading(stream: trio.SocketStream) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            received += await stream.receive_some(65536)
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        serve = partial(trio.serve_tcp, answer_once_then_stop_reading, 0, host="127.0.0.1")
        (listener,) = await nursery.start(serve)
        port = listener.socket.getsockname()[1]
        timeouts = HttpTimeouts(write=3.0, read=100.0)
        async with HttpTransport.from_url(f"http://127.0.0.1:{port}", timeouts=timeouts) as http:
            await http.request(HttpRequestSpec(method="GET", path="/warm"))
            (idle,) = http._h1._idle  # type: ignore[union-attr]  # the kept-alive connection, to clog it
            with trio.move_on_after(1):
                while True:
                    await idle.stream.send_all(b"x" * 65536)  # the peer reads nothing: fills both buffers
            start = trio.current_time()
            with trio.fail_after(10), pytest.raises(TransportTimeout):
                await http.request(HttpRequestSpec(method="GET", path="/small"))
            assert trio.current_time() - start == pytest.approx(3.0)
        nursery.cancel_scope.cancel()
