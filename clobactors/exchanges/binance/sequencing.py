"""Binance spot book sequencing: splice the REST snapshot into the diff stream, then check every update.

Source: web-socket-streams.md § How to manage a local order book correctly (commit a5e0bc3, quoted in
``golden/_common/sequence_rules.json``). Each diff event carries ``U`` (first update id) and ``u`` (final
update id); the codec puts them in :attr:`~clobactors.messages.BookDelta.first_sequence` and
:attr:`~clobactors.messages.BookDelta.sequence`. The snapshot's ``lastUpdateId`` is
:attr:`~clobactors.messages.BookSnapshot.sequence`.

While unsynced, events are buffered. On the snapshot (``L = lastUpdateId``):

1. buffered events with ``u <= L`` are dropped (the snapshot already contains them), the rest are put in
   order of ``u`` (a no-op on an in-order stream; a frame reordered while buffered is put back);
2. the first one left must satisfy ``U <= L + 1 <= u``; if its ``U > L + 1`` the snapshot is too old (the
   doc's "go back to step 3"): :class:`~clobactors.errors.SequenceGap`, and the actor fetches a new one;
3. the snapshot and the remaining events are applied, each checked as below.

Once synced, with ``last`` the update id of the local book:

* ``u <= last``: a stale duplicate (a resent or reordered event the book already holds): ignored;
* ``U > last + 1``: events were missed: :class:`~clobactors.errors.SequenceGap` (hint ``RESYNC``);
* otherwise (``U <= last + 1 <= u``) it is applied and ``last = u``. Normally ``U == last + 1``; an event
  that overlaps the book (``U <= last``) is still correct to apply, because Binance sends absolute
  quantities as of ``u``: this is the doc's rule, which only discards events entirely behind the book.

After a gap the sync is unsynced again and keeps the event that revealed it as the first buffered one, so a
snapshot fetched next can splice with it; :meth:`BinanceSpotBookSync.reset` forgets everything.
"""

from __future__ import annotations

from typing import Final, final

import attrs

from clobactors.errors import RecoveryHint, RemoteProtocolError, SequenceGap
from clobactors.exchanges.binance_common.book_sync import DEFAULT_MAX_BUFFERED, BookSyncState, BookSyncStatistics
from clobactors.exchanges.standard import SyncResult
from clobactors.messages import BookDelta, BookSnapshot

__all__ = ["BinanceSpotBookSync", "BookSyncStatistics", "DEFAULT_MAX_BUFFERED"]

#: The answers that carry nothing to apply (immutable, so shared).
_NOTHING: Final = SyncResult()
_SYNCED: Final = SyncResult(synced=True)


@final
@attrs.define
class BinanceSpotBookSync(BookSyncState):
    """Binance spot's documented sequencing rule for one instrument (see the module docstring)."""

    def on_delta(self, delta: BookDelta) -> SyncResult:
        first, final_id = delta.first_sequence, delta.sequence
        if first is None or final_id is None or first > final_id:
            first, final_id = self._ids(delta)  # raises
        last = self._last
        if last is None:
            self._buffer.append(delta)
            return _NOTHING
        if final_id <= last:
            self._stale += 1
            return _SYNCED
        if first > last + 1:
            raise self._gap(expected=last + 1, received=first, keep=delta)
        self._last = final_id
        self._applied += 1
        return SyncResult(apply=(delta,), synced=True)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        if snapshot.sequence is None:
            raise RemoteProtocolError(
                "Binance depth snapshot without lastUpdateId",
                hint=RecoveryHint.RESYNC,
                instrument=self.instrument,
                path="$.lastUpdateId",
            )
        self._snapshots += 1
        last = snapshot.sequence
        # Sorted by final id: the doc assumes frames in order; a frame reordered inside the buffer costs
        # nothing to put back (one reordered live is a gap, as the rule says).
        pending = sorted((d for d in self._buffer if self._ids(d)[1] > last), key=self._final_id)
        self._buffer.clear()
        out: list[BookSnapshot | BookDelta] = [snapshot]
        for index, delta in enumerate(pending):
            first, final_id = self._ids(delta)
            if final_id <= last:
                self._stale += 1
                continue
            if first > last + 1:
                self._last = None
                self._buffer.extend(pending[index:])
                raise self._gap(expected=last + 1, received=first, keep=None)
            out.append(delta)
            last = final_id
        self._last = last
        self._applied += len(out) - 1
        return SyncResult(apply=tuple(out), synced=True)

    # -- internals -----------------------------------------------------------------------------------------

    def _ids(self, delta: BookDelta) -> tuple[int, int]:
        first, final_id = delta.first_sequence, delta.sequence
        if first is None or final_id is None or first > final_id:
            raise RemoteProtocolError(
                f"Binance diff event with update ids U={first} u={final_id}",
                hint=RecoveryHint.RESYNC,
                instrument=self.instrument,
                path="$.U",
            )
        return first, final_id

    def _final_id(self, delta: BookDelta) -> int:
        return self._ids(delta)[1]

    def _gap(self, *, expected: int, received: int, keep: BookDelta | None) -> SequenceGap:
        """Become unsynced; ``keep`` (the event that showed the gap) starts the new buffer."""
        self._gaps += 1
        self._last = None
        if keep is not None:
            self._buffer.clear()
            self._buffer.append(keep)
        return SequenceGap(
            f"Binance depth update ids jump from {expected - 1} to {received}",
            hint=RecoveryHint.RESYNC,
            instrument=self.instrument,
            expected=expected,
            received=received,
        )
