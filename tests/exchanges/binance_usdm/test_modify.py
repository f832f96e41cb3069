"""USD-M Modify Order (``PUT /fapi/v1/order``, § Trade › Modify Order): the request, its cost, the documented
answer (the SDK's golden sample), the user stream's AMENDMENT report, and the error mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clobactors.errors import ExchangeUnavailable, LocalProtocolError, OrderRejected, UnknownOrder
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect, signing
from clobactors.exchanges.binance_usdm.errors import error_body, map_error
from clobactors.exchanges.standard import ModifyOutcome, ModifyStyle
from clobactors.messages import OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus, OrderType, PositionSide, Side
from tests.exchanges.binance_usdm.helpers import BTC, RECV, golden, ok, raw, registered

CREDENTIALS = signing.Credentials(api_key="key", secret="secret")
NOW = 1_700_000_000_000


def _order(**changes: Any) -> PlaceOrder:
    fields: dict[str, Any] = {
        "exchange": "binance_usdm", "instrument": "BTC-USDT-PERP", "side": Side.BUY, "order_type": OrderType.LIMIT,
        "size": Decimal("0.02"), "price": Decimal("60010"), "client_order_id": "abc123",
    }  # fmt: skip
    return PlaceOrder(**(fields | changes))


def test_modify_request_is_a_signed_put_in_the_documented_order() -> None:
    d = BinanceUsdmDialect.for_environment()
    assert d.modify_style is ModifyStyle.AMEND
    spec = d.modify_order_request(_order(), "abc123", BTC, CREDENTIALS, NOW)
    assert (spec.method, spec.path) == ("PUT", "/fapi/v1/order")
    names = [k for k, _ in spec.params]
    assert names == ["symbol", "side", "quantity", "price", "origClientOrderId", "recvWindow", "timestamp", "signature"]
    assert spec.query_string().startswith("symbol=BTCUSDT&side=BUY&quantity=0.02&price=60010&origClientOrderId=abc123&")
    assert signing.verify_request("secret", spec.query_string())
    hedge = d.modify_order_request(_order(position_side=PositionSide.LONG), "abc123", BTC, CREDENTIALS, NOW)
    assert [k for k, _ in hedge.params][:3] == ["symbol", "side", "positionSide"]
    # § Modify Order: "1 on 10s order rate limit; 1 on 1min order rate limit; 0 on IP rate limit".
    assert d.request_cost(spec) == {"REQUEST_WEIGHT_1M": 0, "ORDERS_10S": 1, "ORDERS_1M": 1}


@pytest.mark.parametrize(
    "changes",
    [
        {"order_type": OrderType.MARKET, "price": None},
        {"client_order_id": "other"},
        {"size": Decimal(0)},
        {"instrument": "ETH-USDT-PERP"},
    ],
)
def test_modify_request_refusals(changes: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        BinanceUsdmDialect.for_environment().modify_order_request(_order(**changes), "abc123", BTC, CREDENTIALS, NOW)


def test_golden_modify_answer() -> None:
    sample = golden("rest_responses.json")["PUT /fapi/v1/order"]
    command = _order(client_order_id=sample["clientOrderId"], price=Decimal("30005"), size=Decimal(1))
    answer = registered().decode_modify_order(ok(sample), command, sample["clientOrderId"], RECV)
    assert answer.outcome is ModifyOutcome.MODIFIED and answer.error is None
    (update,) = answer.events
    assert isinstance(update, OrderUpdate)
    assert (update.client_order_id, update.exchange_order_id, update.status) == (
        "LJ9R4QZDihCaS8UAOOLpgW", "20072994037", OrderStatus.OPEN,
    )  # fmt: skip
    assert (update.price, update.size, update.position_side) == (Decimal("30005"), Decimal(1), PositionSide.LONG)
    assert update.ts_exchange == 1629182711600 * 1_000_000


def test_amendment_report_on_the_user_stream() -> None:
    """§ User Data Streams › Event: Order Update, execution type ``AMENDMENT`` (order modified): the order
    with its new price and quantity, no fill."""
    frame = {
        "e": "ORDER_TRADE_UPDATE", "E": 1700000000100, "T": 1700000000099,
        "o": {
            "s": "BTCUSDT", "c": "abc123", "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "0.02", "p": "60010",
            "ap": "0", "sp": "0", "x": "AMENDMENT", "X": "NEW", "i": 42, "l": "0", "z": "0", "L": "0",
            "N": "USDT", "n": "0", "T": 1700000000099, "t": 0, "b": "0", "a": "0", "m": False, "R": False,
            "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False, "rp": "0", "pP": False,
            "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0,
        },
    }  # fmt: skip
    (update,) = registered().decode_user(raw(frame), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.price, update.size, update.status, update.filled_size) == (
        Decimal("60010"), Decimal("0.02"), OrderStatus.OPEN, Decimal(0),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (-5027, OrderRejected),
        (-2013, UnknownOrder),
        (-5024, OrderRejected),
        (-5025, OrderRejected),
        (-5026, OrderRejected),
        (-1007, ExchangeUnavailable),
    ],
)
def test_modify_errors_map_to_the_error_tree(code: int, kind: type[Exception]) -> None:
    error = map_error(400, error_body(code))
    assert type(error) is kind and error.code == str(code)
    if code == -5027:
        assert error.message == "No need to modify the order."
