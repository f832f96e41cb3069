"""Client WebSocket wrapper against the simulator's WebSocket server over loopback, under the autojump clock.

Every failure mode a book feed must survive is driven from the server side: clean close, abrupt reset,
silence (idle deadline), a peer that stops answering pings, oversize messages, a slow consumer, a refused
handshake. Each test asserts the typed error and, where time matters, the exact virtual time.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import wsproto.frame_protocol as fp

from clobactors.errors import ConfigError, ConnectFailed, ConnectionLost, TransportTimeout
from clobactors.sim.ws_server import ServerWsConnection, WsHandler, WsServer
from clobactors.transport.ws import WsConnection, open_ws


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
async def serving(handler: WsHandler, **kwargs: object) -> AsyncIterator[tuple[WsServer, str]]:
    server = WsServer(handler, **kwargs)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        yield server, f"ws://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


async def echo(conn: ServerWsConnection) -> None:
    while True:
        await conn.send(await conn.receive())


async def drain(ws: WsConnection) -> list[str | bytes]:
    """Frames until the connection reports its end (which must be a transport error)."""
    out: list[str | bytes] = []
    while True:
        try:
            frame = await ws.receive()
        except ConnectionLost:
            return out
        out.append(frame.data)


@deadline(30)
async def test_echo_text_and_bytes_with_timestamps(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(echo) as (_, url), open_ws(f"{url}/ws") as ws:
        await trio.sleep(3)
        await ws.send('{"method":"SUBSCRIBE"}')
        await ws.send(b"\x00\x01")
        first = await ws.receive()
        second = await ws.receive()
        stats = ws.statistics()
    assert (first.data, second.data) == ('{"method":"SUBSCRIBE"}', b"\x00\x01")
    assert first.received_at == 3.0
    assert first.received_ns > 0
    assert (stats.frames_sent, stats.frames_received, stats.failure) == (2, 2, None)


@deadline(30)
async def test_clean_server_close_delivers_frames_then_connection_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def say_two_and_leave(conn: ServerWsConnection) -> None:
        await conn.send("a")
        await conn.send("b")
        await conn.close(1000, "bye")

    async with serving(say_two_and_leave) as (_, url), open_ws(url) as ws:
        assert await drain(ws) == ["a", "b"]
        assert ws.failure is not None
        assert "1000" in str(ws.failure)
        with pytest.raises(ConnectionLost):  # every later call says the same
            await ws.send("x")


@deadline(30)
async def test_abort_is_connection_lost(autojump_clock: trio.testing.MockClock) -> None:
    async def abort_after_one(conn: ServerWsConnection) -> None:
        await conn.send("only")
        await trio.sleep(1)
        await conn.abort()

    async with serving(abort_after_one) as (server, url), open_ws(url) as ws:
        assert await drain(ws) == ["only"]
        assert trio.current_time() == 1.0
        assert "1006" in str(ws.failure)  # abnormal closure: no close frame was seen
    assert server.statistics().aborted == 1


@deadline(100)
async def test_idle_deadline_fires_at_exact_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    async def quiet_after_one(conn: ServerWsConnection) -> None:
        await conn.accept()
        await trio.sleep(2)
        await conn.send("tick")
        await trio.sleep_forever()

    async with serving(quiet_after_one) as (_, url), open_ws(url, idle_timeout=7.5) as ws:
        start = trio.current_time()
        assert (await ws.receive()).data == "tick"
        with pytest.raises(TransportTimeout):
            await ws.receive()
        assert trio.current_time() - start == 2 + 7.5


@deadline(100)
async def test_server_pings_keep_a_quiet_connection_alive(autojump_clock: trio.testing.MockClock) -> None:
    """A quiet market on a live connection is not idle: the exchange's pings count (Binance pings every 20 s)."""

    async def pings_then_silence(conn: ServerWsConnection) -> None:
        await conn.accept()
        for _ in range(5):
            await trio.sleep(4)
            with trio.move_on_after(0.5):  # the pong comes back at once; a ping without one is still a ping
                await conn.ping(b"hb")
        await trio.sleep_forever()

    async with serving(pings_then_silence) as (_, url), open_ws(url, idle_timeout=7.5) as ws:
        start = trio.current_time()
        with pytest.raises(TransportTimeout):
            await ws.receive()
        assert trio.current_time() - start == 5 * 4 + 7.5  # the last ping, then 7.5 s of nothing at all


@deadline(100)
async def test_client_pings_are_answered(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(echo) as (_, url), open_ws(url, ping_interval=5, pong_timeout=2) as ws:
        await trio.sleep(16)
        stats = ws.statistics()
    assert (stats.pings_sent, stats.pongs_received, stats.failure) == (3, 3, None)


@deadline(100)
async def test_missing_pong_is_connection_lost_at_exact_time(autojump_clock: trio.testing.MockClock) -> None:
    # With a zero-size queue the server's reader blocks on the unread message and stops answering pings.
    async def never_reads(conn: ServerWsConnection) -> None:
        await conn.accept()
        await trio.sleep_forever()

    async with serving(never_reads, message_queue_size=0) as (_, url):
        async with open_ws(url, ping_interval=5, pong_timeout=2) as ws:
            await ws.send("wedge the server's reader")
            with pytest.raises(ConnectionLost, match="no pong within 2s"):
                await ws.receive()
            assert trio.current_time() == 5 + 2


@deadline(30)
async def test_slow_consumer_overflow_fails_after_buffered_frames(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def burst(conn: ServerWsConnection) -> None:
        for i in range(5):
            await conn.send(str(i))
        await trio.sleep_forever()

    async with serving(burst) as (_, url), open_ws(url, message_queue_size=2) as ws:
        await trio.sleep(1)  # the consumer is busy elsewhere
        assert ws.statistics().peak_buffer_used == 2
        assert await drain(ws) == ["0", "1"]
        assert "consumer too slow" in str(ws.failure)


@deadline(30)
async def test_oversize_message_closes_with_1009(autojump_clock: trio.testing.MockClock) -> None:
    async def big(conn: ServerWsConnection) -> None:
        await conn.send("x" * 100)
        await trio.sleep_forever()

    async with serving(big) as (_, url), open_ws(url, max_message_size=50) as ws:
        await drain(ws)
        assert "1009" in str(ws.failure)


@deadline(30)
async def test_rejected_handshake_is_connect_failed(autojump_clock: trio.testing.MockClock) -> None:
    async def unknown_stream(conn: ServerWsConnection) -> None:
        await conn.reject(404, b"no such stream")

    async with serving(unknown_stream) as (server, url):
        with pytest.raises(ConnectFailed, match="HTTP 404"):
            async with open_ws(f"{url}/ws/nope"):
                pass  # pragma: no cover
    assert server.statistics().handshakes_rejected == 1


@deadline(30)
async def test_refused_is_connect_failed(autojump_clock: trio.testing.MockClock) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    with pytest.raises(ConnectFailed):
        async with open_ws(f"ws://127.0.0.1:{port}/ws"):
            pass  # pragma: no cover


@deadline(60)
async def test_silent_server_handshake_times_out_at_connect_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with listeners[0]:  # accepts in the kernel backlog, never answers the handshake
        with pytest.raises(ConnectFailed, match="no connection within 4s"):
            async with open_ws(f"ws://127.0.0.1:{port}/ws", connect_timeout=4):
                pass  # pragma: no cover
        assert trio.current_time() == 4


@pytest.mark.parametrize("url", ["ws://stream.binance.com:9443/ws", "https://127.0.0.1/ws", "ws:///nohost"])
async def test_unsafe_or_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        async with open_ws(url):
            pass  # pragma: no cover


@deadline(30)
async def test_user_exception_comes_out_unwrapped(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(echo) as (_, url):
        with pytest.raises(KeyError) as info:
            async with open_ws(url):
                raise KeyError("mine")
    assert not isinstance(info.value.__context__, BaseExceptionGroup)


@deadline(30)
async def test_cancelled_caller_still_closes_cleanly(autojump_clock: trio.testing.MockClock) -> None:
    closes: list[tuple[int, str] | None] = []

    async def record_close(conn: ServerWsConnection) -> None:
        try:
            await conn.receive()
        except ConnectionLost:
            closes.append(conn.close_reason)
            raise

    async with serving(record_close) as (server, url):
        with trio.move_on_after(5) as scope:
            async with open_ws(url) as ws:
                await ws.receive()  # the server never sends: we are cancelled here
        assert scope.cancelled_caught
        await trio.testing.wait_all_tasks_blocked()
        assert closes == [(1000, "")]  # the close frame went out despite the cancellation
        assert server.statistics().connections_open == 0
    with pytest.raises(ConnectionLost, match="closed locally"):
        await ws.receive()


@deadline(30)
async def test_wall_clock_is_injected(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(echo) as (_, url), open_ws(url, wall_ns=lambda: 42) as ws:
        await ws.send("x")
        assert (await ws.receive()).received_ns == 42


@deadline(30)
async def test_keeper_reads_while_the_consumer_is_away(autojump_clock: trio.testing.MockClock) -> None:
    """Frames that arrive while the consumer is busy are buffered by the keeper and come out in order;
    once back, the consumer reads the socket itself again."""

    async def three_then_one(conn: ServerWsConnection) -> None:
        for i in range(3):
            await conn.send(str(i))
        await trio.sleep(5)
        await conn.send("3")
        await trio.sleep_forever()

    async with serving(three_then_one) as (_, url), open_ws(url, message_queue_size=4) as ws:
        await trio.sleep(1)
        away = ws.statistics()
        assert (away.current_buffer_used, away.keeper_reads >= 1) == (3, True)
        assert [(await ws.receive()).data for _ in range(3)] == ["0", "1", "2"]
        last = await ws.receive()
        assert (last.data, last.received_at) == ("3", 5.0)
        assert ws.statistics().keeper_reads == away.keeper_reads


@deadline(30)
async def test_fragmented_message_is_reassembled_and_bounded(autojump_clock: trio.testing.MockClock) -> None:
    """A message in several frames (wsproto on the server side) comes out whole; too big a sum is 1009."""
    async def fragments(conn: ServerWsConnection) -> None:
        await conn.accept()
        proto = fp.FrameProtocol(client=False, extensions=[])
        raw = proto.send_data("ab", fin=False) + proto.send_data("cd", fin=True) + proto.send_data("x" * 40, fin=False)
        raw += proto.send_data("y" * 40, fin=True)
        await conn._stream.send_all(raw)  # the server API sends whole messages only
        await trio.sleep_forever()

    async with serving(fragments) as (_, url), open_ws(url, max_message_size=64) as ws:
        assert await drain(ws) == ["abcd"]
        assert "1009" in str(ws.failure)
