"""The bus: topics, market conflation (counted, never blocking), never-drop account events, statistics."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.actors.bus import Bus, Subscription, topic_for
from clobactors.errors import ConfigError
from clobactors.messages import (
    ActorRestarted,
    Balance,
    BestBidAsk,
    BookDelta,
    Event,
    Fill,
    Level,
    SubscriberLagging,
    Trade,
)
from clobactors.model import Side

D = Decimal


def delta(
    bids: tuple[Level, ...] = (), asks: tuple[Level, ...] = (), seq: int = 1, inst: str = "BTC-USDT"
) -> BookDelta:
    return BookDelta(exchange="x", instrument=inst, bids=bids, asks=asks, first_sequence=seq, sequence=seq)


def bba(bid: str, inst: str = "BTC-USDT") -> BestBidAsk:
    return BestBidAsk(
        exchange="x", instrument=inst, bid_price=D(bid), bid_size=D(1), ask_price=None, ask_size=D(0)
    )


def trade(trade_id: str) -> Trade:
    return Trade(exchange="x", instrument="BTC-USDT", trade_id=trade_id, price=D(1), size=D(1))


def fill(n: int) -> Fill:
    return Fill(
        exchange="x",
        instrument="BTC-USDT",
        client_order_id="c",
        trade_id=str(n),
        side=Side.BUY,
        price=D(1),
        size=D(n),
    )


def drain(sub: Subscription) -> list[Event]:
    got: list[Event] = []
    while True:
        try:
            got.append(sub.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return got


def apply(book: dict[str, dict[Decimal, Decimal]], event: Event) -> None:
    assert isinstance(event, BookDelta)
    for side, levels in (("bids", event.decimal_bids()), ("asks", event.decimal_asks())):
        for price, size in levels:
            if size == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = size


def test_topics() -> None:
    assert topic_for(trade("1")) == "market.x.BTC-USDT"
    assert topic_for(fill(1)) == "account.x"
    assert topic_for(
        ActorRestarted(exchange="", supervisor="s", actor="a", restart_count=1, delay=0, error="")
    ) == ("lifecycle")


async def test_exact_and_prefix_matching() -> None:
    bus = Bus()
    exact = bus.subscribe("market.x.BTC-USDT")
    under_x = bus.subscribe("market.x", prefix=True)
    everything = bus.subscribe("", prefix=True)
    bus.publish_nowait(bba("1"))
    bus.publish_nowait(bba("2", inst="ETH-USDT"))
    bus.publish_nowait(
        BestBidAsk(
            exchange="xy", instrument="A", bid_price=None, bid_size=D(0), ask_price=None, ask_size=D(0)
        )
    )
    await bus.publish(fill(1))
    assert [len(drain(s)) for s in (exact, under_x, everything)] == [1, 2, 4]


def test_market_publish_never_blocks_and_conflates_by_key() -> None:
    bus = Bus(market_capacity=2)
    sub = bus.subscribe("market", prefix=True, name="slow")
    for n in range(100):
        bus.publish_nowait(bba(str(n)))  # no consumer at all: must return at once, every time
    # Two queued, then 98 merged into the newest pending top of book.
    assert (sub.statistics().conflated, sub.statistics().buffered) == (98, 2)
    bus.publish_nowait(bba("7", inst="ETH-USDT"))  # a new key with the buffer full: the oldest goes
    got = drain(sub)
    assert got == [bba("99"), bba("7", inst="ETH-USDT")]
    stats = sub.statistics()
    assert (stats.delivered, stats.conflated, stats.dropped, stats.peak_buffered) == (2, 98, 1, 2)


def test_full_buffer_drops_oldest_trade_and_counts_it() -> None:
    bus = Bus(market_capacity=2)
    sub = bus.subscribe("market.x.BTC-USDT")
    bus.publish_nowait(bba("1"))
    bus.publish_nowait(trade("a"))
    bus.publish_nowait(trade("b"))  # no key matches: the oldest trade goes
    bus.publish_nowait(bba("2"))  # merges into the pending top
    assert drain(sub) == [bba("2"), trade("b")]
    assert (sub.statistics().dropped, sub.statistics().conflated) == (1, 1)


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["bids", "asks"]),
            st.integers(min_value=1, max_value=8),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=6),
)
def test_conflated_deltas_leave_the_same_book(
    changes: list[tuple[str, int, int]], capacity: int, per_delta: int
) -> None:
    bus = Bus(market_capacity=capacity)
    sub = bus.subscribe("market.x.BTC-USDT")
    direct: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    events = []
    for i in range(0, len(changes), per_delta):
        chunk = changes[i : i + per_delta]
        # One price in two spellings ("5", "5.0"): merged deltas must still apply the newest change last.
        bids = tuple((f"{p}.0" if s % 2 else str(p), str(s)) for side, p, s in chunk if side == "bids")
        asks = tuple((f"{p}.0" if s % 2 else str(p), str(s)) for side, p, s in chunk if side == "asks")
        events.append(delta(bids, asks, seq=i))
    for event in events:
        apply(direct, event)
        bus.publish_nowait(event)
    via_bus: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    got = drain(sub)
    for received in got:
        apply(via_bus, received)
    assert via_bus == direct
    assert len(got) == min(capacity, len(events))
    assert sub.statistics().conflated == len(events) - len(got)
    last = got[-1]
    assert isinstance(last, BookDelta)
    assert last.sequence == events[-1].sequence


async def test_account_events_never_dropped_and_lagging_reported_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = Bus(reliable_capacity=10, lag_high_water=5)
    slow = bus.subscribe("account.x", name="slow")
    alarms = bus.subscribe("lifecycle")
    received: list[Event] = []
    done_at = 0.0

    async def consume() -> None:
        async with slow:
            async for event in slow:
                received.append(event)
                await trio.sleep(1)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        for n in range(30):
            await bus.publish(fill(n))
        done_at = trio.current_time() - start
        bus.close()
    assert received == [fill(n) for n in range(30)]
    # The consumer takes one event per second; the publisher blocks once 10 are queued, then keeps pace.
    assert done_at == 19
    lagging = drain(alarms)
    assert lagging == [SubscriberLagging(exchange="", topic="account.x", subscriber="slow", buffered=5)]
    stats = bus.statistics()
    assert stats.published["account.x"] == 30
    assert stats.published["lifecycle"] == 1


async def test_lagging_rearms_after_draining() -> None:
    bus = Bus(reliable_capacity=10, lag_high_water=4)
    slow = bus.subscribe("account.x", name="slow")
    alarms = bus.subscribe("lifecycle")
    for n in range(4):
        await bus.publish(fill(n))
    assert slow.statistics().lagging
    assert len(drain(slow)) == 4
    assert not slow.statistics().lagging
    for n in range(5):
        await bus.publish(fill(n))
    assert slow.statistics().lag_alerts == 2
    assert len(drain(alarms)) == 2


async def test_mixed_families_keep_arrival_order() -> None:
    bus = Bus()
    sub = bus.subscribe("", prefix=True)
    balance = Balance(exchange="x", asset="USDT", free=D(1), locked=D(0))
    bus.publish_nowait(bba("1"))
    await bus.publish(balance)
    await bus.publish(bba("2"))  # routed to the never-blocking path
    assert drain(sub) == [bba("1"), balance, bba("2")]


async def test_closing_a_subscription_unblocks_publishers(autojump_clock: trio.testing.MockClock) -> None:
    bus = Bus(reliable_capacity=1, lag_high_water=1)
    sub = bus.subscribe("account.x")
    await bus.publish(fill(1))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.publish, fill(2))  # blocks: buffer full
        await trio.sleep(5)
        await sub.aclose()
    assert trio.current_time() == 5
    assert bus.statistics().subscribers == ()
    with pytest.raises(trio.ClosedResourceError):
        await sub.receive()
    await bus.publish(fill(3))  # nobody listening: returns


async def test_bus_close_drains_then_ends() -> None:
    bus = Bus()
    sub = bus.subscribe("account.x")
    await bus.publish(fill(1))
    await bus.aclose()
    assert [e async for e in sub] == [fill(1)]
    with pytest.raises(trio.ClosedResourceError):
        await bus.publish(fill(2))
    with pytest.raises(trio.ClosedResourceError):
        bus.subscribe("account.x")


def test_bad_budgets_and_wrong_family() -> None:
    with pytest.raises(ConfigError):
        Bus(market_capacity=0)
    with pytest.raises(ConfigError):
        Bus(reliable_capacity=10, lag_high_water=11)
    with pytest.raises(TypeError):
        Bus().publish_nowait(fill(1))  # type: ignore[arg-type]


async def test_statistics_record() -> None:
    bus = Bus(market_capacity=1)
    sub = bus.subscribe("market.x.BTC-USDT", name="s")
    bus.publish_nowait(trade("1"))
    bus.publish_nowait(trade("2"))
    await sub.receive()
    stats = bus.statistics()
    assert stats.published == {"market.x.BTC-USDT": 2}
    (s,) = stats.subscribers
    assert (s.name, s.delivered, s.dropped, s.buffered, s.peak_buffered, s.lagging) == (
        "s",
        1,
        1,
        0,
        1,
        False,
    )
