"""Binance REST answers into canonical messages; exchangeInfo into rules and pools; costs, usage, errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clobactors.errors import (
    ExchangeError,
    InsufficientBalance,
    RateLimited,
    RecoveryHint,
    RemoteProtocolError,
    UnknownOrder,
)
from clobactors.exchanges.binance import BinanceSpotDialect
from clobactors.exchanges.binance.commands import OrderResponse
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import Balance, BookSnapshot, Fill, OrderUpdate, PlaceOrder
from clobactors.model import Instrument, Liquidity, OrderStatus, OrderType, Side, TimeInForce
from clobactors.ratelimit import Pool

PAYLOADS = Path(__file__).parent / "payloads"
GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot"
RECV = 42
NS = 1_000_000
BTCUSDT = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")
LTCBTC = Instrument.spot("binance", "LTC", "BTC", "LTCBTC")
BNBBTC = Instrument.spot("binance", "BNB", "BTC", "BNBBTC")


def answer(obj: object, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> HttpResult:
    return HttpResult(status=status, headers=headers, body=json.dumps(obj).encode(), elapsed=0.0)


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())["payload"]


@pytest.fixture
def dialect() -> BinanceSpotDialect:
    d = BinanceSpotDialect.for_environment()
    d.register_instruments([BTCUSDT, LTCBTC, BNBBTC])
    return d


def market_sell(client_order_id: str = "") -> PlaceOrder:
    return PlaceOrder(
        exchange="binance",
        instrument="BTC-USDT",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        size=Decimal(10),
        client_order_id=client_order_id,
    )


def test_place_order_full_gives_order_and_taker_fills(dialect: BinanceSpotDialect) -> None:
    events = dialect.decode_place_order(answer(payload("http_post_order_full.json")), market_sell(), RECV)
    update, *fills = events
    assert update == OrderUpdate(
        exchange="binance",
        instrument="BTC-USDT",
        ts_exchange=1507725176595 * NS,
        ts_recv=RECV,
        client_order_id="6gCrw2kRUAF9CvJDGP16IP",
        exchange_order_id="28",
        status=OrderStatus.FILLED,
        side=Side.SELL,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        price=None,
        size=Decimal("10.00000000"),
        filled_size=Decimal("10.00000000"),
        avg_fill_price=Decimal("1"),  # the doc's cummulativeQuoteQty is 10 for 10 filled (sic)
    )
    assert [f.trade_id for f in fills if isinstance(f, Fill)] == ["56", "57", "58", "59", "60"]
    assert fills[1] == Fill(
        exchange="binance",
        instrument="BTC-USDT",
        ts_exchange=1507725176595 * NS,
        ts_recv=RECV,
        client_order_id="6gCrw2kRUAF9CvJDGP16IP",
        exchange_order_id="28",
        trade_id="57",
        side=Side.SELL,
        price=Decimal("3999.00000000"),
        size=Decimal("5.00000000"),
        fee=Decimal("19.99500000"),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
    )


def test_place_order_result(dialect: BinanceSpotDialect) -> None:
    result_dialect = BinanceSpotDialect(dialect.endpoints, order_response=OrderResponse.RESULT)
    result_dialect.register_instruments([BTCUSDT])
    (update,) = result_dialect.decode_place_order(answer(payload("http_post_order_result.json")), market_sell(), RECV)
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.FILLED


def test_cancel_uses_the_original_client_id(dialect: BinanceSpotDialect) -> None:
    (update,) = dialect.decode_cancel_order(answer(payload("http_delete_order.json")), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.client_order_id, update.exchange_order_id, update.status, update.price, update.ts_exchange) == (
        "myOrder1",
        "4",
        OrderStatus.CANCELLED,
        Decimal("2.00000000"),
        0,
    )


def test_cancel_all_skips_order_list_legs_of_foreign_types(dialect: BinanceSpotDialect) -> None:
    updates = dialect.decode_cancel_all(answer(payload("http_delete_openOrders.json")), RECV)
    assert [(u.client_order_id, u.status) for u in updates if isinstance(u, OrderUpdate)] == [
        ("E6APeyTJvkMvLMYMqu1KQ4", OrderStatus.CANCELLED),
        ("461cPg51vQjV3zIMOXNz39", OrderStatus.CANCELLED),  # the OCO's LIMIT_MAKER leg
    ]
    assert dialect.statistics().foreign_orders == 1  # its STOP_LOSS_LIMIT leg


def test_query_and_open_orders(dialect: BinanceSpotDialect) -> None:
    update = dialect.decode_query_order(answer(payload("http_get_order.json")), RECV)
    assert (update.instrument, update.client_order_id, update.status, update.price, update.size) == (
        "LTC-BTC",
        "myOrder1",
        OrderStatus.OPEN,
        Decimal("0.1"),
        Decimal("1.0"),
    )
    assert update.ts_exchange == 1499827319559 * NS
    assert list(dialect.decode_open_orders(answer(payload("http_get_openOrders.json")), RECV)) == [update]
    foreign = [
        dict(payload("http_get_order.json"), symbol="XRPUSDT"),
        dict(payload("http_get_order.json"), type="TAKE_PROFIT"),
    ]
    assert dialect.decode_open_orders(answer(foreign), RECV) == []
    with pytest.raises(RemoteProtocolError, match="do not trade"):
        dialect.decode_query_order(answer(foreign[1]), RECV)


def test_balances(dialect: BinanceSpotDialect) -> None:
    balances = dialect.decode_balances(answer(payload("http_get_account.json")), RECV)
    assert balances[0] == Balance(
        exchange="binance",
        ts_exchange=123456789 * NS,
        ts_recv=RECV,
        asset="BTC",
        free=Decimal("4723846.89208129"),
        locked=Decimal("0.00000000"),
    )
    assert [b.asset for b in balances] == ["BTC", "LTC"]


def test_snapshot_time_listen_key(dialect: BinanceSpotDialect) -> None:
    snapshot = dialect.decode_book_snapshot(answer(payload("http_get_depth.json")), BTCUSDT, RECV)
    assert snapshot == BookSnapshot(
        exchange="binance",
        instrument="BTC-USDT",
        ts_recv=RECV,
        bids=(("4.00000000", "431.00000000"),),
        asks=(("4.00000200", "12.00000000"),),
        sequence=1027024,
    )
    assert dialect.decode_server_time(answer(payload("http_get_time.json"))) == 1499827319559
    assert dialect.decode_listen_key(answer(payload("http_post_userDataStream.json"))).startswith("pqia91ma")
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_book_snapshot(answer({"lastUpdateId": "x"}), BTCUSDT, RECV)
    assert (info.value.hint, info.value.instrument, info.value.path) == (
        RecoveryHint.RESYNC,
        "BTC-USDT",
        "$.lastUpdateId",
    )
    assert dialect.statistics().malformed == 1


@pytest.mark.parametrize(
    "method",
    ["decode_cancel_order", "decode_cancel_all", "decode_open_orders", "decode_fills", "decode_balances"],
)
def test_malformed_rest_bodies_are_typed_errors(dialect: BinanceSpotDialect, method: str) -> None:
    for body in (b"", b"<html>", b'{"symbol": 5}', b"[{}]"):
        with pytest.raises(RemoteProtocolError) as info:
            getattr(dialect, method)(HttpResult(status=200, headers=(), body=body, elapsed=0.0), RECV)
        assert info.value.hint is RecoveryHint.DROP


# -- exchangeInfo, pools, costs ------------------------------------------------------------------------------


def test_exchange_info_rules_and_pools(dialect: BinanceSpotDialect) -> None:
    info = dialect.decode_exchange_info(answer(payload("http_get_exchangeInfo.json")))
    rules = info.rules["ETH-BTC"]
    assert rules.instrument == Instrument.spot("binance", "ETH", "BTC", "ETHBTC")
    assert (rules.tick_size, rules.min_price, rules.max_price) == (
        Decimal("0.00000100"),
        Decimal("0.00000100"),
        Decimal("100000.00000000"),
    )
    assert (rules.lot_size, rules.min_size, rules.max_size) == (
        Decimal("0.00100000"),
        Decimal("0.00100000"),
        Decimal("100000.00000000"),
    )
    assert rules.post_only and rules.trading
    assert info.server_time_ms == 1565246363776
    assert [p.name for p in info.pools] == ["REQUEST_WEIGHT_1M", "ORDERS_1S", "RAW_REQUESTS_5M"]
    assert info.by_symbol()["ETHBTC"] is rules


def test_exchange_info_filters_and_odd_symbols(dialect: BinanceSpotDialect) -> None:
    doc = payload("http_get_exchangeInfo.json")
    base = doc["symbols"][0]
    filters = [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "0", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.0001", "maxQty": "900", "stepSize": "0.0001"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0", "maxQty": "50", "stepSize": "0"},
        {"filterType": "MIN_NOTIONAL", "minNotional": "1", "applyToMarket": True, "avgPriceMins": 5},
        {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": False, "maxNotional": "9000000",
         "applyMaxToMarket": False, "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": 20},
    ]  # fmt: skip
    symbols = [
        dict(base, symbol="BTCUSDT", baseAsset="BTC", quoteAsset="USDT", filters=filters, status="BREAK",
             orderTypes=["LIMIT", "MARKET"]),
        dict(base, symbol="币安人生USDT", baseAsset="币安人生", quoteAsset="USDT"),
        dict(base, symbol="ETHBTC2", filters=[{"filterType": "LOT_SIZE", "minQty": True}]),
    ]  # fmt: skip
    info = dialect.decode_exchange_info(answer(dict(doc, symbols=symbols)))
    assert list(info.rules) == ["BTC-USDT"]
    rules = info.rules["BTC-USDT"]
    assert (rules.market_lot_size, rules.market_max_size, rules.max_price) == (Decimal(0), Decimal(50), Decimal(0))
    assert (rules.min_notional, rules.min_notional_applies_to_market) == (Decimal(5), False)
    assert not rules.post_only and not rules.trading
    assert dialect.statistics().skipped_symbols == 2


def test_bad_rate_limits_are_a_protocol_error(dialect: BinanceSpotDialect) -> None:
    doc = payload("http_get_exchangeInfo.json")
    bad = dict(doc, rateLimits=[{"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 1}])
    with pytest.raises(RemoteProtocolError, match="rateLimits"):
        dialect.decode_exchange_info(answer(bad))


def test_golden_exchange_info_decodes(dialect: BinanceSpotDialect) -> None:
    path = GOLDEN / "rest_responses.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    (doc,) = [s["json"] for s in json.loads(path.read_text())["samples"] if s["name"] == "GET /api/v3/exchangeInfo"]
    info = dialect.decode_exchange_info(answer(dict(doc, rateLimits=[])))  # the doc's rateLimits is a placeholder
    assert set(info.rules) == {"ETH-BTC"} and info.pools == ()


def test_request_costs_follow_current_pools(dialect: BinanceSpotDialect) -> None:
    order = HttpRequestSpec(method="POST", path="/api/v3/order")
    assert dialect.request_cost(order) == {
        "REQUEST_WEIGHT_1M": 1,
        "ORDERS_10S": 1,
        "ORDERS_1D": 1,
        "RAW_REQUESTS_5M": 1,
    }
    depth = dialect.book_snapshot_request(BTCUSDT, 5000)
    assert dialect.request_cost(depth)["REQUEST_WEIGHT_1M"] == 250
    assert dialect.request_cost(dialect.book_snapshot_request(BTCUSDT, 100))["REQUEST_WEIGHT_1M"] == 5
    every = HttpRequestSpec(method="GET", path="/api/v3/openOrders")
    one = HttpRequestSpec(method="GET", path="/api/v3/openOrders", params=(("symbol", "BTCUSDT"),))
    assert (dialect.request_cost(every)["REQUEST_WEIGHT_1M"], dialect.request_cost(one)["REQUEST_WEIGHT_1M"]) == (80, 6)
    assert "ORDERS_10S" not in dialect.request_cost(HttpRequestSpec(method="DELETE", path="/api/v3/order"))
    dialect.decode_exchange_info(answer(payload("http_get_exchangeInfo.json")))
    assert dialect.request_cost(order) == {"REQUEST_WEIGHT_1M": 1, "ORDERS_1S": 1, "RAW_REQUESTS_5M": 1}


def test_reported_usage_maps_headers_to_pool_names(dialect: BinanceSpotDialect) -> None:
    result = answer(
        {},
        headers=(
            ("x-mbx-used-weight", "31"),
            ("x-mbx-used-weight-1m", "31"),
            ("x-mbx-order-count-10s", "2"),
            ("x-mbx-order-count-1d", "17"),
            ("x-mbx-order-count-1m", "bogus"),
            ("content-type", "application/json"),
        ),
    )
    assert list(dialect.reported_usage(result)) == [("REQUEST_WEIGHT_1M", 31), ("ORDERS_10S", 2), ("ORDERS_1D", 17)]
    pools = {p.name for p in dialect.decode_exchange_info(answer(payload("http_get_exchangeInfo.json"))).pools}
    assert "REQUEST_WEIGHT_1M" in pools and Pool("ORDERS_10S", 1, 10.0).name == "ORDERS_10S"


# -- errors --------------------------------------------------------------------------------------------------


def test_errors(dialect: BinanceSpotDialect) -> None:
    ok = answer({})
    assert not dialect.is_error(ok)
    limited = answer({"code": -1003, "msg": "Too many requests"}, 429, (("retry-after", "7"),))
    assert dialect.is_error(limited)
    error = dialect.map_error(limited)
    assert isinstance(error, RateLimited) and (error.retry_after, error.banned) == (7.0, False)
    banned = dialect.map_error(answer({"code": -1003, "msg": "banned"}, 418, (("retry-after", "120"),)))
    assert isinstance(banned, RateLimited) and banned.banned and banned.retry_after == 120.0
    poor = dialect.map_error(
        answer({"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400)
    )
    assert isinstance(poor, InsufficientBalance)
    assert isinstance(dialect.map_error(answer({"code": -2013, "msg": "Order does not exist."}, 400)), UnknownOrder)
    html = HttpResult(status=502, headers=(), body=b"<html>bad gateway</html>", elapsed=0.0)
    assert isinstance(dialect.map_error(html), ExchangeError) and dialect.is_error(html)
