"""Commands into Binance USD-M requests: the docs' signed example byte for byte, exact query strings with a
fixed clock, position rules, setters, refusals."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError, LocalProtocolError
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect, signing
from clobactors.exchanges.binance_usdm.commands import OrderResponse
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder, SetLeverage, SetPositionMode
from clobactors.model import MarginType, OrderType, PositionAction, PositionMode, PositionSide, Side, TimeInForce
from tests.exchanges.binance_usdm.helpers import BTC, payload

# § General Info › SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys.
DOC_API_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_TIMESTAMP = 1591702613943
DOC_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
)
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
CREDENTIALS = signing.Credentials(api_key=DOC_API_KEY, secret=DOC_SECRET)
NOW = 1_700_000_000_000


def _dialect(**options: Any) -> BinanceUsdmDialect:
    return BinanceUsdmDialect.for_environment(**options)


def _order(**changes: Any) -> PlaceOrder:
    fields: dict[str, Any] = {
        "exchange": "binance_usdm", "instrument": "BTC-USDT-PERP", "side": Side.BUY, "order_type": OrderType.LIMIT,
        "size": Decimal("1"), "price": Decimal("9000"),
    }  # fmt: skip
    return PlaceOrder(**(fields | changes))


def _query(spec_params: tuple[tuple[str, str], ...]) -> list[str]:
    """Parameter names without the timing and signature the signer appends."""
    return [k for k, _ in spec_params if k not in ("recvWindow", "timestamp", "signature")]


def test_place_order_reproduces_the_documented_signed_request() -> None:
    d = _dialect()
    d.order_response = OrderResponse.ACK  # Binance's default: not sent, as in the docs' example
    spec = d.place_order_request(_order(), BTC, CREDENTIALS, DOC_TIMESTAMP)
    assert (spec.method, spec.path, spec.body) == ("POST", "/fapi/v1/order", b"")
    assert spec.query_string() == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"
    assert spec.headers == (("X-MBX-APIKEY", DOC_API_KEY),)
    assert signing.verify_request(DOC_SECRET, spec.query_string())


def test_signing_is_deterministic_and_time_is_injected() -> None:
    d = _dialect()
    first = d.place_order_request(_order(), BTC, CREDENTIALS, NOW)
    assert first == d.place_order_request(_order(), BTC, CREDENTIALS, NOW)
    assert first.query_string() != d.place_order_request(_order(), BTC, CREDENTIALS, NOW + 1).query_string()
    assert first.query_string().startswith(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&newOrderRespType=RESULT"
        f"&recvWindow=5000&timestamp={NOW}&signature="
    )
    assert "secret" not in repr(CREDENTIALS) and DOC_SECRET not in repr(CREDENTIALS)


def test_post_only_is_limit_gtx_and_client_id_is_sent() -> None:
    spec = _dialect().place_order_request(
        _order(order_type=OrderType.LIMIT_MAKER, client_order_id="x-abc.1:2/3", side=Side.SELL), BTC, CREDENTIALS, NOW
    )
    assert dict(spec.params)["type"] == "LIMIT" and dict(spec.params)["timeInForce"] == "GTX"
    assert _query(spec.params) == [
        "symbol", "side", "type", "quantity", "price", "timeInForce", "newClientOrderId", "newOrderRespType",
    ]  # fmt: skip
    assert dict(spec.params)["newClientOrderId"] == "x-abc.1:2/3"


def test_market_order_sends_no_price_or_time_in_force() -> None:
    spec = _dialect().place_order_request(
        _order(order_type=OrderType.MARKET, price=None, time_in_force=TimeInForce.IOC), BTC, CREDENTIALS, NOW
    )
    assert _query(spec.params) == ["symbol", "side", "type", "quantity", "newOrderRespType"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {}),
        ({"reduce_only": True}, {"reduceOnly": "true"}),
        ({"position_action": PositionAction.CLOSE}, {"reduceOnly": "true"}),
        ({"position_action": PositionAction.OPEN}, {}),
        ({"position_side": PositionSide.LONG}, {"positionSide": "LONG"}),
        ({"position_side": PositionSide.LONG, "side": Side.SELL, "position_action": PositionAction.CLOSE},
         {"positionSide": "LONG"}),
        ({"position_side": PositionSide.SHORT, "reduce_only": True}, {"positionSide": "SHORT"}),
        ({"position_side": PositionSide.SHORT, "side": Side.SELL, "position_action": PositionAction.OPEN},
         {"positionSide": "SHORT"}),
    ],
)  # fmt: skip
def test_position_parameters(changes: dict[str, Any], expected: dict[str, str]) -> None:
    spec = _dialect().place_order_request(_order(**changes), BTC, CREDENTIALS, NOW)
    params = dict(spec.params)
    assert {k: v for k, v in params.items() if k in ("positionSide", "reduceOnly")} == expected
    if "positionSide" in expected:  # right after side, as the docs list it
        assert _query(spec.params)[2] == "positionSide"


@pytest.mark.parametrize(
    "changes",
    [
        {"reduce_only": True, "position_action": PositionAction.OPEN},
        {"position_side": PositionSide.LONG, "position_action": PositionAction.CLOSE},  # BUY opens LONG
        {"position_side": PositionSide.LONG, "side": Side.SELL, "position_action": PositionAction.OPEN},
        {"position_side": PositionSide.LONG, "reduce_only": True},
        {"order_type": OrderType.LIMIT_MAKER, "time_in_force": TimeInForce.IOC},
        {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.FOK},
        {"order_type": OrderType.MARKET},  # with a price
        {"price": None},
        {"size": Decimal("0")},
        {"price": Decimal("NaN")},
        {"client_order_id": "has space"},
        {"instrument": "ETH-USDT-PERP"},
    ],
)
def test_refused_locally(changes: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        _dialect().place_order_request(_order(**changes), BTC, CREDENTIALS, NOW)


def test_cancel_query_open_orders_fills() -> None:
    d = _dialect()
    cancel = d.cancel_order_request(
        CancelOrder(exchange="binance_usdm", client_order_id="abc"), BTC, CREDENTIALS, NOW
    )
    assert (cancel.method, cancel.path) == ("DELETE", "/fapi/v1/order")
    assert _query(cancel.params) == ["symbol", "origClientOrderId"]
    by_id = d.cancel_order_request(CancelOrder(exchange="binance_usdm", exchange_order_id="42"), BTC, CREDENTIALS, NOW)
    assert dict(by_id.params)["orderId"] == "42"
    with pytest.raises(LocalProtocolError):
        d.cancel_order_request(CancelOrder(exchange="binance_usdm", exchange_order_id="x"), BTC, CREDENTIALS, NOW)
    cancel_all = d.cancel_all_request(CancelAll(exchange="binance_usdm"), BTC, CREDENTIALS, NOW)
    assert (cancel_all.method, cancel_all.path) == ("DELETE", "/fapi/v1/allOpenOrders")
    query = d.query_order_request(BTC, "abc", CREDENTIALS, NOW)
    assert (query.method, query.path) == ("GET", "/fapi/v1/order")
    assert _query(query.params) == ["symbol", "origClientOrderId"]
    query_by_id = d.query_order_request(BTC, "", CREDENTIALS, NOW, exchange_order_id="42")
    assert dict(query_by_id.params)["orderId"] == "42" and "origClientOrderId" not in dict(query_by_id.params)
    with pytest.raises(LocalProtocolError):
        d.query_order_request(BTC, "", CREDENTIALS, NOW)
    assert _query(d.open_orders_request(None, CREDENTIALS, NOW).params) == []
    fills = d.fills_request(BTC, 123, CREDENTIALS, NOW)
    assert (fills.path, fills.query_string().split("&recvWindow")[0]) == (
        "/fapi/v1/userTrades", "symbol=BTCUSDT&startTime=123&limit=1000",
    )  # fmt: skip
    for spec in (cancel, by_id, cancel_all, query, fills):
        assert signing.verify_request(DOC_SECRET, spec.query_string())


def test_account_and_perp_setters() -> None:
    d = _dialect()
    assert d.balances_request(CREDENTIALS, NOW).path == "/fapi/v3/balance"
    assert d.positions_request(CREDENTIALS, NOW).path == "/fapi/v2/positionRisk"
    leverage = d.set_leverage_request(
        SetLeverage(exchange="binance_usdm", instrument="BTC-USDT-PERP", leverage=20), BTC, CREDENTIALS, NOW
    )
    assert (leverage.method, leverage.path, leverage.query_string().split("&recvWindow")[0]) == (
        "POST", "/fapi/v1/leverage", "symbol=BTCUSDT&leverage=20",
    )  # fmt: skip
    with pytest.raises(LocalProtocolError):
        d.set_leverage_request(SetLeverage(exchange="binance_usdm", leverage=126), BTC, CREDENTIALS, NOW)
    margin = d.set_margin_type_request(BTC, MarginType.CROSS, CREDENTIALS, NOW)
    assert margin.query_string().split("&recvWindow")[0] == "symbol=BTCUSDT&marginType=CROSSED"
    hedge = d.set_position_mode_request(
        SetPositionMode(exchange="binance_usdm", mode=PositionMode.HEDGE), CREDENTIALS, NOW
    )
    one_way = d.set_position_mode_request(
        SetPositionMode(exchange="binance_usdm", mode=PositionMode.ONE_WAY), CREDENTIALS, NOW
    )
    assert hedge.path == "/fapi/v1/positionSide/dual"
    assert hedge.query_string().startswith("dualSidePosition=true&")
    assert one_way.query_string().startswith("dualSidePosition=false&")
    income = d.funding_payments_request(None, 5, CREDENTIALS, NOW)
    assert (income.path, income.query_string().split("&recvWindow")[0]) == (
        "/fapi/v1/income", "incomeType=FUNDING_FEE&startTime=5&limit=1000",
    )  # fmt: skip


def test_unsigned_requests() -> None:
    d = _dialect()
    assert d.exchange_info_request().path == "/fapi/v1/exchangeInfo"
    assert d.server_time_request().path == "/fapi/v1/time"
    assert d.book_snapshot_request(BTC, 100).params == (("symbol", "BTCUSDT"), ("limit", "100"))
    assert d.book_snapshot_request(BTC, 101).params[1] == ("limit", "500")  # rounded up to a valid limit
    assert d.book_snapshot_request(BTC, 3).params[1] == ("limit", "5")
    with pytest.raises(ConfigError):
        d.book_snapshot_request(BTC, 1001)
    assert d.mark_price_request(BTC).query_string() == "symbol=BTCUSDT"
    for spec in (d.listen_key_request(CREDENTIALS), d.listen_key_keepalive_request(CREDENTIALS, "k")):
        assert (spec.path, spec.params, spec.headers) == ("/fapi/v1/listenKey", (), (("X-MBX-APIKEY", DOC_API_KEY),))
    assert d.listen_key_keepalive_request(CREDENTIALS, "k").method == "PUT"
    assert d.listen_key_close_request(CREDENTIALS).method == "DELETE"


def test_live_subscribe_frames_have_the_documented_shape() -> None:
    d = _dialect(routing=None)
    subs = [Subscription(Channel.TRADES, BTC), Subscription(Channel.BOOK, BTC)]
    (frame,) = d.live_subscribe_frames(subs, 1)
    documented = payload("ws_subscribe_request.json")
    assert json.loads(frame) == dict(documented, params=["btcusdt@aggTrade", "btcusdt@depth@100ms"])
    assert d.subscribe_frames(subs, 1) == ()
    assert d.user_stream_login_frames(CREDENTIALS, NOW, 1) == ()


@settings(max_examples=100, deadline=None)
@given(
    size=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2),
    now=st.integers(min_value=0, max_value=2**45),
)
def test_every_order_verifies_and_keeps_exact_decimals(size: Decimal, price: Decimal, now: int) -> None:
    spec = _dialect().place_order_request(_order(size=size, price=price), BTC, CREDENTIALS, now)
    params = dict(spec.params)
    assert Decimal(params["quantity"]) == size and Decimal(params["price"]) == price
    assert "E" not in params["quantity"] + params["price"]
    assert signing.verify_request(DOC_SECRET, spec.query_string())
