"""The fault vocabulary of Binance USD-M futures (the face in :mod:`clobactors.exchanges.binance_usdm.face`).

Sources: developers.binance.com/docs/derivatives/usds-margined-futures, cited per answer. The error codes and
texts are the ones the face itself uses (:mod:`clobactors.exchanges.binance_usdm.errors`), so an injected
answer and a real one decode alike. What differs from spot:

* routes live under ``/fapi`` (§ Market Data › Order Book ``GET /fapi/v1/depth``, § Trade › New Order
  ``POST /fapi/v1/order``, § Trade › Cancel Order ``DELETE /fapi/v1/order``);
* an order refused for want of funds is ``-2019 Margin is insufficient.`` (§ Error Codes › 20xx), not spot's
  ``-2010`` with a balance message;
* the user data stream is a listen-key stream only (§ User Data Streams): it ends with ``listenKeyExpired``
  (§ Event: User Data Stream Expired) and the server closes it;
* the WebSocket API is ``/ws-fapi/v1`` (§ Websocket API General Info), with orders amended in place
  (``order.modify``) and no user-stream subscription. Request faults reach it through ``WS <method>``
  targets naming a method the face answers (:data:`WS_API_METHODS`); its envelope, and so the reading of a
  request and the shape of an error frame, is spot's (:class:`BinanceWsRequestWords`), the codes and texts
  USD-M's (§ Error Codes). Targets on WebSocket API paths (``/ws-api...``, spot's; ``/ws-fapi...``) stay
  refused: request faults go by method, and the connection kinds reach ``/ws-fapi/v1`` through ``*``;
* market topics are ``m:<symbol>@depth@100ms`` (and ``@depth``, ``@depth@500ms``), ``@aggTrade``,
  ``@markPrice[@1s]`` and ``@bookTicker`` (§ Websocket Market Streams); the default frame-fault target
  ``m:*@depth*`` hits the diff-depth streams, the ones a gap matters to (``pu`` chains them).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from typing import ClassVar, Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance_common.face_faults import (
    BinanceFaultTopics,
    BinanceWsRequestWords,
    ws_error_frame,
    ws_retry_data,
)
from clobactors.exchanges.binance_usdm import urls, wire
from clobactors.exchanges.binance_usdm.errors import ERROR_MESSAGES, ErrorCode, error_body
from clobactors.exchanges.binance_usdm.face_wsapi import SESSION_METHODS, WS_API_ROUTE_KEYS
from clobactors.sim.fault_vocab_base import UserStreamEnd, request_params
from clobactors.sim.faults import HTTP_KINDS, FaultRule
from clobactors.sim.http_server import HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink
from clobactors.sim.ws_request_faults import WS_TARGET_PREFIX, is_ws_target

__all__ = [
    "BINANCE_USDM_VOCABULARY",
    "MSG_IP_BANNED",
    "REQUEST_WEIGHT_PER_MINUTE",
    "WS_API_METHODS",
    "BinanceUsdmFaultVocabulary",
]

#: § General Info › LIMITS: the REQUEST_WEIGHT pool of USD-M, per IP and minute.
REQUEST_WEIGHT_PER_MINUTE: Final = 2400
#: § Error Codes › -1003 TOO_MANY_REQUESTS, the ban variant (the face's table keeps the first variant only).
MSG_IP_BANNED: Final = (
    "Way too many requests; IP banned until %s. Please use the websocket for live updates to avoid bans."
)
#: Path prefixes of the spot protocol, which a USD-M simulator never serves.
_FOREIGN_PATHS: Final = ("/api/", "/sapi/", "/ws-api", "/ws-fapi")
#: § General Info: the face answers with plain ``application/json``.
JSON_HEADERS: Final = (("content-type", "application/json"),)
#: Every method the face's ``/ws-fapi/v1`` answers: the session's own and the REST routes' twins.
WS_API_METHODS: Final = (*sorted(SESSION_METHODS), *WS_API_ROUTE_KEYS)
#: WebSocket API method -> the param naming the order it is about (as :meth:`order_client_id` reads REST:
#: § Trade › Websocket API New Order, Modify Order, Cancel Order, Query Order).
_WS_ORDER_PARAM: Final = {
    "order.place": "newClientOrderId",
    "order.modify": "origClientOrderId",
    "order.cancel": "origClientOrderId",
    "order.status": "origClientOrderId",
}


@final
@attrs.frozen
class BinanceUsdmFaultVocabulary(BinanceFaultTopics, BinanceWsRequestWords):
    """Binance USD-M futures; see the module docstring. Every :class:`FaultKind` has a USD-M meaning."""

    ws_api_methods: ClassVar[tuple[str, ...]] = WS_API_METHODS
    ws_order_params: ClassVar[Mapping[str, str]] = _WS_ORDER_PARAM
    ws_api_name: ClassVar[str] = "the USD-M simulator (/ws-fapi/v1)"

    snapshot_route: str = f"GET {urls.DEPTH}"
    order_route: str = f"POST {urls.ORDER}"
    user_stream_target: str = "lk:*"
    #: § Trade › Modify Order: an amendment in place.
    modify_route: str = f"PUT {urls.ORDER}"
    #: § Trade › Websocket API: New Order and Modify Order, the twins of the two routes above.
    ws_order_route: str = f"{WS_TARGET_PREFIX}order.place"
    ws_modify_route: str = f"{WS_TARGET_PREFIX}order.modify"

    def check_rule(self, rule: FaultRule) -> None:
        """Refuse a rule that could never fire here: a target on a spot route or on a WebSocket API path
        (``WS <method>`` targets: :meth:`ws_check_target`)."""
        target = rule.target
        if not target or is_ws_target(target):
            return
        path = target.partition(" ")[2] if rule.kind in HTTP_KINDS and " " in target else target
        for prefix in _FOREIGN_PATHS:
            if path.startswith(prefix):
                what = "WebSocket API path" if "ws-" in prefix else "REST route"
                raise ConfigError(
                    f"fault rule {rule.kind}: target {target!r} is a {what} Binance USD-M does not serve here "
                    f"(USD-M routes are /fapi/..., streams m:<symbol>@..., the user stream lk:<listenKey>, "
                    f"WebSocket API requests 'WS <method>')"
                )

    def order_client_id(self, request: HttpRequest) -> str | None:
        """§ Trade › New Order (``newClientOrderId``), Cancel Order, Modify Order and Query Order
        (``origClientOrderId``).

        A query counts: the USD-M session resolves an order of unknown outcome over REST, so a fault on that
        query heals when the order's state is known (an order probe), not at the route's next success, which
        may never come once the order is resolved another way (its user stream event)."""
        if request.path != urls.ORDER or request.method not in ("POST", "DELETE", "GET", "PUT"):
            return None
        params = request_params(request)
        return params.get("newClientOrderId") if request.method == "POST" else params.get("origClientOrderId")

    def is_signed(self, request: HttpRequest) -> bool:
        return "signature" in request_params(request)

    def rate_limited(self, status: int, retry_after: float, now_ms: int) -> HttpResponse:
        """§ General Info › LIMITS and HTTP Return Codes: 429 (a limit broken) or 418 (auto-banned), both
        -1003 with ``Retry-After`` in seconds."""
        seconds = max(1, math.ceil(retry_after))
        if status == 418:
            body = error_body(ErrorCode.TOO_MANY_REQUESTS, MSG_IP_BANNED % (now_ms + seconds * 1000))
        else:
            body = error_body(
                ErrorCode.TOO_MANY_REQUESTS, ERROR_MESSAGES[ErrorCode.TOO_MANY_REQUESTS] % REQUEST_WEIGHT_PER_MINUTE
            )
        return HttpResponse(status, (*JSON_HEADERS, ("Retry-After", str(seconds))), body)

    def server_error(self, status: int) -> HttpResponse:
        """§ General Info › HTTP Return Codes: 5XX, the execution status is UNKNOWN (-1001 DISCONNECTED)."""
        return HttpResponse(status, JSON_HEADERS, error_body(ErrorCode.DISCONNECTED))

    def order_rejected(self) -> HttpResponse:
        """§ Error Codes › -2019 MARGIN_NOT_SUFFICIENT, "Margin is insufficient."."""
        return HttpResponse(400, JSON_HEADERS, error_body(ErrorCode.MARGIN_NOT_SUFFICIENT))

    def user_stream_end(self, link: WsLink, now_ms: int) -> UserStreamEnd | None:
        """§ User Data Streams › Event: User Data Stream Expired (``listenKeyExpired``), then the server closes
        the connection; a connection without a listen key has no user stream to end."""
        for topic in sorted(link.topics):
            if fnmatch.fnmatchcase(topic, "lk:*"):
                payload = wire.encode(wire.ListenKeyExpired(event_time=now_ms, listen_key=topic[3:]))
                return UserStreamEnd(topic, payload, close=True)
        return None

    # -- the WebSocket API (clobactors.sim.ws_request_faults.WsRequestVocabulary; reading: the mixin) ---------

    def ws_rate_limited(self, request_id: int | str | None, status: int, retry_after: float, now_ms: int) -> str:
        """§ Websocket API General Info (rate limits and the answer to a 429/418): -1003 with ``data``
        ``{"serverTime", "retryAfter"}`` (epoch ms), the REST texts of :meth:`rate_limited`, as the face's
        session itself answers a real 429/418."""
        until, data = ws_retry_data(now_ms, retry_after)
        code = ErrorCode.TOO_MANY_REQUESTS
        if status == 418:
            return ws_error_frame(request_id, 418, code, MSG_IP_BANNED % until, data)
        return ws_error_frame(request_id, 429, code, ERROR_MESSAGES[code] % REQUEST_WEIGHT_PER_MINUTE, data)

    def ws_server_error(self, request_id: int | str | None, status: int) -> str:
        """§ Websocket API General Info › Response format: 5XX, execution status UNKNOWN (-1001 DISCONNECTED,
        as over REST)."""
        return ws_error_frame(request_id, status, ErrorCode.DISCONNECTED, ERROR_MESSAGES[ErrorCode.DISCONNECTED])

    def ws_order_rejected(self, request_id: int | str | None) -> str:
        """§ Error Codes › -2019 MARGIN_NOT_SUFFICIENT, "Margin is insufficient.", as :meth:`order_rejected`."""
        code = ErrorCode.MARGIN_NOT_SUFFICIENT
        return ws_error_frame(request_id, 400, code, ERROR_MESSAGES[code])


BINANCE_USDM_VOCABULARY: Final = BinanceUsdmFaultVocabulary()
