"""Binance base URLs, routes, stream names and request weights (rest-api.md, web-socket-streams.md)."""

from __future__ import annotations

import pytest

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import urls as u


def test_environments() -> None:
    live = u.Endpoints.for_environment(u.Environment.LIVE)
    assert (live.rest, live.ws, live.ws_api) == (
        "https://api.binance.com",
        "wss://stream.binance.com:9443",
        "wss://ws-api.binance.com:443/ws-api/v3",
    )
    testnet = u.ENDPOINTS[u.Environment.TESTNET]
    assert (testnet.rest, testnet.ws, testnet.ws_api) == (
        "https://testnet.binance.vision",
        "wss://stream.testnet.binance.vision",
        "wss://ws-api.testnet.binance.vision/ws-api/v3",
    )


def test_override_for_the_simulator() -> None:
    live = u.ENDPOINTS[u.Environment.LIVE]
    sim = live.override(rest="http://127.0.0.1:8080/", ws="ws://127.0.0.1:8081")
    assert (sim.rest, sim.ws, sim.ws_api) == ("http://127.0.0.1:8080", "ws://127.0.0.1:8081", live.ws_api)
    assert sim.rest_url(u.ORDER) == "http://127.0.0.1:8080/api/v3/order"
    assert sim.raw_stream_url("btcusdt@trade") == "ws://127.0.0.1:8081/ws/btcusdt@trade"
    assert sim.combined_stream_url(["btcusdt@trade", "btcusdt@depth@100ms"]) == (
        "ws://127.0.0.1:8081/stream?streams=btcusdt@trade/btcusdt@depth@100ms"
    )
    assert live.override() == live


def test_combined_stream_limits() -> None:
    live = u.ENDPOINTS[u.Environment.LIVE]
    with pytest.raises(ConfigError):
        live.combined_stream_url([])
    with pytest.raises(ConfigError):
        live.combined_stream_url([f"s{i}@trade" for i in range(u.MAX_STREAMS_PER_CONNECTION + 1)])


def test_stream_names() -> None:
    assert u.depth_stream("BTCUSDT") == "btcusdt@depth@100ms"
    assert u.depth_stream("BTCUSDT", speed_ms=1000) == "btcusdt@depth"
    assert u.partial_depth_stream("BTCUSDT", 5) == "btcusdt@depth5@100ms"
    assert u.partial_depth_stream("btcusdt", 20, speed_ms=1000) == "btcusdt@depth20"
    assert u.trade_stream("BTCUSDT") == "btcusdt@trade"
    assert u.agg_trade_stream("BTCUSDT") == "btcusdt@aggTrade"
    assert u.book_ticker_stream("BTCUSDT") == "btcusdt@bookTicker"


@pytest.mark.parametrize(
    "call",
    [
        lambda: u.depth_stream("BTCUSDT", speed_ms=250),
        lambda: u.partial_depth_stream("BTCUSDT", 7),
        lambda: u.trade_stream(""),
        lambda: u.trade_stream("BTC/USDT"),
    ],
)
def test_bad_stream_arguments(call: object) -> None:
    assert callable(call)
    with pytest.raises(ConfigError):
        call()


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 5), (100, 5), (101, 25), (500, 25), (501, 50), (1000, 50), (1001, 250), (5000, 250)],
)
def test_depth_weight(limit: int, weight: int) -> None:
    assert u.depth_cost(limit) == u.RouteCost(weight)


@pytest.mark.parametrize("limit", [0, 5001])
def test_depth_limit_bounds(limit: int) -> None:
    with pytest.raises(ConfigError):
        u.depth_cost(limit)


def test_weights() -> None:
    assert u.route_cost("post", u.ORDER) == u.RouteCost(weight=1, orders=1)
    assert u.route_cost("GET", u.ACCOUNT).weight == 20
    assert u.route_cost("GET", u.MY_TRADES).weight == 20
    assert u.route_cost("GET", u.EXCHANGE_INFO).weight == 20
    assert u.route_cost("POST", u.USER_DATA_STREAM).weight == 2
    assert u.open_orders_cost(with_symbol=True).weight == 6
    assert u.open_orders_cost(with_symbol=False).weight == 80
    assert [u.book_ticker_cost(n).weight for n in (1, 2, None)] == [2, 4, 4]
    assert [u.ticker_24hr_cost(n).weight for n in (1, 20, 21, 100, 101, None)] == [2, 2, 40, 40, 80, 80]
    with pytest.raises(ConfigError):
        u.route_cost("GET", u.DEPTH)  # weight depends on limit
    with pytest.raises(ConfigError):
        u.ticker_24hr_cost(0)
