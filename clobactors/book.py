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

A second round (issue 7) replaced the per-level Python loop with C-level bulk operations. Measured with
``bench/run.py book-pipeline`` in one round-robin run on a shared 2-core machine (decode ceiling ~1.0 µs):

=====================================================================  =========  =========
µs/frame, median of 7                                                  loop       bulk
=====================================================================  =========  =========
book apply only, frames decoded beforehand                             ~5.3 (*)   2.07
msgspec decode + apply + best bid/ask, raw strings                     6.4        3.58
dialect decode only (canonical BookDelta)                              6.35       2.58
feed path: dialect decode + sync + InstrumentBook.apply + best         17.6       7.17
=====================================================================  =========  =========

((*) the raw row minus the decode; that row did not exist then. The feed path's drop is mostly canonical
messages carrying the exchange's strings instead of Decimals: see :mod:`clobactors.messages`.)
A pure-Python book still cannot get within 2× of the decode: the bulk apply alone costs about two decodes. The design:

* Each side keeps ``dict[str, str]`` from the *canonical price string* to the size exactly as the exchange
  sent it. A canonical string has exactly ``price_decimals`` decimals and no leading zeros, which is how
  Binance writes prices (``"27000.01000000"``), so a frame's changes go into the dict with one
  ``dict.update(levels)`` (C), with no per-level Python code at all. The prices the dict did not hold are
  the last ``len`` growth entries of its insertion order (``islice(reversed(d), added)``, C); only those
  (an insert now and then) run Python: a compiled canonical check, then ``insort``.
* Sorted access uses a ``list`` of the canonical strings right-aligned with spaces to a fixed width
  (``str.rjust``, ~40 ns against ~130 ns for an ``int`` conversion), ascending by price for both sides.
  Aligned strings order exactly like the prices (a space sorts before any digit) and give the price back
  with ``str.lstrip()``. No tree or heap: with levels clustered near the touch, ``insort`` is a short
  ``memmove``.
* Zero sizes are lazy: a deletion is just the zero size the update wrote. A zero-size level stays in the
  dict and the sorted list (so a re-insert at that price is again a plain update) until a read meets it or
  a compaction drops it. Reads never see one: the best level of each side is cached and, after each frame,
  checked (one lookup); if its size became zero the edge of the list is walked past zeros, dropping them.
  ``top_raw``/``top``/checksums drop the zeros they come across, ``depth`` skips them, ``len`` and
  ``statistics`` compact first, and when the dicts grow past twice their size after the last compaction a
  full pass drops every zero (amortised). There are never entries beyond the best, so an update that
  revives a lazily kept level can never be a new best unnoticed. Zero is exact in any plain spelling
  (``"0"``, ``"0.000"``, ``"0.00000000"``).
* Prices in any other spelling (``"8477"`` in a 2-decimal book, ``"1.5"``) land in the dict as new keys,
  are found there, removed, and the frame's changes are replayed in order onto canonical prices through
  :class:`~decimal.Decimal` (which must fall on the ``price_decimals`` grid exactly, or the frame is
  rejected), so one price spelled two ways is one level. The exchange's own spelling is remembered for raw
  reads and checksums (:mod:`clobactors.checksum`), in a side table that is empty for an exchange that
  writes canonical prices.
* Sizes stay the exchange's strings and become :class:`~decimal.Decimal` only at the API. Validating every
  size on the hot path cost ~18 %, so sizes are validated when read: a malformed size surfaces as a
  :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``) from the read that meets it; the raw
  accessors (``*_raw``) return it as sent.

Malformed input raises :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``): part of the frame
is applied (every change of a price the book held, new prices up to the bad one) and the book stays
internally consistent, but no longer matches the exchange, so the owner resyncs it with a snapshot.
"""

from __future__ import annotations

import decimal
import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import islice
from typing import Final, TypeAlias, assert_never, final

import attrs

from clobactors.checksum import KRAKEN_DEPTH, OKX_DEPTH, kraken_checksum, okx_checksum
from clobactors.errors import ConfigError, RecoveryHint, RemoteProtocolError
from clobactors.messages import BookDelta, BookSnapshot, DecimalLevel, Level
from clobactors.model import Side

__all__ = ["BookStatistics", "L2Book", "RawLevel"]

#: A level as the exchange sent it: ``(price, size)`` decimal strings (the same as a message's ``Level``).
RawLevel: TypeAlias = Level

#: Width of the aligned sort keys; longer price strings are rejected.
_WIDTH: Final = 40
#: Aligned key of an empty side: below every price (bids) / above every price (asks).
_NO_BID: Final = ""
_NO_ASK: Final = "~"
_MAX_DECIMALS: Final = 30
#: Context for grid checks: any rounding is an error, and precision is ample for any exchange's prices.
_EXACT: Final = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation])
#: Entries (live and lazily kept zeros) a book may hold before the first compaction.
_COMPACT_MIN: Final = 64
_LOOKUP_ERRORS: Final = (IndexError, KeyError, TypeError, ValueError, AttributeError)


def _is_positive_size(text: str) -> bool:
    try:
        size = Decimal(text)
        return size.is_finite() and size > 0
    except (decimal.InvalidOperation, TypeError, ValueError):
        return False


def _is_zero(size: object) -> bool:
    """True for zero in any plain spelling (``"0"``, ``"0.000"``, ``".0"``); anything else is a level, and a
    malformed one (``"."``, ``"0E-8"``, ``None``) surfaces as an error when read."""
    return isinstance(size, str) and not size.strip("0.") and "0" in size and size.count(".") <= 1


def _all_nonzero(levels: list[RawLevel]) -> bool:
    """A quick check that none of these levels is a lazily kept zero (a malformed size counts as one)."""
    try:
        return all(size.strip("0.") for _, size in levels)
    except AttributeError:  # not a string: not a zero either, and Decimal() judges it when read
        return all(not _is_zero(size) for _, size in levels)


def _canonical_matcher(decimals: int) -> Callable[[str], object]:
    """A check for the canonical spelling of a price: exactly ``decimals`` decimals, ASCII digits, no leading
    zero, not zero, at most ``_WIDTH`` characters. A compiled regex is one C call, ~3x faster than string
    methods on the insert path."""
    whole = _WIDTH - decimals - 1 if decimals else _WIDTH
    if not decimals:
        return re.compile(f"[1-9][0-9]{{0,{whole - 1}}}").fullmatch
    return re.compile(
        f"(?:[1-9][0-9]{{0,{whole - 1}}}\\.[0-9]{{{decimals}}}|0\\.(?=0*[1-9])[0-9]{{{decimals}}})"
    ).fullmatch


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
    #: Full passes that dropped lazily kept zero-size levels (see the module doc).
    compactions: int = 0


@final
@attrs.define
class L2Book:
    """Price levels of one instrument, exact, with a fast path for the exchange's own strings.

    ``price_decimals`` is the number of decimals the exchange writes in prices (8 for Binance spot, whose
    ``"27000.01000000"`` has 8 whatever the tick); every price must fall on that grid.
    """

    _price_decimals: int
    _instrument: str = ""
    #: Canonical price -> size as sent; may hold zero sizes below the best (see the module doc).
    _bids: dict[str, str] = attrs.field(init=False, factory=dict)
    _asks: dict[str, str] = attrs.field(init=False, factory=dict)
    #: The same prices, aligned, ascending for both sides.
    _bid_keys: list[str] = attrs.field(init=False, factory=list)
    _ask_keys: list[str] = attrs.field(init=False, factory=list)
    #: Canonical price -> the exchange's own spelling, for levels last sent in another spelling (checksums
    #: hash what the exchange sent); empty, and never consulted, for an exchange that writes canonical prices.
    _bid_spelled: dict[str, str] = attrs.field(init=False, factory=dict)
    _ask_spelled: dict[str, str] = attrs.field(init=False, factory=dict)
    _best_bid: str = attrs.field(init=False, default="")
    _best_bid_key: str = attrs.field(init=False, default=_NO_BID)
    _best_ask: str = attrs.field(init=False, default="")
    _best_ask_key: str = attrs.field(init=False, default=_NO_ASK)
    #: No zero-size entry is kept (true after a compaction, false after any update).
    _clean: bool = attrs.field(init=False, default=True)
    _compact_at: int = attrs.field(init=False, default=_COMPACT_MIN)
    _compactions: int = attrs.field(init=False, default=0)
    _snapshots: int = attrs.field(init=False, default=0)
    _updates: int = attrs.field(init=False, default=0)
    _is_canonical: Callable[[str], object] = attrs.field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self._price_decimals <= _MAX_DECIMALS:
            raise ConfigError(f"price_decimals must be within 0..{_MAX_DECIMALS}, not {self._price_decimals}")
        self._is_canonical = _canonical_matcher(self._price_decimals)

    # -- applying ----------------------------------------------------------------------------------------

    def apply_raw(self, bids: Iterable[RawLevel], asks: Iterable[RawLevel]) -> None:
        """Apply changed levels as the exchange sent them (the hot path); size zero removes a level.

        Written for speed (see the module doc), so both sides are spelled out inline: one C-level
        ``dict.update`` per side for every change, then Python work only for the prices the dict did not
        hold (:meth:`_insert`) and for a best level whose size became zero (:meth:`_edge`).
        """
        self._clean = False
        try:
            if type(bids) is not tuple and type(bids) is not list:
                bids = list(bids)  # iterated twice on the slow path
            if type(asks) is not tuple and type(asks) is not list:
                asks = list(asks)
            levels = self._bids
            if self._bid_spelled:
                self._forget_spellings(self._bid_spelled, bids)
            before = len(levels)
            levels.update(bids)
            if len(levels) != before:
                self._best_bid, self._best_bid_key = self._insert(
                    bids, len(levels) - before, levels, self._bid_keys, self._bid_spelled, True
                )
            best = self._best_bid
            if best and not levels[best].strip("0."):  # the best went (or is malformed: the edge decides)
                self._best_bid, self._best_bid_key = self._edge(levels, self._bid_keys, True)
            levels = self._asks
            if self._ask_spelled:
                self._forget_spellings(self._ask_spelled, asks)
            before = len(levels)
            levels.update(asks)
            if len(levels) != before:
                self._best_ask, self._best_ask_key = self._insert(
                    asks, len(levels) - before, levels, self._ask_keys, self._ask_spelled, False
                )
            best = self._best_ask
            if best and not levels[best].strip("0."):
                self._best_ask, self._best_ask_key = self._edge(levels, self._ask_keys, False)
        except _LOOKUP_ERRORS as exc:
            self._repair()
            raise self._error(f"malformed book level: {exc}") from exc
        except RemoteProtocolError:
            self._repair()
            raise
        self._updates += 1
        # Only once both bests are settled: a compaction drops zero-size levels, which a best may be mid-frame.
        if len(self._bids) + len(self._asks) > self._compact_at:
            self._compact()

    def apply_snapshot_raw(self, bids: Iterable[RawLevel], asks: Iterable[RawLevel]) -> None:
        """Replace the whole book with these levels (zero-size levels are ignored)."""
        self.clear()
        self.apply_raw(bids, asks)
        self._snapshots += 1

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book with a canonical snapshot."""
        self.apply_snapshot_raw(snapshot.bids, snapshot.asks)

    def apply_delta(self, delta: BookDelta) -> None:
        """Apply a canonical delta."""
        self.apply_raw(delta.bids, delta.asks)

    def apply(self, message: BookSnapshot | BookDelta) -> None:
        """Apply a canonical snapshot or delta."""
        match message:
            case BookDelta():
                self.apply_raw(message.bids, message.asks)
            case BookSnapshot():
                self.apply_snapshot(message)
            case _:
                assert_never(message)

    def clear(self) -> None:
        """Remove every level (the counters stay)."""
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()
        self._bid_spelled.clear()
        self._ask_spelled.clear()
        self._refresh_best()
        self._clean = True
        self._compact_at = _COMPACT_MIN

    def _insert(
        self,
        changes: Iterable[RawLevel],
        added: int,
        levels: dict[str, str],
        keys: list[str],
        spelled: dict[str, str],
        is_bid: bool,
    ) -> tuple[str, str]:
        """Sort in the ``added`` prices ``dict.update`` just appended to ``levels``; return the new best."""
        best, best_key = (self._best_bid, self._best_bid_key) if is_bid else (self._best_ask, self._best_ask_key)
        is_canonical = self._is_canonical
        odd: list[str] = []
        fresh = list(islice(reversed(levels), added))
        fresh.reverse()  # in the order sent, so a malformed level leaves the ones before it applied
        for price in fresh:
            if type(price) is not str or not is_canonical(price):
                odd.append(price)  # another spelling (or garbage): the slow path below
                continue
            size = levels[price]
            if not size.strip("0."):  # removing an absent level is a no-op (Binance sends those)
                if not _is_zero(size):
                    raise ValueError(f"size {size!r} is not a decimal number")
                del levels[price]
                continue
            key = price.rjust(_WIDTH)
            insort(keys, key)
            if (key > best_key) if is_bid else (key < best_key):
                best, best_key = price, key
        if odd:
            best, best_key = self._apply_spellings(changes, odd, levels, keys, spelled, best, best_key, is_bid)
        return best, best_key

    @staticmethod
    def _forget_spellings(spelled: dict[str, str], changes: Iterable[RawLevel]) -> None:
        """Only for books that met another spelling: a change in the canonical one ends the other."""
        for price, _ in changes:
            spelled.pop(price, None)

    def _apply_spellings(
        self,
        changes: Iterable[RawLevel],
        odd: list[str],
        levels: dict[str, str],
        keys: list[str],
        spelled: dict[str, str],
        best: str,
        best_key: str,
        is_bid: bool,
    ) -> tuple[str, str]:
        """Prices in another spelling than the canonical one: replay the changes in order onto canonical
        prices, so one price spelled two ways is still one level and the last change wins."""
        for price in odd:
            del levels[price]
        is_canonical = self._is_canonical
        last: dict[str, str] = {}
        for sent, size in changes:
            if type(sent) is not str:
                raise TypeError(f"price {sent!r} is not a string")
            if is_canonical(sent):
                last[sent] = size
                spelled.pop(sent, None)
            else:
                price = self._canonical(sent)
                last[price] = size
                spelled[price] = sent
        for price, size in last.items():
            if price in levels:
                levels[price] = size  # a zero stays lazily, like any update
            elif not size.strip("0."):
                if not _is_zero(size):
                    raise ValueError(f"size {size!r} is not a decimal number")
            else:
                key = price.rjust(_WIDTH)
                insort(keys, key)
                levels[price] = size
                if (key > best_key) if is_bid else (key < best_key):
                    best, best_key = price, key
        return best, best_key

    @staticmethod
    def _edge(levels: dict[str, str], keys: list[str], is_bid: bool) -> tuple[str, str]:
        """The best live level of a side, dropping the zero-size levels at its edge."""
        edge = -1 if is_bid else 0
        while keys:
            key = keys[edge]
            price = key.lstrip()
            if not _is_zero(levels[price]):
                return price, key
            del keys[edge]
            del levels[price]
        return "", _NO_BID if is_bid else _NO_ASK

    def _refresh_best(self) -> None:
        self._best_bid, self._best_bid_key = self._edge(self._bids, self._bid_keys, True)
        self._best_ask, self._best_ask_key = self._edge(self._asks, self._ask_keys, False)

    def _repair(self) -> None:
        """After a malformed frame: make the dicts and sorted lists agree again (a full pass; rare). Prices a
        ``dict.update`` added but the frame's error kept from being sorted in are kept if well formed."""
        is_canonical = self._is_canonical
        for levels, keys in ((self._bids, self._bid_keys), (self._asks, self._ask_keys)):
            listed = {key.lstrip() for key in keys}
            for price in [price for price in levels if price not in listed]:
                size = levels[price]
                if type(price) is str and is_canonical(price) and isinstance(size, str) and size.strip("0."):
                    insort(keys, price.rjust(_WIDTH))
                    listed.add(price)
                else:
                    del levels[price]
            if len(listed) != len(levels):
                keys[:] = [key for key in keys if key.lstrip() in levels]
        self._refresh_best()

    def _compact(self) -> None:
        """Drop every zero-size level kept lazily (a full pass, amortised: see the module doc)."""
        sides = ((self._bids, self._bid_keys, self._bid_spelled), (self._asks, self._ask_keys, self._ask_spelled))
        for levels, keys, spelled in sides:
            zeros = [price for price, size in levels.items() if _is_zero(size)]
            if zeros:
                for price in zeros:
                    del levels[price]
                keys[:] = [key for key in keys if key.lstrip() in levels]
            for price in [price for price in spelled if price not in levels]:
                del spelled[price]
        self._clean = True
        self._compactions += 1
        self._compact_at = max(_COMPACT_MIN, 2 * (len(self._bids) + len(self._asks)))

    def _drop(self, side: Side, prices: list[str]) -> None:
        """Remove zero-size levels a read came across (their aligned keys are in the side's list)."""
        levels, keys = (self._bids, self._bid_keys) if side is Side.BUY else (self._asks, self._ask_keys)
        for price in prices:
            del keys[bisect_left(keys, price.rjust(_WIDTH))]
            del levels[price]

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

    def _error(self, message: str) -> RemoteProtocolError:
        return RemoteProtocolError(message, hint=RecoveryHint.RESYNC, instrument=self._instrument)

    def _size(self, price: str, text: str) -> Decimal:
        """One level's size as a Decimal (validated here, when read: see the module doc)."""
        try:
            size = Decimal(text)
            if size > 0 and size.is_finite() and "_" not in text:  # a NaN fails the comparison
                return size
        except (decimal.InvalidOperation, TypeError, ValueError):
            pass
        raise self._error(f"size {text!r} at price {price!r} is not a positive number")

    def _sizes(self, levels: list[RawLevel]) -> list[Decimal]:
        """The sizes of these levels as Decimals; sizes are validated here, when read (see the module doc)."""
        try:
            sizes = [Decimal(size) for _, size in levels]
            # One pass of C-level checks; a NaN fails the comparison with InvalidOperation.
            if sizes and (min(sizes) <= 0 or not sum(sizes, Decimal(0)).is_finite()):
                raise decimal.InvalidOperation
            if any("_" in size for _, size in levels):
                raise ValueError
        except (decimal.InvalidOperation, TypeError, ValueError):
            bad = next((lv for lv in levels if not _is_positive_size(lv[1]) or "_" in lv[1]), levels[0])
            raise self._error(f"size {bad[1]!r} at price {bad[0]!r} is not a positive number") from None
        return sizes

    # -- reading -----------------------------------------------------------------------------------------

    def best_bid_raw(self) -> RawLevel | None:
        """The best bid as the exchange sent it, without conversion (the cheapest read)."""
        best = self._best_bid
        if not best:
            return None
        return (self._bid_spelled.get(best, best), self._bids[best])

    def best_ask_raw(self) -> RawLevel | None:
        """The best ask as the exchange sent it, without conversion."""
        best = self._best_ask
        if not best:
            return None
        return (self._ask_spelled.get(best, best), self._asks[best])

    def best_raw(self) -> tuple[RawLevel | None, RawLevel | None]:
        """``(best_bid_raw(), best_ask_raw())`` in one call (the feed compares it after every frame)."""
        bid, ask = self._best_bid, self._best_ask
        return (
            (self._bid_spelled.get(bid, bid), self._bids[bid]) if bid else None,
            (self._ask_spelled.get(ask, ask), self._asks[ask]) if ask else None,
        )

    def best_bid(self) -> DecimalLevel | None:
        """The highest bid as ``(price, size)``, or None when there are no bids."""
        best = self._best_bid
        return (Decimal(best), self._size(best, self._bids[best])) if best else None

    def best_ask(self) -> DecimalLevel | None:
        """The lowest ask as ``(price, size)``, or None when there are no asks."""
        best = self._best_ask
        return (Decimal(best), self._size(best, self._asks[best])) if best else None

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
            keys, levels, spelled = self._bid_keys[: -n - 1 : -1], self._bids, self._bid_spelled
        else:
            keys, levels, spelled = self._ask_keys[:n], self._asks, self._ask_spelled
        out = [(price, levels[price]) for price in [key.lstrip() for key in keys]]
        if not (self._clean or _all_nonzero(out)):
            # Lazily kept zero-size levels among them: drop them for good and read again.
            zeros = [price for price, size in out if _is_zero(size)]
            if zeros:
                self._drop(side, zeros)
                return self.top_raw(side, n)
            # only malformed sizes: kept as sent (raw reads do not validate)
        if spelled:
            return [(spelled.get(price, price), size) for price, size in out]
        return out

    def top(self, side: Side, n: int) -> list[DecimalLevel]:
        """The best ``n`` levels of one side (bids for BUY), best first, as Decimals."""
        levels = self.top_raw(side, n)
        sizes = self._sizes(levels)
        return [(Decimal(price), size) for (price, _), size in zip(levels, sizes, strict=True)]

    def depth(self, side: Side, low: Decimal, high: Decimal) -> Decimal:
        """Total size of one side's levels priced within ``[low, high]`` (bounds included)."""
        if not (low.is_finite() and high.is_finite()):
            raise ConfigError(f"depth band bounds must be finite, not [{low}, {high}]")
        keys, levels = (self._bid_keys, self._bids) if side is Side.BUY else (self._ask_keys, self._asks)
        start = bisect_left(keys, self._bound_key(low, decimal.ROUND_CEILING))
        stop = bisect_right(keys, self._bound_key(high, decimal.ROUND_FLOOR))
        band = [(price, levels[price]) for price in [key.lstrip() for key in keys[start:stop]]]
        if not (self._clean or _all_nonzero(band)):
            band = [level for level in band if not _is_zero(level[1])]
        sizes = self._sizes(band)
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
        if not self._clean:
            self._compact()
        return len(self._bids) + len(self._asks)

    def statistics(self) -> BookStatistics:
        if not self._clean:
            self._compact()
        return BookStatistics(
            instrument=self._instrument,
            bid_levels=len(self._bids),
            ask_levels=len(self._asks),
            snapshots=self._snapshots,
            updates=self._updates,
            compactions=self._compactions,
        )
