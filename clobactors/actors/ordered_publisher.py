"""Publishing an account's events in the order their changes were made, whichever task made them.

Each snapshot is taken when its change is made, but publishing may wait (the bus checkpoints, and a full
subscriber makes the never-drop path wait for room). Without an order, another task (a user-stream report, a
cancel's answer, a reconciliation) changing the same order meanwhile could publish first, and the older
snapshot would land last: the bus would show a state the order has left (``cancelled`` then ``unknown`` while
the order is cancelled), and nothing would ever correct it. Callers build their batch and hand it over with no
checkpoint after the change; the lock is FIFO and its queue is joined without a checkpoint, so batches go out
in the order their changes were made.

A batch can also be *held* (:meth:`OrderedPublisher.hold`): its place is taken now and it is published later
by :meth:`HeldEvents.release`. The order path holds an order's ``pending_create`` while it writes the request,
so the bytes leave first (``bench/run.py order-overhead``) and nothing about the order can be published ahead
of it.
"""

from __future__ import annotations

from typing import final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.messages import AccountEvent, OrderOutcomeUnknown

__all__ = ["HeldEvents", "OrderedPublisher"]

#: What an account publishes.
Published = AccountEvent | OrderOutcomeUnknown


@final
@attrs.define
class OrderedPublisher:
    """One account's publishing order (see the module docstring)."""

    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False, repr=False)
    _published: int = attrs.field(default=0, init=False)

    @property
    def published(self) -> int:
        return self._published

    async def emit(self, ctx: Context, events: tuple[Published, ...]) -> None:
        """Publish ``events`` after every batch whose changes were made before theirs."""
        if events:
            await (await self.hold(ctx, events)).release(ctx)

    async def hold(self, ctx: Context, events: tuple[Published, ...]) -> HeldEvents:
        """Take the batch's place in the publishing order now; it is published on release.

        A free lock is taken without the yield ``Lock.acquire`` makes after taking it (~5 µs on the order path
        before its request leaves): a free trio lock has no waiters, so this cannot overtake anyone.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()
        return HeldEvents(self, events)

    async def _publish_in_place(self, ctx: Context, events: tuple[Published, ...]) -> None:
        try:
            for event in events:
                self._published += 1
                await ctx.bus.publish(event)
        finally:
            self._lock.release()


@final
@attrs.define(eq=False)
class HeldEvents:
    """A batch whose changes are made and whose place in the publishing order is taken (the lock is held by
    the task that made it): :meth:`release` publishes it, in that same task, exactly once.

    Other publishers of the account wait meanwhile, so hold only across work that does not wait on the
    exchange (writing a request on an idle connection).
    """

    _publisher: OrderedPublisher
    _events: tuple[Published, ...]
    _released: bool = False

    async def release(self, ctx: Context) -> None:
        """Publish the batch and give up its place (also when cancelled meanwhile: the place is freed)."""
        if self._released:
            raise RuntimeError("held events released twice")
        self._released = True
        await self._publisher._publish_in_place(ctx, self._events)
