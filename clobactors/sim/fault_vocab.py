"""What fault injection must know of one exchange's protocol: routes, topics, error answers, stream endings.

The injector (:mod:`clobactors.sim.fault_injector`) is exchange-neutral; a :class:`FaultVocabulary` gives it
the exchange's words: which topics are market data and which user data, which route is the book snapshot and
which places orders, the documented bodies of 429/418/5xx answers and order rejections, and the event that
ends a user data stream. One vocabulary per simulator face, registered in :data:`VOCABULARIES`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Protocol, final
from urllib.parse import parse_qsl

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import (
    MSG_INSUFFICIENT_BALANCE,
    MSG_IP_BANNED,
    MSG_WEIGHT_LIMIT,
    ErrorCode,
    error_body,
)
from clobactors.sim.faults import FaultKind
from clobactors.sim.http_server import HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink

__all__ = ["BINANCE_VOCABULARY", "VOCABULARIES", "FaultVocabulary", "UserStreamEnd", "vocabulary_for"]


@final
@attrs.frozen
class UserStreamEnd:
    """How a user stream ends on one connection: ``payload`` framed on ``topic``, then close or silence."""

    topic: str
    payload: bytes
    close: bool


class FaultVocabulary(Protocol):
    """One exchange's protocol facts that fault injection needs (see the module docstring)."""

    def default_target(self, kind: FaultKind) -> str: ...

    def market_symbol(self, topic: str) -> str | None:
        """The exchange symbol a market topic carries, or None for any other topic."""

    def is_user_topic(self, topic: str) -> bool: ...

    def snapshot_symbol(self, request: HttpRequest) -> str | None:
        """The symbol of a book snapshot request, or None for any other request."""

    def order_client_id(self, request: HttpRequest) -> str | None:
        """Our client order id on an order request (place or cancel), or None for any other request."""

    def is_signed(self, request: HttpRequest) -> bool: ...

    def rate_limited(self, status: int, retry_after: float, now_ms: int) -> HttpResponse: ...

    def server_error(self, status: int) -> HttpResponse: ...

    def order_rejected(self) -> HttpResponse: ...

    def user_stream_end(self, link: WsLink, now_ms: int) -> UserStreamEnd | None: ...


def _params(request: HttpRequest) -> dict[str, str]:
    pairs = list(request.params)
    if request.body:
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


_JSON: Final = (("content-type", "application/json;charset=UTF-8"),)


@final
@attrs.frozen
class BinanceFaultVocabulary:
    """Binance spot (the face in :mod:`clobactors.exchanges.binance.face`); sources cited per answer."""

    snapshot_route: str = "GET /api/v3/depth"
    order_route: str = "POST /api/v3/order"

    def default_target(self, kind: FaultKind) -> str:
        match kind:
            case FaultKind.USER_STREAM_END:
                return "user:*"
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
        return _params(request).get("symbol")

    def order_client_id(self, request: HttpRequest) -> str | None:
        if request.path != "/api/v3/order" or request.method not in ("POST", "DELETE"):
            return None
        params = _params(request)
        return params.get("newClientOrderId") if request.method == "POST" else params.get("origClientOrderId")

    def is_signed(self, request: HttpRequest) -> bool:
        return "signature" in _params(request)

    def rate_limited(self, status: int, retry_after: float, now_ms: int) -> HttpResponse:
        """rest-api.md § LIMITS: 429 (weight) or 418 (banned), with ``Retry-After`` in seconds."""
        seconds = max(1, math.ceil(retry_after))
        if status == 418:
            body = error_body(ErrorCode.TOO_MANY_REQUESTS, MSG_IP_BANNED % (now_ms + seconds * 1000))
        else:
            body = error_body(ErrorCode.TOO_MANY_REQUESTS, MSG_WEIGHT_LIMIT % (6000, "1m"))
        return HttpResponse(status, (*_JSON, ("Retry-After", str(seconds))), body)

    def server_error(self, status: int) -> HttpResponse:
        """rest-api.md § HTTP Return Codes: 5XX, execution status unknown (-1001 DISCONNECTED)."""
        return HttpResponse(status, _JSON, error_body(ErrorCode.DISCONNECTED))

    def order_rejected(self) -> HttpResponse:
        """errors.md -2010 NEW_ORDER_REJECTED, "Account has insufficient balance for requested action."."""
        return HttpResponse(400, _JSON, error_body(ErrorCode.NEW_ORDER_REJECTED, MSG_INSUFFICIENT_BALANCE))

    def user_stream_end(self, link: WsLink, now_ms: int) -> UserStreamEnd | None:
        """user-data-stream.md: ``listenKeyExpired`` on a listen-key stream (then closed), or
        ``eventStreamTerminated`` on a WebSocket API subscription (the connection stays, silent)."""
        for topic in sorted(link.topics):
            if topic.startswith("lk:"):
                payload = wire.encode(wire.ListenKeyExpired(event_time=now_ms, listen_key=topic[3:]))
                return UserStreamEnd(topic, payload, close=True)
        for topic in sorted(link.topics):
            if topic.startswith("user:"):
                return UserStreamEnd(topic, wire.encode(wire.EventStreamTerminated(event_time=now_ms)), close=False)
        return None


BINANCE_VOCABULARY: Final = BinanceFaultVocabulary()

#: Simulator face name -> its vocabulary.
VOCABULARIES: Final[dict[str, FaultVocabulary]] = {"binance": BINANCE_VOCABULARY}


def vocabulary_for(exchange: str, vocabularies: Mapping[str, FaultVocabulary] = VOCABULARIES) -> FaultVocabulary:
    try:
        return vocabularies[exchange]
    except KeyError:
        raise ConfigError(
            f"no fault vocabulary for exchange {exchange!r}; known: {', '.join(sorted(vocabularies))}"
        ) from None
