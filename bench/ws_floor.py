"""The machine's WebSocket floor: plain trio-websocket from one process to another, nothing of ours.

Run as a script it is the sending side: it serves one WebSocket on a free loopback port (printed on the
first line), and to the first client sends ``--rate`` small JSON frames a second for ``--seconds``, each
stamped with ``time.time_ns()``, paced like the simulator's pump (every millisecond tick sends what is due).
:func:`measure_floor` is the receiving side: one task reading with ``trio_websocket`` and stamping each
frame. The difference between this and the simulator-to-strategy latency is what our stack adds.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    trio.run(_serve, args.rate, args.seconds)


if __name__ == "__main__":
    main()
