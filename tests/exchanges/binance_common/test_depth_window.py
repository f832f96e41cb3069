"""The simulator faces' shared diff-depth window, and each venue's ``depthUpdate`` written from it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.exchanges.binance.face_streams import DepthWindow as SpotWindow
from clobactors.exchanges.binance_common.depth_window import DepthChanges, DepthDiff
from clobactors.exchanges.binance_usdm.face_streams import DepthWindow as UsdmWindow
from clobactors.sim.records import BookEvent

D = Decimal


def event(first: int, last: int, ts_ns: int, bids: dict[int, int], asks: dict[int, int]) -> BookEvent:
    return BookEvent(
        ts_ns=ts_ns, symbol="BTCUSDT", first_update_id=first, last_update_id=last,
        bids=tuple((D(p), D(s)) for p, s in bids.items()), asks=tuple((D(p), D(s)) for p, s in asks.items()),
    )  # fmt: skip


def test_take_merges_per_price_sorts_best_first_and_empties() -> None:
    window = DepthChanges()
    assert window.take() is None
    window.add(event(5, 6, 1_000_000, {10: 1, 9: 2}, {11: 1}))
    window.add(event(7, 7, 3_000_000, {10: 0}, {12: 4, 11: 3}))
    assert window.take() == DepthDiff(
        first_id=5, last_id=7, last_ts_ns=3_000_000,
        bids=((D(10), D(0)), (D(9), D(2))), asks=((D(11), D(3)), (D(12), D(4))),
    )  # fmt: skip
    assert window.take() is None
    window.add(event(8, 8, 4_000_000, {}, {13: 1}))
    diff = window.take()
    assert diff is not None and (diff.first_id, diff.last_id, diff.bids) == (8, 8, ())


def test_each_venue_writes_its_own_depth_update() -> None:
    """Spot: ``U``/``u`` only (web-socket-streams.md § Diff. Depth Stream); USD-M adds ``T`` and ``pu = U - 1``."""
    spot, usdm = SpotWindow(), UsdmWindow()
    for window in (spot, usdm):
        assert window.flush("BTCUSDT", 9) is None
        window.add(event(5, 7, 2_500_000, {10: 1}, {}))
    s, u = spot.flush("BTCUSDT", 9), usdm.flush("BTCUSDT", 9)
    assert s is not None and u is not None
    assert (s.event_time, s.symbol, s.first_update_id, s.final_update_id) == (9, "BTCUSDT", 5, 7)
    assert s.bids == u.bids == ((D(10), D(1)),)
    assert (u.transaction_time, u.first_update_id, u.final_update_id, u.previous_final_update_id) == (2, 5, 7, 4)
    assert spot.flush("BTCUSDT", 10) is None and usdm.flush("BTCUSDT", 10) is None


_LEVELS = st.dictionaries(st.integers(1, 6), st.integers(0, 5), max_size=4)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(1, 3), _LEVELS, _LEVELS), min_size=1, max_size=12))
def test_a_window_is_the_last_size_per_price(changes: list[tuple[int, dict[int, int], dict[int, int]]]) -> None:
    window = DepthChanges()
    expected_bids: dict[int, int] = {}
    expected_asks: dict[int, int] = {}
    next_id = 1
    for ts, (count, bids, asks) in enumerate(changes):
        window.add(event(next_id, next_id + count - 1, ts, bids, asks))
        next_id += count
        expected_bids.update(bids)
        expected_asks.update(asks)
    diff = window.take()
    assert diff is not None
    assert (diff.first_id, diff.last_id, diff.last_ts_ns) == (1, next_id - 1, len(changes) - 1)
    assert diff.bids == tuple((D(p), D(s)) for p, s in sorted(expected_bids.items(), reverse=True))
    assert diff.asks == tuple((D(p), D(s)) for p, s in sorted(expected_asks.items()))
