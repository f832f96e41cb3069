"""One instrument's book as the book feed keeps it, and the read-only view strategies get of it.

:class:`InstrumentBook` is the feed's private state for one instrument: the exact
:class:`~clobactors.book.L2Book`, the dialect's :class:`~clobactors.exchanges.standard.BookSync`, whether
the book is known to match the exchange, and per-instrument counters. It applies what the sync says to apply
(:meth:`InstrumentBook.apply`) and verifies checksums, but does no I/O: the actor publishes what it returns.

:class:`BookView` is what leaves the actor (answer to :class:`GetBook`). It reads the live book without
copying, so it is always current, and exposes no way to change it. A view is consistent within one
synchronous stretch of code: trio switches tasks only at ``await``, so a strategy that reads best bid, best
ask and sequence without awaiting in between sees one state of the book. Use :meth:`BookView.snapshot` to
keep a frozen copy across awaits. :attr:`BookView.is_stale` is true whenever the book is not known to be
right (never synced yet, resyncing after a gap, connection down or quiet, or the feed incarnation that owns
it has stopped, or the instrument was removed): a consumer never sees a known-wrong book without that flag.

:class:`AddInstruments` / :class:`RemoveInstruments` (answered by :class:`InstrumentsAdded` /
:class:`InstrumentsRemoved`) change what a running feed carries; they live here beside :class:`GetBook`, the
feed's other request.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, final, runtime_checkable

import attrs
import msgspec
import trio

from clobactors.book import L2Book, RawLevel
from clobactors.errors import ActorUnavailable, ConfigError, RecoveryHint, RemoteProtocolError
from clobactors.exchanges.standard import BookSync, SyncResult
from clobactors.messages import BestBidAsk, BookDelta, BookSnapshot, DecimalLevel
from clobactors.model import Instrument, Side

__all__ = [
    "AddInstruments",
    "BookChecksum",
    "BookView",
    "GetBook",
    "InstrumentBook",
    "InstrumentsAdded",
    "InstrumentsRemoved",
    "RemoveInstruments",
    "price_decimals_for_tick",
]


@final
class GetBook(msgspec.Struct, frozen=True):
    """Ask a book feed for the :class:`BookView` of canonical ``instrument`` (ConfigError if not carried)."""

    instrument: str


@final
class AddInstruments(msgspec.Struct, frozen=True):
    """Ask a running book feed to carry more canonical ``instruments`` (answer: :class:`InstrumentsAdded`).

    Answered once their streams are subscribed on the wire; each book then syncs as any other (FeedSynced,
    or wait on its view). Names the exchange does not list fail the whole request with a ConfigError.
    """

    instruments: tuple[str, ...]


@final
class RemoveInstruments(msgspec.Struct, frozen=True):
    """Ask a running book feed to drop canonical ``instruments`` (answer: :class:`InstrumentsRemoved`).

    Each removed book gets a :class:`~clobactors.messages.FeedRemoved`, then no more events.
    """

    instruments: tuple[str, ...]


@final
class InstrumentsAdded(msgspec.Struct, frozen=True, kw_only=True):
    """What an :class:`AddInstruments` changed: ``added`` now, ``already_subscribed`` were (no-ops)."""

    added: tuple[str, ...]
    already_subscribed: tuple[str, ...] = ()


@final
class InstrumentsRemoved(msgspec.Struct, frozen=True, kw_only=True):
    """What a :class:`RemoveInstruments` changed: ``removed`` now, ``not_subscribed`` were not carried (no-ops)."""

    removed: tuple[str, ...]
    not_subscribed: tuple[str, ...] = ()


@runtime_checkable
class BookChecksum(Protocol):
    """Optional extension of a :class:`BookSync` whose exchange sends book checksums (OKX, Kraken).

    :meth:`BookSync.verify` compares a sent checksum with one we computed, but which rendering of the book
    to hash is exchange-specific, so the sync that knows it computes it (e.g. ``book.okx_checksum()``). A
    sync without this method never has deltas with checksums verified (they are counted as unverified).
    """

    def compute_checksum(self, book: L2Book) -> int: ...


def price_decimals_for_tick(tick: Decimal) -> int:
    """Decimals of the price grid a book needs for ``tick`` (``0.01`` -> 2, ``10`` -> 0)."""
    exponent = tick.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@attrs.define(eq=False)
class InstrumentBook:
    """The feed's state for one instrument (see the module docstring). Owned by one feed incarnation."""

    instrument: Instrument
    book: L2Book
    sync: BookSync
    #: The book matches the exchange (a sync said so and nothing broke since).
    synced: bool = False
    #: A FeedStale was (or, before the first sync, would be) the last word on this book.
    stale: bool = True
    #: Name of the owning feed actor, and whether that incarnation is running.
    owner: str = ""
    alive: bool = True
    #: Taken off the feed on purpose (``RemoveInstruments``): the view is stale for good.
    removed: bool = False
    #: Bumped on every reset, so a snapshot fetched for an older generation is discarded.
    generation: int = 0
    #: Generation for which a snapshot fetch is in flight, or None.
    fetching: int | None = None
    sequence: int | None = None
    #: Trio clock and wall clock (ns) of the last applied update.
    last_update: float | None = None
    last_update_ns: int = 0
    #: Top of book last published as a derived BestBidAsk.
    last_top: tuple[RawLevel | None, RawLevel | None] | None = None
    synced_event: trio.Event = attrs.field(factory=trio.Event)
    deltas_applied: int = 0
    snapshots_applied: int = 0
    resyncs: int = 0
    gaps: int = 0
    checksum_failures: int = 0
    checksums_unverified: int = 0
    snapshot_requests: int = 0
    snapshot_failures: int = 0
    #: Snapshots fetched because the instrument sent no delta early in a connection (a quiet market).
    quiet_syncs: int = 0

    @property
    def name(self) -> str:
        return self.instrument.name

    def close(self) -> None:
        """The owning incarnation stopped: the book goes stale for good and waiters wake up."""
        self.alive = False
        self.synced = False
        self.stale = True
        self.synced_event.set()

    def retire(self) -> None:
        """Removed from the feed: forget the sync, stale for good, waiters wake up (and learn why)."""
        self.reset()
        self.removed = True
        self.close()

    def reset(self) -> bool:
        """Forget the sync state (after a gap, a bad frame or a reconnect); True if it was fresh before."""
        was_fresh = not self.stale
        self.sync.reset()
        self.synced = False
        self.stale = True
        self.generation += 1
        self.fetching = None
        self.last_top = None
        if self.synced_event.is_set():
            self.synced_event = trio.Event()
        return was_fresh

    def apply(self, result: SyncResult, at: float, recv_ns: int) -> tuple[bool, list[BookSnapshot | BookDelta]]:
        """Apply what the sync said, in order; return (became synced now, what was applied).

        Raises :class:`RemoteProtocolError` (hint RESYNC) for a malformed level or a checksum mismatch; the
        levels before it stay applied, so the caller must resync.
        """
        items = result.apply
        if items:
            book = self.book
            for item in items:
                if type(item) is BookDelta:  # the hot path: one delta a frame
                    book.apply_raw(item.bids, item.asks)
                    self.deltas_applied += 1
                    if item.checksum is not None:
                        self._check(item)
                else:
                    book.apply(item)
                    self.snapshots_applied += 1
                if item.sequence is not None:
                    self.sequence = item.sequence
            self.last_update, self.last_update_ns = at, recv_ns
        became = result.synced and not self.synced
        if became:
            self.synced = True
            self.stale = False
            self.synced_event.set()
        return became, list(items)

    def _check(self, delta: BookDelta) -> None:
        if delta.checksum is None:
            return
        if not isinstance(self.sync, BookChecksum):
            self.checksums_unverified += 1
            return
        if not self.sync.verify(delta.checksum, self.sync.compute_checksum(self.book)):
            self.checksum_failures += 1
            raise RemoteProtocolError(
                f"book checksum mismatch after update {delta.sequence}",
                hint=RecoveryHint.RESYNC,
                instrument=self.name,
            )

    def top_changed(self) -> bool:
        """Whether the best levels differ from the last derived BestBidAsk (and remember them if so)."""
        top = self.book.best_raw()
        if top == self.last_top:
            return False
        self.last_top = top
        return True

    def best_bid_ask(self, ts_exchange: int, recv_ns: int) -> BestBidAsk:
        """A BestBidAsk event derived from the book's top (for exchanges or setups without a BBO channel)."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return BestBidAsk(
            exchange=self.instrument.exchange,
            instrument=self.name,
            ts_exchange=ts_exchange,
            ts_recv=recv_ns,
            bid_price=bid[0] if bid else None,
            bid_size=bid[1] if bid else Decimal(0),
            ask_price=ask[0] if ask else None,
            ask_size=ask[1] if ask else Decimal(0),
            sequence=self.sequence,
        )


@final
@attrs.frozen
class BookView:
    """A read-only, live view of one instrument's book (see the module docstring for consistency)."""

    _state: InstrumentBook = attrs.field(repr=False)

    @property
    def instrument(self) -> str:
        """Canonical instrument name."""
        return self._state.name

    @property
    def exchange(self) -> str:
        return self._state.instrument.exchange

    @property
    def is_stale(self) -> bool:
        """True unless the book is known to match the exchange right now."""
        state = self._state
        return not (state.synced and state.alive)

    @property
    def sequence(self) -> int | None:
        """The exchange's update id of the last applied update, if it numbers them."""
        return self._state.sequence

    @property
    def last_update(self) -> float | None:
        """Trio clock time of the last applied update (compare with ``trio.current_time()`` for age)."""
        return self._state.last_update

    @property
    def last_update_ns(self) -> int:
        """Wall-clock receive time (ns since the epoch) of the last applied update; 0 before any."""
        return self._state.last_update_ns

    def best_bid(self) -> DecimalLevel | None:
        return self._state.book.best_bid()

    def best_ask(self) -> DecimalLevel | None:
        return self._state.book.best_ask()

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and ask, None when a side is empty."""
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else (bid[0] + ask[0]) / 2

    def top(self, side: Side, n: int) -> list[DecimalLevel]:
        """The best ``n`` levels of one side (bids for BUY), best first."""
        return self._state.book.top(side, n)

    def depth(self, side: Side, low: Decimal, high: Decimal) -> Decimal:
        """Total size on one side priced within ``[low, high]``."""
        return self._state.book.depth(side, low, high)

    def levels(self) -> tuple[int, int]:
        """Number of ``(bid, ask)`` levels."""
        stats = self._state.book.statistics()
        return stats.bid_levels, stats.ask_levels

    def snapshot(self, depth: int) -> BookSnapshot:
        """A frozen copy of the top ``depth`` levels a side, to keep across awaits."""
        state = self._state
        return BookSnapshot(
            exchange=state.instrument.exchange,
            instrument=state.name,
            ts_recv=state.last_update_ns,
            bids=tuple(state.book.top_raw(Side.BUY, depth)),
            asks=tuple(state.book.top_raw(Side.SELL, depth)),
            sequence=state.sequence,
        )

    async def wait_synced(self) -> None:
        """Wait until the book is in sync (at once if it is); wrap in ``trio.fail_after``.

        Raises :class:`~clobactors.errors.ActorUnavailable` once the feed incarnation behind the view has
        stopped: ask the restarted feed for a fresh view; :class:`~clobactors.errors.ConfigError` once the
        instrument was removed from the feed.
        """
        await trio.lowlevel.checkpoint()
        while True:
            state = self._state
            if state.removed:
                raise ConfigError(f"{state.name} was removed from book feed {state.owner!r}")
            if not state.alive:
                raise ActorUnavailable(state.owner)
            if state.synced:
                return
            await state.synced_event.wait()
