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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import msgspec

from clobactors.errors import LocalProtocolError, RecoveryHint
from clobactors.exchanges.binance import urls
from clobactors.exchanges.binance import wire as w
from clobactors.exchanges.binance.errors import ws_retry_after
from clobactors.exchanges.binance.signing import Credentials
from clobactors.exchanges.order_entry import OrderEntryAnswer
from clobactors.httpspec import HttpRequestSpec, HttpResult

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
_INTEGER_PARAMS: Final = frozenset(
    {"timestamp", "recvWindow", "orderId", "cancelOrderId", "fromId", "startTime", "endTime", "limit",
     "strategyId", "strategyType", "trailingDelta", "orderListId"}
)  # fmt: skip
_SIGNATURE: Final = "signature"
_API_KEY: Final = "apiKey"
#: ``rateLimits`` interval -> the unit letter of the REST header that reports the same counter.
_UNITS: Final = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}
_HEADER_PREFIX: Final = {"REQUEST_WEIGHT": "x-mbx-used-weight-", "ORDERS": "x-mbx-order-count-"}
_ANSWER: Final = msgspec.json.Decoder(w.WsApiResponse)
_FRAME: Final = msgspec.json.Encoder()


def order_entry_frame(spec: HttpRequestSpec, credentials: Credentials, request_id: int) -> str | None:
    """The ``/ws-api/v3`` request doing what the signed REST ``spec`` does, or ``None`` (no WebSocket twin).

    The REST parameters keep their order and names; the REST signature is dropped, ``apiKey`` added, and the
    WebSocket signature computed over the sorted parameters.
    """
    method = WS_API_METHODS.get((spec.method, spec.path))
    if method is None:
        return None
    pairs = [pair for pair in spec.params if pair[0] != _SIGNATURE]
    pairs.append((_API_KEY, credentials.api_key))
    params: dict[str, w.ParamValue] = dict(pairs)
    if len(params) != len(pairs):
        raise LocalProtocolError(f"{method}: a parameter is given twice; the WebSocket API takes each once")
    # Names are unique, so sorting the pairs sorts by name (ws_signature_payload's rule, without its dict).
    signature = credentials.sign("&".join(map("=".join, sorted(pairs))))
    for name in _INTEGER_PARAMS.intersection(params):
        value = params[name]
        if isinstance(value, str) and value.isdigit():
            params[name] = int(value)
    params[_SIGNATURE] = signature
    return _FRAME.encode({"id": request_id, "method": method, "params": params}).decode()


def decode_answer(message: str | bytes, elapsed: float, now_ms: int) -> OrderEntryAnswer:
    """One ``/ws-api/v3`` answer as the REST result its request would have had (see the module doc).

    Raises :class:`~clobactors.errors.RemoteProtocolError` for a frame that is not an answer.
    """
    data = message.encode() if isinstance(message, str) else message
    answer = w.decode_checked(_ANSWER, data, what="WebSocket API answer", hint=RecoveryHint.DROP)
    headers = [
        (f"{prefix}{limit.interval_num}{unit}", str(limit.count))
        for limit in answer.rate_limits
        if (prefix := _HEADER_PREFIX.get(limit.rate_limit_type)) is not None
        and (unit := _UNITS.get(limit.interval)) is not None
    ]
    error = answer.error
    if error is None:
        body = bytes(answer.result)
    else:
        body = w.encode(error)
        if answer.status in (418, 429):
            retry = ws_retry_after(error, now_ms=now_ms)
            if retry is not None:
                headers.append(("retry-after", str(math.ceil(retry))))
    result = HttpResult(status=answer.status, headers=tuple(headers), body=body, elapsed=elapsed)
    return OrderEntryAnswer(answer.id, result)
