"""Book benchmarks: a recorded Binance diff-depth stream decoded and applied to an L2 book.

The stream comes from ``gen_binance_depth.py`` (deterministic; 1000 levels a side, ~10 changes a frame, ~20 %
deletions). Every book-pipeline row decodes the same bytes with the same msgspec struct, so the difference
between a row and "msgspec decode only" is the book's own cost. book-sync times the dialects' sequence rules
alone on the same stream, as canonical deltas (chained by ``pu`` for USD-M).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from decimal import Decimal
from typing import Final

import msgspec
from gen_binance_depth import PRICE_DECIMALS, load_or_generate
from registry import Case, Settings, Table, benchmark, time_cases

from clobactors.actors.book_view import InstrumentBook
from clobactors.book import L2Book
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.exchanges.binance_usdm.sequencing import BinanceUsdmBookSync
from clobactors.messages import BookDelta, BookSnapshot
from clobactors.model import Instrument, InstrumentKind, Side


class DepthUpdate(msgspec.Struct, frozen=True):
    """Binance spot "Diff. Depth Stream" event (developers.binance.com, WebSocket market streams)."""

    event_type: str = msgspec.field(name="e")
    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: list[tuple[str, str]] = msgspec.field(name="b")
    asks: list[tuple[str, str]] = msgspec.field(name="a")


class DepthSnapshot(msgspec.Struct, frozen=True):
    """Binance spot ``GET /api/v3/depth`` response."""

    last_update_id: int = msgspec.field(name="lastUpdateId")
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


DECODE: Final = msgspec.json.Decoder(DepthUpdate).decode


class DecimalBook:
    """The straightforward exact book, for contrast: Decimal keys and sizes, sorted keys kept with bisect."""

    def __init__(self, snapshot: DepthSnapshot) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.bid_keys: list[Decimal] = []
        self.ask_keys: list[Decimal] = []
        self.apply(snapshot.bids, snapshot.asks)

    @staticmethod
    def _side(changes: list[tuple[str, str]], levels: dict[Decimal, Decimal], keys: list[Decimal]) -> None:
        for price_text, size_text in changes:
            price, size = Decimal(price_text), Decimal(size_text)
            if size == 0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, price)]
            else:
                if price not in levels:
                    insort(keys, price)
                levels[price] = size

    def apply(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self._side(bids, self.bids, self.bid_keys)
        self._side(asks, self.asks, self.ask_keys)

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        return (self.bid_keys[-1], self.bids[self.bid_keys[-1]]) if self.bid_keys else None

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        return (self.ask_keys[0], self.asks[self.ask_keys[0]]) if self.ask_keys else None


INSTRUMENT: Final = Instrument(exchange="binance", kind=InstrumentKind.SPOT, base="BTC", quote="USDT", symbol="BTCUSDT")
#: How a combined-stream connection (what the book feed opens) carries each frame.
STREAM_PREFIX: Final = b'{"stream":"btcusdt@depth@100ms","data":'


def combined(frames: list[bytes]) -> list[bytes]:
    """The frames as the book feed receives them: wrapped by Binance's combined stream."""
    return [STREAM_PREFIX + frame + b"}" for frame in frames]


def binance_dialect() -> BinanceSpotDialect:
    dialect = BinanceSpotDialect.for_environment()
    dialect.register_instruments([INSTRUMENT])
    return dialect


def canonical_snapshot(snapshot: DepthSnapshot) -> BookSnapshot:
    return BookSnapshot(
        exchange="binance",
        instrument=INSTRUMENT.name,
        ts_recv=0,
        bids=tuple(snapshot.bids),
        asks=tuple(snapshot.asks),
        sequence=snapshot.last_update_id,
    )


def _stream(settings: Settings) -> tuple[DepthSnapshot, list[bytes]]:
    snapshot, frames = load_or_generate(seed=settings.seed, frames=settings.frames)
    return msgspec.json.decode(snapshot, type=DepthSnapshot), frames


def _new_book(snapshot: DepthSnapshot) -> L2Book:
    book = L2Book(price_decimals=PRICE_DECIMALS, instrument="BTC-USDT")
    book.apply_snapshot_raw(snapshot.bids, snapshot.asks)
    return book


@benchmark("book-pipeline", "Binance diff-depth: decode, apply to a 1000-level book, read best bid/ask")
def book_pipeline(settings: Settings) -> Table:
    snapshot, frames = _stream(settings)
    n = len(frames)
    wrapped = combined(frames)
    canonical = canonical_snapshot(snapshot)

    def decode_only() -> Callable[[], None]:
        def run() -> None:
            decode = DECODE
            for frame in frames:
                decode(frame)

        return run

    def ours_raw() -> Callable[[], None]:
        book = _new_book(snapshot)

        def run() -> None:
            decode, apply, best_bid, best_ask = DECODE, book.apply_raw, book.best_bid_raw, book.best_ask_raw
            for frame in frames:
                update = decode(frame)
                apply(update.bids, update.asks)
                best_bid()
                best_ask()

        return run

    def ours_decimal() -> Callable[[], None]:
        book = _new_book(snapshot)

        def run() -> None:
            decode, apply, best_bid, best_ask = DECODE, book.apply_raw, book.best_bid, book.best_ask
            for frame in frames:
                update = decode(frame)
                apply(update.bids, update.asks)
                best_bid()
                best_ask()

        return run

    decoded = [DECODE(frame) for frame in frames]

    def apply_only() -> Callable[[], None]:
        book = _new_book(snapshot)

        def run() -> None:
            apply = book.apply_raw
            for update in decoded:
                apply(update.bids, update.asks)

        return run

    def decimal_book() -> Callable[[], None]:
        book = DecimalBook(snapshot)

        def run() -> None:
            decode, apply, best_bid, best_ask = DECODE, book.apply, book.best_bid, book.best_ask
            for frame in frames:
                update = decode(frame)
                apply(update.bids, update.asks)
                best_bid()
                best_ask()

        return run

    def dialect_decode() -> Callable[[], None]:
        dialect = binance_dialect()

        def run() -> None:
            decode = dialect.decode_market
            for frame in wrapped:
                decode(frame, 0)

        return run

    def dialect_pipeline() -> Callable[[], None]:
        dialect = binance_dialect()
        state = InstrumentBook(INSTRUMENT, L2Book(PRICE_DECIMALS, INSTRUMENT.name), dialect.new_book_sync(INSTRUMENT))
        state.apply(state.sync.on_snapshot(canonical), 0.0, 0)

        def run() -> None:
            decode, sync, apply, book = dialect.decode_market, state.sync, state.apply, state.book
            top_changed = state.top_changed
            for frame in wrapped:
                for delta in decode(frame, 0):
                    assert isinstance(delta, BookDelta)
                    apply(sync.on_delta(delta), 0.0, 0)
                top_changed()
                book.best_bid()
                book.best_ask()

        return run

    _check_agree(snapshot, frames)
    _check_dialect_agrees(snapshot, frames)
    rows = time_cases(
        settings,
        [
            Case("msgspec decode only (the ceiling)", n, "frame", decode_only),
            Case("msgspec + book apply + best bid/ask (ours, raw)", n, "frame", ours_raw),
            Case("msgspec + apply + best bid/ask as Decimal (ours)", n, "frame", ours_decimal),
            Case("book apply only, frames decoded beforehand (ours, raw)", n, "frame", apply_only),
            Case("dialect decode_market only (canonical BookDelta)", n, "frame", dialect_decode),
            Case("dialect decode + sync + apply + best (the feed path)", n, "frame", dialect_pipeline),
            Case("msgspec + Decimal-keyed dict book + bisect (contrast)", n, "frame", decimal_book),
        ],
        ratio_to="ceiling",
    )
    return Table(
        tuple(rows),
        (
            f"{n} recorded diff-depth frames, ~10 level changes each, on a 1000-level book (gen_binance_depth.py)",
            "dialect rows read the frames wrapped as the combined stream sends them, decode them to canonical "
            "BookDelta (levels as the exchange's strings), check update ids (BinanceSpotBookSync) and apply "
            "through InstrumentBook.apply; the feed path also compares the top (top_changed) as the feed does",
            "target: within 2x of the ceiling (see README: out of reach for a pure-Python exact book)",
        ),
    )


def _check_dialect_agrees(snapshot: DepthSnapshot, frames: list[bytes]) -> None:
    """The feed path must end in the same book as the raw path."""
    dialect = binance_dialect()
    ours, canonical = _new_book(snapshot), L2Book(PRICE_DECIMALS, INSTRUMENT.name)
    canonical.apply_snapshot(canonical_snapshot(snapshot))
    for frame, wrapped in zip(frames, combined(frames), strict=True):
        update = DECODE(frame)
        ours.apply_raw(update.bids, update.asks)
        for delta in dialect.decode_market(wrapped, 0):
            assert isinstance(delta, BookDelta)
            canonical.apply_delta(delta)
    if ours.top(Side.BUY, len(ours)) != canonical.top(Side.BUY, len(canonical)) or ours.top(
        Side.SELL, len(ours)
    ) != canonical.top(Side.SELL, len(canonical)):
        raise AssertionError("the dialect path and the raw path disagree on the book")


def _check_agree(snapshot: DepthSnapshot, frames: list[bytes]) -> None:
    """The rows must compute the same book, or the timings compare nothing."""
    ours, theirs = _new_book(snapshot), DecimalBook(snapshot)
    for frame in frames:
        update = DECODE(frame)
        ours.apply_raw(update.bids, update.asks)
        theirs.apply(update.bids, update.asks)
    if (ours.best_bid(), ours.best_ask()) != (theirs.best_bid(), theirs.best_ask()):
        raise AssertionError("our book and the Decimal book disagree on the stream")
    if ours.top(Side.BUY, len(theirs.bids)) != [(key, theirs.bids[key]) for key in reversed(theirs.bid_keys)]:
        raise AssertionError("our book and the Decimal book disagree on the bids")


@benchmark("book-reads", "Reads of the final 1000-level book (per call)")
def book_reads(settings: Settings) -> Table:
    snapshot, frames = _stream(settings)
    book = _new_book(snapshot)
    for frame in frames:
        update = DECODE(frame)
        book.apply_raw(update.bids, update.asks)
    calls = 200 if settings.quick else 2_000
    best = (book.best_bid() or (Decimal(0), Decimal(0)))[0]
    low, high = best * Decimal("0.9999"), best

    def depth() -> Decimal:
        return book.depth(Side.BUY, low, high)

    in_band = sum(1 for price, _ in book.top_raw(Side.BUY, len(book)) if Decimal(price) >= low)

    def loop(call: Callable[[], object]) -> Callable[[], Callable[[], None]]:
        def prepare() -> Callable[[], None]:
            def run() -> None:
                for _ in range(calls):
                    call()

            return run

        return prepare

    cases = [
        Case("best_bid_raw()", calls, "call", loop(book.best_bid_raw)),
        Case("best_bid() (Decimal)", calls, "call", loop(book.best_bid)),
        Case("is_crossed()", calls, "call", loop(book.is_crossed)),
        Case("top_raw(BUY, 25)", calls, "call", loop(lambda: book.top_raw(Side.BUY, 25))),
        Case("top(BUY, 25) (Decimal)", calls, "call", loop(lambda: book.top(Side.BUY, 25))),
        Case(f"depth(BUY, 0.01 % band: {in_band} levels)", calls, "call", loop(depth)),
        Case("okx_checksum() (top 25)", calls, "call", loop(book.okx_checksum)),
        Case("kraken_checksum() (top 10)", calls, "call", loop(book.kraken_checksum)),
    ]
    return Table(tuple(time_cases(settings, cases)), (f"book after {len(frames)} frames: {len(book)} levels",))


@benchmark("book-sync", "Sequence checks alone: BookSync.on_delta per canonical delta (synced, in order)")
def book_sync(settings: Settings) -> Table:
    _, frames = _stream(settings)
    spot: list[BookDelta] = []
    usdm: list[BookDelta] = []
    for frame in frames:
        update = DECODE(frame)
        delta = BookDelta(
            exchange="binance",
            instrument=INSTRUMENT.name,
            ts_recv=0,
            bids=tuple(update.bids),
            asks=tuple(update.asks),
            first_sequence=update.first_update_id,
            sequence=update.final_update_id,
        )
        spot.append(delta)
        # The same stream chained as USD-M sends it: the generator's ids are contiguous, so pu = U - 1.
        usdm.append(msgspec.structs.replace(delta, exchange="binance_usdm", prev_sequence=update.first_update_id - 1))
    n, first = len(frames), spot[0].first_sequence or 0

    def synced(sync: BinanceSpotBookSync | BinanceUsdmBookSync, deltas: list[BookDelta]) -> Callable[[], None]:
        # A snapshot the first delta splices onto: spot wants U <= L + 1 <= u, USD-M U <= L <= u.
        last = first - 1 if isinstance(sync, BinanceSpotBookSync) else first
        sync.on_snapshot(BookSnapshot(exchange="", instrument="", ts_recv=0, bids=(), asks=(), sequence=last))

        def run() -> None:
            on_delta = sync.on_delta
            for delta in deltas:
                on_delta(delta)
            if sync.statistics().applied % n:
                raise AssertionError("a delta of the clean stream was not applied")

        return run

    def spot_sync() -> Callable[[], None]:
        return synced(BinanceSpotBookSync(INSTRUMENT.name), spot)

    def usdm_sync() -> Callable[[], None]:
        return synced(BinanceUsdmBookSync(INSTRUMENT.name), usdm)

    rows = time_cases(
        settings,
        [
            Case("Binance spot: U <= last + 1 <= u", n, "delta", spot_sync),
            Case("Binance USD-M: pu == last u", n, "delta", usdm_sync),
        ],
    )
    return Table(tuple(rows), (f"{n} deltas of the book-pipeline stream, decoded beforehand; every one applies",))
