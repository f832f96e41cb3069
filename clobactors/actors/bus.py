"""Topic pub/sub between actors: market data may be conflated, account and lifecycle events never dropped.

Topics are dotted strings built by :func:`topic_for` (``market.<exchange>.<instrument>``,
``account.<exchange>``, ``lifecycle`` or ``lifecycle.<exchange>``). A subscriber takes one exact topic, or a
prefix that matches on dot boundaries (``market.binance`` matches ``market.binance.BTC-USDT`` but not
``market.binance_usdm.X``; the empty prefix matches everything).

Each subscriber owns one :class:`Subscription`, a receive channel with two budgets over one arrival-ordered
queue:

* **Market data** (``messages.MARKET_TYPES``) is offered without ever blocking the publisher (a socket reader
  must keep answering pings, style lesson 2). When the subscriber already holds ``market_capacity`` market
  events, the new one merges into the newest pending event of the same :func:`~clobactors.messages.
  conflation_key` (:func:`~clobactors.messages.merge_market`: deltas merge losslessly, newer tops replace
  older), counted as *conflated*. With no such key pending, the oldest pending trade (else the oldest
  market event) is dropped and counted; a dropped delta shows up downstream as a sequence gap, which the book
  resyncs from. Conflation reorders only across keys; events of one key keep their order.
* **Account and lifecycle events** are never dropped: the publisher waits for space in a buffer of
  ``reliable_capacity`` (well above any burst). When the buffer passes ``lag_high_water`` the bus publishes
  one :class:`~clobactors.messages.SubscriberLagging` per crossing (re-armed once the buffer drains to half
  the mark), so a stuck consumer is visible long before the reader would stall.

We do not use a trio memory channel per subscriber because conflation must rewrite an event that is already
queued, which a memory channel cannot do.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from typing import final

import attrs
import trio

from clobactors.errors import ConfigError
from clobactors.messages import (
    ACCOUNT_TYPES,
    MARKET_TYPES,
    Event,
    MarketEvent,
    SubscriberLagging,
    Trade,
    conflation_key,
    merge_market,
)

__all__ = ["Bus", "BusStatistics", "SubscriberStatistics", "Subscription", "topic_for"]


def topic_for(event: Event) -> str:
    """The topic an event is published on when the publisher names none."""
    if isinstance(event, MARKET_TYPES):
        return f"market.{event.exchange}.{event.instrument}"
    if isinstance(event, ACCOUNT_TYPES):
        return f"account.{event.exchange}"
    return f"lifecycle.{event.exchange}" if event.exchange else "lifecycle"


@final
@attrs.frozen
class SubscriberStatistics:
    """One subscriber's counters. ``buffered``/``peak_buffered`` count both budgets (size buffers from it)."""

    name: str
    topic: str
    prefix: bool
    delivered: int
    conflated: int
    dropped: int
    buffered: int
    peak_buffered: int
    lagging: bool
    lag_alerts: int


@final
@attrs.frozen
class BusStatistics:
    """Events published per topic, and every open subscriber's counters in subscription order."""

    published: Mapping[str, int]
    subscribers: tuple[SubscriberStatistics, ...]


@attrs.define(eq=False)
class _MarketSlot:
    """A queued market event; ``event`` is rewritten in place when a newer one conflates into it."""

    seq: int
    key: tuple[str, str, str]
    event: MarketEvent


@final
@attrs.define(eq=False)
class Subscription(trio.abc.ReceiveChannel[Event]):
    """The receive side of one subscriber; close it (``async with``) to unsubscribe.

    Iterating ends (``EndOfChannel``) once the bus is closed and the queue is drained.
    """

    name: str
    topic: str
    prefix: bool
    _bus: Bus = attrs.field(repr=False)
    _market_capacity: int
    _reliable_capacity: int
    _lag_high_water: int
    _seq: itertools.count[int] = attrs.field(init=False, factory=itertools.count, repr=False)
    _market: deque[_MarketSlot] = attrs.field(init=False, factory=deque, repr=False)
    _latest: dict[tuple[str, str, str], _MarketSlot] = attrs.field(init=False, factory=dict, repr=False)
    _reliable: deque[tuple[int, Event]] = attrs.field(init=False, factory=deque, repr=False)
    _readable: trio.lowlevel.ParkingLot = attrs.field(init=False, factory=trio.lowlevel.ParkingLot)
    _writable: trio.lowlevel.ParkingLot = attrs.field(init=False, factory=trio.lowlevel.ParkingLot)
    _closed: bool = attrs.field(init=False, default=False)
    _ended: bool = attrs.field(init=False, default=False)
    _lagging: bool = attrs.field(init=False, default=False)
    _delivered: int = attrs.field(init=False, default=0)
    _conflated: int = attrs.field(init=False, default=0)
    _dropped: int = attrs.field(init=False, default=0)
    _peak: int = attrs.field(init=False, default=0)
    _lag_alerts: int = attrs.field(init=False, default=0)

    def matches(self, topic: str) -> bool:
        """Whether an event on ``topic`` reaches this subscriber."""
        if not self.prefix:
            return topic == self.topic
        return not self.topic or topic == self.topic or topic.startswith(self.topic + ".")

    # -- receiving ---------------------------------------------------------------------------------------

    async def receive(self) -> Event:
        """The oldest queued event; waits for one. ``EndOfChannel`` after the bus closed and we drained."""
        await trio.lowlevel.checkpoint()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("subscription was closed")
            if self._market or self._reliable:
                return self._pop()
            if self._ended:
                raise trio.EndOfChannel
            await self._readable.park()

    def receive_nowait(self) -> Event:
        """Like :meth:`receive` but raises ``trio.WouldBlock`` when nothing is queued."""
        if self._closed:
            raise trio.ClosedResourceError("subscription was closed")
        if self._market or self._reliable:
            return self._pop()
        if self._ended:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    def close(self) -> None:
        """Unsubscribe now: queued events are discarded and blocked publishers move on."""
        if self._closed:
            return
        self._closed = True
        self._market.clear()
        self._latest.clear()
        self._reliable.clear()
        self._bus._forget(self)
        self._readable.unpark_all()
        self._writable.unpark_all()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> SubscriberStatistics:
        return SubscriberStatistics(
            name=self.name,
            topic=self.topic,
            prefix=self.prefix,
            delivered=self._delivered,
            conflated=self._conflated,
            dropped=self._dropped,
            buffered=len(self._market) + len(self._reliable),
            peak_buffered=self._peak,
            lagging=self._lagging,
            lag_alerts=self._lag_alerts,
        )

    def _pop(self) -> Event:
        event: Event
        if self._reliable and (not self._market or self._reliable[0][0] < self._market[0].seq):
            event = self._reliable.popleft()[1]
            if self._writable:  # ParkingLot.unpark costs ~0.5 µs even with nobody parked
                self._writable.unpark()
            if self._lagging and len(self._reliable) <= self._lag_high_water // 2:
                self._lagging = False
        else:
            slot = self._market.popleft()
            if self._latest.get(slot.key) is slot:
                del self._latest[slot.key]
            event = slot.event
        self._delivered += 1
        return event

    # -- called by the bus -------------------------------------------------------------------------------

    def _end(self) -> None:
        self._ended = True
        self._readable.unpark_all()
        self._writable.unpark_all()

    def _offer_market(self, event: MarketEvent) -> None:
        """Queue, conflate or drop; never waits (the publisher is a socket reader)."""
        if self._closed or self._ended:
            return
        key = conflation_key(event)
        if len(self._market) >= self._market_capacity:
            pending = self._latest.get(key)
            if pending is not None:
                pending.event = merge_market(pending.event, event)
                self._conflated += 1
                return
            victim = next((s for s in self._market if isinstance(s.event, Trade)), self._market[0])
            self._market.remove(victim)
            if self._latest.get(victim.key) is victim:
                del self._latest[victim.key]
            self._dropped += 1
        slot = _MarketSlot(next(self._seq), key, event)
        self._market.append(slot)
        self._latest[key] = slot
        self._note_buffered()
        if self._readable:  # skipping an empty unpark saves a fifth of a delivery (bench/run.py runtime)
            self._readable.unpark()

    async def _put_reliable(self, event: Event) -> bool:
        """Queue without dropping, waiting for space; True when this put crossed the high-water mark."""
        while len(self._reliable) >= self._reliable_capacity and not (self._closed or self._ended):
            await self._writable.park()
        if self._closed or self._ended:
            return False
        self._reliable.append((next(self._seq), event))
        self._note_buffered()
        if self._readable:
            self._readable.unpark()
        if not self._lagging and len(self._reliable) >= self._lag_high_water:
            self._lagging = True
            self._lag_alerts += 1
            return True
        return False

    def _note_buffered(self) -> None:
        self._peak = max(self._peak, len(self._market) + len(self._reliable))


@final
@attrs.define
class Bus:
    """Topic pub/sub; the defaults are per-subscriber budgets that :meth:`subscribe` may override."""

    market_capacity: int = 64
    reliable_capacity: int = 10_000
    lag_high_water: int = 1_000
    _subscriptions: list[Subscription] = attrs.field(init=False, factory=list, repr=False)
    _routes: dict[str, tuple[Subscription, ...]] = attrs.field(init=False, factory=dict, repr=False)
    _published: dict[str, int] = attrs.field(init=False, factory=dict, repr=False)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        _check_budgets(self.market_capacity, self.reliable_capacity, self.lag_high_water)

    def subscribe(
        self,
        topic: str,
        *,
        prefix: bool = False,
        name: str = "",
        market_capacity: int | None = None,
        reliable_capacity: int | None = None,
        lag_high_water: int | None = None,
    ) -> Subscription:
        """Subscribe to ``topic`` (or every topic under it with ``prefix=True``); use with ``async with``."""
        if self._closed:
            raise trio.ClosedResourceError("bus is closed")
        budgets = (
            self.market_capacity if market_capacity is None else market_capacity,
            self.reliable_capacity if reliable_capacity is None else reliable_capacity,
            self.lag_high_water if lag_high_water is None else lag_high_water,
        )
        _check_budgets(*budgets)
        sub = Subscription(name or f"subscriber-{len(self._subscriptions)}", topic, prefix, self, *budgets)
        self._subscriptions.append(sub)
        self._routes.clear()
        return sub

    def publish_nowait(self, event: MarketEvent, *, topic: str | None = None) -> None:
        """Publish market data without ever blocking: slow subscribers get it conflated or dropped."""
        if not isinstance(event, MARKET_TYPES):
            raise TypeError(f"publish_nowait takes market data only, got {type(event).__name__}")
        for sub in self._route(topic or topic_for(event)):
            sub._offer_market(event)

    async def publish(self, event: Event, *, topic: str | None = None) -> None:
        """Publish any event, routed by family: market data as :meth:`publish_nowait`, others never dropped.

        Account and lifecycle events wait for room at each subscriber in turn. If the publisher is
        cancelled while waiting, subscribers earlier in the list have the event and later ones do not.
        """
        await trio.lowlevel.checkpoint()
        if isinstance(event, MARKET_TYPES):
            self.publish_nowait(event, topic=topic)
            return
        lagging: list[Subscription] = []
        topic = topic or topic_for(event)
        for sub in self._route(topic):
            if await sub._put_reliable(event):
                lagging.append(sub)
        for sub in lagging:
            alarm = SubscriberLagging(
                exchange="", topic=topic, subscriber=sub.name, buffered=sub.statistics().buffered
            )
            await self.publish(alarm)

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            published=dict(self._published),
            subscribers=tuple(sub.statistics() for sub in self._subscriptions),
        )

    def close(self) -> None:
        """Stop accepting subscriptions; subscribers drain what is queued, then see ``EndOfChannel``."""
        self._closed = True
        for sub in self._subscriptions:
            sub._end()
        self._routes.clear()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def _route(self, topic: str) -> tuple[Subscription, ...]:
        if self._closed:
            raise trio.ClosedResourceError("bus is closed")
        self._published[topic] = self._published.get(topic, 0) + 1
        subs = self._routes.get(topic)
        if subs is None:
            subs = self._routes[topic] = tuple(s for s in self._subscriptions if s.matches(topic))
        return subs

    def _forget(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            self._routes.clear()


def _check_budgets(market_capacity: int, reliable_capacity: int, lag_high_water: int) -> None:
    if market_capacity < 1 or reliable_capacity < 1 or not 1 <= lag_high_water <= reliable_capacity:
        raise ConfigError(
            "bus budgets need market_capacity >= 1, reliable_capacity >= 1 and "
            f"1 <= lag_high_water <= reliable_capacity, got {market_capacity}, {reliable_capacity}, "
            f"{lag_high_water}"
        )
