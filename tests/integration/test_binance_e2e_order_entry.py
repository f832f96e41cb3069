"""End to end: orders over Binance's WebSocket API (``order_entry = "websocket"``) against the simulator.

The same lifecycle as over REST (place, partial fill, cancel-replace, cancel, a refusal), with the requests
carried by the order-entry lane: the simulator's REST counter does not move while orders are placed, changed and
cancelled, and what the bus says matches the engine.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.session import Session
from clobactors.config import OrderEntry
from clobactors.errors import InsufficientBalance
from clobactors.messages import CancelOrder, ModifyOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.server import open_simulator
from tests.integration.binance_e2e_support import (
    EXCHANGE,
    INSTRUMENT,
    SYMBOL,
    assert_balances_converge,
    open_counterparty,
    open_e2e_session,
)

S = OrderStatus
WS = OrderEntry.WEBSOCKET


def place(side: Side, size: str, price: str) -> PlaceOrder:
    return PlaceOrder(
        exchange=EXCHANGE, instrument=INSTRUMENT, side=side, order_type=OrderType.LIMIT, size=D(size), price=D(price)
    )


async def lane_up(session: Session) -> None:
    """The order-entry actor is ready once its first connection is up, so a started session has its lane."""
    assert session.links[EXCHANGE].lane is not None


async def test_an_order_lifecycle_over_the_websocket_api(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=[SYMBOL], flow=False) as sim,
            open_counterparty(sim) as other,
            open_e2e_session(sim, order_entry=WS) as (session, bus),
        ):
            await lane_up(session)
            orders = session.names(EXCHANGE).orders
            await assert_balances_converge(session, sim)
            rest_before = sim.statistics().rest_requests
            lane = session.links[EXCHANGE].lane
            assert lane is not None

            placed = await session.ask(orders, place(Side.BUY, "0.01", "60000"))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            bid = placed.client_order_id
            on_engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=bid)
            assert on_engine is not None and str(on_engine.order_id) == placed.exchange_order_id

            assert sim.statistics().rest_requests == rest_before  # the placement went over the lane

            await other.order("SELL", "LIMIT", D("0.004"), D("60000"), tif="IOC")  # the counterparty uses REST
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == bid and u.status is S.PARTIALLY_FILLED)
            rest_before = sim.statistics().rest_requests

            moved = await session.ask(
                orders, ModifyOrder(exchange=EXCHANGE, instrument=INSTRUMENT, client_order_id=bid, new_price=D("60001"))
            )
            assert isinstance(moved, OrderUpdate) and moved.status is S.OPEN and moved.price == D("60001")
            second = moved.client_order_id
            assert moved.size == D("0.006")  # what was left of the first order

            cancelled = await session.ask(
                orders, CancelOrder(exchange=EXCHANGE, instrument=INSTRUMENT, client_order_id=second)
            )
            assert isinstance(cancelled, OrderUpdate) and cancelled.status is S.CANCELLED
            engine_second = sim.engine.order(sim.account_id, SYMBOL, client_order_id=second)
            assert engine_second is not None and engine_second.status is S.CANCELLED

            assert sim.statistics().rest_requests == rest_before  # so did the cancel-replace and the cancel
            # The answer may come before the user stream's report (Binance orders neither): wait for the report.
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == bid and u.status is S.CANCELLED)
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == second and u.status is S.CANCELLED)
            assert lane.statistics().answered >= 3 and lane.statistics().failed == 0
            assert bus.statuses(bid) == [S.PENDING_CREATE, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.CANCELLED]
            assert bus.statuses(second) == [S.OPEN, S.PENDING_CANCEL, S.CANCELLED]
            await assert_balances_converge(session, sim)
            assert sim.engine.balance(sim.account_id, "USDT").locked == 0


async def test_a_refusal_over_the_websocket_api_is_the_rest_refusal(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=[SYMBOL], flow=False) as sim,
            open_e2e_session(sim, order_entry=WS) as (session, bus),
        ):
            await lane_up(session)
            orders = session.names(EXCHANGE).orders
            with pytest.raises(InsufficientBalance):
                await session.ask(orders, place(Side.BUY, "1000", "60000"))
            refused = await bus.wait_for(OrderUpdate, lambda u: u.status is S.REJECTED)
            assert refused.reason
            assert not sim.engine.open_orders(sim.account_id, SYMBOL)
