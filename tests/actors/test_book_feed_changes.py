"""Adding and removing instruments of a running book feed, on the fake venue (no live subscriptions there).

The fake dialect has no ``live_subscribe_frames``, so the feed falls back to its documented path: an
instrument that fits on an open connection reopens that connection with the new set (only its books resync);
one that does not fit opens a new connection and leaves the others alone; a connection left empty closes.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from clobactors.actors import open_actor_system
from clobactors.actors.book_feed import (
    AddInstruments,
    BookFeed,
    FeedRoster,
    GetBook,
    InstrumentsAdded,
    InstrumentsRemoved,
    RemoveInstruments,
)
from clobactors.actors.book_view import BookView
from clobactors.errors import ConfigError, ConnectFailed
from clobactors.messages import FeedConnected, FeedDown, FeedRemoved, FeedStale, FeedSynced, Trade
from tests.actors.stream_fakes import FakeVenue, open_venue, wall_ns
from tests.actors.test_book_feed import EXACT, Watcher, book_of, running_feed, server_book

BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"


async def test_changes_without_live_subscriptions_touch_only_the_affected_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        # Two channels an instrument, four streams a connection: BTC and ETH fill connection 0.
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT"), max_streams=4) as (system, feed, watch, _):
            await venue.wait_for(lambda: len(venue.market) == 1 and len(venue.market[0].streams) == 4)
            venue.depth(BTC, bids=[("100.00", "2")])
            venue.depth(ETH, bids=[("100.00", "2")])
            await watch.synced("BTC-USDT", "ETH-USDT")
            with pytest.raises(ConfigError, match="'DOGE-USDT'"):
                await system.ask("feed", AddInstruments(("SOL-USDT", "DOGE-USDT")))
            assert feed.statistics().connections == 1 and len(venue.market) == 1  # nothing changed

            # SOL does not fit on connection 0: a new connection carries it, connection 0 is left alone.
            mark = len(watch.seen)
            answer = await system.ask("feed", AddInstruments(("SOL-USDT", "BTC-USDT", "SOL-USDT")))
            assert answer == InstrumentsAdded(added=("SOL-USDT",), already_subscribed=("BTC-USDT",))
            await venue.wait_for(lambda: len(venue.market) == 2)
            assert venue.market[1].streams == {f"{SOL}@book", f"{SOL}@trade"}
            await watch.next(FeedConnected, lambda e: e.feed == "book/1")
            venue.depth(SOL, asks=[("101.50", "1")])
            await watch.synced("SOL-USDT", since=mark)
            sol = await system.ask("feed", GetBook("SOL-USDT"))
            assert isinstance(sol, BookView) and book_of(sol) == server_book(venue, SOL)
            assert not [e for e in watch.seen[mark:] if isinstance(e, FeedStale | FeedDown)]

            # Removing SOL empties connection 1: it closes; BTC and ETH never notice.
            answer = await system.ask("feed", RemoveInstruments(("SOL-USDT",)))
            assert answer == InstrumentsRemoved(removed=("SOL-USDT",))
            removed = await watch.next(FeedRemoved)
            assert (removed.instrument, removed.feed, removed.reason) == ("SOL-USDT", "book", "removed on request")
            await venue.wait_for(lambda: len(venue.market) == 1)
            assert sol.is_stale
            with pytest.raises(ConfigError, match="removed"):
                await sol.wait_synced()
            with pytest.raises(ConfigError):
                await system.ask("feed", GetBook("SOL-USDT"))
            assert not [e for e in watch.seen[mark:] if isinstance(e, FeedStale | FeedDown)]

            # Removing ETH from the shared connection reopens it with BTC alone; BTC resyncs (no live path).
            mark = len(watch.seen)
            answer = await system.ask("feed", RemoveInstruments(("ETH-USDT",)))
            assert answer == InstrumentsRemoved(removed=("ETH-USDT",))
            down = await watch.next(FeedDown)
            assert (down.feed, down.reason) == ("book/0", "resubscribing")
            btc_only = {f"{BTC}@book", f"{BTC}@trade"}
            await venue.wait_for(lambda: len(venue.market) == 1 and venue.market[0].streams == btc_only)
            venue.depth(BTC, bids=[("99.00", "1")])
            await watch.synced("BTC-USDT", since=mark)
            assert {e.instrument for e in watch.seen[mark:] if isinstance(e, FeedRemoved)} == {"ETH-USDT"}

            # An ETH frame still in flight (sent to every socket) is dropped and counted, never published.
            venue.send_market({"e": "depth", "s": ETH, "U": 50, "u": 50, "b": [["1", "1"]], "a": []})
            venue.send_market({"e": "trade", "s": BTC, "id": 3, "p": "99.5", "q": "1"}, f"{BTC}@trade")
            await watch.next(Trade)
            assert not [e for e in watch.seen[mark:] if e.instrument == "ETH-USDT" and not isinstance(e, FeedRemoved)]
            answer = await system.ask("feed", RemoveInstruments(("ETH-USDT",)))
            assert answer == InstrumentsRemoved(removed=(), not_subscribed=("ETH-USDT",))

            stats = feed.statistics()
            assert (stats.connections, stats.removed_instrument, stats.unknown_instrument) == (1, 1, 0)
            assert [i.instrument for i in stats.instruments] == ["BTC-USDT"]
            assert stats.subscriptions is not None
            subs = stats.subscriptions
            assert (subs.added, subs.removed, subs.reopens, subs.connections_opened, subs.connections_closed) == (
                1,
                2,
                1,
                1,
                1,
            )
            assert subs.live_frames == 0


async def test_a_restarted_feed_starts_with_the_roster_of_what_was_added_and_removed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        async with open_venue(venue) as link, open_actor_system(seed=7, wall_ns=wall_ns) as system:
            roster = FeedRoster(("BTC-USDT",))
            watch = Watcher(system.bus.subscribe("lifecycle", prefix=True))
            await system.start(BookFeed("feed", link, roster.instruments, backoff=EXACT, roster=roster))
            await system.ask("feed", AddInstruments(("ETH-USDT", "SOL-USDT")))
            await system.ask("feed", RemoveInstruments(("BTC-USDT",)))
            assert list(roster.instruments) == ["ETH-USDT", "SOL-USDT"]
            await system.ask("feed", RemoveInstruments(("ETH-USDT", "SOL-USDT")))
            assert not roster.instruments
            # A feed with a roster may carry nothing; its next incarnation starts empty and can grow again.
            second = BookFeed("feed2", link, roster.instruments, backoff=EXACT, roster=roster)
            await system.start(second)
            assert second.statistics().connections == 0
            await system.ask("feed2", AddInstruments(("ETH-USDT",)))
            venue.depth(ETH, bids=[("100.00", "3")])
            await watch.next(FeedSynced, lambda e: e.instrument == "ETH-USDT")
            assert list(roster.instruments) == ["ETH-USDT"] and second.statistics().connections == 1


async def test_an_add_whose_new_connection_cannot_open_fails_and_changes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        async with running_feed(venue, ("BTC-USDT", "ETH-USDT"), max_streams=4) as (system, feed, watch, link):
            venue.depth(BTC, bids=[("100.00", "2")])
            await watch.synced("BTC-USDT")
            link.dialect.ws_port = 1  # type: ignore[attr-defined]  # nothing listens there
            with pytest.raises(ConnectFailed):
                await system.ask("feed", AddInstruments(("SOL-USDT",)))
            removed = await watch.next(FeedRemoved)
            assert removed.instrument == "SOL-USDT" and removed.reason.startswith("subscription failed")
            stats = feed.statistics()
            assert stats.connections == 1 and [i.instrument for i in stats.instruments] == ["BTC-USDT", "ETH-USDT"]
            assert stats.subscriptions is not None and stats.subscriptions.refused == 1
            with pytest.raises(ConfigError):
                await system.ask("feed", GetBook("SOL-USDT"))
            venue.depth(BTC, bids=[("100.00", "3")])  # the running connection never noticed
            view = await system.ask("feed", GetBook("BTC-USDT"))
            assert isinstance(view, BookView) and not view.is_stale
