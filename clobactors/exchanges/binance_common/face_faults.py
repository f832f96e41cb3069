"""The parts of a fault vocabulary both Binance faces answer the same way: their topics, the depth snapshot, the
default targets and where generated faults aim orders' requests, and the envelope of their WebSocket APIs.

Both faces name market topics ``m:<symbol>@<stream>`` and user topics ``user:...`` / ``lk:<listenKey>``, and
take the snapshot's symbol from its ``symbol`` parameter (spot rest-api.md § Order book, USD-M § Order Book).
Their WebSocket APIs (spot ``/ws-api/v3``, USD-M ``/ws-fapi/v1``) share the request and answer envelope and
the 429/418 ``retryAfter`` data, so reading a request and building an error frame live here
(:class:`BinanceWsRequestWords`, :func:`ws_error_frame`); the codes and texts are each venue's.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import msgspec

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import wire
from clobactors.sim.fault_vocab_base import WS_TARGET_PREFIX, request_params
from clobactors.sim.faults import FaultKind
from clobactors.sim.http_server import HttpRequest
from clobactors.sim.ws_request_faults import WsRequest

__all__ = ["BinanceFaultTopics", "BinanceWsRequestWords", "ws_error_frame", "ws_retry_data"]

_WS_REQUEST: Final = msgspec.json.Decoder(wire.WsApiRequest)
_WS_ANSWER: Final = msgspec.json.Decoder(wire.WsApiResponse)


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


def ws_error_frame(request_id: int | str | None, status: int, code: int, msg: str, data: bytes = b"") -> str:
    """A failed WebSocket API answer, ``{"id", "status", "error": {code, msg[, data]}}``: spot web-socket-api.md
    § Response format; USD-M § Websocket API General Info › Response format documents the same envelope (its
    face answers with spot's :class:`~clobactors.exchanges.binance.face_user.WsApiSession`)."""
    body = wire.ErrorBody(code=code, msg=msg, data=msgspec.Raw(data) if data else wire.NULL)
    return wire.encode(wire.WsApiResponse(id=request_id, status=status, error=body)).decode()


def ws_retry_data(now_ms: int, retry_after: float) -> tuple[int, bytes]:
    """When a 429/418 may retry (epoch ms, whole seconds from ``now_ms``) and the ``data`` saying so,
    ``{"serverTime", "retryAfter"}``, as both faces' sessions answer a real 429/418 (spot web-socket-api.md
    § IP limits; USD-M § Websocket API General Info)."""
    until = now_ms + max(1, math.ceil(retry_after)) * 1000
    return until, msgspec.json.encode({"serverTime": now_ms, "retryAfter": until})


class BinanceWsRequestWords:
    """Mixin: the :class:`~clobactors.sim.ws_request_faults.WsRequestVocabulary` words both Binance WebSocket
    APIs say alike (the request and answer envelopes); the error answers, which cite each venue's codes and
    texts, stay with each vocabulary. A subclass names ``ws_api_methods`` (every method its face answers),
    ``ws_order_params`` (method -> the param naming the order it is about) and ``ws_api_name`` (for errors)."""

    __slots__ = ()

    ws_api_methods: ClassVar[tuple[str, ...]]
    ws_order_params: ClassVar[Mapping[str, str]]
    ws_api_name: ClassVar[str]

    def ws_check_target(self, target: str) -> None:
        """Refuse a ``WS`` target that names no method the face's WebSocket API answers (a typo would
        otherwise never fire)."""
        pattern = target.removeprefix(WS_TARGET_PREFIX)
        if not any(fnmatch.fnmatchcase(method, pattern) for method in self.ws_api_methods):
            raise ConfigError(
                f"fault target {target!r} names no WebSocket API method of {self.ws_api_name}; known: "
                f"{', '.join(self.ws_api_methods)}"
            )

    def ws_request(self, message: str | bytes) -> WsRequest | None:
        """§ Request format ``{"id", "method", "params"}`` (``v3/`` dropped as the face drops it); the client
        order id as the REST twin's params carry it. None for a frame that is no request."""
        try:
            request = _WS_REQUEST.decode(message)
        except msgspec.DecodeError:
            return None
        method = request.method.removeprefix("v3/")
        params = request.params or {}
        name = self.ws_order_params.get(method)
        cid = params.get(name) if name is not None else None
        return WsRequest(method, request.id, cid if isinstance(cid, str) else None, "signature" in params)

    def ws_succeeded(self, messages: Sequence[str | bytes]) -> bool:
        """The answer (the last frame; events go first) has a 2xx ``status``."""
        if not messages:
            return False
        try:
            return 200 <= _WS_ANSWER.decode(messages[-1]).status < 300
        except msgspec.DecodeError:
            return False
