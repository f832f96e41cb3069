"""The client's own frame parsing (``WsConnection._ingest``) against a hand-written server on loopback.

The server here writes raw bytes, so frames can arrive with the handshake answer, split at every byte, many
in one read, fragmented, interleaved with pings, or malformed; the client must deliver exactly the messages
wsproto would, answer pings, and fail with the right close code. Plus a property test: any split of a
stream of server frames gives the same messages as wsproto's own parser.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Message, Request, TextMessage

from clobactors.errors import ConnectionLost, TransportTimeout
from clobactors.sim.ws_protocol import frame_message
from clobactors.transport.ws import WsConnection, open_ws

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


async def _accept(stream: trio.SocketStream) -> bytes:
    """Read the upgrade request; the 101 answer (bytes, not yet sent)."""
    request = b""
    while b"\r\n\r\n" not in request:
        request += await stream.receive_some(4096)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + (
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


Script = Callable[[trio.SocketStream, bytes], Awaitable[None]]


@asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[str]:
    async def handler(stream: trio.SocketStream) -> None:
        await script(stream, await _accept(stream))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        nursery.cancel_scope.cancel()


async def _messages(ws: WsConnection) -> list[str | bytes]:
    out: list[str | bytes] = []
    while True:
        try:
            out.append((await ws.receive()).data)
        except ConnectionLost:
            return out


async def test_frames_with_handshake_split_fragmented_and_pings(autojump_clock: trio.testing.MockClock) -> None:
    big = "x" * 70_000
    stream_bytes = b"".join(
        (
            _frame(1, b'{"a":1}'),
            _frame(2, b"\x00\xff"),
            _frame(1, b"frag-", fin=False),
            _frame(9, b"ping-1"),  # a ping between fragments
            _frame(0, b"ment", fin=False),
            _frame(0, b"ed"),
            _frame(1, ("é" * 200).encode()),
            _frame(1, big.encode()),
            _frame(1, b""),
            _frame(8, (1000).to_bytes(2, "big") + b"bye"),
        )
    )
    pongs: list[bytes] = []

    async def script(stream: trio.SocketStream, answer: bytes) -> None:
        await stream.send_all(answer + stream_bytes[:5])  # the first frame starts with the handshake answer
        for i in range(5, 200):  # then a byte at a time, then the rest in one write
            await stream.send_all(stream_bytes[i : i + 1])
            await trio.sleep(0.001)
        await stream.send_all(stream_bytes[200:])
        pongs.append(await stream.receive_some(4096))

    async with raw_server(script) as url, open_ws(url, max_message_size=100_000) as ws:
        got = await _messages(ws)
        assert "1000" in str(ws.failure)
    assert got == ['{"a":1}', b"\x00\xff", "frag-mented", "é" * 200, big, ""]
    assert pongs and pongs[0][0] == 0x8A  # the ping was answered (a masked pong from the client)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (_frame(1, b"\xff\xfe"), "1007"),  # bad UTF-8 goes to wsproto, which closes with 1007
        (bytes((0x81, 127)) + (1 << 40).to_bytes(8, "big"), "1009"),  # declared too big: no buffering
        (bytes((0xC1, 1)) + b"a", "1002"),  # a reserved bit without an extension
    ],
)
async def test_bad_frames_fail_with_their_close_code(
    autojump_clock: trio.testing.MockClock, frame: bytes, code: str
) -> None:
    async def script(stream: trio.SocketStream, answer: bytes) -> None:
        await stream.send_all(answer + _frame(1, b"ok") + frame)

    async with raw_server(script) as url, open_ws(url, max_message_size=1000) as ws:
        assert await _messages(ws) == ["ok"]
        assert code in str(ws.failure)


def _wsproto_messages(data: bytes) -> list[str | bytes]:
    """What wsproto's own parser makes of server frames (the reference)."""
    server, client = WSConnection(ConnectionType.SERVER), WSConnection(ConnectionType.CLIENT)
    server.receive_data(client.send(Request(host="h", target="/")))
    list(server.events())
    client.receive_data(server.send(AcceptConnection()))
    list(client.events())
    client.receive_data(data)
    out: list[str | bytes] = []
    parts: list[str | bytes] = []
    for event in client.events():
        if isinstance(event, Message):
            parts.append(event.data if isinstance(event, TextMessage) else bytes(event.data))
            if event.message_finished:
                out.append("".join(p for p in parts if isinstance(p, str)) if isinstance(event, TextMessage) else
                           b"".join(p for p in parts if isinstance(p, bytes)))  # fmt: skip
                parts = []
    return out


_message = st.one_of(st.text(max_size=300), st.binary(max_size=300))


@settings(max_examples=60, deadline=None)
@given(messages=st.lists(_message, max_size=8), cuts=st.lists(st.integers(0, 4000), max_size=6))
def test_any_split_gives_wsproto_messages(messages: list[str | bytes], cuts: list[int]) -> None:
    data = b"".join(frame_message(m) for m in messages)
    assert _wsproto_messages(data) == messages  # the simulator's framing is what wsproto reads
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]

    async def script(stream: trio.SocketStream, answer: bytes) -> None:
        await stream.send_all(answer)
        for chunk in chunks:
            await stream.send_all(chunk)
            await trio.sleep(0.01)
        await stream.send_all(_frame(8, (1000).to_bytes(2, "big")))

    async def main() -> list[str | bytes]:
        async with raw_server(script) as url, open_ws(url) as ws:
            return await _messages(ws)

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == messages


def test_frame_message_matches_wsproto() -> None:
    server, client = WSConnection(ConnectionType.SERVER), WSConnection(ConnectionType.CLIENT)
    server.receive_data(client.send(Request(host="h", target="/")))
    list(server.events())
    server.send(AcceptConnection())
    for message in ("", "a" * 125, "b" * 126, "c" * 65535, "d" * 65536, b"", b"\x00" * 200):
        event = TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)
        assert frame_message(message) == server.send(event)


async def test_whoever_a_frame_woke_runs_before_the_next_read(autojump_clock: trio.testing.MockClock) -> None:
    """After handing out a frame, ``receive`` lets the tasks it woke run before it reads the socket again."""
    order: list[str] = []

    async def script(stream: trio.SocketStream, answer: bytes) -> None:
        await stream.send_all(answer + _frame(1, b"one"))
        await trio.sleep(1)
        await stream.send_all(_frame(1, b"two"))

    async with raw_server(script) as url, open_ws(url) as ws:
        woken = trio.Event()

        async def strategy() -> None:
            await woken.wait()
            order.append("strategy")

        receive_some = ws._stream.receive_some

        async def reading(max_bytes: int | None = None) -> bytes | bytearray:
            order.append("read")
            return await receive_some(max_bytes)

        ws._stream.receive_some = reading  # type: ignore[method-assign]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(strategy)
            assert (await ws.receive()).data == "one"
            await trio.testing.wait_all_tasks_blocked()  # the strategy is parked, as on the bus
            order.clear()
            woken.set()  # as the bus would, publishing what the frame said
            assert (await ws.receive()).data == "two"
        assert order[:2] == ["strategy", "read"]


async def test_a_failure_wakes_the_consumers_pending_read(autojump_clock: trio.testing.MockClock) -> None:
    """The consumer's read has no cancel scope of its own: an idle timeout (another task) must still end it."""

    async def script(stream: trio.SocketStream, answer: bytes) -> None:
        await stream.send_all(answer)  # then silence

    async with raw_server(script) as url, open_ws(url, idle_timeout=5.0) as ws:
        start = trio.current_time()
        with trio.fail_after(60), pytest.raises(TransportTimeout):
            await ws.receive()
        assert trio.current_time() - start == pytest.approx(5.0)
        assert ws._socket is not None  # the scope-free path was the one taken
