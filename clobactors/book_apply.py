"""The write side of :class:`~clobactors.book.L2Book`: its state, the hot apply, snapshots, and compaction.

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

* Each side keeps ``dict[str, str]`` from the canonical price string (:mod:`clobactors.book_grid`) to the
  size exactly as the exchange sent it, so a frame's changes go into the dict with one
  ``dict.update(levels)`` (C), with no per-level Python code at all. The prices the dict did not hold are
  the last ``len`` growth entries of its insertion order (``islice(reversed(d), added)``, C); only those
  (an insert now and then) run Python: a compiled canonical check, then ``insort``.
* Sorted access uses a ``list`` of the aligned price strings (:mod:`clobactors.book_grid`), ascending by
  price for both sides. No tree or heap: with levels clustered near the touch, ``insort`` is a short
  ``memmove``.
* Zero sizes are lazy: a deletion is just the zero size the update wrote. A zero-size level stays in the
  dict and the sorted list (so a re-insert at that price is again a plain update) until a read meets it or
  a compaction drops it. Reads never see one: the best level of each side is cached and, after each frame,
  checked (one lookup); if its size became zero the edge of the list is walked past zeros, dropping them.
  Reads (:mod:`clobactors.book_read`) drop or skip the zeros they come across, ``len`` and ``statistics``
  compact first, and when the dicts grow past twice their size after the last compaction a full pass drops
  every zero (amortised). There are never entries beyond the best, so an update that revives a lazily kept
  level can never be a new best unnoticed.
* Prices in another spelling than the canonical one land in the dict as new keys, are found there, removed,
  and the frame's changes are replayed in order onto canonical prices; the exchange's own spelling is kept
  in a side table that is empty for an exchange that writes canonical prices.

Malformed input raises :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``): part of the frame
is applied (every change of a price the book held, new prices up to the bad one) and the book stays
internally consistent, but no longer matches the exchange, so the owner resyncs it with a snapshot.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Final, assert_never

import attrs

from clobactors.book_grid import (
    MAX_DECIMALS,
    NO_ASK,
    NO_BID,
    WIDTH,
    RawLevel,
    book_error,
    canonical_matcher,
    canonical_price,
    is_zero,
)
from clobactors.errors import ConfigError, RemoteProtocolError
from clobactors.messages import BookDelta, BookSnapshot
from clobactors.model import Side

__all__ = ["BookLevels"]

#: Entries (live and lazily kept zeros) a book may hold before the first compaction.
_COMPACT_MIN: Final = 64
_LOOKUP_ERRORS: Final = (IndexError, KeyError, TypeError, ValueError, AttributeError)


@attrs.define
class BookLevels:
    """The levels of one instrument and every way to change them; :class:`~clobactors.book.L2Book` adds the
    reads. Not used on its own: the book is split in two modules by job, not by design for subclassing."""

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
    _best_bid_key: str = attrs.field(init=False, default=NO_BID)
    _best_ask: str = attrs.field(init=False, default="")
    _best_ask_key: str = attrs.field(init=False, default=NO_ASK)
    #: No zero-size entry is kept (true after a compaction, false after any update).
    _clean: bool = attrs.field(init=False, default=True)
    _compact_at: int = attrs.field(init=False, default=_COMPACT_MIN)
    _compactions: int = attrs.field(init=False, default=0)
    _snapshots: int = attrs.field(init=False, default=0)
    _updates: int = attrs.field(init=False, default=0)
    _is_canonical: Callable[[str], object] = attrs.field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self._price_decimals <= MAX_DECIMALS:
            raise ConfigError(f"price_decimals must be within 0..{MAX_DECIMALS}, not {self._price_decimals}")
        self._is_canonical = canonical_matcher(self._price_decimals)

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
            raise book_error(f"malformed book level: {exc}", self._instrument) from exc
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
                if not is_zero(size):
                    raise ValueError(f"size {size!r} is not a decimal number")
                del levels[price]
                continue
            key = price.rjust(WIDTH)
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
        is_canonical, decimals, instrument = self._is_canonical, self._price_decimals, self._instrument
        last: dict[str, str] = {}
        for sent, size in changes:
            if type(sent) is not str:
                raise TypeError(f"price {sent!r} is not a string")
            if is_canonical(sent):
                last[sent] = size
                spelled.pop(sent, None)
            else:
                price = canonical_price(sent, decimals, instrument)
                last[price] = size
                spelled[price] = sent
        for price, size in last.items():
            if price in levels:
                levels[price] = size  # a zero stays lazily, like any update
            elif not size.strip("0."):
                if not is_zero(size):
                    raise ValueError(f"size {size!r} is not a decimal number")
            else:
                key = price.rjust(WIDTH)
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
            if not is_zero(levels[price]):
                return price, key
            del keys[edge]
            del levels[price]
        return "", NO_BID if is_bid else NO_ASK

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
                    insort(keys, price.rjust(WIDTH))
                    listed.add(price)
                else:
                    del levels[price]
            if len(listed) != len(levels):
                keys[:] = [key for key in keys if key.lstrip() in levels]
        self._refresh_best()

    # -- dropping lazily kept zeros ------------------------------------------------------------------------

    def _compact(self) -> None:
        """Drop every zero-size level kept lazily (a full pass, amortised: see the module doc)."""
        sides = ((self._bids, self._bid_keys, self._bid_spelled), (self._asks, self._ask_keys, self._ask_spelled))
        for levels, keys, spelled in sides:
            zeros = [price for price, size in levels.items() if is_zero(size)]
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
            del keys[bisect_left(keys, price.rjust(WIDTH))]
            del levels[price]
