"""End to end over loopback: the market maker with ``RequoteMode.AMEND`` on the Binance USD-M simulator.

Its requotes are amendments in place (``PUT /fapi/v1/order``): the quotes keep their client and exchange order
ids while their prices follow the mid. A requote whose post-only ask would cross another account's bid is
cancelled by the exchange (§ Trade › Modify Order: a GTX order that would take is cancelled); the maker sees it
and quotes that side afresh under a new id. At the end the session agrees with the simulator.

The flow is off, so the book moves only by the orders placed here. The maker's mid comes from top-of-book
events the test publishes on the session's bus (the maker cannot tell them from the feed's), so each requote is
decided exactly; the feed's own events (the maker's quotes are the top of the book) name the same mid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D

import trio
import trio.testing

from clobactors.actors.bus import Bus
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.invariants import SessionObserver, check_session
from clobactors.messages import BestBidAsk, OrderUpdate
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.records import OrderInfo
from clobactors.sim.server import Simulator, open_simulator
from clobactors.strategies.market_making import MarketMaker, RequoteMode

EX = "binance_usdm"
BTC = "BTC-USDT-PERP"
SYMBOL = "BTCUSDT"
S = OrderStatus


@asynccontextmanager
async def maker_session(sim: Simulator, bus: Bus, maker: MarketMaker) -> AsyncIterator[Session]:
    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EX, instruments=(BTC,), environment=Environment.CUSTOM, rest=sim.rest_url, ws=sim.ws_url,
            ),
        ),
        seed=3,
    )
    creds = get_credentials(EX, {"api_key": sim.api_key, "api_secret": sim.api_secret})
    wall = lambda: sim.now_ns()  # noqa: E731  # signing time follows the simulator's (virtual) clock
    async with open_session(config, strategies=[("mm", lambda: maker)], credentials={EX: creds}, bus=bus,
                            wall_ns=wall) as session:  # fmt: skip
        yield session


def quotes(sim: Simulator) -> dict[Side, OrderInfo]:
    """The maker's resting orders on the exchange, by side (one each at most)."""
    out: dict[Side, OrderInfo] = {}
    for order in sim.engine.open_orders(sim.account_id, SYMBOL):
        assert order.side not in out, "two quotes on one side"
        out[order.side] = order
    return out


async def test_the_maker_amends_in_place_and_requotes_after_a_crossing_post_only_amendment(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(300):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False) as sim:
            other = sim.add_account({"USDT": D(1_000_000)}, account_id="other").account_id
            engine, account = sim.engine, sim.account_id
            maker = MarketMaker(
                name="mm", exchange=EX, instrument=BTC, size=D("0.01"), requote=RequoteMode.AMEND
            )  # 10 bps each side, requote at 2 bps
            bus = Bus()
            observer = SessionObserver()
            observer.lookup = lambda u: engine.order(account, SYMBOL, client_order_id=u.client_order_id)
            everything = bus.subscribe("", prefix=True, name="observer", market_capacity=4096)
            updates: list[OrderUpdate] = []

            async def mid(value: str) -> None:
                m = D(value)
                await bus.publish(
                    BestBidAsk(exchange=EX, instrument=BTC, bid_price=m - D("0.1"), bid_size=D(1),
                               ask_price=m + D("0.1"), ask_size=D(1)),
                )  # fmt: skip
                await trio.sleep(3)  # the requote, its answers and the stream's reports

            async with trio.open_nursery() as nursery:

                async def fold() -> None:
                    async for event in everything:
                        observer.observe(event)
                        if isinstance(event, OrderUpdate):
                            updates.append(event)

                nursery.start_soon(fold)
                async with maker_session(sim, bus, maker) as session:
                    await mid("60000")
                    first = quotes(sim)
                    assert {s: o.price for s, o in first.items()} == {Side.BUY: D("59940"), Side.SELL: D("60060")}
                    bid_id = (first[Side.BUY].client_order_id, first[Side.BUY].order_id)
                    ask_id = (first[Side.SELL].client_order_id, first[Side.SELL].order_id)

                    # Two requotes, each one amendment per side: same ids on the exchange, new prices.
                    for value, bid, ask in (("60030", "59969.9", "60090.1"), ("60060", "59999.9", "60120.1")):
                        await mid(value)
                        now = quotes(sim)
                        assert (now[Side.BUY].client_order_id, now[Side.BUY].order_id) == bid_id
                        assert (now[Side.SELL].client_order_id, now[Side.SELL].order_id) == ask_id
                        assert (now[Side.BUY].price, now[Side.SELL].price) == (D(bid), D(ask))
                        assert all(o.size == D("0.010") and o.post_only for o in now.values())
                    stats = maker.statistics()
                    assert (stats.quotes_placed, stats.amends, stats.amend_fallbacks, stats.quotes_cancelled) == (
                        2, 4, 0, 0,
                    )  # fmt: skip

                    # Another account bids 59950; the mid drops to 59880: the bid moves to 59820.1, and the ask's
                    # new price 59939.9 would take that bid, so the exchange cancels the post-only ask.
                    result = engine.submit(
                        other, SYMBOL, Side.BUY, OrderType.LIMIT, size=D("0.01"), price=D("59950"), now_ns=sim.now_ns()
                    )
                    assert not hasattr(result, "reason"), result
                    await mid("59880")
                    gone = engine.order(account, SYMBOL, client_order_id=ask_id[0])
                    assert gone is not None and (gone.status, gone.filled_size) == (S.CANCELLED, D(0))
                    assert engine.trades_for(account, SYMBOL) == ()  # nothing traded
                    assert [u.status for u in updates if u.client_order_id == ask_id[0]][-1] is S.CANCELLED

                    # The maker noticed and requoted one interval later, at the mid the book showed meanwhile
                    # (59950 bid by the other account, 60120.1 the ask before it went): 60035.05. The ask is a
                    # new order, the bid is still the first one, amended.
                    now = quotes(sim)
                    assert (now[Side.BUY].client_order_id, now[Side.BUY].order_id) == bid_id
                    assert now[Side.SELL].client_order_id != ask_id[0]
                    assert (now[Side.BUY].price, now[Side.SELL].price) == (D("59975.0"), D("60095.1"))
                    stats = maker.statistics()
                    assert (stats.quotes_placed, stats.amends, stats.amend_fallbacks, stats.errors) == (3, 7, 0, 0)
                    new_ask = (now[Side.SELL].client_order_id, now[Side.SELL].order_id)

                    await mid("60000")  # both amended in place again
                    now = quotes(sim)
                    assert (now[Side.BUY].client_order_id, now[Side.BUY].order_id) == bid_id
                    assert (now[Side.SELL].client_order_id, now[Side.SELL].order_id) == new_ask
                    assert (now[Side.BUY].price, now[Side.SELL].price) == (D("59940.0"), D("60060.0"))
                    assert maker.statistics().quotes_placed == 3

                    await trio.sleep(2)
                    assert await check_session(session, EX, sim, observer, {BTC: SYMBOL}) == []
                nursery.cancel_scope.cancel()
