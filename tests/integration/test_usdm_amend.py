"""End to end over loopback: ModifyOrder as a Binance USD-M amendment in place (``PUT /fapi/v1/order``).

The session's order manager against the USD-M simulator: a new price (same ids, back of the queue), a new
size, the same terms (-5027), an order that filled meanwhile (-2013, then its real end), and the REST answer
and the stream's AMENDMENT report published once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.order_messages import GetOpenOrders
from clobactors.errors import OrderRejected, UnknownOrder
from clobactors.messages import ModifyOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.server import Simulator, open_simulator
from tests.integration.test_usdm_session import BTC, EX, usdm_session

SYMBOL = "BTCUSDT"
S = OrderStatus


def place(size: str, price: str) -> PlaceOrder:
    return PlaceOrder(
        exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.LIMIT, size=D(size), price=D(price)
    )


def modify(client_order_id: str, price: str | None = None, size: str | None = None) -> ModifyOrder:
    return ModifyOrder(
        exchange=EX,
        instrument=BTC,
        client_order_id=client_order_id,
        new_price=None if price is None else D(price),
        new_size=None if size is None else D(size),
    )


def updates(sub: Subscription, seen: list[OrderUpdate]) -> list[OrderUpdate]:
    """Every OrderUpdate published so far (kept in ``seen``)."""
    while True:
        try:
            event = sub.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return seen
        if isinstance(event, OrderUpdate):
            seen.append(event)


async def wait_for(sub: Subscription, seen: list[OrderUpdate], match: Callable[[OrderUpdate], bool]) -> OrderUpdate:
    with trio.fail_after(10):
        while True:
            found = [u for u in updates(sub, seen) if match(u)]
            if found:
                return found[-1]
            await trio.sleep(0.05)


def taker_sell(sim: Simulator, account_id: str, size: str) -> None:
    """Another account sells at market straight into the engine (its frames go out at the next drain)."""
    result = sim.engine.submit(account_id, SYMBOL, Side.SELL, OrderType.MARKET, size=D(size), now_ns=sim.now_ns())
    assert not hasattr(result, "reason"), result


async def test_amend_price_and_size_in_place(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False) as sim:
            other = sim.add_account({"USDT": D(1_000_000)}, account_id="taker").account_id
            bus = Bus()
            sub = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            seen: list[OrderUpdate] = []
            async with usdm_session(sim, bus) as session:
                orders = session.names(EX).orders
                a = await session.ask(orders, place("0.01", "60000"))
                b = await session.ask(orders, place("0.01", "60010"))
                assert isinstance(a, OrderUpdate) and isinstance(b, OrderUpdate) and a.status is S.OPEN
                locked = sim.engine.balance(sim.account_id, "USDT").locked

                # A new price: same ids, the new price, behind B at 60010.
                moved = await session.ask(orders, modify(a.client_order_id, price="60010"))
                assert isinstance(moved, OrderUpdate)
                assert (moved.client_order_id, moved.exchange_order_id, moved.status) == (
                    a.client_order_id, a.exchange_order_id, S.OPEN,
                )  # fmt: skip
                assert (moved.price, moved.size) == (D("60010"), D("0.01"))
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=a.client_order_id)
                assert engine is not None and (str(engine.order_id), engine.price) == (a.exchange_order_id, D("60010"))
                assert sim.engine.balance(sim.account_id, "USDT").locked > locked  # margin follows the price

                # A new total size.
                grown = await session.ask(orders, modify(a.client_order_id, size="0.02"))
                assert isinstance(grown, OrderUpdate) and (grown.price, grown.size) == (D("60010"), D("0.02"))
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=a.client_order_id)
                assert engine is not None and engine.size == D("0.02")

                # The same terms: -5027, nothing changes.
                with pytest.raises(OrderRejected) as same:
                    await session.ask(orders, modify(a.client_order_id, price="60010", size="0.02"))
                assert same.value.code == "-5027"

                # Back of the queue: a taker selling 0.01 meets B first, although A was placed first.
                taker_sell(sim, other, "0.01")
                b_id = b.client_order_id
                done = await wait_for(sub, seen, lambda u: u.client_order_id == b_id and u.status is S.FILLED)
                assert done.filled_size == D("0.01")
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=a.client_order_id)
                assert engine is not None and engine.status is S.OPEN and engine.filled_size == 0
                await trio.sleep(2)

                # The REST answer and the stream's AMENDMENT report were published once each amendment.
                mine = [u for u in updates(sub, seen) if u.client_order_id == a.client_order_id]
                assert [(u.status, u.price, u.size) for u in mine] == [
                    (S.PENDING_CREATE, D("60000"), D("0.01")),
                    (S.OPEN, D("60000"), D("0.01")),
                    (S.OPEN, D("60010"), D("0.01")),
                    (S.OPEN, D("60010"), D("0.02")),
                ]
                snapshots = await session.ask(orders, GetOpenOrders(instrument=BTC))
                assert isinstance(snapshots, tuple)
                (view,) = [o for o in snapshots if o.client_order_id == a.client_order_id]
                assert (view.price, view.size) == (D("60010"), D("0.02"))


async def test_amend_an_order_filled_meanwhile(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False) as sim:
            other = sim.add_account({"USDT": D(1_000_000)}, account_id="taker").account_id
            bus = Bus()
            sub = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            seen: list[OrderUpdate] = []
            async with usdm_session(sim, bus) as session:
                orders = session.names(EX).orders
                placed = await session.ask(orders, place("0.01", "60000"))
                assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
                oid = placed.client_order_id
                taker_sell(sim, other, "0.01")  # filled on the exchange; the stream may not have said so yet
                with pytest.raises(UnknownOrder):
                    await session.ask(orders, modify(oid, price="60001"))
                done = await wait_for(sub, seen, lambda u: u.client_order_id == oid and u.status is S.FILLED)
                assert (done.filled_size, done.price) == (D("0.01"), D("60000"))
                with pytest.raises(UnknownOrder):  # now known filled: refused locally
                    await session.ask(orders, modify(oid, price="60001"))
