"""The machine's WebSocket floors: trio-websocket, and blocking sockets, from one process to another.

Run as a script it is the sending side: it serves one WebSocket on a free loopback port (printed on the
first line), and to the first client sends ``--rate`` small JSON frames a second for ``--seconds``, each
stamped with ``time.time_ns()``, paced like the simulator's pump (every millisecond tick sends what is due).
:func:`measure_floor` is the receiving side: one task reading with ``trio_websocket`` and stamping each
frame. The difference between this and the simulator-to-strategy latency is what our stack adds.

``--raw`` (and :func:`measure_raw_floor`) is the machine's own floor: the same frames (WebSocket framing
written by hand, no handshake) over plain blocking sockets, one ``sendall`` a frame, the receiver blocked in
``recv`` and stamping as it returns. No event loop on either side: what is left is the kernel, the process
wake-ups and the pacing, which is what the machine allows before any library.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import msgspec
import trio
import trio_websocket

SCRIPT: Final = Path(__file__).resolve()
_PAD: Final = "x" * 120  # about the size of a book-ticker frame


class _Stamp(msgspec.Struct):
    t: int


async def _serve(rate: float, seconds: float) -> None:
    done = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        interval = 1.0 / rate
        sent, start = 0, trio.current_time()
        end = start + seconds
        while (now := trio.current_time()) < end:
            due = int((now - start) / interval) + 1 - sent
            for _ in range(max(0, due)):
                await ws.send_message(b'{"t":%d,"pad":"%s"}' % (time.time_ns(), _PAD.encode()))
                sent += 1
            await trio.sleep_until(start + sent * interval)
        await ws.aclose()
        done.set()

    async with trio.open_nursery() as nursery:
        serve = trio_websocket.serve_websocket
        listeners = await nursery.start(
            lambda task_status: serve(handler, "127.0.0.1", 0, None, task_status=task_status)
        )
        print(listeners.port, flush=True)
        with trio.move_on_after(seconds + 30):
            await done.wait()
        nursery.cancel_scope.cancel()


async def measure_floor(rate: float, seconds: float) -> list[int]:
    """Latencies (ns) of the frames a floor server process sends at ``rate`` for ``seconds``."""
    command = [sys.executable, str(SCRIPT), "--rate", str(rate), "--seconds", str(seconds)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    latencies: list[int] = []
    decode = msgspec.json.Decoder(_Stamp).decode
    try:
        assert process.stdout is not None
        port_text = b""
        while not port_text.endswith(b"\n"):
            chunk = await process.stdout.receive_some(64)
            if not chunk:
                raise RuntimeError("floor server ended before printing its port")
            port_text += chunk
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{int(port_text)}/") as ws:
            while True:
                try:
                    message = await ws.get_message()
                except trio_websocket.ConnectionClosed:
                    break
                latencies.append(time.time_ns() - decode(message).t)
    finally:
        with trio.move_on_after(5) as waiting:
            waiting.shield = True
            await process.wait()
        if process.returncode is None:
            process.kill()
    return latencies


def _frame(payload: bytes) -> bytes:
    """A server's text frame (unmasked); payloads here are under 64 KiB."""
    size = len(payload)
    return bytes((0x81, size)) + payload if size < 126 else bytes((0x81, 126)) + size.to_bytes(2, "big") + payload


def _serve_raw(rate: float, seconds: float) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        listener.settimeout(30)
        conn, _ = listener.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        interval = 1.0 / rate
        sent, start = 0, time.monotonic()
        end = start + seconds
        pad = _PAD.encode()
        while (now := time.monotonic()) < end:
            due = int((now - start) / interval) + 1 - sent
            for _ in range(max(0, due)):
                conn.sendall(_frame(b'{"t":%d,"pad":"%s"}' % (time.time_ns(), pad)))
                sent += 1
            pause = start + sent * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def measure_raw_floor(rate: float, seconds: float) -> list[int]:
    """Latencies (ns) of the frames a ``--raw`` floor server sends at ``rate`` for ``seconds`` (blocking)."""
    command = [sys.executable, str(SCRIPT), "--raw", "--rate", str(rate), "--seconds", str(seconds)]
    latencies: list[int] = []
    decode = msgspec.json.Decoder(_Stamp).decode
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffer = b""
            while chunk := sock.recv(65536):
                now = time.time_ns()
                buffer += chunk
                while len(buffer) >= 2:
                    size, head = buffer[1] & 0x7F, 2
                    if size == 126:
                        size, head = int.from_bytes(buffer[2:4], "big"), 4
                    if len(buffer) < head + size:
                        break
                    latencies.append(now - decode(buffer[head : head + size]).t)
                    buffer = buffer[head + size :]
        process.wait(30)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--raw", action="store_true", help="blocking sockets, no event loop (the machine's floor)")
    args = parser.parse_args()
    if args.raw:
        _serve_raw(args.rate, args.seconds)
    else:
        trio.run(_serve, args.rate, args.seconds)


if __name__ == "__main__":
    main()
