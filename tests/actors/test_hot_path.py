"""The lighter ``ask`` (a reply slot instead of a channel per ask): withdrawal and late answers."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from clobactors.actors.actor import Context, Request, open_actor_system


class Holder:
    """Keeps every request without answering, so tests can look at them."""

    name = "holder"

    def __init__(self) -> None:
        self.held: list[Request] = []

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for message in ctx.inbox:
            assert isinstance(message, Request)
            self.held.append(message)


async def test_a_withdrawn_ask_is_abandoned_and_its_answer_discarded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    holder = Holder()
    async with open_actor_system() as system:
        await system.start(holder)
        with trio.move_on_after(1):
            await system.ask("holder", "first")
        (request,) = holder.held
        assert request.abandoned
        request.reply("too late")  # goes nowhere
        with pytest.raises(trio.ClosedResourceError):
            request.reply("twice")

        async def answer_soon() -> None:
            await trio.sleep(2)
            holder.held[-1].reply("second answered")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_soon)
            assert await system.ask("holder", "second") == "second answered"
        assert trio.current_time() == 3
        assert not holder.held[-1].abandoned
