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

:class:`WsApiOrders` satisfies :class:`~clobactors.exchanges.binance.face_user.SignedMethods`, which is how
the sans-IO :class:`~clobactors.exchanges.binance.face_user.WsApiSession` reaches it without importing the
route table (``face_rest`` imports ``face_user`` through the core, so the dependency points this way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

import attrs

from clobactors.exchanges.binance import urls
from clobactors.exchanges.binance.errors import ErrorCode
from clobactors.exchanges.binance.face_core import FaceCore
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_rest import ROUTES
from clobactors.exchanges.binance.face_user import check_timing
from clobactors.exchanges.binance.signing import format_value, verify_ws_params
from clobactors.exchanges.binance.wire import ParamValue, RateLimitUsage
from clobactors.exchanges.binance_common.face_http import Route, Security
from clobactors.sim.face_protocol import SimCredentials

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
#: Session-level switch (§ How to show/hide rate limit information): read by the session, signed like the rest.
_RETURN_RATE_LIMITS: Final = "returnRateLimits"


def ws_api_methods(
    routes: Mapping[tuple[str, str], Route[FaceCore]] = ROUTES,
    keys: Mapping[str, tuple[str, str]] = WS_API_ROUTE_KEYS,
) -> Mapping[str, Route[FaceCore]]:
    """The method table: each WebSocket API method with the very :class:`Route` REST answers with."""
    return {method: routes[key] for method, key in keys.items()}


WS_API_METHODS: Final = ws_api_methods()


@final
@attrs.frozen
class WsApiOrders:
    """Signed WebSocket API methods dispatched onto REST handlers; see the module docstring. Sans-IO."""

    _core: FaceCore
    _methods: Mapping[str, Route[FaceCore]] = WS_API_METHODS

    def weight(self, method: str, params: Mapping[str, str]) -> int | None:
        """The request weight of ``method`` (its REST route's), or ``None`` when it is not one of these."""
        route = self._methods.get(method)
        return None if route is None else route.weight(params)

    def call(self, method: str, params: Mapping[str, ParamValue], now_ns: int) -> bytes:
        """Authenticate as the route's security type asks, then run its handler; the REST body, or FaceError.

        ``params`` are all the request's params as received (``returnRateLimits`` included: it is signed too).
        The checks run in REST's order: API key (-1102 when absent, -2014/-2015 from the key table),
        ``timestamp`` and ``signature`` present (-1102), the signature (-1022), the timing (-1021/-1131).
        """
        route = self._methods.get(method)
        if route is None:
            raise FaceError(ErrorCode.UNSUPPORTED_OPERATION)
        read = Params((name, format_value(value)) for name, value in params.items())
        read.mark_read(_RETURN_RATE_LIMITS)
        account: SimCredentials | None = None
        if route.security is not Security.NONE:
            account = self._core.accounts.by_key(read.raw("apiKey", required=True))
            if route.security is Security.SIGNED:
                read.integer("timestamp", required=True)
                read.raw("signature", required=True)
                if not verify_ws_params(account.secret, params):
                    raise FaceError(ErrorCode.INVALID_SIGNATURE)
                check_timing(read, now_ns // 1_000_000)
        return route.handler(self._core, account, read, now_ns)

    def order_usage(self, method: str, params: Mapping[str, ParamValue], now_ms: int) -> tuple[RateLimitUsage, ...]:
        """The ORDERS entries of ``rateLimits``: for order routes whose ``apiKey`` names an account, else none."""
        route = self._methods.get(method)
        key = params.get("apiKey")
        if route is None or not route.orders or not isinstance(key, str):
            return ()
        try:
            account = self._core.accounts.by_key(key)
        except FaceError:
            return ()
        return self._core.limits.order_usage(account.account_id, now_ms)
