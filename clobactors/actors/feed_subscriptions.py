"""What a book feed carries, and changing it while the feed runs without disturbing the other books.

:class:`FeedSubscriptions` owns a feed's books and connections (the :class:`~clobactors.actors.book_keeper.
BookGroup` of each planned connection, from its :class:`~clobactors.actors.feed_plan.ConnectionPlan`) and
serves :class:`~clobactors.actors.book_view.AddInstruments` / :class:`~clobactors.actors.book_view.
RemoveInstruments`; :mod:`clobactors.actors.book_feed` owns the sockets. Changes run one at a time.

* **Add.** Names the exchange does not list fail the whole request (ConfigError naming them, nothing
  changed); names already carried are reported as such. Each new instrument gets its book, then its streams
  go where the plan puts them: on an open connection of its group with room, the book joins the connection
  first (so no delta is missed) and the dialect's live subscribe frames follow, paced under the dialect's
  frames-per-second limit with one frame spared for heartbeats; on a new connection, that connection opens
  through the same path as the feed's first ones. The request is answered once every frame is acknowledged
  (request ids matched against ``Control`` ACK/ERROR); an ERROR answer or no answer within
  ``ack_timeout`` takes the request's instruments off again (FeedRemoved) and fails it with ExchangeError or
  TransportTimeout. The books then sync as any book does (buffer, REST snapshot, FeedSynced).
* **Remove.** The book is dropped at once (its view goes stale for good, its snapshot fetch is abandoned,
  frames still in flight for it are dropped and counted) and a FeedRemoved goes out; then live unsubscribe
  frames are sent, and a connection left with no stream is closed.
* **Dialects without live subscriptions** (not :class:`~clobactors.exchanges.standard.LiveSubscriptions`):
  the affected connection is reopened with its new set; only its books resync.
* **Reconnects** subscribe the connection's set as it is then; a change made while a socket was being opened
  is sent live (or the socket reopened) before the connection counts as subscribed.
* **Restarts.** With a :class:`FeedRoster` shared with the feed's factory, the next incarnation starts with
  the instruments carried when the last one stopped.

The roster and statistics records live in :mod:`clobactors.actors.feed_records` (re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final, final

import attrs
import trio

from clobactors.actors.actor import Context, Request
from clobactors.actors.book_keeper import BookGroup, BookKeeper, ReconnectNeeded
from clobactors.actors.book_view import (
    AddInstruments,
    InstrumentBook,
    InstrumentsAdded,
    InstrumentsRemoved,
    RemoveInstruments,
    price_decimals_for_tick,
)
from clobactors.actors.feed_plan import ConnectionPlan, PlanChange
from clobactors.actors.feed_records import FeedRoster, SubscriptionCounts, SubscriptionStatistics
from clobactors.actors.feed_wire import AckWaiter, AckWaiters, FrameMaker, RequestIds, pace
from clobactors.book import L2Book
from clobactors.errors import ConfigError, ExchangeError, TransportError
from clobactors.exchanges.standard import Channel, LiveSubscriptions, Subscription
from clobactors.messages import FeedRemoved
from clobactors.model import Instrument, InstrumentKind

if TYPE_CHECKING:
    from clobactors.actors.exchange import ExchangeLink
    from clobactors.transport.ws import WsConnection

__all__ = ["FeedRoster", "FeedSubscriptions", "SubscriptionStatistics"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.define(eq=False)
class FeedSubscriptions:
    """A feed's books, connections and their runtime changes (see the module docstring). One per incarnation."""

    owner: str
    link: ExchangeLink
    feed: str
    channels: Sequence[Channel]
    perp_channels: Sequence[Channel]
    price_decimals: int | None = None
    ack_timeout: float = 10.0
    roster: FeedRoster | None = None
    books: dict[str, InstrumentBook] = attrs.field(init=False, factory=dict)
    connections: dict[int, BookGroup] = attrs.field(init=False, factory=dict)
    #: Instruments removed while running: frames still arriving for them are counted as such.
    removed: set[str] = attrs.field(init=False, factory=set)
    ids: RequestIds = attrs.field(init=False, factory=RequestIds)
    acks: AckWaiters = attrs.field(init=False, factory=AckWaiters)
    _plan: ConnectionPlan | None = attrs.field(init=False, default=None)
    _lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _ready: trio.Event = attrs.field(init=False, factory=trio.Event)
    _open: Callable[[BookGroup], Awaitable[None]] | None = attrs.field(init=False, default=None)
    _keeper: BookKeeper | None = attrs.field(init=False, default=None)
    _quiet_after: float = attrs.field(init=False, default=0.0)
    _counts: SubscriptionCounts = attrs.field(init=False, factory=SubscriptionCounts)

    # -- setup ----------------------------------------------------------------------------------------------

    def build(self, instruments: Sequence[str]) -> None:
        """Books and planned connections for the start set (ConfigError for a name the exchange lacks)."""
        for name in instruments:
            self.books[name] = self._new_book(name)
        groups: dict[str, dict[str, list[Subscription]]] = {}
        for name, book in self.books.items():
            for group, subs in self._by_group(book.instrument).items():
                groups.setdefault(group, {})[name] = subs
        dialect = self.link.dialect
        self._plan = ConnectionPlan.initial(dialect.max_streams_per_connection, groups, exchange=dialect.name)
        for index in self._plan.indices:
            self.connections[index] = self._connection(index)

    def serving(
        self, open_connection: Callable[[BookGroup], Awaitable[None]], keeper: BookKeeper, quiet: float
    ) -> None:
        """The feed is up: new connections open through ``open_connection``; changes may run now."""
        self._open, self._keeper, self._quiet_after = open_connection, keeper, quiet
        self._ready.set()

    def statistics(self) -> SubscriptionStatistics:
        c = self._counts
        return SubscriptionStatistics(c.added, c.removed, c.frames, c.refused, c.reopens, c.opened, c.closed)

    # -- connections ----------------------------------------------------------------------------------------

    async def connected(self, conn: BookGroup, ws: WsConnection, sent: tuple[Subscription, ...]) -> None:
        """A socket of ``conn`` opened subscribed to ``sent``; catch up with changes made meanwhile."""
        if conn.subscriptions != sent:
            live = self._live()
            if live is None:
                raise ReconnectNeeded("subscriptions changed while connecting")
            conn.ws = ws
            extra = [s for s in sent if s not in conn.subscriptions]
            missing = [s for s in conn.subscriptions if s not in sent]
            for make, subs in ((live.live_unsubscribe_frames, extra), (live.live_subscribe_frames, missing)):
                if subs:
                    await self._send_live(conn, make, subs)  # answers are counted, nobody waits on them
        conn.mark_subscribed(ws)

    def disconnected(self, conn: BookGroup) -> None:
        conn.ws = None
        self.acks.connection_lost(conn.index)

    # -- requests -------------------------------------------------------------------------------------------

    async def serve(self, ctx: Context, request: Request) -> None:
        """Answer one AddInstruments / RemoveInstruments request (typed errors go back to the asker)."""
        payload = request.payload
        try:
            if isinstance(payload, AddInstruments):
                answer: object = await self.add(ctx, payload.instruments)
            elif isinstance(payload, RemoveInstruments):
                answer = await self.remove(ctx, payload.instruments)
            else:
                raise ConfigError(f"{self.owner} cannot answer {type(payload).__name__}")
        except (ConfigError, ExchangeError, TransportError) as exc:
            request.fail(exc)
            return
        request.reply(answer)

    async def add(self, ctx: Context, names: Sequence[str]) -> InstrumentsAdded:
        await self._ready.wait()
        async with self._lock:
            fresh, already = self._split(names)
            plan = self._require_plan()
            placed = {name: self._by_group(self.link.rules(name).instrument) for name in fresh}
            for by_group in placed.values():
                plan.check(by_group, exchange=self.link.dialect.name)
            changes: list[PlanChange] = []
            for name in fresh:
                self.books[name] = self._new_book(name)
                self.removed.discard(name)
                changes += plan.add(name, placed[name])
            try:
                await self._put_on(ctx, changes)
            except (ExchangeError, TransportError) as exc:
                self._counts.refused += 1
                logger.warning("%s: adding %s failed: %s", self.owner, ", ".join(fresh), exc)
                await self._take_off(ctx, fresh, f"subscription failed: {exc}", quiet=True)
                raise
            self._counts.added += len(fresh)
            self._sync_roster()
            return InstrumentsAdded(added=fresh, already_subscribed=already)

    async def remove(self, ctx: Context, names: Sequence[str]) -> InstrumentsRemoved:
        await self._ready.wait()
        async with self._lock:
            fresh, carried = self._split(names)
            await self._take_off(ctx, carried, "removed on request")
            self._counts.removed += len(carried)
            self._sync_roster()
            return InstrumentsRemoved(removed=carried, not_subscribed=fresh)

    # -- changes --------------------------------------------------------------------------------------------

    async def _put_on(self, ctx: Context, changes: Sequence[PlanChange]) -> None:
        live = self._live()
        plan = self._require_plan()
        waiters: list[AckWaiter] = []
        by_connection: dict[int, list[PlanChange]] = {}
        for change in changes:
            by_connection.setdefault(change.connection, []).append(change)
        opened: list[BookGroup] = []
        reopen: list[BookGroup] = []
        for index, mine in by_connection.items():
            conn = self.connections.get(index)
            if conn is None:
                opened.append(self._connection(index))
                continue
            conn.subscriptions, conn.instruments = plan.subscriptions(index), plan.instruments(index)
            joined = [self.books[c.instrument] for c in mine if self._owns_book(c)]
            conn.books.update((book.name, book) for book in joined)
            if live is None:
                reopen.append(conn)
                continue
            if conn.tasks is not None and self._keeper is not None and joined:
                conn.tasks.start_soon(self._keeper.sync_quiet_books, ctx, conn, self._quiet_after, joined)
            subs = [s for c in mine for s in c.subscriptions]
            waiters += await self._send_live(conn, live.live_subscribe_frames, subs, wait=True)
        for conn in reopen:
            await self._reopen(conn)
        for conn in opened:
            self.connections[conn.index] = conn
            assert self._open is not None  # set by serving(), which add() waits for
            await self._open(conn)  # raises TransportError if it cannot connect
            self._counts.opened += 1
        await self._wait(waiters, "subscribe")

    async def _take_off(self, ctx: Context, names: Sequence[str], reason: str, *, quiet: bool = False) -> None:
        """Drop the books of ``names`` now, publish FeedRemoved, then unsubscribe or close on the wire."""
        plan = self._require_plan()
        touched: dict[int, list[Subscription]] = {}
        for name in names:
            book = self.books.pop(name, None)
            if book is not None:
                book.retire()
            self.removed.add(name)
            for change in plan.remove(name):
                conn = self.connections.get(change.connection)
                if conn is None:
                    continue
                conn.books.pop(name, None)
                if change.emptied:
                    del self.connections[change.connection]
                    touched.pop(change.connection, None)
                    conn.subscriptions, conn.instruments = (), frozenset()
                    conn.scope.cancel()
                    self._counts.closed += 1
                    continue
                conn.subscriptions, conn.instruments = plan.subscriptions(conn.index), plan.instruments(conn.index)
                touched.setdefault(conn.index, []).extend(change.subscriptions)
        for name in names:
            event = FeedRemoved(
                exchange=self.link.name, instrument=name, ts_recv=ctx.wall_ns(), feed=self.feed, reason=reason
            )
            await ctx.publish(event)
        live = self._live()
        waiters: list[AckWaiter] = []
        for index, subs in touched.items():
            conn = self.connections[index]
            if live is None:
                await self._reopen(conn)
            else:
                waiters += await self._send_live(conn, live.live_unsubscribe_frames, subs, wait=not quiet)
        try:
            await self._wait(waiters, "unsubscribe")
        except (ExchangeError, TransportError) as exc:
            # The books are gone either way: frames the exchange keeps sending are dropped and counted.
            logger.warning("%s: unsubscribing %s: %s", self.owner, ", ".join(names), exc)

    async def _send_live(
        self, conn: BookGroup, make: FrameMaker, subs: Sequence[Subscription], *, wait: bool = False
    ) -> list[AckWaiter]:
        """Send live (un)subscribe frames on ``conn``'s open socket, paced; the waiters of their answers.

        A connection without an open socket needs nothing: its next connect subscribes the current set.
        """
        ws = conn.ws
        if ws is None:
            return []
        first, frames = self.ids.frames(make, subs)
        waiters = self.acks.expect(conn.index, first, len(frames)) if wait else []
        try:
            live = self._live()
            # One frame a second spared for the heartbeat's pings and pongs, which Binance counts too.
            limit = max(1, (live.max_frames_per_second if live is not None else 1) - 1)
            for frame in frames:
                await pace(conn.sent, limit)
                if conn.ws is not ws:
                    break  # reconnected meanwhile: the new socket carries the current set
                await ws.send(frame)
                self._counts.frames += 1
        except TransportError as exc:
            logger.info("%s: live subscription change not sent (%s): the reconnect carries it", self.owner, exc)
            self.acks.connection_lost(conn.index)
        return waiters

    async def _wait(self, waiters: Sequence[AckWaiter], what: str) -> None:
        deadline = trio.current_time() + self.ack_timeout
        await self.acks.wait(waiters, deadline=deadline, exchange=self.link.name, what=what)

    async def _reopen(self, conn: BookGroup) -> None:
        """Reconnect ``conn`` with its current set (dialects without live subscriptions); wait until it is."""
        generation = conn.generation
        conn.reopen = True
        if conn.ws is not None and conn.session is not None:
            conn.session.cancel()
        # Else it is connecting or backing off: its next socket subscribes the current set.
        self._counts.reopens += 1
        await conn.wait_subscribed(generation)

    # -- helpers --------------------------------------------------------------------------------------------

    def _split(self, names: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(not carried, carried)``, in request order without repeats; ConfigError naming unknown ones."""
        unique = tuple(dict.fromkeys(names))
        unknown = [n for n in unique if n not in self.books and not self._listed(n)]  # carried: always removable
        if unknown:
            raise ConfigError(f"{self.link.name} does not list {', '.join(map(repr, unknown))}: nothing changed")
        return tuple(n for n in unique if n not in self.books), tuple(n for n in unique if n in self.books)

    def _listed(self, name: str) -> bool:
        try:
            self.link.rules(name)
        except ConfigError:
            return False
        return True

    def _live(self) -> LiveSubscriptions | None:
        dialect = self.link.dialect
        return dialect if isinstance(dialect, LiveSubscriptions) else None

    def _require_plan(self) -> ConnectionPlan:
        if self._plan is None:
            raise ConfigError(f"book feed {self.owner!r} has not been built")
        return self._plan

    def _sync_roster(self) -> None:
        if self.roster is not None:
            self.roster.instruments = tuple(self.books)

    def _new_book(self, name: str) -> InstrumentBook:
        dialect = self.link.dialect
        rules = self.link.rules(name)
        instrument = rules.instrument
        decimals = self.price_decimals
        if decimals is None:
            # The wire's fixed width when the dialect knows it (the fast path), never coarser than the tick.
            tick = price_decimals_for_tick(rules.tick_size)
            wire = dialect.book_price_decimals(instrument)
            decimals = tick if wire is None else max(wire, tick)
        return InstrumentBook(instrument, L2Book(decimals, name), dialect.new_book_sync(instrument), owner=self.owner)

    def _channels_of(self, instrument: Instrument) -> tuple[Channel, ...]:
        if instrument.kind is InstrumentKind.PERPETUAL:
            return (*self.channels, *(c for c in self.perp_channels if c not in self.channels))
        return tuple(self.channels)

    def _book_channel(self, instrument: Instrument) -> Channel:
        """A book lives with the connection of its BOOK channel (its first channel without one)."""
        channels = self._channels_of(instrument)
        return Channel.BOOK if Channel.BOOK in channels else channels[0]

    def _by_group(self, instrument: Instrument) -> dict[str, list[Subscription]]:
        groups: dict[str, list[Subscription]] = {}
        for channel in self._channels_of(instrument):
            sub = Subscription(channel, instrument)
            groups.setdefault(self.link.dialect.connection_group(sub), []).append(sub)
        return groups

    def _owns_book(self, change: PlanChange) -> bool:
        channel = self._book_channel(change.subscriptions[0].instrument)
        return any(s.channel is channel for s in change.subscriptions)

    def _connection(self, index: int) -> BookGroup:
        plan = self._require_plan()
        subs = plan.subscriptions(index)
        books = {
            s.instrument.name: self.books[s.instrument.name]
            for s in subs
            if s.channel is self._book_channel(s.instrument)
        }
        return BookGroup(index, books, subs, plan.instruments(index))

