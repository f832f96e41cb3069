"""A persistent journal of one exchange account's live orders, so a restarted process can ask about each.

Reconciliation learns from open-order lists, trade lists and the user stream. An order that ended *without a
fill* while no process ran (cancelled, expired) is named by none of them, so a fresh process cannot know to
ask about it. The journal closes that gap: every order the account book tracks live is recorded ``open``
before its create request leaves, and ``done`` once it is terminal. On start, the order manager queries every
id still open in the journal that the exchange no longer lists (:mod:`clobactors.actors.reconcile`).

File format and replay: :mod:`clobactors.order_journal_records`.

Only client order ids, instruments, the exchange name and the order's intent (side, type, size, price) are
written: no credentials, no signed requests. Unknown fields are ignored, so later versions may add some.

**Durability.** Each record is one ``os.write`` on a descriptor opened with ``O_APPEND``: no Python buffer
holds it, so once the call returns the operating system has the record even if our process crashes the next
instant. There is no ``fsync`` per record (it costs milliseconds; the order path budget is microseconds), so
a crash of the *machine* may lose the last records. A lost ``open`` is an order the next process cannot ask
about (the limitation this journal removes, back for that one order); a lost ``done`` costs one extra query.
A record torn by a crash mid-write, or any line that does not decode, is skipped when the journal is read,
counted and logged, never a crash; the next record starts on a fresh line.

**Compaction.** The file is rewritten with only the open records and the kept fill and funding records at
load, and whenever the ``done``, ``fill`` and ``funding`` lines written since the last rewrite reach
``compact_after`` and outnumber the records kept. The rewrite goes to a
temporary file in the same directory, is fsynced, then ``os.replace``-d over the journal, so a crash leaves
either the old file (a superset with the same open set) or the new one, never a mix.

**Blocking.** Reading and compacting at load is synchronous: it happens once, when the session opens (before
any actor runs), on a file that compaction keeps to about ``compact_after`` lines plus the kept records, so
it takes well under a millisecond to a few milliseconds; a thread would add ordering questions for nothing.
An append is a tiny syscall (a few µs); a compaction while running rewrites only the kept records plus one
fsync, at most once per ``compact_after`` terminal orders, fills or funding payments.

**Failures.** A path that cannot be opened, written or locked is a :class:`~clobactors.errors.ConfigError`
at :meth:`OrderJournal.open`. While running, a failed ``open`` record raises ConfigError: the order manager
then refuses the placement (an order we could not journal is not sent). A failed ``done`` record is counted
and logged only: the order stays open in the journal and is queried once more by the next process. A failed
``fill`` or ``funding`` record likewise: the next process may publish that fill or payment once more.

One process at a time: a ``<journal>.lock`` file is locked (``flock``) while the journal is open, so a second
session pointed at the same file fails at start instead of interleaving records.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.order_journal_records import (
    DEFAULT_FILL_MARGIN,
    DEFAULT_FUNDING_RETENTION,
    FillMarks,
    FundingKey,
    JournaledDone,
    JournaledFill,
    JournaledFunding,
    JournaledOrder,
    JournalReplay,
    encode_kept,
    encode_record,
    prune_fills,
    prune_funding,
    replay,
)
from clobactors.orders import TrackedOrder

if TYPE_CHECKING:
    from clobactors.messages import FundingPayment

__all__ = [
    "JournalReplay", "JournaledFill", "JournaledFunding", "JournaledOrder", "OrderJournal", "OrderJournalStatistics",
    "replay",
]  # fmt: skip

logger: Final = logging.getLogger(__name__)


@final
@attrs.frozen
class OrderJournalStatistics:
    """A snapshot of :class:`OrderJournal` counters."""

    #: Orders journaled open and not yet done.
    open_orders: int
    #: Records appended since the journal was opened (compaction rewrites not counted).
    records_written: int
    #: Lines skipped when the journal was read (torn, undecodable, another exchange's).
    dropped_lines: int
    compactions: int
    #: Appends or compactions that failed (disk full, file removed); see the module docstring.
    write_failures: int
    #: Published fills remembered (all instruments), the ones the next process will not publish again.
    fills: int = 0
    #: Fills that compaction forgot (older than the latest of their instrument minus ``fill_margin``).
    fills_pruned: int = 0
    #: Published funding payments remembered, the ones the next process will not publish again.
    funding: int = 0
    #: Funding payments that compaction forgot (older than the newest minus ``funding_retention``).
    funding_pruned: int = 0


@final
@attrs.define(eq=False)
class OrderJournal:
    """The journal of one exchange account (see the module docstring); build with :meth:`open`."""

    path: Path
    exchange: str
    #: ``done`` lines after which (when they outnumber the open orders) the file is rewritten.
    compact_after: int = 1000
    #: Seconds of published fills kept behind each instrument's latest (see :meth:`keep_fills_for`).
    fill_margin: float = DEFAULT_FILL_MARGIN
    #: Seconds of published funding payments kept behind the newest one.
    funding_retention: float = DEFAULT_FUNDING_RETENTION
    _fd: int = attrs.field(default=-1, init=False)
    _lock_fd: int = attrs.field(default=-1, init=False)
    _open: dict[str, JournaledOrder] = attrs.field(factory=dict, init=False)
    _fills: FillMarks = attrs.field(factory=dict, init=False)
    _fills_pruned: int = attrs.field(default=0, init=False)
    _funding: dict[FundingKey, JournaledFunding] = attrs.field(factory=dict, init=False)
    _funding_pruned: int = attrs.field(default=0, init=False)
    #: ``done``, ``fill`` and ``funding`` lines written since the last rewrite.
    _done_lines: int = attrs.field(default=0, init=False)
    #: The last append may have stopped mid-line: the next one starts with a newline.
    _torn: bool = attrs.field(default=False, init=False)
    _written: int = attrs.field(default=0, init=False)
    _dropped: int = attrs.field(default=0, init=False)
    _compactions: int = attrs.field(default=0, init=False)
    _failures: int = attrs.field(default=0, init=False)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        exchange: str,
        compact_after: int = 1000,
        fill_margin: float = DEFAULT_FILL_MARGIN,
        funding_retention: float = DEFAULT_FUNDING_RETENTION,
    ) -> OrderJournal:
        """Lock, read and compact the journal at ``path`` (created if missing); ConfigError if unusable."""
        if compact_after < 1:
            raise ConfigError(f"order journal: compact_after must be >= 1, got {compact_after}")
        if not fill_margin >= 0:
            raise ConfigError(f"order journal: fill_margin must be >= 0, got {fill_margin}")
        if not funding_retention >= 0:
            raise ConfigError(f"order journal: funding_retention must be >= 0, got {funding_retention}")
        journal = cls(Path(path), exchange, compact_after, fill_margin, funding_retention)
        try:
            journal._load()
        except BaseException:
            journal.close()
            raise
        return journal

    # -- views ---------------------------------------------------------------------------------------------

    def open_orders(self) -> tuple[JournaledOrder, ...]:
        """Orders journaled open and not done, oldest first."""
        return tuple(self._open.values())

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._open

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._open))

    def __len__(self) -> int:
        return len(self._open)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def fill_published(self, instrument: str, trade_id: str) -> bool:
        """Whether a fill with this trade id was journaled as published (by this process or an earlier one)."""
        marks = self._fills.get(instrument)
        return marks is not None and trade_id in marks

    def last_fill_ns(self) -> dict[str, int]:
        """The latest journaled fill time (exchange ns) per instrument: where fill reconciliation resumes."""
        return {name: max(marks.values()) for name, marks in self._fills.items() if marks}

    def funding_payments(self) -> tuple[JournaledFunding, ...]:
        """The published funding payments remembered (by this process or an earlier one), in the order journaled."""
        return tuple(self._funding.values())

    def keep_fills_for(self, seconds: float) -> None:
        """Keep at least ``seconds`` of fills behind each latest one (a reconciliation's ``fill_margin``), so
        every fill its overlapping fetch finds again is still known."""
        self.fill_margin = max(self.fill_margin, seconds)

    def statistics(self) -> OrderJournalStatistics:
        return OrderJournalStatistics(
            open_orders=len(self._open),
            fills=sum(len(marks) for marks in self._fills.values()),
            records_written=self._written,
            dropped_lines=self._dropped,
            compactions=self._compactions,
            write_failures=self._failures,
            fills_pruned=self._fills_pruned,
            funding=len(self._funding),
            funding_pruned=self._funding_pruned,
        )

    # -- recording -----------------------------------------------------------------------------------------

    def record_open(self, order: TrackedOrder, ts: int) -> None:
        """Journal ``order`` as live (nothing is written if it already is); ConfigError if it cannot be."""
        if order.client_order_id in self._open:
            return
        entry = JournaledOrder.of(order, ts)
        self._append(encode_record(entry))
        self._open[order.client_order_id] = entry

    def record_done(self, client_order_id: str, ts: int) -> None:
        """Journal that an order is terminal (nothing is written for an id not open); never raises."""
        if self._open.pop(client_order_id, None) is None:
            return
        try:
            self._append(encode_record(JournaledDone(exchange=self.exchange, client_order_id=client_order_id, ts=ts)))
        except ConfigError as exc:
            logger.warning("%s: %s (the order will be queried again by the next process)", self.exchange, exc)
            return
        self._spent()

    def record_fill(self, instrument: str, trade_id: str, ts: int) -> None:
        """Journal that a fill was published (nothing is written if it already is); never raises.

        ``ts`` is the fill's exchange time (ns). A failed write is logged: the next process may publish that
        fill once more."""
        marks = self._fills.setdefault(instrument, {})
        if trade_id in marks:
            return
        record = JournaledFill(exchange=self.exchange, instrument=instrument, trade_id=trade_id, ts=ts)
        marks[trade_id] = ts  # remembered even if not written: this process must not publish it twice
        try:
            self._append(encode_record(record))
        except ConfigError as exc:
            logger.warning("%s: %s (the next process may publish fill %s again)", self.exchange, exc, trade_id)
            return
        self._spent()

    def record_funding(self, payment: FundingPayment, *, fetched: bool) -> None:
        """Journal that a funding payment was published (``fetched``: over REST); never raises.

        One without an exchange time is not journaled (the ledger cannot match it). A failed write is logged:
        the next process may publish that payment once more."""
        if payment.ts_exchange <= 0:
            return
        record = JournaledFunding(
            exchange=self.exchange,
            asset=payment.asset,
            instrument=payment.instrument,
            ts=payment.ts_exchange,
            amount=payment.amount,
            fetched=fetched,
            payment_id=payment.payment_id,
        )
        if record.key in self._funding:
            return
        self._funding[record.key] = record  # remembered even if not written, as fills are
        try:
            self._append(encode_record(record))
        except ConfigError as exc:
            logger.warning("%s: %s (the next process may publish a funding payment of %s again)",
                           self.exchange, exc, payment.asset)  # fmt: skip
            return
        self._spent()

    def _spent(self) -> None:
        """One more line that a compaction would not keep as is: compact when they outnumber the kept ones."""
        self._done_lines += 1
        if self._done_lines < self.compact_after:
            return
        self._prune()
        if self._done_lines <= len(self._open) + sum(len(m) for m in self._fills.values()) + len(self._funding):
            self._done_lines = 0  # not worth it yet: look again after as many records more
            return
        try:
            self._compact()
        except OSError as exc:
            self._failures += 1
            self._done_lines = 0  # try again after as many records more, not on every one
            logger.warning("%s: order journal %s not compacted: %s", self.exchange, self.path, exc)

    def _prune(self) -> None:
        before = sum(len(m) for m in self._fills.values())
        prune_fills(self._fills, int(self.fill_margin * 1_000_000_000))
        self._fills_pruned += before - sum(len(m) for m in self._fills.values())
        before = len(self._funding)
        prune_funding(self._funding, int(self.funding_retention * 1_000_000_000))
        self._funding_pruned += before - len(self._funding)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file and release the lock (idempotent)."""
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1

    def __enter__(self) -> OrderJournal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- machinery -----------------------------------------------------------------------------------------

    def _load(self) -> None:
        where = f"order journal {self.path}"
        try:
            self._lock()
            data = self.path.read_bytes() if self.path.exists() else b""
        except OSError as exc:
            raise ConfigError(f"{where}: cannot be used: {exc.strerror or exc}") from exc
        found = replay(data, self.exchange)
        self._open = dict(found.open)
        self._fills = {name: dict(marks) for name, marks in found.fills.items()}
        self._funding = {record.key: record for record in found.funding}
        self._prune()
        self._fills_pruned = self._funding_pruned = 0
        self._dropped = found.dropped
        if found.dropped:
            logger.warning("%s: skipped %d torn or undecodable line(s)", where, found.dropped)
        try:
            self._compact()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot be written: {exc.strerror or exc}") from exc
        self._compactions = 0  # the rewrite at load is not a compaction worth reporting

    def _lock(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock")
        self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"order journal {self.path} is in use by another session") from None

    def _compact(self) -> None:
        """Rewrite the file with only the open and kept fill and funding records (atomically); appends go on in
        the new file.

        The temporary file's descriptor is kept as the append descriptor: after the rename it *is* the
        journal, so there is no moment when appends could go to the replaced file.
        """
        temp = self.path.with_name(self.path.name + ".tmp")
        body = encode_kept(self.exchange, self._open.values(), self._fills, self._funding.values())
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.replace(temp, self.path)
        except BaseException:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        if old >= 0:
            os.close(old)
        self._torn = False
        self._done_lines = 0
        self._compactions += 1

    def _append(self, record: bytes) -> None:
        if self._fd < 0:
            raise ConfigError(f"order journal {self.path} is closed")
        data = b"\n" + record + b"\n" if self._torn else record + b"\n"
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            self._failures += 1
            self._torn = True  # maybe nothing was written; a spare newline only makes an empty line
            raise ConfigError(f"order journal {self.path}: write failed: {exc.strerror or exc}") from exc
        if written != len(data):
            self._failures += 1
            self._torn = True
            raise ConfigError(f"order journal {self.path}: short write ({written} of {len(data)} bytes)")
        self._torn = False
        self._written += 1
