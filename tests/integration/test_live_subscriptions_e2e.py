"""End to end: instruments added to and removed from a running session, live on the Binance simulator's wire.

A session starts with BTC-USDT on the spot simulator (loopback sockets, MockClock). ETH-USDT is then added
with ``Session.add_instruments``: the feed sends a live ``SUBSCRIBE`` on the open connection (Binance's
§ Live Subscribing/Unsubscribing to streams), ETH syncs and its book equals the engine's, while BTC's book
never goes stale and its diff stream never skips an update id. Removing it sends ``UNSUBSCRIBE``: a
FeedRemoved, then nothing more for ETH. A ``ws_abort`` fault after the changes shows a reconnect subscribes the
connection's current set; a refused ``SUBSCRIBE`` fails the request with a typed error and leaves nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import trio
import trio.testing

from clobactors.actors.book_view import BookView, GetBook, InstrumentsAdded, InstrumentsRemoved
from clobactors.actors.bus import Bus
from clobactors.actors.bus import Subscription as BusSubscription
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.errors import ConfigError, ExchangeError
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.standard import Subscription
from clobactors.messages import BookDelta, BookSnapshot, FeedConnected, FeedDown, FeedRemoved, FeedStale, FeedSynced
from clobactors.model import Side
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import Simulator, open_simulator
from tests.integration.binance_e2e_support import Recorder

EXCHANGE = "binance"
BTC, ETH = "BTC-USDT", "ETH-USDT"
DEPTH = 1000


@contextlib.asynccontextmanager
async def market_session(
    sim: Simulator, *, dialect: object | None = None, exchange: str = EXCHANGE, names: tuple[str, str] = (BTC, ETH)
) -> AsyncIterator[tuple[Session, Recorder, dict[str, Recorder]]]:
    """A market-data session on ``sim`` carrying ``names[0]``; records lifecycle and both instruments' market data."""
    bus = Bus()
    lifecycle = Recorder()
    markets = {name: Recorder() for name in names}
    feeds: list[tuple[BusSubscription, Recorder]] = [(bus.subscribe("lifecycle", prefix=True, name="lc"), lifecycle)]
    for name, recorder in markets.items():
        feeds.append((bus.subscribe(f"market.{exchange}.{name}", name=f"m-{name}", market_capacity=100_000), recorder))

    async def record(subscription: BusSubscription, recorder: Recorder) -> None:
        async with subscription:
            async for event in subscription:
                recorder.add(event)

    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=exchange, instruments=names[:1], environment=Environment.CUSTOM, rest=sim.rest_url,
                ws=sim.ws_url, ws_api=sim.ws_api_url, depth=DEPTH,
            ),
        ),
        seed=3,
    )  # fmt: skip
    dialects: dict[str, Any] = {exchange: dialect} if dialect is not None else {}
    async with trio.open_nursery() as nursery:
        for subscription, recorder in feeds:
            nursery.start_soon(record, subscription, recorder)
        async with open_session(config, bus=bus, dialects=dialects) as session:
            yield session, lifecycle, markets
        nursery.cancel_scope.cancel()


async def view_of(session: Session, instrument: str, exchange: str = EXCHANGE) -> BookView:
    view = await session.ask(session.names(exchange).books, GetBook(instrument))
    assert isinstance(view, BookView)
    return view


def served_streams(sim: Simulator) -> set[str]:
    """Market streams some connection of the simulator subscribes now (its fan-out's topics)."""
    return {t.removeprefix("m:") for t in sim._runtime.hub.topics if t.startswith("m:")}


async def assert_matches_engine(sim: Simulator, view: BookView, symbol: str) -> None:
    """Pause the flow, let the feed apply the engine's last update, then compare every level."""
    sim.pause_flow()
    update_id = sim.engine.update_id(symbol)
    with trio.fail_after(1.0):
        while view.is_stale or view.sequence != update_id:
            assert view.sequence is None or view.sequence <= update_id, "the feed is ahead of the engine"
            await trio.sleep(0.01)
    depth = sim.engine.depth(symbol)
    assert view.top(Side.BUY, DEPTH) == list(depth.bids)
    assert view.top(Side.SELL, DEPTH) == list(depth.asks)
    sim.resume_flow()


def assert_unbroken(events: Sequence[object], minimum: int) -> None:
    """One snapshot, then deltas each starting right after the previous one: no resync, no gap."""
    book = [e for e in events if isinstance(e, BookSnapshot | BookDelta)]
    assert isinstance(book[0], BookSnapshot) and not any(isinstance(e, BookSnapshot) for e in book[1:])
    last = book[0].sequence
    for delta in book[1:]:
        assert isinstance(delta, BookDelta) and last is not None
        if delta.sequence is not None and delta.sequence <= last:
            continue  # the spliced deltas straddle the snapshot
        assert delta.first_sequence is not None and delta.sequence is not None
        assert delta.first_sequence <= last + 1 <= delta.sequence
        last = delta.sequence
    assert len(book) >= minimum


async def test_add_then_remove_an_instrument_live_without_disturbing_the_other(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=5, symbols=["BTCUSDT", "ETHUSDT"]) as sim,
            market_session(sim) as (session, lifecycle, markets),
        ):
            btc = await view_of(session, BTC)
            await btc.wait_synced()
            assert served_streams(sim) == {"btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"}
            with pytest.raises(ConfigError, match="'DOGE-USDT'"):
                await session.add_instruments(EXCHANGE, [ETH, "DOGE-USDT"])
            with pytest.raises(ConfigError, match="no exchange"):
                await session.add_instruments("kraken", [ETH])
            assert "ethusdt@trade" not in served_streams(sim)  # nothing changed

            await trio.sleep(2.0)
            added = await session.add_instruments(EXCHANGE, [ETH, BTC])
            assert added == InstrumentsAdded(added=(ETH,), already_subscribed=(BTC,))
            # Answered once subscribed: the simulator already serves ETH's streams on the same connection.
            assert served_streams(sim) >= {"ethusdt@depth@100ms", "ethusdt@trade", "ethusdt@bookTicker"}
            await lifecycle.wait_for(FeedSynced, lambda e: e.instrument == ETH)
            eth = await view_of(session, ETH)
            await trio.sleep(3.0)
            await assert_matches_engine(sim, eth, "ETHUSDT")
            await assert_matches_engine(sim, btc, "BTCUSDT")

            removed = await session.remove_instruments(EXCHANGE, [ETH])
            assert removed == InstrumentsRemoved(removed=(ETH,))
            gone = await lifecycle.wait_for(FeedRemoved)
            assert (gone.instrument, gone.feed) == (ETH, "book")
            assert not any(s.startswith("ethusdt@") for s in served_streams(sim))
            after_removal = len(markets[ETH].events)
            await trio.sleep(5.0)
            assert len(markets[ETH].events) == after_removal  # nothing more for ETH
            assert eth.is_stale
            with pytest.raises(ConfigError):
                await view_of(session, ETH)
            again = await session.remove_instruments(EXCHANGE, [ETH])
            assert again == InstrumentsRemoved(removed=(), not_subscribed=(ETH,))
            await assert_matches_engine(sim, btc, "BTCUSDT")

            # BTC never noticed: one connection all along, never stale, its update ids never skipped.
            assert [e.feed for e in lifecycle.of(FeedConnected)] == ["book/0"]
            assert not lifecycle.of(FeedDown)
            assert not [e for e in lifecycle.of(FeedStale) if e.instrument == BTC]
            assert_unbroken(markets[BTC].events, 50)
            assert_unbroken(markets[ETH].events, 10)


async def test_a_reconnect_after_add_and_remove_subscribes_the_current_set(
    autojump_clock: trio.testing.MockClock,
) -> None:
    plan = FaultPlan(seed=1, rules=(FaultRule(kind=FaultKind.WS_ABORT, target="m:*", at=30.0),))
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=6, symbols=["BTCUSDT", "ETHUSDT"], faults=plan) as sim,
            market_session(sim) as (session, lifecycle, markets),
        ):
            await (await view_of(session, BTC)).wait_synced()
            await session.add_instruments(EXCHANGE, [ETH])
            await lifecycle.wait_for(FeedSynced, lambda e: e.instrument == ETH)
            await session.remove_instruments(EXCHANGE, [BTC])
            assert trio.current_time() < 30.0
            down = await lifecycle.wait_for(FeedDown)
            assert down.feed == "book/0"
            start = len(lifecycle.events)
            synced = await lifecycle.wait_for(FeedSynced, start=start)
            assert synced.instrument == ETH
            assert [e.feed for e in lifecycle.of(FeedConnected)] == ["book/0", "book/0"]
            # The new socket's URL carried ETH only: the simulator serves nothing of BTC to anyone.
            assert served_streams(sim) == {"ethusdt@depth@100ms", "ethusdt@trade", "ethusdt@bookTicker"}
            btc_events = len(markets[BTC].events)
            await trio.sleep(3.0)
            assert len(markets[BTC].events) == btc_events
            assert not [e for e in lifecycle.events[start:] if getattr(e, "instrument", "") == BTC]
            await assert_matches_engine(sim, await view_of(session, ETH), "ETHUSDT")


class RefusingDialect:
    """Binance spot, except that live SUBSCRIBE frames name ETH's trade stream wrongly (the face refuses)."""

    def __init__(self, inner: BinanceSpotDialect) -> None:
        self._inner = inner

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def live_subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> list[str]:
        frames = self._inner.live_subscribe_frames(subscriptions, request_id)
        return [f.replace("ethusdt@trade", "ethusdt@trades!") for f in frames]


async def test_a_refused_live_subscribe_fails_the_request_and_leaves_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance", seed=7, symbols=["BTCUSDT", "ETHUSDT"]) as sim:
            dialect = RefusingDialect(
                BinanceSpotDialect.for_urls(rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url)
            )
            async with market_session(sim, dialect=dialect) as (session, lifecycle, _):
                btc = await view_of(session, BTC)
                await btc.wait_synced()
                with pytest.raises(ExchangeError, match="subscribe refused: 2: Invalid request"):
                    await session.add_instruments(EXCHANGE, [ETH])
                gone = await lifecycle.wait_for(FeedRemoved)
                assert gone.instrument == ETH and gone.reason.startswith("subscription failed")
                with pytest.raises(ConfigError):
                    await view_of(session, ETH)
                assert not any(s.startswith("ethusdt@") for s in served_streams(sim))
                await trio.sleep(2.0)
                assert not btc.is_stale and not lifecycle.of(FeedDown)


async def test_usdm_adds_a_perpetual_with_its_mark_stream_and_removes_it_live(
    autojump_clock: trio.testing.MockClock,
) -> None:
    usdm, btc_perp, eth_perp = "binance_usdm", "BTC-USDT-PERP", "ETH-USDT-PERP"
    with trio.fail_after(120):
        async with (
            open_simulator("binance-usdm", seed=8, symbols=["BTCUSDT", "ETHUSDT"]) as sim,
            market_session(sim, exchange=usdm, names=(btc_perp, eth_perp)) as (session, lifecycle, markets),
        ):
            btc = await view_of(session, btc_perp, usdm)
            await btc.wait_synced()
            added = await session.add_instruments(usdm, [eth_perp])
            assert added.added == (eth_perp,)
            eth_streams = {"ethusdt@depth@100ms", "ethusdt@aggTrade", "ethusdt@bookTicker", "ethusdt@markPrice@1s"}
            assert served_streams(sim) >= eth_streams
            await lifecycle.wait_for(FeedSynced, lambda e: e.instrument == eth_perp)
            await trio.sleep(2.0)
            await assert_matches_engine(sim, await view_of(session, eth_perp, usdm), "ETHUSDT")
            assert any(type(e).__name__ == "MarkPrice" for e in markets[eth_perp].events)
            assert (await session.remove_instruments(usdm, [eth_perp])).removed == (eth_perp,)
            assert not served_streams(sim) & eth_streams
            await assert_matches_engine(sim, btc, "BTCUSDT")
            assert not lifecycle.of(FeedDown) and not [e for e in lifecycle.of(FeedStale) if e.instrument == btc_perp]
            assert_unbroken(markets[btc_perp].events, 10)
