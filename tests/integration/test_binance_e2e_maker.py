"""End to end: the example market maker quotes against the seeded flow; at a quiet point the session's view of
its open orders, fills and balances equals the simulator's.

The quiet point: the flow is paused (nothing moves the book, so the maker has no reason to requote) and the
maker is given a few of its requote intervals to finish what it started.
"""

from __future__ import annotations

from decimal import Decimal as D

import trio
import trio.testing

from clobactors.messages import Fill
from clobactors.model import OrderStatus, OrderType
from clobactors.sim.server import open_simulator
from clobactors.strategies.market_making import MarketMaker
from tests.integration.binance_e2e_support import (
    EXCHANGE,
    INSTRUMENT,
    SYMBOL,
    assert_balances_converge,
    open_e2e_session,
    open_orders,
)


async def test_market_maker_orders_match_the_engine_at_a_quiet_point(autojump_clock: trio.testing.MockClock) -> None:
    def maker() -> MarketMaker:
        return MarketMaker(
            name="mm", exchange=EXCHANGE, instrument=INSTRUMENT, size=D("0.01"), half_spread_bps=D("0.5"),
            requote_bps=D("0.5"),
        )  # fmt: skip

    with trio.fail_after(300):
        async with (
            open_simulator("binance", seed=9, symbols=["BTCUSDT"]) as sim,
            open_e2e_session(sim, strategies=[("mm", maker)]) as (session, bus),
        ):
            for _ in range(3):
                await trio.sleep(20)
                sim.pause_flow()
                await trio.sleep(3)  # quiet: the maker finishes its requote, the streams drain

                engine = {o.client_order_id: o for o in sim.engine.open_orders(sim.account_id, SYMBOL)}
                ours = {o.client_order_id: o for o in await open_orders(session)}
                assert set(ours) == set(engine) and len(ours) == 2  # a bid and an ask
                for cid, order in ours.items():
                    truth = engine[cid]
                    assert order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
                    assert order.order_type is OrderType.LIMIT_MAKER
                    assert (order.side, order.price, order.size, order.filled_size, order.exchange_order_id) == (
                        truth.side,
                        truth.price,
                        truth.size,
                        truth.filled_size,
                        str(truth.order_id),
                    )
                await assert_balances_converge(session, sim, within=0.5)
                sim.resume_flow()

            sim.pause_flow()
            await trio.sleep(3)
            trades = sim.engine.trades_for(sim.account_id, SYMBOL)
            fills = bus.of(Fill)
            assert trades, "the maker should have traded with the flow"
            assert sorted((f.trade_id, f.price, f.size, f.fee, f.fee_asset) for f in fills) == sorted(
                (str(t.trade_id), t.price, t.size, t.fee, t.fee_asset) for t in trades
            )
