"""Binance spot sequencing: the documented splice rule, unit cases and random streams against a true book."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import RecoveryHint, RemoteProtocolError, SequenceGap
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.messages import BookDelta, BookSnapshot, Level, level


def delta(first: int, last: int, bids: tuple[Level, ...] = ()) -> BookDelta:
    return BookDelta(exchange="binance", instrument="BTC-USDT", bids=bids, first_sequence=first, sequence=last)


def snapshot(last_update_id: int | None) -> BookSnapshot:
    return BookSnapshot(exchange="binance", instrument="BTC-USDT", bids=(), asks=(), sequence=last_update_id)


def ranges(items: tuple[BookSnapshot | BookDelta, ...]) -> list[tuple[int | None, int | None]]:
    return [(d.first_sequence, d.sequence) if isinstance(d, BookDelta) else (None, d.sequence) for d in items]


def levels(book: dict[Decimal, Decimal]) -> tuple[Level, ...]:
    """``book`` as an exchange sends it: decimal strings."""
    return tuple(level(price, size) for price, size in book.items())


def test_buffers_until_snapshot_then_drops_what_it_contains() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    assert sync.needs_rest_snapshot
    for first, last in ((101, 105), (106, 110), (111, 111)):
        assert sync.on_delta(delta(first, last)).apply == ()
    result = sync.on_snapshot(snapshot(107))
    assert result.synced and ranges(result.apply) == [(None, 107), (106, 110), (111, 111)]
    assert sync.on_delta(delta(112, 115)).apply == (delta(112, 115),)
    stats = sync.statistics()
    assert (stats.synced, stats.last_update_id, stats.applied, stats.buffered) == (True, 115, 3, 0)


def test_snapshot_exactly_at_an_event_boundary() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    sync.on_delta(delta(101, 105))
    sync.on_delta(delta(106, 110))
    assert ranges(sync.on_snapshot(snapshot(105)).apply) == [(None, 105), (106, 110)]


def test_snapshot_newer_than_every_buffered_event() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    sync.on_delta(delta(101, 105))
    result = sync.on_snapshot(snapshot(200))
    assert ranges(result.apply) == [(None, 200)] and result.synced
    with pytest.raises(SequenceGap):
        sync.on_delta(delta(202, 203))


def test_snapshot_with_nothing_buffered() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    assert ranges(sync.on_snapshot(snapshot(50)).apply) == [(None, 50)]
    assert sync.on_delta(delta(45, 51)).apply == (delta(45, 51),)  # straddles the book: U <= 51 <= u


def test_snapshot_too_old_is_a_gap_and_keeps_the_buffer() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    sync.on_delta(delta(101, 105))
    with pytest.raises(SequenceGap) as info:
        sync.on_snapshot(snapshot(99))
    gap = info.value
    assert (gap.expected, gap.received, gap.hint, gap.instrument) == (100, 101, RecoveryHint.RESYNC, "BTC-USDT")
    assert not sync.synced and sync.statistics().buffered == 1
    assert ranges(sync.on_snapshot(snapshot(103)).apply) == [(None, 103), (101, 105)]


def test_gap_inside_the_buffer() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    for first, last in ((101, 105), (108, 110), (111, 112)):
        sync.on_delta(delta(first, last))
    with pytest.raises(SequenceGap) as info:
        sync.on_snapshot(snapshot(102))
    assert (info.value.expected, info.value.received) == (106, 108)
    assert ranges(sync.on_snapshot(snapshot(109)).apply) == [(None, 109), (108, 110), (111, 112)]


def test_live_gap_stale_duplicate_and_recovery() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    sync.on_snapshot(snapshot(100))
    sync.on_delta(delta(101, 103))
    assert sync.on_delta(delta(101, 103)).apply == ()  # duplicate: ignored, still synced
    assert sync.on_delta(delta(102, 103)).synced
    with pytest.raises(SequenceGap) as info:
        sync.on_delta(delta(105, 106))
    assert (info.value.expected, info.value.received) == (104, 105)
    assert not sync.synced
    # The event that showed the gap starts the new buffer; a fresh snapshot splices onto it.
    assert ranges(sync.on_snapshot(snapshot(105)).apply) == [(None, 105), (105, 106)]
    stats = sync.statistics()
    assert (stats.gaps, stats.stale_ignored, stats.snapshots) == (1, 2, 2)


def test_reset_forgets_buffer_and_book() -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    sync.on_delta(delta(1, 2))
    sync.on_snapshot(snapshot(1))
    with pytest.raises(SequenceGap):
        sync.on_delta(delta(5, 6))  # keeps 5..6 buffered for the next snapshot
    assert sync.statistics().buffered == 1
    sync.reset()
    assert not sync.synced and sync.statistics().buffered == 0
    assert sync.on_delta(delta(7, 8)).apply == ()


def test_buffer_is_bounded() -> None:
    sync = BinanceSpotBookSync("BTC-USDT", max_buffered=2)
    for n in range(1, 6):
        sync.on_delta(delta(n, n))
    assert sync.statistics().buffered == 2
    with pytest.raises(SequenceGap):  # events 1..3 fell out, so a snapshot at 1 cannot splice
        sync.on_snapshot(snapshot(1))


@pytest.mark.parametrize("bad", [delta(5, 4), BookDelta(exchange="binance", instrument="X", sequence=3)])
def test_malformed_update_ids(bad: BookDelta) -> None:
    sync = BinanceSpotBookSync("BTC-USDT")
    with pytest.raises(RemoteProtocolError) as info:
        sync.on_delta(bad)
    assert info.value.hint is RecoveryHint.RESYNC and not isinstance(info.value, SequenceGap)
    with pytest.raises(RemoteProtocolError, match="lastUpdateId"):
        sync.on_snapshot(snapshot(None))


# -- property: random streams against the exchange's true book -----------------------------------------------


@dataclass
class Exchange:
    """The true book: update id ``i`` sets price ``1 + i % 7`` to quantity ``i``; events cover id ranges."""

    events: list[tuple[int, int]]

    def state(self, upto: int) -> dict[Decimal, Decimal]:
        book: dict[Decimal, Decimal] = {}
        for i in range(1, upto + 1):
            book[Decimal(1 + i % 7)] = Decimal(i)
        return book

    def event(self, first: int, last: int) -> BookDelta:
        changes: dict[Decimal, Decimal] = {}
        for i in range(first, last + 1):
            changes[Decimal(1 + i % 7)] = Decimal(i)
        return delta(first, last, levels(changes))


@dataclass
class Client:
    book: dict[Decimal, Decimal] = field(default_factory=dict)
    last: int | None = None

    def apply(self, items: tuple[BookSnapshot | BookDelta, ...]) -> None:
        for item in items:
            if isinstance(item, BookSnapshot):
                self.book = dict(item.decimal_bids())
            else:
                assert self.last is not None and item.first_sequence is not None
                assert item.first_sequence <= self.last + 1 <= (item.sequence or 0), "applied out of sequence"
                self.book.update(item.decimal_bids())
            self.last = item.sequence


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Exchange, list[tuple[str, int]]]:
    """Consecutive events; a delivery plan with drops, duplicates, reorders; one snapshot somewhere."""
    sizes = draw(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=25))
    events: list[tuple[int, int]] = []
    start = 1
    for size in sizes:
        events.append((start, start + size - 1))
        start += size
    plan: list[tuple[str, int]] = []
    for index in range(len(events)):
        action = draw(st.sampled_from(["send"] * 6 + ["drop", "dup", "late"]))
        if action == "drop":
            continue
        plan.append(("event", index))
        if action == "dup":
            plan.append(("event", index))
        elif action == "late" and index:
            plan.append(("event", draw(st.integers(min_value=0, max_value=index - 1))))
    at = draw(st.integers(min_value=0, max_value=len(plan)))
    snap_id = draw(st.integers(min_value=0, max_value=events[-1][1]))
    plan.insert(at, ("snapshot", snap_id))
    return Exchange(events), plan


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_random_streams_never_apply_a_wrong_book(scenario: tuple[Exchange, list[tuple[str, int]]]) -> None:
    """Whatever arrives, a synced client's book equals the true book at its update id; a gap is raised only
    when an update id the client needs really went missing (or the snapshot was too old)."""
    exchange, plan = scenario
    sync = BinanceSpotBookSync("BTC-USDT")
    client = Client()
    delivered: set[int] = set()
    snap_id: int | None = None
    gap: SequenceGap | None = None
    for kind, value in plan:
        try:
            if kind == "snapshot":
                snap_id = value
                truth = exchange.state(value)
                result = sync.on_snapshot(
                    BookSnapshot(exchange="binance", instrument="BTC-USDT", bids=levels(truth), asks=(),
                                 sequence=value)
                )  # fmt: skip
            else:
                first, last = exchange.events[value]
                result = sync.on_delta(exchange.event(first, last))
                delivered.update(range(first, last + 1))
        except SequenceGap as exc:
            gap = exc
            break
        client.apply(result.apply)
        if result.synced:
            assert client.last is not None and client.book == exchange.state(client.last)
    if gap is not None:
        assert gap.expected is not None and gap.received is not None
        missing = set(range(gap.expected, gap.received))
        assert missing and not missing <= delivered, "gap raised although every missing id had arrived"
        return
    if snap_id is not None and sync.synced:
        assert client.last is not None and client.last >= snap_id


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=20),
    snap_at=st.integers(min_value=0, max_value=40),
    data=st.data(),
)
def test_clean_stream_always_syncs(sizes: list[int], snap_at: int, data: st.DataObject) -> None:
    """No loss and a snapshot no older than the first buffered event: no gap, and every event gets applied."""
    events: list[tuple[int, int]] = []
    start = 1
    for size in sizes:
        events.append((start, start + size - 1))
        start += size
    snap_at = min(snap_at, len(events))
    buffered = events[:snap_at]
    low = buffered[0][0] - 1 if buffered else 0
    high = buffered[-1][1] if buffered else 0
    snap_id = data.draw(st.integers(min_value=low, max_value=max(low, high)))
    sync = BinanceSpotBookSync("BTC-USDT")
    for first, last in buffered:
        sync.on_delta(delta(first, last))
    applied_to = sync.on_snapshot(snapshot(snap_id)).apply[-1].sequence
    assert applied_to == max(snap_id, high)
    for first, last in events[snap_at:]:
        if last > snap_id:
            assert sync.on_delta(delta(first, last)).apply
    assert sync.statistics().last_update_id == max(snap_id, events[-1][1])
