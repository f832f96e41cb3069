"""Binance spot's fault vocabulary: its routes, topics, error answers and stream endings, for fault injection.

The shape is :class:`~clobactors.sim.fault_vocab_base.FaultVocabulary`; the exchange-neutral injector
(:mod:`clobactors.sim.fault_injector`) finds this one through :data:`clobactors.sim.fault_vocab.VOCABULARIES`.
"""

from __future__ import annotations

import math
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import urls, wire
from clobactors.exchanges.binance.errors import (
    MSG_INSUFFICIENT_BALANCE,
    MSG_IP_BANNED,
    MSG_WEIGHT_LIMIT,
    ErrorCode,
    error_body,
)
from clobactors.exchanges.binance_common.face_faults import BinanceFaultTopics
from clobactors.sim.fault_vocab_base import UserStreamEnd, request_params
from clobactors.sim.faults import HTTP_KINDS, FaultRule
from clobactors.sim.http_server import HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink

__all__ = ["BINANCE_VOCABULARY", "BinanceFaultVocabulary"]

_params = request_params
#: Path prefixes of Binance's futures protocols, which the spot simulator never serves.
_FOREIGN_PATHS: Final = ("/fapi/", "/dapi/", "/ws-fapi")

_JSON: Final = (("content-type", "application/json;charset=UTF-8"),)


@final
@attrs.frozen
class BinanceFaultVocabulary(BinanceFaultTopics):
    """Binance spot (the face in :mod:`clobactors.exchanges.binance.face`); sources cited per answer."""

    snapshot_route: str = "GET /api/v3/depth"
    order_route: str = "POST /api/v3/order"
    user_stream_target: str = "user:*"

    def check_rule(self, rule: FaultRule) -> None:
        """Refuse a rule aimed at a futures route or stream path: it could never fire on spot."""
        target = rule.target
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


BINANCE_VOCABULARY: Final = BinanceFaultVocabulary()
