"""The book feed's counters and the frozen statistics records it hands out (split from ``book_feed``).

:class:`FeedCounters` is the feed's mutable tally (bumped on the read path, so a plain attrs class with int
fields); :func:`feed_statistics` freezes it, the subscription changes and every book's counters into one
:class:`BookFeedStatistics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import final

import attrs

from clobactors.actors.book_view import InstrumentBook
from clobactors.actors.feed_subscriptions import SubscriptionStatistics

__all__ = ["BookFeedStatistics", "FeedCounters", "InstrumentFeedStatistics", "feed_statistics"]


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
    """Counters of one feed incarnation; ``resyncs`` is per instrument (the instruments carried now)."""

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
    #: Frames of instruments removed at runtime that were still in flight (dropped).
    removed_instrument: int = 0
    subscriptions: SubscriptionStatistics | None = None

    @property
    def resyncs(self) -> Mapping[str, int]:
        return {i.instrument: i.resyncs for i in self.instruments}


@attrs.define
class FeedCounters:
    """The feed's running tally (see the module docstring)."""

    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    events: int = 0
    malformed: int = 0
    acks: int = 0
    errors: int = 0
    unknown: int = 0
    removed: int = 0


def feed_statistics(
    counters: FeedCounters,
    connections: int,
    stale_events: int,
    books: Iterable[InstrumentBook],
    subscriptions: SubscriptionStatistics,
) -> BookFeedStatistics:
    c = counters
    return BookFeedStatistics(
        connections=connections,
        connects=c.connects,
        reconnects=c.reconnects,
        frames=c.frames,
        events=c.events,
        malformed=c.malformed,
        control_acks=c.acks,
        control_errors=c.errors,
        unknown_instrument=c.unknown,
        stale_events=stale_events,
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
            for b in books
        ),
        removed_instrument=c.removed,
        subscriptions=subscriptions,
    )
