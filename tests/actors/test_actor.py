"""Actors and their context: ask/tell, inbox lifetime across restarts, the clock, the system's edges."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from clobactors.actors import (
    ActorSystem,
    Bus,
    ChildSpec,
    Context,
    Request,
    Supervisor,
    open_actor_system,
    unwrap_exception_group,
)
from clobactors.backoff import Backoff
from clobactors.errors import ActorUnavailable, ConfigError


@attrs.define
class Echo:
    """Answers requests; ``fail`` answers with an error, ``die`` crashes holding the request."""

    name: str
    incarnation: int = 0
    told: list[object] = attrs.field(factory=list)

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        async with ctx.inbox:
            async for message in ctx.inbox:
                if not isinstance(message, Request):
                    self.told.append(message)
                elif message.payload == "fail":
                    message.fail(ValueError("asked to fail"))
                elif message.payload == "die":
                    raise RuntimeError("dying with a request in hand")
                elif message.payload == "slow":
                    await trio.sleep(10)
                    message.reply("late")
                else:
                    message.reply((message.sender, message.payload, self.incarnation))


@attrs.define
class Deaf:
    """Never reads its inbox, and returns after ``lifetime`` seconds."""

    name: str
    lifetime: float

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await trio.sleep(self.lifetime)


@attrs.define
class Probe:
    """Records what its context says, then asks ``target`` once."""

    name: str
    target: str
    seen: dict[str, object] = attrs.field(factory=dict)

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self.seen.update(now=ctx.now(), wall=ctx.wall_ns(), name=ctx.name, budget=ctx.shutdown_budget)
        ctx.subscribe("lifecycle")  # not closed here: the incarnation's end closes it
        self.seen["reply"] = await ctx.ask(self.target, "ping")
        await ctx.tell(self.target, "note")
        task_status.started()


async def test_ask_round_trip_and_tell() -> None:
    echo = Echo("echo")
    async with open_actor_system() as system:
        await system.start(echo)
        assert await system.ask("echo", 42, sender="test") == ("test", 42, 0)
        await system.tell("echo", "hello")
        assert await system.ask("echo", 1) == ("", 1, 0)  # the tell arrived first
        assert echo.told == ["hello"]


async def test_context_gives_clock_wall_time_and_names(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe("probe", target="echo")
    bus = Bus()
    async with open_actor_system(bus=bus, wall_ns=lambda: 1_700_000_000_000_000_000) as system:
        await system.start(Echo("echo"))
        await trio.sleep(3)
        await system.start(probe, shutdown=1.5)
        assert system.running() == ("echo",)  # the probe returned once ready
        assert probe.seen == {
            "now": 3.0,
            "wall": 1_700_000_000_000_000_000,
            "name": "probe",
            "budget": 1.5,
            "reply": ("probe", "ping", 0),
        }
        assert [s.name for s in bus.statistics().subscribers] == []  # closed with the incarnation


async def test_an_answer_can_be_an_error() -> None:
    async with open_actor_system() as system:
        await system.start(Echo("echo"))
        with pytest.raises(ValueError, match="asked to fail"):
            await system.ask("echo", "fail")


async def test_asking_a_stranger_is_unavailable() -> None:
    async with open_actor_system() as system:
        with pytest.raises(ActorUnavailable) as raised:
            await system.ask("nobody", 1)
        assert raised.value.actor == "nobody"
        with pytest.raises(ActorUnavailable):
            await system.tell("nobody", 1)


async def test_requests_held_by_a_stopping_actor_are_answered_unavailable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system() as system:
        await system.start(Deaf("deaf", lifetime=3), inbox_capacity=5)
        results: list[tuple[float, str]] = []

        async def ask() -> None:
            try:
                await system.ask("deaf", "hello?")
            except ActorUnavailable:
                results.append((trio.current_time(), "unavailable"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            nursery.start_soon(ask)
        assert results == [(3, "unavailable"), (3, "unavailable")]


async def test_ask_is_bounded_by_the_caller(autojump_clock: trio.testing.MockClock) -> None:
    async with open_actor_system() as system:
        await system.start(Echo("echo"))
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(2):
                await system.ask("echo", "slow")
        assert trio.current_time() == 2
        await trio.sleep(9)  # the late answer goes nowhere and harms nobody
        assert await system.ask("echo", "again") == ("", "again", 0)


async def test_ask_reaches_the_new_incarnation_after_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    incarnations = iter(range(100))

    def make() -> Echo:
        return Echo("echo", next(incarnations))

    sup = Supervisor("sup", [ChildSpec("echo", make)], backoff=Backoff(initial=2, jitter=0))
    async with open_actor_system() as system:
        await system.start(sup)
        assert await system.ask("echo", "hi") == ("", "hi", 0)
        with pytest.raises(ActorUnavailable):
            await system.ask("echo", "die")  # crashes holding our request: we are not left hanging
        await trio.sleep(1.9)
        with pytest.raises(ActorUnavailable):
            await system.ask("echo", "hi")  # unregistered during the 2 s backoff
        await trio.sleep(0.2)
        assert await system.ask("echo", "hi") == ("", "hi", 1)


async def test_answering_twice_is_a_bug() -> None:
    async with open_actor_system() as system:
        answered: list[Request] = []

        @attrs.define
        class Keeper:
            name: str = "keeper"

            async def run(
                self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
            ) -> None:
                task_status.started()
                request = await ctx.inbox.receive()
                assert isinstance(request, Request)
                request.reply(1)
                answered.append(request)
                await trio.sleep_forever()

        await system.start(Keeper())
        assert await system.ask("keeper", None) == 1
        with pytest.raises(trio.ClosedResourceError):
            answered[0].reply(2)


async def test_top_level_actors_stop_in_reverse_order(autojump_clock: trio.testing.MockClock) -> None:
    stops: list[str] = []

    @attrs.define
    class Service:
        name: str

        async def run(
            self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
        ) -> None:
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                with ctx.shutdown_scope():
                    await trio.sleep(1)
                stops.append(f"{self.name}@{trio.current_time():g}")

    async with open_actor_system() as system:
        for name in ("first", "second", "third"):
            await system.start(Service(name))
    assert stops == ["third@1", "second@2", "first@3"]


async def test_errors_leave_the_system_unwrapped() -> None:
    with pytest.raises(KeyError):
        async with open_actor_system():
            raise KeyError("from the body")


async def test_several_real_errors_stay_a_group() -> None:
    with pytest.RaisesGroup(ValueError, KeyError), unwrap_exception_group():
        raise ExceptionGroup("two", [ValueError(), KeyError()])
    with pytest.raises(ValueError, match="only"), unwrap_exception_group():
        raise ExceptionGroup("one", [ExceptionGroup("nested", [ValueError("only")])])


async def test_misuse_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        await ActorSystem(Bus()).start(Echo("echo"))
    async with open_actor_system() as system:
        await system.start(Echo("echo"))
        with pytest.raises(ConfigError):
            await system.start(Echo("echo"))
