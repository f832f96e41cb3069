"""The simulator faces' diff-depth windows: engine book changes merged per price until a stream push.

Both venues push a diff depth stream as one event per window covering engine update ids ``U..u`` with
each changed level's latest size (spot web-socket-streams.md § Diff. Depth Stream, 1000 or 100 ms; USD-M
§ Websocket Market Streams › Diff. Book Depth Streams, 250, 500 or 100 ms). Collecting a window is the same
on both; writing it out is not (USD-M adds ``T`` and ``pu``), so each venue's ``face_streams.DepthWindow``
subclasses :class:`DepthChanges` and turns :meth:`DepthChanges.take` into its own ``depthUpdate``.
Sans-IO: event times come in with the events.
"""

from __future__ import annotations

from decimal import Decimal
from typing import final

import attrs

from clobactors.sim.records import BookEvent

__all__ = ["DepthChanges", "DepthDiff"]


@final
@attrs.frozen
class DepthDiff:
    """One window's changes: update ids ``first_id..last_id``, bids best first, asks best first."""

    first_id: int
    last_id: int
    #: Engine time of the window's last change (USD-M writes it as the transaction time ``T``).
    last_ts_ns: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@attrs.define
class DepthChanges:
    """Book changes of one symbol since the last :meth:`take`, merged per price (latest size wins).

    Designed for subclassing: each venue's ``DepthWindow`` adds ``flush`` writing its wire event.
    """

    first_id: int = 0
    last_id: int = 0
    last_ts_ns: int = 0
    bids: dict[Decimal, Decimal] = attrs.field(factory=dict)
    asks: dict[Decimal, Decimal] = attrs.field(factory=dict)

    def add(self, event: BookEvent) -> None:
        if not self.first_id:
            self.first_id = event.first_update_id
        self.last_id = event.last_update_id
        self.last_ts_ns = event.ts_ns
        self.bids.update(event.bids)
        self.asks.update(event.asks)

    def take(self) -> DepthDiff | None:
        """The window's changes, sorted best first, then an empty window; ``None`` if nothing changed."""
        if not self.first_id:
            return None
        diff = DepthDiff(
            first_id=self.first_id,
            last_id=self.last_id,
            last_ts_ns=self.last_ts_ns,
            bids=tuple(sorted(self.bids.items(), reverse=True)),
            asks=tuple(sorted(self.asks.items())),
        )
        self.first_id = self.last_id = 0
        self.bids.clear()
        self.asks.clear()
        return diff
