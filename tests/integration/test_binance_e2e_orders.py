"""End to end: orders through a session's order manager against the Binance simulator, over loopback.

A second simulator account (:class:`Counterparty`, trading over the face's signed REST API) fills our orders
deterministically with the synthetic flow off; one test lets the seeded flow do the filling. Each step
checks the order's states on the bus, every Fill (price, size, fee, fee asset, liquidity, trade id against
the engine's own record), and that the session's balances reach the engine's balances for the account.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.errors import OrderRejected, TradingRuleViolation
from clobactors.messages import CancelOrder, Fill, OrderUpdate, PlaceOrder
from clobactors.model import Liquidity, OrderStatus, OrderType, Side, TimeInForce
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
FEE = D("0.001")  # the catalogue's BTCUSDT maker and taker fee


def place(
    side: Side, size: str, price: str | None, order_type: OrderType = OrderType.LIMIT, **kw: object
) -> PlaceOrder:
    return PlaceOrder(
        exchange=EXCHANGE, instrument=INSTRUMENT, side=side, order_type=order_type, size=D(size),
        price=None if price is None else D(price), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def cancel(client_order_id: str) -> CancelOrder:
    return CancelOrder(exchange=EXCHANGE, instrument=INSTRUMENT, client_order_id=client_order_id)


async def test_place_partial_fill_cancel_then_fill(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
            open_e2e_session(sim) as (session, bus),
        ):
            orders = session.names(EXCHANGE).orders
            await assert_balances_converge(session, sim)

            # 1. Place: a resting bid.
            placed = await session.ask(orders, place(Side.BUY, "0.01", "60000"))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            bid = placed.client_order_id
            on_engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=bid)
            assert on_engine is not None and on_engine.status is S.OPEN
            assert str(on_engine.order_id) == placed.exchange_order_id
            await assert_balances_converge(session, sim)
            assert sim.engine.balance(sim.account_id, "USDT").locked == D(600)

            # 2. Partially filled by the counterparty's IOC sell: we are the maker, the fee is in BTC.
            await other.order("SELL", "LIMIT", D("0.004"), D("60000"), tif="IOC")
            fill = await bus.wait_for(Fill, lambda f: f.client_order_id == bid)
            (trade,) = sim.engine.trades_for(sim.account_id, SYMBOL)
            assert (fill.trade_id, fill.price, fill.size, fill.fee, fill.fee_asset, fill.liquidity, fill.side) == (
                str(trade.trade_id),
                D("60000"),
                D("0.004"),
                D("0.004") * FEE,
                "BTC",
                Liquidity.MAKER,
                Side.BUY,
            )
            assert trade.fee == fill.fee and trade.fee_asset == "BTC"
            partial = await bus.wait_for(
                OrderUpdate, lambda u: u.client_order_id == bid and u.status is S.PARTIALLY_FILLED
            )
            assert partial.filled_size == D("0.004") and partial.avg_fill_price == D("60000")
            await assert_balances_converge(session, sim)

            # 3. Cancel the rest.
            cancelled = await session.ask(orders, cancel(bid))
            assert isinstance(cancelled, OrderUpdate)
            assert (cancelled.status, cancelled.filled_size) == (S.CANCELLED, D("0.004"))
            assert await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == bid and u.status is S.CANCELLED)
            on_engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=bid)
            assert on_engine is not None and on_engine.status is S.CANCELLED
            await assert_balances_converge(session, sim)
            assert sim.engine.balance(sim.account_id, "USDT").locked == 0

            # 4. An ask filled completely by the counterparty's bid: we are the maker, the fee is in USDT.
            placed = await session.ask(orders, place(Side.SELL, "0.005", "60010.5"))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            ask = placed.client_order_id
            await other.order("BUY", "LIMIT", D("0.005"), D("60011"), tif="IOC")
            done = await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == ask and u.status is S.FILLED)
            assert (done.filled_size, done.avg_fill_price) == (D("0.005"), D("60010.5"))
            (sold,) = bus.fills(ask)
            assert bus.events.index(sold) < bus.events.index(done)  # a status never runs ahead of its fills
            trade = sim.engine.trades_for(sim.account_id, SYMBOL)[-1]
            assert (sold.trade_id, sold.price, sold.size, sold.fee, sold.fee_asset, sold.liquidity) == (
                str(trade.trade_id),
                D("60010.5"),
                D("0.005"),
                D("0.005") * D("60010.5") * FEE,
                "USDT",
                Liquidity.MAKER,
            )
            await assert_balances_converge(session, sim)

            # Every state change was published once, in order; each fill exactly once.
            assert bus.statuses(bid) == [S.PENDING_CREATE, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.CANCELLED]
            assert bus.statuses(ask) == [S.PENDING_CREATE, S.OPEN, S.FILLED]
            assert [f.trade_id for f in bus.fills()] == [
                str(t.trade_id) for t in sim.engine.trades_for(sim.account_id, SYMBOL)
            ]


async def test_partial_fill_by_the_simulated_flow(autojump_clock: trio.testing.MockClock) -> None:
    """A large bid at the touch is hit by the seeded flow's takers; what the bus says matches the engine."""
    with trio.fail_after(300):
        async with (
            open_simulator("binance", seed=5, symbols=["BTCUSDT"]) as sim,
            open_e2e_session(sim) as (session, bus),
        ):
            orders = session.names(EXCHANGE).orders
            sim.pause_flow()
            top = sim.engine.best_bid_ask(SYMBOL)
            assert top.bid_price is not None and top.ask_price is not None
            price = top.bid_price + D("0.01")
            assert price < top.ask_price
            placed = await session.ask(orders, place(Side.BUY, "2", str(price)))
            assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
            cid = placed.client_order_id
            sim.resume_flow()
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == cid and u.status is S.PARTIALLY_FILLED)
            await trio.sleep(5)  # let a few more fills happen
            sim.pause_flow()
            cancelled = await session.ask(orders, cancel(cid))
            assert isinstance(cancelled, OrderUpdate) and cancelled.status is S.CANCELLED
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == cid and u.status is S.CANCELLED)
            trades = [t for t in sim.engine.trades_for(sim.account_id, SYMBOL) if t.client_order_id == cid]
            assert trades and sum(t.size for t in trades) < D(2)
            fills = bus.fills(cid)
            expected = [(str(t.trade_id), t.price, t.size, t.fee, t.fee_asset, Liquidity.MAKER) for t in trades]
            assert sorted((f.trade_id, f.price, f.size, f.fee, f.fee_asset, f.liquidity) for f in fills) == sorted(
                expected
            )
            assert cancelled.filled_size == sum(t.size for t in trades)
            statuses = bus.statuses(cid)
            assert statuses[:3] == [S.PENDING_CREATE, S.OPEN, S.PARTIALLY_FILLED]
            assert statuses[-2:] == [S.PENDING_CANCEL, S.CANCELLED]
            assert set(statuses[2:-2]) == {S.PARTIALLY_FILLED}
            await assert_balances_converge(session, sim)


@pytest.mark.parametrize("order_type", [OrderType.MARKET, OrderType.LIMIT])
async def test_taker_fills_are_never_double_counted(
    autojump_clock: trio.testing.MockClock, order_type: OrderType
) -> None:
    """A taker order filling on entry: the FULL answer and the user stream both report each trade."""
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=4, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
            open_e2e_session(sim) as (session, bus),
        ):
            for size, price in (("0.002", "60000"), ("0.003", "60000.5"), ("0.004", "60001")):
                await other.order("SELL", "LIMIT", D(size), D(price))
            limit = None if order_type is OrderType.MARKET else "60001"
            tif = TimeInForce.GTC if order_type is OrderType.MARKET else TimeInForce.IOC
            answer = await session.ask(
                session.names(EXCHANGE).orders, place(Side.BUY, "0.009", limit, order_type, time_in_force=tif)
            )
            assert isinstance(answer, OrderUpdate)
            cid = answer.client_order_id
            # The REST answer already carries the fills, so the ask's answer is final.
            assert (answer.status, answer.filled_size) == (S.FILLED, D("0.009"))
            await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == cid and u.status is S.FILLED)
            published = len(bus.updates(cid)), len(bus.fills(cid))
            await trio.sleep(2)  # the user stream's reports of the same trades arrive meanwhile
            assert (len(bus.updates(cid)), len(bus.fills(cid))) == published  # and change nothing
            await assert_balances_converge(session, sim)

            trades = sim.engine.trades_for(sim.account_id, SYMBOL)
            assert len(trades) == 3
            fills = bus.fills(cid)
            per_trade = Counter(f.trade_id for f in fills)
            assert per_trade == Counter(str(t.trade_id) for t in trades)  # exactly one Fill per trade
            assert sum(f.size for f in fills) == D("0.009")
            assert all(f.liquidity is Liquidity.TAKER and f.fee_asset == "BTC" for f in fills)
            assert sorted((f.price, f.size, f.fee) for f in fills) == sorted((t.price, t.size, t.fee) for t in trades)
            final = bus.updates(cid)[-1]
            assert final.status is S.FILLED and final.filled_size == sum(f.size for f in fills)
            assert final.avg_fill_price == sum(t.price * t.size for t in trades) / D("0.009")
            # One update per fill (the stream's NEW may show the order open first), filled exactly once.
            statuses = [st for st in bus.statuses(cid) if st is not S.OPEN]
            assert statuses == [S.PENDING_CREATE, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED]


async def test_local_rule_rejection_never_reaches_the_exchange(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with (
            open_simulator("binance", seed=6, symbols=["BTCUSDT"], flow=False) as sim,
            open_e2e_session(sim) as (session, bus),
        ):
            await trio.testing.wait_all_tasks_blocked()  # the session's start-up reconcile has finished
            before = sim.engine.statistics()
            requests = sim.statistics().rest_requests
            with pytest.raises(TradingRuleViolation) as caught:
                await session.ask(session.names(EXCHANGE).orders, place(Side.BUY, "0.01", "60000.005"))
            assert caught.value.local
            after = sim.engine.statistics()
            assert (after.orders_accepted, after.orders_rejected) == (before.orders_accepted, before.orders_rejected)
            assert sim.engine.open_orders(sim.account_id) == ()
            assert sim.statistics().rest_requests == requests
            update = await bus.wait_for(OrderUpdate, lambda u: u.status is S.REJECTED)
            assert update.client_order_id == caught.value.client_order_id
            assert bus.statuses(update.client_order_id) == [S.REJECTED]
            assert sim.engine.order(sim.account_id, SYMBOL, client_order_id=update.client_order_id) is None


async def test_post_only_that_would_take_is_rejected_by_the_exchange(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with (
            open_simulator("binance", seed=6, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
            open_e2e_session(sim) as (session, bus),
        ):
            await other.order("SELL", "LIMIT", D("0.01"), D("60000"))
            rejected_before = sim.engine.statistics().orders_rejected
            with pytest.raises(OrderRejected) as caught:
                await session.ask(
                    session.names(EXCHANGE).orders, place(Side.BUY, "0.01", "60000", OrderType.LIMIT_MAKER)
                )
            error = caught.value
            assert type(error) is OrderRejected and not error.local
            assert error.code == "-2010" and "would immediately match" in error.message.lower()
            assert sim.engine.statistics().orders_rejected == rejected_before + 1
            assert sim.engine.open_orders(sim.account_id) == ()
            update = await bus.wait_for(OrderUpdate, lambda u: u.status is S.REJECTED)
            assert bus.statuses(update.client_order_id) == [S.PENDING_CREATE, S.REJECTED]
            await assert_balances_converge(session, sim)
