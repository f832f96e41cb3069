"""Chaos on Binance spot with the market makers amending their quotes (``RequoteMode.AMEND``, a cancel-replace on
spot): a fault aimed at ``POST /api/v3/order/cancelReplace`` is judged by the order being replaced
(``cancelOrigClientOrderId``), recovered once the session knows that order's state, not at the route's next
success."""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl

import trio
import trio.testing

from clobactors.chaos_harness import market_makers, open_chaos
from clobactors.exchanges.binance.face_faults import BINANCE_VOCABULARY
from clobactors.model import TERMINAL_STATUSES
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.sim.http_server import HttpRequest
from clobactors.strategies.market_making import MarketMaker, RequoteMode

REPLACE = "POST /api/v3/order/cancelReplace"


def _request(method: str, path: str, query: str = "", body: bytes = b"") -> HttpRequest:
    params = tuple(parse_qsl(query, keep_blank_values=True))
    return HttpRequest(method, path, query, params, (), body, ("127.0.0.1", 5000))


def test_cancel_replace_is_probed_by_the_order_it_replaces() -> None:
    vocab, path = BINANCE_VOCABULARY, "/api/v3/order/cancelReplace"
    query = "symbol=BTCUSDT&cancelReplaceMode=STOP_ON_FAILURE&cancelOrigClientOrderId=old-1&newClientOrderId=new-2"
    assert vocab.order_client_id(_request("POST", path, query)) == "old-1"  # not the replacement's id
    assert vocab.order_client_id(_request("POST", path, body=query.encode())) == "old-1"  # form body alike
    # Without the original's client id (by exchange id only) there is no order probe: judged by REST.
    assert vocab.order_client_id(_request("POST", path, "cancelOrderId=7&newClientOrderId=new-2")) is None
    assert vocab.order_client_id(_request("GET", path, query)) is None
    # The other order routes are as before.
    assert vocab.order_client_id(_request("POST", "/api/v3/order", "newClientOrderId=a")) == "a"
    assert vocab.order_client_id(_request("DELETE", "/api/v3/order", "origClientOrderId=b")) == "b"
    assert vocab.order_client_id(_request("GET", "/api/v3/order", "origClientOrderId=b")) == "b"
    assert vocab.order_client_id(_request("GET", "/api/v3/openOrders", "symbol=BTCUSDT")) is None


async def test_lost_ack_on_a_cancel_replace_heals_by_its_order(autojump_clock: trio.testing.MockClock) -> None:
    """The maker's next cancel-replace executes with its answer lost: the fault names the replaced order, and
    it recovers once the session learns that order's real state; the invariants hold at the quiet point."""
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.LOST_ACK, target=REPLACE, at=12.0),), seed=2)
    made: list[MarketMaker] = []
    makers = functools.partial(market_makers, requote=RequoteMode.AMEND, made=made)
    with trio.fail_after(3600):
        async with open_chaos(plan, exchange="binance", seed=2, strategies=makers) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 40.0)
            point = await chaos.quiet_point(settle=15.0)
            assert point.violations == (), [str(v) for v in point.violations]
            recoveries = chaos.recoveries()
            assert len(recoveries) == 1
            (recovery,) = recoveries
            fault = recovery.fault
            assert (fault.kind, fault.probe) == (FaultKind.LOST_ACK, Probe.ORDER)
            assert fault.client_order_id and fault.target == f"{REPLACE} {fault.client_order_id}"
            # Recovered by a settled state of that order the session saw after the fault, not absorbed.
            assert recovery.recovered and recovery.disrupted and recovery.time_to_recover is not None
            history = chaos.observer.order_history[("binance", fault.client_order_id)]
            assert any(t >= fault.at and status in TERMINAL_STATUSES for t, status in history)
            # The probe is the order replaced: the exchange holds it, ended (cancelled by the replacement).
            replaced = chaos.sim.engine.order(chaos.sim.account_id, "BTCUSDT", client_order_id=fault.client_order_id)
            assert replaced is not None and replaced.status in TERMINAL_STATUSES
            open_on_exchange = chaos.sim.engine.open_orders(chaos.sim.account_id, "BTCUSDT")
            assert len(open_on_exchange) == 2  # a bid and an ask: the replacement was followed
    stats = [m.statistics() for m in made]
    assert len(stats) == 1 and stats[0].amends > 5
