"""Binance wire structs against documented payloads: decode, exact values, encode round trips, bad input.

Payloads come from ``payloads/`` (copied from Binance's docs, each file naming its source) and, when present,
from the shared golden folder ``/work/shared/golden/binance_spot`` (read in place, skipped when absent).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance import wire as w

PAYLOADS = Path(__file__).parent / "payloads"
GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot"


def _ws_api(result_decoder: msgspec.json.Decoder[Any]) -> Callable[[bytes], tuple[object, object]]:
    """WebSocket API response: envelope first, then the method's result (two-stage, via Raw)."""

    def decode(data: bytes) -> tuple[object, object]:
        response = w.WS_API_RESPONSE_DECODER.decode(data)
        result = result_decoder.decode(response.result) if response.error is None else None
        return (response, result)

    return decode


def _combined(data: bytes) -> tuple[object, object]:
    frame = w.COMBINED_FRAME_DECODER.decode(data)
    return (frame, w.decode_stream_payload(frame.stream, frame.data))


def _ws_api_event(data: bytes) -> tuple[object, object]:
    frame = w.WS_API_EVENT_DECODER.decode(data)
    return (frame, w.USER_EVENT_DECODER.decode(frame.event))


def _exchange_info(data: bytes) -> object:
    info = w.EXCHANGE_INFO_DECODER.decode(data)
    return (info, [s.symbol_filters() for s in info.symbols], w.decode_filters(info.exchange_filters))


#: Every payload file and how it decodes; the first stage is what the encode round trip checks.
DECODE: dict[str, Callable[[bytes], object]] = {
    "http_get_ping.json": w.EMPTY_DECODER.decode,
    "http_get_time.json": w.SERVER_TIME_DECODER.decode,
    "http_get_exchangeInfo.json": _exchange_info,
    "http_get_depth.json": w.ORDER_BOOK_DECODER.decode,
    "http_get_trades.json": w.RECENT_TRADES_DECODER.decode,
    "http_get_ticker_bookTicker.json": w.BOOK_TICKER_DECODER.decode,
    "http_get_ticker_bookTicker_symbols.json": w.BOOK_TICKERS_DECODER.decode,
    "http_get_ticker_24hr.json": w.TICKER_24HR_DECODER.decode,
    "http_post_order_ack.json": w.ORDER_ACK_DECODER.decode,
    "http_post_order_result.json": w.ORDER_RESULT_DECODER.decode,
    "http_post_order_full.json": w.ORDER_FULL_DECODER.decode,
    "http_get_order.json": w.ORDER_INFO_DECODER.decode,
    "http_get_openOrders.json": w.OPEN_ORDERS_DECODER.decode,
    "http_delete_order.json": w.CANCELED_ORDER_DECODER.decode,
    "http_delete_openOrders.json": w.decode_cancel_all,
    "http_get_account.json": w.ACCOUNT_DECODER.decode,
    "http_get_myTrades.json": w.MY_TRADES_DECODER.decode,
    "http_post_userDataStream.json": w.LISTEN_KEY_DECODER.decode,
    "http_error.json": w.ERROR_DECODER.decode,
    "http_delete_order_error_cancel_restrictions.json": w.ERROR_DECODER.decode,
    "ws_depthUpdate.json": w.MARKET_EVENT_DECODER.decode,
    "ws_depth5.json": w.PARTIAL_DEPTH_DECODER.decode,
    "ws_trade.json": w.MARKET_EVENT_DECODER.decode,
    "ws_aggTrade.json": w.MARKET_EVENT_DECODER.decode,
    "ws_bookTicker.json": w.BOOK_TICKER_EVENT_DECODER.decode,
    "ws_combined_aggTrade.json": _combined,
    "ws_subscribe_request.json": w.STREAM_REQUEST_DECODER.decode,
    "ws_unsubscribe_request.json": w.STREAM_REQUEST_DECODER.decode,
    "ws_list_subscriptions_request.json": w.STREAM_REQUEST_DECODER.decode,
    "ws_set_property_request.json": w.STREAM_REQUEST_DECODER.decode,
    "ws_subscribe_response.json": w.STREAM_RESPONSE_DECODER.decode,
    "ws_list_subscriptions_response.json": w.STREAM_RESPONSE_DECODER.decode,
    "ws_error.json": w.STREAM_ERROR_DECODER.decode,
    "ws_executionReport.json": w.USER_EVENT_DECODER.decode,
    "ws_outboundAccountPosition.json": w.USER_EVENT_DECODER.decode,
    "ws_balanceUpdate.json": w.USER_EVENT_DECODER.decode,
    "ws_listStatus.json": w.USER_EVENT_DECODER.decode,
    "ws_listenKeyExpired.json": w.USER_EVENT_DECODER.decode,
    "ws_api_order_place_response.json": _ws_api(w.ORDER_RESULT_DECODER),
    "ws_api_error_response.json": _ws_api(w.ORDER_RESULT_DECODER),
    "ws_api_banned_response.json": _ws_api(w.ORDER_RESULT_DECODER),
    "ws_api_time_response.json": _ws_api(w.SERVER_TIME_DECODER),
    "ws_api_userDataStream_subscribe_response.json": _ws_api(w.USER_DATA_SUBSCRIPTION_DECODER),
    "ws_api_session_logon_response.json": _ws_api(w.SESSION_STATUS_DECODER),
    "ws_api_time_request.json": w.WS_API_REQUEST_DECODER.decode,
    "ws_api_event.json": _ws_api_event,
}


def _payload(name: str) -> bytes:
    doc = json.loads((PAYLOADS / name).read_text())
    assert doc["source"] and doc["url"], f"{name} must name its doc source"
    return json.dumps(doc["payload"]).encode()


def _first(decoded: object) -> object:
    return decoded[0] if isinstance(decoded, tuple) else decoded


def test_every_payload_file_has_a_decoder() -> None:
    assert {p.name for p in PAYLOADS.glob("*.json")} == set(DECODE)


@pytest.mark.parametrize("name", sorted(DECODE))
def test_documented_payload_decodes_and_reencodes_identically(name: str) -> None:
    """Decode, encode back: the JSON equals the documented payload (the simulator emits what Binance does)."""
    data = _payload(name)
    decoded = DECODE[name](data)
    first = _first(decoded)
    assert isinstance(first, msgspec.Struct | list)
    reencoded = w.ENCODER.encode(first)
    assert json.loads(reencoded) == json.loads(data)
    assert _first(DECODE[name](reencoded)) == first


def test_depth_levels_are_exact_decimals() -> None:
    book = w.ORDER_BOOK_DECODER.decode(_payload("http_get_depth.json"))
    assert book.last_update_id == 1027024
    assert book.bids == ((Decimal("4.00000000"), Decimal("431.00000000")),)
    assert str(book.asks[0][0]) == "4.00000200"  # trailing zeros kept, no float in between


def test_depth_update_fields() -> None:
    event = w.MARKET_EVENT_DECODER.decode(_payload("ws_depthUpdate.json"))
    assert isinstance(event, w.DepthUpdate)
    assert (event.symbol, event.first_update_id, event.final_update_id, event.event_time) == (
        "BNBBTC",
        157,
        160,
        1672515782136,
    )
    assert event.bids == ((Decimal("0.0024"), Decimal("10")),)
    assert event.asks == ((Decimal("0.0026"), Decimal("100")),)


def test_trade_and_agg_trade_fields() -> None:
    trade = w.MARKET_EVENT_DECODER.decode(_payload("ws_trade.json"))
    assert isinstance(trade, w.TradeEvent)
    assert (trade.trade_id, trade.price, trade.quantity, trade.buyer_is_maker) == (
        12345,
        Decimal("0.001"),
        Decimal(100),
        True,
    )
    assert (trade.buyer_order_id, trade.seller_order_id) == (88, 50)
    agg = w.MARKET_EVENT_DECODER.decode(_payload("ws_aggTrade.json"))
    assert isinstance(agg, w.AggTradeEvent)
    assert (agg.agg_trade_id, agg.first_trade_id, agg.last_trade_id) == (12345, 100, 105)


def test_book_ticker_event() -> None:
    event = w.BOOK_TICKER_EVENT_DECODER.decode(_payload("ws_bookTicker.json"))
    assert event == w.BookTickerEvent(
        update_id=400900217,
        symbol="BNBUSDT",
        bid_price=Decimal("25.35190000"),
        bid_qty=Decimal("31.21000000"),
        ask_price=Decimal("25.36520000"),
        ask_qty=Decimal("40.66000000"),
    )


def test_order_responses_ack_result_full() -> None:
    ack = w.ORDER_ACK_DECODER.decode(_payload("http_post_order_ack.json"))
    assert (ack.order_id, ack.client_order_id, ack.order_list_id) == (28, "6gCrw2kRUAF9CvJDGP16IP", -1)
    full = w.ORDER_FULL_DECODER.decode(_payload("http_post_order_full.json"))
    assert full.status == "FILLED" and full.executed_qty == Decimal("10")
    assert [f.trade_id for f in full.fills] == [56, 57, 58, 59, 60]
    assert sum((f.qty for f in full.fills), Decimal(0)) == full.executed_qty
    assert full.fills[1].commission == Decimal("19.99500000")
    assert full.stop_price is None  # conditional field absent


def test_query_and_cancel() -> None:
    info = w.ORDER_INFO_DECODER.decode(_payload("http_get_order.json"))
    assert info.is_working and info.stop_price == Decimal("0.0") and info.iceberg_qty == Decimal("0.0")
    canceled = w.CANCELED_ORDER_DECODER.decode(_payload("http_delete_order.json"))
    assert (canceled.orig_client_order_id, canceled.status, canceled.transact_time) == (
        "myOrder1",
        "CANCELED",
        None,
    )


def test_cancel_all_mixes_orders_and_order_lists() -> None:
    items = w.decode_cancel_all(_payload("http_delete_openOrders.json"))
    assert [type(i) for i in items] == [w.CanceledOrder, w.OrderListStatus]
    order_list = items[1]
    assert isinstance(order_list, w.OrderListStatus)
    assert [r.type for r in order_list.order_reports] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]


def test_account_and_trades() -> None:
    account = w.ACCOUNT_DECODER.decode(_payload("http_get_account.json"))
    assert account.commission_rates.maker == Decimal("0.0015")
    assert {b.asset: b.free for b in account.balances}["BTC"] == Decimal("4723846.89208129")
    assert account.uid is None  # newer field, absent from this revision
    trades = w.MY_TRADES_DECODER.decode(_payload("http_get_myTrades.json"))
    assert trades[0].commission_asset == "BNB" and not trades[0].is_maker


def test_exchange_info_filters_dispatch() -> None:
    info = w.EXCHANGE_INFO_DECODER.decode(_payload("http_get_exchangeInfo.json"))
    assert [r.rate_limit_type for r in info.rate_limits] == ["REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS"]
    (symbol,) = info.symbols
    filters = {type(f): f for f in symbol.symbol_filters()}
    assert filters[w.PriceFilter] == w.PriceFilter(
        min_price=Decimal("0.000001"), max_price=Decimal("100000"), tick_size=Decimal("0.000001")
    )
    lot = filters[w.LotSize]
    assert isinstance(lot, w.LotSize) and lot.step_size == Decimal("0.001")
    notional = filters[w.Notional]
    assert isinstance(notional, w.Notional) and notional.max_notional == Decimal("10000")
    assert w.decode_filters(info.exchange_filters) == (w.ExchangeMaxNumOrders(max_num_orders=1000),)


def test_unknown_filter_is_kept_not_fatal() -> None:
    raw = msgspec.Raw(b'{"filterType":"MAX_NUM_ORDER_LISTS","maxNumOrderLists":20}')
    (decoded,) = w.decode_filters([raw, msgspec.Raw(b'{"filterType":"ICEBERG_PARTS","limit":10}')])[:1]
    assert decoded == w.UnknownFilter(filter_type="MAX_NUM_ORDER_LISTS", raw=raw)
    info = w.SymbolInfo(
        symbol="X1Y1",
        status="TRADING",
        base_asset="X1",
        base_asset_precision=8,
        quote_asset="Y1",
        quote_asset_precision=8,
        order_types=("LIMIT",),
        permissions=(),
        filters=w.encode_filters([decoded, w.IcebergParts(limit=10)]),
    )
    again = w.EXCHANGE_INFO_DECODER.decode(
        w.encode(
            w.ExchangeInfo(
                timezone="UTC", server_time=1, rate_limits=(), exchange_filters=(), symbols=(info,)
            )
        )
    )
    assert again.symbols[0].symbol_filters() == (decoded, w.IcebergParts(limit=10))


def test_known_filter_with_bad_field_is_an_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="tickSize"):
        w.decode_filter(b'{"filterType":"PRICE_FILTER","minPrice":"1","maxPrice":"2","tickSize":true}')


def test_execution_report_every_field() -> None:
    report = w.USER_EVENT_DECODER.decode(_payload("ws_executionReport.json"))
    assert isinstance(report, w.ExecutionReport)
    assert (report.symbol, report.client_order_id, report.side, report.order_type) == (
        "ETHBTC",
        "mUvoqJxFIILMdfAW5iGSOW",
        "BUY",
        "LIMIT",
    )
    assert report.price == Decimal("0.10264410") and report.quantity == Decimal("1")
    assert (report.execution_type, report.order_status, report.reject_reason) == ("NEW", "NEW", "NONE")
    assert report.commission_asset is None and report.trade_id == -1
    assert (report.trailing_delta, report.trailing_time, report.strategy_id, report.strategy_type) == (
        4,
        1668680518494,
        1,
        1000000,
    )
    assert report.prevented_match_id is None


def test_user_events() -> None:
    position = w.USER_EVENT_DECODER.decode(_payload("ws_outboundAccountPosition.json"))
    assert isinstance(position, w.OutboundAccountPosition)
    assert position.balances == (w.PositionBalance(asset="ETH", free=Decimal("10000"), locked=Decimal(0)),)
    update = w.USER_EVENT_DECODER.decode(_payload("ws_balanceUpdate.json"))
    assert isinstance(update, w.BalanceUpdate) and update.delta == Decimal("100")
    expired = w.USER_EVENT_DECODER.decode(_payload("ws_listenKeyExpired.json"))
    assert isinstance(expired, w.ListenKeyExpired) and expired.listen_key.startswith("OfYG")


def test_ws_api_envelopes() -> None:
    response = w.WS_API_RESPONSE_DECODER.decode(_payload("ws_api_order_place_response.json"))
    result = w.ORDER_RESULT_DECODER.decode(response.result)
    assert response.status == 200 and result.order_id == 12510053279
    assert [r.count for r in response.rate_limits] == [12, 4043, 321]
    failed = w.WS_API_RESPONSE_DECODER.decode(_payload("ws_api_error_response.json"))
    assert failed.result == w.NULL
    assert failed.error == w.ErrorBody(
        code=-2010, msg="Account has insufficient balance for requested action."
    )
    frame = w.WS_API_EVENT_DECODER.decode(_payload("ws_api_event.json"))
    event = w.USER_EVENT_DECODER.decode(frame.event)
    assert frame.subscription_id is None
    assert isinstance(event, w.OutboundAccountPosition) and len(event.balances) == 2


def test_ws_api_request_encoding() -> None:
    request = w.WsApiRequest(id="sub-1", method="userDataStream.subscribe.signature", params={"apiKey": "k"})
    assert json.loads(w.encode(request)) == {
        "id": "sub-1",
        "method": "userDataStream.subscribe.signature",
        "params": {"apiKey": "k"},
    }
    assert json.loads(w.encode(w.WsApiRequest(id=1, method="time"))) == {"id": 1, "method": "time"}


def test_stream_payload_routing_by_name() -> None:
    assert isinstance(
        w.decode_stream_payload("bnbusdt@bookTicker", _payload("ws_bookTicker.json")), w.BookTickerEvent
    )
    for name in ("bnbbtc@depth5", "bnbbtc@depth10@100ms", "bnbbtc@depth20@1000ms"):
        assert isinstance(w.decode_stream_payload(name, _payload("ws_depth5.json")), w.PartialBookDepth)
    assert isinstance(
        w.decode_stream_payload("bnbbtc@depth@100ms", _payload("ws_depthUpdate.json")), w.DepthUpdate
    )
    shutdown = w.decode_stream_payload("!serverShutdown", b'{"e":"serverShutdown","E":1770123456789}')
    assert shutdown == w.ServerShutdown(event_time=1770123456789)


# -- malformed frames ----------------------------------------------------------------------------------------

VALID_FRAMES = [
    b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}',
    b'{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":false,"extra":{"x":[1]}}',
    b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1","q":"1","f":1,"l":1,"T":1,"m":true}',
]

#: (frame, msgspec path in the error or "" when the bytes are not JSON at all)
INVALID_FRAMES = [
    (b"", ""),
    (b"not json", ""),
    (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","2"]],', ""),
    (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","2"', ""),
    (b'{"e":"depthUpdate","E":"1","s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}', "$.E"),
    (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["x","2"]],"a":[]}', "$.b[0][0]"),
    (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}', "$.b[0]"),
    (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"b":[],"a":[]}', "$"),
    (b'{"e":"kline","E":1}', "$.e"),
    (b'{"E":1}', "$"),
    (b"[1,2,3]", "$"),
    (b"null", "$"),
]


@pytest.mark.parametrize("frame", VALID_FRAMES)
def test_valid_frames(frame: bytes) -> None:
    assert isinstance(
        w.decode_checked(w.MARKET_EVENT_DECODER, frame, what="market event"),
        w.DepthUpdate | w.TradeEvent | w.AggTradeEvent,
    )


@pytest.mark.parametrize(("frame", "path"), INVALID_FRAMES)
def test_invalid_frames_give_remote_protocol_error_with_path(frame: bytes, path: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        w.decode_checked(
            w.MARKET_EVENT_DECODER, frame, what="depthUpdate", hint=RecoveryHint.RESYNC, instrument="BTC-USDT"
        )
    error = info.value
    assert isinstance(error.__cause__, msgspec.DecodeError)
    assert error.path == path
    assert error.hint is RecoveryHint.RESYNC and error.instrument == "BTC-USDT"
    assert str(error).startswith("malformed Binance depthUpdate: ")


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    decoders: tuple[msgspec.json.Decoder[Any], ...] = (
        w.MARKET_EVENT_DECODER,
        w.USER_EVENT_DECODER,
        w.WS_API_RESPONSE_DECODER,
        w.EXCHANGE_INFO_DECODER,
    )
    for decoder in decoders:
        with contextlib.suppress(RemoteProtocolError):
            w.decode_checked(decoder, data, what="fuzz")


_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=0, max_value=10**9)
_LEVELS = st.lists(st.tuples(_DECIMALS, _DECIMALS), max_size=5).map(tuple)


@settings(max_examples=100)
@given(
    symbol=st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=12),
    first=st.integers(min_value=0, max_value=2**62),
    span=st.integers(min_value=0, max_value=1000),
    bids=_LEVELS,
    asks=_LEVELS,
)
def test_depth_update_round_trip(
    symbol: str, first: int, span: int, bids: tuple[w.Level, ...], asks: tuple[w.Level, ...]
) -> None:
    event = w.DepthUpdate(
        event_time=1, symbol=symbol, first_update_id=first, final_update_id=first + span, bids=bids, asks=asks
    )
    decoded = w.MARKET_EVENT_DECODER.decode(w.encode(event))
    assert decoded == event
    assert [str(p) for p, _ in decoded.bids] == [str(p) for p, _ in bids]  # digits, not just value


# -- golden files from /work/shared (read in place; skipped when absent) -------------------------------------


def _is_subset(encoded: object, original: object) -> bool:
    """Every key we encode is in the original with the same value (we model fewer fields, never others)."""
    if isinstance(encoded, dict) and isinstance(original, dict):
        return all(k in original and _is_subset(v, original[k]) for k, v in encoded.items())
    if isinstance(encoded, list) and isinstance(original, list):
        return len(encoded) == len(original) and all(map(_is_subset, encoded, original))
    return encoded == original


def _assert_faithful(decoded: object, payload: object, name: str) -> None:
    """Golden payloads may carry fields newer than ours: encoding must be a faithful subset and round-trip."""
    assert isinstance(decoded, msgspec.Struct | list), name
    encoded = w.encode(decoded)
    assert _is_subset(json.loads(encoded), payload), name
    assert type(decoded) is list or msgspec.json.decode(encoded, type=type(decoded)) == decoded, name


def _golden(name: str) -> list[dict[str, Any]]:
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    samples: list[dict[str, Any]] = json.loads(path.read_text())["samples"]
    return samples


_GOLDEN_REST: dict[str, Callable[[bytes], object]] = {
    "GET /api/v3/exchangeInfo": _exchange_info,
    "GET /api/v3/depth": w.ORDER_BOOK_DECODER.decode,
    "GET /api/v3/trades": w.RECENT_TRADES_DECODER.decode,
    "GET /api/v3/ticker/bookTicker single": w.BOOK_TICKER_DECODER.decode,
    "POST /api/v3/order newOrderRespType=ACK": w.ORDER_ACK_DECODER.decode,
    "POST /api/v3/order newOrderRespType=RESULT": w.ORDER_RESULT_DECODER.decode,
    "POST /api/v3/order newOrderRespType=FULL": w.ORDER_FULL_DECODER.decode,
    "DELETE /api/v3/order": w.CANCELED_ORDER_DECODER.decode,
    "DELETE /api/v3/order cancelRestrictions error ONLY_NEW": w.ERROR_DECODER.decode,
    "DELETE /api/v3/order cancelRestrictions error ONLY_PARTIALLY_FILLED": w.ERROR_DECODER.decode,
    "DELETE /api/v3/openOrders": w.decode_cancel_all,
    "POST /api/v3/order/cancelReplace success": w.CANCEL_REPLACE_DECODER.decode,
    "GET /api/v3/account": w.ACCOUNT_DECODER.decode,
    "GET /api/v3/order": w.ORDER_INFO_DECODER.decode,
    "GET /api/v3/openOrders": w.OPEN_ORDERS_DECODER.decode,
    "GET /api/v3/myTrades": w.MY_TRADES_DECODER.decode,
    "GET /api/v3/account/commission": w.ACCOUNT_COMMISSION_DECODER.decode,
    "error_payload_format": w.ERROR_DECODER.decode,
}


def test_golden_rest_responses() -> None:
    samples = _golden("rest_responses.json")
    assert {s["name"] for s in samples} == set(_GOLDEN_REST)
    for sample in samples:
        payload = sample["json"]
        if sample["name"] == "GET /api/v3/exchangeInfo":
            # The doc's example leaves rateLimits as a comment inside `{}`: a placeholder, not a rate limit.
            assert payload["rateLimits"] == [{}]
            payload = dict(payload, rateLimits=[])
        decoded = _first(_GOLDEN_REST[sample["name"]](json.dumps(payload).encode()))
        _assert_faithful(decoded, payload, sample["name"])


def test_golden_cancel_replace_inner_responses() -> None:
    (sample,) = [
        s for s in _golden("rest_responses.json") if s["name"].startswith("POST /api/v3/order/cancelReplace")
    ]
    result = w.CANCEL_REPLACE_DECODER.decode(json.dumps(sample["json"]).encode())
    assert w.CANCELED_ORDER_DECODER.decode(result.cancel_response).order_id == 9
    assert w.ORDER_FULL_DECODER.decode(result.new_order_response).fills == ()


def test_golden_symbol_filters() -> None:
    for sample in _golden("symbol_filters.json"):
        decoded = w.decode_filter(json.dumps(sample["json"]).encode())
        assert not isinstance(decoded, w.UnknownFilter), sample["name"]
        _assert_faithful(decoded, sample["json"], sample["name"])


def test_golden_market_streams() -> None:
    by_name = {s["name"]: s["json"] for s in _golden("ws_market_streams.json")}
    streams = {
        "aggTrade": "bnbbtc@aggTrade",
        "trade": "bnbbtc@trade",
        "bookTicker": "bnbusdt@bookTicker",
        "partial_depth_depth5_10_20": "bnbbtc@depth10",
        "depthUpdate_diff": "bnbbtc@depth",
        "serverShutdown_event": "!serverShutdown",
    }
    for name, stream in streams.items():
        event = w.decode_stream_payload(stream, json.dumps(by_name[name]).encode())
        _assert_faithful(event, by_name[name], name)
    assert w.STREAM_REQUEST_DECODER.decode(json.dumps(by_name["subscribe_request"]).encode()).params == (
        "btcusdt@aggTrade",
        "btcusdt@depth",
    )
    assert w.STREAM_RESPONSE_DECODER.decode(json.dumps(by_name["subscribe_response"]).encode()).result is None
    wrapped = json.dumps(by_name["serverShutdown_event_combined_stream_wrapper"]).encode()
    assert isinstance(_combined(wrapped)[1], w.ServerShutdown)


def test_golden_user_data_stream() -> None:
    for sample in _golden("user_data_stream.json"):
        frame = w.WS_API_EVENT_DECODER.decode(json.dumps(sample["json"]).encode())
        assert frame.subscription_id == 0
        event = w.USER_EVENT_DECODER.decode(frame.event)
        _assert_faithful(event, sample["json"]["event"], sample["name"])


def test_golden_hummingbot_fixtures_that_are_complete() -> None:
    """Secondary source: hummingbot's hand-shaped fixtures, only those without placeholders and complete."""
    samples = {s["name"]: s["json"] for s in _golden("hummingbot_test_messages.json")}
    pick = {
        "_successfully_subscribed_event::resp": w.STREAM_RESPONSE_DECODER.decode,
        "_snapshot_response::resp": w.ORDER_BOOK_DECODER.decode,
        "test_trade_message_from_exchange::trade_update": w.MARKET_EVENT_DECODER.decode,
        "_user_update_event_inner::return": w.USER_EVENT_DECODER.decode,
        "_user_update_event::resp": _ws_api_event,
        "test_process_event_message_handles_stream_terminated::terminated_event": _ws_api_event,
    }
    for suffix, decode in pick.items():
        (payload,) = [v for k, v in samples.items() if k.endswith(suffix)]
        assert _first(decode(json.dumps(payload).encode())) is not None


# -- sans-IO -------------------------------------------------------------------------------------------------


def test_package_imports_without_trio_or_httpx() -> None:
    code = (
        "import sys\n"
        "import clobactors.exchanges.binance\n"
        "from clobactors.exchanges.binance import errors, signing, urls, wire\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'trio', 'httpx', 'httpcore', 'trio_websocket', 'anyio', 'h11', 'wsproto'})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
