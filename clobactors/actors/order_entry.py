"""The order-entry actor: keeps the exchange's WebSocket API connection up and hands it to the link as a lane.

While its connection is open, :attr:`ExchangeLink.lane <clobactors.actors.exchange.ExchangeLink.lane>` is set and
every request the dialect can translate (placements, cancels, modifications, queries) goes over it instead of
REST; see :mod:`clobactors.actors.order_lane`. When the connection fails, the lane is taken away *first*, so new
requests go over REST at once, the requests still waiting fail as "outcome unknown" (the order manager resolves
each by its client order id, as after a lost HTTP answer), and the actor reconnects with backoff. So the lane is
an accelerator, never a single point of failure: the order manager never waits for it.

The actor reports ready after its first connection attempt, whether it succeeded or not (orders go over REST in
the meantime); it never crashes on transport errors, only on a configuration that cannot work (no credentials,
a dialect without a WebSocket order entry).

Exchanges end these connections after a day (Binance: "A single connection to the API is only valid for 24
hours"). So that the cut never lands on a request in flight, a connection is *retired* after ``max_age``: it
takes no new request (those go over REST for the moment it takes), the ones waiting get their answers, then it
closes and the next one opens at once, without backoff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context, ReadyOnce, unwrap_exception_group
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_lane import LaneStatistics, OrderLane
from clobactors.backoff import Backoff
from clobactors.errors import ConfigError, ConnectionLost, RemoteProtocolError, TransportError
from clobactors.exchanges.order_entry import OrderEntryDialect
from clobactors.messages import FeedConnected, FeedDown
from clobactors.transport.ws import open_ws

__all__ = ["OrderEntry", "OrderEntryStatistics"]

logger: Final = logging.getLogger(__name__)

_DEFAULT_BACKOFF: Final = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.1)


class _Retired(Exception):
    """The connection reached ``max_age`` and was closed on purpose: reconnect at once."""


@final
@attrs.frozen
class OrderEntryStatistics:
    """Counters of one order-entry incarnation; ``lane`` is the current connection's, if any."""

    connects: int
    reconnects: int
    malformed: int
    connected: bool
    lane: LaneStatistics | None


@final
@attrs.define
class OrderEntry:
    """The order-entry actor of one exchange account (see the module docstring)."""

    name: str
    link: ExchangeLink
    backoff: Backoff = _DEFAULT_BACKOFF
    rng: random.Random | None = attrs.field(default=None, repr=False)
    #: Client pings keep the connection honest between orders (Binance also pings every 20 s).
    ping_interval: float | None = 30.0
    pong_timeout: float = 10.0
    #: Seconds a request waits for its answer before its outcome is declared unknown.
    answer_timeout: float = 10.0
    #: Seconds after which a connection is retired and replaced (the exchange's own limit is 24 h).
    max_age: float = 23.5 * 3600
    #: The lifecycle events' ``feed`` name.
    feed: str = "orders"
    #: Opens the plain TCP stream (a seam for benchmarks that stamp the socket's writes); ``None``: trio's.
    connect: Callable[[str, int], Awaitable[trio.abc.Stream]] | None = attrs.field(default=None, repr=False)
    _lane: OrderLane | None = attrs.field(init=False, default=None, repr=False)
    _connects: int = attrs.field(init=False, default=0)
    _reconnects: int = attrs.field(init=False, default=0)
    _malformed: int = attrs.field(init=False, default=0)
    #: FeedConnected was published and no FeedDown since.
    _announced: bool = attrs.field(init=False, default=False)

    def statistics(self) -> OrderEntryStatistics:
        lane = self._lane
        return OrderEntryStatistics(
            connects=self._connects,
            reconnects=self._reconnects,
            malformed=self._malformed,
            connected=lane is not None and lane.is_open and not lane.retired,
            lane=lane.statistics() if lane is not None else None,
        )

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the lane up until cancelled; ready after the first connection attempt."""
        if self.link.credentials is None:
            raise ConfigError(f"order entry {self.name!r} needs credentials for {self.link.name}")
        dialect = self.link.dialect
        if not isinstance(dialect, OrderEntryDialect):
            raise ConfigError(f"{self.link.name} has no WebSocket order entry: use order_entry = 'rest'")
        rng = self.rng if self.rng is not None else ctx.system.rng_for(self.name)
        with unwrap_exception_group():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ctx.refuse_requests)
                try:
                    await self._run_connections(ctx, dialect, rng, task_status)
                finally:
                    self._take_lane_away(ConnectionLost("order entry stopped"))
                nursery.cancel_scope.cancel()

    async def _run_connections(
        self, ctx: Context, dialect: OrderEntryDialect, rng: random.Random, task_status: trio.TaskStatus[None]
    ) -> None:
        on_ready = ReadyOnce(task_status)
        attempt = 0

        while True:
            try:
                await self._connection(ctx, dialect, on_ready)
                reason = "closed"
            except _Retired:
                self._take_lane_away(ConnectionLost("order entry connection retired"))
                self._lane = None
                self._reconnects += 1
                logger.info("%s: order entry connection retired after %gs; reconnecting", self.name, self.max_age)
                continue
            except TransportError as exc:
                reason = str(exc)
            if self._lane is not None:  # it was up: start the backoff afresh
                attempt = 0
            if self._announced:  # say it went (also when the reconnect after a retirement failed)
                self._announced = False
                await ctx.publish(
                    FeedDown(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=self.feed, reason=reason)
                )
            self._take_lane_away(ConnectionLost(f"order entry connection ended: {reason}"))
            self._lane = None
            logger.info("%s: order entry down (%s); orders go over REST meanwhile", self.name, reason)
            on_ready()
            await trio.sleep(self.backoff.delay(attempt, rng))
            attempt += 1
            self._reconnects += 1

    async def _connection(self, ctx: Context, dialect: OrderEntryDialect, on_ready: Callable[[], None]) -> None:
        """One connection: hand its lane to the link, deliver answers until it fails."""
        url = dialect.order_entry_url()
        async with open_ws(
            url,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            wall_ns=ctx.system.wall_ns,
            connect=self.connect,
        ) as ws:
            with trio.CancelScope() as reading:
                lane = OrderLane(
                    ws, dialect, self.link.credentials, answer_timeout=self.answer_timeout, endpoint=url,
                    on_close=reading.cancel,
                )  # fmt: skip
                self._lane = lane
                self.link.lane = lane
                self._connects += 1
                self._announced = True
                await ctx.publish(FeedConnected(exchange=self.link.name, ts_recv=ctx.wall_ns(), feed=self.feed))
                on_ready()
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._retire_when_old, lane, reading)
                        async for frame in ws:
                            try:
                                answer = dialect.decode_order_entry_answer(frame.data, 0.0, self.link.now_ms())
                            except RemoteProtocolError as exc:
                                self._malformed += 1
                                logger.warning("%s: dropped a frame that is no order-entry answer: %s", self.name, exc)
                                continue
                            lane.deliver(answer)
                finally:
                    self._take_lane_away(ConnectionLost("order entry connection ended"))
        if reading.cancelled_caught:
            if lane.retired:
                raise _Retired
            if lane.error is not None:
                raise lane.error  # closed by a request left unanswered: reconnect

    async def _retire_when_old(self, lane: OrderLane, reading: trio.CancelScope) -> None:
        """After ``max_age``: no new request on ``lane``, its answers awaited, then the connection ends."""
        await trio.sleep(self.max_age)
        if self.link.lane is lane:
            self.link.lane = None
        lane.retire()
        with trio.move_on_after(self.answer_timeout):
            await lane.drained()
        reading.cancel()

    def _take_lane_away(self, error: TransportError) -> None:
        """New requests go over REST from now on; the ones still waiting fail (outcome unknown)."""
        lane = self._lane
        if lane is None:
            return
        if self.link.lane is lane:
            self.link.lane = None
        lane.close(error)
