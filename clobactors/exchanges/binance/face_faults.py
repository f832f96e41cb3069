"""Binance spot's fault vocabulary: its routes, topics, error answers and stream endings, for fault injection.

The shape is :class:`~clobactors.sim.fault_vocab_base.FaultVocabulary`; the exchange-neutral injector
(:mod:`clobactors.sim.fault_injector`) finds this one through :data:`clobactors.sim.fault_vocab.VOCABULARIES`.
It also speaks for the WebSocket API (``/ws-api/v3``,
:class:`~clobactors.sim.ws_request_faults.WsRequestVocabulary`): request faults aimed at ``"WS order.place"``
and the like read the request frame's method, ``id`` and client order id here, and answer with the error frames
web-socket-api.md § Response format documents (``{"id", "status", "error"}``, the REST error body as ``error``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar, Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import urls, wire
from clobactors.exchanges.binance.errors import (
    ERROR_MESSAGES,
    MSG_INSUFFICIENT_BALANCE,
    MSG_IP_BANNED,
    MSG_WEIGHT_LIMIT,
    ErrorCode,
    error_body,
)
from clobactors.exchanges.binance.face_wsapi_orders import WS_API_ROUTE_KEYS
from clobactors.exchanges.binance_common.face_faults import (
    BinanceFaultTopics,
    BinanceWsRequestWords,
    ws_error_frame,
    ws_retry_data,
)
from clobactors.sim.fault_vocab_base import UserStreamEnd, request_params
from clobactors.sim.faults import HTTP_KINDS, FaultRule
from clobactors.sim.http_server import HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink
from clobactors.sim.ws_request_faults import WS_TARGET_PREFIX, is_ws_target

__all__ = ["BINANCE_VOCABULARY", "BinanceFaultVocabulary"]

_params = request_params
#: Path prefixes of Binance's futures protocols, which the spot simulator never serves.
_FOREIGN_PATHS: Final = ("/fapi/", "/dapi/", "/ws-fapi")

_JSON: Final = (("content-type", "application/json;charset=UTF-8"),)
#: Every method the simulator's ``/ws-api/v3`` answers: the session's own (web-socket-api.md § General requests,
#: § User Data Stream requests; ``WsApiSession``) and the REST routes' twins (§ Trading / § Account requests).
WS_API_METHODS: Final = (
    "ping", "time", "session.status", "session.subscriptions", "session.logon", "userDataStream.subscribe",
    "userDataStream.subscribe.signature", "userDataStream.unsubscribe", *WS_API_ROUTE_KEYS,
)  # fmt: skip
#: WebSocket API method -> the param naming the order it is about (as :meth:`order_client_id` reads REST).
_WS_ORDER_PARAM: Final = {
    "order.place": "newClientOrderId",
    "order.cancel": "origClientOrderId",
    "order.status": "origClientOrderId",
    "order.cancelReplace": "cancelOrigClientOrderId",
}


@final
@attrs.frozen
class BinanceFaultVocabulary(BinanceFaultTopics, BinanceWsRequestWords):
    """Binance spot (the face in :mod:`clobactors.exchanges.binance.face`); sources cited per answer."""

    ws_api_methods: ClassVar[tuple[str, ...]] = WS_API_METHODS
    #: The WebSocket API's client order ids as :meth:`order_client_id` reads the REST twins'.
    ws_order_params: ClassVar[Mapping[str, str]] = _WS_ORDER_PARAM
    ws_api_name: ClassVar[str] = "the spot simulator"

    snapshot_route: str = "GET /api/v3/depth"
    order_route: str = "POST /api/v3/order"
    user_stream_target: str = "user:*"
    #: rest-api.md § Cancel an Existing Order and Send a New Order; web-socket-api.md § Cancel and replace order.
    modify_route: str = f"POST {urls.ORDER_CANCEL_REPLACE}"
    ws_order_route: str = f"{WS_TARGET_PREFIX}order.place"
    ws_modify_route: str = f"{WS_TARGET_PREFIX}order.cancelReplace"

    def check_rule(self, rule: FaultRule) -> None:
        """Refuse a rule aimed at a futures route or stream path: it could never fire on spot."""
        target = rule.target
        if is_ws_target(target):
            return  # WebSocket API methods: ws_check_target
        path = target.partition(" ")[2] if rule.kind in HTTP_KINDS and " " in target else target
        if path.startswith(_FOREIGN_PATHS):
            raise ConfigError(
                f"fault rule {rule.kind}: target {target!r} is a Binance futures path the spot simulator does not "
                f"serve (spot routes are /api/v3/..., the WebSocket API /ws-api/v3)"
            )

    def order_client_id(self, request: HttpRequest) -> str | None:
        """Place (``newClientOrderId``), cancel and query (``origClientOrderId``), and cancel-replace
        (``cancelOrigClientOrderId``, the order being replaced: rest-api.md § Cancel an Existing Order and Send a
        New Order).

        A fault on the query of an order of unknown outcome heals when that order's state is known, not at the
        route's next success. So does one on a cancel-replace: the session resolves the replaced order (cancelled,
        or still resting when the cancel failed), which says whether its replacement exists; the replacement's
        ``newClientOrderId`` may name an order that never came to be."""
        if request.path == urls.ORDER_CANCEL_REPLACE and request.method == "POST":
            return _params(request).get("cancelOrigClientOrderId")
        if request.path != urls.ORDER or request.method not in ("POST", "DELETE", "GET"):
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

    # -- the WebSocket API (clobactors.sim.ws_request_faults.WsRequestVocabulary; reading: the mixin) ---------

    def ws_rate_limited(self, request_id: int | str | None, status: int, retry_after: float, now_ms: int) -> str:
        """web-socket-api.md § IP limits: -1003 with ``data`` ``{"serverTime", "retryAfter"}`` (epoch ms), as
        the session itself answers a real 429/418."""
        until, data = ws_retry_data(now_ms, retry_after)
        if status == 418:
            return ws_error_frame(request_id, 418, ErrorCode.TOO_MANY_REQUESTS, MSG_IP_BANNED % until, data)
        return ws_error_frame(request_id, 429, ErrorCode.TOO_MANY_REQUESTS, MSG_WEIGHT_LIMIT % (6000, "1 MINUTE"), data)

    def ws_server_error(self, request_id: int | str | None, status: int) -> str:
        """§ Response format: 5XX, "the execution status is UNKNOWN" (-1001 DISCONNECTED, as over REST)."""
        return ws_error_frame(request_id, status, ErrorCode.DISCONNECTED, ERROR_MESSAGES[ErrorCode.DISCONNECTED])

    def ws_order_rejected(self, request_id: int | str | None) -> str:
        """The documented failed-response example: 400, -2010 "Account has insufficient balance..."."""
        return ws_error_frame(request_id, 400, ErrorCode.NEW_ORDER_REJECTED, MSG_INSUFFICIENT_BALANCE)


BINANCE_VOCABULARY: Final = BinanceFaultVocabulary()
