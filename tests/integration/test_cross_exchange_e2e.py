"""End to end over loopback: the cross-exchange maker quotes on the spot simulator, a taker there hits the quote,
and the fill is hedged on the USD-M simulator; a refused hedge is retried; a stale hedge book pulls the quotes.

The spot simulator runs without flow, so our quotes are the only orders in its book and the counterparty's
MARKET order fills exactly against them; the USD-M simulator's flow gives the hedge book its depth.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.session import open_session
from clobactors.backoff import Backoff
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.messages import FeedStale, FeedSynced, Fill, OrderUpdate
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import Simulator, open_simulator
from clobactors.strategies.cross_exchange import CrossExchangeMaker
from tests.integration.binance_e2e_support import Recorder, open_counterparty

SPOT, PERP = "binance", "binance_usdm"
SPOT_INSTRUMENT, PERP_INSTRUMENT = "BTC-USDT", "BTC-USDT-PERP"
#: The hedge's retry delay, exact (no jitter), so the test can tell a retry from a first attempt.
RETRY = 0.5


def make_maker(hedge_order_type: OrderType = OrderType.LIMIT) -> CrossExchangeMaker:
    return CrossExchangeMaker(
        name="xemm", exchange=SPOT, instrument=SPOT_INSTRUMENT, hedge_exchange=PERP, hedge_instrument=PERP_INSTRUMENT,
        size=D("0.01"), min_profit_bps=D(2), maker_fee=D(0), hedge_fee=D("0.0005"), max_unhedged=D("0.01"),
        hedge_backoff=Backoff(initial=RETRY, factor=2.0, max=4.0, jitter=0.0), hedge_order_type=hedge_order_type,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def open_xemm(spot: Simulator, perp: Simulator, maker: CrossExchangeMaker) -> AsyncIterator[Recorder]:
    """A session over both simulators running ``maker``; every account and lifecycle event recorded."""
    config = SessionConfig(
        exchanges=tuple(
            ExchangeConfig(
                name=name, instruments=(instrument,), environment=Environment.CUSTOM, rest=sim.rest_url,
                ws=sim.ws_url, ws_api=sim.ws_api_url,
            )
            for name, instrument, sim in ((SPOT, SPOT_INSTRUMENT, spot), (PERP, PERP_INSTRUMENT, perp))
        ),
        seed=4,
    )  # fmt: skip
    credentials = {
        name: get_credentials(name, {"api_key": sim.api_key, "api_secret": sim.api_secret})
        for name, sim in ((SPOT, spot), (PERP, perp))
    }
    bus = Bus()
    recorder = Recorder()
    subscriptions = [
        bus.subscribe("account", prefix=True, name="xemm-account"),
        bus.subscribe("lifecycle", prefix=True, name="xemm-lifecycle"),
    ]

    async def record(subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                recorder.add(event)

    async with trio.open_nursery() as nursery:
        for subscription in subscriptions:
            nursery.start_soon(record, subscription)
        async with open_session(
            config, strategies=[("xemm", lambda: maker)], credentials=credentials, bus=bus, wall_ns=spot.now_ns
        ):
            yield recorder
        nursery.cancel_scope.cancel()


def open_quote(recorder: Recorder, side: Side) -> OrderUpdate | None:
    """Our latest quote on ``side`` if it is open now."""
    latest: dict[str, OrderUpdate] = {}
    for update in recorder.of(OrderUpdate):
        if update.exchange == SPOT:
            latest[update.client_order_id] = update
    live = [u for u in latest.values() if u.side is side and u.status is OrderStatus.OPEN]
    return live[-1] if live else None


async def wait_quote(recorder: Recorder, side: Side) -> OrderUpdate:
    while (quote := open_quote(recorder, side)) is None:
        await recorder.wait_for(OrderUpdate, start=len(recorder.events))
    return quote


@pytest.mark.parametrize("hedge_order_type", [OrderType.LIMIT, OrderType.MARKET])
async def test_a_taker_fill_on_the_maker_venue_is_hedged_and_a_refused_hedge_retried(
    autojump_clock: trio.testing.MockClock, hedge_order_type: OrderType
) -> None:
    refuse_first_hedge = FaultPlan(rules=(FaultRule(kind=FaultKind.REJECT_ORDER, at=0.0),), seed=1)
    maker = make_maker(hedge_order_type)
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=3, symbols=["BTCUSDT"], flow=False) as spot,
            open_simulator("binance-usdm", seed=3, symbols=["BTCUSDT"], faults=refuse_first_hedge) as perp,
            open_xemm(spot, perp, maker) as recorder,
            open_counterparty(spot) as taker,
        ):
            ask = await wait_quote(recorder, Side.SELL)
            bid = await wait_quote(recorder, Side.BUY)
            # Priced off the perpetual book: the ask above its ask, the bid below its bid, by fees and profit.
            top = perp.engine.best_bid_ask("BTCUSDT")
            assert ask.price is not None and top.ask_price is not None and ask.price > top.ask_price
            assert bid.price is not None and top.bid_price is not None and bid.price < top.bid_price
            assert ask.order_type is OrderType.LIMIT_MAKER and ask.size == D("0.01")

            await taker.order("BUY", "MARKET", D("0.01"))  # lifts our ask: we are short 0.01 on spot
            fill = await recorder.wait_for(Fill, lambda f: f.exchange == SPOT)
            assert (fill.client_order_id, fill.side, fill.size) == (ask.client_order_id, Side.SELL, D("0.01"))
            filled_at = trio.current_time()

            # The first hedge is refused (the fault), counted, and retried after the backoff: it fills.
            rejected = await recorder.wait_for(
                OrderUpdate, lambda u: u.exchange == PERP and u.status is OrderStatus.REJECTED
            )
            assert (rejected.side, rejected.size, rejected.order_type) == (Side.BUY, D("0.01"), hedge_order_type)
            if hedge_order_type is OrderType.LIMIT:  # an IOC at a protective price above the asks it takes
                assert rejected.time_in_force is TimeInForce.IOC and rejected.price is not None
                assert top.ask_price is not None and rejected.price > top.ask_price
            refused_at = trio.current_time()
            hedge = await recorder.wait_for(Fill, lambda f: f.exchange == PERP)
            assert trio.current_time() - refused_at >= RETRY
            assert hedge.side is Side.BUY and hedge.client_order_id != rejected.client_order_id
            await recorder.wait_for(
                OrderUpdate, lambda u: u.client_order_id == hedge.client_order_id and u.status is OrderStatus.FILLED
            )
            assert trio.current_time() - filled_at < 5

            stats = maker.statistics()
            assert abs(stats.exposure) < D("0.001")  # flat again: below one lot of the hedge instrument
            assert stats.in_flight == 0
            assert (stats.maker_fills, stats.hedge_failures, stats.hedges_placed) == (1, 1, 1)
            assert stats.maker_volume == stats.hedge_volume == D("0.01")
            # The engine agrees: the perpetual position is long what spot sold.
            perps = perp.engine.perps
            assert perps is not None
            assert perps.position(perp.account_id, "BTCUSDT").size == D("0.01")
            # And the ask comes back once the exposure is flat.
            await trio.sleep(2)
            assert open_quote(recorder, Side.SELL) is not None


async def test_quotes_are_pulled_while_the_hedge_book_is_stale_and_come_back(
    autojump_clock: trio.testing.MockClock,
) -> None:
    drop_book = FaultPlan(rules=(FaultRule(kind=FaultKind.WS_ABORT, target="m:*", at=8.0),), seed=1)
    maker = make_maker()
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=5, symbols=["BTCUSDT"], flow=False) as spot,
            open_simulator("binance-usdm", seed=5, symbols=["BTCUSDT"], faults=drop_book) as perp,
            open_xemm(spot, perp, maker) as recorder,
        ):
            await wait_quote(recorder, Side.SELL)
            stale = await recorder.wait_for(FeedStale, lambda e: e.exchange == PERP)
            assert stale.instrument == PERP_INSTRUMENT
            start = len(recorder.events)
            await recorder.wait_for(FeedSynced, lambda e: e.exchange == PERP and e.feed == "book", start=start)
            stats = maker.statistics()
            assert stats.pauses >= 1
            # Both quotes were cancelled while the book was stale ...
            cancelled = [
                u for u in recorder.of(OrderUpdate)[:start] if u.exchange == SPOT and u.status is OrderStatus.CANCELLED
            ]
            assert {u.side for u in cancelled} == {Side.BUY, Side.SELL}
            # ... and come back once it is synced.
            await wait_quote(recorder, Side.BUY)
            await wait_quote(recorder, Side.SELL)
            assert maker.statistics().paused is False
