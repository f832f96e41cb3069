"""The book feed's snapshot fetches are bounded per feed, and frames carry the actor system's wall clock."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from clobactors.actors import open_actor_system
from clobactors.actors.book_feed import BookFeed
from clobactors.backoff import Backoff
from clobactors.errors import ConfigError
from clobactors.exchanges.standard import Channel
from clobactors.messages import BookDelta, FeedSynced
from tests.actors.stream_fakes import FakeVenue, open_venue, virtual, wall_ns

EXACT = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.0)
NAMES = ("BTC-USDT", "ETH-USDT", "SOL-USDT")


async def test_snapshots_wait_for_a_slot(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue(snapshot_delay=1.0)
    with trio.fail_after(30):
        async with open_venue(venue) as link, open_actor_system(seed=7, wall_ns=wall_ns) as system:
            watch = system.bus.subscribe("", prefix=True, market_capacity=10_000)
            feed = BookFeed("feed", link, NAMES, channels=(Channel.BOOK,), backoff=EXACT, max_concurrent_snapshots=2)
            await system.start(feed)
            await venue.wait_for(lambda: bool(venue.market and len(venue.market[0].streams) == 3))
            start = trio.current_time()
            for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
                venue.depth(symbol, bids=[("100.00", "1")])
            synced: dict[str, float] = {}
            deltas: list[BookDelta] = []
            while len(synced) < 3:
                event = await watch.receive()
                if isinstance(event, FeedSynced):
                    synced[event.instrument] = trio.current_time() - start
                elif isinstance(event, BookDelta):
                    deltas.append(event)
    # Two fetches at once, each taking 1 s: the third starts when a slot frees.
    assert sorted(t - start for t, _ in venue.snapshots) == [0.0, 0.0, 1.0]
    assert sorted(synced.values()) == [1.0, 1.0, 2.0]
    assert feed.statistics().instruments[0].snapshot_requests == 1


async def test_frames_are_stamped_with_the_system_wall_clock(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(30):
        async with open_venue(venue) as link, open_actor_system(seed=7, wall_ns=wall_ns) as system:
            watch = system.bus.subscribe("", prefix=True, market_capacity=10_000)
            await system.start(BookFeed("feed", link, NAMES[:1], channels=(Channel.BOOK,), backoff=EXACT))
            await venue.wait_for(lambda: bool(venue.market and venue.market[0].streams))
            await trio.sleep(2.5)
            venue.depth("BTCUSDT", bids=[("100.00", "1")])
            while not isinstance(event := await watch.receive(), FeedSynced):
                pass
            await trio.sleep(1)
            venue.depth("BTCUSDT", bids=[("100.00", "2")])
            while not isinstance(event := await watch.receive(), BookDelta):
                pass
            assert virtual(event.ts_recv) == trio.current_time()  # the system's clock, exact on virtual time


def test_snapshot_slots_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_concurrent_snapshots"):
        BookFeed("feed", None, NAMES, max_concurrent_snapshots=0)  # type: ignore[arg-type]
