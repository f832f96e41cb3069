"""An exact L2 order book, fast enough to keep up with a depth feed in pure Python.

The book applies snapshots and deltas (a size of zero removes a level) and answers best bid/ask, the top N
levels, the depth within a price band, whether the book is crossed, and exchange checksums
(:mod:`clobactors.checksum`). It is pure: no I/O, no clock. Sequencing (update ids, gaps) is the dialect's
job; the book only holds levels.

The book is one class, :class:`L2Book`, written in three modules by job:

* :mod:`clobactors.book_apply`: the state and the write side (the hot ``dict.update`` apply, snapshots,
  lazy zero-size levels and their amortised compaction), with the measurements that chose the design;
* :mod:`clobactors.book_read`: the read side (best levels, top N, depth, checksums, statistics);
* :mod:`clobactors.book_grid`: the price grid (canonical and aligned price strings, other spellings) and the
  exact checks of sizes, which are validated when read, not on the hot path.

The halves are joined by inheritance rather than delegation, so the hot path pays no extra attribute lookup
or call: every level access is a slot read of the same object, as when the book was one module.

Malformed input raises :class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``): part of the frame
is applied and the book stays internally consistent, but no longer matches the exchange, so the owner resyncs
it with a snapshot.
"""

from __future__ import annotations

from typing import final

import attrs

from clobactors.book_grid import RawLevel
from clobactors.book_read import BookReads, BookStatistics

__all__ = ["BookStatistics", "L2Book", "RawLevel"]


@final
@attrs.define
class L2Book(BookReads):
    """Price levels of one instrument, exact, with a fast path for the exchange's own strings.

    ``price_decimals`` is the number of decimals the exchange writes in prices (8 for Binance spot, whose
    ``"27000.01000000"`` has 8 whatever the tick); every price must fall on that grid.
    """
