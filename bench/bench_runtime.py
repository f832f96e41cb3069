"""What the actor runtime itself costs, on the real clock in a trio run: the bus, ``ask``, a restart.

* **Bus, one at a time**: a market event published with ``publish_nowait`` reaches a subscriber parked in
  ``receive``; the latency is stamp-to-receipt (``perf_counter_ns`` in ``ts_recv``) and includes the task
  switch that every real delivery pays.
* **Bus, bursts**: 64 events published back to back, then drained: the per-message cost without switches.
* **Bus, fan-out**: one event to 10 prefix subscribers, each parked in ``receive``.
* **ask round trip**: ``ActorSystem.ask`` to an actor that answers at once (request envelope, reply
  channel, two task switches).
* **Supervisor restart**: a child raises; time until its next incarnation calls ``task_status.started()``
  (the exit report, the ``ActorRestarted`` event, a fresh inbox), with zero backoff.

Each repeat is its own ``trio.run``; figures are per-run percentiles, then median and spread over runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final

import trio
import trio.testing
from registry import Figure, Row, Settings, Table, benchmark, percentile

from clobactors.actors.actor import Context, Request, open_actor_system
from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.supervisor import ChildSpec, Supervisor
from clobactors.backoff import Backoff
from clobactors.messages import BestBidAsk

_TOPIC: Final = "market.binance.BTC-USDT"


def _event(stamp: int) -> BestBidAsk:
    return BestBidAsk(
        exchange="binance",
        instrument="BTC-USDT",
        ts_recv=stamp,
        bid_price=Decimal("27000.01"),
        bid_size=Decimal("1.5"),
        ask_price=Decimal("27000.02"),
        ask_size=Decimal("2"),
    )


async def _bus_single(n: int) -> list[int]:
    bus = Bus()
    latencies: list[int] = []
    async with bus.subscribe(_TOPIC) as sub, trio.open_nursery() as nursery:

        async def consume() -> None:
            async for event in sub:
                latencies.append(time.perf_counter_ns() - event.ts_recv)
                if len(latencies) == n:
                    return

        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(n):
            bus.publish_nowait(_event(time.perf_counter_ns()))
            await trio.testing.wait_all_tasks_blocked()  # the subscriber is parked again
    return latencies


async def _bus_burst(n: int, burst: int = 64) -> list[int]:
    bus = Bus(market_capacity=burst)
    per_message: list[int] = []
    events = [_event(0) for _ in range(burst)]
    async with bus.subscribe(_TOPIC) as sub:
        for _ in range(n // burst):
            start = time.perf_counter_ns()
            for event in events:
                bus.publish_nowait(event)
            for _ in range(burst):
                sub.receive_nowait()
            per_message.append((time.perf_counter_ns() - start) // burst)
    return per_message


async def _bus_fanout(n: int, subscribers: int = 10) -> list[int]:
    bus = Bus()
    latencies: list[int] = []
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        for index in range(subscribers):
            sub = bus.subscribe("market.binance", prefix=True, name=f"s{index}")
            nursery.start_soon(_fan_consumer, sub, latencies, n * subscribers, done)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(n):
            bus.publish_nowait(_event(time.perf_counter_ns()))
            await trio.testing.wait_all_tasks_blocked()
        await done.wait()
        bus.close()
    return latencies


async def _fan_consumer(sub: Subscription, latencies: list[int], total: int, done: trio.Event) -> None:
    async with sub:
        async for event in sub:
            latencies.append(time.perf_counter_ns() - event.ts_recv)
            if len(latencies) >= total:
                done.set()


class _Echo:
    """Answers every request with its payload."""

    name = "echo"

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for message in ctx.inbox:
            if isinstance(message, Request):
                message.reply(message.payload)


async def _ask(n: int) -> list[int]:
    latencies: list[int] = []
    async with open_actor_system() as system:
        await system.start(_Echo())
        for i in range(n):
            start = time.perf_counter_ns()
            await system.ask("echo", i)
            latencies.append(time.perf_counter_ns() - start)
    return latencies


class _Crasher:
    """Reports each start on ``started`` and crashes when told to (stamping the moment it raises)."""

    name = "crasher"

    def __init__(self, started: trio.MemorySendChannel[int], crashed: list[int]) -> None:
        self._started = started
        self._crashed = crashed

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        self._started.send_nowait(time.perf_counter_ns())
        async for _ in ctx.inbox:
            self._crashed.append(time.perf_counter_ns())
            raise RuntimeError("crash on request")


async def _restart(n: int) -> list[int]:
    started_in, started = trio.open_memory_channel[int](n + 2)
    crashed: list[int] = []
    supervisor = Supervisor(
        name="sup",
        children=[ChildSpec(name="crasher", factory=lambda: _Crasher(started_in, crashed))],
        max_restarts=n + 10,
        window=3600.0,
        backoff=Backoff(initial=0.0, factor=1.0, max=0.0, jitter=0.0),
    )
    latencies: list[int] = []
    async with open_actor_system() as system:
        await system.start(supervisor)
        await started.receive()
        for _ in range(n):
            await system.tell("crasher", "crash")
            restarted = await started.receive()
            latencies.append(restarted - crashed[-1])
    return latencies


def _latency_rows(settings: Settings, cases: list[tuple[str, Callable[[int], Awaitable[list[int]]], int]]) -> list[Row]:
    """Run each case ``repeats`` times (round-robin), one ``trio.run`` each; p50/p99 per run."""
    samples: dict[str, list[list[int]]] = {name: [] for name, _, _ in cases}
    for _ in range(settings.repeats):
        for name, fn, n in cases:
            samples[name].append(sorted(trio.run(fn, n)))
    rows = []
    for name, _, _ in cases:
        runs = samples[name]
        rows.append(
            Row(
                name,
                (
                    Figure("p50 µs", "µs", tuple(percentile(r, 0.50) / 1e3 for r in runs)),
                    Figure("p99 µs", "µs", tuple(percentile(r, 0.99) / 1e3 for r in runs)),
                    Figure("mean µs", "µs", tuple(sum(r) / len(r) / 1e3 for r in runs)),
                ),
            )
        )
    return rows


@benchmark("runtime", "Actor runtime on the real clock: bus delivery, ask round trip, supervisor restart")
def runtime(settings: Settings) -> Table:
    n = 200 if settings.quick else 5_000
    restarts = 20 if settings.quick else 500
    cases: list[tuple[str, Callable[[int], Awaitable[list[int]]], int]] = [
        ("bus: publish_nowait -> parked subscriber", _bus_single, n),
        ("bus: burst of 64, per message (no switch)", _bus_burst, n),
        ("bus: fan-out to 10 prefix subscribers", _bus_fanout, n // 5),
        ("ask round trip (echo actor)", _ask, n),
        ("supervisor restart (crash -> running), 0 backoff", _restart, restarts),
    ]
    return Table(
        tuple(_latency_rows(settings, cases)),
        (
            f"{n} messages / asks, {restarts} restarts per run; one trio.run per run; latencies from perf_counter_ns",
            "fan-out: latency of each of the 10 deliveries, from the publish to that subscriber's receipt",
        ),
    )
