"""The read side of :class:`~clobactors.book.L2Book`: best levels, the top N, depth in a band, checksums, and
statistics.

Reads never show a lazily kept zero-size level (see :mod:`clobactors.book_apply`): the best levels are kept
live by the apply, ``top_raw`` and the checksums drop the zeros they come across, ``depth`` skips them, and
``len`` and ``statistics`` compact first. The ``*_raw`` reads return levels as the exchange sent them,
unvalidated; the Decimal reads validate each size they convert (:func:`~clobactors.book_grid.size_of`), so a
malformed size surfaces there as a :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``).
"""

from __future__ import annotations

import decimal
from bisect import bisect_left, bisect_right
from decimal import Decimal
from typing import final

import attrs

from clobactors.book_apply import BookLevels
from clobactors.book_grid import EXACT, RawLevel, all_nonzero, bound_key, is_zero, size_of, sizes_of
from clobactors.checksum import KRAKEN_DEPTH, OKX_DEPTH, kraken_checksum, okx_checksum
from clobactors.errors import ConfigError
from clobactors.messages import DecimalLevel
from clobactors.model import Side

__all__ = ["BookReads", "BookStatistics"]


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
    #: Full passes that dropped lazily kept zero-size levels (see :mod:`clobactors.book_apply`).
    compactions: int = 0


@attrs.define
class BookReads(BookLevels):
    """The reads of :class:`~clobactors.book.L2Book` over the levels :class:`BookLevels` keeps."""

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
        return (Decimal(best), size_of(best, self._bids[best], self._instrument)) if best else None

    def best_ask(self) -> DecimalLevel | None:
        """The lowest ask as ``(price, size)``, or None when there are no asks."""
        best = self._best_ask
        return (Decimal(best), size_of(best, self._asks[best], self._instrument)) if best else None

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
        if not (self._clean or all_nonzero(out)):
            # Lazily kept zero-size levels among them: drop them for good and read again.
            zeros = [price for price, size in out if is_zero(size)]
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
        sizes = sizes_of(levels, self._instrument)
        return [(Decimal(price), size) for (price, _), size in zip(levels, sizes, strict=True)]

    def depth(self, side: Side, low: Decimal, high: Decimal) -> Decimal:
        """Total size of one side's levels priced within ``[low, high]`` (bounds included)."""
        if not (low.is_finite() and high.is_finite()):
            raise ConfigError(f"depth band bounds must be finite, not [{low}, {high}]")
        keys, levels = (self._bid_keys, self._bids) if side is Side.BUY else (self._ask_keys, self._asks)
        decimals = self._price_decimals
        start = bisect_left(keys, bound_key(low, decimals, decimal.ROUND_CEILING))
        stop = bisect_right(keys, bound_key(high, decimals, decimal.ROUND_FLOOR))
        band = [(price, levels[price]) for price in [key.lstrip() for key in keys[start:stop]]]
        if not (self._clean or all_nonzero(band)):
            band = [level for level in band if not is_zero(level[1])]
        sizes = sizes_of(band, self._instrument)
        with decimal.localcontext(EXACT):  # the default context would round past 28 digits
            return sum(sizes, Decimal(0))

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
