"""The records a client WebSocket hands out: a received message with its stamps, and the connection's counters."""

from __future__ import annotations

from typing import final

import attrs

__all__ = ["WsFrame", "WsStatistics"]


@final
@attrs.frozen
class WsFrame:
    """One message with its receive times: wall clock (for events) and Trio clock (for latency, staleness)."""

    data: str | bytes
    received_ns: int
    received_at: float


@final
@attrs.frozen
class WsStatistics:
    """Counters and buffer use. ``peak_buffer_used`` sizes ``message_queue_size`` from measurement.

    ``bytes_received`` counts message lengths (characters for text messages). ``keeper_reads`` counts reads
    made while the consumer was away (each one a frame that waited for the consumer).
    """

    frames_received: int
    bytes_received: int
    frames_sent: int
    pings_sent: int
    pongs_received: int
    current_buffer_used: int
    peak_buffer_used: int
    max_buffer_size: int
    keeper_reads: int
    failure: str | None
