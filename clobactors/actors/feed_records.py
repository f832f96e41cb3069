"""The records of a book feed's subscriptions: what it carries across restarts, and its change counters.

Split from :mod:`clobactors.actors.feed_subscriptions` (which makes the changes and re-exports the public
records) so each module keeps one job.
"""

from __future__ import annotations

from typing import final

import attrs

__all__ = ["FeedRoster", "SubscriptionCounts", "SubscriptionStatistics"]


@final
@attrs.define
class FeedRoster:
    """The instruments a feed carries now, shared with the factory of its next incarnation.

    The feed keeps it current as instruments are added and removed, so a restarted feed starts with them.
    """

    instruments: tuple[str, ...]


@final
@attrs.frozen
class SubscriptionStatistics:
    """Runtime changes of one feed incarnation."""

    added: int
    removed: int
    live_frames: int
    refused: int
    reopens: int
    connections_opened: int
    connections_closed: int


@final
@attrs.define
class SubscriptionCounts:
    """The mutable tally behind :class:`SubscriptionStatistics`, bumped as changes are made."""

    added: int = 0
    removed: int = 0
    frames: int = 0
    refused: int = 0
    reopens: int = 0
    opened: int = 0
    closed: int = 0
