"""The simulator faces' WebSocket API trading and account methods, answered by the REST routes' own handlers.

The same on Binance spot and USD-M: both document that the WebSocket API takes the REST endpoints'
parameters and answers with their bodies, status and error codes, under the same request weights and shared
rate limits (spot web-socket-api.md § Request format, § Response format, § Rate limits and the changelog of
2022-12-15; USD-M § Websocket API General Info › Request format, › Response format, › WebSocket API Rate
limits). So a method is a REST :class:`~.face_http.Route` looked up by name, and its handler runs unchanged:
same validation, same engine calls, same user-stream events, same ORDERS counting. Only the envelope differs:

* the params are the REST params plus ``apiKey`` (instead of the ``X-MBX-APIKEY`` header) and ``signature``;
* the signature is HMAC-SHA256 over *all* params but ``signature``, sorted by name, ``k=v`` joined by ``&``,
  values not percent-encoded (:func:`~clobactors.exchanges.binance.signing.verify_ws_params`);
* the request weight is the REST route's (:attr:`Route.weight`), charged against the IP by the session;
* ``rateLimits`` carries the account's ORDERS usage, then the IP's REQUEST_WEIGHT, for order routes.

:class:`SignedRoutes` satisfies :class:`~clobactors.exchanges.binance.face_user.SignedMethods`, through which
the sans-IO :class:`~clobactors.exchanges.binance.face_user.WsApiSession` reaches it. Each venue passes its
method table (:func:`route_table` over its REST routes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Generic, final

import attrs

from clobactors.exchanges.binance.errors import ErrorCode
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_user import check_timing
from clobactors.exchanges.binance.signing import format_value, verify_ws_params
from clobactors.exchanges.binance.wire import ParamValue, RateLimitUsage
from clobactors.exchanges.binance_common.face_http import CoreT, Route, Security
from clobactors.sim.face_protocol import SimCredentials

__all__ = ["SignedRoutes", "route_table"]

#: Session-level switch (spot § How to show/hide rate limit information; USD-M › WebSocket API Rate limits):
#: read by the session, signed like the rest.
_RETURN_RATE_LIMITS: Final = "returnRateLimits"


def route_table(
    routes: Mapping[tuple[str, str], Route[CoreT]], keys: Mapping[str, tuple[str, str]]
) -> Mapping[str, Route[CoreT]]:
    """The method table: each WebSocket API method with the very :class:`Route` REST answers with."""
    return {method: routes[key] for method, key in keys.items()}


@final
@attrs.frozen
class SignedRoutes(Generic[CoreT]):
    """Signed WebSocket API methods dispatched onto REST handlers; see the module docstring. Sans-IO."""

    _core: CoreT
    _methods: Mapping[str, Route[CoreT]]

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
