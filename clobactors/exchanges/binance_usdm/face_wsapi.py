"""Binance USD-M face: the WebSocket API (``/ws-fapi/v1``), its order and account methods on the REST handlers.

Sources (developers.binance.com/docs/derivatives/usds-margined-futures): § Websocket API General Info (base
URL, › Request format, › Response format, › WebSocket API Rate limits: "the same as on REST API and are
shared with REST API", "WebSocket handshake attempt costs 5 weight", ``returnRateLimits`` in the connection
string or a request; › Authenticate after connection: ``session.logon`` / ``session.status``, Ed25519 keys
only); § Trade › Websocket API (New Order ``order.place``, Modify Order ``order.modify``, Cancel Order
``order.cancel``, Query Order ``order.status``, Position Information ``account.position`` and V2
``v2/account.position``); § Account › Websocket API (Futures Account Balance ``account.balance`` and V2
``v2/account.balance``, Account Information ``account.status`` and V2 ``v2/account.status``).

Each method is the REST route it mirrors (:data:`WS_API_ROUTE_KEYS`), run by
:class:`~clobactors.exchanges.binance_common.face_wsapi.SignedRoutes` inside spot's
:class:`~clobactors.exchanges.binance.face_user.WsApiSession`: same handlers, validation, errors, engine
events (ORDER_TRADE_UPDATE on the listen-key stream), REST weights and ORDERS counting. The WebSocket API's
V1 methods answer the REST V2 bodies and its V2 methods the REST V3 ones (compare the documented answers:
``account.position`` carries ``leverage`` and ``marginType`` like ``GET /fapi/v2/positionRisk``,
``v2/account.position`` the V3 fields). The session's own methods are ``session.status`` and
``session.logon`` (refused: the simulator's keys are HMAC); USD-M has no ``ping``/``time`` and no
subscription of a user stream on this connection (its user data stays on the listen key). The listen-key
methods (``userDataStream.start``/``ping``/``stop``) and market data requests are not served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clobactors.exchanges.binance.face_user import WsApiSession
from clobactors.exchanges.binance_common.face_http import Route
from clobactors.exchanges.binance_common.face_wsapi import SignedRoutes, route_table
from clobactors.exchanges.binance_usdm import urls
from clobactors.exchanges.binance_usdm.face_core import UsdmCore
from clobactors.exchanges.binance_usdm.face_rest import ACCOUNT_V2, ACCOUNT_V3, BALANCE_V2, ROUTES

__all__ = [
    "SESSION_METHODS",
    "WS_API_CONNECT_WEIGHT",
    "WS_API_METHODS",
    "WS_API_PATH",
    "WS_API_ROUTE_KEYS",
    "open_ws_api",
]

#: § Websocket API General Info: ``wss://ws-fapi.binance.com/ws-fapi/v1``.
WS_API_PATH: Final = "/ws-fapi/v1"
#: › WebSocket API Rate limits: "WebSocket handshake attempt costs 5 weight".
WS_API_CONNECT_WEIGHT: Final = 5
#: The session's own methods (› Authenticate after connection); the rest answer -1020.
SESSION_METHODS: Final = frozenset({"session.status", "session.logon"})
#: WebSocket API method -> the ``(HTTP method, path)`` of the REST route it mirrors (see the module docstring).
WS_API_ROUTE_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "order.place": ("POST", urls.ORDER),
    "order.modify": ("PUT", urls.ORDER),
    "order.cancel": ("DELETE", urls.ORDER),
    "order.status": ("GET", urls.ORDER),
    "account.position": ("GET", urls.POSITION_RISK),
    "v2/account.position": ("GET", urls.POSITION_RISK_V3),
    "account.balance": ("GET", BALANCE_V2),
    "v2/account.balance": ("GET", urls.BALANCE),
    "account.status": ("GET", ACCOUNT_V2),
    "v2/account.status": ("GET", ACCOUNT_V3),
}
WS_API_METHODS: Final[Mapping[str, Route[UsdmCore]]] = route_table(ROUTES, WS_API_ROUTE_KEYS)


def open_ws_api(core: UsdmCore, client_ip: str, *, return_rate_limits: bool, now_ns: int) -> WsApiSession:
    """A ``/ws-fapi/v1`` session, its handshake charged first (FaceError 429/418 when the IP is over)."""
    core.limits.charge_ip(client_ip, WS_API_CONNECT_WEIGHT, now_ns // 1_000_000)
    return WsApiSession(
        accounts=core.accounts,
        limits=core.limits,
        client_ip=client_ip,
        connected_ns=now_ns,
        return_rate_limits=return_rate_limits,
        signed=SignedRoutes(core, WS_API_METHODS),
        session_methods=SESSION_METHODS,
    )
