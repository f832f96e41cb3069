"""Binance spot order entry over the WebSocket API (``/ws-api/v3``), translated from the REST requests.

Sources (developers.binance.com, Binance Spot API, WebSocket API):

* § Request format: ``{"id", "method", "params"}``; ``id`` is ours and comes back on the answer.
* § SIGNED request security: ``params`` carry ``apiKey``, ``timestamp``, optional ``recvWindow`` and
  ``signature``, the HMAC-SHA256 of every other param **sorted by name**, ``k=v`` joined by ``&``, values as
  raw UTF-8, not percent-encoded (unlike REST, whose signature covers the query string as sent);
  :func:`~clobactors.exchanges.binance.signing.ws_signature_payload`. The documented vectors are checked in
  ``tests/exchanges/binance/test_wsapi_orders.py``.
* § Trading requests / § Account requests: ``order.place``, ``order.cancel``, ``order.status``,
  ``order.cancelReplace``, ``openOrders.status``, ``openOrders.cancelAll``, ``account.status``,
  ``myTrades`` take the parameters of their REST twins (``POST``/``DELETE``/``GET /api/v3/order``, ...) and
  answer with the REST body as ``result``, at the same request weight.
* § Response format: ``{"id", "status", "result" | "error", "rateLimits"}``; ``status`` is the HTTP status
  REST would have answered, ``error`` the REST error body, and ``rateLimits`` the counters REST reports in
  ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*`` headers (§ Rate limits: REST and WebSocket API share
  them). :func:`decode_answer` rebuilds exactly that REST result, headers included, so the REST decoders,
  error mapping and limiter accounting apply unchanged. A 418/429 ``error.data.retryAfter`` (epoch ms)
  becomes the ``Retry-After`` seconds REST sends.

USD-M's WebSocket API has the same envelope and signing rule, so the translation and the answer decoding live
in :mod:`clobactors.exchanges.binance_common.wsapi_orders`; this module keeps spot's twins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clobactors.exchanges.binance import urls
from clobactors.exchanges.binance.signing import Credentials
from clobactors.exchanges.binance_common.wsapi_orders import decode_answer, translate
from clobactors.httpspec import HttpRequestSpec

__all__ = ["WS_API_METHODS", "decode_answer", "order_entry_frame"]

#: REST route -> the WebSocket API method that does the same (web-socket-api.md § Trading / § Account requests).
WS_API_METHODS: Final[Mapping[tuple[str, str], str]] = {
    ("POST", urls.ORDER): "order.place",
    ("DELETE", urls.ORDER): "order.cancel",
    ("GET", urls.ORDER): "order.status",
    ("POST", urls.ORDER_CANCEL_REPLACE): "order.cancelReplace",
    ("GET", urls.OPEN_ORDERS): "openOrders.status",
    ("DELETE", urls.OPEN_ORDERS): "openOrders.cancelAll",
    ("GET", urls.ACCOUNT): "account.status",
    ("GET", urls.MY_TRADES): "myTrades",
}
#: Parameters the docs type as integers (LONG/INT): sent as JSON numbers, as the docs' examples show.
#: Parameters the docs type as BOOLEAN (``account.status``'s ``omitZeroBalances``): sent as JSON booleans.
_BOOLEAN_PARAMS: Final = frozenset({"omitZeroBalances"})
_INTEGER_PARAMS: Final = frozenset(
    {"timestamp", "recvWindow", "orderId", "cancelOrderId", "fromId", "startTime", "endTime", "limit",
     "strategyId", "strategyType", "trailingDelta", "orderListId"}
)  # fmt: skip


def order_entry_frame(spec: HttpRequestSpec, credentials: Credentials, request_id: int) -> str | None:
    """The ``/ws-api/v3`` request doing what the signed REST ``spec`` does, or ``None`` (no WebSocket twin).

    The REST parameters keep their order and names; the REST signature is dropped, ``apiKey`` added, and the
    WebSocket signature computed over the sorted parameters.
    """
    return translate(
        spec, credentials, request_id, methods=WS_API_METHODS, integer_params=_INTEGER_PARAMS,
        boolean_params=_BOOLEAN_PARAMS,
    )  # fmt: skip
