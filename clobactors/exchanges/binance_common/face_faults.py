"""The parts of a fault vocabulary both Binance faces answer the same way: their topics, the depth snapshot, the
default targets and where generated faults aim orders' requests.

Both faces name market topics ``m:<symbol>@<stream>`` and user topics ``user:...`` / ``lk:<listenKey>``, and
take the snapshot's symbol from its ``symbol`` parameter (spot rest-api.md § Order book, USD-M § Order Book).
"""

from __future__ import annotations

from clobactors.sim.fault_vocab_base import request_params
from clobactors.sim.faults import FaultKind
from clobactors.sim.http_server import HttpRequest

__all__ = ["BinanceFaultTopics"]


class BinanceFaultTopics:
    """Mixin for a Binance fault vocabulary with a ``snapshot_route`` (``"GET <depth path>"``), an
    ``order_route`` (``"POST <order path>"``) and a ``user_stream_target`` (the user topics a stream-end fault
    hits by default); owns no state."""

    __slots__ = ()

    snapshot_route: str
    order_route: str
    user_stream_target: str
    #: The REST route a ModifyOrder takes (spot's cancel-replace, USD-M's amendment).
    modify_route: str
    #: WebSocket API twins of the placement and modify routes (``"WS order.place"``); ``""``: no WebSocket API.
    ws_order_route: str
    ws_modify_route: str

    def modify_target(self, over_websocket: bool) -> str | None:
        return (self.ws_modify_route if over_websocket else self.modify_route) or None

    def ws_request_target(self, kind: FaultKind) -> str | None:
        """Lost answers and refusals at placements (as REST's default order route); the route-wide request
        kinds at every WebSocket API request. ``slow_snapshot`` keeps the REST snapshot route."""
        if not self.ws_order_route:
            return None
        match kind:
            case FaultKind.LOST_ACK | FaultKind.REJECT_ORDER:
                return self.ws_order_route
            case (
                FaultKind.HTTP_LATENCY | FaultKind.HTTP_429 | FaultKind.HTTP_418 | FaultKind.HTTP_5XX
                | FaultKind.HTTP_TIMEOUT
            ):  # fmt: skip
                return f"{self.ws_order_route.partition(' ')[0]} *"
            case _:
                return None

    def default_target(self, kind: FaultKind) -> str:
        """What a rule without a target hits: the user stream, the snapshot route, the order route, the
        diff-depth streams (the ones a gap matters to), or everything."""
        match kind:
            case FaultKind.USER_STREAM_END:
                return self.user_stream_target
            case FaultKind.SLOW_SNAPSHOT:
                return self.snapshot_route
            case FaultKind.LOST_ACK | FaultKind.REJECT_ORDER:
                return self.order_route
            case FaultKind.DROP_FRAMES | FaultKind.REORDER_FRAMES | FaultKind.MALFORMED_FRAMES:
                return "m:*@depth*"
            case _:
                return "*"

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
