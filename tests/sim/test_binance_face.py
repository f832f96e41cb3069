"""The Binance face, sans-IO: requests in, responses out, at a clock we set.

Outputs are decoded with the dialect's own wire decoders and checked field by field against the documented
shapes; the documented HMAC example request is replayed at its documented timestamp.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from decimal import Decimal as D
from urllib.parse import urlencode

import msgspec
import pytest

from clobactors.errors import AuthenticationFailed, InsufficientBalance, RateLimited, TradingRuleViolation, UnknownOrder
from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import map_error
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance.signing import Credentials, hmac_sha256_hex, sign_request
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestRequest, RestResponse

# rest-api.md § SIGNED Endpoint Examples for POST /api/v3/order › HMAC Keys (key as given in our brief; the
# key does not enter the signature).
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco5Y2ZgAoHpNn0ZW"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TS = 1499827319559
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
    f"&timestamp={DOC_TS}&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
)
NOW_NS = DOC_TS * 1_000_000
IP = "10.0.0.1"
ALL_UNREAD: set[str] = set()


def make_face(**kwargs: object) -> BinanceFace:
    engine = Engine(SimConfig.for_symbols(["LTCBTC", "BTCUSDT"]).engine_rules())
    face = BinanceFace(engine, seed=7, **kwargs)  # type: ignore[arg-type]
    face.add_account(
        {"BTC": D(2), "USDT": D(100_000), "LTC": D(50)}, account_id="doc", api_key=DOC_KEY, secret=DOC_SECRET
    )
    return face


def call(
    face: BinanceFace, method: str, path: str, query: str = "", *, body: str = "", key: str | None = DOC_KEY,
    now_ns: int = NOW_NS, ip: str = IP,
) -> RestResponse:  # fmt: skip
    headers = (("x-mbx-apikey", key),) if key is not None else ()
    return face.handle_rest(RestRequest(method, path, query, body, headers, ip), now_ns)


def signed(
    face: BinanceFace, method: str, path: str, params: Iterable[tuple[str, str]] = (), *, in_body: bool = False,
    now_ns: int = NOW_NS, secret: str = DOC_SECRET, ts_ms: int | None = None,
) -> RestResponse:  # fmt: skip
    creds = Credentials(api_key=DOC_KEY, secret=secret)
    req = sign_request(
        list(params), creds, timestamp=ts_ms if ts_ms is not None else now_ns // 1_000_000, in_body=in_body
    )
    return call(face, method, path, req.query, body=req.body, now_ns=now_ns)


def error(response: RestResponse) -> tuple[int, int, str]:
    body = wire.ERROR_DECODER.decode(response.body)
    return response.status, body.code, body.msg


def header(response: RestResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


# -- authentication ----------------------------------------------------------------------------------------


def test_documented_signed_request_is_accepted_at_the_documented_time() -> None:
    face = make_face()
    response = call(face, "POST", "/api/v3/order", DOC_QUERY)
    assert response.status == 200, response.body
    full = wire.ORDER_FULL_DECODER.decode(response.body)
    assert (full.symbol, full.side, full.type, full.time_in_force, full.status) == (
        "LTCBTC",
        "BUY",
        "LIMIT",
        "GTC",
        "NEW",
    )
    assert (full.price, full.orig_qty, full.transact_time) == (D("0.1"), D(1), DOC_TS)
    assert b'"price":"0.10000000"' in response.body  # Binance's eight decimals
    assert header(response, "X-MBX-USED-WEIGHT-1M") == "1"
    assert (header(response, "X-MBX-ORDER-COUNT-10S"), header(response, "X-MBX-ORDER-COUNT-1D")) == ("1", "1")


def test_documented_request_in_the_body_and_split_between_query_and_body() -> None:
    face = make_face()
    assert call(face, "POST", "/api/v3/order", body=DOC_QUERY).status == 200
    # rest-api.md Example 3: totalParams = query + body, no "&" in between.
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    response = call(face, "POST", "/api/v3/order", query, body=f"{body}&signature={sig}")
    assert response.status == 200, response.body


def test_bad_signature_is_1022_and_maps_to_authentication_failed() -> None:
    face = make_face()
    response = call(face, "POST", "/api/v3/order", DOC_QUERY.replace("c8db", "c8dc"))
    assert error(response) == (400, -1022, "Signature for this request is not valid.")
    assert isinstance(map_error(response.status, response.body), AuthenticationFailed)
    assert face.engine.open_orders("doc") == ()


@pytest.mark.parametrize(
    ("offset_ms", "msg"),
    [
        (5001, "Timestamp for this request is outside of the recvWindow."),
        (-1000, "Timestamp for this request was 1000ms ahead of the server's time."),
    ],
)
def test_timestamp_outside_recv_window_is_1021(offset_ms: int, msg: str) -> None:
    face = make_face()
    response = call(face, "POST", "/api/v3/order", DOC_QUERY, now_ns=NOW_NS + offset_ms * 1_000_000)
    assert error(response) == (400, -1021, msg)


def test_api_key_errors() -> None:
    face = make_face()
    assert error(call(face, "GET", "/api/v3/account", key=None))[:2] == (401, -2014)
    assert error(call(face, "GET", "/api/v3/account", key="bad key"))[:2] == (401, -2014)
    assert error(call(face, "GET", "/api/v3/account", key="A" * 64))[:2] == (401, -2015)


def test_signed_request_errors() -> None:
    face = make_face()
    assert error(call(face, "GET", "/api/v3/account", "signature=ab"))[1:] == (
        -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    )  # fmt: skip
    assert error(call(face, "GET", "/api/v3/account", f"timestamp={DOC_TS}"))[1] == -1102
    assert error(call(face, "GET", "/api/v3/account", "timestamp=abc&signature=ab"))[1] == -1100
    payload = f"recvWindow=70000&timestamp={DOC_TS}"
    too_wide = call(face, "GET", "/api/v3/account", f"{payload}&signature={hmac_sha256_hex(DOC_SECRET, payload)}")
    assert error(too_wide)[:2] == (400, -1131)
    assert signed(face, "GET", "/api/v3/account", in_body=True).status == 200


# -- parameters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ([("symbol", "NOPE")], -1121, "Invalid symbol."),
        ([("symbol", "btc usdt")], -1100, None),
        ([("symbol", "LTCBTC"), ("side", "UP"), ("type", "LIMIT")], -1117, "Invalid side."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "STOP")], -1116, "Invalid orderType."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "0.1")], -1102,
         "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "DAY")], -1115,
         "Invalid timeInForce."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "MARKET")], -1102, None),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1"), ("price", "1")], -1106,
         "Parameter 'price' sent when not required."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1x"),
          ("price", "0.1")], -1100, None),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"),
          ("price", "0.000000001")], -1111, "Parameter 'price' has too much precision."),
        ([("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"),
          ("price", "0.1"), ("foo", "1")], -1104, None),
        ([("symbol", "LTCBTC"), ("symbol", "LTCBTC")], -1101, "Duplicate values for a parameter detected."),
        ([("symbol", "")], -1102, None),
    ],
)  # fmt: skip
def test_malformed_new_orders(params: list[tuple[str, str]], code: int, msg: str | None) -> None:
    face = make_face()
    status, got_code, got_msg = error(signed(face, "POST", "/api/v3/order", params))
    assert (status, got_code) == (400, code), got_msg
    if msg is not None:
        assert got_msg == msg


@pytest.mark.parametrize(
    ("price", "quantity", "failure"),
    [("0.0000015", "1", "PRICE_FILTER"), ("0.1", "1.0005", "LOT_SIZE"), ("0.000001", "0.001", "NOTIONAL")],
)
def test_filter_failures_are_1013(price: str, quantity: str, failure: str) -> None:
    face = make_face()
    params = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", quantity),
        ("price", price),
    ]
    response = signed(face, "POST", "/api/v3/order", params)
    assert error(response) == (400, -1013, f"Filter failure: {failure}")
    assert isinstance(map_error(response.status, response.body), TradingRuleViolation)


def test_engine_rejections_are_2010() -> None:
    face = make_face()
    big = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "100"),
        ("price", "0.1"),
    ]
    response = signed(face, "POST", "/api/v3/order", big)
    assert error(response) == (400, -2010, "Account has insufficient balance for requested action.")
    assert isinstance(map_error(response.status, response.body), InsufficientBalance)
    ask = [
        ("symbol", "LTCBTC"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.002"),
    ]
    assert signed(face, "POST", "/api/v3/order", ask).status == 200
    maker = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT_MAKER"), ("quantity", "1"), ("price", "0.002")]
    assert error(signed(face, "POST", "/api/v3/order", maker)) == (
        400,
        -2010,
        "Order would immediately match and take.",
    )
    dup = [*ask[:-1], ("price", "0.003"), ("newClientOrderId", "same")]
    assert signed(face, "POST", "/api/v3/order", dup).status == 200
    assert error(signed(face, "POST", "/api/v3/order", dup)) == (400, -2010, "Duplicate order sent.")


# -- order lifecycle ------------------------------------------------------------------------------------------


OTHER_KEY, OTHER_SECRET = "K" * 64, "S" * 64


def as_other(face: BinanceFace, method: str, path: str, params: list[tuple[str, str]]) -> RestResponse:
    """A second account (the doc account's counterparty: self-trade prevention forbids trading with itself)."""
    if not face.engine.has_account("other"):
        face.add_account({"LTC": D(10), "BTC": D(1)}, account_id="other", api_key=OTHER_KEY, secret=OTHER_SECRET)
    req = sign_request(params, Credentials(api_key=OTHER_KEY, secret=OTHER_SECRET), timestamp=DOC_TS)
    return call(face, method, path, req.query, key=OTHER_KEY)


def test_order_lifecycle_response_types_query_cancel() -> None:
    face = make_face()
    base = [("symbol", "LTCBTC"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "2")]
    ack = as_other(
        face,
        "POST",
        "/api/v3/order",
        [*base, ("price", "0.002"), ("newClientOrderId", "a1"), ("newOrderRespType", "ACK")],
    )
    got = wire.ORDER_ACK_DECODER.decode(ack.body)
    assert (got.client_order_id, got.order_list_id) == ("a1", -1)
    assert set(json.loads(ack.body)) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = as_other(face, "POST", "/api/v3/order", [*base, ("price", "0.003"), ("newOrderRespType", "RESULT")])
    assert "fills" not in json.loads(result.body)
    assert wire.ORDER_RESULT_DECODER.decode(result.body).status == "NEW"
    # A market buy takes the first ask and part of the second; FULL lists the fills with the taker fee
    # (0.1 %, paid by the buyer in the base asset).
    taker = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "3")]
    full = wire.ORDER_FULL_DECODER.decode(signed(face, "POST", "/api/v3/order", taker).body)
    assert (full.status, full.executed_qty, full.cummulative_quote_qty) == ("FILLED", D(3), D("0.007"))
    assert [(f.price, f.qty, f.commission, f.commission_asset) for f in full.fills] == [
        (D("0.002"), D(2), D("0.002"), "LTC"), (D("0.003"), D(1), D("0.001"), "LTC"),
    ]  # fmt: skip
    info = wire.ORDER_INFO_DECODER.decode(
        as_other(face, "GET", "/api/v3/order", [("symbol", "LTCBTC"), ("origClientOrderId", "a1")]).body
    )
    assert (info.status, info.is_working, info.executed_qty) == ("FILLED", False, D(2))
    open_ = wire.OPEN_ORDERS_DECODER.decode(as_other(face, "GET", "/api/v3/openOrders", [("symbol", "LTCBTC")]).body)
    assert [(o.status, o.executed_qty, o.is_working) for o in open_] == [("PARTIALLY_FILLED", D(1), True)]
    assert len(wire.OPEN_ORDERS_DECODER.decode(as_other(face, "GET", "/api/v3/openOrders", []).body)) == 1
    cancel = as_other(
        face,
        "DELETE",
        "/api/v3/order",
        [("symbol", "LTCBTC"), ("orderId", str(open_[0].order_id)), ("newClientOrderId", "c9")],
    )
    cancelled = wire.CANCELED_ORDER_DECODER.decode(cancel.body)
    assert (cancelled.status, cancelled.client_order_id, cancelled.orig_client_order_id) == (
        "CANCELED",
        "c9",
        open_[0].client_order_id,
    )
    again = as_other(face, "DELETE", "/api/v3/order", [("symbol", "LTCBTC"), ("orderId", str(open_[0].order_id))])
    assert error(again) == (400, -2011, "Unknown order sent.")
    assert isinstance(map_error(again.status, again.body), UnknownOrder)
    missing = signed(face, "GET", "/api/v3/order", [("symbol", "LTCBTC"), ("orderId", "999")])
    assert error(missing) == (400, -2013, "Order does not exist.")
    assert isinstance(map_error(missing.status, missing.body), UnknownOrder)
    neither = signed(face, "GET", "/api/v3/order", [("symbol", "LTCBTC")])
    assert error(neither)[1:] == (
        -1102,
        "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    )
    trades = wire.MY_TRADES_DECODER.decode(signed(face, "GET", "/api/v3/myTrades", [("symbol", "LTCBTC")]).body)
    assert [(t.price, t.qty, t.is_buyer, t.is_maker, t.order_id) for t in trades] == [
        (D("0.002"), D(2), True, False, full.order_id), (D("0.003"), D(1), True, False, full.order_id),
    ]  # fmt: skip
    theirs = wire.MY_TRADES_DECODER.decode(
        as_other(face, "GET", "/api/v3/myTrades", [("symbol", "LTCBTC"), ("limit", "1")]).body
    )
    assert [(t.is_buyer, t.is_maker, t.commission_asset) for t in theirs] == [(False, True, "BTC")]


def test_cancel_all_and_account() -> None:
    face = make_face()
    for price in ("0.002", "0.003"):
        order = [
            ("symbol", "LTCBTC"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", price),
        ]
        assert signed(face, "POST", "/api/v3/order", order).status == 200
    account = wire.ACCOUNT_DECODER.decode(signed(face, "GET", "/api/v3/account", [("omitZeroBalances", "true")]).body)
    assert {b.asset: (b.free, b.locked) for b in account.balances}["LTC"] == (D(48), D(2))
    assert (account.maker_commission, account.commission_rates.taker, account.account_type) == (10, D("0.001"), "SPOT")
    body = signed(face, "DELETE", "/api/v3/openOrders", [("symbol", "LTCBTC")]).body
    assert [o.status for o in wire.decode_cancel_all(body)] == ["CANCELED", "CANCELED"]  # type: ignore[union-attr]
    assert error(signed(face, "DELETE", "/api/v3/openOrders", [("symbol", "LTCBTC")]))[1] == -2011


def test_self_trade_prevention_expires_the_maker() -> None:
    face = make_face()
    sell = [
        ("symbol", "LTCBTC"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.002"),
    ]
    sell_id = wire.ORDER_FULL_DECODER.decode(signed(face, "POST", "/api/v3/order", sell).body).order_id
    buy = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.002"),
    ]
    assert wire.ORDER_FULL_DECODER.decode(signed(face, "POST", "/api/v3/order", buy).body).status == "NEW"
    maker = signed(face, "GET", "/api/v3/order", [("symbol", "LTCBTC"), ("orderId", str(sell_id))])
    assert wire.ORDER_INFO_DECODER.decode(maker.body).status == "EXPIRED_IN_MATCH"


# -- public endpoints ----------------------------------------------------------------------------------------


def test_public_endpoints_decode() -> None:
    face = make_face()
    assert call(face, "GET", "/api/v3/ping", key=None).body == b"{}"
    assert wire.SERVER_TIME_DECODER.decode(call(face, "GET", "/api/v3/time", key=None).body).server_time == DOC_TS
    info = wire.EXCHANGE_INFO_DECODER.decode(call(face, "GET", "/api/v3/exchangeInfo", key=None).body)
    assert [s.symbol for s in info.symbols] == ["LTCBTC", "BTCUSDT"]
    assert [(r.rate_limit_type, r.interval, r.interval_num, r.limit) for r in info.rate_limits] == [
        ("REQUEST_WEIGHT", "MINUTE", 1, 6000), ("ORDERS", "SECOND", 10, 100), ("ORDERS", "DAY", 1, 200000),
        ("RAW_REQUESTS", "MINUTE", 5, 61000),
    ]  # fmt: skip
    filters = {type(f).__name__: f for f in info.symbols[0].symbol_filters()}
    assert set(filters) == {"PriceFilter", "LotSize", "MarketLotSize", "Notional"}
    assert filters["PriceFilter"].tick_size == D("0.000001")  # type: ignore[union-attr]
    assert info.symbols[0].order_types == ("LIMIT", "LIMIT_MAKER", "MARKET")
    one = wire.EXCHANGE_INFO_DECODER.decode(
        call(face, "GET", "/api/v3/exchangeInfo", 'symbols=["BTCUSDT"]', key=None).body
    )
    assert [s.symbol for s in one.symbols] == ["BTCUSDT"]
    assert error(call(face, "GET", "/api/v3/exchangeInfo", "symbol=NOPE", key=None))[1] == -1121
    assert error(call(face, "GET", "/api/v3/exchangeInfo", "symbols=BTCUSDT", key=None))[1] == -1100
    book = wire.ORDER_BOOK_DECODER.decode(call(face, "GET", "/api/v3/depth", "symbol=LTCBTC&limit=5", key=None).body)
    assert (book.last_update_id, book.bids, book.asks) == (0, (), ())
    assert error(call(face, "GET", "/api/v3/depth", "limit=5", key=None))[1] == -1102
    assert wire.RECENT_TRADES_DECODER.decode(call(face, "GET", "/api/v3/trades", "symbol=LTCBTC", key=None).body) == []
    ticker = wire.BOOK_TICKER_DECODER.decode(
        call(face, "GET", "/api/v3/ticker/bookTicker", "symbol=LTCBTC", key=None).body
    )
    assert ticker.bid_price == 0
    assert len(wire.BOOK_TICKERS_DECODER.decode(call(face, "GET", "/api/v3/ticker/bookTicker", key=None).body)) == 2
    day = wire.TICKER_24HR_DECODER.decode(call(face, "GET", "/api/v3/ticker/24hr", "symbol=LTCBTC", key=None).body)
    assert (day.count, day.first_id, day.close_time) == (0, -1, DOC_TS)
    mini = json.loads(call(face, "GET", "/api/v3/ticker/24hr", "symbol=LTCBTC&type=MINI", key=None).body)
    assert "bidPrice" not in mini and mini["count"] == 0
    assert call(face, "GET", "/api/v3/nope", key=None).status == 404
    assert call(face, "PATCH", "/api/v3/order", key=None).status == 405


def test_ticker_and_trades_after_trading() -> None:
    face = make_face()
    sell = [
        ("symbol", "LTCBTC"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "2"),
        ("price", "0.002"),
    ]
    assert as_other(face, "POST", "/api/v3/order", sell).status == 200
    buy = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "MARKET"), ("quoteOrderQty", "0.002")]
    full = wire.ORDER_FULL_DECODER.decode(signed(face, "POST", "/api/v3/order", buy).body)
    assert (full.status, full.executed_qty, full.orig_quote_order_qty) == ("FILLED", D(1), D("0.002"))
    trades = wire.RECENT_TRADES_DECODER.decode(call(face, "GET", "/api/v3/trades", "symbol=LTCBTC", key=None).body)
    assert [(t.price, t.qty, t.is_buyer_maker) for t in trades] == [(D("0.002"), D(1), False)]
    mine = wire.MY_TRADES_DECODER.decode(signed(face, "GET", "/api/v3/myTrades", [("symbol", "LTCBTC")]).body)
    assert [(t.is_buyer, t.is_maker, t.commission, t.commission_asset) for t in mine] == [
        (True, False, D("0.001"), "LTC")
    ]
    face.drain(NOW_NS, set())  # the server drains after every call; the 24 h statistics learn trades there
    day = wire.TICKER_24HR_DECODER.decode(call(face, "GET", "/api/v3/ticker/24hr", "symbol=LTCBTC", key=None).body)
    assert (day.count, day.last_price, day.volume, day.quote_volume) == (1, D("0.002"), D(1), D("0.002"))
    top = wire.BOOK_TICKER_DECODER.decode(
        call(face, "GET", "/api/v3/ticker/bookTicker", "symbol=LTCBTC", key=None).body
    )
    assert (top.ask_price, top.ask_qty, top.bid_qty) == (D("0.002"), D(1), D(0))


# -- user data events ----------------------------------------------------------------------------------------


def test_engine_events_become_documented_user_events() -> None:
    face = make_face()
    wanted = {"user:doc"}
    assert call(face, "POST", "/api/v3/order", DOC_QUERY).status == 200
    outputs = face.drain(NOW_NS, wanted)
    events = [wire.USER_EVENT_DECODER.decode(o.payload or b"") for o in outputs]
    report, position = events
    assert isinstance(report, wire.ExecutionReport) and isinstance(position, wire.OutboundAccountPosition)
    assert (report.execution_type, report.order_status, report.symbol, report.price) == (
        "NEW",
        "NEW",
        "LTCBTC",
        D("0.1"),
    )
    assert (report.order_list_id, report.trade_id, report.commission_asset, report.is_working) == (-1, -1, None, True)
    assert report.event_time == report.transaction_time == report.order_creation_time == DOC_TS
    documented = json.loads(open_golden("ws_executionReport.json"))["payload"]
    produced = json.loads(outputs[0].payload or b"")
    assert set(documented) - {"d", "D", "j", "J"} <= set(produced)  # trailing/strategy fields are conditional
    assert [(b.asset, b.free, b.locked) for b in position.balances] == [("BTC", D("1.9"), D("0.1"))]
    face.deposit("doc", "USDT", D(5), NOW_NS)
    update, balance = (wire.USER_EVENT_DECODER.decode(o.payload or b"") for o in face.drain(NOW_NS, wanted))
    assert isinstance(update, wire.BalanceUpdate) and (update.asset, update.delta) == ("USDT", D(5))
    assert isinstance(balance, wire.OutboundAccountPosition)
    cancel = signed(
        face, "DELETE", "/api/v3/order", [("symbol", "LTCBTC"), ("orderId", "1"), ("newClientOrderId", "kill")]
    )
    assert cancel.status == 200
    report = wire.USER_EVENT_DECODER.decode(face.drain(NOW_NS, wanted)[0].payload or b"")
    assert isinstance(report, wire.ExecutionReport)
    assert (report.execution_type, report.client_order_id, report.orig_client_order_id) == ("CANCELED", "kill", "sim-1")
    assert face.drain(NOW_NS, set()) == []  # nobody listens: nothing is built


def open_golden(name: str) -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[1] / "exchanges" / "binance" / "payloads" / name).read_text()


def test_listen_keys_keepalive_expiry_and_close() -> None:
    face = make_face()
    created = wire.LISTEN_KEY_DECODER.decode(call(face, "POST", "/api/v3/userDataStream").body).listen_key
    assert len(created) == 60 and created.isalnum()
    assert wire.LISTEN_KEY_DECODER.decode(call(face, "POST", "/api/v3/userDataStream").body).listen_key == created
    assert error(call(face, "POST", "/api/v3/userDataStream", key=None))[1] == -2014
    hour = 3600 * 10**9
    assert call(face, "PUT", "/api/v3/userDataStream", f"listenKey={created}", now_ns=NOW_NS + hour // 2).body == b"{}"
    assert face.next_deadline_ns(NOW_NS, set()) == NOW_NS + hour + hour // 2
    face.on_timer(NOW_NS + hour * 3 // 2, set())
    (expired,) = face.drain(NOW_NS + hour * 3 // 2, set())
    event = wire.USER_EVENT_DECODER.decode(expired.payload or b"")
    assert isinstance(event, wire.ListenKeyExpired) and event.listen_key == created
    assert (expired.topic, expired.close) == (f"lk:{created}", (1000, "listenKey expired"))
    assert error(call(face, "PUT", "/api/v3/userDataStream", f"listenKey={created}"))[1:] == (
        -1125,
        "This listenKey does not exist.",
    )
    fresh = wire.LISTEN_KEY_DECODER.decode(call(face, "POST", "/api/v3/userDataStream").body).listen_key
    assert fresh != created
    assert call(face, "DELETE", "/api/v3/userDataStream", f"listenKey={fresh}").status == 200
    assert [o.close for o in face.drain(NOW_NS, set())] == [(1000, "listenKey closed")]


# -- rate limits ---------------------------------------------------------------------------------------------


def test_weight_limit_429_then_418_ban() -> None:
    limits = [wire.RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=30)]
    face = make_face(rate_limits=limits, ban_after_strikes=2)
    start = NOW_NS - (NOW_NS % (60 * 10**9))  # the start of a minute
    for used in range(1, 31):
        assert header(call(face, "GET", "/api/v3/ping", now_ns=start), "X-MBX-USED-WEIGHT-1M") == str(used)
    throttled = call(face, "GET", "/api/v3/ping", now_ns=start + 10**9)
    assert error(throttled)[:2] == (429, -1003)
    assert error(throttled)[2] == (
        "Too much request weight used; current limit is 30 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API."
    )
    assert header(throttled, "Retry-After") == "59"
    assert isinstance(map_error(429, throttled.body, retry_after=59.0), RateLimited)
    assert call(face, "GET", "/api/v3/ping", now_ns=start + 2 * 10**9).status == 429  # strike 1
    banned = call(face, "GET", "/api/v3/ping", now_ns=start + 3 * 10**9)  # strike 2: banned
    assert error(banned)[:2] == (418, -1003) and "IP banned until" in error(banned)[2]
    assert header(banned, "Retry-After") == "120"
    mapped = map_error(418, banned.body, retry_after=120.0)
    assert isinstance(mapped, RateLimited) and mapped.banned
    assert call(face, "GET", "/api/v3/ping", now_ns=start + 100 * 10**9).status == 418  # still banned
    assert call(face, "GET", "/api/v3/ping", ip="10.0.0.2", now_ns=start + 100 * 10**9).status == 200
    assert call(face, "GET", "/api/v3/ping", now_ns=start + 124 * 10**9).status == 200  # ban over


def test_order_limit_is_per_account() -> None:
    limits = [wire.RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=2)]
    face = make_face(rate_limits=limits)
    order = [("symbol", "LTCBTC"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1")]
    start = NOW_NS - NOW_NS % (10 * 10**9)
    for price in ("0.002", "0.003"):
        assert signed(face, "POST", "/api/v3/order", [*order, ("price", price)], now_ns=start).status == 200
    refused = signed(face, "POST", "/api/v3/order", [*order, ("price", "0.004")], now_ns=start)
    assert error(refused) == (429, -1015, "Too many new orders; current limit is 2 orders per 10 SECOND.")
    assert signed(face, "POST", "/api/v3/order", [*order, ("price", "0.004")], now_ns=start + 10 * 10**9).status == 200


# -- sans-IO -------------------------------------------------------------------------------------------------


def test_face_imports_without_trio_or_httpx() -> None:
    code = (
        "import sys\n"
        "import clobactors.exchanges.binance.face\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'trio', 'httpx', 'httpcore', 'trio_websocket', 'h11', 'wsproto'})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_all_error_bodies_decode() -> None:
    face = make_face()
    for query in ("", "symbol=NOPE", "symbol=LTCBTC&limit=0", "symbol=LTCBTC&limit=x", urlencode({"symbol": "é"})):
        response = call(face, "GET", "/api/v3/depth", query, key=None)
        assert response.status == 400
        msgspec.json.decode(response.body, type=wire.ErrorBody)
