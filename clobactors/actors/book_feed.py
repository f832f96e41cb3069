"""The exchange-agnostic book feed: market WebSockets in, synced books and market events out.

One :class:`BookFeed` actor serves any exchange by driving its dialect (style lesson 2: a thin I/O shell):

* **Connections.** Subscriptions are first partitioned by ``dialect.connection_group`` (groups never share
  a connection: Binance USD-M serves book/BBO and trades/mark on separate routes), then each group's
  instruments are split across connections so that each carries at most
  ``dialect.max_streams_per_connection`` streams; within a group one instrument's channels share a
  connection. A book lives with the connection carrying its BOOK channel: only that connection's loss or
  errors mark it stale and resync it, so a connection problem touches only the books it carries. Each
  connection is ``market_stream_url`` plus ``subscribe_frames``, read by one task that owns it.
* **Sync.** Each instrument has an :class:`~clobactors.book.L2Book` and the dialect's ``BookSync``. Deltas go
  through the sync, which buffers them until a snapshot (REST, fetched once the first delta is buffered so
  the buffer can cover it, or from the stream) and then says what to apply. A :class:`~clobactors.errors.
  SequenceGap`, a checksum mismatch or a malformed level resyncs *that instrument only*: it is marked stale,
  its sync reset (the delta that showed the gap starts the new buffer) and its snapshot refetched while
  the other books on the connection keep flowing. Dialects whose snapshots come from the stream cannot
  resubscribe one instrument through the standard, so for them a resync reopens the connection.
* **Publishing.** Market data goes out with ``publish_nowait`` (the reader never waits on a slow consumer):
  each applied BookSnapshot (so consumers can rebuild on every resync) and BookDelta, trades, the
  exchange's BBO and mark prices, and a BestBidAsk derived from the book whenever its top changes. By
  default the derived BBO is published only when the BBO channel is not subscribed, so a consumer never
  gets two interleaved sources of BestBidAsk for one instrument. Lifecycle events (FeedConnected per
  connection, FeedSynced / FeedStale per instrument on each transition, FeedDown per connection) use the
  never-drop path.
* **Liveness.** ``open_ws(idle_timeout=dialect.idle_timeout)``: a connection quiet past the deadline fails
  with TransportTimeout, its books go stale at that instant and it reconnects. Every lost connection is
  reopened after ``backoff.delay(attempt)`` (jitter from a seeded rng; the attempt counter resets once a
  connection delivers data) and everything it carried is resubscribed and resynced. A RECONNECT control
  frame or hint reconnects at once. Failures before the feed is ready crash it, so its supervisor's
  backoff and intensity apply to a feed that cannot start.

Books are read through :class:`~clobactors.actors.book_view.BookView` (ask :class:`GetBook`). This module
owns the sockets; what happens to a book once a frame is decoded lives in :mod:`clobactors.actors.book_keeper`.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Final, assert_never, final

import attrs
import trio

from clobactors.actors.actor import Context, Request, unwrap_exception_group
from clobactors.actors.book_keeper import BookGroup, BookKeeper, ReconnectNeeded
from clobactors.actors.book_view import BookView, GetBook, InstrumentBook, price_decimals_for_tick
from clobactors.actors.exchange import ExchangeLink
from clobactors.backoff import Backoff
from clobactors.book import L2Book
from clobactors.errors import (
    ConfigError,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
)
from clobactors.exchanges.standard import Channel, Control, ControlKind, Subscription
from clobactors.messages import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    FeedConnected,
    FeedDown,
    LifecycleEvent,
    MarkPrice,
    Trade,
)
from clobactors.model import Instrument, InstrumentKind
from clobactors.ratelimit import Priority
from clobactors.transport.ws import WsConnection, open_ws

__all__ = ["BookFeed", "BookFeedStatistics", "GetBook", "InstrumentFeedStatistics"]

logger: Final = logging.getLogger(__name__)

_DEFAULT_CHANNELS: Final = (Channel.BOOK, Channel.TRADES, Channel.BBO)
#: Reconnect and snapshot-retry delays: 0.5 s doubling to 30 s, up to 10 % shorter at random.
_DEFAULT_BACKOFF: Final = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.1)


@final
@attrs.frozen
class InstrumentFeedStatistics:
    """One instrument's sync counters."""

    instrument: str
    synced: bool
    sequence: int | None
    deltas_applied: int
    snapshots_applied: int
    resyncs: int
    gaps: int
    checksum_failures: int
    checksums_unverified: int
    snapshot_requests: int
    snapshot_failures: int
    quiet_syncs: int


@final
@attrs.frozen
class BookFeedStatistics:
    """Counters of one feed incarnation; ``resyncs`` is per instrument."""

    connections: int
    connects: int
    reconnects: int
    frames: int
    events: int
    malformed: int
    control_acks: int
    control_errors: int
    unknown_instrument: int
    stale_events: int
    instruments: tuple[InstrumentFeedStatistics, ...]

    @property
    def resyncs(self) -> Mapping[str, int]:
        return {i.instrument: i.resyncs for i in self.instruments}


@attrs.define
class _Counters:
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    events: int = 0
    malformed: int = 0
    acks: int = 0
    errors: int = 0
    unknown: int = 0


@final
@attrs.define(eq=False)
class BookFeed:
    """The book-feed actor for ``instruments`` (canonical names) of one exchange. Build one per start.

    ``derive_bbo``: publish a BestBidAsk derived from the book when its top changes; ``None`` means "only
    when the BBO channel is not subscribed". ``price_decimals`` overrides the book's price grid, which is
    otherwise ``dialect.book_price_decimals`` (the exchange's fixed wire width, so its strings take the book's
    fast path) or else the instrument's tick (the exchange may write more decimals: those take a slower path).
    """

    name: str
    link: ExchangeLink
    instruments: Sequence[str]
    channels: Sequence[Channel] = _DEFAULT_CHANNELS
    #: Added for perpetual instruments only (``InstrumentKind.PERPETUAL``): mark price, index and funding.
    perp_channels: Sequence[Channel] = (Channel.MARK,)
    depth: int = 1000
    backoff: Backoff = _DEFAULT_BACKOFF
    rng: random.Random | None = attrs.field(default=None, repr=False)
    derive_bbo: bool | None = None
    price_decimals: int | None = None
    #: Snapshots are market data: the limiter serves orders and cancels first.
    snapshot_priority: Priority = Priority.MARKET_DATA
    #: REST snapshot fetches in flight at once for the whole feed (a feed of 1000 books starts 1000 syncs).
    max_concurrent_snapshots: int = 8
    #: Seconds after a connection opens before a book that has had no delta fetches its snapshot anyway: an
    #: illiquid instrument may send nothing for minutes, and its book must not stay stale until it trades.
    quiet_snapshot_after: float = 3.0
    message_queue_size: int = 1024
    #: ``feed`` field of lifecycle events; connection-level ones add ``/<index>``.
    feed: str = "book"
    _books: dict[str, InstrumentBook] = attrs.field(init=False, factory=dict, repr=False)
    _connections: list[BookGroup] = attrs.field(init=False, factory=list, repr=False)
    _counters: _Counters = attrs.field(init=False, factory=_Counters, repr=False)
    _request_ids: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))
    _derive: bool = attrs.field(init=False, default=True)
    _keeper: BookKeeper | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.instruments or not self.channels:
            raise ConfigError(f"book feed {self.name!r} needs at least one instrument and one channel")
        if len(set(self.instruments)) != len(self.instruments):
            raise ConfigError(f"book feed {self.name!r} lists an instrument twice: {list(self.instruments)}")
        if self.depth < 1:
            raise ConfigError(f"book feed depth must be >= 1, got {self.depth}")
        if self.max_concurrent_snapshots < 1:
            raise ConfigError(f"max_concurrent_snapshots must be >= 1, got {self.max_concurrent_snapshots}")
        if self.quiet_snapshot_after < 0:
            raise ConfigError(f"quiet_snapshot_after must be >= 0, got {self.quiet_snapshot_after}")
        self._derive = Channel.BBO not in self.channels if self.derive_bbo is None else self.derive_bbo

    # -- public ---------------------------------------------------------------------------------------------

    def view(self, instrument: str) -> BookView:
        """The view of one instrument's book (ConfigError if this feed does not carry it)."""
        try:
            return BookView(self._books[instrument])
        except KeyError:
            raise ConfigError(f"book feed {self.name!r} does not carry {instrument!r}") from None

    def statistics(self) -> BookFeedStatistics:
        c = self._counters
        return BookFeedStatistics(
            connections=len(self._connections),
            connects=c.connects,
            reconnects=c.reconnects,
            frames=c.frames,
            events=c.events,
            malformed=c.malformed,
            control_acks=c.acks,
            control_errors=c.errors,
            unknown_instrument=c.unknown,
            stale_events=self._keeper.stale_events if self._keeper is not None else 0,
            instruments=tuple(
                InstrumentFeedStatistics(
                    instrument=b.name,
                    synced=b.synced,
                    sequence=b.sequence,
                    deltas_applied=b.deltas_applied,
                    snapshots_applied=b.snapshots_applied,
                    resyncs=b.resyncs,
                    gaps=b.gaps,
                    checksum_failures=b.checksum_failures,
                    checksums_unverified=b.checksums_unverified,
                    snapshot_requests=b.snapshot_requests,
                    snapshot_failures=b.snapshot_failures,
                    quiet_syncs=b.quiet_syncs,
                )
                for b in self._books.values()
            ),
        )

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect everything, report ready once every connection is open and subscribed, then serve."""
        if self._books:
            raise ConfigError(f"book feed {self.name!r} already ran; its factory must build a fresh one")
        rng = self.rng if self.rng is not None else ctx.system.rng_for(self.name)
        self._build()
        keeper = self._keeper = BookKeeper(
            self.name,
            self.link,
            self.feed,
            self.depth,
            self.snapshot_priority,
            self.backoff,
            rng,
            self._derive,
            trio.CapacityLimiter(self.max_concurrent_snapshots),
        )
        try:
            with unwrap_exception_group():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._serve_inbox, ctx)
                    for conn in self._connections:
                        await nursery.start(self._run_connection, ctx, keeper, conn, rng)
                    task_status.started()
        finally:
            for book in self._books.values():
                book.close()

    # -- setup ----------------------------------------------------------------------------------------------

    def _build(self) -> None:
        dialect = self.link.dialect
        for name in self.instruments:
            rules = self.link.rules(name)
            instrument = rules.instrument
            decimals = self.price_decimals
            if decimals is None:
                # The wire's fixed width when the dialect knows it (the fast path), never coarser than the tick.
                tick = price_decimals_for_tick(rules.tick_size)
                wire = dialect.book_price_decimals(instrument)
                decimals = tick if wire is None else max(wire, tick)
            self._books[name] = InstrumentBook(
                instrument, L2Book(decimals, name), dialect.new_book_sync(instrument), owner=self.name
            )
        # Subscriptions by connection group, then by instrument (insertion order: instruments as listed).
        groups: dict[str, dict[str, list[Subscription]]] = {}
        for name, book in self._books.items():
            for channel in self._channels_of(book.instrument):
                sub = Subscription(channel, book.instrument)
                groups.setdefault(dialect.connection_group(sub), {}).setdefault(name, []).append(sub)
        for group in groups.values():
            # The instrument with the most channels in the group (a perpetual's MARK) sizes its connections.
            per_instrument = max(len(subs) for subs in group.values())
            if per_instrument > dialect.max_streams_per_connection:
                raise ConfigError(
                    f"{per_instrument} channels per instrument exceed {dialect.name}'s "
                    f"{dialect.max_streams_per_connection} streams per connection"
                )
            per_connection = dialect.max_streams_per_connection // per_instrument
            names = list(group)
            for start in range(0, len(names), per_connection):
                chunk = names[start : start + per_connection]
                # A book lives with the connection of its BOOK channel (its first channel without one).
                books = {n: self._books[n] for n in chunk if self._book_channel(n) in (s.channel for s in group[n])}
                subs = tuple(s for n in chunk for s in group[n])
                self._connections.append(BookGroup(len(self._connections), books, subs, frozenset(chunk)))

    def _book_channel(self, name: str) -> Channel:
        channels = self._channels_of(self._books[name].instrument)
        return Channel.BOOK if Channel.BOOK in channels else channels[0]

    def _channels_of(self, instrument: Instrument) -> tuple[Channel, ...]:
        if instrument.kind is InstrumentKind.PERPETUAL:
            return (*self.channels, *(c for c in self.perp_channels if c not in self.channels))
        return tuple(self.channels)

    async def _serve_inbox(self, ctx: Context) -> None:
        async for message in ctx.inbox:
            if not isinstance(message, Request):
                logger.warning("%s: ignoring unexpected message %r", self.name, type(message).__name__)
            elif isinstance(message.payload, GetBook):
                try:
                    message.reply(self.view(message.payload.instrument))
                except ConfigError as exc:
                    message.fail(exc)
            else:
                message.fail(ConfigError(f"{self.name} cannot answer {type(message.payload).__name__}"))

    # -- connections ----------------------------------------------------------------------------------------

    async def _run_connection(
        self,
        ctx: Context,
        keeper: BookKeeper,
        conn: BookGroup,
        rng: random.Random,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, read until the connection fails, mark its books stale, back off, reconnect; forever."""
        dialect = self.link.dialect
        feed = f"{self.feed}/{conn.index}"
        attempt = 0
        ready = False
        while True:
            immediate, reason = False, "connection closed"
            try:
                async with open_ws(
                    dialect.market_stream_url(conn.subscriptions),
                    max_message_size=dialect.max_message_size,
                    message_queue_size=self.message_queue_size,
                    idle_timeout=dialect.idle_timeout,
                    wall_ns=ctx.system.wall_ns,
                ) as ws:
                    for frame in dialect.subscribe_frames(conn.subscriptions, next(self._request_ids)):
                        await ws.send(frame)
                    self._counters.connects += 1
                    await ctx.publish(FeedConnected(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=feed))
                    if not ready:
                        task_status.started()
                        ready = True
                    with unwrap_exception_group():
                        async with trio.open_nursery() as tasks:
                            conn.tasks = tasks
                            tasks.start_soon(keeper.sync_quiet_books, ctx, conn, self.quiet_snapshot_after)
                            try:
                                await self._read(ctx, keeper, conn, ws)
                            finally:
                                conn.tasks = None
                                tasks.cancel_scope.cancel(reason="connection closing")
            except ReconnectNeeded as exc:
                reason, immediate = exc.reason, True
            except TransportTimeout as exc:
                if not ready:
                    raise
                reason = f"idle: {exc}"
            except TransportError as exc:
                if not ready:
                    raise
                reason = str(exc)
            progress, conn.got_data = conn.got_data, False
            if progress:
                attempt = 0
            await self._connection_down(ctx, keeper, conn, feed, reason)
            if not (immediate and progress):  # a RECONNECT right after connecting must not spin
                await trio.sleep(self.backoff.delay(attempt, rng))
                attempt += 1
            self._counters.reconnects += 1

    async def _connection_down(self, ctx: Context, keeper: BookKeeper, conn: BookGroup, feed: str, reason: str) -> None:
        logger.info("%s: %s down: %s", self.name, feed, reason)
        events: list[LifecycleEvent] = []
        for book in conn.books.values():
            if book.reset():
                events.append(keeper.stale_event(ctx, book.name, reason))
        events.append(FeedDown(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=feed, reason=reason))
        for event in events:
            await ctx.publish(event)

    async def _read(self, ctx: Context, keeper: BookKeeper, conn: BookGroup, ws: WsConnection) -> None:
        """The reader: decode each frame and act on every item; returns only by raising."""
        dialect = self.link.dialect
        counters = self._counters
        while True:
            frame = await ws.receive()
            counters.frames += 1
            try:
                items = dialect.decode_market(frame.data, frame.received_ns)
            except RemoteProtocolError as exc:
                counters.malformed += 1
                logger.warning("%s: malformed frame: %s", self.name, exc)
                await keeper.on_remote_error(ctx, conn, exc, None)
                continue
            for item in items:
                counters.events += 1
                if isinstance(item, Control):
                    self._on_control(item)
                    continue
                conn.got_data = True
                if item.instrument not in conn.instruments:
                    counters.unknown += 1
                    continue
                match item:
                    case BookDelta() | BookSnapshot():
                        book = conn.books.get(item.instrument)
                        if book is None:  # a book update on a connection that does not own the book
                            counters.unknown += 1
                            continue
                        await keeper.on_book(ctx, conn, book, item, frame.received_at, frame.received_ns)
                    case Trade() | BestBidAsk() | MarkPrice():
                        ctx.publish_nowait(item)
                    case _:
                        assert_never(item)

    def _on_control(self, control: Control) -> None:
        match control.kind:
            case ControlKind.ACK:
                self._counters.acks += 1
            case ControlKind.PONG:
                pass
            case ControlKind.ERROR:
                self._counters.errors += 1
                logger.warning("%s: exchange refused request %s: %s", self.name, control.request_id, control.detail)
            case ControlKind.RECONNECT:
                raise ReconnectNeeded(f"exchange asked to reconnect: {control.detail}")
            case _:
                assert_never(control.kind)
