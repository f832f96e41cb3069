"""The Binance USD-M face, sans-IO: requests in, responses out, at a clock we set.

Outputs are checked against the documented payloads field by field (the key sets of the docs' examples, in
``tests/exchanges/binance_usdm/payloads``), so a shape bug shared by the client's wire structs and the face
cannot hide; rate limits and their headers; stream names; timers (depth windows, mark pushes, funding).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.signing import Credentials, sign_request
from clobactors.exchanges.binance.wire_base import RateLimit
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.face import BinanceUsdmFace
from clobactors.exchanges.binance_usdm.face_convert import margin_call
from clobactors.exchanges.binance_usdm.face_streams import parse_stream
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestRequest, RestResponse
from clobactors.sim.perp_records import MarginCallEvent

PAYLOADS = Path(__file__).resolve().parents[1] / "exchanges" / "binance_usdm" / "payloads"
KEY, SECRET = "K" * 64, "S" * 64
START_NS = 1_704_067_200_000 * 1_000_000  # 2024-01-01T00:00:00Z
SECOND = 1_000_000_000
IP = "10.0.0.9"


def make(**kwargs: object) -> BinanceUsdmFace:
    config = SimConfig.for_symbols(["BTCUSDT"], perpetual=True)
    engine = Engine(config.engine_rules(), perp=config.perp_settings())
    face = BinanceUsdmFace(engine, seed=3, **kwargs)  # type: ignore[arg-type]
    face.add_account({"USDT": D(100_000)}, account_id="me", api_key=KEY, secret=SECRET)
    face.add_account({"USDT": D(100_000)}, account_id="maker", api_key="M" * 64, secret="N" * 64)
    return face


def call(face: BinanceUsdmFace, method: str, path: str, query: str = "", *, now_ns: int = START_NS,
         key: str = KEY) -> RestResponse:  # fmt: skip
    return face.handle_rest(RestRequest(method, path, query, "", (("x-mbx-apikey", key),), IP), now_ns)


def signed(face: BinanceUsdmFace, method: str, path: str, params: Iterable[tuple[str, str]] = (), *,
           now_ns: int = START_NS, key: str = KEY, secret: str = SECRET) -> RestResponse:  # fmt: skip
    req = sign_request(list(params), Credentials(api_key=key, secret=secret), timestamp=now_ns // 1_000_000)
    return call(face, method, path, req.query, now_ns=now_ns, key=key)


def body(response: RestResponse) -> Any:
    assert response.status == 200, response.body
    return json.loads(response.body)


def documented(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())["payload"]


def assert_shape(
    ours: dict[str, Any],
    doc: dict[str, Any],
    *,
    not_ours: frozenset[str] = frozenset(),
    extra: frozenset[str] = frozenset(),
) -> None:
    """Our keys are the documented ones, but for documented fields of features we lack and noted extras."""
    assert set(doc) - not_ours <= set(ours), set(doc) - not_ours - set(ours)
    assert set(ours) <= set(doc) | extra, set(ours) - set(doc) - extra


def setup_position(face: BinanceUsdmFace) -> None:
    order = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"),
             ("price", "60000")]  # fmt: skip
    assert signed(face, "POST", "/fapi/v1/order", order, key="M" * 64, secret="N" * 64).status == 200
    assert signed(face, "POST", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                                   ("quantity", "0.5")]).status == 200  # fmt: skip


def test_needs_a_perpetual_engine() -> None:
    spot = Engine(SimConfig.for_symbols(["BTCUSDT"]).engine_rules())
    with pytest.raises(ConfigError, match="perpetual"):
        BinanceUsdmFace(spot)


def test_rest_bodies_have_the_documented_shapes() -> None:
    face = make()
    setup_position(face)
    conditional = frozenset({"activatePrice", "priceRate"})
    order = body(signed(face, "GET", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", "2")]))
    assert_shape(order, documented("http_get_order.json"), not_ours=conditional,
                 extra=frozenset({"cumQty", "priceMatch", "selfTradePreventionMode", "goodTillDate"}))  # fmt: skip
    placed = body(signed(face, "POST", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                                          ("timeInForce", "GTC"), ("quantity", "0.01"),
                                                          ("price", "59000")]))  # fmt: skip
    assert_shape(placed, documented("http_post_order.json"))
    (v2,) = body(signed(face, "GET", "/fapi/v2/positionRisk"))
    assert_shape(v2, documented("http_get_positionRisk_oneway.json")[0])
    assert (v2["positionAmt"], v2["entryPrice"], v2["leverage"]) == ("0.500", "60000.0", "20")
    (v3,) = body(signed(face, "GET", "/fapi/v3/positionRisk"))
    assert_shape(v3, documented("http_get_positionRisk_v3.json")[0])
    (balance,) = body(signed(face, "GET", "/fapi/v3/balance"))
    assert_shape(balance, documented("http_get_balance.json")[0])
    premium = body(call(face, "GET", "/fapi/v1/premiumIndex", "symbol=BTCUSDT"))
    assert_shape(premium, documented("http_get_premiumIndex.json"))
    assert premium["nextFundingTime"] == START_NS // 1_000_000 + 8 * 3_600_000
    income = body(signed(face, "GET", "/fapi/v1/income"))
    assert income and all(set(row) == set(documented("http_get_income.json")[1]) for row in income)
    (trade,) = body(signed(face, "GET", "/fapi/v1/userTrades", [("symbol", "BTCUSDT")]))
    assert_shape(trade, documented("http_get_userTrades.json")[0], extra=frozenset({"marginAsset"}))
    leverage = body(signed(face, "POST", "/fapi/v1/leverage", [("symbol", "BTCUSDT"), ("leverage", "21")]))
    assert leverage == {"leverage": 21, "maxNotionalValue": "30000000", "symbol": "BTCUSDT"}
    info = body(call(face, "GET", "/fapi/v1/exchangeInfo"))
    doc_info = documented("http_get_exchangeInfo.json")
    assert_shape(info, doc_info)
    assert_shape(info["symbols"][0], doc_info["symbols"][0])
    assert [f["filterType"] for f in info["symbols"][0]["filters"]] == [
        "PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS", "MAX_NUM_ALGO_ORDERS", "MIN_NOTIONAL",
        "PERCENT_PRICE",
    ]  # fmt: skip
    depth = body(call(face, "GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=5"))
    assert_shape(depth, documented("http_get_depth.json"))


def test_user_stream_events_have_the_documented_shapes() -> None:
    face = make()
    key = body(call(face, "POST", "/fapi/v1/listenKey"))["listenKey"]
    session = face.open_session(f"/ws/{key}", "", (), IP, START_NS)
    assert not isinstance(session, RestResponse)
    face.drain(START_NS, session.topics)
    setup_position(face)
    outputs = face.drain(START_NS, session.topics)
    events = [json.loads(o.payload) for o in outputs if o.payload is not None]
    kinds = [e["e"] for e in events]
    assert kinds == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    doc_order = documented("ws_ORDER_TRADE_UPDATE.json")
    assert_shape(events[1], doc_order)
    assert_shape(events[1]["o"], doc_order["o"], not_ours=frozenset({"AP", "cr", "er"}))
    doc_account = documented("ws_ACCOUNT_UPDATE.json")
    assert_shape(events[2], doc_account)
    assert_shape(events[2]["a"]["P"][0], doc_account["a"]["P"][0])
    assert_shape(events[2]["a"]["B"][0], doc_account["a"]["B"][0])
    assert events[1]["o"]["x"] == "TRADE" and events[1]["o"]["rp"] == "0.00000000"


def test_depth_windows_chain_pu_and_mark_pushes_follow_the_grid() -> None:
    face = make()
    session = face.open_session("/stream", "streams=btcusdt@depth@100ms/btcusdt@markPrice@1s", (), IP, START_NS)
    assert not isinstance(session, RestResponse)
    wanted = session.topics
    order = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1")]
    frames: list[dict[str, Any]] = []
    for step in range(1, 4):
        now = START_NS + step * 100_000_000
        assert signed(face, "POST", "/fapi/v1/order", [*order, ("price", str(60000 + step))], now_ns=now).status == 200
        face.drain(now, wanted)
        deadline = face.next_deadline_ns(now, wanted)
        assert deadline == now + 100_000_000
        face.on_timer(deadline, wanted)
        frames += [json.loads(o.payload) for o in face.drain(deadline, wanted) if o.payload is not None]
    while now < START_NS + SECOND:  # idle timers until the whole second: one mark push, no empty depth frames
        next_ns = face.next_deadline_ns(now, wanted)
        assert next_ns is not None
        now = next_ns
        face.on_timer(now, wanted)
        frames += [json.loads(o.payload) for o in face.drain(now, wanted) if o.payload is not None]
    depth = [f for f in frames if f["e"] == "depthUpdate"]
    assert [(f["U"], f["u"], f["pu"]) for f in depth] == [(1, 1, 0), (2, 2, 1), (3, 3, 2)]
    assert_shape(depth[0], documented("ws_depthUpdate.json"))
    marks = [f for f in frames if f["e"] == "markPriceUpdate"]
    assert [m["E"] for m in marks] == [START_NS // 1_000_000 + 1000]  # once, at the whole second
    assert_shape(marks[0], documented("ws_markPriceUpdate.json"), not_ours=frozenset({"ap"}))


def test_funding_time_is_a_timer_deadline() -> None:
    face = make()
    assert face.next_deadline_ns(START_NS, ()) == START_NS + 8 * 3600 * SECOND


def test_rate_limits_are_published_enforced_and_reported() -> None:
    limits = [
        RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=3),
        RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=1),
    ]
    face = make(rate_limits=limits)
    info = call(face, "GET", "/fapi/v1/exchangeInfo")
    assert [(r["rateLimitType"], r["limit"]) for r in json.loads(info.body)["rateLimits"]] == [
        ("REQUEST_WEIGHT", 3), ("ORDERS", 1),
    ]  # fmt: skip
    order = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.01"),
             ("price", "59000")]  # fmt: skip
    first = signed(face, "POST", "/fapi/v1/order", order)  # weight 0, one order
    assert first.status == 200 and dict(first.headers)["X-MBX-ORDER-COUNT-10S"] == "1"
    second = signed(face, "POST", "/fapi/v1/order", order)
    assert second.status == 429 and json.loads(second.body)["code"] == -1015
    assert call(face, "GET", "/fapi/v1/time").status == 200
    assert call(face, "GET", "/fapi/v1/time").status == 200
    throttled = call(face, "GET", "/fapi/v1/time")
    assert throttled.status == 429 and json.loads(throttled.body)["code"] == -1003
    assert dict(throttled.headers)["Retry-After"] == "60"


def test_stream_names() -> None:
    assert parse_stream("btcusdt@depth") is not None and parse_stream("btcusdt@depth").speed_ms == 250  # type: ignore[union-attr]
    assert parse_stream("btcusdt@depth@500ms").speed_ms == 500  # type: ignore[union-attr]
    assert parse_stream("btcusdt@markPrice").speed_ms == 3000  # type: ignore[union-attr]
    assert parse_stream("btcusdt@markPrice@1s").kind == "markPrice"  # type: ignore[union-attr]
    assert parse_stream("btcusdt@trade") is None  # futures have no raw trade stream
    refused = make().open_session("/stream", "streams=btcusdt@kline_1m", (), IP, START_NS)
    assert isinstance(refused, RestResponse) and refused.status == 400


def test_wire_decoders_accept_every_face_body() -> None:
    face = make()
    setup_position(face)
    wire.POSITION_RISK_DECODER.decode(signed(face, "GET", "/fapi/v2/positionRisk").body)
    wire.ACCOUNT_BALANCES_DECODER.decode(signed(face, "GET", "/fapi/v2/balance").body)
    wire.ORDERS_DECODER.decode(signed(face, "GET", "/fapi/v1/openOrders", [("symbol", "BTCUSDT")]).body)
    wire.EXCHANGE_INFO_DECODER.decode(call(face, "GET", "/fapi/v1/exchangeInfo").body)
    account = body(signed(face, "GET", "/fapi/v2/account"))
    assert account["positions"][0]["leverage"] == "20" and account["canTrade"] is True


def test_margin_call_and_config_events_have_the_documented_shapes() -> None:
    face = make()
    setup_position(face)
    perps = face.engine.perps
    assert perps is not None
    position = perps.position("me", "BTCUSDT")
    call_event = MarginCallEvent(ts_ns=START_NS, account_id="me", cross_wallet_balance=D(5), positions=(position,))
    pushed = json.loads(wire.encode(margin_call(call_event, event_ms=START_NS // 1_000_000)))
    doc = documented("ws_MARGIN_CALL.json")
    assert_shape(pushed, doc)
    assert_shape(pushed["p"][0], doc["p"][0])
    assert pushed["p"][0]["mt"] == "CROSSED" and pushed["p"][0]["pa"] == "0.500"
    key = body(call(face, "POST", "/fapi/v1/listenKey"))["listenKey"]
    session = face.open_session(f"/private/ws/{key}", "", (), IP, START_NS)
    assert not isinstance(session, RestResponse)
    face.drain(START_NS, session.topics)
    assert signed(face, "POST", "/fapi/v1/leverage", [("symbol", "BTCUSDT"), ("leverage", "7")]).status == 200
    (config,) = [json.loads(o.payload) for o in face.drain(START_NS, session.topics) if o.payload is not None]
    assert_shape(config, documented("ws_ACCOUNT_CONFIG_UPDATE.json"))
    assert config["ac"] == {"s": "BTCUSDT", "l": 7}
