"""End to end over loopback: USD-M amendments that meet the book (``PUT /fapi/v1/order``, § Trade › Modify Order).

The session's order manager against the USD-M simulator: a new price that crosses another account's ask
trades at once (the fill is published once, the rest rests at the new price); a post-only (GTX) order whose new
price would take is cancelled; a reduce-only order amended beyond its position is refused with -2022 and
stays as it was. At the end the session agrees with the simulator (:func:`clobactors.invariants.check_session`).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.bus import Bus
from clobactors.errors import OrderRejected
from clobactors.invariants import SessionObserver, check_session
from clobactors.messages import OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.records import OrderInfo
from clobactors.sim.server import open_simulator
from tests.integration.test_usdm_amend import SYMBOL, modify, place, updates, wait_for
from tests.integration.test_usdm_session import BTC, EX, usdm_session

S = OrderStatus


async def test_crossing_gtx_and_reduce_only_amendments(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False) as sim:
            maker = sim.add_account({"USDT": D(1_000_000)}, account_id="maker").account_id
            engine, account = sim.engine, sim.account_id

            def rest(side: Side, size: str, price: str) -> None:
                """Another account's resting order, straight into the engine (its frames go out at the next
                drain)."""
                result = engine.submit(
                    maker, SYMBOL, side, OrderType.LIMIT, size=D(size), price=D(price), now_ns=sim.now_ns()
                )
                assert not hasattr(result, "reason"), result

            def lookup(update: OrderUpdate) -> OrderInfo | None:
                return engine.order(account, SYMBOL, client_order_id=update.client_order_id)

            bus = Bus()
            sub = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            observer = SessionObserver()
            observer.lookup = lookup
            everything = bus.subscribe("", prefix=True, name="observer", market_capacity=1024)
            seen: list[OrderUpdate] = []
            async with trio.open_nursery() as nursery:

                async def fold() -> None:
                    async for event in everything:
                        observer.observe(event)

                nursery.start_soon(fold)
                async with usdm_session(sim, bus) as session:
                    orders = session.names(EX).orders

                    # A crossing new price: 0.01 trades at the maker's 60010, 0.02 rests at 60015.
                    rest(Side.SELL, "0.01", "60010")
                    rest(Side.SELL, "0.01", "60030")
                    bid = await session.ask(orders, place("0.03", "60000"))
                    assert isinstance(bid, OrderUpdate) and bid.status is S.OPEN
                    cid = bid.client_order_id
                    moved = await session.ask(orders, modify(cid, price="60015"))
                    assert isinstance(moved, OrderUpdate)
                    assert (moved.client_order_id, moved.exchange_order_id) == (cid, bid.exchange_order_id)
                    assert (moved.price, moved.size) == (D("60015"), D("0.03"))
                    done = await wait_for(sub, seen, lambda u: u.client_order_id == cid and u.filled_size > 0)
                    assert (done.status, done.filled_size, done.price) == (S.PARTIALLY_FILLED, D("0.01"), D("60015"))
                    truth = engine.order(account, SYMBOL, client_order_id=cid)
                    assert truth is not None and (truth.status, truth.filled_size) == (S.PARTIALLY_FILLED, D("0.01"))
                    depth = engine.depth(SYMBOL)
                    assert depth.bids == ((D("60015"), D("0.02")),) and depth.asks == ((D("60030"), D("0.01")),)
                    perps = engine.perps
                    assert perps is not None and perps.position(account, SYMBOL).size == D("0.01")

                    # A post-only order whose new price would take is cancelled by the amendment.
                    gtx = await session.ask(
                        orders, PlaceOrder(exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.LIMIT_MAKER,
                                           size=D("0.01"), price=D("59990")),
                    )  # fmt: skip
                    assert isinstance(gtx, OrderUpdate) and gtx.status is S.OPEN
                    gone = await session.ask(orders, modify(gtx.client_order_id, price="60030"))
                    assert isinstance(gone, OrderUpdate) and gone.status is S.CANCELLED
                    truth = engine.order(account, SYMBOL, client_order_id=gtx.client_order_id)
                    assert truth is not None and truth.status is S.CANCELLED
                    assert engine.depth(SYMBOL).asks == ((D("60030"), D("0.01")),)  # nothing traded

                    # Reduce-only beyond the position (long 0.01): -2022, and the order stays as it was.
                    closing = await session.ask(
                        orders, PlaceOrder(exchange=EX, instrument=BTC, side=Side.SELL, order_type=OrderType.LIMIT,
                                           size=D("0.005"), price=D("61000"), reduce_only=True),
                    )  # fmt: skip
                    assert isinstance(closing, OrderUpdate) and closing.status is S.OPEN
                    with pytest.raises(OrderRejected) as refused:
                        await session.ask(orders, modify(closing.client_order_id, size="0.02"))
                    assert refused.value.code == "-2022"
                    truth = engine.order(account, SYMBOL, client_order_id=closing.client_order_id)
                    assert truth is not None and (truth.size, truth.price) == (D("0.005"), D("61000"))

                    await trio.sleep(3)  # the stream has delivered everything
                    mine = [(u.status, u.price, u.filled_size) for u in updates(sub, seen) if u.client_order_id == cid]
                    assert mine[-1] == (S.PARTIALLY_FILLED, D("60015"), D("0.01"))
                    # Fills published once each, orders, balances, positions and the book as the engine has them.
                    assert await check_session(session, EX, sim, observer, {BTC: SYMBOL}) == []
                nursery.cancel_scope.cancel()
