"""A cancel of an order whose create outcome is unknown, refused while the order is being resolved.

Found by ``clobactors chaos --order-entry websocket`` (dense WebSocket API request faults): the resolver of an
``unknown`` order stopped when it found the order ``pending_cancel`` (a strategy cancelling it meanwhile); the
cancel was then refused (429/418), the order went back to ``unknown``, and nobody queried it again: it stayed
``unknown`` at every later quiet point. A refused cancel now hands the order back to a resolver.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from clobactors.errors import RateLimited
from clobactors.model import OrderStatus
from tests.actors.fake_exchange import FakeExchange, Fault
from tests.actors.test_order_manager import open_manager, statuses


async def test_unknown_order_is_resolved_after_its_cancel_is_refused(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, read_timeout=2.0) as h:
        exchange.fault("POST", "/order", Fault.SILENT)  # never placed; the create times out: unknown
        exchange.fault("GET", "/order", Fault.RATE_LIMITED)  # the first query pauses every request 3 s
        exchange.fault("DELETE", "/order", Fault.RATE_LIMITED)  # the cancel, sent after the pause: refused
        placed = await h.place("1", "100")
        assert placed.status is OrderStatus.UNKNOWN and trio.current_time() == 2.0
        await trio.sleep(0.2)  # the resolver's query was refused; it sleeps 0.5 s before asking again
        with pytest.raises(RateLimited):
            await h.cancel(placed.client_order_id)  # pending cancel while the resolver wakes, then refused
        await trio.sleep(30.0)
        cid = placed.client_order_id
        assert statuses(h.drain(), cid)[-1] is OrderStatus.REJECTED  # queried again: never placed
        assert h.manager.statistics().resolving == 0
        assert len(exchange.requests("DELETE", "/order")) == 1
