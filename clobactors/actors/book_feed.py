"""The exchange-agnostic book feed: market WebSockets in, synced books and market events out.

One :class:`BookFeed` actor serves any exchange by driving its dialect (style lesson 2: a thin I/O shell):

* **Connections.** Subscriptions are partitioned by ``dialect.connection_group`` (groups never share a
  connection: Binance USD-M serves book/BBO and trades/mark on separate routes), then split so that each
  connection carries at most ``dialect.max_streams_per_connection`` streams; within a group one instrument's
  channels share a connection (:mod:`clobactors.actors.feed_plan`). A book lives with the connection carrying
  its BOOK channel: only that connection's loss or errors mark it stale and resync it. Each connection is
  ``market_stream_url`` plus ``subscribe_frames`` of its *current* set, read by one task that owns it.
* **Runtime changes.** :class:`AddInstruments` / :class:`RemoveInstruments` add or drop instruments while
  the feed runs, live on the wire where the dialect allows, without touching the other books
  (:mod:`clobactors.actors.feed_subscriptions`, which owns the books and connections).
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
  connection, FeedSynced / FeedStale per instrument on each transition, FeedDown per connection, FeedRemoved
  per instrument removed at runtime) use the never-drop path.
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

import logging
import random
from collections.abc import Sequence
from typing import Final, assert_never, final

import attrs
import trio

from clobactors.actors.actor import Context, Request, unwrap_exception_group
from clobactors.actors.book_feed_stats import (
    BookFeedStatistics,
    FeedCounters,
    InstrumentFeedStatistics,
    feed_statistics,
)
from clobactors.actors.book_keeper import BookGroup, BookKeeper, ReconnectNeeded
from clobactors.actors.book_view import (
    AddInstruments,
    BookView,
    GetBook,
    InstrumentsAdded,
    InstrumentsRemoved,
    RemoveInstruments,
)
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.feed_subscriptions import FeedRoster, FeedSubscriptions
from clobactors.backoff import Backoff
from clobactors.errors import (
    ConfigError,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
)
from clobactors.exchanges.standard import Channel, Control, ControlKind
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
from clobactors.ratelimit import Priority
from clobactors.transport.ws import WsConnection, open_ws

__all__ = [
    "AddInstruments",
    "BookFeed",
    "BookFeedStatistics",
    "FeedRoster",
    "GetBook",
    "InstrumentFeedStatistics",
    "InstrumentsAdded",
    "InstrumentsRemoved",
    "RemoveInstruments",
]

logger: Final = logging.getLogger(__name__)

_DEFAULT_CHANNELS: Final = (Channel.BOOK, Channel.TRADES, Channel.BBO)
#: Reconnect and snapshot-retry delays: 0.5 s doubling to 30 s, up to 10 % shorter at random.
_DEFAULT_BACKOFF: Final = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.1)


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
    #: Seconds to wait for the exchange's answer to a live (un)subscribe request.
    ack_timeout: float = 10.0
    #: Shared with the factory so a restarted feed carries what was added or removed at runtime.
    roster: FeedRoster | None = attrs.field(default=None, repr=False)
    _subs: FeedSubscriptions = attrs.field(init=False, repr=False)
    _counters: FeedCounters = attrs.field(init=False, factory=FeedCounters, repr=False)
    _derive: bool = attrs.field(init=False, default=True)
    _keeper: BookKeeper | None = attrs.field(init=False, default=None, repr=False)
    _ran: bool = attrs.field(init=False, default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.channels or not (self.instruments or self.roster is not None):
            # A feed with a roster may carry nothing: everything was removed at runtime before a restart.
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
        self._subs = FeedSubscriptions(
            self.name, self.link, self.feed, self.channels, self.perp_channels, self.price_decimals,
            ack_timeout=self.ack_timeout, roster=self.roster,
        )  # fmt: skip

    # -- public ---------------------------------------------------------------------------------------------

    def view(self, instrument: str) -> BookView:
        """The view of one instrument's book (ConfigError if this feed does not carry it)."""
        try:
            return BookView(self._subs.books[instrument])
        except KeyError:
            raise ConfigError(f"book feed {self.name!r} does not carry {instrument!r}") from None

    def statistics(self) -> BookFeedStatistics:
        stale = self._keeper.stale_events if self._keeper is not None else 0
        subs = self._subs
        return feed_statistics(
            self._counters, len(subs.connections), stale, subs.books.values(), subs.statistics()
        )

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect everything, report ready once every connection is open and subscribed, then serve."""
        if self._ran:
            raise ConfigError(f"book feed {self.name!r} already ran; its factory must build a fresh one")
        self._ran = True
        rng = self.rng if self.rng is not None else ctx.system.rng_for(self.name)
        self._subs.build(self.instruments)
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

                    async def open_connection(conn: BookGroup) -> None:
                        await nursery.start(self._run_connection, ctx, keeper, conn, rng)

                    nursery.start_soon(self._serve_inbox, ctx, nursery)
                    for conn in tuple(self._subs.connections.values()):
                        await open_connection(conn)
                    self._subs.serving(open_connection, keeper, self.quiet_snapshot_after)
                    task_status.started()
        finally:
            for book in self._subs.books.values():
                book.close()

    # -- inbox ----------------------------------------------------------------------------------------------

    async def _serve_inbox(self, ctx: Context, nursery: trio.Nursery) -> None:
        async for message in ctx.inbox:
            if not isinstance(message, Request):
                logger.warning("%s: ignoring unexpected message %r", self.name, type(message).__name__)
            elif isinstance(message.payload, AddInstruments | RemoveInstruments):
                nursery.start_soon(self._subs.serve, ctx, message)  # changes queue there; GetBook stays quick
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
        """Connect, read until the connection fails, mark its books stale, back off, reconnect; until the
        connection is closed on purpose (``conn.scope``, once it carries nothing)."""
        dialect = self.link.dialect
        feed = f"{self.feed}/{conn.index}"
        attempt = 0
        ready = False
        with conn.scope:
            while True:
                immediate, reason = False, "connection closed"
                try:
                    with trio.CancelScope() as conn.session:  # cancelled to reopen with a new subscription set
                        sent = conn.subscriptions
                        async with open_ws(
                            dialect.market_stream_url(sent),
                            max_message_size=dialect.max_message_size,
                            message_queue_size=self.message_queue_size,
                            idle_timeout=dialect.idle_timeout,
                            wall_ns=ctx.system.wall_ns,
                        ) as ws:
                            try:
                                for frame in self._subs.ids.frames(dialect.subscribe_frames, sent)[1]:
                                    await ws.send(frame)
                                await self._subs.connected(conn, ws, sent)
                                self._counters.connects += 1
                                connected = FeedConnected(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=feed)
                                await ctx.publish(connected)
                                if not ready:
                                    task_status.started()
                                    ready = True
                                await self._serve_socket(ctx, keeper, conn, ws)
                            finally:
                                self._subs.disconnected(conn)
                    reason = "resubscribing"
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
                resubscribe, conn.reopen = conn.reopen, False
                if progress:
                    attempt = 0
                await self._connection_down(ctx, keeper, conn, feed, reason)
                if not (resubscribe or (immediate and progress)):  # a RECONNECT right after connecting must not spin
                    await trio.sleep(self.backoff.delay(attempt, rng))
                    attempt += 1
                self._counters.reconnects += 1

    async def _serve_socket(self, ctx: Context, keeper: BookKeeper, conn: BookGroup, ws: WsConnection) -> None:
        """Read one open socket, with its books' snapshot fetches in a nursery that dies with it."""
        with unwrap_exception_group():
            async with trio.open_nursery() as tasks:
                conn.tasks = tasks
                tasks.start_soon(keeper.sync_quiet_books, ctx, conn, self.quiet_snapshot_after)
                try:
                    await self._read(ctx, keeper, conn, ws)
                finally:
                    conn.tasks = None
                    tasks.cancel_scope.cancel(reason="connection closing")

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
                    if item.instrument in self._subs.removed:  # in flight when it was removed
                        counters.removed += 1
                    else:
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
                self._subs.acks.resolve(control)
            case ControlKind.PONG:
                pass
            case ControlKind.ERROR:
                self._counters.errors += 1
                if not self._subs.acks.resolve(control):  # else the request it answers fails with it
                    logger.warning("%s: exchange refused request %s: %s", self.name, control.request_id, control.detail)
            case ControlKind.RECONNECT:
                raise ReconnectNeeded(f"exchange asked to reconnect: {control.detail}")
            case _:
                assert_never(control.kind)
