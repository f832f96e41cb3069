"""The shape of a fault vocabulary: what fault injection must know of one exchange's protocol.

The injector (:mod:`clobactors.sim.fault_injector`) is exchange-neutral; a :class:`FaultVocabulary` gives it
the exchange's words: which topics are market data and which user data, which route is the book snapshot and
which places orders, the documented bodies of 429/418/5xx answers and order rejections, the event that ends a
user data stream, and which rules can never mean anything on this exchange (refused up front with a
:class:`~clobactors.errors.ConfigError` rather than silently never firing). The vocabularies themselves live
in :mod:`clobactors.sim.fault_vocab` (Binance spot, and the registry) and one module per further face.
"""

from __future__ import annotations

from typing import Final, Protocol, final
from urllib.parse import parse_qsl

import attrs

from clobactors.sim.faults import FaultKind, FaultRule
from clobactors.sim.http_server import HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink

__all__ = ["WS_TARGET_PREFIX", "FaultVocabulary", "UserStreamEnd", "request_params"]

#: Request targets and routes starting with this name WebSocket API methods (``"WS order.place"``), as
#: ``"POST /api/v3/order"`` names a REST route (:mod:`clobactors.sim.ws_request_faults`).
WS_TARGET_PREFIX: Final = "WS "


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

    def modify_target(self, over_websocket: bool) -> str | None:
        """The target naming the request a ModifyOrder sends (a REST route, or its WebSocket API twin when
        ``over_websocket``); ``None`` when the face has none."""
        ...

    def ws_request_target(self, kind: FaultKind) -> str | None:
        """Where a generated request fault of ``kind`` aims when orders go over the WebSocket API; ``None``
        when it keeps its REST target (a kind that is not a request's, or a face without a WebSocket API)."""
        ...

    def check_rule(self, rule: FaultRule) -> None:
        """Raise ConfigError, naming why, for a rule that has no meaning on this exchange."""

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


def request_params(request: HttpRequest) -> dict[str, str]:
    """Query and form-body parameters; the query wins when both carry one (as Binance reads them)."""
    pairs = list(request.params)
    if request.body:
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out
