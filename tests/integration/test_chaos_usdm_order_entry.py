"""Chaos on Binance USD-M with the orders over its WebSocket API (``/ws-fapi/v1``, ``order_entry = "websocket"``):
request faults aimed at ``WS order.place`` and ``WS order.modify`` hit them as the REST ones hit ``POST`` and
``PUT /fapi/v1/order``, and the session heals the same way: an answer lost with its connection, never sent, or a
5xx is an unknown outcome, resolved by client order id (an amendment's: by the order's state). At the quiet point
orders (terms included), fills, positions and wallets equal the engine's."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from clobactors.chaos import run_chaos
from clobactors.chaos_harness import market_makers, open_chaos
from clobactors.config import OrderEntry
from clobactors.messages import OrderOutcomeUnknown
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.strategies.market_making import MarketMaker, RequoteMode

EX = "binance-usdm"
WS = OrderEntry.WEBSOCKET
PLACE = "WS order.place"
MODIFY = "WS order.modify"


@pytest.mark.parametrize(
    ("seed", "rules", "requote"),
    [
        (1, (FaultRule(kind=FaultKind.LOST_ACK, target=PLACE, at=12.0),
             FaultRule(kind=FaultKind.HTTP_5XX, target=PLACE, at=18.0),
             FaultRule(kind=FaultKind.HTTP_TIMEOUT, target=PLACE, at=24.0)), RequoteMode.CANCEL_PLACE),
        (2, (FaultRule(kind=FaultKind.LOST_ACK, target=MODIFY, at=12.0),
             FaultRule(kind=FaultKind.HTTP_5XX, target=MODIFY, at=18.0),
             FaultRule(kind=FaultKind.HTTP_TIMEOUT, target=MODIFY, at=24.0)), RequoteMode.AMEND),
    ],
    ids=["place", "modify"],
)  # fmt: skip
async def test_request_faults_over_the_usdm_websocket_api_heal(
    autojump_clock: trio.testing.MockClock, seed: int, rules: tuple[FaultRule, ...], requote: RequoteMode
) -> None:
    plan = FaultPlan(rules=rules, seed=seed)
    made: list[MarketMaker] = []
    makers = functools.partial(market_makers, requote=requote, made=made)
    with trio.fail_after(3600):
        async with open_chaos(plan, exchange=EX, seed=seed, strategies=makers, order_entry=WS) as chaos:
            alarms = chaos.session.system.bus.subscribe(f"lifecycle.{EX}", name="test-unknown")
            await trio.sleep_until(chaos.injector.t0 + 60.0)
            point = await chaos.quiet_point(settle=15.0)
            assert point.settled and point.violations == (), [str(v) for v in point.violations]
            recoveries = chaos.recoveries()
            assert [r.fault for r in recoveries if not r.recovered] == []
            # Each fault hit its method and is judged by the order it was about.
            assert sorted((r.fault.kind, r.fault.probe) for r in recoveries) == sorted(
                (rule.kind, Probe.ORDER) for rule in rules
            )
            assert all(r.fault.target == f"{rules[0].target} {r.fault.client_order_id}" for r in recoveries)
            unknown = set()
            while True:
                try:
                    event = alarms.receive_nowait()
                except trio.WouldBlock:
                    break
                if isinstance(event, OrderOutcomeUnknown):
                    unknown.add(event.client_order_id)
            if requote is RequoteMode.CANCEL_PLACE:  # a placement of unknown outcome, resolved by its id
                assert {r.fault.client_order_id for r in recoveries} <= unknown
            open_on_exchange = chaos.sim.engine.open_orders(chaos.sim.account_id, "BTCUSDT")
            assert len(open_on_exchange) == 2  # a bid and an ask, after all that
    if requote is RequoteMode.AMEND:
        assert sum(m.statistics().amends for m in made) > 10


async def test_generated_amend_schedule_over_the_usdm_websocket_api(autojump_clock: trio.testing.MockClock) -> None:
    """A generated mix of request kinds, aimed at the WebSocket API (placements, every request, amendments)."""
    kinds = (FaultKind.LOST_ACK, FaultKind.HTTP_5XX, FaultKind.HTTP_TIMEOUT, FaultKind.REJECT_ORDER,
             FaultKind.HTTP_429)  # fmt: skip
    with trio.fail_after(3600):
        report = await run_chaos(
            exchange=EX, seconds=120.0, seed=3, kinds=kinds, quiet_every=120.0, settle=60.0,
            requote=RequoteMode.AMEND, order_entry=WS,
        )  # fmt: skip
    assert report.ok, "\n".join(report.lines())
    assert report.order_entry is WS and report.recoveries
    assert all(r.recovered for r in report.recoveries)
    assert all(r.fault.target.startswith("WS ") for r in report.recoveries)  # none on REST order routes
    assert any(r.fault.target.startswith(MODIFY) for r in report.recoveries)
