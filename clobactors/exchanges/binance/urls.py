"""Binance spot endpoints: base URLs per environment, REST routes, stream names and request weights.

Sources: Binance spot API, rest-api.md § General API Information and each endpoint's **Weight**;
web-socket-streams.md § General WSS information and § Websocket Limits; web-socket-api.md § General API
information; faqs/testnet.md. Weights change from time to time (the 2023-08 and 2024-04 revisions raised
many); the values here follow the current docs, and ``GET /api/v3/exchangeInfo`` ``rateLimits`` gives the pool
sizes they are charged against.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final, final

import attrs

from clobactors.errors import ConfigError

__all__ = [
    "ACCOUNT",
    "AGG_TRADES",
    "AVG_PRICE",
    "ENDPOINTS",
    "EXCHANGE_INFO",
    "MAX_STREAMS_PER_CONNECTION",
    "MAX_WS_MESSAGES_PER_SECOND",
    "MY_TRADES",
    "OPEN_ORDERS",
    "ORDER",
    "ORDER_CANCEL_REPLACE",
    "ORDER_TEST",
    "PING",
    "TICKER_24HR",
    "TICKER_BOOK",
    "TICKER_PRICE",
    "TIME",
    "TRADES",
    "USER_DATA_STREAM",
    "WS_API_CONNECT_WEIGHT",
    "Endpoints",
    "Environment",
    "RouteCost",
    "agg_trade_stream",
    "book_ticker_stream",
    "book_ticker_cost",
    "depth_cost",
    "depth_stream",
    "open_orders_cost",
    "partial_depth_stream",
    "route_cost",
    "ticker_24hr_cost",
    "trade_stream",
]


class Environment(enum.StrEnum):
    """Which Binance deployment to talk to."""

    #: Production, real funds.
    LIVE = "live"
    #: Spot test network (https://testnet.binance.vision), free test funds.
    TESTNET = "testnet"


@final
@attrs.frozen
class Endpoints:
    """Base URLs of one Binance deployment: REST, market streams, WebSocket API.

    The simulator serves all three on loopback and swaps them in with :meth:`override`.
    """

    #: REST base, e.g. ``https://api.binance.com``.
    rest: str
    #: Market/user streams base, e.g. ``wss://stream.binance.com:9443`` (``/ws/...``, ``/stream?...``).
    ws: str
    #: WebSocket API URL, e.g. ``wss://ws-api.binance.com:443/ws-api/v3``.
    ws_api: str

    @classmethod
    def for_environment(cls, environment: Environment) -> Endpoints:
        return ENDPOINTS[environment]

    def override(
        self, *, rest: str | None = None, ws: str | None = None, ws_api: str | None = None
    ) -> Endpoints:
        """A copy with some URLs replaced (trailing ``/`` dropped), e.g. to point at the simulator."""
        return Endpoints(
            rest=(rest if rest is not None else self.rest).rstrip("/"),
            ws=(ws if ws is not None else self.ws).rstrip("/"),
            ws_api=(ws_api if ws_api is not None else self.ws_api).rstrip("/"),
        )

    def rest_url(self, path: str) -> str:
        return f"{self.rest}{path}"

    def raw_stream_url(self, stream: str) -> str:
        """One raw stream: ``<ws>/ws/<streamName>`` (events arrive unwrapped)."""
        return f"{self.ws}/ws/{stream}"

    def combined_stream_url(self, streams: Iterable[str]) -> str:
        """Combined streams: ``<ws>/stream?streams=a/b/c`` (events arrive as ``{"stream", "data"}``)."""
        names = list(streams)
        if not names:
            raise ConfigError("a combined stream URL needs at least one stream")
        if len(names) > MAX_STREAMS_PER_CONNECTION:
            raise ConfigError(f"{len(names)} streams exceed {MAX_STREAMS_PER_CONNECTION} per connection")
        return f"{self.ws}/stream?streams={'/'.join(names)}"


#: Base URLs per environment (rest-api.md § General API Information; faqs/testnet.md).
ENDPOINTS: Final = {
    Environment.LIVE: Endpoints(
        rest="https://api.binance.com",
        ws="wss://stream.binance.com:9443",
        ws_api="wss://ws-api.binance.com:443/ws-api/v3",
    ),
    Environment.TESTNET: Endpoints(
        rest="https://testnet.binance.vision",
        ws="wss://stream.testnet.binance.vision",
        ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
    ),
}

# -- REST routes ---------------------------------------------------------------------------------------------

PING: Final = "/api/v3/ping"
TIME: Final = "/api/v3/time"
EXCHANGE_INFO: Final = "/api/v3/exchangeInfo"
DEPTH: Final = "/api/v3/depth"
TRADES: Final = "/api/v3/trades"
AGG_TRADES: Final = "/api/v3/aggTrades"
AVG_PRICE: Final = "/api/v3/avgPrice"
TICKER_24HR: Final = "/api/v3/ticker/24hr"
TICKER_PRICE: Final = "/api/v3/ticker/price"
TICKER_BOOK: Final = "/api/v3/ticker/bookTicker"
ORDER: Final = "/api/v3/order"
ORDER_TEST: Final = "/api/v3/order/test"
ORDER_CANCEL_REPLACE: Final = "/api/v3/order/cancelReplace"
OPEN_ORDERS: Final = "/api/v3/openOrders"
ACCOUNT: Final = "/api/v3/account"
MY_TRADES: Final = "/api/v3/myTrades"
USER_DATA_STREAM: Final = "/api/v3/userDataStream"

# -- stream names (web-socket-streams.md; symbols are lower case) ------------------------------------------

#: A connection may subscribe to at most this many streams (§ Websocket Limits).
MAX_STREAMS_PER_CONNECTION: Final = 1024
#: Incoming messages (pings, pongs, JSON control frames) allowed per second per connection.
MAX_WS_MESSAGES_PER_SECOND: Final = 5
#: Request weight charged for opening a WebSocket API connection (web-socket-api.md § IP limits).
WS_API_CONNECT_WEIGHT: Final = 2

_SPEEDS_MS: Final = frozenset({100, 1000})
_PARTIAL_LEVELS: Final = frozenset({5, 10, 20})


def _stream_symbol(symbol: str) -> str:
    if not symbol or not symbol.isalnum():
        raise ConfigError(f"invalid Binance symbol {symbol!r} for a stream name")
    return symbol.lower()


def _speed_suffix(speed_ms: int) -> str:
    if speed_ms not in _SPEEDS_MS:
        raise ConfigError(f"depth stream speed must be 100 or 1000 ms, not {speed_ms}")
    return "@100ms" if speed_ms == 100 else ""


def depth_stream(symbol: str, *, speed_ms: int = 100) -> str:
    """Diff. depth: ``btcusdt@depth@100ms`` (or ``btcusdt@depth`` at 1000 ms), § Diff. Depth Stream."""
    return f"{_stream_symbol(symbol)}@depth{_speed_suffix(speed_ms)}"


def partial_depth_stream(symbol: str, levels: int, *, speed_ms: int = 100) -> str:
    """Top-N book: ``btcusdt@depth5@100ms``; levels 5, 10 or 20 (§ Partial Book Depth Streams)."""
    if levels not in _PARTIAL_LEVELS:
        raise ConfigError(f"partial depth levels must be 5, 10 or 20, not {levels}")
    return f"{_stream_symbol(symbol)}@depth{levels}{_speed_suffix(speed_ms)}"


def trade_stream(symbol: str) -> str:
    """``btcusdt@trade`` (§ Trade Streams)."""
    return f"{_stream_symbol(symbol)}@trade"


def agg_trade_stream(symbol: str) -> str:
    """``btcusdt@aggTrade`` (§ Aggregate Trade Streams)."""
    return f"{_stream_symbol(symbol)}@aggTrade"


def book_ticker_stream(symbol: str) -> str:
    """``btcusdt@bookTicker`` (§ Individual Symbol Book Ticker Streams)."""
    return f"{_stream_symbol(symbol)}@bookTicker"


# -- request weights -----------------------------------------------------------------------------------------


@final
@attrs.frozen
class RouteCost:
    """What one request costs: ``weight`` against the per-IP REQUEST_WEIGHT pool, ``orders`` against the
    per-account ORDERS pool (rest-api.md § LIMITS)."""

    weight: int
    orders: int = 0


#: Fixed costs by ``(method, path)``; routes whose weight depends on parameters have functions below.
_FIXED_COSTS: Final = {
    ("GET", PING): RouteCost(1),
    ("GET", TIME): RouteCost(1),
    ("GET", EXCHANGE_INFO): RouteCost(20),
    ("GET", TRADES): RouteCost(25),
    ("GET", AGG_TRADES): RouteCost(4),
    ("GET", AVG_PRICE): RouteCost(2),
    ("POST", ORDER): RouteCost(1, orders=1),
    ("POST", ORDER_TEST): RouteCost(1),
    ("POST", ORDER_CANCEL_REPLACE): RouteCost(1, orders=1),
    ("GET", ORDER): RouteCost(4),
    ("DELETE", ORDER): RouteCost(1),
    ("DELETE", OPEN_ORDERS): RouteCost(1),
    ("GET", ACCOUNT): RouteCost(20),
    ("GET", MY_TRADES): RouteCost(20),
    ("POST", USER_DATA_STREAM): RouteCost(2),
    ("PUT", USER_DATA_STREAM): RouteCost(2),
    ("DELETE", USER_DATA_STREAM): RouteCost(2),
}


def route_cost(method: str, path: str) -> RouteCost:
    """Cost of a fixed-weight route; parameter-dependent routes raise (use their ``*_cost`` function)."""
    try:
        return _FIXED_COSTS[(method.upper(), path)]
    except KeyError:
        raise ConfigError(f"no fixed weight for {method.upper()} {path}; use its *_cost function") from None


def depth_cost(limit: int = 100) -> RouteCost:
    """``GET /api/v3/depth``: 1-100 → 5, 101-500 → 25, 501-1000 → 50, 1001-5000 → 250 (default limit 100)."""
    if not 1 <= limit <= 5000:
        raise ConfigError(f"depth limit must be within 1..5000, not {limit}")
    if limit <= 100:
        return RouteCost(5)
    if limit <= 500:
        return RouteCost(25)
    return RouteCost(50) if limit <= 1000 else RouteCost(250)


def ticker_24hr_cost(symbols: int | None) -> RouteCost:
    """``GET /api/v3/ticker/24hr``: one symbol 2; 1-20 symbols 2, 21-100 → 40, more or all (``None``) → 80."""
    if symbols is None or symbols > 100:
        return RouteCost(80)
    if symbols < 1:
        raise ConfigError("ticker/24hr needs at least one symbol, or None for all")
    return RouteCost(2) if symbols <= 20 else RouteCost(40)


def book_ticker_cost(symbols: int | None) -> RouteCost:
    """``GET /api/v3/ticker/bookTicker`` (and ``ticker/price``): 2 with ``symbol`` (pass 1), else 4.

    ``None`` means every symbol; any ``symbols=[...]`` list costs 4 too.
    """
    return RouteCost(2) if symbols == 1 else RouteCost(4)


def open_orders_cost(*, with_symbol: bool) -> RouteCost:
    """``GET /api/v3/openOrders``: 6 for one symbol, 80 for all symbols."""
    return RouteCost(6) if with_symbol else RouteCost(80)
