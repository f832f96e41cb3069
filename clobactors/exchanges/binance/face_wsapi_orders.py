"""Binance face: the WebSocket API's trading and account requests, answered by the REST routes' own handlers.

Sources: Binance spot web-socket-api.md § Trading requests (``order.place``, ``order.status``, ``order.cancel``,
``order.cancelReplace``, ``openOrders.status``, ``openOrders.cancelAll``), § Account requests
(``account.status``, ``myTrades``), § Request format, § Response format, § Rate limits, § SIGNED (TRADE and
USER_DATA) request security and § Timing security. The changelog of 2022-12-15 states the rule this module
rests on: the WebSocket API "provides the same functionality, accepts the same parameters, returns the same
status and error codes" as the REST API, under the same filters and rate limits.

So each method is a REST route of :data:`~clobactors.exchanges.binance.face_rest.ROUTES`, looked up by
``(HTTP method, path)``, and its handler runs unchanged: same validation, same engine calls, same
``executionReport`` events (the core's pending outputs and engine events are drained as after a REST call),
same ORDERS counting (``core.limits.charge_order`` lives in the handlers). What differs is only the envelope:

* the params are the REST params plus ``apiKey`` (instead of the ``X-MBX-APIKEY`` header) and ``signature``;
* the signature is HMAC-SHA256 over *all* params but ``signature``, sorted by name, ``k=v`` joined by ``&``,
  values not percent-encoded (:func:`~clobactors.exchanges.binance.signing.verify_ws_params`);
* the request weight is the REST route's (:attr:`Route.weight`), charged against the IP by the session;
* ``rateLimits`` carries the account's ORDERS usage, then the IP's REQUEST_WEIGHT (the order of the
  documented examples), for the routes that count orders (:attr:`Route.orders`).

:class:`WsApiOrders` (:class:`~clobactors.exchanges.binance_common.face_wsapi.SignedRoutes`, shared with
USD-M) satisfies :class:`~clobactors.exchanges.binance.face_user.SignedMethods`, which is how the sans-IO
:class:`~clobactors.exchanges.binance.face_user.WsApiSession` reaches it without importing the route table
(``face_rest`` imports ``face_user`` through the core, so the dependency points this way). This module keeps
spot's method table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeAlias

from clobactors.exchanges.binance import urls
from clobactors.exchanges.binance.face_core import FaceCore
from clobactors.exchanges.binance.face_rest import ROUTES
from clobactors.exchanges.binance_common.face_http import Route
from clobactors.exchanges.binance_common.face_wsapi import SignedRoutes, route_table

__all__ = ["WS_API_METHODS", "WS_API_ROUTE_KEYS", "WsApiOrders", "ws_api_methods"]

#: WebSocket API method -> the ``(HTTP method, path)`` of the REST route it is (web-socket-api.md § Trading
#: requests and § Account requests name the REST endpoint each one mirrors).
WS_API_ROUTE_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "order.place": ("POST", urls.ORDER),
    "order.status": ("GET", urls.ORDER),
    "order.cancel": ("DELETE", urls.ORDER),
    "order.cancelReplace": ("POST", urls.ORDER_CANCEL_REPLACE),
    "openOrders.status": ("GET", urls.OPEN_ORDERS),
    "openOrders.cancelAll": ("DELETE", urls.OPEN_ORDERS),
    "account.status": ("GET", urls.ACCOUNT),
    "myTrades": ("GET", urls.MY_TRADES),
}

#: Spot's signed methods on its face core: ``WsApiOrders(core, WS_API_METHODS)``.
WsApiOrders: TypeAlias = SignedRoutes[FaceCore]


def ws_api_methods(
    routes: Mapping[tuple[str, str], Route[FaceCore]] = ROUTES,
    keys: Mapping[str, tuple[str, str]] = WS_API_ROUTE_KEYS,
) -> Mapping[str, Route[FaceCore]]:
    """The method table: each WebSocket API method with the very :class:`Route` REST answers with."""
    return route_table(routes, keys)


WS_API_METHODS: Final = ws_api_methods()
