"""Binance spot cancel-replace (rest-api.md § Cancel an Existing Order and Send a New Order (TRADE)): the signed
request, the documented answers (the shared golden success payload, read in place, and the documented -2021 /
-2022 bodies) into a :class:`ModifyAnswer`, and the simulator face's side of the same protocol."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import InsufficientBalance, LocalProtocolError, OrderRejected, RemoteProtocolError, UnknownOrder
from clobactors.exchanges.binance import BinanceSpotDialect, Environment
from clobactors.exchanges.binance import signing as s
from clobactors.exchanges.standard import ModifyOutcome, ModifyStyle
from clobactors.httpspec import HttpResult
from clobactors.messages import Fill, OrderUpdate, PlaceOrder
from clobactors.model import Instrument, OrderStatus, OrderType, Side
from clobactors.ratelimit import Pool, WindowKind

CREDENTIALS = s.Credentials(api_key="k" * 64, secret="s" * 64)
BTCUSDT = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")
GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot" / "rest_responses.json"
RECV = 7


def _dialect() -> BinanceSpotDialect:
    d = BinanceSpotDialect.for_environment(Environment.LIVE)
    d.register_instruments([BTCUSDT])
    return d


def _replacement(**changes: object) -> PlaceOrder:
    fields: dict[str, object] = {
        "exchange": "binance",
        "instrument": "BTC-USDT",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "size": Decimal("0.04"),
        "price": Decimal("0.02"),
        "client_order_id": "wOceeeOzNORyLiQfw7jd8S",
    }
    fields.update(changes)
    return PlaceOrder(**fields)  # type: ignore[arg-type]


def _answer(status: int, obj: object) -> HttpResult:
    return HttpResult(status=status, headers=(), body=json.dumps(obj).encode(), elapsed=0.0)


def test_request_parameters_in_the_documented_order() -> None:
    d = _dialect()
    assert d.modify_style is ModifyStyle.CANCEL_REPLACE
    spec = d.modify_order_request(_replacement(), "DnLo3vTAQcjha43lAZhZ0y", BTCUSDT, CREDENTIALS, 1_700_000_000_000)
    assert (spec.method, spec.path) == ("POST", "/api/v3/order/cancelReplace")
    assert [k for k, _ in spec.params] == [
        "symbol", "side", "type", "cancelReplaceMode", "timeInForce", "quantity", "price",
        "cancelOrigClientOrderId", "newClientOrderId", "recvWindow", "timestamp", "signature",
    ]  # fmt: skip
    params = dict(spec.params)
    assert (params["cancelReplaceMode"], params["cancelOrigClientOrderId"]) == (
        "STOP_ON_FAILURE",
        "DnLo3vTAQcjha43lAZhZ0y",
    )
    assert s.verify_request("s" * 64, spec.query_string())
    costs = d.request_cost(spec)
    pools = {p.name for p in d._pools}
    assert all(costs[name] == 1 for name in costs) and set(costs) <= pools
    assert any(name.startswith("ORDERS") for name in costs)  # it counts one new order


def test_request_needs_a_new_client_order_id() -> None:
    d = _dialect()
    with pytest.raises(LocalProtocolError):
        d.modify_order_request(_replacement(client_order_id="same"), "same", BTCUSDT, CREDENTIALS, 1)
    with pytest.raises(LocalProtocolError):
        d.modify_order_request(_replacement(client_order_id=""), "old", BTCUSDT, CREDENTIALS, 1)


@settings(max_examples=60)
@given(
    size=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8),
    price=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8),
    original=st.text(alphabet="abcXYZ019._:/-", min_size=1, max_size=36),
)
def test_parameters_decode_back_exactly(size: Decimal, price: Decimal, original: str) -> None:
    spec = _dialect().modify_order_request(
        _replacement(size=size, price=price, client_order_id="new-1"), original, BTCUSDT, CREDENTIALS, 5
    )
    decoded = dict(parse_qsl(spec.query_string()))
    assert Decimal(decoded["quantity"]) == size and Decimal(decoded["price"]) == price
    assert decoded["cancelOrigClientOrderId"] == original and "E" not in decoded["quantity"] + decoded["price"]


def _golden(name: str) -> Any:
    if not GOLDEN.exists():
        pytest.skip("shared golden files absent")
    (sample,) = [x for x in json.loads(GOLDEN.read_text())["samples"] if x["name"] == name]
    return sample["json"]


def test_golden_success_answer() -> None:
    body = _golden("POST /api/v3/order/cancelReplace success")
    d = _dialect()
    assert not d.is_error(_answer(200, body))
    answer = d.decode_modify_order(_answer(200, body), _replacement(), "DnLo3vTAQcjha43lAZhZ0y", RECV)
    assert answer.outcome is ModifyOutcome.MODIFIED and answer.error is None
    old, new = answer.events
    assert isinstance(old, OrderUpdate) and isinstance(new, OrderUpdate)
    assert (old.client_order_id, old.exchange_order_id, old.status, old.reason) == (
        "DnLo3vTAQcjha43lAZhZ0y",
        "9",
        OrderStatus.CANCELLED,
        "replaced by wOceeeOzNORyLiQfw7jd8S",
    )
    assert (new.client_order_id, new.exchange_order_id, new.status, new.price, new.size) == (
        "wOceeeOzNORyLiQfw7jd8S",
        "10",
        OrderStatus.OPEN,
        Decimal("0.02"),
        Decimal("0.04"),
    )


CANCEL_FAILED = {  # documented: Response when Cancel Order Fails with STOP_ON FAILURE
    "code": -2022,
    "msg": "Order cancel-replace failed.",
    "data": {
        "cancelResult": "FAILURE",
        "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
        "newOrderResponse": None,
    },
}
NEW_FAILED = {  # documented: Response when Cancel Order Succeeds but New Order Placement Fails
    "code": -2021,
    "msg": "Order cancel-replace partially failed.",
    "data": {
        "cancelResult": "SUCCESS",
        "newOrderResult": "FAILURE",
        "cancelResponse": {
            "symbol": "BTCUSDT", "origClientOrderId": "86M8erehfExV8z2RC8Zo8k", "orderId": 3, "orderListId": -1,
            "clientOrderId": "G1kLo6aDv2KGNTFcjfTSFq", "transactTime": 1684804350068, "price": "0.006123",
            "origQty": "10000.000000", "executedQty": "0.000000", "origQuoteOrderQty": "0.000000",
            "cummulativeQuoteQty": "0.000000", "status": "CANCELED", "timeInForce": "GTC", "type": "LIMIT_MAKER",
            "side": "SELL", "selfTradePreventionMode": "NONE",
        },
        "newOrderResponse": {"code": -2010, "msg": "Order would immediately match and take."},
    },
}


def test_documented_cancel_failure_is_refused_with_unknown_order() -> None:
    d = _dialect()
    result = _answer(400, CANCEL_FAILED)
    assert not d.is_error(result)
    answer = d.decode_modify_order(result, _replacement(), "old-1", RECV)
    assert answer.outcome is ModifyOutcome.REFUSED and answer.events == ()
    assert isinstance(answer.error, UnknownOrder) and answer.error.client_order_id == "old-1"
    assert answer.error.code == "-2011"


def test_documented_new_order_failure_keeps_the_cancel() -> None:
    d = _dialect()
    result = _answer(409, NEW_FAILED)
    assert not d.is_error(result)
    answer = d.decode_modify_order(result, _replacement(), "86M8erehfExV8z2RC8Zo8k", RECV)
    assert answer.outcome is ModifyOutcome.REPLACEMENT_REFUSED
    (old,) = answer.events
    assert isinstance(old, OrderUpdate) and old.status is OrderStatus.CANCELLED
    assert old.client_order_id == "86M8erehfExV8z2RC8Zo8k" and old.reason == "replaced by wOceeeOzNORyLiQfw7jd8S"
    error = answer.error
    assert type(error) is OrderRejected and error.code == "-2010"
    assert error.client_order_id == "wOceeeOzNORyLiQfw7jd8S"


def test_other_errors_stay_errors_and_allow_failure_shapes_are_refused() -> None:
    d = _dialect()
    assert d.is_error(_answer(400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}))
    assert d.is_error(_answer(400, {"code": -2022, "msg": "Order cancel-replace failed."}))  # no data
    insufficient: dict[str, Any] = json.loads(json.dumps(NEW_FAILED))
    insufficient["data"]["newOrderResponse"] = {
        "code": -2010,
        "msg": "Account has insufficient balance for requested action.",
    }
    answer = d.decode_modify_order(_answer(409, insufficient), _replacement(), "x", RECV)
    assert isinstance(answer.error, InsufficientBalance)
    allow = {
        "code": -2021,
        "msg": "Order cancel-replace partially failed.",
        "data": {
            "cancelResult": "FAILURE",
            "newOrderResult": "SUCCESS",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": {"symbol": "BTCUSDT", "orderId": 11, "orderListId": -1, "clientOrderId": "p"},
        },
    }
    with pytest.raises(RemoteProtocolError):
        d.decode_modify_order(_answer(409, allow), _replacement(), "x", RECV)


def test_fills_of_a_taking_replacement_come_with_it() -> None:
    body = _golden("POST /api/v3/order/cancelReplace success")
    new = dict(body["newOrderResponse"], status="FILLED", executedQty="0.04", cummulativeQuoteQty="0.0008")
    new["fills"] = [{"price": "0.02", "qty": "0.04", "commission": "0", "commissionAsset": "BTC", "tradeId": 5}]
    answer = _dialect().decode_modify_order(_answer(200, dict(body, newOrderResponse=new)), _replacement(), "o", RECV)
    fills = [e for e in answer.events if isinstance(e, Fill)]
    assert [(f.trade_id, f.client_order_id, f.size) for f in fills] == [
        ("5", "wOceeeOzNORyLiQfw7jd8S", Decimal("0.04"))
    ]


def test_weight_pools_default() -> None:
    """The route is costed from the documented weight 1 and one order (urls.py), never an unknown route."""
    pools = (Pool("REQUEST_WEIGHT_1M", 6000, 60.0, WindowKind.FIXED), Pool("ORDERS_10S", 100, 10.0, WindowKind.FIXED))
    from clobactors.exchanges.binance import rules

    spec = _dialect().modify_order_request(_replacement(), "o", BTCUSDT, CREDENTIALS, 1)
    assert rules.request_cost(spec, pools) == {"REQUEST_WEIGHT_1M": 1, "ORDERS_10S": 1}
