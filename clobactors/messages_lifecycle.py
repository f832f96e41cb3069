"""Lifecycle messages: the health of feeds, actors and orders (feed connected / synced / stale / down /
removed, actor restarted, supervisor escalated, order outcome unknown, subscriber lagging).

One family of :mod:`clobactors.messages` (the overview, and where to import every name from), in its own
module so each family reads on one screen.
"""

from __future__ import annotations

from typing import TypeAlias, final

from clobactors.messages_base import _Event

__all__ = [
    "ActorRestarted",
    "FeedConnected",
    "FeedDown",
    "FeedRemoved",
    "FeedStale",
    "FeedSynced",
    "LifecycleEvent",
    "OrderOutcomeUnknown",
    "SubscriberLagging",
    "SupervisorEscalatedEvent",
]


class _Lifecycle(_Event, frozen=True, kw_only=True):
    """Base of lifecycle events: the health of feeds, actors and orders."""


@final
class FeedConnected(_Lifecycle, frozen=True, kw_only=True):
    """A feed's connection opened (``feed`` names it, e.g. ``book``, ``user``)."""

    feed: str


@final
class FeedSynced(_Lifecycle, frozen=True, kw_only=True):
    """A book is in sync with the exchange from ``sequence`` on."""

    feed: str
    sequence: int | None = None


@final
class FeedStale(_Lifecycle, frozen=True, kw_only=True):
    """Data for ``instrument`` (all the feed's instruments when empty) may be wrong or old."""

    feed: str
    reason: str


@final
class FeedDown(_Lifecycle, frozen=True, kw_only=True):
    """A feed's connection closed; it will reconnect unless its supervisor gives up."""

    feed: str
    reason: str


@final
class FeedRemoved(_Lifecycle, frozen=True, kw_only=True):
    """``instrument`` was taken off the feed on purpose (not a fault): no more events for it until re-added."""

    feed: str
    reason: str


@final
class ActorRestarted(_Lifecycle, frozen=True, kw_only=True):
    """A supervisor restarted a child after ``delay`` seconds of backoff."""

    supervisor: str
    actor: str
    restart_count: int
    delay: float
    error: str


@final
class SupervisorEscalatedEvent(_Lifecycle, frozen=True, kw_only=True, tag="supervisorescalated"):
    """A supervisor exceeded its restart intensity and stopped its children."""

    supervisor: str
    restarts: int
    window: float
    error: str


@final
class OrderOutcomeUnknown(_Lifecycle, frozen=True, kw_only=True):
    """A request about an order got no definite answer; the order manager is asking the exchange."""

    client_order_id: str
    reason: str


@final
class SubscriberLagging(_Lifecycle, frozen=True, kw_only=True):
    """A subscriber's never-drop queue passed its high-water mark."""

    topic: str
    subscriber: str
    buffered: int


LifecycleEvent: TypeAlias = (
    FeedConnected
    | FeedSynced
    | FeedStale
    | FeedDown
    | FeedRemoved
    | ActorRestarted
    | SupervisorEscalatedEvent
    | OrderOutcomeUnknown
    | SubscriberLagging
)
