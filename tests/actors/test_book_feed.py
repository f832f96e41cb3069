"""The book feed against a fake venue over loopback, on virtual time: sync, per-instrument resync, idle, reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TypeVar

import attrs
import pytest
import trio
import trio.testing

from clobactors.actors import ActorSystem, open_actor_system
from clobactors.actors.book_feed import BookFeed, GetBook
from clobactors.actors.book_view import BookView
from clobactors.actors.bus import Subscription
from clobactors.actors.exchange import ExchangeLink
from clobactors.backoff import Backoff
from clobactors.errors import ActorUnavailable, ConfigError, ConnectFailed
from clobactors.exchanges.standard import Channel
from clobactors.messages import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Event,
    FeedConnected,
    FeedDown,
    FeedStale,
    FeedSynced,
    Trade,
)
from clobactors.model import Side
from tests.actors.stream_fakes import FakeVenue, open_venue, virtual, wall_ns

EXACT = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.0)
BTC, ETH = "BTCUSDT", "ETHUSDT"
D = Decimal
E = TypeVar("E", bound=Event)


def fresh(view: BookView) -> bool:
    """``not view.is_stale``, read anew: mypy would keep an earlier assert's narrowing across awaits."""
    return not view.is_stale


@attrs.define
class Watcher:
    """Reads the bus in order, remembering everything it skipped over."""

    sub: Subscription
    seen: list[Event] = attrs.field(factory=list)

    async def next(self, kind: type[E], where: Callable[[E], bool] = lambda e: True) -> E:
        while True:
            event = await self.sub.receive()
            self.seen.append(event)
            if isinstance(event, kind) and where(event):
                return event

    async def synced(self, *instruments: str, since: int = 0) -> None:
        """Read on until every instrument has had a FeedSynced (in any order) after ``seen[since]``."""
        while not set(instruments) <= {e.instrument for e in self.seen[since:] if isinstance(e, FeedSynced)}:
            self.seen.append(await self.sub.receive())

    def of(self, kind: type[E], instrument: str | None = None) -> list[E]:
        return [e for e in self.seen if isinstance(e, kind) and instrument in (None, e.instrument)]


@asynccontextmanager
async def running_feed(
    venue: FakeVenue,
    instruments: tuple[str, ...] = ("BTC-USDT",),
    *,
    max_streams: int = 12,
    checksums: bool = False,
    channels: tuple[Channel, ...] = (Channel.BOOK, Channel.TRADES),
) -> AsyncIterator[tuple[ActorSystem, BookFeed, Watcher, ExchangeLink]]:
    async with open_venue(venue, max_streams=max_streams, checksums=checksums) as link:
        async with open_actor_system(seed=7, wall_ns=wall_ns) as system:
            watcher = Watcher(system.bus.subscribe("", prefix=True, market_capacity=10_000))
            feed = BookFeed("feed", link, instruments, channels=channels, backoff=EXACT)
            await system.start(feed)
            yield system, feed, watcher, link


def book_of(view: BookView) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    return view.top(Side.BUY, 100), view.top(Side.SELL, 100)


def server_book(venue: FakeVenue, symbol: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    return venue.books[symbol].levels()


async def test_sync_splices_snapshot_with_buffered_deltas(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue(snapshot_delay=1.0)
    with trio.fail_after(30):
        async with running_feed(venue) as (system, feed, watch, _):
            await watch.next(FeedConnected)
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            view = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(view, BookView) and view.is_stale
            venue.depth(BTC, bids=[("100.00", "2")])  # 11: buffered, triggers the snapshot (captured at 11)
            await venue.wait_for(lambda: venue.snapshot_count(BTC) == 1)
            venue.depth(BTC, asks=[("100.50", "3")])  # 12 and 13 arrive while the snapshot is in flight
            venue.depth(BTC, bids=[("100.00", "0"), ("99.00", "5")])
            synced = await watch.next(FeedSynced)
            assert synced.instrument == "BTC-USDT" and synced.sequence == 13
            assert virtual(synced.ts_recv) == 1.0  # exactly the snapshot's round trip
            applied = [e for e in watch.seen if isinstance(e, BookSnapshot | BookDelta)]
            assert [type(e) for e in applied] == [BookSnapshot, BookDelta, BookDelta]
            assert [e.sequence for e in applied] == [11, 12, 13]
            assert fresh(view) and view.sequence == 13
            assert book_of(view) == server_book(venue, BTC)
            # No BBO channel: the top is derived from the book, once per change, after the deltas.
            bbo = watch.of(BestBidAsk)
            assert len(bbo) == 1 and bbo[0].bid_price == D("99.00") and bbo[0].ask_price == D("100.50")
            venue.depth(BTC, bids=[("99.00", "6")])
            venue.send_market({"e": "trade", "s": BTC, "id": 9, "p": "99.5", "q": "1"}, f"{BTC}@trade")
            trade = await watch.next(Trade)
            assert trade.price == D("99.5")
            assert isinstance(watch.of(BestBidAsk)[-1], BestBidAsk) and watch.of(BestBidAsk)[-1].bid_size == D(6)
            venue.depth(BTC, asks=[("102.00", "1")])  # not the top: no new BestBidAsk
            await watch.next(BookDelta, lambda e: e.sequence == 15)
            assert len(watch.of(BestBidAsk)) == 2
            stats = feed.statistics()
            assert stats.instruments[0].deltas_applied == 4 and stats.instruments[0].snapshot_requests == 1
            assert stats.control_acks == 1 and stats.malformed == 0


async def test_gap_resyncs_only_that_instrument(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT")) as (system, feed, watch, _):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            assert feed.statistics().connections == 1  # both on one connection
            venue.depth(BTC, bids=[("100.00", "2")])
            venue.depth(ETH, bids=[("100.00", "3")])
            await watch.synced("BTC-USDT", "ETH-USDT")
            btc = await system.ask("feed", GetBook("BTC-USDT"))
            eth = await system.ask("feed", GetBook("ETH-USDT"))
            assert isinstance(btc, BookView) and isinstance(eth, BookView)
            venue.snapshot_delay = 2.0
            venue.depth(BTC, bids=[("99.00", "1")], skip=3)  # update ids 12..14 lost: a gap on BTC only
            stale = await watch.next(FeedStale)
            assert stale.instrument == "BTC-USDT" and "gap" in stale.reason
            assert btc.is_stale and not eth.is_stale
            t_stale = trio.current_time()
            # ETH keeps flowing while BTC's snapshot is in flight.
            venue.depth(ETH, asks=[("100.70", "4")])
            delta = await watch.next(BookDelta, lambda e: e.instrument == "ETH-USDT")
            assert trio.current_time() < t_stale + 2.0 and btc.is_stale
            assert eth.best_ask() == (D("100.70"), D(4))
            venue.depth(BTC, asks=[("100.90", "1")])  # buffered behind the gap delta
            resynced = await watch.next(FeedSynced, lambda e: e.instrument == "BTC-USDT")
            assert resynced.sequence == venue.books[BTC].seq
            assert watch.seen.index(delta) < watch.seen.index(resynced)
            assert book_of(btc) == server_book(venue, BTC) and book_of(eth) == server_book(venue, ETH)
            assert venue.snapshot_count(BTC) == 2 and venue.snapshot_count(ETH) == 1
            stats = feed.statistics()
            assert stats.resyncs == {"BTC-USDT": 1, "ETH-USDT": 0}
            assert stats.reconnects == 0 and stats.stale_events == 1
            # Consumers can rebuild: the resync republished a snapshot for BTC only.
            snaps = [e.instrument for e in watch.seen if isinstance(e, BookSnapshot)]
            assert snaps == ["BTC-USDT", "ETH-USDT", "BTC-USDT"]


async def test_idle_marks_stale_at_deadline_and_reconnects_with_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        async with running_feed(venue) as (system, feed, watch, _):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            venue.depth(BTC, bids=[("100.00", "2")])
            await watch.next(FeedSynced)
            last = trio.current_time()
            venue.depth(BTC, bids=[("100.00", "3")])  # the last frame; then the venue goes quiet
            await watch.next(BookDelta, lambda e: e.sequence == 12)
            stale = await watch.next(FeedStale)
            assert virtual(stale.ts_recv) == last + 5.0  # dialect.idle_timeout after the last frame
            assert stale.instrument == "BTC-USDT" and stale.reason.startswith("idle")
            down = await watch.next(FeedDown)
            assert virtual(down.ts_recv) == last + 5.0 and down.feed == "book/0"
            # It had data, so the first delay is backoff.delay(0); quiet reconnects then back off further.
            connects = [virtual((await watch.next(FeedConnected)).ts_recv) for _ in range(3)]
            assert connects == [last + 5.5, last + 5.5 + 5 + 1.0, last + 5.5 + 5 + 1.0 + 5 + 2.0]
            view = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(view, BookView) and view.is_stale
            # A quiet connection still syncs its book from a snapshot quiet_snapshot_after (3 s) in, so each
            # quiet reconnect is fresh from +3 s and goes stale again at its idle deadline (+5 s).
            synced = [virtual(e.ts_recv) for e in watch.of(FeedSynced)]
            assert synced[1:] == [connects[0] + 3.0, connects[1] + 3.0]
            stale_at = [virtual(e.ts_recv) for e in watch.of(FeedStale)]
            assert stale_at == [last + 5.0, connects[0] + 5.0, connects[1] + 5.0]
            assert venue.snapshot_count(BTC) == 3 and feed.statistics().instruments[0].quiet_syncs == 2
            assert len(venue.connections) == 4 and feed.statistics().reconnects == 3
            venue.depth(BTC, asks=[("100.80", "1")])  # data again: resync on the new connection
            await watch.next(FeedSynced)
            assert fresh(view) and book_of(view) == server_book(venue, BTC)


async def test_abort_reconnects_resubscribes_and_resyncs_everything(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT")) as (system, feed, watch, _):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            venue.depth(BTC, bids=[("100.00", "2")])
            venue.depth(ETH, bids=[("100.00", "2")])
            await watch.synced("BTC-USDT", "ETH-USDT")
            aborted = trio.current_time()
            venue.abort(venue.market)
            down = await watch.next(FeedDown)
            assert virtual(down.ts_recv) == aborted
            assert {e.instrument for e in watch.of(FeedStale)} == {"BTC-USDT", "ETH-USDT"}
            connected = await watch.next(FeedConnected)
            assert virtual(connected.ts_recv) == aborted + 0.5
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            assert venue.market[0].streams == {f"{s}@{c}" for s in (BTC, ETH) for c in ("book", "trade")}
            mark = len(watch.seen)
            venue.depth(BTC, asks=[("100.60", "1")])
            venue.depth(ETH, asks=[("100.60", "1")])
            await watch.synced("BTC-USDT", "ETH-USDT", since=mark)
            for name, symbol in (("BTC-USDT", BTC), ("ETH-USDT", ETH)):
                view = await system.ask("feed", GetBook(name))
                assert isinstance(view, BookView) and book_of(view) == server_book(venue, symbol)
                assert venue.snapshot_count(symbol) == 2
            assert feed.statistics().reconnects == 1


async def test_malformed_frames_follow_their_hint(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT")) as (_system, feed, watch, _):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            venue.depth(BTC, bids=[("100.00", "2")])
            venue.depth(ETH, bids=[("100.00", "2")])
            await watch.synced("BTC-USDT", "ETH-USDT")
            venue.send_market(b"this is not json")
            venue.send_market({"e": "bad", "hint": "drop", "s": BTC})
            venue.send_market({"e": "bad", "hint": "resync", "s": ETH})
            stale = await watch.next(FeedStale)
            assert stale.instrument == "ETH-USDT" and feed.statistics().malformed == 3
            assert feed.statistics().resyncs == {"BTC-USDT": 0, "ETH-USDT": 1}
            venue.depth(ETH, bids=[("99.00", "1")])
            await watch.next(FeedSynced, lambda e: e.instrument == "ETH-USDT")
            venue.send_market({"e": "bad", "hint": "reconnect"})
            await watch.next(FeedDown)
            connected = await watch.next(FeedConnected)
            stats = feed.statistics()
            assert stats.malformed == 4 and stats.reconnects == 1
            assert connected.ts_recv == watch.of(FeedDown)[-1].ts_recv  # it had data: at once


async def test_reconnect_control_and_refused_subscription(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue(refused={f"{BTC}@trade"})
    with trio.fail_after(30):
        async with running_feed(venue) as (_, feed, watch, _link):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            venue.depth(BTC, bids=[("100.00", "2")])
            await watch.next(FeedSynced)
            assert feed.statistics().control_errors == 1  # the refused trade stream, counted and logged
            down_at = trio.current_time()
            venue.send_market({"e": "reconnect", "detail": "maintenance"})
            down = await watch.next(FeedDown)
            assert "maintenance" in down.reason
            connected = await watch.next(FeedConnected)
            assert virtual(connected.ts_recv) == down_at  # the connection had data: reconnect at once


async def test_checksum_mismatch_resyncs(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with running_feed(venue, checksums=True) as (_, feed, watch, _link):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            venue.depth(BTC, bids=[("100.00", "2")])
            await watch.next(FeedSynced)
            book = venue.books[BTC]
            book.apply([("100.00", "4")], [])
            good = venue.okx_checksum(BTC)
            book.apply([("100.00", "2")], [])
            venue.depth(BTC, bids=[("100.00", "4")], checksum=good)
            await watch.next(BookDelta, lambda e: e.sequence == 12)
            venue.depth(BTC, bids=[("100.00", "5")], checksum=good)  # wrong for the new book
            stale = await watch.next(FeedStale)
            assert "checksum" in stale.reason
            stats = feed.statistics().instruments[0]
            assert stats.checksum_failures == 1 and stats.resyncs == 1


async def test_instruments_split_across_connections(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        # 2 channels per instrument, 5 streams per connection: two instruments per connection.
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT", "SOL-USDT"), max_streams=5) as (
            system,
            feed,
            watch,
            _l,
        ):
            await venue.wait_for(lambda: len(venue.market) == 2 and all(c.streams for c in venue.market))
            assert sorted(len(c.streams) for c in venue.market) == [2, 4]
            assert feed.statistics().connections == 2
            venue.depth("SOLUSDT", bids=[("100.00", "2")])
            venue.depth(BTC, bids=[("100.00", "2")])
            await watch.synced("SOL-USDT", "BTC-USDT")
            venue.abort([c for c in venue.market if len(c.streams) == 2])  # the SOL connection only
            down = await watch.next(FeedDown)
            assert down.feed == "book/1"
            assert [e.instrument for e in watch.of(FeedStale)] == ["SOL-USDT"]
            btc = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(btc, BookView) and not btc.is_stale


async def test_book_view_is_read_only_and_outlives_nothing(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with running_feed(venue) as (system, _, _watch, _link):
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            with pytest.raises(ConfigError):
                await system.ask("feed", GetBook("DOGE-USDT"))
            view = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(view, BookView)
            venue.depth(BTC, bids=[("99.50", "2")], asks=[("100.50", "1")])
            with trio.fail_after(1):
                await view.wait_synced()
            assert view.best_bid() == (D("100.00"), D(1)) and view.best_ask() == (D("100.50"), D(1))
            assert view.mid() == D("100.25") and view.levels() == (2, 2)
            assert view.top(Side.BUY, 1) == [(D("100.00"), D(1))]
            assert view.depth(Side.BUY, D("99"), D("101")) == D(3)
            snap = view.snapshot(10)
            assert snap.decimal_bids() == ((D("100.00"), D(1)), (D("99.50"), D(2))) and snap.sequence == 11
            assert view.last_update == trio.current_time() and view.exchange == "fakex"
            assert not hasattr(view, "apply") and not hasattr(view, "book")
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                view._state = view._state  # type: ignore[misc]
        assert view.is_stale  # the feed stopped with the system
        with pytest.raises(ActorUnavailable):
            await view.wait_synced()


async def test_feed_that_cannot_connect_crashes_before_ready(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with open_venue(venue) as link, open_actor_system(wall_ns=wall_ns) as system:
            link.dialect.ws_port = 1  # type: ignore[attr-defined]
            with pytest.raises(ConnectFailed):
                await system.start(BookFeed("feed", link, ["BTC-USDT"], backoff=EXACT))
            with pytest.raises(ConfigError):
                BookFeed("feed", link, [])


async def test_quiet_instrument_syncs_from_a_snapshot_without_waiting_for_a_delta(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue(snapshot_delay=0.5)
    with trio.fail_after(30):
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT")) as (system, feed, watch, _):
            connected = virtual((await watch.next(FeedConnected)).ts_recv)
            venue.depth(BTC, bids=[("100.00", "2")])  # BTC trades at once; ETH stays silent
            await watch.synced("BTC-USDT")
            assert venue.snapshot_count(ETH) == 0
            await watch.synced("ETH-USDT")
            eth_synced = watch.of(FeedSynced, "ETH-USDT")[0]
            assert virtual(eth_synced.ts_recv) == connected + 3.0 + 0.5  # quiet_snapshot_after + round trip
            eth = await system.ask("feed", GetBook("ETH-USDT"))
            assert isinstance(eth, BookView) and not eth.is_stale
            assert book_of(eth) == server_book(venue, ETH)
            venue.depth(ETH, asks=[("100.70", "4")])  # the first delta after a bare snapshot continues it
            await watch.next(BookDelta, lambda e: e.instrument == "ETH-USDT")
            assert book_of(eth) == server_book(venue, ETH)
            stats = {s.instrument: s for s in feed.statistics().instruments}
            assert stats["ETH-USDT"].quiet_syncs == 1 and stats["BTC-USDT"].quiet_syncs == 0
            assert venue.snapshot_count(BTC) == 1 and venue.snapshot_count(ETH) == 1
