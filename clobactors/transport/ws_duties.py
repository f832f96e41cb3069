"""The background duties of an open WebSocket: the keeper, the idle watch and the heartbeat.

Part of :mod:`clobactors.transport.ws` (whose docstring has the overview). These tasks run beside the consumer
for the life of a :class:`~clobactors.transport.ws_connection.WsConnection`, under its one cancel scope, and
work on its state: they are functions of the connection, not a second object, so that the per-frame path in
:mod:`clobactors.transport.ws_connection` pays nothing for them. None of them runs per frame: the keeper sleeps
while the consumer keeps up (it is woken by the consumer's first exit from ``receive`` after it parked, then
sleeps ``_KEEP_AFTER``: one wake-up per ``_KEEP_AFTER`` at most, none while the connection is quiet), the idle
watch sleeps once per quiet period, the heartbeat once per ping. Polling instead would wake every connection
20 times a second for nothing, and a day of virtual time in a test 1.7 million times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio
from wsproto.events import Ping

from clobactors.errors import ConnectionLost, TransportError, TransportTimeout

if TYPE_CHECKING:
    from clobactors.transport.ws_connection import WsConnection

__all__ = ["run_duties"]

#: How long the consumer may stay away from ``receive`` before the keeper task reads for it. Short against any
#: pong timeout; long against the time a consumer spends on one frame, so the keeper stays asleep while the
#: consumer keeps up.
_KEEP_AFTER: Final = 0.05


async def run_duties(ws: WsConnection) -> None:
    """Keeper, idle watch and heartbeat under one cancel scope; the first failure cancels them all."""
    try:
        with ws._tasks:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_keeper, ws)
                if ws._idle_timeout is not None:
                    nursery.start_soon(_idle_watch, ws, ws._idle_timeout)
                if ws._ping_interval is not None:
                    nursery.start_soon(_heartbeat, ws, ws._ping_interval)
    finally:
        ws._tasks_done.set()


async def _keeper(ws: WsConnection) -> None:
    """Read for the consumer while it stays away (pongs, close frames, overflow detection)."""
    while ws._failure is None:
        if ws._consumer_in or ws._reading:
            ws._keeper_wait = trio.Event()
            await ws._keeper_wait.wait()
            continue
        due = ws._left_at + _KEEP_AFTER
        if trio.current_time() < due:
            await trio.sleep_until(due)
            continue
        while not ws._consumer_in and ws._failure is None:
            await ws._read(consumer=False)


async def _idle_watch(ws: WsConnection, quiet: float) -> None:
    """Fail when nothing came for ``quiet`` s: one sleep per quiet period, nothing per frame."""
    while True:
        due = ws._last_heard_at + quiet
        if trio.current_time() >= due:
            ws._fail(TransportTimeout(f"nothing received for {quiet:g}s", ws._endpoint))
            return
        await trio.sleep_until(due)


async def _heartbeat(ws: WsConnection, interval: float) -> None:
    """Ping every ``interval`` s (drift-free); fail when a pong misses ``pong_timeout``."""
    deadline = trio.current_time()
    while True:
        deadline = max(deadline + interval, trio.current_time())
        await trio.sleep_until(deadline)
        ws._pings_sent += 1
        payload = b"cli" + ws._pings_sent.to_bytes(8, "big")
        answered = ws._pongs[payload] = trio.Event()
        try:
            await ws._send_event(Ping(payload=payload))
        except TransportError:
            return  # the next read reports it
        with trio.move_on_after(ws._pong_timeout):
            await answered.wait()
            ws._pongs_received += 1
            continue
        ws._pongs.pop(payload, None)
        ws._fail(ConnectionLost(f"no pong within {ws._pong_timeout:g}s", ws._endpoint))
        return
