"""Erlang/OTP supervision on trio nurseries: strategies, restart types, backoff, intensity, escalation.

A :class:`Supervisor` is itself an :class:`~clobactors.actors.actor.Actor`, so trees nest (a session
supervises exchange supervisors). It owns one nursery. Children start in order with ``nursery.start``, so
each is ready before the next starts. A per-child wrapper catches ``Exception`` (never ``BaseException``)
and reports the exit to the supervisor's single loop, which alone decides what happens:

* restart type: ``PERMANENT`` always restarts, ``TRANSIENT`` only after a crash, ``TEMPORARY`` never;
* strategy: ``ONE_FOR_ONE`` restarts the failed child, ``ONE_FOR_ALL`` stops every other child (reverse
  start order) and restarts all, ``REST_FOR_ONE`` does so for the children started after the failed one.
  Temporary siblings are stopped but not restarted; children that finished for good stay finished;
* intensity: more than ``max_restarts`` restarts within ``window`` seconds, counted per supervisor, stops
  every child in reverse start order, publishes ``SupervisorEscalatedEvent`` and raises
  :class:`~clobactors.errors.SupervisorEscalated` out of ``run``; the parent treats it as a crash;
* backoff: before each restart the supervisor sleeps ``backoff.delay(attempt)``, where ``attempt`` is the
  number of earlier restarts still inside the intensity window (a quiet window resets it). Jitter comes from
  a seeded Random. Every restarted child gets an ``ActorRestarted`` event.

A failure before ``task_status.started()`` is a crash like any other (so a feed that cannot connect yet is
retried with backoff), and later children wait until it is up.

Stopping is ordered. Each child runs in its own cancel scope, shielded once it is ready, so a supervisor
that is itself cancelled still stops its children one by one in reverse start order (and a one_for_all
restart stops them in order too, where one cancel scope per generation would stop them all at once).
Stopping a child cancels its scope; graceful cleanup within the child's ``shutdown`` budget is the child's
job (``with ctx.shutdown_scope(): ...`` in its ``finally``). Trio cannot kill a task, so a child that
overruns its budget is waited for anyway (never two incarnations under one name) and counted; the
supervisor's own budget, from its parent, bounds how long its whole ordered stop may take.
"""

from __future__ import annotations

import enum
import functools
import math
import random
from collections.abc import Callable, Sequence
from typing import NoReturn, final

import attrs
import trio

from clobactors.actors.actor import Actor, Context, ShieldWhenReady, unwrap_exception_group
from clobactors.backoff import Backoff, RestartIntensity
from clobactors.errors import ConfigError, SupervisorEscalated
from clobactors.messages import ActorRestarted, SupervisorEscalatedEvent

__all__ = [
    "ChildSpec",
    "ChildState",
    "ChildStatistics",
    "Restart",
    "Strategy",
    "Supervisor",
    "SupervisorStatistics",
]


class Restart(enum.Enum):
    """When a child that ended is started again."""

    #: Always (OTP ``permanent``): services that must run while their supervisor runs.
    PERMANENT = "permanent"
    #: Only after a crash (OTP ``transient``): jobs that may finish.
    TRANSIENT = "transient"
    #: Never (OTP ``temporary``): best-effort helpers.
    TEMPORARY = "temporary"


class Strategy(enum.Enum):
    """Which children restart together when one fails."""

    #: Only the failed child: children are independent.
    ONE_FOR_ONE = "one_for_one"
    #: Every child: they share state and must restart as one generation.
    ONE_FOR_ALL = "one_for_all"
    #: The failed child and those started after it, which depend on it.
    REST_FOR_ONE = "rest_for_one"


class ChildState(enum.Enum):
    """Where a child is in its supervisor's cycle."""

    #: Waiting to be started (initially, or after it was stopped for a restart).
    PENDING = "pending"
    #: An incarnation is running (or starting).
    RUNNING = "running"
    #: Finished for good: a transient child that returned, or a temporary child that ended.
    DONE = "done"


@final
@attrs.frozen
class ChildSpec:
    """How to start one child; ``factory`` builds a fresh actor for every start."""

    name: str
    factory: Callable[[], Actor]
    restart: Restart = Restart.PERMANENT
    #: Seconds of graceful cleanup the child gets when stopped (exposed as ``ctx.shutdown_budget``).
    shutdown: float = 5.0
    inbox_capacity: int = 0


@final
@attrs.frozen
class ChildStatistics:
    name: str
    state: ChildState
    starts: int
    restarts: int


@final
@attrs.frozen
class SupervisorStatistics:
    """``restarts`` counts restart decisions (one per failure, however many children it restarts)."""

    name: str
    restarts: int
    running: int
    escalated: bool
    shutdown_overruns: int
    children: tuple[ChildStatistics, ...]


@attrs.define(eq=False)
class _Slot:
    index: int
    spec: ChildSpec
    state: ChildState = ChildState.PENDING
    incarnation: int = 0
    starts: int = 0
    restarts: int = 0
    #: Why the child is pending a restart (for the ``ActorRestarted`` event).
    cause: str = ""
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    done: trio.Event = attrs.field(factory=trio.Event)


@attrs.frozen
class _Exit:
    index: int
    incarnation: int
    error: Exception | None


@final
@attrs.define(eq=False)
class Supervisor:
    """A supervisor actor. Build a fresh one per start (its parent's ``ChildSpec.factory``)."""

    name: str
    children: Sequence[ChildSpec]
    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    window: float = 5.0
    backoff: Backoff = attrs.field(factory=Backoff)
    #: Jitter source; by default derived from the system seed and this supervisor's name.
    rng: random.Random | None = attrs.field(default=None, repr=False)
    _slots: list[_Slot] = attrs.field(init=False, factory=list, repr=False)
    _intensity: RestartIntensity = attrs.field(init=False)
    _restarts: int = attrs.field(init=False, default=0)
    _escalated: bool = attrs.field(init=False, default=False)
    _overruns: int = attrs.field(init=False, default=0)

    @_intensity.default
    def _make_intensity(self) -> RestartIntensity:
        return RestartIntensity(self.max_restarts, self.window)

    def __attrs_post_init__(self) -> None:
        names = [spec.name for spec in self.children]
        if len(set(names)) != len(names):
            raise ConfigError(f"supervisor {self.name!r} has duplicate child names: {names}")
        self._slots = [_Slot(i, spec) for i, spec in enumerate(self.children)]

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            name=self.name,
            restarts=self._restarts,
            running=sum(slot.state is ChildState.RUNNING for slot in self._slots),
            escalated=self._escalated,
            shutdown_overruns=self._overruns,
            children=tuple(ChildStatistics(s.spec.name, s.state, s.starts, s.restarts) for s in self._slots),
        )

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Start the children in order, report ready, then supervise until cancelled or escalated."""
        rng = self.rng if self.rng is not None else ctx.system.rng_for(self.name)
        if any(slot.starts for slot in self._slots):
            raise ConfigError(f"supervisor {self.name!r} already ran; its factory must build a fresh one")
        # Unbounded is safe: each incarnation reports at most once and only this loop creates incarnations.
        exits_in, exits = trio.open_memory_channel[_Exit](math.inf)
        with unwrap_exception_group(), exits_in, exits:
            async with trio.open_nursery() as nursery:
                try:
                    failure = await self._start_pending(ctx, nursery, exits_in)
                    ready = False
                    while True:
                        if failure is None and not ready:
                            task_status.started()  # every initial child is up
                            ready = True
                        ended = failure if failure is not None else await self._next_exit(exits)
                        failure = await self._handle_exit(ctx, nursery, exits_in, rng, *ended)
                finally:
                    # Running children are shielded from our own cancellation, so the order is ours.
                    with ctx.shutdown_scope():
                        await self._stop_running()
                    for slot in self._slots:
                        slot.scope.cancel(reason=f"supervisor {self.name} stopping")
                    nursery.cancel_scope.cancel(reason=f"supervisor {self.name} stopping")

    async def _next_exit(self, exits: trio.MemoryReceiveChannel[_Exit]) -> tuple[_Slot, Exception | None]:
        """The next exit of a current incarnation; stale reports (stopped or replaced) are skipped."""
        async for report in exits:
            slot = self._slots[report.index]
            if slot.incarnation == report.incarnation and slot.state is ChildState.RUNNING:
                return slot, report.error
        raise AssertionError("the supervisor holds the send end open")  # pragma: no cover

    async def _handle_exit(
        self,
        ctx: Context,
        nursery: trio.Nursery,
        exits_in: trio.MemorySendChannel[_Exit],
        rng: random.Random,
        slot: _Slot,
        error: Exception | None,
    ) -> tuple[_Slot, Exception] | None:
        """Apply restart type, intensity, strategy and backoff to one exit; returns a failed restart."""
        restart = slot.spec.restart
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and error is None):
            slot.state = ChildState.DONE
            return await self._start_pending(ctx, nursery, exits_in)  # those after a failed start
        slot.state = ChildState.PENDING
        slot.cause = "exited normally" if error is None else repr(error)
        now = trio.current_time()
        if self._intensity.record(now):
            await self._escalate(ctx, error)
        attempt = self._intensity.recent(now) - 1
        self._restarts += 1
        delay = self.backoff.delay(attempt, rng)
        for other in reversed(self._affected(slot)):
            await self._stop(other)
            other.state = ChildState.DONE if other.spec.restart is Restart.TEMPORARY else ChildState.PENDING
            other.cause = f"{slot.spec.name} failed: {slot.cause}"
        await trio.sleep(delay)
        return await self._start_pending(ctx, nursery, exits_in, delay)

    def _affected(self, failed: _Slot) -> list[_Slot]:
        """Other running children the strategy stops with ``failed``, in start order."""
        if self.strategy is Strategy.ONE_FOR_ONE:
            return []
        first = 0 if self.strategy is Strategy.ONE_FOR_ALL else failed.index + 1
        return [s for s in self._slots[first:] if s is not failed and s.state is ChildState.RUNNING]

    async def _start_pending(
        self, ctx: Context, nursery: trio.Nursery, exits_in: trio.MemorySendChannel[_Exit], delay: float = 0.0
    ) -> tuple[_Slot, Exception] | None:
        """Start every pending child in order; stop at the first that fails before it is ready.

        A child that ran before gets an ``ActorRestarted`` event just before its new incarnation starts.
        """
        for slot in self._slots:
            if slot.state is not ChildState.PENDING:
                continue
            if slot.starts > 0:
                slot.restarts += 1
                await ctx.publish(
                    ActorRestarted(
                        exchange="",
                        ts_recv=ctx.wall_ns(),
                        supervisor=self.name,
                        actor=slot.spec.name,
                        restart_count=slot.restarts,
                        delay=delay,
                        error=slot.cause,
                    )
                )
            slot.incarnation += 1
            slot.scope, slot.done = trio.CancelScope(), trio.Event()
            slot.state = ChildState.RUNNING
            slot.starts += 1
            try:
                actor = slot.spec.factory()
                await nursery.start(functools.partial(self._child, ctx, slot, actor, exits_in))
            except Exception as exc:
                return slot, exc
        return None

    async def _child(
        self,
        ctx: Context,
        slot: _Slot,
        actor: Actor,
        exits_in: trio.MemorySendChannel[_Exit],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """One incarnation: run it, and report how it ended unless the supervisor stopped it."""
        spec, incarnation, scope, done = slot.spec, slot.incarnation, slot.scope, slot.done
        ready = ShieldWhenReady(task_status, scope)
        error: Exception | None = None
        try:
            with scope:
                await ctx.system.run_actor(
                    actor,
                    name=spec.name,
                    inbox_capacity=spec.inbox_capacity,
                    shutdown=spec.shutdown,
                    task_status=ready,
                )
        except Exception as exc:
            if not ready.ready:
                raise  # nursery.start raises it in the supervisor, which treats it as a crash
            error = exc
        finally:
            done.set()
        if not scope.cancel_called:
            exits_in.send_nowait(_Exit(slot.index, incarnation, error))

    async def _stop(self, slot: _Slot) -> None:
        """Cancel one running child and wait for it, counting an overrun of its shutdown budget."""
        if slot.state is not ChildState.RUNNING:
            return
        deadline = trio.current_time() + slot.spec.shutdown
        slot.scope.cancel(reason=f"stopped by supervisor {self.name}")
        try:
            await slot.done.wait()
        finally:
            # Judged by when it finished, not by a timer of ours that could race its own cleanup deadline.
            if not slot.done.is_set() or trio.current_time() > deadline:
                self._overruns += 1

    async def _stop_running(self) -> None:
        for slot in reversed(self._slots):
            await self._stop(slot)
            if slot.state is ChildState.RUNNING:
                slot.state = ChildState.PENDING

    async def _escalate(self, ctx: Context, error: Exception | None) -> NoReturn:
        self._escalated = True
        await self._stop_running()
        last = "exited normally" if error is None else repr(error)
        await ctx.publish(
            SupervisorEscalatedEvent(
                exchange="",
                ts_recv=ctx.wall_ns(),
                supervisor=self.name,
                restarts=self.max_restarts,
                window=self.window,
                error=last,
            )
        )
        raise SupervisorEscalated(self.name, self.max_restarts, self.window, last)
