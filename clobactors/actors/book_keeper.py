"""The book feed's sync logic: apply what each instrument's BookSync says, resync one instrument at a time.

Split from :mod:`clobactors.actors.book_feed`, which owns the sockets: a :class:`BookKeeper` owns what happens
to a book once a frame is decoded. Its rules:

* Everything applied is published as it was applied (snapshot first on a rebuild, then deltas), market data
  with ``publish_nowait`` before any lifecycle event that awaits, so the book and the stream never disagree.
* A REST snapshot is fetched once the first delta of a generation is buffered (so the buffer can cover it),
  at most ``snapshot_slots`` of the feed's at a time, in the connection's nursery (a reconnect cancels it),
  and discarded if the book was reset meanwhile (``InstrumentBook.generation``). A failed fetch, or a
  snapshot older than the buffer (``SequenceGap`` from ``on_snapshot``), is retried after the feed's
  backoff; the buffer is kept.
* A gap, a checksum mismatch or a malformed level resets only that book: the delta that revealed a gap is
  fed to the fresh sync as its first buffered delta, and a FeedStale goes out if the book was fresh.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.book_view import InstrumentBook
from clobactors.actors.exchange import ExchangeLink
from clobactors.backoff import Backoff
from clobactors.errors import (
    ActorUnavailable,
    ExchangeError,
    RecoveryHint,
    RemoteProtocolError,
    SequenceGap,
    TransportError,
)
from clobactors.exchanges.standard import Subscription, SyncResult
from clobactors.messages import BookDelta, BookSnapshot, FeedStale, FeedSynced
from clobactors.ratelimit import Priority

if TYPE_CHECKING:
    from clobactors.transport.ws import WsConnection

__all__ = ["BookGroup", "BookKeeper", "ReconnectNeeded"]

logger: Final = logging.getLogger(__name__)


class ReconnectNeeded(Exception):
    """Leave the read loop and reopen the connection now, without backoff (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.define(eq=False)
class BookGroup:
    """The books one connection carries, and the nursery their snapshot fetches run in while it is open.

    ``instruments`` are all the instruments it has streams of; ``books`` only those whose BOOK channel it
    carries (an instrument's trades or mark price may come on another connection than its book). The three
    change together when an instrument is added or removed at runtime
    (:mod:`clobactors.actors.feed_subscriptions`), and each (re)connect subscribes ``subscriptions`` as they
    are then.
    """

    index: int
    books: dict[str, InstrumentBook]
    subscriptions: tuple[Subscription, ...]
    instruments: frozenset[str]
    tasks: trio.Nursery | None = None
    #: A frame decoded since the connection opened (resets the reconnect backoff).
    got_data: bool = False
    #: The open socket once subscribed; None while connecting, backing off or closed.
    ws: WsConnection | None = attrs.field(default=None, repr=False)
    #: The connection's whole life: cancelled when it is closed on purpose (it carries nothing more).
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, repr=False)
    #: The current socket's life: cancelled (with ``reopen`` set) to reconnect with a new subscription set.
    session: trio.CancelScope | None = attrs.field(default=None, repr=False)
    reopen: bool = False
    #: Bumped each time a socket is open and subscribed (:meth:`wait_subscribed`).
    generation: int = 0
    _subscribed: trio.Event = attrs.field(factory=trio.Event, repr=False)
    #: Trio times of the recent live (un)subscribe frames sent on it, to pace them.
    sent: deque[float] = attrs.field(factory=deque, repr=False)

    def mark_subscribed(self, ws: WsConnection) -> None:
        """A socket is open and carries ``subscriptions``: wake whoever waits for it."""
        self.ws = ws
        self.generation += 1
        self._subscribed.set()
        self._subscribed = trio.Event()

    async def wait_subscribed(self, after: int) -> None:
        """Until a socket newer than generation ``after`` is open and subscribed."""
        while self.generation <= after:
            await self._subscribed.wait()


@final
@attrs.define(eq=False)
class BookKeeper:
    """Keeps one feed's books in sync (see the module docstring). One per feed incarnation."""

    owner: str
    link: ExchangeLink
    feed: str
    depth: int
    priority: Priority
    backoff: Backoff
    rng: random.Random = attrs.field(repr=False)
    derive_bbo: bool
    #: Bounds the REST snapshot fetches in flight for the whole feed: 1000 books syncing at once would
    #: otherwise all ask together, and the exchange (or its limiter) answers the last of them seconds late.
    snapshot_slots: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(8), repr=False)
    stale_events: int = 0

    def stale_event(self, ctx: Context, instrument: str, reason: str) -> FeedStale:
        """A FeedStale for ``instrument``, counted."""
        self.stale_events += 1
        return FeedStale(
            exchange=self.link.name, instrument=instrument, ts_recv=ctx.wall_ns(), feed=self.feed, reason=reason
        )

    async def on_book(
        self,
        ctx: Context,
        group: BookGroup,
        book: InstrumentBook,
        item: BookDelta | BookSnapshot,
        at: float,
        recv_ns: int,
    ) -> None:
        """One book event from the stream: through the sync, onto the book, out to subscribers."""
        try:
            result = book.sync.on_delta(item) if isinstance(item, BookDelta) else book.sync.on_snapshot(item)
            await self._apply(ctx, book, result, at, recv_ns, item.ts_exchange)
        except SequenceGap as exc:
            book.gaps += 1
            await self.on_remote_error(ctx, group, exc, book, item if isinstance(item, BookDelta) else None)
            return
        except RemoteProtocolError as exc:
            await self.on_remote_error(ctx, group, exc, book)
            return
        if not book.synced and book.fetching is None and book.sync.needs_rest_snapshot:
            self._start_fetch(ctx, group, book)

    async def on_remote_error(
        self,
        ctx: Context,
        group: BookGroup,
        exc: RemoteProtocolError,
        book: InstrumentBook | None,
        keep: BookDelta | None = None,
    ) -> None:
        """Follow the error's hint: drop, resync the instrument (all of the group if unnamed), reconnect."""
        if exc.hint is RecoveryHint.DROP:
            return
        if exc.hint is RecoveryHint.RECONNECT:
            raise ReconnectNeeded(f"protocol error: {exc}")
        if book is None and exc.instrument:
            book = group.books.get(exc.instrument)
            if book is None:
                return  # not a book of this connection: its non-book data has no state to resync
        for target in (book,) if book is not None else tuple(group.books.values()):
            await self._resync(ctx, group, target, str(exc), keep if target is book else None)

    async def _apply(
        self, ctx: Context, book: InstrumentBook, result: SyncResult, at: float, recv_ns: int, ts_exchange: int
    ) -> None:
        """Apply a sync result and publish it: market data first, without waiting, then lifecycle."""
        became_synced, applied = book.apply(result, at, recv_ns)
        for item in applied:
            ctx.publish_nowait(item)
        if book.synced and self.derive_bbo and applied and book.top_changed():
            ctx.publish_nowait(book.best_bid_ask(ts_exchange, recv_ns))
        if became_synced:
            await ctx.publish(
                FeedSynced(
                    exchange=self.link.name,
                    instrument=book.name,
                    ts_recv=ctx.wall_ns(),
                    feed=self.feed,
                    sequence=book.sequence,
                )
            )

    async def _resync(
        self, ctx: Context, group: BookGroup, book: InstrumentBook, reason: str, keep: BookDelta | None
    ) -> None:
        """Mark one book stale, reset its sync and start over from a fresh snapshot."""
        book.resyncs += 1
        logger.info("%s: resyncing %s: %s", self.owner, book.name, reason)
        was_fresh = book.reset()
        if not book.sync.needs_rest_snapshot:
            # The standard has no way to resubscribe one instrument; reopening the connection makes the
            # exchange send fresh snapshots for everything on it.
            raise ReconnectNeeded(f"resync {book.name}: {reason}")
        if keep is not None:
            # The delta that revealed the gap starts the new buffer (if it is itself malformed, the next does).
            with contextlib.suppress(RemoteProtocolError):
                book.sync.on_delta(keep)
        self._start_fetch(ctx, group, book)
        if was_fresh:
            await ctx.publish(self.stale_event(ctx, book.name, reason))

    async def sync_quiet_books(
        self, ctx: Context, group: BookGroup, after: float, books: Sequence[InstrumentBook] | None = None
    ) -> None:
        """``after`` s into a connection (or after ``books`` were added to it), fetch the snapshot of every
        book still waiting for its first delta.

        A snapshot with nothing buffered is a valid start (the next delta straddles it, or is dropped as
        older), so a quiet instrument gets a fresh book now instead of at its next trade.
        """
        await trio.sleep(after)
        for book in tuple(group.books.values()) if books is None else books:
            if group.books.get(book.name) is not book:
                continue  # removed meanwhile
            if not book.synced and book.fetching is None and book.sync.needs_rest_snapshot:
                book.quiet_syncs += 1
                self._start_fetch(ctx, group, book)

    def _start_fetch(self, ctx: Context, group: BookGroup, book: InstrumentBook) -> None:
        if group.tasks is None:
            return  # the connection is closing; its reconnect resyncs everything
        book.fetching = book.generation
        group.tasks.start_soon(functools.partial(self._fetch_snapshot, ctx, group, book, book.generation))

    async def _fetch_snapshot(self, ctx: Context, group: BookGroup, book: InstrumentBook, generation: int) -> None:
        """Fetch the REST snapshot for one generation of a book until it splices; retries with backoff."""
        dialect = self.link.dialect
        attempt = 0
        while book.generation == generation:
            try:
                async with self.snapshot_slots:
                    if book.generation != generation:
                        return  # reset while waiting for a slot: that generation fetches its own
                    book.snapshot_requests += 1
                    spec = dialect.book_snapshot_request(book.instrument, self.depth)
                    result = await self.link.rest(ctx, spec, self.priority)
                snapshot = dialect.decode_book_snapshot(result, book.instrument, ctx.wall_ns())
                if book.generation != generation:
                    return
                sync_result = book.sync.on_snapshot(snapshot)
            except (TransportError, ExchangeError, ActorUnavailable, RemoteProtocolError) as exc:
                # A SequenceGap here means the snapshot is older than the buffer: fetch a newer one.
                book.snapshot_failures += 1
                if isinstance(exc, SequenceGap):
                    book.gaps += 1
                logger.info("%s: snapshot for %s failed: %s", self.owner, book.name, exc)
                await trio.sleep(self.backoff.delay(attempt, self.rng))
                attempt += 1
                continue
            book.fetching = None
            try:
                await self._apply(ctx, book, sync_result, trio.current_time(), snapshot.ts_recv, snapshot.ts_exchange)
            except RemoteProtocolError as exc:
                await self._resync(ctx, group, book, str(exc), None)
            return
