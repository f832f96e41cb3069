"""Binance USD-M book sequencing: the futures rule, which chains events by ``pu`` instead of ``U == u + 1``.

Source: USD-M docs § Websocket Market Streams › How to manage a local order book correctly (quoted in
``golden/_common/sequence_rules.json``). The codec puts ``U`` in
:attr:`~clobactors.messages.BookDelta.first_sequence`, ``u`` in :attr:`~clobactors.messages.BookDelta.sequence`
and ``pu`` in :attr:`~clobactors.messages.BookDelta.prev_sequence`; the snapshot's ``lastUpdateId`` is
:attr:`~clobactors.messages.BookSnapshot.sequence`.

While unsynced, events are buffered (step 2). On the snapshot (``L = lastUpdateId``):

1. buffered events with ``u < L`` are dropped (step 4; note *strictly* less: an event ending at ``L`` is
   still the first one to process);
2. the first one left must satisfy ``U <= L <= u`` (step 5); if its ``U > L`` the snapshot is too old:
   :class:`~clobactors.errors.SequenceGap`, and the actor fetches a new one;
3. the snapshot and the remaining events are applied, each after the first checked as below.

Once synced, with ``last`` the ``u`` of the last applied event (or ``L`` right after a snapshot with nothing
buffered, where the first event must still straddle ``L`` as in step 5):

* ``u <= last`` and the event is not the one expected: a stale duplicate, ignored (counted);
* otherwise ``pu`` must equal ``last`` (step 6), else :class:`~clobactors.errors.SequenceGap` (hint
  ``RESYNC``): "initialize the process from step 3".

After a gap the sync is unsynced again and keeps the event that revealed it as the first buffered one, so the
next snapshot can splice with it; :meth:`BinanceUsdmBookSync.reset` forgets everything.
"""

from __future__ import annotations

from typing import Final, final

import attrs

from clobactors.errors import RecoveryHint, RemoteProtocolError, SequenceGap
from clobactors.exchanges.binance_common.book_sync import DEFAULT_MAX_BUFFERED, BookSyncState, BookSyncStatistics
from clobactors.exchanges.standard import SyncResult
from clobactors.messages import BookDelta, BookSnapshot

__all__ = ["DEFAULT_MAX_BUFFERED", "BinanceUsdmBookSync", "BookSyncStatistics"]

#: The answers that carry nothing to apply (immutable, so shared).
_NOTHING: Final = SyncResult()
_SYNCED: Final = SyncResult(synced=True)


@final
@attrs.define
class BinanceUsdmBookSync(BookSyncState):
    """The documented USD-M sequencing rule for one instrument (see the module docstring)."""

    #: True right after a snapshot with no event applied yet: the next event must straddle ``_last``.
    _at_snapshot: bool = attrs.field(default=False, init=False)

    def on_delta(self, delta: BookDelta) -> SyncResult:
        """Once per frame, so the common case (synced, ``pu`` chains on) is inline; the rest is :meth:`_check`."""
        first, final_id, prev = delta.first_sequence, delta.sequence, delta.prev_sequence
        if first is None or final_id is None or prev is None or first > final_id or prev >= first:
            first, final_id, prev = self._ids(delta)  # raises
        last = self._last
        if last is None:
            self._buffer.append(delta)
            return _NOTHING
        if prev == last and not self._at_snapshot:  # step 6 holds
            self._last = final_id
            self._applied += 1
            return SyncResult(apply=(delta,), synced=True)
        verdict = self._check(first, final_id, prev)
        if verdict is True:
            return SyncResult(apply=(delta,), synced=True)
        if verdict is False:
            return _SYNCED
        raise self._gap(*verdict, keep=delta)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        if snapshot.sequence is None:
            raise RemoteProtocolError(
                "Binance USD-M depth snapshot without lastUpdateId",
                hint=RecoveryHint.RESYNC,
                instrument=self.instrument,
                path="$.lastUpdateId",
            )
        self._snapshots += 1
        last = snapshot.sequence
        # Step 4 drops u < lastUpdateId. Sorted by u: the doc assumes frames in order; one reordered while
        # buffered costs nothing to put back (one reordered live is a gap, as the rule says).
        pending = sorted((d for d in self._buffer if self._ids(d)[1] >= last), key=self._final_id)
        self._stale += len(self._buffer) - len(pending)
        self._buffer.clear()
        self._last, self._at_snapshot = last, True
        out: list[BookSnapshot | BookDelta] = [snapshot]
        for index, delta in enumerate(pending):
            verdict = self._check(*self._ids(delta))
            if isinstance(verdict, tuple):
                self._last, self._at_snapshot = None, False
                self._buffer.extend(pending[index:])
                self._gaps += 1
                raise self._gap_error(*verdict)
            if verdict:
                out.append(delta)
        return SyncResult(apply=tuple(out), synced=True)

    def reset(self) -> None:
        super().reset()
        self._at_snapshot = False

    # -- internals -----------------------------------------------------------------------------------------

    def _check(self, first: int, final_id: int, prev: int) -> bool | tuple[int, int]:
        """The whole rule for one synced event with well-formed ids: apply (True, state advanced), ignore as
        stale (False), or a gap ``(expected, received)``."""
        assert self._last is not None
        if self._at_snapshot:
            if final_id < self._last:  # step 4: behind the snapshot
                self._stale += 1
                return False
            if first > self._last:  # step 5 fails: the snapshot is older than the stream
                return (self._last, first)
        elif prev != self._last:
            if final_id <= self._last:  # a resent or reordered event the book already holds
                self._stale += 1
                return False
            return (self._last, prev)  # step 6: pu must equal the previous u
        self._last = final_id
        self._at_snapshot = False
        self._applied += 1
        return True

    def _final_id(self, delta: BookDelta) -> int:
        return self._ids(delta)[1]

    def _ids(self, delta: BookDelta) -> tuple[int, int, int]:
        first, final_id, prev = delta.first_sequence, delta.sequence, delta.prev_sequence
        if first is None or final_id is None or prev is None or first > final_id or prev >= first:
            raise RemoteProtocolError(
                f"Binance USD-M diff event with update ids U={first} u={final_id} pu={prev}",
                hint=RecoveryHint.RESYNC,
                instrument=self.instrument,
                path="$.pu" if prev is None or (first is not None and prev >= first) else "$.U",
            )
        return first, final_id, prev

    def _gap(self, expected: int, received: int, *, keep: BookDelta) -> SequenceGap:
        """Become unsynced; ``keep`` (the event that showed the gap) starts the new buffer."""
        self._gaps += 1
        self._last = None
        self._at_snapshot = False
        self._buffer.clear()
        self._buffer.append(keep)
        return self._gap_error(expected=expected, received=received)

    def _gap_error(self, expected: int, received: int) -> SequenceGap:
        return SequenceGap(
            f"Binance USD-M depth update does not follow {expected} (got {received})",
            hint=RecoveryHint.RESYNC,
            instrument=self.instrument,
            expected=expected,
            received=received,
        )
