"""Binance USD-M stream frames into canonical events: documented payloads with exact values, bad input.

Payloads: ``payloads/`` (copied from the USD-M docs, each naming its page) and the shared golden folder
``shared/golden/binance_usdm`` (read in place, skipped when absent).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.messages import (
    Balance,
    BestBidAsk,
    BookDelta,
    Fill,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    Position,
    Trade,
)
from clobactors.model import (
    Liquidity,
    MarginType,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from tests.exchanges.binance_usdm.helpers import RECV, golden, payload, raw, registered

MS = 1_000_000


def combined(stream: str, data: object) -> bytes:
    return raw({"stream": stream, "data": data})


def _order_event(**o: Any) -> dict[str, Any]:
    """The documented ORDER_TRADE_UPDATE with fields of ``o`` replaced (the doc's order is a trailing stop)."""
    event: dict[str, Any] = payload("ws_ORDER_TRADE_UPDATE.json")
    event["o"] = {**event["o"], **o}
    return event


# -- market --------------------------------------------------------------------------------------------------


def test_depth_update_carries_pu(dialect: BinanceUsdmDialect) -> None:
    (event,) = dialect.decode_market(combined("btcusdt@depth@100ms", payload("ws_depthUpdate.json")), RECV)
    assert event == BookDelta(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=123456788 * MS,
        ts_recv=RECV,
        bids=(("0.0024", "10"),),
        asks=(("0.0026", "100"),),
        first_sequence=157,
        sequence=160,
        prev_sequence=149,
    )


def test_agg_trade_is_a_prefixed_aggregate_id(dialect: BinanceUsdmDialect) -> None:
    (event,) = dialect.decode_market(combined("btcusdt@aggTrade", payload("ws_aggTrade.json")), RECV)
    assert event == Trade(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=123456785 * MS,
        ts_recv=RECV,
        trade_id="agg:5933014",
        price=Decimal("0.001"),
        size=Decimal("100"),
        taker_side=Side.SELL,  # m: the buyer made, so the taker sold
    )


def test_book_ticker(dialect: BinanceUsdmDialect) -> None:
    (event,) = dialect.decode_market(combined("bnbusdt@bookTicker", payload("ws_bookTicker.json")), RECV)
    assert event == BestBidAsk(
        exchange="binance_usdm",
        instrument="BNB-USDT-PERP",
        ts_exchange=1568014460891 * MS,
        ts_recv=RECV,
        bid_price=Decimal("25.35190000"),
        bid_size=Decimal("31.21000000"),
        ask_price=Decimal("25.36520000"),
        ask_size=Decimal("40.66000000"),
        sequence=400900217,
    )


def test_mark_price(dialect: BinanceUsdmDialect) -> None:
    (event,) = dialect.decode_market(combined("btcusdt@markPrice@1s", payload("ws_markPriceUpdate.json")), RECV)
    assert event == MarkPrice(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1562305380000 * MS,
        ts_recv=RECV,
        mark_price=Decimal("11794.15000000"),
        index_price=Decimal("11784.62659091"),
        funding_rate=Decimal("0.00038167"),
        next_funding_ts=1562306400000 * MS,
    )


def test_raw_event_is_routed_by_symbol_and_unknown_symbols_are_counted(dialect: BinanceUsdmDialect) -> None:
    (event,) = dialect.decode_market(raw(payload("ws_markPriceUpdate.json")), RECV)
    assert isinstance(event, MarkPrice) and event.instrument == "BTC-USDT-PERP"
    unknown = combined("xrpusdt@aggTrade", dict(payload("ws_aggTrade.json"), s="XRPUSDT"))
    assert dialect.decode_market(unknown, RECV) == []
    assert dialect.statistics().codec.unknown_symbols == 1


def test_subscribe_answers_and_errors(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_market(raw(payload("ws_subscribe_response.json")), RECV) == [Control(ControlKind.ACK, 1, "")]
    frame = b'{"code": 2, "msg": "Invalid request: too many parameters", "id": 7}'
    assert dialect.decode_market(frame, RECV) == [
        Control(ControlKind.ERROR, 7, "2: Invalid request: too many parameters")
    ]


# -- user ----------------------------------------------------------------------------------------------------


def test_order_trade_update_of_a_foreign_type_is_skipped(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_user(raw(payload("ws_ORDER_TRADE_UPDATE.json")), RECV) == []
    assert dialect.statistics().codec.foreign_orders == 1


def test_order_trade_update_new_post_only_hedge(dialect: BinanceUsdmDialect) -> None:
    frame = raw(_order_event(o="LIMIT", f="GTX", p="7100.5", ot="LIMIT"))
    (update,) = dialect.decode_user(frame, RECV)
    assert update == OrderUpdate(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1568879465650 * MS,
        ts_recv=RECV,
        client_order_id="TEST",
        exchange_order_id="8886774",
        status=OrderStatus.OPEN,
        side=Side.SELL,
        order_type=OrderType.LIMIT_MAKER,
        time_in_force=TimeInForce.GTC,
        price=Decimal("7100.5"),
        size=Decimal("0.001"),
        filled_size=Decimal("0"),
        avg_fill_price=None,
        reduce_only=False,
        position_side=PositionSide.LONG,
    )


def test_order_trade_update_trade_gives_a_fill(dialect: BinanceUsdmDialect) -> None:
    frame = raw(
        _order_event(
            o="LIMIT", p="7100", ap="7100", x="TRADE", X="PARTIALLY_FILLED", l="0.0004", z="0.0004", L="7100",
            n="0.00056800", N="USDT", t=12345, m=True, R=True, ps="BOTH",
        )
    )  # fmt: skip
    update, fill = dialect.decode_user(frame, RECV)
    assert isinstance(update, OrderUpdate) and isinstance(fill, Fill)
    assert (update.status, update.filled_size, update.avg_fill_price, update.reduce_only, update.position_side) == (
        OrderStatus.PARTIALLY_FILLED, Decimal("0.0004"), Decimal("7100"), True, PositionSide.BOTH,
    )  # fmt: skip
    assert fill == Fill(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1568879465650 * MS,
        ts_recv=RECV,
        client_order_id="TEST",
        exchange_order_id="8886774",
        trade_id="12345",
        side=Side.SELL,
        price=Decimal("7100"),
        size=Decimal("0.0004"),
        fee=Decimal("0.00056800"),
        fee_asset="USDT",
        liquidity=Liquidity.MAKER,
    )


def test_fill_without_commission_and_expiry_reason(dialect: BinanceUsdmDialect) -> None:
    event = _order_event(o="MARKET", x="TRADE", X="EXPIRED", l="0.001", z="0.001", L="7000", ap="7000", er="9")
    del event["o"]["n"], event["o"]["N"]
    update, fill = dialect.decode_user(raw(event), RECV)
    assert isinstance(update, OrderUpdate) and isinstance(fill, Fill)
    assert (update.order_type, update.price, update.status) == (OrderType.MARKET, None, OrderStatus.EXPIRED)
    assert update.reason == "market order remainder canceled"
    assert (fill.fee, fill.fee_asset, fill.liquidity) == (Decimal(0), "", Liquidity.TAKER)


def test_account_update_balances_and_positions(dialect: BinanceUsdmDialect) -> None:
    events = dialect.decode_user(raw(payload("ws_ACCOUNT_UPDATE.json")), RECV)
    ts = 1564745798938 * MS
    assert events == [
        Balance(exchange="binance_usdm", ts_exchange=ts, ts_recv=RECV, asset="USDT",
                free=Decimal("100.12345678"), locked=Decimal("122524.00000000")),
        Balance(exchange="binance_usdm", ts_exchange=ts, ts_recv=RECV, asset="BUSD",
                free=Decimal("0.00000000"), locked=Decimal("1.00000000")),
        Position(exchange="binance_usdm", instrument="BTC-USDT-PERP", ts_exchange=ts, ts_recv=RECV,
                 position_side=PositionSide.BOTH, size=Decimal("0"), entry_price=None,
                 unrealized_pnl=Decimal("0"), margin_type=MarginType.ISOLATED),
        Position(exchange="binance_usdm", instrument="BTC-USDT-PERP", ts_exchange=ts, ts_recv=RECV,
                 position_side=PositionSide.LONG, size=Decimal("20"), entry_price=Decimal("6563.66500"),
                 unrealized_pnl=Decimal("2850.21200"), margin_type=MarginType.ISOLATED),
        Position(exchange="binance_usdm", instrument="BTC-USDT-PERP", ts_exchange=ts, ts_recv=RECV,
                 position_side=PositionSide.SHORT, size=Decimal("10"), entry_price=Decimal("6563.86000"),
                 unrealized_pnl=Decimal("-1423.15600"), margin_type=MarginType.ISOLATED),
    ]  # fmt: skip
    assert isinstance(events[0], Balance) and events[0].total == Decimal("122624.12345678")


def test_account_update_funding_fee_isolated_and_cross(dialect: BinanceUsdmDialect) -> None:
    isolated = payload("ws_ACCOUNT_UPDATE.json")
    isolated["a"] = {
        "m": "FUNDING_FEE",
        "B": [{"a": "USDT", "wb": "100.5", "cw": "90", "bc": "-0.25"}],
        "P": [dict(isolated["a"]["P"][1])],
    }
    *_, funding = dialect.decode_user(raw(isolated), RECV)
    assert funding == FundingPayment(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1564745798938 * MS,
        ts_recv=RECV,
        asset="USDT",
        amount=Decimal("-0.25"),
    )
    cross = dict(isolated, a={"m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": "100.5", "cw": "100.5", "bc": "0.1"}]})
    balance, funding = dialect.decode_user(raw(cross), RECV)
    assert isinstance(balance, Balance) and isinstance(funding, FundingPayment)
    assert (funding.instrument, funding.amount) == ("", Decimal("0.1"))


def test_margin_call_is_a_logged_warning(dialect: BinanceUsdmDialect) -> None:
    (control,) = dialect.decode_user(raw(payload("ws_MARGIN_CALL.json")), RECV)
    assert isinstance(control, Control) and control.kind is ControlKind.ERROR
    assert control.detail == (
        "MARGIN_CALL cross wallet 3.16812045: ETHUSDT LONG 1.327 mark 187.17127 upnl -1.166074 maint 1.614445"
    )


def test_listen_key_expired_reconnects_and_extras_are_ignored(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_user(raw(payload("ws_listenKeyExpired.json")), RECV) == [
        Control(ControlKind.RECONNECT, None, "listenKeyExpired")
    ]
    assert dialect.decode_user(raw(payload("ws_TRADE_LITE.json")), RECV) == []
    assert dialect.decode_user(raw(payload("ws_ACCOUNT_CONFIG_UPDATE.json")), RECV) == []
    assert dialect.decode_user(b'{"e":"GRID_UPDATE","E":1,"T":1,"gu":{}}', RECV) == []
    assert dialect.statistics().codec.ignored_events == 3


def test_user_event_in_stream_mode(dialect: BinanceUsdmDialect) -> None:
    frame = raw({"stream": "somelistenkey", "data": payload("ws_listenKeyExpired.json")})
    assert dialect.decode_user(frame, RECV) == [Control(ControlKind.RECONNECT, None, "listenKeyExpired")]


# -- golden files (shared/golden/binance_usdm), read in place -------------------------------------------------


def test_golden_sdk_market_streams() -> None:
    samples = golden("ws_market_streams.json")
    d = registered()
    (delta,) = d.decode_market(raw(samples["<symbol>@depth diff (depthUpdate with pu)"]), RECV)
    assert isinstance(delta, BookDelta)
    assert (delta.instrument, delta.first_sequence, delta.sequence, delta.prev_sequence) == (
        "BNB-USDT-PERP", 157, 160, 149,
    )  # fmt: skip
    (ticker,) = d.decode_market(raw(samples["<symbol>@bookTicker"]), RECV)
    assert isinstance(ticker, BestBidAsk) and ticker.ask_size == Decimal("40.66000000")
    (trade,) = d.decode_market(raw(samples["<symbol>@aggTrade"]), RECV)
    assert isinstance(trade, Trade) and (trade.trade_id, trade.taker_side) == ("agg:5933014", Side.SELL)
    (mark,) = d.decode_market(raw(samples["<symbol>@markPrice"]), RECV)
    assert isinstance(mark, MarkPrice) and (mark.mark_price, mark.funding_rate) == (
        Decimal("11794.15000000"), Decimal("0.00038167"),
    )  # fmt: skip
    # The SDK's "partial depth" sample has one-element levels: malformed, and said so with its path.
    with pytest.raises(RemoteProtocolError) as info:
        d.decode_market(raw(samples["<symbol>@depth<levels> partial"]), RECV)
    assert info.value.path == "$.b[0]"


def _fill_placeholders(obj: Any) -> Any:
    """Hummingbot fixtures carry ``{{python expr}}`` placeholders; give them our test symbol."""
    if isinstance(obj, dict):
        return {k: _fill_placeholders(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill_placeholders(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("{{"):
        if "lower()" in obj:
            return "btcusdt"
        if "symbol" in obj or "trading_pair" in obj:
            return "BTCUSDT"
        return "OID1"
    return obj


def test_golden_hummingbot_stream_messages() -> None:
    samples = {k.split("::", 1)[1]: v for k, v in golden("hummingbot_test_messages.json").items()}
    d = registered()
    (delta,) = d.decode_market(raw(_fill_placeholders(samples["_orderbook_update_event::resp"])), RECV)
    assert isinstance(delta, BookDelta)
    assert (delta.first_sequence, delta.sequence, delta.prev_sequence) == (752409354963, 752409360466, 752409354901)
    assert delta.bids == (("43614.31", "0.000"),)
    (mark,) = d.decode_market(raw(_fill_placeholders(samples["_funding_info_event::resp"])), RECV)
    assert isinstance(mark, MarkPrice) and mark.next_funding_ts == 1641312000000 * MS
    account = _fill_placeholders(samples["_get_account_update_ws_event_single_position_dict::account_update"])
    balance, position = d.decode_user(raw(account), RECV)
    assert isinstance(balance, Balance) and isinstance(position, Position)
    assert (position.size, position.entry_price, position.margin_type) == (
        Decimal("1"), Decimal("10"), MarginType.CROSS,
    )  # fmt: skip
    fill_event = _fill_placeholders(samples["test_buy_order_fill_event_takes_fee_from_update_event::partial_fill"])
    assert d.decode_user(raw(fill_event), RECV) == []  # a trailing stop: foreign
    call = _fill_placeholders(samples["test_margin_call_event::margin_call"])
    (control,) = d.decode_user(raw(call), RECV)
    assert isinstance(control, Control) and control.kind is ControlKind.ERROR


# -- malformed corpus ----------------------------------------------------------------------------------------

VALID_MARKET = [
    combined("btcusdt@depth@100ms", payload("ws_depthUpdate.json")),
    combined("btcusdt@aggTrade", payload("ws_aggTrade.json")),
    raw(payload("ws_bookTicker.json")),
    combined("btcusdt@markPrice", payload("ws_markPriceUpdate.json")),
    raw(payload("ws_subscribe_response.json")),
]

#: Control answers and garbage envelopes are tested on both venues in tests/exchanges/binance_common/.
INVALID_MARKET = [
    (combined("btcusdt@aggTrade", {"e": "aggTrade", "E": 1}), RecoveryHint.DROP, "$"),
    (combined("btcusdt@kline_1m", {"e": "kline", "E": 1, "s": "BTCUSDT"}), RecoveryHint.DROP, "$.e"),
    (combined("btcusdt@depth@100ms", dict(payload("ws_depthUpdate.json"), pu="x")), RecoveryHint.RESYNC, "$.pu"),
    (combined("btcusdt@depth", dict(payload("ws_depthUpdate.json"), b=[["1"]])), RecoveryHint.RESYNC, "$.b[0]"),
    (combined("btcusdt@markPrice@1s", dict(payload("ws_markPriceUpdate.json"), r="")), RecoveryHint.DROP, "$.r"),
]

VALID_USER = [
    raw(payload("ws_ORDER_TRADE_UPDATE.json")),
    raw(payload("ws_ACCOUNT_UPDATE.json")),
    raw(payload("ws_TRADE_LITE.json")),
    b'{"result":null,"id":3}',
]

INVALID_USER = [
    (b"\xff", RecoveryHint.RECONNECT, ""),
    (b'"text"', RecoveryHint.RECONNECT, "$"),
    (b'{"x":1}', RecoveryHint.DROP, "$"),
    (b'{"e":"ORDER_TRADE_UPDATE","E":1}', RecoveryHint.RESYNC, "$"),
    (b'{"e":"ACCOUNT_UPDATE","E":1,"T":1,"a":{"m":"ORDER","B":[{"a":"USDT"}]}}', RecoveryHint.RESYNC, "$.a.B[0]"),
    (b'{"e":"MARGIN_CALL","E":1}', RecoveryHint.DROP, "$"),
    (raw(_order_event(X="WEIRD", o="LIMIT")), RecoveryHint.DROP, "$.o.X"),
    (raw(_order_event(o="ICEBERG")), RecoveryHint.DROP, "$.o.o"),
    (raw(_order_event(o="LIMIT", f="DAY")), RecoveryHint.DROP, "$.o.f"),
    (raw(_order_event(o="LIMIT", ps="BOTHWAYS")), RecoveryHint.DROP, "$.o.ps"),
]


@pytest.mark.parametrize("frame", VALID_MARKET)
def test_valid_market_frames(dialect: BinanceUsdmDialect, frame: bytes) -> None:
    assert len(dialect.decode_market(frame, RECV)) == 1
    assert dialect.statistics().codec.malformed == 0


@pytest.mark.parametrize(("frame", "hint", "path"), INVALID_MARKET)
def test_invalid_market_frames(dialect: BinanceUsdmDialect, frame: bytes, hint: RecoveryHint, path: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_market(frame, RECV)
    assert (info.value.hint, info.value.path) == (hint, path)
    if hint is RecoveryHint.RESYNC:
        assert info.value.instrument == "BTC-USDT-PERP"
    assert dialect.statistics().codec.malformed == 1


@pytest.mark.parametrize("frame", VALID_USER)
def test_valid_user_frames(dialect: BinanceUsdmDialect, frame: bytes) -> None:
    dialect.decode_user(frame, RECV)
    assert dialect.statistics().codec.malformed == 0


@pytest.mark.parametrize(("frame", "hint", "path"), INVALID_USER)
def test_invalid_user_frames(dialect: BinanceUsdmDialect, frame: bytes, hint: RecoveryHint, path: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_user(frame, RECV)
    assert (info.value.hint, info.value.path) == (hint, path)
    assert dialect.statistics().codec.malformed == 1


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from("esEUpuTbaiXSoxlzLmRcqfnNtBP"), children),
    max_leaves=12,
)
_STREAMS = ["btcusdt@depth@100ms", "btcusdt@aggTrade", "bnbusdt@bookTicker", "btcusdt@markPrice@1s", "x@y"]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=120), _JSONISH.map(raw), st.builds(combined, st.sampled_from(_STREAMS), _JSONISH)))
def test_arbitrary_input_never_crashes(frame: bytes) -> None:
    """Anything the wire brings is an event list or a typed RemoteProtocolError, never another exception."""
    d = registered()
    with contextlib.suppress(RemoteProtocolError):
        d.decode_market(frame, RECV)
    with contextlib.suppress(RemoteProtocolError):
        d.decode_user(frame, RECV)
