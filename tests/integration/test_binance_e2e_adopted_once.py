"""End to end: an order of an earlier session that part filled while no session ran is announced once.

Session 1 leaves four orders open on the simulator and stops (the scenario of ``test_binance_e2e_restart``);
while no session runs, C part fills. Session 2's start reconciliation lists C open (partially filled, 0.004),
adopts it and publishes that state, then merges the fill fetched for its instrument: the Fill is published,
and no second ``partially_filled`` update, since the report had already said as much. With and without the
order journal.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import trio
import trio.testing

from clobactors.messages import Fill, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.sim.server import open_simulator
from tests.integration.binance_e2e_support import SYMBOL, open_counterparty, open_e2e_session, open_orders
from tests.integration.test_binance_e2e_restart import _leave_orders_and_move_on

S = OrderStatus


@pytest.mark.parametrize("journaled", [False, True])
async def test_an_order_adopted_with_its_fill_is_announced_once(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, journaled: bool
) -> None:
    journal = str(tmp_path / "binance-orders.jsonl") if journaled else ""
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            ids = await _leave_orders_and_move_on(sim, other, journal)
            c_trade = next(t for t in sim.engine.trades_for(sim.account_id, SYMBOL) if t.client_order_id == ids["C"])
            async with open_e2e_session(sim, order_journal=journal) as (session, bus):
                (update,) = bus.updates(ids["C"])
                assert (update.status, update.filled_size, update.avg_fill_price) == (
                    S.PARTIALLY_FILLED,
                    D("0.004"),
                    D("60100"),
                )
                (fill,) = bus.fills(ids["C"])
                assert (fill.trade_id, fill.size, fill.price) == (str(c_trade.trade_id), D("0.004"), D("60100"))
                # Listed state first, then the fill that report already counted; nothing after it.
                mine = [e for e in bus.events if isinstance(e, Fill | OrderUpdate) and e.client_order_id == ids["C"]]
                assert mine == [update, fill]
                (listed,) = [o for o in await open_orders(session) if o.client_order_id == ids["C"]]
                assert (listed.status, listed.filled_size) == (S.PARTIALLY_FILLED, D("0.004"))
                # Filling the rest publishes its Fill and then ``filled``, as for any order.
                await other.order("BUY", "LIMIT", D("0.006"), D("60100"), tif="IOC")
                end = await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == ids["C"] and u.status is S.FILLED)
                await trio.sleep(2)  # the REST answer and the stream's reports of the trade have all landed
                assert bus.statuses(ids["C"]) == [S.PARTIALLY_FILLED, S.FILLED]
                assert len(bus.fills(ids["C"])) == 2 and end.filled_size == D("0.01")
