"""Connection groups (subscriptions of different groups never share a connection) and the wire price grid."""

from __future__ import annotations

from decimal import Decimal

import trio
import trio.testing

from clobactors.actors import open_actor_system
from clobactors.actors.book_feed import BookFeed, GetBook
from clobactors.actors.book_view import BookView
from clobactors.backoff import Backoff
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.binance_usdm.dialect import BinanceUsdmDialect
from clobactors.exchanges.binance_usdm.urls import Environment, StreamRouting
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.messages import FeedConnected, FeedDown, FeedStale, FeedSynced, Trade
from clobactors.model import Instrument
from tests.actors.stream_fakes import FakeVenue, open_venue, wall_ns

EXACT = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.0)
BTC, ETH = "BTCUSDT", "ETHUSDT"


async def test_groups_get_separate_connections_and_books_live_with_book_channel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with (
            open_venue(venue, groups={Channel.TRADES: "market"}) as link,
            open_actor_system(seed=7, wall_ns=wall_ns) as system,
        ):
            sub = system.bus.subscribe("", prefix=True, market_capacity=10_000)
            feed = BookFeed(
                "feed", link, ("BTC-USDT", "ETH-USDT"), channels=(Channel.BOOK, Channel.TRADES), backoff=EXACT
            )
            await system.start(feed)
            await venue.wait_for(lambda: len(venue.market) == 2 and all(c.streams for c in venue.market))
            # Room for 12 streams, yet the groups split: all books on one connection, all trades on the other.
            assert sorted(sorted(c.streams) for c in venue.market) == [
                [f"{BTC}@book", f"{ETH}@book"],
                [f"{BTC}@trade", f"{ETH}@trade"],
            ]
            assert feed.statistics().connections == 2
            venue.depth(BTC, bids=[("100.00", "2")])
            venue.depth(ETH, bids=[("100.00", "2")])
            seen: list[object] = []
            while not {"BTC-USDT", "ETH-USDT"} <= {e.instrument for e in seen if isinstance(e, FeedSynced)}:
                seen.append(await sub.receive())
            venue.send_market({"e": "trade", "s": ETH, "id": 1, "p": "99.5", "q": "1"}, f"{ETH}@trade")
            while not any(isinstance(e, Trade) for e in seen):
                seen.append(await sub.receive())
            # Losing the trades connection touches no book: it owns none.
            venue.abort([c for c in venue.market if f"{BTC}@trade" in c.streams])
            while not any(isinstance(e, FeedDown) for e in seen):
                seen.append(await sub.receive())
            assert [e.feed for e in seen if isinstance(e, FeedDown)] == ["book/1"]
            while sum(isinstance(e, FeedConnected) for e in seen) < 3:  # two at start, then the reconnect
                seen.append(await sub.receive())
            assert not any(isinstance(e, FeedStale) for e in seen)
            view = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(view, BookView) and not view.is_stale
            stats = feed.statistics()
            assert stats.unknown_instrument == 0 and stats.reconnects == 1
            assert stats.resyncs == {"BTC-USDT": 0, "ETH-USDT": 0}


def test_usdm_live_routes_every_channel_on_its_own_connection() -> None:
    """What the feed opens for BOOK+TRADES+BBO+MARK under live routing: one valid URL per route group."""
    dialect = BinanceUsdmDialect.for_environment(Environment.LIVE)
    inst = Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT")
    subs = [Subscription(ch, inst) for ch in (Channel.BOOK, Channel.TRADES, Channel.BBO, Channel.MARK)]
    groups: dict[str, list[Subscription]] = {}
    for s in subs:
        groups.setdefault(dialect.connection_group(s), []).append(s)
    assert {g: [s.channel for s in ss] for g, ss in groups.items()} == {
        "public": [Channel.BOOK, Channel.BBO],
        "market": [Channel.TRADES, Channel.MARK],
    }
    urls = {g: dialect.market_stream_url(ss) for g, ss in groups.items()}  # no ConfigError
    assert urls["public"].endswith("/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker")
    assert urls["market"].endswith("/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s")
    combined = BinanceUsdmDialect.for_environment(Environment.LIVE, routing=StreamRouting.COMBINED)
    assert {combined.connection_group(s) for s in subs} == {""}
    assert dialect.book_price_decimals(inst) is None


def test_binance_spot_books_use_the_8_decimal_wire_grid() -> None:
    dialect = BinanceSpotDialect.for_environment()
    inst = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")
    assert dialect.book_price_decimals(inst) == 8
    assert dialect.connection_group(Subscription(Channel.BOOK, inst)) == ""
    assert Decimal("27000.01000000").as_tuple().exponent == -8  # the spelling the grid matches
