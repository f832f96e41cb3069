"""Supervision on virtual time: strategies, restart types, exact backoff, intensity, escalation, shutdown."""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs
import pytest
import trio
import trio.testing

from clobactors.actors import (
    Bus,
    ChildSpec,
    ChildState,
    Context,
    Restart,
    Strategy,
    Supervisor,
    open_actor_system,
)
from clobactors.actors.bus import Subscription
from clobactors.backoff import Backoff
from clobactors.errors import ConfigError, SupervisorEscalated
from clobactors.messages import ActorRestarted, Event, SupervisorEscalatedEvent

#: One start of a scripted worker: ("forever" | "crash" | "return" | "fail_start", seconds).
Step = tuple[str, float]
EXACT = Backoff(initial=1, factor=2, max=100, jitter=0)


class Boom(Exception):
    pass


@attrs.define
class Log:
    events: list[tuple[float, str, str]] = attrs.field(factory=list)

    def add(self, name: str, what: str) -> None:
        self.events.append((trio.current_time(), name, what))

    def times(self, name: str, what: str = "start") -> list[float]:
        return [t for t, n, w in self.events if n == name and w == what]

    def order(self, what: str) -> list[str]:
        return [n for _, n, w in self.events if w == what]


@attrs.define
class Worker:
    """Follows its script (one step per start, the last step repeating) and logs starts and stops."""

    name: str
    log: Log
    script: Sequence[Step]
    cleanup: float = 0.0
    stubborn: bool = False

    async def run(
        self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        n = len(self.log.times(self.name))
        kind, seconds = self.script[min(n, len(self.script) - 1)]
        self.log.add(self.name, "start")
        try:
            if kind == "fail_start":
                await trio.sleep(seconds)
                raise Boom(f"{self.name} could not start")
            task_status.started()
            if kind == "forever":
                await trio.sleep_forever()
            await trio.sleep(seconds)
            if kind == "crash":
                raise Boom(f"{self.name} crash {n}")
        finally:
            if self.stubborn:
                with trio.CancelScope(shield=True):  # ignores its budget
                    await trio.sleep(self.cleanup)
            else:
                with ctx.shutdown_scope():
                    await trio.sleep(self.cleanup)
            self.log.add(self.name, "stop")


def spec(
    name: str,
    log: Log,
    *script: Step,
    restart: Restart = Restart.PERMANENT,
    shutdown: float = 5.0,
    cleanup: float = 0.0,
    stubborn: bool = False,
) -> ChildSpec:
    steps = script or (("forever", 0),)
    return ChildSpec(
        name, lambda: Worker(name, log, steps, cleanup, stubborn), restart=restart, shutdown=shutdown
    )


def drain(sub: Subscription) -> list[Event]:
    got: list[Event] = []
    while True:
        try:
            got.append(sub.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return got


async def run_for(seconds: float, supervisor: Supervisor, *, bus: Bus | None = None, seed: int = 0) -> None:
    async with open_actor_system(bus=bus, seed=seed) as system:
        await system.start(supervisor)
        await trio.sleep(seconds)


async def test_backoff_delays_are_exact(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), Bus()
    events = bus.subscribe("lifecycle")
    sup = Supervisor("sup", [spec("w", log, ("crash", 0))], max_restarts=10, window=100, backoff=EXACT)
    await run_for(20, sup, bus=bus)
    assert log.times("w") == [0, 1, 3, 7, 15]
    restarts = [e for e in drain(events) if isinstance(e, ActorRestarted)]
    assert [(e.actor, e.restart_count, e.delay) for e in restarts] == [
        ("w", 1, 1.0),
        ("w", 2, 2.0),
        ("w", 3, 4.0),
        ("w", 4, 8.0),
    ]
    assert restarts[0].error == "Boom('w crash 0')"
    assert sup.statistics().restarts == 5  # the fifth is waiting out its 16 s backoff


async def test_jitter_comes_from_the_seeded_rng(autojump_clock: trio.testing.MockClock) -> None:
    backoff = Backoff(initial=1, factor=2, max=100, jitter=0.5)
    log = Log()
    sup = Supervisor("sup", [spec("w", log, ("crash", 0))], max_restarts=10, window=100, backoff=backoff)
    sup.rng = random.Random(3)
    await run_for(10, sup)
    rng, expected, now = random.Random(3), [0.0], 0.0
    for attempt in range(3):
        now += backoff.delay(attempt, rng)
        expected.append(now)
    assert log.times("w")[:4] == expected
    assert expected[1] != 1.0


async def test_default_jitter_is_replayed_from_the_system_seed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = Backoff(initial=1, factor=2, max=100, jitter=0.5)
    runs = []
    for seed in (1, 1, 2):
        log = Log()
        sup = Supervisor("sup", [spec("w", log, ("crash", 0))], max_restarts=10, window=100, backoff=backoff)
        start = trio.current_time()
        await run_for(10, sup, seed=seed)
        runs.append([t - start for t in log.times("w")])
    rounded = [[round(t, 9) for t in run] for run in runs]  # the clock's absolute offset adds float noise
    assert rounded[0] == rounded[1] != rounded[2]


async def test_intensity_escalates_on_the_fourth_crash_and_stops_in_reverse(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, bus = Log(), Bus()
    events = bus.subscribe("lifecycle")
    children = [spec("a", log), spec("crasher", log, ("crash", 0)), spec("b", log), spec("c", log)]
    sup = Supervisor("sup", children, max_restarts=3, window=10, backoff=EXACT)
    with pytest.raises(SupervisorEscalated) as raised:
        await run_for(100, sup, bus=bus)
    assert trio.current_time() == 7  # crashes at 0, 1, 3, 7: four within 10 s
    assert log.times("crasher") == [0, 1, 3, 7]
    error = raised.value
    assert (error.supervisor, error.restarts, error.window) == ("sup", 3, 10)
    assert error.last_error == "Boom('crasher crash 3')"
    assert [(t, n) for t, n, w in log.events if w == "stop" and n != "crasher"] == [
        (7, "c"),
        (7, "b"),
        (7, "a"),
    ]
    escalations = [e for e in drain(events) if isinstance(e, SupervisorEscalatedEvent)]
    assert [(e.supervisor, e.restarts, e.window) for e in escalations] == [("sup", 3, 10.0)]
    stats = sup.statistics()
    assert stats.escalated
    assert stats.running == 0


async def test_restarts_outside_the_window_never_escalate(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()
    sup = Supervisor("sup", [spec("w", log, ("crash", 6))], max_restarts=1, window=5, backoff=EXACT)
    await run_for(30, sup)
    # Each crash is alone in its window, so the backoff attempt resets to 0 (1 s) every time.
    assert log.times("w") == [0, 7, 14, 21, 28]
    assert not sup.statistics().escalated


@pytest.mark.parametrize(
    ("strategy", "starts", "stops_at_1"),
    [
        (Strategy.ONE_FOR_ONE, [1, 2, 1], ["b"]),
        (Strategy.ONE_FOR_ALL, [2, 2, 2], ["b", "c", "a"]),
        (Strategy.REST_FOR_ONE, [1, 2, 2], ["b", "c"]),
    ],
)
async def test_strategies_restart_the_right_children(
    autojump_clock: trio.testing.MockClock, strategy: Strategy, starts: list[int], stops_at_1: list[str]
) -> None:
    log = Log()
    children = [spec("a", log), spec("b", log, ("crash", 1), ("forever", 0)), spec("c", log)]
    sup = Supervisor("sup", children, strategy=strategy, backoff=EXACT)
    await run_for(10, sup)
    assert [len(log.times(n)) for n in "abc"] == starts
    assert [n for t, n, w in log.events if w == "stop" and t == 1] == stops_at_1
    restarted = [n for n in "abc" if len(log.times(n)) == 2]
    assert [n for t, n, w in log.events if w == "start" and t == 2] == restarted  # in start order, after 1 s
    assert [c.restarts for c in sup.statistics().children] == [s - 1 for s in starts]


@pytest.mark.parametrize(
    ("restart", "kind", "starts", "state"),
    [
        (Restart.PERMANENT, "crash", 2, ChildState.RUNNING),
        (Restart.PERMANENT, "return", 2, ChildState.RUNNING),
        (Restart.TRANSIENT, "crash", 2, ChildState.RUNNING),
        (Restart.TRANSIENT, "return", 1, ChildState.DONE),
        (Restart.TEMPORARY, "crash", 1, ChildState.DONE),
        (Restart.TEMPORARY, "return", 1, ChildState.DONE),
    ],
)
async def test_restart_types(
    autojump_clock: trio.testing.MockClock, restart: Restart, kind: str, starts: int, state: ChildState
) -> None:
    log = Log()
    sup = Supervisor("sup", [spec("w", log, (kind, 1), ("forever", 0), restart=restart)], backoff=EXACT)
    async with open_actor_system() as system:
        await system.start(sup)
        await trio.sleep(10)
        (child,) = sup.statistics().children
        assert (child.starts, child.state) == (starts, state)
    assert len(log.times("w")) == starts


async def test_temporary_sibling_is_stopped_but_not_restarted(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()
    children = [spec("b", log, ("crash", 1), ("forever", 0)), spec("helper", log, restart=Restart.TEMPORARY)]
    sup = Supervisor("sup", children, strategy=Strategy.ONE_FOR_ALL, backoff=EXACT)
    await run_for(10, sup)
    assert (log.times("helper"), log.times("helper", "stop")) == ([0], [1])
    assert len(log.times("b")) == 2


async def test_failure_before_ready_is_retried_and_later_children_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    children = [spec("feed", log, ("fail_start", 0.5), ("forever", 0)), spec("user", log)]
    sup = Supervisor("sup", children, backoff=EXACT)
    async with open_actor_system() as system:
        await system.start(sup)
        assert trio.current_time() == 1.5  # ready once every child is ready
        assert log.times("feed") == [0, 1.5]
        assert log.times("user") == [1.5]


async def test_escalation_restarts_the_subtree_in_the_parent(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), Bus()
    events = bus.subscribe("lifecycle")

    def exchange_tree() -> Supervisor:
        flaky = spec("flaky", log, ("crash", 0), ("crash", 0), ("crash", 0), ("forever", 0))
        return Supervisor("exchange", [flaky], max_restarts=1, window=10, backoff=EXACT)

    parent = Supervisor(
        "session",
        [ChildSpec("exchange", exchange_tree), spec("peer", log)],
        backoff=Backoff(initial=2, factor=2, max=100, jitter=0),
    )
    await run_for(20, parent, bus=bus)
    # exchange: crash at 0, restart at 1, crash again -> escalates at 1; session waits 2 s and rebuilds it.
    assert log.times("flaky") == [0, 1, 3, 4]
    assert log.times("peer") == [0]
    seen = [
        (type(e).__name__, getattr(e, "supervisor", ""), getattr(e, "actor", ""), getattr(e, "delay", None))
        for e in drain(events)
    ]
    assert seen == [
        ("ActorRestarted", "exchange", "flaky", 1.0),
        ("SupervisorEscalatedEvent", "exchange", "", None),
        ("ActorRestarted", "session", "exchange", 2.0),
        ("ActorRestarted", "exchange", "flaky", 1.0),
    ]
    assert parent.statistics().children[0].restarts == 1


async def test_shutdown_in_reverse_order_within_budgets(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()
    children = [
        spec("a", log, cleanup=30, shutdown=2),  # wants 30 s, gets its 2 s budget
        spec("b", log, cleanup=1),
        spec("c", log),
    ]
    sup = Supervisor("sup", children)
    await run_for(10, sup)
    assert [(t, n) for t, n, w in log.events if w == "stop"] == [(10, "c"), (11, "b"), (13, "a")]
    assert trio.current_time() == 13
    assert sup.statistics().shutdown_overruns == 0


async def test_overrunning_child_is_waited_for_and_counted(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()
    sup = Supervisor("sup", [spec("slow", log, cleanup=7, shutdown=2, stubborn=True)])
    await run_for(10, sup)
    assert log.times("slow", "stop") == [17]  # trio cannot kill a task: never two incarnations at once
    assert sup.statistics().shutdown_overruns == 1


def test_duplicate_child_names_are_a_config_error() -> None:
    log = Log()
    with pytest.raises(ConfigError):
        Supervisor("sup", [spec("a", log), spec("a", log)])


async def test_a_supervisor_runs_once(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()
    sup = Supervisor("sup", [spec("a", log)])
    await run_for(1, sup)
    with pytest.raises(ConfigError):
        await run_for(1, sup)


async def test_nested_trees_stop_depth_first_in_reverse(autojump_clock: trio.testing.MockClock) -> None:
    log = Log()

    def exchange_tree() -> Supervisor:
        return Supervisor("exchange", [spec("feed", log, cleanup=1), spec("orders", log, cleanup=1)])

    session = Supervisor("session", [ChildSpec("exchange", exchange_tree), spec("strategy", log, cleanup=1)])
    await run_for(10, session)
    assert [(t, n) for t, n, w in log.events if w == "stop"] == [
        (11, "strategy"),
        (12, "orders"),
        (13, "feed"),
    ]


async def test_escalation_before_ready_is_a_failed_start_for_the_parent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()

    def exchange_tree() -> Supervisor:
        feed = spec("feed", log, ("fail_start", 0), ("fail_start", 0), ("forever", 0))
        return Supervisor("exchange", [feed], max_restarts=1, window=10, backoff=EXACT)

    session = Supervisor(
        "session",
        [ChildSpec("exchange", exchange_tree), spec("strategy", log)],
        backoff=Backoff(initial=2, factor=2, max=100, jitter=0),
    )
    async with open_actor_system() as system:
        await system.start(session)
        assert trio.current_time() == 3  # feed fails at 0 and 1 (escalates), the session retries at 3
        assert log.times("feed") == [0, 1, 3]
        assert log.times("strategy") == [3]
        assert [c.starts for c in session.statistics().children] == [2, 1]
