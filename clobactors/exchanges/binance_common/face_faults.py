"""The parts of a fault vocabulary both Binance faces answer the same way: their topics and the depth snapshot.

Both faces name market topics ``m:<symbol>@<stream>`` and user topics ``user:...`` / ``lk:<listenKey>``, and
take the snapshot's symbol from its ``symbol`` parameter (spot rest-api.md § Order book, USD-M § Order Book).
"""

from __future__ import annotations

from clobactors.sim.fault_vocab_base import request_params
from clobactors.sim.http_server import HttpRequest

__all__ = ["BinanceFaultTopics"]


class BinanceFaultTopics:
    """Mixin for a Binance fault vocabulary with a ``snapshot_route`` (``"GET <depth path>"``); owns no state."""

    __slots__ = ()

    snapshot_route: str

    def market_symbol(self, topic: str) -> str | None:
        if not topic.startswith("m:"):
            return None
        return topic[2:].partition("@")[0].upper() or None

    def is_user_topic(self, topic: str) -> bool:
        return topic.startswith(("user:", "lk:"))

    def snapshot_symbol(self, request: HttpRequest) -> str | None:
        if f"{request.method} {request.path}" != self.snapshot_route:
            return None
        return request_params(request).get("symbol")
