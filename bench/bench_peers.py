"""Peer order books on the same bytes: what users compare us with, side by side in one run.

Each row decodes the recorded Binance diff-depth stream with the same msgspec struct (prices and sizes as
strings), converts levels the way that peer's Binance connector does, applies them to the peer's book and
reads best bid and ask after every frame. A peer whose package is not installed is skipped with a note; the
optional packages are the ``bench`` extra (see README.md):

* ``sortedcontainers``: ``SortedDict`` with Decimal keys, the book of several Python connectors;
* ``order-book``: cryptofeed's C-extension book (``order_book.OrderBook``), Decimal prices and sizes as
  cryptofeed's Binance handler stores them;
* ``ccxt``: ccxt pro's pure-Python ``OrderBook`` (``ccxt.async_support.base.ws.order_book``), float prices and
  sizes as its Binance ``handle_delta`` stores them (inexact: for speed only, not a like-for-like book).

Every row must end with the same best bid and ask as ours, or the run stops.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench_book import DECODE, DepthSnapshot, _new_book, _stream, binance_dialect, canonical_snapshot, combined
from gen_binance_depth import PRICE_DECIMALS
from registry import Case, Settings, Table, benchmark, time_cases

from clobactors.book import L2Book
from clobactors.messages import BookDelta

_ZERO = Decimal(0)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class SortedDictBook:
    """A ``sortedcontainers.SortedDict`` per side, Decimal keys and sizes."""

    def __init__(self, snapshot: DepthSnapshot) -> None:
        from sortedcontainers import SortedDict  # type: ignore[import-untyped,import-not-found,unused-ignore]

        self.bids: Any = SortedDict()
        self.asks: Any = SortedDict()
        self.apply(snapshot.bids, snapshot.asks)

    def apply(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        for changes, side in ((bids, self.bids), (asks, self.asks)):
            for price_text, size_text in changes:
                price, size = Decimal(price_text), Decimal(size_text)
                if size == _ZERO:
                    side.pop(price, None)
                else:
                    side[price] = size

    def best(self) -> tuple[object, object]:
        return self.bids.peekitem(-1), self.asks.peekitem(0)


class CryptofeedBook:
    """cryptofeed's ``order_book.OrderBook`` fed as its Binance handler does (``_book`` in its binance.py)."""

    def __init__(self, snapshot: DepthSnapshot) -> None:
        from order_book import OrderBook  # type: ignore[import-untyped,import-not-found,unused-ignore]

        self.book: Any = OrderBook()
        self.apply(snapshot.bids, snapshot.asks)

    def apply(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        for changes, side in ((bids, self.book.bids), (asks, self.book.asks)):
            for price_text, size_text in changes:
                price, size = Decimal(price_text), Decimal(size_text)
                if size == _ZERO:
                    if price in side:
                        del side[price]
                else:
                    side[price] = size

    def best(self) -> tuple[object, object]:
        return self.book.bids.index(0), self.book.asks.index(0)


class CcxtBook:
    """ccxt pro's ``OrderBook`` fed as its Binance ``handle_delta`` does: ``float`` price and amount."""

    def __init__(self, snapshot: DepthSnapshot) -> None:
        from ccxt.async_support.base.ws.order_book import OrderBook  # type: ignore[import-untyped,import-not-found,unused-ignore]

        self.book: Any = OrderBook({}, None)
        self.apply(snapshot.bids, snapshot.asks)

    def apply(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        for changes, side in ((bids, self.book["bids"]), (asks, self.book["asks"])):
            store = side.store
            for price_text, size_text in changes:
                store(float(price_text), float(size_text))

    def best(self) -> tuple[object, object]:
        return self.book["bids"][0], self.book["asks"][0]


PEERS: dict[str, tuple[str, Callable[[DepthSnapshot], Any]]] = {
    "sortedcontainers SortedDict, Decimal (several peers)": ("sortedcontainers", SortedDictBook),
    "cryptofeed order_book (C ext), Decimal": ("order_book", CryptofeedBook),
    "ccxt pro OrderBook (pure Python), float": ("ccxt", CcxtBook),
}


def _check_peer(
    name: str, factory: Callable[[DepthSnapshot], Any], snapshot: DepthSnapshot, frames: list[bytes]
) -> None:
    ours, theirs = _new_book(snapshot), factory(snapshot)
    for frame in frames:
        update = DECODE(frame)
        ours.apply_raw(update.bids, update.asks)
        theirs.apply(update.bids, update.asks)
    (bid, bid_size), (ask, ask_size) = theirs.best()
    mine = (ours.best_bid(), ours.best_ask())
    got = ((Decimal(str(bid)), Decimal(str(bid_size))), (Decimal(str(ask)), Decimal(str(ask_size))))
    if mine != got:
        raise AssertionError(f"{name} disagrees with our book: {got} != {mine}")


@benchmark("book-peers", "Peer order books on the same Binance bytes (decode, apply, best bid/ask per frame)")
def book_peers(settings: Settings) -> Table:
    snapshot, frames = _stream(settings)
    n = len(frames)
    wrapped = combined(frames)
    canonical = canonical_snapshot(snapshot)

    def ours() -> Callable[[], None]:
        book = _new_book(snapshot)

        def run() -> None:
            decode, apply, best_bid, best_ask = DECODE, book.apply_raw, book.best_bid_raw, book.best_ask_raw
            for frame in frames:
                update = decode(frame)
                apply(update.bids, update.asks)
                best_bid()
                best_ask()

        return run

    def ours_canonical() -> Callable[[], None]:
        dialect = binance_dialect()
        book = L2Book(PRICE_DECIMALS, "BTC-USDT")
        book.apply_snapshot(canonical)

        def run() -> None:
            decode, apply = dialect.decode_market, book.apply_delta
            for frame in wrapped:
                for delta in decode(frame, 0):
                    assert isinstance(delta, BookDelta)
                    apply(delta)
                book.best_bid()
                book.best_ask()

        return run

    def peer(factory: Callable[[DepthSnapshot], Any]) -> Callable[[], Callable[[], None]]:
        def prepare() -> Callable[[], None]:
            book = factory(snapshot)

            def run() -> None:
                decode, apply, best = DECODE, book.apply, book.best
                for frame in frames:
                    update = decode(frame)
                    apply(update.bids, update.asks)
                    best()

            return run

        return prepare

    cases = [
        Case("ours: L2Book, exchange strings (raw)", n, "frame", ours),
        Case("ours: dialect decode (canonical BookDelta) + L2Book.apply_delta", n, "frame", ours_canonical),
    ]
    notes = [f"{n} frames; every row decodes the same bytes and reads best bid/ask after each frame"]
    for name, (module, factory) in PEERS.items():
        if not _installed(module):
            notes.append(f"skipped {name}: package {module!r} not installed (pip install -e .[bench])")
            continue
        _check_peer(name, factory, snapshot, frames)
        cases.append(Case(name, n, "frame", peer(factory)))
    # Some peers are slow (cryptofeed's book re-sorts its keys on the first read after an insert or delete,
    # ~25 µs on 1000 levels): fewer repeats.
    return Table(tuple(time_cases(settings, cases, ratio_to="ours", repeats=min(settings.repeats, 5))), tuple(notes))
