"""The simulator's WebSocket server over real loopback sockets, under the autojump clock.

The client side is our own ``open_ws`` where it behaves; where a test needs a misbehaving peer (one that
never answers pings) it is a raw wsproto client over a trio TCP stream.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import wsproto
import wsproto.events

from clobactors.errors import ConnectionLost
from clobactors.sim.ws_server import ServerWsConnection, WsHeartbeat, WsServer
from clobactors.transport.ws import open_ws


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
async def serving(server: WsServer) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        yield f"ws://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


async def echo(conn: ServerWsConnection) -> None:
    while True:
        await conn.send(await conn.receive())


@deadline(30)
async def test_request_details_and_counting(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[ServerWsConnection] = []

    async def handler(conn: ServerWsConnection) -> None:
        seen.append(conn)
        await echo(conn)

    server = WsServer(handler)
    async with serving(server) as url:
        async with open_ws(f"{url}/ws/btcusdt@depth?x=1&x=2&e=", extra_headers=[("X-MBX-APIKEY", "k")]) as ws:
            await ws.send("ping?")
            assert (await ws.receive()).data == "ping?"
            await trio.testing.wait_all_tasks_blocked()  # the echo may arrive before its sender counted it
            stats = server.statistics()
            assert (stats.connections_open, stats.messages_received, stats.messages_sent) == (1, 1, 1)
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().connections_open == 0
    (conn,) = seen
    assert (conn.path, conn.query) == ("/ws/btcusdt@depth", "x=1&x=2&e=")
    assert conn.params == (("x", "1"), ("x", "2"), ("e", ""))
    assert ("x-mbx-apikey", "k") in conn.headers
    assert conn.client[0] == "127.0.0.1"
    assert conn.close_reason == (1000, "")
    assert server.statistics().connections_accepted == 1


@deadline(200)
async def test_server_heartbeat_keeps_a_live_client(autojump_clock: trio.testing.MockClock) -> None:
    server = WsServer(echo, heartbeat=WsHeartbeat(interval=20, pong_timeout=60))
    async with serving(server) as url, open_ws(url) as ws:
        await trio.sleep(150)
        await ws.send("still here")
        assert (await ws.receive()).data == "still here"
    assert server.statistics().pong_timeouts == 0


@deadline(200)
async def test_server_heartbeat_aborts_a_silent_client_at_exact_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ended: list[float] = []

    async def handler(conn: ServerWsConnection) -> None:
        try:
            await conn.receive()
        except ConnectionLost:
            ended.append(trio.current_time())
            raise

    server = WsServer(handler, heartbeat=WsHeartbeat(interval=20, pong_timeout=50))
    async with serving(server) as url:
        port = int(url.rsplit(":", 1)[1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            await stream.send_all(client.send(wsproto.events.Request(host="127.0.0.1", target="/ws")))
            client.receive_data(await stream.receive_some(4096))
            assert isinstance(next(client.events()), wsproto.events.AcceptConnection)
            accepted_at = trio.current_time()
            # Read but never answer: the pings arrive, no pong goes back.
            pings = 0
            with pytest.raises(trio.BrokenResourceError):  # noqa: PT012 - reset by the server's abort
                while data := await stream.receive_some(4096):
                    client.receive_data(data)
                    pings += sum(isinstance(e, wsproto.events.Ping) for e in client.events())
        await trio.testing.wait_all_tasks_blocked()
    assert pings == 2  # at 20 and 40 s
    assert ended == [accepted_at + 50]
    stats = server.statistics()
    assert (stats.pong_timeouts, stats.aborted) == (1, 1)


@deadline(30)
async def test_oversize_client_message_closes_with_1009(autojump_clock: trio.testing.MockClock) -> None:
    reasons: list[tuple[int, str] | None] = []

    async def handler(conn: ServerWsConnection) -> None:
        try:
            await conn.receive()
        finally:
            reasons.append(conn.close_reason)

    async with serving(WsServer(handler, max_message_size=16)) as url, open_ws(url) as ws:
        await ws.send("y" * 17)
        with pytest.raises(ConnectionLost, match="1009"):
            await ws.receive()
    assert reasons and reasons[0] is not None and reasons[0][0] == 1009


@deadline(30)
async def test_handler_exception_is_logged_and_closes_1011(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(conn: ServerWsConnection) -> None:
        await conn.accept()
        raise ValueError("face bug")

    server = WsServer(broken)
    async with serving(server) as url:
        with caplog.at_level(logging.ERROR, logger="clobactors.sim.ws_server"):
            async with open_ws(url) as ws:
                with pytest.raises(ConnectionLost, match="1011"):
                    await ws.receive()
            async with open_ws(url) as ws:  # the server survived
                with pytest.raises(ConnectionLost, match="1011"):
                    await ws.receive()
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().handler_errors == 2
    assert any("handler failed" in r.getMessage() for r in caplog.records)


@deadline(30)
async def test_handler_returning_without_accepting_is_404(autojump_clock: trio.testing.MockClock) -> None:
    async def not_interested(conn: ServerWsConnection) -> None:
        return

    from clobactors.errors import ConnectFailed

    async with serving(WsServer(not_interested)) as url:
        with pytest.raises(ConnectFailed, match="HTTP 404"):
            async with open_ws(url):
                pass  # pragma: no cover


@deadline(30)
async def test_shutdown_closes_clients_with_1001(autojump_clock: trio.testing.MockClock) -> None:
    server = WsServer(echo)
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        async with open_ws(f"ws://127.0.0.1:{port}/ws") as ws:
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
            with pytest.raises(ConnectionLost, match="1001"):
                await ws.receive()
    assert server.statistics().connections_open == 0


@deadline(60)
async def test_silent_tcp_client_times_out_in_handshake(autojump_clock: trio.testing.MockClock) -> None:
    server = WsServer(echo, handshake_timeout=3)
    async with serving(server) as url:
        stream = await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1]))
        async with stream:
            assert await stream.receive_some(100) == b""
            assert trio.current_time() == 3
    assert server.statistics().connections_open == 0


@deadline(30)
async def test_server_ping_waits_for_pong(autojump_clock: trio.testing.MockClock) -> None:
    pinged: list[float] = []

    async def pinger(conn: ServerWsConnection) -> None:
        await conn.ping()
        pinged.append(trio.current_time())
        await conn.send("done")

    async with serving(WsServer(pinger)) as url, open_ws(url) as ws:
        assert (await ws.receive()).data == "done"
    assert pinged == [0.0]
