"""Chaos with the orders over Binance spot's WebSocket API (``order_entry = "websocket"``): request faults aimed
at ``"WS <method>"`` targets hit ``order.place`` / ``order.cancel`` / ``order.cancelReplace`` as the REST ones hit
``POST``/``DELETE /api/v3/order``, and the session heals the same way: an answer lost with its connection or
never sent is an unknown outcome resolved by client order id, a refusal is a rejection, 429/418 pause every
request, 5xx is unknown. At the quiet point the session equals the engine (orders, fills, balances, books).
"""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from clobactors.chaos import run_chaos
from clobactors.chaos_harness import market_makers, open_chaos
from clobactors.cli import main
from clobactors.config import OrderEntry
from clobactors.messages import OrderOutcomeUnknown
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.strategies.market_making import RequoteMode

WS = OrderEntry.WEBSOCKET


@pytest.mark.parametrize(
    ("seed", "rule"),
    [
        (1, FaultRule(kind=FaultKind.LOST_ACK, target="WS order.place", at=12.0)),
        (2, FaultRule(kind=FaultKind.LOST_ACK, target="WS order.cancel", at=12.0)),
        (3, FaultRule(kind=FaultKind.HTTP_TIMEOUT, target="WS order.place", at=12.0)),
        (4, FaultRule(kind=FaultKind.HTTP_5XX, target="WS order.cancel", at=12.0)),
        (5, FaultRule(kind=FaultKind.REJECT_ORDER, target="WS order.place", at=12.0)),
        (6, FaultRule(kind=FaultKind.HTTP_429, target="WS *", at=12.0, retry_after=3.0)),
        (7, FaultRule(kind=FaultKind.HTTP_418, target="WS order.*", at=12.0, retry_after=10.0)),
        (8, FaultRule(kind=FaultKind.HTTP_LATENCY, target="WS *", at=12.0, duration=5.0, delay=0.4, jitter=0.4)),
    ],
    ids=lambda v: v.kind.value + " " + v.target if isinstance(v, FaultRule) else str(v),
)
async def test_each_request_fault_over_the_websocket_api_heals(
    autojump_clock: trio.testing.MockClock, seed: int, rule: FaultRule
) -> None:
    plan = FaultPlan(rules=(rule,), seed=seed)
    with trio.fail_after(3600):
        async with open_chaos(plan, seed=seed, order_entry=WS) as chaos:
            alarms = chaos.session.system.bus.subscribe("lifecycle.binance", name="test-unknown")
            await trio.sleep_until(chaos.injector.t0 + 40.0)
            point = await chaos.quiet_point(settle=15.0)
            assert point.settled and point.violations == (), [str(v) for v in point.violations]
            (recovery,) = chaos.recoveries()
            fault = recovery.fault
            assert fault.kind is rule.kind and fault.target.startswith("WS ")  # WebSocket API requests
            window = rule.kind is FaultKind.HTTP_LATENCY
            assert fault.target == "WS *" if window else fault.target.startswith("WS order.")  # the request hit
            assert recovery.recovered, fault
            unknown = []
            while True:
                try:
                    event = alarms.receive_nowait()
                except trio.WouldBlock:
                    break
                if isinstance(event, OrderOutcomeUnknown):
                    unknown.append(event.client_order_id)
            if rule.kind in (FaultKind.LOST_ACK, FaultKind.HTTP_TIMEOUT, FaultKind.HTTP_5XX):
                assert fault.probe is Probe.ORDER and fault.client_order_id in unknown  # resolved by its id
            elif rule.kind is FaultKind.REJECT_ORDER:
                assert fault.probe is Probe.ORDER
                history = chaos.observer.order_history[("binance", fault.client_order_id)]
                assert [status.value for _, status in history][-1] == "rejected"
            else:
                assert fault.probe is Probe.REST and unknown == []


async def test_lost_cancel_replace_answer_heals_by_the_replaced_order(autojump_clock: trio.testing.MockClock) -> None:
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.LOST_ACK, target="WS order.cancelReplace", at=12.0),), seed=2)
    makers = functools.partial(market_makers, requote=RequoteMode.AMEND)
    with trio.fail_after(3600):
        async with open_chaos(plan, seed=2, strategies=makers, order_entry=WS) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 40.0)
            point = await chaos.quiet_point(settle=15.0)
            assert point.violations == (), [str(v) for v in point.violations]
            (recovery,) = chaos.recoveries()
            assert recovery.recovered and recovery.fault.probe is Probe.ORDER
            assert recovery.fault.target == f"WS order.cancelReplace {recovery.fault.client_order_id}"


@pytest.mark.parametrize("seed", [1, 2])
async def test_generated_schedule_over_the_websocket_api_keeps_the_invariants(
    autojump_clock: trio.testing.MockClock, seed: int
) -> None:
    """The default mix (every kind), its request faults aimed at the WebSocket API: nothing lost, all healed."""
    with trio.fail_after(3600):
        report = await run_chaos(seconds=200.0, seed=seed, quiet_every=100.0, settle=40.0, order_entry=WS)
    assert report.ok, "\n".join(report.lines())
    assert report.order_entry is WS
    ws_faults = [r.fault for r in report.recoveries if r.fault.target.startswith("WS ")]
    assert ws_faults and {f.kind for f in ws_faults} <= {FaultKind.LOST_ACK, FaultKind.REJECT_ORDER,
        FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_5XX, FaultKind.HTTP_TIMEOUT,
        FaultKind.HTTP_LATENCY}  # fmt: skip
    assert not any(r.fault.target.startswith(("POST /api/v3/order", "DELETE /api/v3/order")) for r in report.recoveries)


def test_cli_runs_with_orders_over_the_websocket_api(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chaos", "--order-entry", "websocket", "--seconds", "40", "--seed", "2", "--faults", "lost_ack,http_5xx",
            "--quiet-every", "40"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "orders over websocket" in out and "quiet points 1, invariant violations 0" in out
    kinds = ("lost_ack", "http_5xx")
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines() if line.startswith(kinds)}
    assert rows and all(injected == recovered for injected, recovered in rows.values())
    usdm = ["chaos", "--exchange", "binance-usdm", "--order-entry", "websocket", "--seconds", "40", "--seed", "1",
            "--faults", "lost_ack,http_timeout", "--quiet-every", "40", "--requote", "amend"]  # fmt: skip
    assert main(usdm) == 0  # USD-M's /ws-fapi/v1 (tests/integration/test_chaos_usdm_order_entry.py)
    out = capsys.readouterr().out
    assert "orders over websocket" in out and "quiet points 1, invariant violations 0" in out
