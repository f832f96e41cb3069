"""Hypothesis builds fault schedules step by step; each runs against a live session, and the invariants
must hold at every quiet point (books, orders, fills, balances equal the simulator's), every fault healed.

The state machine only *writes* the schedule (its rules append faults, let time pass, or ask for a quiet
point); ``teardown`` plays it in one trio run under ``MockClock``, so a failure shrinks to the shortest
schedule that breaks an invariant.
"""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from clobactors.chaos_harness import open_chaos
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule

#: Seconds a quiet point lets the session heal: long enough to notice a half-open socket when there was one.
SETTLE, SETTLE_HALF_OPEN = 10.0, 75.0


class FaultSchedule(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 8.0
        # Not ``self.rules``: RuleBasedStateMachine keeps its own rule list under that name.
        self.faults: list[FaultRule] = []
        self.checks: list[tuple[float, float]] = []
        self.half_open = False

    @rule(kind=st.sampled_from(sorted(FaultKind)), gap=st.floats(0.5, 6.0))
    def inject(self, kind: FaultKind, gap: float) -> None:
        self.now += gap
        self.faults.append(FaultRule.default(kind, round(self.now, 3)))
        self.half_open |= kind is FaultKind.WS_HALF_OPEN

    @rule(seconds=st.floats(1.0, 15.0))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def quiet_point(self) -> None:
        self._check()

    def _check(self) -> None:
        settle = SETTLE_HALF_OPEN if self.half_open else SETTLE
        self.checks.append((self.now, settle))
        self.now += settle + 30.0  # no fault inside the quiet point
        self.half_open = False

    def teardown(self) -> None:
        self._check()
        trio.run(self._play, clock=trio.testing.MockClock(autojump_threshold=0))

    async def _play(self) -> None:
        with trio.fail_after(3600):
            async with open_chaos(FaultPlan(rules=tuple(self.faults), seed=5), seed=3) as chaos:
                for at, settle in self.checks:
                    await trio.sleep_until(chaos.injector.t0 + at)
                    point = await chaos.quiet_point(settle=settle)
                    assert point.violations == (), [str(v) for v in point.violations]
                unhealed = [r.fault for r in chaos.recoveries() if not r.recovered]
                assert unhealed == []


FaultSchedule.TestCase.settings = settings(
    max_examples=3, stateful_step_count=5, deadline=None, suppress_health_check=list(HealthCheck)
)
TestFaultSchedules = FaultSchedule.TestCase
