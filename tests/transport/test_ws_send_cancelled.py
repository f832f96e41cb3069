"""A send cancelled part-way leaves a partial frame on the wire: the connection is failed, never written on again."""

from __future__ import annotations

import base64
import functools
import hashlib

import pytest
import trio
import trio.testing

from clobactors.errors import ConnectionLost
from clobactors.transport.ws import open_ws


async def test_a_send_cancelled_part_way_fails_the_connection(autojump_clock: trio.testing.MockClock) -> None:
    accepted = trio.Event()

    async def never_reads(stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive_some(4096)
        lines = request.split(b"\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in lines if line.lower().startswith(b"sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        await stream.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        accepted.set()
        await trio.sleep_forever()  # never reads again: the client's writes back up

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(functools.partial(trio.serve_tcp, never_reads, 0, host="127.0.0.1"))
        assert isinstance(listener, trio.SocketListener)
        port = listener.socket.getsockname()[1]
        async with open_ws(f"ws://127.0.0.1:{port}/") as ws:
            await accepted.wait()
            with trio.move_on_after(1) as scope:
                await ws.send(b"x" * (64 << 20))  # far more than the kernel buffers hold
            assert scope.cancelled_caught
            assert isinstance(ws.failure, ConnectionLost)
            with pytest.raises(ConnectionLost):
                await ws.send("next")
        nursery.cancel_scope.cancel()
