"""An exact L2 order book, fast enough to keep up with a depth feed in pure Python.

The book applies snapshots and deltas (a size of zero removes a level) and answers best bid/ask, the top N
levels, the depth within a price band, whether the book is crossed, and exchange checksums
(:mod:`clobactors.checksum`). It is pure: no I/O, no clock. Sequencing (update ids, gaps) is the dialect's
job; the book only holds levels.

Representation, chosen by measurement. Prototypes applied the generated Binance-format stream of
``bench/`` (1000 levels a side, ~10 changes a frame: 60 % change an existing level, 20 % insert, 20 %
delete) on an idle machine, CPython 3.11, frames decoded beforehand; msgspec's decode alone was 1.05 µs a
frame, and a bare loop that only stores each change in a dict already cost 1.3 µs:

=====================================================================  ===============
apply only, µs/frame                                                   median of 5-7
=====================================================================  ===============
int keys (``int(p.replace('.', ''))``) in dict and sorted list          5.7
price-string dict + int sorted list (convert on insert/delete only)    4.6
price-string dict + aligned-string sorted list, cached best            3.9
  ... with asks kept descending via ``str.translate``                   4.6
  ... with every size string validated on the hot path                 +0.7
=====================================================================  ===============

The whole pipeline (decode, apply, best bid/ask after each frame: ``bench/run.py book-pipeline``) measured
~6.4 µs a frame, ~6× msgspec's decode alone, against ~13.7 µs (~13×) for a book of Decimal keys and sizes
with the same sorted list (a busy 2-core machine). A pure-Python book cannot get within 2× of the decode:
touching each changed level once in a dict already costs more than decoding the frame. So:

* Each side keeps ``dict[str, tuple[str, str]]`` from the *canonical price string* to the level exactly as
  the exchange sent it. A canonical string has exactly ``price_decimals`` decimals and no leading zeros,
  which is how Binance writes prices (``"27000.01000000"``), so the common case (an update of an existing
  level) is one dict lookup on the wire string with no conversion at all.
* Sorted access uses a ``list`` of the canonical strings right-aligned with spaces to a fixed width
  (``str.rjust``, ~40 ns against ~130 ns for an ``int`` conversion), ascending by price for both sides,
  maintained with :mod:`bisect` on inserts and deletions only. Aligned strings order exactly like the prices
  (a space sorts before any digit) and give the price back with ``str.lstrip()``. No tree or heap: with
  levels clustered near the touch, ``insort`` is a short ``memmove``.
* The best level of each side is cached (its canonical string and aligned key) and updated incrementally:
  an insert compares its key with the best, a deletion of the best takes the next key from the list.
* Prices in any other spelling (``"8477"`` in a 2-decimal book, ``"1.5"``, Decimal levels of canonical
  messages) are converted through :class:`~decimal.Decimal` once, on insert, and must fall on the
  ``price_decimals`` grid exactly; otherwise the frame is rejected. The level keeps the exchange's own
  strings, which checksums need (:mod:`clobactors.checksum`).
* Sizes stay the exchange's strings and become :class:`~decimal.Decimal` only at the API. Zero is detected
  exactly in any spelling (``"0"``, ``"0.00000000"``). Validating every size on the hot path cost ~18 %, so
  sizes are validated when read: a malformed size surfaces as a
  :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``) from the read that meets it; the raw
  accessors (``*_raw``) return it as sent.

Malformed input raises :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``): the levels before
the bad one are applied and the book stays internally consistent, but no longer matches the exchange, so
the owner resyncs it with a snapshot.
"""

from __future__ import annotations

import decimal
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, TypeAlias, assert_never, final

import attrs

from clobactors.checksum import KRAKEN_DEPTH, OKX_DEPTH, kraken_checksum, okx_checksum
from clobactors.errors import ConfigError, RecoveryHint, RemoteProtocolError
from clobactors.messages import BookDelta, BookSnapshot, Level
from clobactors.model import Side

__all__ = ["BookStatistics", "L2Book", "RawLevel"]

#: A level as the exchange sent it: ``(price, size)`` decimal strings.
RawLevel: TypeAlias = tuple[str, str]

#: Width of the aligned sort keys; longer price strings are rejected.
_WIDTH: Final = 40
#: Aligned key of an empty side: below every price (bids) / above every price (asks).
_NO_BID: Final = ""
_NO_ASK: Final = "~"
_MAX_DECIMALS: Final = 30
#: Context for grid checks: any rounding is an error, and precision is ample for any exchange's prices.
_EXACT: Final = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation])


def _is_positive_size(text: str) -> bool:
    try:
        size = Decimal(text)
        return size.is_finite() and size > 0
    except (decimal.InvalidOperation, TypeError, ValueError):
        return False


def _is_canonical(price: str, dot_at: int) -> bool:
    """True for the canonical spelling of a price: exactly ``dot_at - 1`` decimals, ASCII digits, no leading
    zero, not zero, not too long (for 0 decimals there is no fast path: every price goes through Decimal)."""
    return (
        dot_at < len(price) <= _WIDTH
        and price[-dot_at] == "."
        and price.isascii()
        and price.replace(".", "", 1).isdigit()
        and (price[0] != "0" or (price[1] == "." and price.strip("0.") != ""))
    )


def _edge_key(keys: list[str], is_bid: bool) -> str:
    """The best aligned key of a side's ascending list, or the empty-side sentinel."""
    if not keys:
        return _NO_BID if is_bid else _NO_ASK
    return keys[-1] if is_bid else keys[0]


@final
@attrs.frozen
class BookStatistics:
    """Counters and sizes of one book at one moment."""

    instrument: str
    bid_levels: int
    ask_levels: int
    #: Snapshots applied.
    snapshots: int
    #: Snapshots and deltas applied.
    updates: int


@final
@attrs.define
class L2Book:
    """Price levels of one instrument, exact, with a fast path for the exchange's own strings.

    ``price_decimals`` is the number of decimals the exchange writes in prices (8 for Binance spot, whose
    ``"27000.01000000"`` has 8 whatever the tick); every price must fall on that grid.
    """

    _price_decimals: int
    _instrument: str = ""
    _bids: dict[str, RawLevel] = attrs.field(init=False, factory=dict)
    _asks: dict[str, RawLevel] = attrs.field(init=False, factory=dict)
    _bid_keys: list[str] = attrs.field(init=False, factory=list)
    _ask_keys: list[str] = attrs.field(init=False, factory=list)
    _best_bid: str = attrs.field(init=False, default="")
    _best_bid_key: str = attrs.field(init=False, default=_NO_BID)
    _best_ask: str = attrs.field(init=False, default="")
    _best_ask_key: str = attrs.field(init=False, default=_NO_ASK)
    _snapshots: int = attrs.field(init=False, default=0)
    _updates: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self._price_decimals <= _MAX_DECIMALS:
            raise ConfigError(f"price_decimals must be within 0..{_MAX_DECIMALS}, not {self._price_decimals}")

    # -- applying ----------------------------------------------------------------------------------------

    def apply_raw(self, bids: Iterable[RawLevel], asks: Iterable[RawLevel]) -> None:
        """Apply changed levels as the exchange sent them (the hot path); size zero removes a level."""
        try:
            self._best_bid, self._best_bid_key = self._apply_side(
                bids, self._bids, self._bid_keys, self._best_bid, self._best_bid_key, True
            )
            self._best_ask, self._best_ask_key = self._apply_side(
                asks, self._asks, self._ask_keys, self._best_ask, self._best_ask_key, False
            )
        except (IndexError, TypeError, ValueError, AttributeError) as exc:
            self._refresh_best()
            raise RemoteProtocolError(
                f"malformed book level: {exc}", hint=RecoveryHint.RESYNC, instrument=self._instrument
            ) from exc
        except RemoteProtocolError:
            self._refresh_best()
            raise
        self._updates += 1

    def apply_snapshot_raw(self, bids: Iterable[RawLevel], asks: Iterable[RawLevel]) -> None:
        """Replace the whole book with these levels (zero-size levels are ignored)."""
        self.clear()
        self.apply_raw(bids, asks)
        self._snapshots += 1

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book with a canonical snapshot."""
        self.apply_snapshot_raw(self._from_levels(snapshot.bids), self._from_levels(snapshot.asks))

    def apply_delta(self, delta: BookDelta) -> None:
        """Apply a canonical delta."""
        self.apply_raw(self._from_levels(delta.bids), self._from_levels(delta.asks))

    def apply(self, message: BookSnapshot | BookDelta) -> None:
        """Apply a canonical snapshot or delta."""
        match message:
            case BookSnapshot():
                self.apply_snapshot(message)
            case BookDelta():
                self.apply_delta(message)
            case _:
                assert_never(message)

    def clear(self) -> None:
        """Remove every level (the counters stay)."""
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()
        self._refresh_best()

    def _apply_side(
        self,
        changes: Iterable[RawLevel],
        levels: dict[str, RawLevel],
        keys: list[str],
        best: str,
        best_key: str,
        is_bid: bool,
    ) -> tuple[str, str]:
        """Apply one side's changes; return the new ``(best price, best key)``.

        Written for speed: locals only, one dict lookup for the common update of an existing level, the
        sorted list touched only by inserts and deletions.
        """
        dot_at = self._price_decimals + 1  # the dot's position from the end of a canonical price
        for level in changes:
            price, size = level
            if not size.strip("0."):  # zero in any spelling ("0", "0.00000000"): remove
                if "0" not in size or size.count(".") > 1:
                    raise ValueError(f"size {size!r} is not a decimal number")
                if levels.pop(price, None) is None:
                    if _is_canonical(price, dot_at):
                        continue  # removing an absent level is a no-op (Binance sends those)
                    price = self._canonical(price)  # another spelling of a present level?
                    if levels.pop(price, None) is None:
                        continue
                key = price.rjust(_WIDTH)
                del keys[bisect_left(keys, key)]
                if price == best:
                    best_key = _edge_key(keys, is_bid)
                    best = best_key.lstrip() if keys else ""
            elif price in levels:
                levels[price] = level
            else:
                canonical = price if _is_canonical(price, dot_at) else self._canonical(price)
                if canonical in levels:
                    levels[canonical] = level
                    continue
                key = canonical.rjust(_WIDTH)
                insort(keys, key)
                levels[canonical] = level
                if (key > best_key) if is_bid else (key < best_key):
                    best, best_key = canonical, key
        return best, best_key

    def _refresh_best(self) -> None:
        self._best_bid_key = _edge_key(self._bid_keys, True)
        self._best_ask_key = _edge_key(self._ask_keys, False)
        self._best_bid = self._best_bid_key.lstrip()
        self._best_ask = "" if self._best_ask_key == _NO_ASK else self._best_ask_key.lstrip()

    # -- price strings -----------------------------------------------------------------------------------

    def _canonical(self, price: str) -> str:
        """Convert any decimal spelling of a price on the grid to the canonical string, or raise."""
        if "_" in price:  # Decimal() accepts "1_000"; no exchange means that
            raise self._error(f"price {price!r} is not a decimal number")
        try:
            value = Decimal(price)
        except (decimal.InvalidOperation, TypeError, ValueError) as exc:
            raise self._error(f"price {price!r} is not a decimal number") from exc
        return self._canonical_decimal(value, price)

    def _canonical_decimal(self, value: Decimal, shown: object) -> str:
        if not value.is_finite() or value <= 0:
            raise self._error(f"price {shown!r} is not a positive finite number")
        try:
            on_grid = value.quantize(Decimal(1).scaleb(-self._price_decimals), context=_EXACT)
        except decimal.DecimalException as exc:
            raise self._error(
                f"price {shown!r} has more than {self._price_decimals} decimals (off the book's grid)"
            ) from exc
        text = format(on_grid, "f")
        if len(text) > _WIDTH:
            raise self._error(f"price {shown!r} is too long for the book")
        return text

    def _from_levels(self, levels: tuple[Level, ...]) -> list[RawLevel]:
        """Canonical ``(Decimal, Decimal)`` levels as strings, keeping every digit the exchange sent."""
        # The hot path of canonical deltas, so measured (bench/run.py book-pipeline): ``str()`` is ~3x faster
        # than ``format(d, "f")`` and writes the same digits unless it picks exponent notation (then "E" is in
        # it and we fall back); a zero size becomes "0", which removes the level like any other zero.
        out: list[RawLevel] = []
        append = out.append
        for price, size in levels:
            price_text = str(price)
            if "E" in price_text:
                price_text = format(price, "f")
            if not size:  # zero of any sign or exponent (a NaN is truthy)
                append((price_text, "0"))
                continue
            if size.is_signed() or not size.is_finite():
                raise self._error(f"size {size!r} at price {price!r} is not a non-negative number")
            size_text = str(size)
            append((price_text, size_text if "E" not in size_text else format(size, "f")))
        return out

    def _error(self, message: str) -> RemoteProtocolError:
        return RemoteProtocolError(message, hint=RecoveryHint.RESYNC, instrument=self._instrument)

    def _size(self, level: RawLevel) -> Decimal:
        """One level's size as a Decimal (validated here, when read: see the module doc)."""
        try:
            size = Decimal(level[1])
            if size > 0 and size.is_finite():  # a NaN fails the comparison with InvalidOperation
                return size
        except (decimal.InvalidOperation, TypeError, ValueError):
            pass
        raise self._error(f"size {level[1]!r} at price {level[0]!r} is not a positive number")

    def _sizes(self, levels: list[RawLevel]) -> list[Decimal]:
        """The sizes of these levels as Decimals; sizes are validated here, when read (see the module doc)."""
        try:
            sizes = [Decimal(size) for _, size in levels]
            # One pass of C-level checks; a NaN fails the comparison with InvalidOperation.
            if sizes and (min(sizes) <= 0 or not sum(sizes, Decimal(0)).is_finite()):
                raise decimal.InvalidOperation
        except (decimal.InvalidOperation, TypeError, ValueError):
            bad = next((lv for lv in levels if not _is_positive_size(lv[1])), levels[0])
            raise self._error(f"size {bad[1]!r} at price {bad[0]!r} is not a positive number") from None
        return sizes

    # -- reading -----------------------------------------------------------------------------------------

    def best_bid_raw(self) -> RawLevel | None:
        """The best bid as the exchange sent it, without conversion (the cheapest read)."""
        return self._bids[self._best_bid] if self._best_bid else None

    def best_ask_raw(self) -> RawLevel | None:
        """The best ask as the exchange sent it, without conversion."""
        return self._asks[self._best_ask] if self._best_ask else None

    def best_bid(self) -> Level | None:
        """The highest bid as ``(price, size)``, or None when there are no bids."""
        return (Decimal(self._best_bid), self._size(self._bids[self._best_bid])) if self._best_bid else None

    def best_ask(self) -> Level | None:
        """The lowest ask as ``(price, size)``, or None when there are no asks."""
        return (Decimal(self._best_ask), self._size(self._asks[self._best_ask])) if self._best_ask else None

    def is_crossed(self) -> bool:
        """True when both sides have levels and the best bid is at or above the best ask.

        A crossed (or locked) L2 book means a missed update or a lagging side: the owner should resync.
        """
        return self._best_bid_key >= self._best_ask_key

    def top_raw(self, side: Side, n: int) -> list[RawLevel]:
        """The best ``n`` levels of one side (bids for BUY), best first, as the exchange sent them."""
        if n <= 0:
            return []
        if side is Side.BUY:
            keys, levels = self._bid_keys[: -n - 1 : -1], self._bids
        else:
            keys, levels = self._ask_keys[:n], self._asks
        return [levels[key.lstrip()] for key in keys]

    def top(self, side: Side, n: int) -> list[Level]:
        """The best ``n`` levels of one side (bids for BUY), best first, as Decimals."""
        if n <= 0:
            return []
        if side is Side.BUY:
            keys, levels = self._bid_keys[: -n - 1 : -1], self._bids
        else:
            keys, levels = self._ask_keys[:n], self._asks
        prices = [key.lstrip() for key in keys]
        sizes = self._sizes([levels[price] for price in prices])
        return [(Decimal(price), size) for price, size in zip(prices, sizes, strict=True)]

    def depth(self, side: Side, low: Decimal, high: Decimal) -> Decimal:
        """Total size of one side's levels priced within ``[low, high]`` (bounds included)."""
        if not (low.is_finite() and high.is_finite()):
            raise ConfigError(f"depth band bounds must be finite, not [{low}, {high}]")
        keys, levels = (self._bid_keys, self._bids) if side is Side.BUY else (self._ask_keys, self._asks)
        start = bisect_left(keys, self._bound_key(low, decimal.ROUND_CEILING))
        stop = bisect_right(keys, self._bound_key(high, decimal.ROUND_FLOOR))
        sizes = self._sizes([levels[key.lstrip()] for key in keys[start:stop]])
        with decimal.localcontext(_EXACT):  # the default context would round past 28 digits
            return sum(sizes, Decimal(0))

    def _bound_key(self, bound: Decimal, rounding: str) -> str:
        """The aligned key of the grid price nearest ``bound`` inside the band."""
        on_grid = bound.quantize(Decimal(1).scaleb(-self._price_decimals), rounding=rounding)
        if on_grid <= 0:
            return _NO_BID  # below every price
        text = format(on_grid, "f")
        return _NO_ASK if len(text) > _WIDTH else text.rjust(_WIDTH)

    def okx_checksum(self) -> int:
        """OKX's checksum of the current top 25 levels (see :mod:`clobactors.checksum`)."""
        return okx_checksum(self.top_raw(Side.BUY, OKX_DEPTH), self.top_raw(Side.SELL, OKX_DEPTH))

    def kraken_checksum(self) -> int:
        """Kraken's checksum of the current top 10 levels (see :mod:`clobactors.checksum`)."""
        return kraken_checksum(self.top_raw(Side.BUY, KRAKEN_DEPTH), self.top_raw(Side.SELL, KRAKEN_DEPTH))

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def statistics(self) -> BookStatistics:
        return BookStatistics(
            instrument=self._instrument,
            bid_levels=len(self._bids),
            ask_levels=len(self._asks),
            snapshots=self._snapshots,
            updates=self._updates,
        )
