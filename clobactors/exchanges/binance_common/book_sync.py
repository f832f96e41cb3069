"""The state both Binance book sequencing rules keep: buffer, last update id, counters, and their reset.

Spot (web-socket-streams.md § How to manage a local order book correctly) and USD-M (§ Websocket Market
Streams › How to manage a local order book correctly) differ in the rule itself - spot chains ``U == u + 1``,
USD-M chains ``pu`` - so ``on_delta``/``on_snapshot`` stay in each venue's ``sequencing.py``. Both buffer diff
events until a REST snapshot (``GET /api/v3/depth``, ``GET /fapi/v1/depth``), count what they apply, ignore
or find missing, and send no book checksum; that part is written once here.
"""

from __future__ import annotations

from collections import deque
from typing import Final, final

import attrs

from clobactors.messages import BookDelta

__all__ = ["DEFAULT_MAX_BUFFERED", "BookSyncState", "BookSyncStatistics"]

#: Diff events kept while waiting for a snapshot. At 10 events a second per symbol this is ~17 minutes; when
#: full the oldest go, and a snapshot older than what is left is reported as a gap (then refetched).
DEFAULT_MAX_BUFFERED: Final = 10_000


@final
@attrs.frozen
class BookSyncStatistics:
    """Counters of one instrument's sync since it was created (``reset`` keeps them)."""

    synced: bool
    last_update_id: int | None
    buffered: int
    applied: int
    stale_ignored: int
    gaps: int
    snapshots: int


@attrs.define
class BookSyncState:
    """Base of the venues' ``BookSync`` classes (designed for subclassing: the rule is the subclass's)."""

    instrument: str
    max_buffered: int = DEFAULT_MAX_BUFFERED
    #: The snapshot comes from the REST depth endpoint, never from the stream.
    needs_rest_snapshot: bool = attrs.field(default=True, init=False)
    _buffer: deque[BookDelta] = attrs.field(init=False)
    #: The update id the local book is at; None while unsynced.
    _last: int | None = attrs.field(default=None, init=False)
    _applied: int = attrs.field(default=0, init=False)
    _stale: int = attrs.field(default=0, init=False)
    _gaps: int = attrs.field(default=0, init=False)
    _snapshots: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._buffer = deque(maxlen=self.max_buffered)

    @property
    def synced(self) -> bool:
        return self._last is not None

    def reset(self) -> None:
        self._buffer.clear()
        self._last = None

    def verify(self, checksum: int | None, computed: int) -> bool:
        """Binance sends no book checksum, so there is nothing to compare unless one is given."""
        return checksum is None or checksum == computed

    def statistics(self) -> BookSyncStatistics:
        return BookSyncStatistics(
            synced=self.synced,
            last_update_id=self._last,
            buffered=len(self._buffer),
            applied=self._applied,
            stale_ignored=self._stale,
            gaps=self._gaps,
            snapshots=self._snapshots,
        )
