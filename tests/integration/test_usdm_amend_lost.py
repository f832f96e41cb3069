"""End to end over loopback: a USD-M amendment whose answer is lost (``PUT /fapi/v1/order`` executed, then the
connection drops before the answer).

The order manager cannot know whether the amendment happened, so it queries the order and merges the report:
the ask answers with the exchange's terms, and the amendment is published once (not again when the stream's
AMENDMENT report arrives).
"""

from __future__ import annotations

from decimal import Decimal as D

import trio
import trio.testing

from clobactors.actors.bus import Bus
from clobactors.actors.order_messages import GetOpenOrders
from clobactors.messages import OrderUpdate
from clobactors.model import OrderStatus
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import open_simulator
from tests.integration.test_usdm_amend import SYMBOL, modify, place, updates
from tests.integration.test_usdm_session import BTC, EX, usdm_session

S = OrderStatus
#: Armed from the start: the first amendment is executed and its answer lost.
LOST_AMEND = FaultPlan(rules=(FaultRule(kind=FaultKind.LOST_ACK, target="PUT /fapi/v1/order", at=0.0),))


async def test_amendment_with_a_lost_answer_is_learned_by_query(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False, faults=LOST_AMEND) as sim:
            bus = Bus()
            sub = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            seen: list[OrderUpdate] = []
            async with usdm_session(sim, bus) as session:
                orders = session.names(EX).orders
                placed = await session.ask(orders, place("0.01", "60000"))
                assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
                oid = placed.client_order_id

                moved = await session.ask(orders, modify(oid, price="60005", size="0.02"))
                assert isinstance(moved, OrderUpdate)
                assert (moved.status, moved.price, moved.size) == (S.OPEN, D("60005"), D("0.02"))
                injector = sim.faults
                assert isinstance(injector, FaultInjector)
                assert [f.kind for f in injector.log.faults] == [FaultKind.LOST_ACK]  # the answer was lost

                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=oid)
                assert engine is not None and (engine.price, engine.size) == (D("60005"), D("0.02"))
                await trio.sleep(2)  # the stream's AMENDMENT report has arrived by now

                mine = [u for u in updates(sub, seen) if u.client_order_id == oid]
                assert [(u.status, u.price, u.size) for u in mine] == [
                    (S.PENDING_CREATE, D("60000"), D("0.01")),
                    (S.OPEN, D("60000"), D("0.01")),
                    (S.OPEN, D("60005"), D("0.02")),
                ]
                snapshots = await session.ask(orders, GetOpenOrders(instrument=BTC))
                assert isinstance(snapshots, tuple)
                (view,) = [o for o in snapshots if o.client_order_id == oid]
                assert (view.price, view.size) == (D("60005"), D("0.02"))
