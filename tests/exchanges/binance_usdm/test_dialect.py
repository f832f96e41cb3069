"""The Binance USD-M dialect object: URLs and stream routing, registry, exchangeInfo rules and pools, costs,
protocol conformance (under mypy) and sans-IO imports."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from clobactors.client_ids import BINANCE
from clobactors.errors import ConfigError
from clobactors.exchanges import CREDENTIALS, DIALECTS, get_credentials, get_dialect
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect, Credentials, Environment, StreamRouting
from clobactors.exchanges.binance_usdm.sequencing import BinanceUsdmBookSync
from clobactors.exchanges.standard import Channel, PerpDialect, Subscription, UserStreamAuth
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import PlaceOrder
from clobactors.model import Instrument, OrderType, Side
from clobactors.ratelimit import Pool
from tests.exchanges.binance_usdm.helpers import BTC, ok, payload

#: Checked by ``mypy --strict`` on this file: the dialect satisfies the perpetual protocol.
_CHECK: PerpDialect[Credentials] = BinanceUsdmDialect.for_environment()


def test_live_endpoints_and_protocol_attributes() -> None:
    live = BinanceUsdmDialect.for_environment(Environment.LIVE)
    assert (live.name, live.rest_base(), live.max_streams_per_connection) == (
        "binance_usdm", "https://fapi.binance.com", 1024,
    )  # fmt: skip
    assert live.user_stream_auth is UserStreamAuth.LISTEN_KEY
    assert (live.idle_timeout, live.listen_key_interval, live.recv_window) == (60.0, 1800.0, 5000)
    assert live.endpoints.ws_api == "wss://ws-fapi.binance.com/ws-fapi/v1"
    assert live.user_stream_url("abc123") == "wss://fstream.binance.com/private/ws/abc123"
    assert live.client_order_id_spec() is BINANCE


def test_routed_market_urls_split_public_and_market() -> None:
    live = BinanceUsdmDialect.for_environment()
    book = [Subscription(Channel.BOOK, BTC), Subscription(Channel.BBO, BTC)]
    assert live.market_stream_url(book) == (
        "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
    )
    market = [Subscription(Channel.TRADES, BTC), Subscription(Channel.MARK, BTC)]
    assert live.market_stream_url(market) == (
        "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s"
    )
    with pytest.raises(ConfigError, match="separate connections"):
        live.market_stream_url(book + market)
    assert [live.stream_route(s).value for s in book + market] == ["public", "public", "market", "market"]


def test_testnet_and_combined_layout() -> None:
    testnet = BinanceUsdmDialect.for_environment(Environment.TESTNET)
    assert testnet.rest_base() == "https://testnet.binancefuture.com"
    subs = [Subscription(Channel.BOOK, BTC), Subscription(Channel.MARK, BTC)]
    assert testnet.market_stream_url(subs) == (
        "wss://fstream.binancefuture.com/stream?streams=btcusdt@depth@100ms/btcusdt@markPrice@1s"
    )
    assert testnet.user_stream_url("k1") == "wss://fstream.binancefuture.com/ws/k1"
    combined_live = BinanceUsdmDialect.for_environment(routing=StreamRouting.COMBINED)
    assert combined_live.market_stream_url(subs).startswith("wss://fstream.binance.com/stream?streams=")


def test_for_urls_points_everything_at_the_simulator() -> None:
    sim = BinanceUsdmDialect.for_urls(rest="http://127.0.0.1:8080/", ws="ws://127.0.0.1:8081", ws_api="ws://127.0.0.1:8081/ws-fapi/v1")
    assert sim.rest_base() == "http://127.0.0.1:8080"
    assert sim.user_stream_url("k") == "ws://127.0.0.1:8081/ws/k"
    subs = [Subscription(Channel.BOOK, BTC), Subscription(Channel.TRADES, BTC)]
    assert sim.market_stream_url(subs) == "ws://127.0.0.1:8081/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade"
    routed = BinanceUsdmDialect.for_urls(rest="http://h", ws="ws://h", routing=StreamRouting.ROUTED)
    assert routed.user_stream_url("k") == "ws://h/private/ws/k"


def test_stream_speeds_and_bad_options() -> None:
    slow = BinanceUsdmDialect(BinanceUsdmDialect.for_environment().endpoints, depth_speed_ms=250, mark_speed_ms=3000)
    subs = [Subscription(Channel.BOOK, BTC)]
    assert slow.market_stream_url(subs).endswith("streams=btcusdt@depth")
    assert slow.market_stream_url([Subscription(Channel.MARK, BTC)]).endswith("streams=btcusdt@markPrice")
    endpoints = slow.endpoints
    for options in ({"depth_speed_ms": 1000}, {"mark_speed_ms": 500}, {"recv_window": 0}):
        with pytest.raises(ConfigError):
            BinanceUsdmDialect(endpoints, **options)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        slow.market_stream_url([])
    with pytest.raises(ConfigError):
        slow.user_stream_url("")


def test_register_refuses_other_exchanges_and_spot() -> None:
    d = BinanceUsdmDialect.for_environment()
    with pytest.raises(ConfigError, match="binance instrument"):
        d.register_instruments([Instrument.perpetual("binance", "BTC", "USDT", "BTCUSDT")])
    with pytest.raises(ConfigError, match="perpetuals only"):
        d.register_instruments([Instrument.spot("binance_usdm", "BTC", "USDT", "BTCUSDT")])


def test_registry() -> None:
    assert "binance_usdm" in DIALECTS and "binance_usdm" in CREDENTIALS
    dialect = get_dialect("binance_usdm")
    assert isinstance(dialect, BinanceUsdmDialect) and dialect.endpoints.routing is StreamRouting.ROUTED
    sim = get_dialect("binance_usdm", rest="http://127.0.0.1:9", ws="ws://127.0.0.1:9")
    assert sim.endpoints.routing is StreamRouting.COMBINED and sim.rest_base() == "http://127.0.0.1:9"
    routed = get_dialect("binance_usdm", ws="ws://127.0.0.1:9", routing="routed")
    assert routed.endpoints.routing is StreamRouting.ROUTED
    assert get_dialect("binance_usdm", environment="testnet").rest_base() == "https://testnet.binancefuture.com"
    with pytest.raises(ConfigError, match="bad options"):
        get_dialect("binance_usdm", environment="moon")
    credentials = get_credentials("binance_usdm", {"api_key": "key-123456789", "api_secret": "s3cret"})
    assert isinstance(credentials, Credentials) and "s3cret" not in repr(credentials)


def test_book_sync() -> None:
    sync = BinanceUsdmDialect.for_environment().new_book_sync(BTC)
    assert isinstance(sync, BinanceUsdmBookSync) and sync.instrument == "BTC-USDT-PERP" and sync.needs_rest_snapshot


# -- exchangeInfo, pools, costs ------------------------------------------------------------------------------


def _info(**symbol_changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload("http_get_exchangeInfo.json")
    quarterly = dict(body["symbols"][0], symbol="BTCUSDT_260327", pair="BTCUSDT", contractType="CURRENT_QUARTER",
                     baseAsset="BTC")  # fmt: skip
    body["symbols"] = [dict(body["symbols"][0], **symbol_changes), quarterly]
    return body


def test_exchange_info_rules_pools_and_skipped_contracts() -> None:
    d = BinanceUsdmDialect.for_environment()
    info = d.decode_exchange_info(ok(_info()))
    (rules,) = info.rules.values()
    assert rules.instrument == Instrument.perpetual("binance_usdm", "BLZ", "USDT", "BLZUSDT", settle="USDT")
    assert rules.name == "BLZ-USDT-PERP"
    assert (rules.tick_size, rules.min_price, rules.max_price) == (Decimal("0.0001"), Decimal("0.0001"), Decimal("300"))
    assert (rules.lot_size, rules.min_size, rules.max_size) == (Decimal("1"), Decimal("1"), Decimal("10000000"))
    assert (rules.market_lot_size, rules.market_max_size, rules.min_notional) == (
        Decimal("1"), Decimal("590119"), Decimal("5.0"),
    )  # fmt: skip
    assert rules.post_only and rules.trading and rules.min_notional_applies_to_market
    assert info.pools == (Pool("REQUEST_WEIGHT_1M", 2400, 60.0), Pool("ORDERS_1M", 1200, 60.0))
    assert info.server_time_ms == 1565613908500
    assert d.statistics().non_perpetual_contracts == 1
    # The pools read replace the defaults in request costs.
    market = PlaceOrder(exchange="binance_usdm", side=Side.BUY, order_type=OrderType.MARKET, size=Decimal(1))
    order = d.place_order_request(market, BTC, Credentials(api_key="k", secret="s"), 1)
    assert d.request_cost(order) == {"REQUEST_WEIGHT_1M": 0, "ORDERS_1M": 1}


def test_margin_asset_settles_and_odd_symbols_are_skipped() -> None:
    d = BinanceUsdmDialect.for_environment()
    usdc = _info(quoteAsset="USDC", marginAsset="USDC", timeInForce=["GTC"], status="SETTLING")
    info = d.decode_exchange_info(ok(usdc))
    (rules,) = info.rules.values()
    assert (rules.name, rules.post_only, rules.trading) == ("BLZ-USDC-PERP", False, False)
    bad = d.decode_exchange_info(ok(_info(baseAsset="blz!")))
    assert bad.rules == {} and d.statistics().codec.skipped_symbols == 1


def _spec(method: str, path: str, *params: tuple[str, str]) -> HttpRequestSpec:
    return HttpRequestSpec(method=method, path=path, params=params)


@pytest.mark.parametrize(
    ("spec", "weight", "orders"),
    [
        (_spec("GET", "/fapi/v1/depth", ("symbol", "BTCUSDT"), ("limit", "50")), 2, 0),
        (_spec("GET", "/fapi/v1/depth", ("symbol", "BTCUSDT"), ("limit", "100")), 5, 0),
        (_spec("GET", "/fapi/v1/depth", ("symbol", "BTCUSDT")), 10, 0),
        (_spec("GET", "/fapi/v1/depth", ("symbol", "BTCUSDT"), ("limit", "1000")), 20, 0),
        (_spec("GET", "/fapi/v1/openOrders", ("symbol", "BTCUSDT")), 1, 0),
        (_spec("GET", "/fapi/v1/openOrders"), 40, 0),
        (_spec("GET", "/fapi/v1/premiumIndex"), 10, 0),
        (_spec("POST", "/fapi/v1/order"), 0, 1),
        (_spec("DELETE", "/fapi/v1/allOpenOrders"), 1, 0),
        (_spec("GET", "/fapi/v1/income"), 30, 0),
        (_spec("GET", "/fapi/v2/positionRisk"), 5, 0),
        (_spec("PUT", "/fapi/v1/listenKey"), 1, 0),
    ],
)
def test_request_costs_with_default_pools(spec: HttpRequestSpec, weight: int, orders: int) -> None:
    cost = BinanceUsdmDialect.for_environment().request_cost(spec)
    expected = {"REQUEST_WEIGHT_1M": weight} | ({"ORDERS_10S": orders, "ORDERS_1M": orders} if orders else {})
    assert cost == expected


def test_unknown_route_and_depth_limit_are_config_errors() -> None:
    d = BinanceUsdmDialect.for_environment()
    with pytest.raises(ConfigError):
        d.request_cost(_spec("GET", "/fapi/v1/klines"))
    with pytest.raises(ConfigError):
        d.request_cost(_spec("GET", "/fapi/v1/depth", ("limit", "7")))


def test_reported_usage_headers() -> None:
    result = HttpResult(
        status=200,
        headers=(("x-mbx-used-weight-1m", "12"), ("x-mbx-order-count-10s", "3"), ("x-mbx-order-count-1m", "9"),
                 ("x-mbx-used-weight-1m", "bad")),
        body=b"{}",
        elapsed=0.0,
    )  # fmt: skip
    assert BinanceUsdmDialect.for_environment().reported_usage(result) == [
        ("REQUEST_WEIGHT_1M", 12), ("ORDERS_10S", 3), ("ORDERS_1M", 9),
    ]  # fmt: skip


def test_dialect_package_imports_without_trio_or_httpx() -> None:
    code = (
        "import sys\n"
        "from clobactors.exchanges import get_dialect\n"
        "get_dialect('binance_usdm')\n"
        "from clobactors.exchanges.binance_usdm import codec, codec_rest, commands, dialect, rules, sequencing, wire\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'trio', 'httpx', 'httpcore', 'trio_websocket', 'anyio', 'h11', 'wsproto'})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
