"""Recovery under injected faults: a session with the market maker against the simulator, over loopback.

Each test injects faults with a plan, lets the session heal, then holds a quiet point where the session's
books, orders, fills and balances must equal the simulator's.
"""

from __future__ import annotations

from collections import Counter

import trio
import trio.testing

from clobactors.chaos_harness import ChaosHarness, open_chaos
from clobactors.invariants import book_key, user_key
from clobactors.messages import OrderOutcomeUnknown
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe


def plan(*rules: FaultRule) -> FaultPlan:
    return FaultPlan(rules=rules, seed=1)


async def settle_and_check(chaos: ChaosHarness, *, settle: float = 10.0) -> None:
    point = await chaos.quiet_point(settle=settle)
    assert point.settled and point.violations == (), [str(v) for v in point.violations]
    unrecovered = [r.fault for r in chaos.recoveries() if not r.recovered]
    assert unrecovered == []


async def test_gap_resyncs_only_the_affected_instrument(autojump_clock: trio.testing.MockClock) -> None:
    rule = FaultRule(kind=FaultKind.DROP_FRAMES, target="m:btcusdt@depth*", at=20.0)
    with trio.fail_after(600):
        async with open_chaos(plan(rule), symbols=("BTCUSDT", "ETHUSDT")) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 40.0)
            btc = chaos.observer.health[book_key("binance", "BTC-USDT")]
            eth = chaos.observer.health[book_key("binance", "ETH-USDT")]
            assert [healthy for _, healthy in btc] == [True, False, True]
            assert 20.0 <= btc[1][0] <= btc[2][0] < 21.0  # stale at the next delta, resynced at once
            assert [healthy for _, healthy in eth] == [True]  # the other book never noticed
            (recovery,) = chaos.recoveries()
            assert recovery.disrupted and recovery.time_to_recover is not None and recovery.time_to_recover < 1.0
            await settle_and_check(chaos)


async def test_half_open_feed_goes_stale_and_comes_back(autojump_clock: trio.testing.MockClock) -> None:
    rule = FaultRule(kind=FaultKind.WS_HALF_OPEN, target="m:*", at=20.0)
    with trio.fail_after(600):
        async with open_chaos(plan(rule)) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 100.0)
            timeline = chaos.observer.health[book_key("binance", "BTC-USDT")]
            assert [healthy for _, healthy in timeline] == [True, False, True]
            # Noticed within a minute: the server's heartbeat drops a peer that stopped answering pings (60 s
            # after the last pong), or the client's idle timeout fires (60 s after the last frame).
            assert 20.0 + 40.0 <= timeline[1][0] <= 20.0 + 60.5
            (recovery,) = chaos.recoveries()
            assert recovery.time_to_recover is not None and 40.0 < recovery.time_to_recover < 62.0
            assert chaos.observer.healthy(user_key("binance"))  # the user stream was never touched
            await settle_and_check(chaos)


async def test_order_faults_are_resolved_by_client_order_id(autojump_clock: trio.testing.MockClock) -> None:
    rules = (
        FaultRule(kind=FaultKind.LOST_ACK, at=15.0),
        FaultRule(kind=FaultKind.HTTP_TIMEOUT, target="POST /api/v3/order", at=25.0),
        FaultRule(kind=FaultKind.HTTP_5XX, target="DELETE /api/v3/order", at=35.0),
        FaultRule(kind=FaultKind.REJECT_ORDER, at=45.0),
        FaultRule(kind=FaultKind.LOST_ACK, target="DELETE /api/v3/order", at=55.0),
    )
    with trio.fail_after(600):
        async with open_chaos(plan(*rules)) as chaos:
            unknown = chaos.session.system.bus.subscribe("lifecycle.binance", name="test-unknown")
            await trio.sleep_until(chaos.injector.t0 + 90.0)
            faults = chaos.injector.log.faults
            # Each rule fires on the first matching request after its time; which of two armed rules meets a
            # request first depends on when the strategy trades (several frames in one read may conflate), so
            # compare the faults as a multiset, not in order.
            assert Counter(f.kind for f in faults) == Counter(r.kind for r in rules)
            assert all(f.probe is Probe.ORDER and f.client_order_id for f in faults)
            timed_out = next(f for f in faults if f.kind is FaultKind.HTTP_TIMEOUT)
            outcomes = []
            while True:
                try:
                    event = unknown.receive_nowait()
                except trio.WouldBlock:
                    break
                if isinstance(event, OrderOutcomeUnknown):
                    outcomes.append(event.client_order_id)
            assert timed_out.client_order_id in outcomes  # the timed-out create was unknown, then resolved
            await settle_and_check(chaos)


async def test_rate_limits_clock_skew_and_user_stream_end(autojump_clock: trio.testing.MockClock) -> None:
    rules = (
        FaultRule(kind=FaultKind.HTTP_429, at=12.0, retry_after=3.0),
        FaultRule(kind=FaultKind.HTTP_418, at=25.0, retry_after=10.0),
        FaultRule(kind=FaultKind.CLOCK_SKEW, at=45.0, skew=-7.0),
        FaultRule(kind=FaultKind.USER_STREAM_END, at=55.0),
        FaultRule(kind=FaultKind.SLOW_SNAPSHOT, at=60.0, delay=5.0),
        FaultRule(kind=FaultKind.WS_ABORT, target="m:*", at=61.0),
    )
    with trio.fail_after(600):
        async with open_chaos(plan(*rules)) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 90.0)
            verdicts = {r.fault.kind: r for r in chaos.recoveries()}
            assert set(verdicts) == {r.kind for r in rules}
            user = chaos.observer.health[user_key("binance")]
            assert [healthy for t, healthy in user if t >= 55.0] == [False, True]
            slow = verdicts[FaultKind.SLOW_SNAPSHOT]  # the resync after the abort waited for the slow snapshot
            assert slow.time_to_recover is not None and slow.time_to_recover >= 5.0
            await settle_and_check(chaos)
