"""Binance USD-M futures endpoints: base URLs per environment, REST routes, stream names, request weights.

Sources (developers.binance.com/docs/derivatives/usds-margined-futures): § General Info (base URLs, LIMITS,
testnet); § Websocket Market Streams and § Important WebSocket Change Notice (the route split); each
endpoint's **Request Weight**; § User Data Streams Connect.

**Stream routing.** Binance split the fstream host into routed paths: ``/public`` (high-frequency book data:
``@depth``, ``@depth<N>``, ``@bookTicker``), ``/market`` (``@aggTrade``, ``@markPrice``, klines, tickers) and
``/private`` (user data). The notice retired the unrouted ``wss://fstream.binance.com/ws`` and ``/stream`` on
2026-04-23; an unrouted connection receives public-route data only. :class:`StreamRouting` picks the style:

* ``ROUTED`` (live default): ``<ws>/<route>/stream?streams=...``. One connection carries one route, so a
  connection asking for both book (public) and trades or mark price (market) is a ConfigError naming the split;
  group channels by :func:`stream_route` (e.g. one feed BOOK+BBO, another TRADES+MARK).
* ``COMBINED`` (testnet and simulator default): the simple ``<ws>/stream?streams=a/b/c`` carrying every stream,
  as before the split; the testnet docs name no routes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.urls import RouteCost
from clobactors.exchanges.standard import Channel

__all__ = [
    "ALL_OPEN_ORDERS",
    "BALANCE",
    "DEPTH",
    "DEPTH_LIMITS",
    "ENDPOINTS",
    "EXCHANGE_INFO",
    "INCOME",
    "LEVERAGE",
    "LISTEN_KEY",
    "MARGIN_TYPE",
    "MAX_STREAMS_PER_CONNECTION",
    "MAX_WS_MESSAGES_PER_SECOND",
    "OPEN_ORDERS",
    "ORDER",
    "POSITION_RISK",
    "POSITION_RISK_V3",
    "POSITION_SIDE_DUAL",
    "PREMIUM_INDEX",
    "TIME",
    "USER_TRADES",
    "Endpoints",
    "Environment",
    "RouteCost",
    "StreamRoute",
    "StreamRouting",
    "agg_trade_stream",
    "book_ticker_stream",
    "depth_cost",
    "depth_limit_for",
    "depth_stream",
    "mark_price_stream",
    "route_cost",
    "stream_route",
]


class Environment(enum.StrEnum):
    """Which Binance USD-M deployment to talk to."""

    #: Production (fapi.binance.com), real funds.
    LIVE = "live"
    #: Futures testnet (testnet.binancefuture.com), free test funds.
    TESTNET = "testnet"


class StreamRouting(enum.StrEnum):
    """How market and user stream URLs are built (see the module docstring)."""

    #: ``<ws>/<public|market|private>/...``: Binance's current layout; one route per connection.
    ROUTED = "routed"
    #: ``<ws>/stream?streams=`` and ``<ws>/ws/<listenKey>``: one connection for every stream (pre-split).
    COMBINED = "combined"


class StreamRoute(enum.StrEnum):
    """The routed path a stream belongs to (§ Important WebSocket Change Notice › Endpoint & Stream Mapping)."""

    #: High-frequency public data: diff and partial depth, book ticker.
    PUBLIC = "public"
    #: Regular market data: aggregate trades, mark price.
    MARKET = "market"
    #: User data (listen key).
    PRIVATE = "private"


#: Channel → route, from the notice's mapping: ``@depth`` and ``@bookTicker`` are public; ``@aggTrade`` and
#: ``@markPrice`` are market.
_CHANNEL_ROUTES: Final = {
    Channel.BOOK: StreamRoute.PUBLIC,
    Channel.BBO: StreamRoute.PUBLIC,
    Channel.TRADES: StreamRoute.MARKET,
    Channel.MARK: StreamRoute.MARKET,
}


def stream_route(channel: Channel) -> StreamRoute:
    """The route a channel's stream is served on; connections under ROUTED must not mix routes."""
    return _CHANNEL_ROUTES[channel]


#: A connection may carry at most this many streams (§ Websocket Market Streams; was 200 before 2024).
MAX_STREAMS_PER_CONNECTION: Final = 1024
#: Incoming messages (pings, pongs, JSON requests) allowed per second per connection.
MAX_WS_MESSAGES_PER_SECOND: Final = 10


@final
@attrs.frozen
class Endpoints:
    """Base URLs of one deployment: REST, streams (market and user), WebSocket API."""

    #: REST base, e.g. ``https://fapi.binance.com``.
    rest: str
    #: Stream host, e.g. ``wss://fstream.binance.com`` (routes and ``/ws``, ``/stream`` are appended).
    ws: str
    #: WebSocket API URL, e.g. ``wss://ws-fapi.binance.com/ws-fapi/v1`` (order entry, when configured).
    ws_api: str
    routing: StreamRouting = StreamRouting.ROUTED

    @classmethod
    def for_environment(cls, environment: Environment) -> Endpoints:
        return ENDPOINTS[environment]

    def override(
        self,
        *,
        rest: str | None = None,
        ws: str | None = None,
        ws_api: str | None = None,
        routing: StreamRouting | None = None,
    ) -> Endpoints:
        """A copy with some URLs (trailing ``/`` dropped) or the routing replaced, e.g. for the simulator."""
        return Endpoints(
            rest=(rest if rest is not None else self.rest).rstrip("/"),
            ws=(ws if ws is not None else self.ws).rstrip("/"),
            ws_api=(ws_api if ws_api is not None else self.ws_api).rstrip("/"),
            routing=routing if routing is not None else self.routing,
        )

    def _base(self, route: StreamRoute) -> str:
        return f"{self.ws}/{route.value}" if self.routing is StreamRouting.ROUTED else self.ws

    def combined_stream_url(self, streams: Iterable[str], route: StreamRoute = StreamRoute.PUBLIC) -> str:
        """``<ws>[/<route>]/stream?streams=a/b/c`` (events arrive as ``{"stream", "data"}``)."""
        names = list(streams)
        if not names:
            raise ConfigError("a combined stream URL needs at least one stream")
        if len(names) > MAX_STREAMS_PER_CONNECTION:
            raise ConfigError(f"{len(names)} streams exceed {MAX_STREAMS_PER_CONNECTION} per connection")
        return f"{self._base(route)}/stream?streams={'/'.join(names)}"

    def user_stream_url(self, listen_key: str) -> str:
        """``<ws>[/private]/ws/<listenKey>`` (§ User Data Streams Connect)."""
        if not listen_key or any(c in "/?#%" or c.isspace() for c in listen_key):
            raise ConfigError("the user stream needs a non-empty listen key that fits in a URL path")
        return f"{self._base(StreamRoute.PRIVATE)}/ws/{listen_key}"


#: Base URLs per environment (§ General Info; testnet per § General Info › Testnet API Information, whose
#: REST host is also served as ``demo-fapi.binance.com``).
ENDPOINTS: Final = {
    Environment.LIVE: Endpoints(
        rest="https://fapi.binance.com",
        ws="wss://fstream.binance.com",
        ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
        routing=StreamRouting.ROUTED,
    ),
    Environment.TESTNET: Endpoints(
        rest="https://testnet.binancefuture.com",
        ws="wss://fstream.binancefuture.com",
        ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
        routing=StreamRouting.COMBINED,
    ),
}

# -- REST routes ---------------------------------------------------------------------------------------------

TIME: Final = "/fapi/v1/time"
EXCHANGE_INFO: Final = "/fapi/v1/exchangeInfo"
DEPTH: Final = "/fapi/v1/depth"
PREMIUM_INDEX: Final = "/fapi/v1/premiumIndex"
ORDER: Final = "/fapi/v1/order"
ALL_OPEN_ORDERS: Final = "/fapi/v1/allOpenOrders"
OPEN_ORDERS: Final = "/fapi/v1/openOrders"
USER_TRADES: Final = "/fapi/v1/userTrades"
BALANCE: Final = "/fapi/v3/balance"
POSITION_RISK: Final = "/fapi/v2/positionRisk"
POSITION_RISK_V3: Final = "/fapi/v3/positionRisk"
LEVERAGE: Final = "/fapi/v1/leverage"
MARGIN_TYPE: Final = "/fapi/v1/marginType"
POSITION_SIDE_DUAL: Final = "/fapi/v1/positionSide/dual"
INCOME: Final = "/fapi/v1/income"
LISTEN_KEY: Final = "/fapi/v1/listenKey"

# -- stream names (§ Websocket Market Streams; symbols lower case) ------------------------------------------

_DEPTH_SPEEDS_MS: Final = {100: "@100ms", 250: "", 500: "@500ms"}
_MARK_SPEEDS_MS: Final = {1000: "@1s", 3000: ""}


def _stream_symbol(symbol: str) -> str:
    if not symbol or not symbol.isalnum():
        raise ConfigError(f"invalid Binance USD-M symbol {symbol!r} for a stream name")
    return symbol.lower()


def depth_stream(symbol: str, *, speed_ms: int = 100) -> str:
    """``btcusdt@depth@100ms`` (or ``@depth`` at 250 ms, ``@depth@500ms``): § Diff. Book Depth Streams."""
    try:
        suffix = _DEPTH_SPEEDS_MS[speed_ms]
    except KeyError:
        raise ConfigError(f"depth stream speed must be 100, 250 or 500 ms, not {speed_ms}") from None
    return f"{_stream_symbol(symbol)}@depth{suffix}"


def agg_trade_stream(symbol: str) -> str:
    """``btcusdt@aggTrade``: § Aggregate Trade Streams (futures have no raw ``@trade`` stream)."""
    return f"{_stream_symbol(symbol)}@aggTrade"


def book_ticker_stream(symbol: str) -> str:
    """``btcusdt@bookTicker``: § Individual Symbol Book Ticker Streams."""
    return f"{_stream_symbol(symbol)}@bookTicker"


def mark_price_stream(symbol: str, *, speed_ms: int = 1000) -> str:
    """``btcusdt@markPrice@1s`` (or ``@markPrice`` every 3 s): § Mark Price Stream."""
    try:
        suffix = _MARK_SPEEDS_MS[speed_ms]
    except KeyError:
        raise ConfigError(f"mark price stream speed must be 1000 or 3000 ms, not {speed_ms}") from None
    return f"{_stream_symbol(symbol)}@markPrice{suffix}"


# -- request weights -----------------------------------------------------------------------------------------

#: ``(method, path)`` → cost. ``POST /fapi/v1/order`` costs nothing on the IP weight and one on each order
#: pool (§ New Order: "1 on 10s order rate limit; 1 on 1min order rate limit; 0 on IP rate limit"), and so
#: does ``PUT /fapi/v1/order`` (§ Modify Order, same wording).
_FIXED_COSTS: Final = {
    ("GET", TIME): RouteCost(1),
    ("GET", EXCHANGE_INFO): RouteCost(1),
    ("POST", ORDER): RouteCost(0, orders=1),
    ("PUT", ORDER): RouteCost(0, orders=1),
    ("DELETE", ORDER): RouteCost(1),
    ("GET", ORDER): RouteCost(1),
    ("DELETE", ALL_OPEN_ORDERS): RouteCost(1),
    ("GET", USER_TRADES): RouteCost(5),
    ("GET", BALANCE): RouteCost(5),
    ("GET", POSITION_RISK): RouteCost(5),
    ("GET", POSITION_RISK_V3): RouteCost(5),
    ("POST", LEVERAGE): RouteCost(1),
    ("POST", MARGIN_TYPE): RouteCost(1),
    ("POST", POSITION_SIDE_DUAL): RouteCost(1),
    ("GET", INCOME): RouteCost(30),
    ("POST", LISTEN_KEY): RouteCost(1),
    ("PUT", LISTEN_KEY): RouteCost(1),
    ("DELETE", LISTEN_KEY): RouteCost(1),
}

#: Valid ``limit`` values of ``GET /fapi/v1/depth`` and their weights (§ Order Book).
DEPTH_LIMITS: Final = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}


def route_cost(method: str, path: str, *, with_symbol: bool = True) -> RouteCost:
    """Cost of a route; ``openOrders`` and ``premiumIndex`` depend on whether a symbol is sent."""
    method = method.upper()
    if (method, path) == ("GET", OPEN_ORDERS):
        return RouteCost(1 if with_symbol else 40)
    if (method, path) == ("GET", PREMIUM_INDEX):
        return RouteCost(1 if with_symbol else 10)
    try:
        return _FIXED_COSTS[(method, path)]
    except KeyError:
        raise ConfigError(f"no known weight for {method} {path}") from None


def depth_limit_for(depth: int) -> int:
    """The smallest valid depth ``limit`` holding ``depth`` levels (Binance accepts only those values)."""
    for limit in DEPTH_LIMITS:
        if depth <= limit:
            if depth < 1:
                break
            return limit
    raise ConfigError(f"Binance USD-M depth must be within 1..1000, not {depth}")


def depth_cost(limit: int = 500) -> RouteCost:
    """``GET /fapi/v1/depth``: 5/10/20/50 → 2, 100 → 5, 500 → 10, 1000 → 20 (default limit 500)."""
    try:
        return RouteCost(DEPTH_LIMITS[limit])
    except KeyError:
        raise ConfigError(f"invalid Binance USD-M depth limit {limit}; valid: {sorted(DEPTH_LIMITS)}") from None
