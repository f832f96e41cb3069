"""The USD-M face's Modify Order (``PUT /fapi/v1/order``, § Trade › Modify Order (TRADE)): the REST answer and
the user stream for a crossing amendment (AMENDMENT, then the TRADE it took), a GTX one (CANCELED), and the
documented codes of refusals (-2022, -2027, -5026, -5027, -5029), each leaving the order as it was."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from clobactors.exchanges.binance_usdm.face import BinanceUsdmFace
from clobactors.model import Side
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestResponse
from tests.sim.test_binance_usdm_face import IP, KEY, SECRET, START_NS, body, call, make, setup_position, signed

MAKER = {"key": "M" * 64, "secret": "N" * 64}


def place(face: BinanceUsdmFace, side: str, qty: str, price: str, tif: str = "GTC", **kw: Any) -> dict[str, Any]:
    params = [("symbol", "BTCUSDT"), ("side", side), ("type", "LIMIT"), ("timeInForce", tif), ("quantity", qty),
              ("price", price), *[(k, str(v)) for k, v in kw.pop("extra", {}).items()]]  # fmt: skip
    answer: dict[str, Any] = body(signed(face, "POST", "/fapi/v1/order", params, **kw))
    return answer


def modify(face: BinanceUsdmFace, order_id: int, side: str, qty: str, price: str) -> RestResponse:
    params = [("symbol", "BTCUSDT"), ("orderId", str(order_id)), ("side", side), ("quantity", qty), ("price", price)]
    return signed(face, "PUT", "/fapi/v1/order", params)


def code(response: RestResponse) -> int:
    assert response.status == 400, response.body
    value: int = json.loads(response.body)["code"]
    return value


def user_stream(face: BinanceUsdmFace) -> frozenset[str]:
    key = body(call(face, "POST", "/fapi/v1/listenKey"))["listenKey"]
    session = face.open_session(f"/ws/{key}", "", (), IP, START_NS)
    assert not isinstance(session, RestResponse)
    face.drain(START_NS, session.topics)
    return frozenset(session.topics)


def events(face: BinanceUsdmFace, topics: frozenset[str]) -> list[dict[str, Any]]:
    return [json.loads(o.payload) for o in face.drain(START_NS, topics) if o.payload is not None]


def test_a_crossing_amendment_answers_the_fill_and_streams_amendment_then_trade() -> None:
    face = make()
    place(face, "SELL", "0.5", "60010", **MAKER)
    place(face, "SELL", "0.5", "60020", **MAKER)
    order = place(face, "BUY", "1", "59990")
    topics = user_stream(face)
    answer = body(modify(face, order["orderId"], "BUY", "1", "60015"))
    assert (answer["orderId"], answer["clientOrderId"]) == (order["orderId"], order["clientOrderId"])
    assert (answer["status"], answer["price"], answer["origQty"], answer["executedQty"]) == (
        "PARTIALLY_FILLED", "60015.0", "1.000", "0.500",
    )  # fmt: skip
    frames = events(face, topics)
    orders = [(f["o"]["x"], f["o"]["X"], f["o"]["p"], f["o"]["z"], f["o"]["l"], f["o"]["L"]) for f in frames
              if f["e"] == "ORDER_TRADE_UPDATE"]  # fmt: skip
    assert orders == [
        ("AMENDMENT", "NEW", "60015.0", "0.000", "0", "0"),
        ("TRADE", "PARTIALLY_FILLED", "60015.0", "0.500", "0.500", "60010.0"),
    ]
    assert [f["e"] for f in frames] == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    depth = body(call(face, "GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=5"))
    assert depth["bids"] == [["60015.0", "0.500"]] and depth["asks"] == [["60020.0", "0.500"]]


def test_a_gtx_amendment_that_would_take_cancels_the_order() -> None:
    face = make()
    place(face, "SELL", "0.5", "60010", **MAKER)
    order = place(face, "BUY", "1", "59990", tif="GTX")
    topics = user_stream(face)
    answer = body(modify(face, order["orderId"], "BUY", "1", "60010"))
    assert (answer["status"], answer["price"], answer["timeInForce"]) == ("CANCELED", "59990.0", "GTX")
    frames = events(face, topics)
    assert [(f["o"]["x"], f["o"]["X"]) for f in frames if f["e"] == "ORDER_TRADE_UPDATE"] == [("CANCELED", "CANCELED")]
    assert code(modify(face, order["orderId"], "BUY", "1", "60000")) == -2013  # no longer open


def test_refusals_answer_the_documented_codes_and_change_nothing() -> None:
    face = make()
    setup_position(face)  # long 0.5 at 60000; the maker's 0.5 ask at 60000 remains
    closing = place(face, "SELL", "0.3", "61000", extra={"reduceOnly": "true"})
    opening = place(face, "BUY", "0.01", "59000")
    before = body(signed(face, "GET", "/fapi/v1/openOrders", [("symbol", "BTCUSDT")]))
    cases = [
        (closing, "SELL", "0.6", "61000", -2022),  # beyond the 0.5 the position leaves
        (opening, "BUY", "0.001", "59000", -5029),  # notional 59 < 100
        (opening, "BUY", "0.01", "59000", -5027),  # the same terms
        (opening, "BUY", "0.0105", "59000", -4023),  # LOT_SIZE step
        (opening, "BUY", "0.01", "59000.05", -4014),  # PRICE_FILTER tick
        (opening, "BUY", "0.01", "70000", -4016),  # PERCENT_PRICE above the mark's cap
        (opening, "BUY", "1000", "59000", -2019),  # margin
        (opening, "SELL", "0.02", "59000", -1102),  # not the order's side
    ]
    for order, side, qty, price, expected in cases:
        assert code(modify(face, order["orderId"], side, qty, price)) == expected, (qty, price)
    assert body(signed(face, "GET", "/fapi/v1/openOrders", [("symbol", "BTCUSDT")])) == before
    assert body(modify(face, closing["orderId"], "SELL", "0.5", "61000"))["origQty"] == "0.500"  # exactly the room


def test_the_maximum_notional_and_the_modification_limit() -> None:
    config = SimConfig.for_symbols(["BTCUSDT"], perpetual=True)
    engine = Engine(config.engine_rules(), perp=config.perp_settings(), amend_limit=2)
    face = BinanceUsdmFace(engine, seed=3)
    face.add_account({"USDT": D(10_000_000)}, account_id="me", api_key=KEY, secret=SECRET)
    perps = engine.perps
    assert perps is not None
    perps.set_leverage("me", "BTCUSDT", 125, now_ns=START_NS)
    cap = perps.position("me", "BTCUSDT").max_notional
    order = place(face, "BUY", str((cap / 2 / 59000).quantize(D("0.001"))), "59000")
    too_big = str((cap * 2 / 59000).quantize(D("0.001")))
    assert code(modify(face, order["orderId"], "BUY", too_big, "59000")) == -2027
    assert body(modify(face, order["orderId"], "BUY", "0.01", "59000"))["origQty"] == "0.010"
    assert body(modify(face, order["orderId"], "BUY", "0.01", "59001"))["price"] == "59001.0"
    response = modify(face, order["orderId"], "BUY", "0.01", "59002")
    assert code(response) == -5026 and json.loads(response.body)["msg"] == "Exceed maximum modify order limit."
    assert engine.statistics().orders_amended == 2


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_an_amendment_fully_filled_by_crossing_answers_filled(side: Side) -> None:
    face = make()
    buy = side is Side.BUY
    place(face, "SELL" if buy else "BUY", "1", "60010" if buy else "59990", **MAKER)
    order = place(face, "BUY" if buy else "SELL", "0.4", "59000" if buy else "61000")
    answer = body(modify(face, order["orderId"], "BUY" if buy else "SELL", "0.5", "60010" if buy else "59990"))
    assert (answer["status"], answer["executedQty"], D(answer["avgPrice"])) == (
        "FILLED", "0.500", D(60010 if buy else 59990),
    )  # fmt: skip
    assert body(signed(face, "GET", "/fapi/v1/openOrders", [("symbol", "BTCUSDT")])) == []
