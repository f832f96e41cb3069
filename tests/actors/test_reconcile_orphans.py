"""Reconciliation resolves fills of orders it does not track: orders that ended while no session ran.

The fills come from the exchange's trade list and name an order no open-order list names; reconciliation
queries each such order by the exchange's id, adopts it with its reported state and publishes its fills
before its final status.
"""

from __future__ import annotations

from decimal import Decimal

import trio
import trio.testing

from clobactors.actors.order_manager import Reconcile, ReconcileSummary
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import OrderStatus
from tests.actors.fake_exchange import INSTRUMENT, FakeExchange
from tests.actors.test_order_manager import open_manager, statuses

D = Decimal
S = OrderStatus


async def test_fills_of_orders_that_ended_meanwhile_are_resolved(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    exchange.add_order("filled-earlier", price="99")
    exchange.fill("filled-earlier", "1", "99")
    exchange.add_order("half-then-cancelled", size="2", price="98")
    exchange.fill("half-then-cancelled", "1", "98")
    exchange.orders["half-then-cancelled"].status = "cancelled"
    exchange.add_order("forgotten", price="97")
    exchange.fill("forgotten", "1", "97")
    forgotten_oid = exchange.orders.pop("forgotten").oid  # the exchange no longer answers about it
    async with open_manager(exchange, instruments=(INSTRUMENT,)) as h:  # fills fetched with no order open
        assert await h.open_orders() == {}  # answered once the start-up reconciliation is done
        events = h.drain()
        for cid, status, filled in (("filled-earlier", S.FILLED, D(1)), ("half-then-cancelled", S.CANCELLED, D(1))):
            mine = [e for e in events if isinstance(e, Fill | OrderUpdate) and e.client_order_id == cid]
            assert [type(e) for e in mine] == [Fill, OrderUpdate]  # the fill first, then the final state once
            update = mine[1]
            assert isinstance(update, OrderUpdate)
            assert (update.status, update.filled_size, update.exchange_order_id) == (
                status,
                filled,
                exchange.orders[cid].oid,
            )
        assert statuses(events, "forgotten") == []
        queried = [p.get("oid") for p in exchange.requests("GET", "/order")]
        ended = [exchange.orders["filled-earlier"].oid, exchange.orders["half-then-cancelled"].oid]
        assert queried == [*ended, forgotten_oid]
        assert h.manager.statistics().adopted == 2

        # Asking again publishes nothing new; the unknown one stays an orphan (asked about again).
        summary = await h.ask(Reconcile(reason="again"), ReconcileSummary)
        assert summary == ReconcileSummary(balances=0, open_orders=0, adopted=0, fills=3, vanished=0, resolved=0)
        assert [e for e in h.drain() if isinstance(e, Fill | OrderUpdate)] == []
