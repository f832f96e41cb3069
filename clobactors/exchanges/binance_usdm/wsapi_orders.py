"""Binance USD-M order entry over the WebSocket API (``/ws-fapi/v1``), translated from the REST requests.

Sources (developers.binance.com/docs/derivatives/usds-margined-futures):

* § Websocket API General Info: base ``wss://ws-fapi.binance.com/ws-fapi/v1`` (testnet
  ``wss://testnet.binancefuture.com/ws-fapi/v1``); › WebSocket API Request format (``{"id", "method",
  "params"}``, ``id`` echoed back), › Response format (``{"id", "status", "result" | "error",
  "rateLimits"}``), › WebSocket API Rate limits ("the same as on REST API and are shared with REST API"),
  and the signing rule: HMAC-SHA256 over all params but ``signature`` sorted by name, ``INT`` params as JSON
  integers, ``DECIMAL`` ones as strings. Spot documents the same envelope and rule, so the translation and
  the decoding are :mod:`clobactors.exchanges.binance_common.wsapi_orders`; this module holds USD-M's twins.
* § Trade › Websocket API: New Order ``order.place``, Modify Order ``order.modify``, Cancel Order
  ``order.cancel``, Query Order ``order.status``: the parameters of ``POST``/``PUT``/``DELETE``/``GET
  /fapi/v1/order``, answered with the REST body as ``result``, at the REST weights (``order.place`` and
  ``order.modify``: one on each ORDERS window).
* § Trade › Websocket API › Position Information ``account.position``: the body of ``GET
  /fapi/v2/positionRisk`` (leverage and margin type included), weight 5. (``v2/account.position``, § Position
  Information V2, answers ``GET /fapi/v3/positionRisk``'s body instead, without leverage and margin type;
  the dialect asks V2, so its twin is ``account.position``.)
* § Account › Websocket API › Futures Account Balance V2 ``v2/account.balance``: the twin of ``GET
  /fapi/v3/balance`` (the WebSocket API's V2 methods are the REST V3 endpoints: ``v2/account.status`` and
  ``v2/account.position`` answer the V3 bodies), weight 5.

Everything else the dialect sends (open orders, cancel-all, ``userTrades``, ``income``, leverage, margin
type, position mode, listen keys, market data) has no documented WebSocket twin: :func:`order_entry_frame`
answers ``None`` and it stays on REST. Answers decode into the REST result (status, usage headers, body), so
:mod:`.errors` maps a WebSocket refusal exactly as the REST one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clobactors.exchanges.binance_common.wsapi_orders import decode_answer, translate
from clobactors.exchanges.binance_usdm import urls
from clobactors.exchanges.binance_usdm.signing import Credentials
from clobactors.httpspec import HttpRequestSpec

__all__ = ["WS_API_METHODS", "decode_answer", "order_entry_frame"]

#: REST route -> the WebSocket API method that does the same (see the module docstring for the sections).
WS_API_METHODS: Final[Mapping[tuple[str, str], str]] = {
    ("POST", urls.ORDER): "order.place",
    ("PUT", urls.ORDER): "order.modify",
    ("DELETE", urls.ORDER): "order.cancel",
    ("GET", urls.ORDER): "order.status",
    ("GET", urls.POSITION_RISK): "account.position",
    ("GET", urls.BALANCE): "v2/account.balance",
}
#: Parameters the twins' docs type as LONG: sent as JSON integers (General Info: "INT parameters such as
#: timestamp are expected as JSON integers, not strings").
_INTEGER_PARAMS: Final = frozenset({"timestamp", "recvWindow", "orderId"})


def order_entry_frame(spec: HttpRequestSpec, credentials: Credentials, request_id: int) -> str | None:
    """The ``/ws-fapi/v1`` request doing what the signed REST ``spec`` does, or ``None`` (no WebSocket twin).

    The REST parameters keep their order and names (``reduceOnly`` stays the string ``"true"``, as the docs
    type it STRING); the REST signature is dropped, ``apiKey`` added, and the WebSocket signature computed
    over the sorted parameters.
    """
    return translate(spec, credentials, request_id, methods=WS_API_METHODS, integer_params=_INTEGER_PARAMS)
