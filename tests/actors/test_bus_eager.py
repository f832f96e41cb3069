"""``Bus.publish(eager=True)``: a cancel point every call, a schedule point once per ``_EAGER_YIELD_EVERY``."""

from __future__ import annotations

from decimal import Decimal
from typing import final

import trio
import trio.testing

from clobactors.actors.bus import _EAGER_YIELD_EVERY, Bus
from clobactors.messages import Fill
from clobactors.model import Side


def fill(n: int) -> Fill:
    return Fill(
        exchange="x", instrument="BTC-USDT", client_order_id="c", trade_id=str(n), side=Side.BUY,
        price=Decimal(1), size=Decimal(n),
    )


@final
class _Steps(trio.abc.Instrument):
    """Counts one task's steps: each ends where the task yielded to the scheduler."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task, self.steps = task, 0

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += task is self.task


async def test_eager_publish_yields_once_per_batch_and_default_every_time() -> None:
    bus = Bus()
    sub = bus.subscribe("account.x")
    steps = _Steps(trio.lowlevel.current_task())
    trio.lowlevel.add_instrument(steps)
    try:
        for n in range(_EAGER_YIELD_EVERY - 1):
            await bus.publish(fill(n), eager=True)
        assert steps.steps == 0  # a cancel point each time, but never a schedule point
        await bus.publish(fill(99), eager=True)
        assert steps.steps == 1  # the sixteenth eager publish yielded
        for n in range(3):
            await bus.publish(fill(100 + n))
        assert steps.steps == 4  # the default publish is a full checkpoint every time
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert sub.statistics().buffered == _EAGER_YIELD_EVERY + 3


async def test_eager_publish_is_a_cancel_point() -> None:
    bus = Bus()
    sub = bus.subscribe("account.x")
    reached = False
    with trio.CancelScope() as scope:
        scope.cancel()
        await bus.publish(fill(1), eager=True)
        reached = True
    assert scope.cancelled_caught and not reached
    assert sub.statistics().buffered == 0


async def test_eager_publish_waits_for_room_at_a_full_subscriber(autojump_clock: trio.testing.MockClock) -> None:
    bus = Bus(reliable_capacity=1, lag_high_water=1)
    sub = bus.subscribe("account.x")
    await bus.publish(fill(1), eager=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.publish, fill(2))
        await trio.sleep(1)
        assert sub.statistics().buffered == 1
        assert (await sub.receive()).trade_id == "1"  # type: ignore[union-attr]
    assert sub.statistics().buffered == 1
