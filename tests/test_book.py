"""The L2 book: documented checksum examples, edge cases, malformed input, and a Hypothesis comparison with
a plain dict model over random snapshot/delta sequences."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.book import L2Book, RawLevel
from clobactors.checksum import (
    kraken_checksum,
    kraken_checksum_text,
    okx_checksum,
    okx_checksum_text,
)
from clobactors.errors import ConfigError, RecoveryHint, RemoteProtocolError
from clobactors.messages import BookDelta, BookSnapshot
from clobactors.model import Side

D = Decimal

# -- documented checksum examples ----------------------------------------------------------------------------

# OKX (OKEx v3 docs, "Checksum" of the depth channels; the same scheme as v5 ``books``): fewer than 25 levels
# on a side, and an equal number per side.
OKX_ODD = ([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")], 831078360)
OKX_EVEN = ([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")], -1881014294)

# Kraken (docs.kraken.com, "Spot WebSockets (v1) Book Checksum" example): ten levels a side.
KRAKEN_ASKS = [(f"0.{5005 + 5 * i:05d}", "0.00000500") for i in range(10)]
KRAKEN_BIDS = [
    (price, "0.00000500")
    for price in (
        "0.05000", "0.04995", "0.04990", "0.04980", "0.04975",
        "0.04970", "0.04965", "0.04960", "0.04955", "0.04950",
    )
]  # fmt: skip
KRAKEN_CHECKSUM = 974947235


def test_okx_checksum_documented_examples() -> None:
    bids, asks, expected = OKX_ODD
    assert okx_checksum_text(bids, asks) == "3366.1:7:3366.8:9:3368:8:3372:8"
    assert okx_checksum(bids, asks) == expected
    bids, asks, expected = OKX_EVEN
    assert okx_checksum_text(bids, asks) == "3366.1:7:3366.8:9:3366:6:3368:8"
    assert okx_checksum(bids, asks) == expected


def test_kraken_checksum_documented_example() -> None:
    assert KRAKEN_ASKS[0] == ("0.05005", "0.00000500") and KRAKEN_ASKS[-1] == ("0.05050", "0.00000500")
    assert kraken_checksum_text(KRAKEN_BIDS, KRAKEN_ASKS).startswith("5005500" + "5010500")
    assert kraken_checksum(KRAKEN_BIDS, KRAKEN_ASKS) == KRAKEN_CHECKSUM


def test_checksums_use_only_the_top_levels() -> None:
    deep_bids = [*KRAKEN_BIDS, ("0.04000", "1.0")]
    deep_asks = [*KRAKEN_ASKS, ("0.06000", "1.0")]
    assert kraken_checksum(deep_bids, deep_asks) == KRAKEN_CHECKSUM
    bids = [(str(100 - i), "1") for i in range(30)]
    asks = [(str(200 + i), "1") for i in range(30)]
    assert okx_checksum(bids, asks) == okx_checksum(bids[:25], asks[:25])


def test_book_checksums_from_exchange_strings() -> None:
    """The book keeps the exchange's own strings (``"3368"`` in a 1-decimal book) for the checksum."""
    okx = L2Book(price_decimals=1)
    bids, asks, expected = OKX_ODD
    okx.apply_snapshot_raw(list(reversed(bids)), list(reversed(asks)))
    assert okx.okx_checksum() == expected
    okx.apply_raw([("3366", "6")], [("3372", "0")])
    assert okx.okx_checksum() == OKX_EVEN[2]

    kraken = L2Book(price_decimals=5)
    kraken.apply_snapshot_raw(KRAKEN_BIDS[::-1], KRAKEN_ASKS[::-1])
    assert kraken.kraken_checksum() == KRAKEN_CHECKSUM
    # Kraken's example update: a new best bid; the checksum changes with it.
    kraken.apply_raw([("0.05001", "0.00000500")], [])
    assert kraken.kraken_checksum() != KRAKEN_CHECKSUM


# -- behaviour -----------------------------------------------------------------------------------------------


def binance_book() -> L2Book:
    book = L2Book(price_decimals=8, instrument="BTC-USDT")
    book.apply_snapshot_raw(
        [
            ("27000.00000000", "1.00000000"),
            ("26999.99000000", "2.00000000"),
            ("26999.50000000", "0.50000000"),
        ],
        [("27000.01000000", "0.10000000"), ("27000.02000000", "3.00000000")],
    )
    return book


def test_snapshot_best_and_top() -> None:
    book = binance_book()
    assert book.best_bid() == (D("27000"), D("1"))
    assert book.best_ask() == (D("27000.01"), D("0.1"))
    assert book.best_bid_raw() == ("27000.00000000", "1.00000000")
    assert book.top(Side.BUY, 2) == [(D("27000"), D("1")), (D("26999.99"), D("2"))]
    assert book.top(Side.SELL, 5) == [(D("27000.01"), D("0.1")), (D("27000.02"), D("3"))]
    assert book.top_raw(Side.SELL, 1) == [("27000.01000000", "0.10000000")]
    assert book.top(Side.BUY, 0) == [] and book.top_raw(Side.BUY, -1) == []
    assert not book.is_crossed()
    assert len(book) == 5
    stats = book.statistics()
    assert (stats.bid_levels, stats.ask_levels, stats.snapshots, stats.updates) == (3, 2, 1, 1)


def test_delta_updates_inserts_and_deletes_the_best() -> None:
    book = binance_book()
    book.apply_raw(
        [("27000.00000000", "0.00000000"), ("26999.99000000", "5.00000000")],
        [("27000.01000000", "0"), ("27000.00500000", "1.5")],
    )
    assert book.best_bid() == (D("26999.99"), D("5"))
    assert book.best_ask() == (D("27000.005"), D("1.5"))
    # Deleting absent levels is a no-op.
    book.apply_raw([("1.00000000", "0.00000000")], [("99999.00000000", "0.0")])
    assert len(book) == 4
    book.apply_raw([("26999.99000000", "0"), ("26999.50000000", "0")], [])
    assert book.best_bid() is None and book.best_bid_raw() is None
    assert not book.is_crossed()
    book.apply_raw([], [("27000.00500000", "0"), ("27000.02000000", "0")])
    assert book.best_ask() is None and book.best_ask_raw() is None
    assert len(book) == 0


def test_any_spelling_of_a_price_is_the_same_level() -> None:
    book = binance_book()
    book.apply_raw([("27000", "4"), ("026999.990", "6")], [])
    assert book.best_bid() == (D("27000"), D("4"))
    assert book.top(Side.BUY, 2)[1] == (D("26999.99"), D("6"))
    assert book.statistics().bid_levels == 3
    book.apply_raw([("27000.0", "0")], [])  # deletion in another spelling
    assert book.best_bid() == (D("26999.99"), D("6"))
    # Raw reads give the exchange's latest strings for the level.
    assert book.best_bid_raw() == ("026999.990", "6")


def test_crossed_and_locked_books() -> None:
    book = binance_book()
    book.apply_raw([("27000.01000000", "1")], [])
    assert book.is_crossed()  # locked: bid == ask
    book.apply_raw([("27000.01000000", "0")], [("26999.00000000", "1")])
    assert book.is_crossed()
    book.apply_raw([], [("26999.00000000", "0")])
    assert not book.is_crossed()


def test_depth_within_band() -> None:
    book = binance_book()
    assert book.depth(Side.BUY, D("26999.99"), D("27000")) == D("3")
    assert book.depth(Side.BUY, D("26999.991"), D("27000.5")) == D("1")  # bounds off the grid
    assert book.depth(Side.BUY, D("0"), D("1e9")) == D("3.5")
    assert book.depth(Side.SELL, D("27000.02"), D("27000.02")) == D("3")
    assert book.depth(Side.SELL, D("27001"), D("27000")) == 0
    with pytest.raises(ConfigError):
        book.depth(Side.SELL, D("NaN"), D("1"))


def test_canonical_messages() -> None:
    book = L2Book(price_decimals=8, instrument="BTC-USDT")
    book.apply(
        BookSnapshot(
            exchange="binance",
            instrument="BTC-USDT",
            bids=(("0.00001767", "0.00000048"), ("0.00001766", "50.29884341")),
            asks=(("0.00001768", "1"),),
        )
    )
    # Messages carry the exchange's strings: the book keeps every digit.
    assert book.best_bid_raw() == ("0.00001767", "0.00000048")
    assert book.best_bid() == (D("0.00001767"), D("4.8E-7"))
    book.apply(BookDelta(exchange="binance", instrument="BTC-USDT", bids=(("0.00001767", "0"),)))
    assert book.best_bid() == (D("0.00001766"), D("50.29884341"))
    book.apply_delta(BookDelta(exchange="binance", bids=(("0.00001766", "-1"),)))
    with pytest.raises(RemoteProtocolError):  # a malformed size surfaces when read
        book.best_bid()
    with pytest.raises(RemoteProtocolError):
        book.apply_delta(BookDelta(exchange="binance", bids=(("0.000017675", "1"),)))
    with pytest.raises(RemoteProtocolError):  # the old contract's Decimal levels are malformed input
        book.apply_delta(BookDelta(exchange="binance", bids=((D("0.00001767"), D(1)),)))  # type: ignore[arg-type]


def test_lazy_zeros_are_never_read() -> None:
    """A deleted level below the best stays in the dicts until a read or a compaction drops it."""
    book = binance_book()
    book.apply_raw([("26999.99000000", "0.000"), ("26999.50000000", "0")], [])
    assert book.best_bid_raw() == ("27000.00000000", "1.00000000")
    assert book.top_raw(Side.BUY, 5) == [("27000.00000000", "1.00000000")]
    assert book.depth(Side.BUY, D(0), D(10**6)) == D(1)
    book.apply_raw([("26999.99000000", "5")], [])  # re-insert after delete
    assert book.top(Side.BUY, 5) == [(D(27000), D(1)), (D("26999.99"), D(5))]
    book.apply_raw([("27000.00000000", "0"), ("26999.99000000", "0")], [])  # every bid gone
    assert book.best_bid() is None and book.top(Side.BUY, 3) == [] and not book.is_crossed()
    assert len(book) == 2 and book.statistics().bid_levels == 0


def test_compaction_keeps_the_book_exact() -> None:
    """Deleting deep levels over and over triggers amortised compactions; reads stay exact throughout."""
    book = L2Book(price_decimals=2)
    prices = [f"{100 + i}.00" for i in range(200)]
    book.apply_snapshot_raw([(p, "1") for p in prices], [("1000.00", "1")])
    for round_ in range(6):
        book.apply_raw([(p, "0.00") for p in prices[1:-1]], [])
        assert book.best_bid_raw() == (prices[-1], "1")
        book.apply_raw([(p, str(round_ + 2)) for p in prices[1:-1:2]], [])
    assert book.statistics().compactions >= 2
    assert book.top_raw(Side.BUY, 3) == [(prices[-1], "1"), (prices[-3], "7"), (prices[-5], "7")]
    assert len(book) == 2 + 99 + 1


def test_compaction_in_a_frame_that_deletes_the_best() -> None:
    """The dicts outgrow the compaction threshold in the same frame that zeroes the best level."""
    book = L2Book(price_decimals=2)
    book.apply_snapshot_raw([(f"{100 + i}.00", "1") for i in range(40)], [(f"{200 + i}.00", "1") for i in range(40)])
    book.apply_raw([(f"{100 + i}.00", "0") for i in range(39)], [])  # lazily kept zeros below the best
    before = book.statistics().compactions
    fresh = [(f"{10 + i}.00", "2") for i in range(90)]
    book.apply_raw([*fresh, ("139.00", "0")], [("200.00", "0")])  # grows past the threshold, best gone
    assert book.statistics().compactions > before
    assert book.best_bid_raw() == ("99.00", "2") and book.best_ask_raw() == ("201.00", "1")
    assert len(book) == 90 + 39


def test_integer_price_book() -> None:
    book = L2Book(price_decimals=0)
    book.apply_snapshot_raw([("100", "1"), ("99", "1"), ("0100", "2")], [("101", "1"), ("101.0", "3")])
    assert book.best_bid() == (D(100), D(2)) and book.best_ask() == (D(101), D(3))
    assert book.top_raw(Side.BUY, 5) == [("0100", "2"), ("99", "1")]
    with pytest.raises(RemoteProtocolError):
        book.apply_raw([("99.5", "1")], [])


@pytest.mark.parametrize("decimals", [-1, 31])
def test_bad_decimals(decimals: int) -> None:
    with pytest.raises(ConfigError):
        L2Book(price_decimals=decimals)


@pytest.mark.parametrize(
    "level",
    [
        ("abc", "1"),
        ("", "1"),
        ("1_000.00", "1"),
        ("-5.00", "1"),
        ("0.00", "1"),
        ("NaN", "1"),
        ("Infinity", "1"),
        ("27000.001", "1"),  # off the 2-decimal grid
        ("1" * 50, "1"),  # longer than any price
        ("27000.00", ""),
        ("27000.00", "."),
        ("27000.00", "0.0.0"),
        ("27000.00", None),
        (None, "1"),
        ("27000.00",),
        (27000, "1"),
    ],
)
def test_malformed_levels_raise_resync(level: Any) -> None:
    book = L2Book(price_decimals=2, instrument="BTC-USDT")
    book.apply_snapshot_raw([("26999.00", "1")], [("27001.00", "1")])
    with pytest.raises(RemoteProtocolError) as info:
        book.apply_raw([("26999.50", "1"), level], [])
    assert info.value.hint is RecoveryHint.RESYNC
    assert info.value.instrument == "BTC-USDT"
    # Levels before the bad one are applied and the book stays consistent.
    assert book.best_bid() == (D("26999.5"), D("1"))
    assert book.best_ask() == (D("27001"), D("1"))


@pytest.mark.parametrize("size", ["abc", "-1", "NaN", "1e"])
def test_malformed_sizes_surface_on_read(size: str) -> None:
    """Sizes are validated when read (validation on the hot path costs ~18 %)."""
    book = L2Book(price_decimals=2)
    book.apply_snapshot_raw([("100.00", size)], [("101.00", "1")])
    assert book.best_bid_raw() == ("100.00", size)
    for read in (book.best_bid, lambda: book.top(Side.BUY, 1), lambda: book.depth(Side.BUY, D(0), D(200))):
        with pytest.raises(RemoteProtocolError) as info:
            read()
        assert info.value.hint is RecoveryHint.RESYNC
    assert book.best_ask() == (D(101), D(1))


def test_snapshot_replaces_everything() -> None:
    book = binance_book()
    book.apply_snapshot_raw([("1.00000000", "1")], [("2.00000000", "0"), ("3.00000000", "1")])
    assert book.top_raw(Side.BUY, 10) == [("1.00000000", "1")]
    assert book.top_raw(Side.SELL, 10) == [("3.00000000", "1")]
    book.clear()
    assert len(book) == 0 and book.best_bid() is None and book.best_ask() is None


# -- golden payloads, read in place --------------------------------------------------------------------------

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"


def _golden_samples(name: str) -> list[dict[str, Any]]:
    path = GOLDEN / name / "hummingbot_test_messages.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    samples: list[dict[str, Any]] = json.loads(path.read_text())["samples"]
    return samples


def test_golden_okx_books_snapshots() -> None:
    """OKX ``books`` snapshots apply and read back best-first with the exchange's strings.

    Their ``checksum`` (-855196043) is the docs' placeholder, copied onto truncated books, so it is not
    compared; the documented examples above pin the algorithm.
    """
    checked = 0
    for sample in _golden_samples("okx"):
        payload = sample["json"]
        if not isinstance(payload, dict) or payload.get("action") != "snapshot":
            continue
        data = payload["data"][0]
        book = L2Book(price_decimals=2)
        book.apply_snapshot_raw(
            [tuple(lv[:2]) for lv in data["bids"]], [tuple(lv[:2]) for lv in data["asks"]]
        )
        bids = sorted((tuple(lv[:2]) for lv in data["bids"]), key=lambda lv: D(lv[0]), reverse=True)
        asks = sorted((tuple(lv[:2]) for lv in data["asks"]), key=lambda lv: D(lv[0]))
        assert book.top_raw(Side.BUY, 25) == bids
        assert book.top_raw(Side.SELL, 25) == asks
        assert book.okx_checksum() == okx_checksum(bids, asks)
        checked += 1
    assert checked >= 1


def test_golden_kraken_book_levels() -> None:
    """Kraken REST depth and WS book levels (5-decimal prices, 8-decimal volumes) build a book."""
    checked = 0
    for sample in _golden_samples("kraken"):
        payload = sample["json"]
        if isinstance(payload, dict) and isinstance(payload.get("result"), dict):
            for book_data in payload["result"].values():
                if isinstance(book_data, dict) and "asks" in book_data and "bids" in book_data:
                    book = L2Book(price_decimals=5)
                    book.apply_snapshot_raw(
                        [tuple(lv[:2]) for lv in book_data["bids"]],
                        [tuple(lv[:2]) for lv in book_data["asks"]],
                    )
                    best_bid = max(book_data["bids"], key=lambda lv: D(lv[0]))
                    best_ask = min(book_data["asks"], key=lambda lv: D(lv[0]))
                    assert book.best_bid_raw() == tuple(best_bid[:2])
                    assert book.best_ask_raw() == tuple(best_ask[:2])
                    assert not book.is_crossed()
                    checked += 1
    assert checked >= 1


# -- property: the book against a plain dict model ----------------------------------------------------------


def _spellings(ticks: int, decimals: int) -> st.SearchStrategy[str]:
    """Several spellings of the price ``ticks * 10**-decimals``: canonical, trimmed, padded, leading zero."""
    value = D(ticks).scaleb(-decimals)
    canonical = format(value.quantize(D(1).scaleb(-decimals)), "f")
    trimmed = format(value.normalize(), "f")
    padded = format(value.quantize(D(1).scaleb(-decimals - 2)), "f")
    return st.sampled_from([canonical, canonical, canonical, trimmed, padded, "0" + canonical])


_SIZES = st.sampled_from(["0", "0.00000000", "0.0", "1", "2.50000000", "0.00100000", "7", "0.5", "12.25"])


@st.composite
def _levels(draw: st.DrawFn, decimals: int) -> list[RawLevel]:
    out: list[RawLevel] = []
    for _ in range(draw(st.integers(0, 6))):
        ticks = draw(st.integers(1, 40))
        out.append((draw(_spellings(ticks, decimals)), draw(_SIZES)))
    return out


@st.composite
def _operations(draw: st.DrawFn) -> tuple[int, list[tuple[str, list[RawLevel], list[RawLevel], int]]]:
    decimals = draw(st.sampled_from([0, 2, 8]))
    ops = [("snapshot", draw(_levels(decimals)), draw(_levels(decimals)), 2)]
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["delta", "delta", "delta", "delta", "message", "snapshot"]))
        # How much to read after it: 0 best only, 1 also top/depth, 2 everything (len compacts the book), so
        # lazily kept zeros live across several updates before a read or a compaction meets them.
        ops.append((kind, draw(_levels(decimals)), draw(_levels(decimals)), draw(st.sampled_from([0, 0, 1, 2]))))
    return decimals, ops


class _Model:
    """Plain dicts: price -> the raw level last seen for it."""

    def __init__(self) -> None:
        self.sides: dict[Side, dict[Decimal, RawLevel]] = {Side.BUY: {}, Side.SELL: {}}

    def apply(self, side: Side, levels: list[RawLevel]) -> None:
        for price, size in levels:
            if D(size) == 0:
                self.sides[side].pop(D(price), None)
            else:
                self.sides[side][D(price)] = (price, size)

    def ordered(self, side: Side) -> list[Decimal]:
        return sorted(self.sides[side], reverse=side is Side.BUY)


def _check(book: L2Book, model: _Model, band: tuple[Decimal, Decimal], reads: int) -> None:
    for side in (Side.BUY, Side.SELL):
        prices = model.ordered(side)
        levels = model.sides[side]
        best = book.best_bid() if side is Side.BUY else book.best_ask()
        assert best == ((prices[0], D(levels[prices[0]][1])) if prices else None)
        if reads < 1:
            continue
        for n in (1, 3, 50):
            assert book.top(side, n) == [(p, D(levels[p][1])) for p in prices[:n]]
            assert book.top_raw(side, n) == [levels[p] for p in prices[:n]]
        low, high = band
        assert book.depth(side, low, high) == sum((D(levels[p][1]) for p in prices if low <= p <= high), D(0))
    bids, asks = model.ordered(Side.BUY), model.ordered(Side.SELL)
    assert book.is_crossed() == bool(bids and asks and bids[0] >= asks[0])
    if reads >= 2:
        assert len(book) == len(bids) + len(asks)
        assert (book.statistics().bid_levels, book.statistics().ask_levels) == (len(bids), len(asks))
        assert book.okx_checksum() == okx_checksum(
            [levels_ for p in bids[:25] for levels_ in [model.sides[Side.BUY][p]]],
            [levels_ for p in asks[:25] for levels_ in [model.sides[Side.SELL][p]]],
        )


@settings(max_examples=100, deadline=None)
@given(
    _operations(),
    st.decimals(min_value=0, max_value=1, places=3),
    st.decimals(min_value=0, max_value=1, places=3),
)
def test_book_matches_dict_model(
    case: tuple[int, list[tuple[str, list[RawLevel], list[RawLevel], int]]], low: Decimal, width: Decimal
) -> None:
    decimals, ops = case
    book, model = L2Book(price_decimals=decimals), _Model()
    scale = D(40).scaleb(-decimals)  # the drawn prices span (0, scale]
    band = (low * scale, (low + width) * scale)
    for kind, bids, asks, reads in ops:
        if kind == "snapshot":
            model = _Model()
            book.apply_snapshot_raw(bids, asks)
        elif kind == "message":
            book.apply_delta(BookDelta(exchange="x", bids=tuple(bids), asks=tuple(asks)))
        else:
            book.apply_raw(bids, asks)
        model.apply(Side.BUY, bids)
        model.apply(Side.SELL, asks)
        _check(book, model, band, reads)
