"""End to end: ModifyOrder as a Binance spot cancel-replace, through a session's order manager against the
simulator over loopback: re-price, re-size, the replacement refused, a filled order, and the stream reports.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.errors import ConfigError, OrderRejected, TradingRuleViolation, UnknownOrder
from clobactors.messages import ModifyOrder, OrderUpdate, PlaceOrder
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


def place(side: Side, size: str, price: str, order_type: OrderType = OrderType.LIMIT) -> PlaceOrder:
    return PlaceOrder(
        exchange=EXCHANGE, instrument=INSTRUMENT, side=side, order_type=order_type, size=D(size), price=D(price)
    )


def modify(client_order_id: str, price: str | None = None, size: str | None = None) -> ModifyOrder:
    return ModifyOrder(
        exchange=EXCHANGE,
        instrument=INSTRUMENT,
        client_order_id=client_order_id,
        new_price=None if price is None else D(price),
        new_size=None if size is None else D(size),
    )


async def test_modify_price_then_size_replaces_the_order(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=["BTCUSDT"], flow=False) as sim,
            open_e2e_session(sim) as (session, bus),
        ):
            orders = session.names(EXCHANGE).orders
            placed = await session.ask(orders, place(Side.BUY, "0.01", "60000"))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            first = placed.client_order_id
            await assert_balances_converge(session, sim)

            # Re-price: the original ends cancelled (replaced), a new order rests at the new price.
            moved = await session.ask(orders, modify(first, price="60001.5"))
            assert isinstance(moved, OrderUpdate) and moved.status is S.OPEN
            second = moved.client_order_id
            assert second != first and (moved.price, moved.size) == (D("60001.5"), D("0.01"))
            old = sim.engine.order(sim.account_id, SYMBOL, client_order_id=first)
            new = sim.engine.order(sim.account_id, SYMBOL, client_order_id=second)
            assert old is not None and old.status is S.CANCELLED
            assert new is not None and new.status is S.OPEN and str(new.order_id) == moved.exchange_order_id
            ended = await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == first and u.status is S.CANCELLED)
            assert ended.reason == f"replaced by {second}"
            await assert_balances_converge(session, sim)
            assert sim.engine.balance(sim.account_id, "USDT").locked == D("600.015")

            # Re-size: the new total size.
            grown = await session.ask(orders, modify(second, size="0.02"))
            assert isinstance(grown, OrderUpdate) and grown.status is S.OPEN
            third = grown.client_order_id
            assert (grown.price, grown.size) == (D("60001.5"), D("0.02"))
            await assert_balances_converge(session, sim)
            assert sim.engine.balance(sim.account_id, "USDT").locked == D("1200.03")

            # The stream's reports reach the bus once each (the REST answer and the stream merge).
            assert bus.statuses(first) == [S.PENDING_CREATE, S.OPEN, S.PENDING_CANCEL, S.CANCELLED]
            assert bus.statuses(second) == [S.OPEN, S.PENDING_CANCEL, S.CANCELLED]
            assert bus.statuses(third) == [S.OPEN]
            (live,) = sim.engine.open_orders(sim.account_id, SYMBOL)
            assert live.client_order_id == third


async def test_modify_refusals(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
            open_e2e_session(sim) as (session, bus),
        ):
            orders = session.names(EXCHANGE).orders
            placed = await session.ask(orders, place(Side.SELL, "0.005", "60010"))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            ask = placed.client_order_id

            with pytest.raises(ConfigError):  # neither price nor size
                await session.ask(orders, modify(ask))
            with pytest.raises(ConfigError):  # not ours
                await session.ask(orders, modify("nobody", price="60011"))
            with pytest.raises(TradingRuleViolation):  # off the tick grid, checked locally
                await session.ask(orders, modify(ask, price="60010.001"))

            # A post-only replacement that would take: the original is cancelled, the replacement refused.
            maker = await session.ask(orders, place(Side.BUY, "0.001", "59000", OrderType.LIMIT_MAKER))
            assert isinstance(maker, OrderUpdate) and maker.status is S.OPEN
            with pytest.raises(OrderRejected) as refused:
                await session.ask(orders, modify(maker.client_order_id, price="60010"))
            assert refused.value.code == "-2010" and "immediately match" in refused.value.message
            gone = await bus.wait_for(
                OrderUpdate, lambda u: u.client_order_id == maker.client_order_id and u.status is S.CANCELLED
            )
            rejected = await bus.wait_for(OrderUpdate, lambda u: u.status is S.REJECTED)
            assert gone.reason.startswith("replaced by") and rejected.client_order_id == refused.value.client_order_id

            # Filled meanwhile (the stream has not told us yet): the exchange refuses the cancel, nothing placed.
            await other.order("BUY", "LIMIT", D("0.005"), D("60010"), tif="IOC")
            before = len(sim.engine.open_orders(sim.account_id, SYMBOL))
            with pytest.raises(UnknownOrder):
                await session.ask(orders, modify(ask, price="60020"))
            assert len(sim.engine.open_orders(sim.account_id, SYMBOL)) == before
            done = await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == ask and u.status is S.FILLED)
            assert done.filled_size == D("0.005")
            with pytest.raises(UnknownOrder):  # now known filled: refused locally
                await session.ask(orders, modify(ask, price="60020"))
            await assert_balances_converge(session, sim)
