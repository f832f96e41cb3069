"""The actor protocol, its context, request/reply (its inbox plumbing: :mod:`.mailbox`), and the actor system.

An actor is any object with a ``name`` and ``async def run(ctx, *, task_status)``. It calls
``task_status.started()`` once it is ready (socket open, book synced), which is when ``nursery.start``
returns in its supervisor. Through :class:`Context` it reads its inbox, publishes on the bus, asks other
actors and reads the clock.

Inbox lifetime (the OTP rule): every *incarnation* of an actor gets a fresh inbox, registered under its name
for exactly as long as that incarnation runs. When ``run`` ends (return, crash or cancel) the inbox is closed,
anything queued in it is lost, and every request it was holding (queued or being handled) is answered with
:class:`~clobactors.errors.ActorUnavailable`. While a supervisor waits out a backoff the name is unregistered,
so ``ask`` fails fast instead of queueing for an actor that may never come back; after the restart the same
name reaches the new incarnation. Subscriptions opened through the context are closed with the incarnation
too, so a crashed consumer never leaves a never-drop queue behind to block publishers.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol, final

import attrs
import trio

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.mailbox import CLOSED, Mailbox, ReplySlot, Request
from clobactors.errors import ActorUnavailable, ConfigError
from clobactors.messages import Event, MarketEvent

__all__ = [
    "Actor",
    "ActorSystem",
    "Context",
    "ReadyOnce",
    "Request",
    "ShieldWhenReady",
    "open_actor_system",
    "unwrap_exception_group",
]


class Actor(Protocol):
    """What a supervisor can run. Restartable actors are built fresh for each start by a factory."""

    @property
    def name(self) -> str: ...

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until done, cancelled or crashed; call ``task_status.started()`` once ready."""


@attrs.define
class ShieldWhenReady:
    """A ``task_status`` that remembers ``started()`` and then shields the task from outer cancellation.

    Until it is ready a task is cancelled with its parent (a slow connect must not hold up a stop); once
    ready only its owner stops it, by cancelling ``scope`` itself, so owners stop children in the order they
    choose (reverse start order) even when they are themselves being cancelled. Owners must cancel every
    such scope on their way out, or their nursery would wait forever.
    """

    inner: trio.TaskStatus[None]
    scope: trio.CancelScope
    ready: bool = False

    def started(self, value: None = None) -> None:
        self.scope.shield = True
        self.ready = True
        self.inner.started()


@final
@attrs.define
class ReadyOnce:
    """Calls ``task_status.started()`` the first time it is called, never again: for an actor that is ready at
    the first of several moments (connected, or given up a first attempt)."""

    _status: trio.TaskStatus[None]
    ready: bool = False

    def __call__(self) -> None:
        if not self.ready:
            self.ready = True
            self._status.started()


@final
@attrs.frozen(eq=False)
class Context:
    """What one incarnation of an actor may do. Built by :meth:`ActorSystem.run_actor`, never by actors."""

    name: str
    #: Messages for this incarnation; ``ask`` requests arrive as :class:`Request` envelopes.
    inbox: trio.MemoryReceiveChannel[object]
    system: ActorSystem = attrs.field(repr=False)
    #: Seconds this actor may spend on graceful cleanup once cancelled (from its ``ChildSpec``).
    shutdown_budget: float = 5.0
    _subscriptions: list[Subscription] = attrs.field(factory=list, repr=False)

    @property
    def bus(self) -> Bus:
        return self.system.bus

    async def publish(self, event: Event, *, topic: str | None = None) -> None:
        """Publish on the bus (account and lifecycle events wait for room; market data never waits)."""
        await self.system.bus.publish(event, topic=topic)

    def publish_nowait(self, event: MarketEvent, *, topic: str | None = None) -> None:
        """Publish market data without waiting (for socket readers)."""
        self.system.bus.publish_nowait(event, topic=topic)

    def subscribe(
        self,
        topic: str,
        *,
        prefix: bool = False,
        market_capacity: int | None = None,
        reliable_capacity: int | None = None,
        lag_high_water: int | None = None,
    ) -> Subscription:
        """Subscribe for this incarnation (see :meth:`Bus.subscribe`); closed automatically when it ends."""
        sub = self.system.bus.subscribe(
            topic,
            prefix=prefix,
            name=f"{self.name}#{len(self._subscriptions)}",
            market_capacity=market_capacity,
            reliable_capacity=reliable_capacity,
            lag_high_water=lag_high_water,
        )
        self._subscriptions.append(sub)
        return sub

    async def tell(self, actor: str, message: object) -> None:
        """Put ``message`` in ``actor``'s inbox (waits while it is full); ActorUnavailable if not running."""
        await self.system.tell(actor, message)

    async def ask(self, actor: str, payload: object) -> object:
        """Send ``payload`` to ``actor`` and wait for its answer (raised if it answered with an error).

        No timeout parameter: wrap the call in ``trio.fail_after``. Raises ActorUnavailable when the actor is
        not running, or stops before answering.
        """
        return await self.system.ask(actor, payload, sender=self.name)

    def now(self) -> float:
        """Trio's clock (virtual under MockClock): use it for deadlines and intervals."""
        return trio.current_time()

    def wall_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch, for ``ts_recv`` stamps (injected by the system)."""
        return self.system.wall_ns()

    def shutdown_scope(self) -> trio.CancelScope:
        """A shielded scope bounded by :attr:`shutdown_budget`, for graceful steps in ``finally``."""
        return trio.move_on_after(self.shutdown_budget, shield=True)

    async def refuse_requests(self) -> None:
        """Read the inbox until it closes, failing every ask: for actors that answer none (feeds, streams)."""
        async for message in self.inbox:
            if isinstance(message, Request):
                message.fail(ConfigError(f"{self.name} answers no requests"))


@final
@attrs.define(eq=False)
class ActorSystem:
    """The bus, the registry of running incarnations by name, the seed and the wall clock of one tree."""

    bus: Bus
    seed: int = 0
    wall_ns: Callable[[], int] = time.time_ns
    _nursery: trio.Nursery | None = attrs.field(default=None, repr=False)
    _mailboxes: dict[str, Mailbox] = attrs.field(init=False, factory=dict, repr=False)
    _top: list[tuple[str, trio.CancelScope, trio.Event, float]] = attrs.field(
        init=False, factory=list, repr=False
    )

    def running(self) -> tuple[str, ...]:
        """Names of the incarnations running now, in start order."""
        return tuple(self._mailboxes)

    def rng_for(self, name: str) -> random.Random:
        """A Random seeded from the system seed and ``name``: the same tree replays the same jitter."""
        return random.Random(f"{self.seed}/{name}")

    async def start(self, actor: Actor, *, inbox_capacity: int = 0, shutdown: float = 5.0) -> None:
        """Run a top-level actor (usually the root supervisor) until the system closes; waits until ready."""
        if self._nursery is None:
            raise ConfigError("ActorSystem.start needs a system opened with open_actor_system()")
        entry = (actor.name, trio.CancelScope(), trio.Event(), shutdown)
        self._top.append(entry)
        await self._nursery.start(functools.partial(self._run_top, actor, entry, inbox_capacity))

    async def run_actor(
        self,
        actor: Actor,
        *,
        name: str | None = None,
        inbox_capacity: int = 0,
        shutdown: float = 5.0,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run one incarnation of ``actor`` under ``name`` with a fresh inbox; clean up whatever ends it."""
        name = actor.name if name is None else name
        if name in self._mailboxes:
            raise ConfigError(f"an actor named {name!r} is already running")
        send, receive = trio.open_memory_channel[object](inbox_capacity)
        mailbox = Mailbox(send, receive)
        ctx = Context(name, receive, self, shutdown)
        self._mailboxes[name] = mailbox
        try:
            await actor.run(ctx, task_status=task_status)
        finally:
            del self._mailboxes[name]
            mailbox.close()
            for sub in ctx._subscriptions:
                sub.close()

    async def tell(self, actor: str, message: object) -> None:
        """Put ``message`` in ``actor``'s inbox (waits while it is full); ActorUnavailable if not running."""
        mailbox = self._mailbox(actor)
        try:
            await mailbox.send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorUnavailable(actor) from None

    async def ask(self, actor: str, payload: object, *, sender: str = "") -> object:
        """:meth:`Context.ask` for code outside any actor (a CLI, a test); ``sender`` names the asker.

        One suspension when the inbox has room (the request is queued without waiting, then the asker parks
        until answered); a full inbox is waited for as :meth:`tell` does. Cancelled while parked, the asker
        withdraws: the request is marked abandoned and its answer discarded.
        """
        mailbox = self._mailbox(actor)
        await trio.lowlevel.checkpoint_if_cancelled()
        slot = ReplySlot()
        request = Request(payload, sender, slot, mailbox.outstanding)
        mailbox.outstanding.add(slot)
        try:
            try:
                mailbox.send.send_nowait(request)
            except trio.WouldBlock:
                await mailbox.send.send(request)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            mailbox.outstanding.discard(slot)
            raise ActorUnavailable(actor) from None
        except BaseException:
            mailbox.outstanding.discard(slot)
            slot.abandoned = True
            raise
        if slot.answer is None:
            slot.task = trio.lowlevel.current_task()

            def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
                slot.task = None
                slot.abandoned = True
                mailbox.outstanding.discard(slot)
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
        assert slot.answer is not None
        value, error = slot.answer
        if error is CLOSED:
            raise ActorUnavailable(actor)
        if error is not None:
            raise error
        return value

    async def _stop_top_level(self) -> None:
        """Cancel top-level actors in reverse start order, waiting for each at most its shutdown budget.

        Every scope is cancelled even if waiting is cut short, since ready actors are shielded.
        """
        try:
            for name, scope, done, budget in reversed(self._top):
                scope.cancel(reason=f"actor system stopping {name}")
                with trio.move_on_after(budget):
                    await done.wait()
        finally:
            for name, scope, _, _ in self._top:
                scope.cancel(reason=f"actor system stopping {name}")

    async def _run_top(
        self,
        actor: Actor,
        entry: tuple[str, trio.CancelScope, trio.Event, float],
        inbox_capacity: int,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        _, scope, done, budget = entry
        try:
            with scope:
                await self.run_actor(
                    actor,
                    inbox_capacity=inbox_capacity,
                    shutdown=budget,
                    task_status=ShieldWhenReady(task_status, scope),
                )
        finally:
            done.set()

    def _mailbox(self, name: str) -> Mailbox:
        try:
            return self._mailboxes[name]
        except KeyError:
            raise ActorUnavailable(name) from None


@contextlib.contextmanager
def unwrap_exception_group() -> Iterator[None]:
    """Re-raise a nursery's group as its one real error, so public APIs raise typed errors, not groups.

    ``Cancelled`` leaves are ignored when choosing (they only echo the failure that caused them). A group
    with several real errors is re-raised unchanged: collapsing it would hide a failure.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        real = [leaf for leaf in _leaves(group) if not isinstance(leaf, trio.Cancelled)]
        if len(real) != 1:
            raise
        leaf, context = real[0], real[0].__context__
        try:
            raise leaf  # keeps its traceback and ``__cause__``
        finally:
            leaf.__context__ = context  # not the group it travelled in


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


@contextlib.asynccontextmanager
async def open_actor_system(
    *, seed: int = 0, bus: Bus | None = None, wall_ns: Callable[[], int] = time.time_ns
) -> AsyncIterator[ActorSystem]:
    """Open an actor system; on exit stop its top-level actors in reverse order and close the bus.

    A failure of a top-level actor (for instance a root supervisor's ``SupervisorEscalated``) cancels the
    body and is raised from the ``async with`` as itself, not wrapped in an exception group.
    """
    bus = Bus() if bus is None else bus
    try:
        with unwrap_exception_group():
            async with trio.open_nursery() as nursery:
                system = ActorSystem(bus, seed, wall_ns, nursery)
                try:
                    yield system
                finally:
                    with trio.CancelScope(shield=True):
                        await system._stop_top_level()
                    nursery.cancel_scope.cancel(reason="actor system closed")
    finally:
        bus.close()
