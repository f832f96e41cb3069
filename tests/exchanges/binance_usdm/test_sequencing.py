"""Binance USD-M sequencing: the documented ``pu`` rule, unit cases, and random streams against a true book."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import RecoveryHint, RemoteProtocolError, SequenceGap
from clobactors.exchanges.binance_usdm.sequencing import BinanceUsdmBookSync
from clobactors.messages import BookDelta, BookSnapshot, Level, level


def delta(first: int, last: int, prev: int | None, bids: tuple[Level, ...] = ()) -> BookDelta:
    return BookDelta(
        exchange="binance_usdm", instrument="BTC-USDT-PERP", bids=bids, first_sequence=first, sequence=last,
        prev_sequence=prev,
    )  # fmt: skip


def snapshot(last_update_id: int | None) -> BookSnapshot:
    return BookSnapshot(exchange="binance_usdm", instrument="BTC-USDT-PERP", bids=(), asks=(), sequence=last_update_id)


def ranges(items: tuple[BookSnapshot | BookDelta, ...]) -> list[tuple[int | None, int | None]]:
    return [(d.first_sequence, d.sequence) if isinstance(d, BookDelta) else (None, d.sequence) for d in items]


def levels(book: dict[Decimal, Decimal]) -> tuple[Level, ...]:
    """``book`` as an exchange sends it: decimal strings."""
    return tuple(level(price, size) for price, size in book.items())


# Event ids as Binance futures send them: ranges skip ids, and pu is the previous event's u.
E1, E2, E3, E4 = delta(100, 110, 90), delta(115, 120, 110), delta(130, 131, 120), delta(140, 150, 131)


def test_buffers_until_snapshot_then_drops_strictly_older_events() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    assert sync.needs_rest_snapshot
    for event in (E1, E2, E3):
        assert sync.on_delta(event).apply == ()
    result = sync.on_snapshot(snapshot(117))  # inside E2: U=115 <= 117 <= u=120
    assert result.synced and ranges(result.apply) == [(None, 117), (115, 120), (130, 131)]
    assert sync.on_delta(E4).apply == (E4,)
    stats = sync.statistics()
    assert (stats.synced, stats.last_update_id, stats.applied, stats.stale_ignored) == (True, 150, 3, 1)


def test_event_ending_at_the_snapshot_is_kept() -> None:
    """Step 4 drops u < lastUpdateId only: an event with u == lastUpdateId is the first one processed."""
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_delta(E1)
    sync.on_delta(E2)
    assert ranges(sync.on_snapshot(snapshot(110)).apply) == [(None, 110), (100, 110), (115, 120)]


def test_snapshot_newer_than_the_buffer_waits_for_the_straddling_event() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_delta(E1)
    assert ranges(sync.on_snapshot(snapshot(118)).apply) == [(None, 118)]
    assert sync.on_delta(E1).apply == ()  # behind the snapshot
    assert sync.on_delta(E2).apply == (E2,)  # straddles 118
    assert sync.on_delta(E3).apply == (E3,)


def test_snapshot_too_old_is_a_gap_and_keeps_the_buffer() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_delta(E2)
    sync.on_delta(E3)
    with pytest.raises(SequenceGap) as info:
        sync.on_snapshot(snapshot(112))  # before E2's U=115
    gap = info.value
    assert (gap.expected, gap.received, gap.hint, gap.instrument) == (112, 115, RecoveryHint.RESYNC, "BTC-USDT-PERP")
    assert not sync.synced and sync.statistics().buffered == 2
    assert ranges(sync.on_snapshot(snapshot(120)).apply) == [(None, 120), (115, 120), (130, 131)]


def test_snapshot_too_old_with_nothing_buffered() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_snapshot(snapshot(50))
    with pytest.raises(SequenceGap) as info:
        sync.on_delta(E1)
    assert (info.value.expected, info.value.received) == (50, 100)


def test_pu_chain_gap_inside_the_buffer() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    for event in (E1, E3, E4):  # E2 lost
        sync.on_delta(event)
    with pytest.raises(SequenceGap) as info:
        sync.on_snapshot(snapshot(105))
    assert (info.value.expected, info.value.received) == (110, 120)
    assert ranges(sync.on_snapshot(snapshot(131)).apply) == [(None, 131), (130, 131), (140, 150)]


def test_live_gap_stale_duplicate_and_recovery() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_snapshot(snapshot(105))
    sync.on_delta(E1)
    duplicate = sync.on_delta(E1)
    assert duplicate.apply == () and duplicate.synced  # ignored, still synced
    with pytest.raises(SequenceGap) as info:
        sync.on_delta(E3)  # pu=120 but the book is at 110: E2 missed
    assert (info.value.expected, info.value.received, info.value.hint) == (110, 120, RecoveryHint.RESYNC)
    assert not sync.synced and sync.statistics().buffered == 1
    # The event that showed the gap starts the new buffer; a fresh snapshot splices onto it.
    assert ranges(sync.on_snapshot(snapshot(130)).apply) == [(None, 130), (130, 131)]
    stats = sync.statistics()
    assert (stats.gaps, stats.stale_ignored, stats.snapshots) == (1, 1, 2)


def test_reset_forgets_buffer_and_book() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_delta(E1)
    sync.on_snapshot(snapshot(105))
    sync.reset()
    assert not sync.synced and sync.statistics().buffered == 0
    assert sync.on_delta(E2).apply == ()


def test_buffer_is_bounded() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP", max_buffered=2)
    for event in (E1, E2, E3):
        sync.on_delta(event)
    assert sync.statistics().buffered == 2
    with pytest.raises(SequenceGap):  # E1 fell out, so a snapshot inside it cannot splice
        sync.on_snapshot(snapshot(105))


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (delta(5, 4, 1), "$.U"),
        (delta(5, 6, None), "$.pu"),
        (delta(5, 6, 5), "$.pu"),
        (BookDelta(exchange="binance_usdm", instrument="X", sequence=3, prev_sequence=1), "$.U"),
    ],
)
def test_malformed_update_ids(bad: BookDelta, path: str) -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    with pytest.raises(RemoteProtocolError) as info:
        sync.on_delta(bad)
    assert info.value.hint is RecoveryHint.RESYNC and info.value.path == path
    assert not isinstance(info.value, SequenceGap)
    with pytest.raises(RemoteProtocolError, match="lastUpdateId"):
        sync.on_snapshot(snapshot(None))


# -- property: random streams against the exchange's true book -----------------------------------------------


@dataclass
class Exchange:
    """The true book: update id ``i`` sets price ``1 + i % 7`` to ``i``. Events cover id ranges with ids skipped
    between them (futures ids are shared across symbols), and ``pu`` chains them."""

    events: list[tuple[int, int, int]]

    def ids(self) -> list[int]:
        return [i for first, last, _ in self.events for i in range(first, last + 1)]

    def state(self, upto: int) -> dict[Decimal, Decimal]:
        return {Decimal(1 + i % 7): Decimal(i) for i in self.ids() if i <= upto}

    def event(self, index: int) -> BookDelta:
        first, last, prev = self.events[index]
        return delta(first, last, prev, levels({Decimal(1 + i % 7): Decimal(i) for i in range(first, last + 1)}))


@dataclass
class Client:
    book: dict[Decimal, Decimal] = field(default_factory=dict)
    last: int | None = None

    def apply(self, items: tuple[BookSnapshot | BookDelta, ...]) -> None:
        for item in items:
            if isinstance(item, BookSnapshot):
                self.book = dict(item.decimal_bids())
            else:
                self.book.update(item.decimal_bids())
            self.last = item.sequence


def _events(draw: st.DrawFn) -> Exchange:
    sizes = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 3)), min_size=1, max_size=20))
    events: list[tuple[int, int, int]] = []
    prev, start = 0, 1
    for size, skip in sizes:
        start += skip
        events.append((start, start + size - 1, prev))
        prev = start + size - 1
        start = prev + 1
    return Exchange(events)


@st.composite
def event_streams(draw: st.DrawFn) -> Exchange:
    return _events(draw)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Exchange, list[tuple[str, int]], bool]:
    """Events; a delivery plan with drops, duplicates and late resends; one snapshot at an existing id."""
    exchange = _events(draw)
    plan: list[tuple[str, int]] = []
    dropped = False
    for index in range(len(exchange.events)):
        action = draw(st.sampled_from(["send"] * 6 + ["drop", "dup", "late"]))
        if action == "drop":
            dropped = True
            continue
        plan.append(("event", index))
        if action == "dup":
            plan.append(("event", index))
        elif action == "late" and index:
            plan.append(("event", draw(st.integers(min_value=0, max_value=index - 1))))
    at = draw(st.integers(min_value=0, max_value=len(plan)))
    plan.insert(at, ("snapshot", draw(st.sampled_from([0, *exchange.ids()]))))
    return exchange, plan, dropped


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_random_streams_never_apply_a_wrong_book(scenario: tuple[Exchange, list[tuple[str, int]], bool]) -> None:
    """Whatever arrives, a synced client's book equals the true book at its update id; a gap is raised only
    when an event was really lost or the snapshot is older than the stream."""
    exchange, plan, dropped = scenario
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    client = Client()
    snap_id: int | None = None
    for kind, value in plan:
        try:
            if kind == "snapshot":
                snap_id = value
                truth = exchange.state(value)
                result = sync.on_snapshot(
                    BookSnapshot(exchange="binance_usdm", instrument="BTC-USDT-PERP", bids=levels(truth),
                                 asks=(), sequence=value)
                )  # fmt: skip
            else:
                result = sync.on_delta(exchange.event(value))
        except SequenceGap:
            assert snap_id is not None
            assert dropped or snap_id < exchange.events[0][0], "gap raised although nothing was lost"
            return
        client.apply(result.apply)
        if result.synced:
            assert client.last is not None and client.book == exchange.state(client.last)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_clean_stream_always_syncs(data: st.DataObject) -> None:
    """No loss, a snapshot at an id the stream covers: no gap, and the book ends at the last event."""
    exchange = data.draw(event_streams())
    buffered = data.draw(st.integers(min_value=0, max_value=len(exchange.events)))
    snap_id = data.draw(st.sampled_from(exchange.ids()))
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    client = Client()
    for index in range(buffered):
        sync.on_delta(exchange.event(index))
    client.apply(sync.on_snapshot(BookSnapshot(
        exchange="binance_usdm", instrument="BTC-USDT-PERP", bids=levels(exchange.state(snap_id)), asks=(),
        sequence=snap_id,
    )).apply)  # fmt: skip
    for index in range(buffered, len(exchange.events)):
        client.apply(sync.on_delta(exchange.event(index)).apply)
    last = exchange.events[-1][1]
    assert client.last == last and client.book == exchange.state(last)


def test_in_order_chain_applies_each_event_once() -> None:
    """The inlined common case (synced, ``pu`` chains on) keeps the same counters as the full rule."""
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_snapshot(snapshot(105))
    assert sync.on_delta(E1).apply == (E1,)  # straddles 105: the full rule
    for event in (E2, E3, E4):  # pu == previous u: the inline path
        result = sync.on_delta(event)
        assert result.apply == (event,) and result.synced
    stats = sync.statistics()
    assert (stats.last_update_id, stats.applied, stats.stale_ignored, stats.gaps) == (150, 4, 0, 0)


def test_first_event_after_a_snapshot_must_straddle_it_even_when_pu_matches() -> None:
    """Step 5 (``U <= lastUpdateId <= u``) decides the first event, not ``pu``: U = 111 > 110 is a gap."""
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_snapshot(snapshot(110))
    with pytest.raises(SequenceGap) as info:
        sync.on_delta(delta(111, 115, 110))
    assert (info.value.expected, info.value.received) == (110, 111)


def test_malformed_ids_while_synced_leave_the_state() -> None:
    sync = BinanceUsdmBookSync("BTC-USDT-PERP")
    sync.on_snapshot(snapshot(105))
    sync.on_delta(E1)
    with pytest.raises(RemoteProtocolError):
        sync.on_delta(delta(115, 120, None))
    assert sync.statistics().last_update_id == 110 and sync.on_delta(E2).apply == (E2,)
