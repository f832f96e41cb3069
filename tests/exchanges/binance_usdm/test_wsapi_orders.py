"""USD-M REST requests as ``/ws-fapi/v1`` requests, and the WebSocket API's answers as the REST results.

The documented frames (§ Websocket API General Info, § Modify Order, § Position Information) are in
``payloads/ws_api_*.json``; the documented REST bodies of ``shared/golden/binance_usdm`` are decoded both ways.
Every other request comes from the dialect's own builders, as the order manager sends them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import (
    ConfigError,
    InsufficientBalance,
    OrderRejected,
    RateLimited,
    RemoteProtocolError,
    TradingRuleViolation,
)
from clobactors.exchanges.binance import signing as s
from clobactors.exchanges.binance.commands import signed
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect, Environment
from clobactors.exchanges.binance_usdm.wsapi_orders import WS_API_METHODS, decode_answer, order_entry_frame
from clobactors.exchanges.order_entry import OrderEntryDialect
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder, SetLeverage, SetPositionMode
from clobactors.model import MarginType, OrderType, PositionMode, PositionSide, Side
from tests.exchanges.binance_usdm.helpers import BTC, RECV, golden, payload, raw

DOC_API_KEY = "yeqKcXjtA9Eu4Tr3nJk61UJAGzXsEmFqqfVterxpMpR4peNfqE7Zl7oans8Qj089"
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
CREDENTIALS = s.Credentials(api_key=DOC_API_KEY, secret=SECRET)
NOW = 1705311512994


def _limit(**changes: object) -> PlaceOrder:
    order = PlaceOrder(
        exchange="binance_usdm", instrument="BTC-USDT-PERP", side=Side.BUY, order_type=OrderType.LIMIT,
        size=Decimal("0.1"), price=Decimal("42088.0"), client_order_id="abc-1",
    )  # fmt: skip
    return msgspec.structs.replace(order, **changes)


def _as_rest(frame: str) -> dict[str, object]:
    """A sent frame's params as the REST request had them (all strings, no apiKey or signature)."""
    params = json.loads(frame)["params"]
    return {k: str(v) for k, v in params.items() if k not in ("apiKey", "signature")}


# -- requests ---------------------------------------------------------------------------------------------


def test_the_documented_order_place_request_is_reproduced_but_for_its_signature() -> None:
    """§ General Info's order.place: same method and params, integers as numbers, decimals as strings. The
    docs do not give that example's secret, so its signature is checked with the documented rule instead."""
    documented = payload("ws_api_general_info.json")["request"]
    params = documented["params"]
    rest = [(k, str(v)) for k, v in params.items() if k not in ("apiKey", "signature", "recvWindow", "timestamp")]
    spec = signed(
        "POST", "/fapi/v1/order", rest, CREDENTIALS, now_ms=params["timestamp"], recv_window=params["recvWindow"]
    )
    frame = order_entry_frame(spec, CREDENTIALS, 7)
    assert frame is not None
    sent = json.loads(frame)
    assert (sent["id"], sent["method"]) == (7, documented["method"])
    assert {k: v for k, v in sent["params"].items() if k != "signature"} == {
        k: v for k, v in params.items() if k != "signature"
    }
    assert s.verify_ws_params(SECRET, sent["params"])


def test_the_documented_order_modify_is_the_twin_of_put_order() -> None:
    """§ Modify Order's request names the PUT /fapi/v1/order params (orderId a number, decimals strings)."""
    documented = payload("ws_api_order_modify.json")["request"]
    params = {k: v for k, v in documented["params"].items() if k not in ("apiKey", "signature", "timestamp")}
    spec = signed(
        "PUT", "/fapi/v1/order", [(k, str(v)) for k, v in params.items()], CREDENTIALS,
        now_ms=documented["params"]["timestamp"], recv_window=None,
    )  # fmt: skip
    frame = order_entry_frame(spec, CREDENTIALS, 3)
    assert frame is not None
    sent = json.loads(frame)
    assert sent["method"] == documented["method"] == "order.modify"
    assert {k: v for k, v in sent["params"].items() if k not in ("apiKey", "signature")} == {
        k: v for k, v in documented["params"].items() if k not in ("apiKey", "signature")
    }


def _every_twin() -> list[HttpRequestSpec]:
    dialect = BinanceUsdmDialect.for_environment(Environment.LIVE)
    hedge = _limit(position_side=PositionSide.SHORT, side=Side.BUY, reduce_only=True)
    return [
        dialect.place_order_request(_limit(), BTC, CREDENTIALS, NOW),
        dialect.place_order_request(hedge, BTC, CREDENTIALS, NOW),
        dialect.modify_order_request(_limit(price=Decimal("42100")), "abc-1", BTC, CREDENTIALS, NOW),
        dialect.cancel_order_request(
            CancelOrder(exchange="binance_usdm", instrument="BTC-USDT-PERP", client_order_id="abc-1"),
            BTC, CREDENTIALS, NOW,
        ),
        dialect.cancel_order_request(
            CancelOrder(exchange="binance_usdm", instrument="BTC-USDT-PERP", exchange_order_id="336829446"),
            BTC, CREDENTIALS, NOW,
        ),
        dialect.query_order_request(BTC, "abc-1", CREDENTIALS, NOW),
        dialect.positions_request(CREDENTIALS, NOW),
        dialect.balances_request(CREDENTIALS, NOW),
    ]


def test_every_twin_the_dialect_sends_is_translated_and_verifies_with_the_documented_rule() -> None:
    specs = _every_twin()
    assert {(spec.method, spec.path) for spec in specs} == set(WS_API_METHODS)
    for spec in specs:
        frame = order_entry_frame(spec, CREDENTIALS, 3)
        assert frame is not None
        sent = json.loads(frame)
        assert sent["id"] == 3 and sent["method"] == WS_API_METHODS[(spec.method, spec.path)]
        params = sent["params"]
        rest = {k: v for k, v in spec.params if k != "signature"}
        assert _as_rest(frame) == rest
        assert list(params)[: len(rest)] == list(rest)  # the REST order, then apiKey and signature
        assert params["apiKey"] == DOC_API_KEY
        assert params["timestamp"] == NOW and params["recvWindow"] == 5000  # INT params are JSON integers
        if "orderId" in params:
            assert params["orderId"] == 336829446
        for name in ("quantity", "price", "reduceOnly"):
            assert name not in params or isinstance(params[name], str)  # DECIMAL (and STRING) as strings
        assert s.verify_ws_params(SECRET, params)
        assert not s.verify_ws_params(SECRET, {**params, "symbol": "ETHUSDT"})


def test_requests_without_a_documented_twin_stay_on_rest() -> None:
    dialect = BinanceUsdmDialect.for_environment(Environment.LIVE)
    ex, inst = "binance_usdm", "BTC-USDT-PERP"
    for spec in (
        dialect.open_orders_request(BTC, CREDENTIALS, NOW),
        dialect.cancel_all_request(CancelAll(exchange=ex, instrument=inst), BTC, CREDENTIALS, NOW),
        dialect.fills_request(BTC, NOW - 60_000, CREDENTIALS, NOW),
        dialect.set_leverage_request(SetLeverage(exchange=ex, instrument=inst, leverage=3), BTC, CREDENTIALS, NOW),
        dialect.set_margin_type_request(BTC, MarginType.ISOLATED, CREDENTIALS, NOW),
        dialect.set_position_mode_request(SetPositionMode(exchange=ex, mode=PositionMode.HEDGE), CREDENTIALS, NOW),
        dialect.funding_payments_request(BTC, NOW - 60_000, CREDENTIALS, NOW),
        dialect.listen_key_request(CREDENTIALS),
        dialect.book_snapshot_request(BTC, 100),
        dialect.mark_price_request(BTC),
        dialect.server_time_request(),
        signed("GET", "/fapi/v3/positionRisk", [], CREDENTIALS, now_ms=NOW, recv_window=None),
    ):
        assert dialect.order_entry_frame(spec, CREDENTIALS, 1) is None, spec.path


def test_the_dialect_offers_order_entry_on_the_documented_endpoints() -> None:
    live = BinanceUsdmDialect.for_environment(Environment.LIVE)
    assert isinstance(live, OrderEntryDialect)
    assert live.order_entry_url() == "wss://ws-fapi.binance.com/ws-fapi/v1"
    assert BinanceUsdmDialect.for_environment(Environment.TESTNET).order_entry_url() == (
        "wss://testnet.binancefuture.com/ws-fapi/v1"
    )
    sim = BinanceUsdmDialect.for_urls(rest="http://127.0.0.1:1", ws="ws://127.0.0.1:2", ws_api="ws://127.0.0.1:2/ws-fapi/v1")
    assert sim.order_entry_url() == "ws://127.0.0.1:2/ws-fapi/v1"
    spec = live.place_order_request(_limit(), BTC, CREDENTIALS, NOW)
    with pytest.raises(ConfigError):
        live.order_entry_frame(spec, object(), 1)


@settings(max_examples=60, deadline=None)
@given(
    client_id=st.from_regex(r"[A-Za-z0-9_.:/-]{1,36}", fullmatch=True),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1e6"), places=3),
    hedge=st.booleans(),
)
def test_every_translated_order_verifies_with_the_documented_rule(
    client_id: str, quantity: Decimal, hedge: bool
) -> None:
    side = PositionSide.LONG if hedge else PositionSide.BOTH
    command = _limit(client_order_id=client_id, size=quantity, position_side=side)
    spec = BinanceUsdmDialect.for_environment().place_order_request(command, BTC, CREDENTIALS, NOW)
    frame = order_entry_frame(spec, CREDENTIALS, 1)
    assert frame is not None
    params = json.loads(frame)["params"]
    assert params["newClientOrderId"] == client_id  # raw, never percent-encoded
    assert s.verify_ws_params(SECRET, params)
    assert not s.verify_ws_params(SECRET, {**params, "quantity": params["quantity"] + "1"})


# -- answers ----------------------------------------------------------------------------------------------


def _rest(status: int, body: bytes, *headers: tuple[str, str]) -> HttpResult:
    return HttpResult(status=status, headers=headers, body=body, elapsed=0.0)


def _registered() -> BinanceUsdmDialect:
    dialect = BinanceUsdmDialect.for_environment()
    dialect.register_instruments([BTC])
    return dialect


def test_the_documented_success_is_the_rest_result_with_the_usage_headers() -> None:
    frame = payload("ws_api_general_info.json")["success"]
    answer = decode_answer(raw(frame), 0.25, NOW)
    assert answer.request_id == frame["id"]
    result = answer.result
    assert (result.status, json.loads(result.body), result.elapsed) == (200, frame["result"], 0.25)
    dialect = _registered()
    assert sorted(dialect.reported_usage(result)) == [("ORDERS_10S", 1), ("ORDERS_1M", 0), ("REQUEST_WEIGHT_1M", 1)]
    assert not dialect.is_error(result)
    command = _limit(client_order_id="FqEw6cn0vDhrkmfiwLYPeo")
    over_rest = dialect.decode_place_order(_rest(200, raw(frame["result"])), command, RECV)
    assert dialect.decode_place_order(result, command, RECV) == over_rest


def test_the_documented_modify_and_position_answers_decode_as_rest_does() -> None:
    dialect = _registered()
    modified = payload("ws_api_order_modify.json")["response"]
    result = decode_answer(json.dumps(modified), 0.0, NOW).result
    command = _limit(client_order_id="xGHfltUMExx0TbQstQQfRX", side=Side.SELL, position_side=PositionSide.SHORT,
                     size=Decimal("0.11"), price=Decimal("43769.1"))  # fmt: skip
    over_rest = _rest(200, raw(modified["result"]))
    assert dialect.decode_modify_order(result, command, "xGHfltUMExx0TbQstQQfRX", RECV) == (
        dialect.decode_modify_order(over_rest, command, "xGHfltUMExx0TbQstQQfRX", RECV)
    )
    positions = payload("ws_api_account_position.json")
    result = decode_answer(raw(positions), 0.0, NOW).result
    decoded = dialect.decode_positions(result, RECV)
    assert decoded == dialect.decode_positions(_rest(200, raw(positions["result"])), RECV)
    assert [(p.position_side, p.size, p.leverage) for p in decoded] == [
        (PositionSide.LONG, Decimal("0.001"), 4), (PositionSide.SHORT, Decimal("0.000"), 4),
    ]  # leverage and margin type: the V2 body, as GET /fapi/v2/positionRisk answers


def _outcome(decode: Callable[[HttpResult], object], result: HttpResult) -> object:
    """What decoding gives: the value, or the error's type and text (a refusal must be the same both ways)."""
    try:
        return decode(result)
    except RemoteProtocolError as exc:
        return (type(exc), str(exc))


def test_golden_rest_bodies_read_the_same_as_websocket_results() -> None:
    """The documented REST bodies (shared golden files) as ``result``: the same events, positions, refusals
    (the golden query and cancel are TRAILING_STOP_MARKET orders, which the codec drops the same way)."""
    samples = golden("rest_responses.json")
    dialect = _registered()
    amend = _limit(client_order_id="LJ9R4QZDihCaS8UAOOLpgW", size=Decimal(1), price=Decimal(30005))
    cases: list[tuple[str, Callable[[HttpResult], object]]] = [
        ("PUT /fapi/v1/order", lambda r: dialect.decode_modify_order(r, amend, "LJ9R4QZDihCaS8UAOOLpgW", RECV)),
        ("GET /fapi/v3/positionRisk", lambda r: dialect.decode_positions(r, RECV)),
        ("GET /fapi/v1/order", lambda r: dialect.decode_query_order(r, RECV)),
        ("DELETE /fapi/v1/order", lambda r: dialect.decode_cancel_order(r, RECV)),
    ]
    for name, decode in cases:
        body = samples[name]
        frame = raw({"id": 1, "status": 200, "result": body})
        over_ws = _outcome(decode, decode_answer(frame, 0.0, NOW).result)
        assert over_ws == _outcome(decode, _rest(200, raw(body))), name
    assert not isinstance(_outcome(cases[0][1], _rest(200, raw(samples["PUT /fapi/v1/order"]))), tuple)


@pytest.mark.parametrize(
    ("status", "code", "msg", "kind"),
    [
        (400, -2019, "Margin is insufficient.", InsufficientBalance),
        (400, -5027, "No need to modify the order.", OrderRejected),
        (400, -4014, "Price not increased by tick size.", TradingRuleViolation),
        (400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.", None),
    ],
)
def test_a_refusal_maps_to_the_error_rest_gives(status: int, code: int, msg: str, kind: type | None) -> None:
    frame = raw({"id": 4, "status": status, "error": {"code": code, "msg": msg}})
    result = decode_answer(frame, 0.0, NOW).result
    dialect = _registered()
    over_rest = _rest(status, raw({"code": code, "msg": msg}))
    assert dialect.is_error(result) and json.loads(result.body) == {"code": code, "msg": msg}
    mine, theirs = dialect.map_error(result), dialect.map_error(over_rest)
    assert type(mine) is type(theirs) and str(mine) == str(theirs)
    if kind is not None:
        assert isinstance(mine, kind)


def test_the_documented_failure_maps_like_rest() -> None:
    frame = payload("ws_api_general_info.json")["failure"]
    result = decode_answer(raw(frame), 0.0, NOW).result
    dialect = _registered()
    assert result.status == 400 and dialect.is_error(result)
    assert sorted(dialect.reported_usage(result)) == [("ORDERS_10S", 1), ("ORDERS_1M", 1), ("REQUEST_WEIGHT_1M", 1)]
    over_rest = _rest(400, raw(frame["error"]))
    assert str(dialect.map_error(result)) == str(dialect.map_error(over_rest))


def test_a_rate_limit_answer_says_when_to_retry_as_rest_does() -> None:
    body = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}
    frame = raw({"id": 9, "status": 429, "error": {**body, "data": {"serverTime": NOW, "retryAfter": NOW + 2500}}})
    result = decode_answer(frame, 0.0, NOW).result
    assert result.header("retry-after") == "3"
    dialect = _registered()
    error = dialect.map_error(result)
    rest_error = dialect.map_error(_rest(429, raw(body), ("retry-after", "3")))
    assert isinstance(error, RateLimited) and isinstance(rest_error, RateLimited)
    assert error.retry_after == rest_error.retry_after == 3
    banned = decode_answer(raw({"id": 9, "status": 418, "error": body}), 0.0, NOW).result
    assert banned.header("retry-after") is None  # no retryAfter in the answer: none invented
    assert isinstance(dialect.map_error(banned), RateLimited)


@pytest.mark.parametrize(
    "frame",
    [b"not json", b'{"e":"ORDER_TRADE_UPDATE","E":1}', b'{"id":1}', b"[]", b'{"id":1,"status":"200"}'],
)
def test_a_frame_that_is_no_answer_is_a_protocol_error(frame: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_answer(frame, 0.0, NOW)
    with pytest.raises(RemoteProtocolError):
        _registered().decode_order_entry_answer(frame, 0.0, NOW)
