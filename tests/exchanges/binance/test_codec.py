"""Binance stream frames into canonical events: documented payloads with exact values, routing, bad input.

Payloads: ``payloads/`` (copied from Binance's docs, each naming its source) and the shared golden folder
``shared/golden/binance_spot`` beside the checkout (read in place, skipped when absent).
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance import BinanceSpotDialect
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.messages import Balance, BestBidAsk, BookDelta, BookSnapshot, Fill, OrderUpdate, Trade
from clobactors.model import Instrument, Liquidity, OrderStatus, OrderType, Side, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads"
GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot"
RECV = 1_700_000_000_123_456_789
INSTRUMENTS = [
    Instrument.spot("binance", "BNB", "BTC", "BNBBTC"),
    Instrument.spot("binance", "BNB", "USDT", "BNBUSDT"),
    Instrument.spot("binance", "ETH", "BTC", "ETHBTC"),
]


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())["payload"]


def raw(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def golden(name: str) -> dict[str, Any]:
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return {s["name"]: s["json"] for s in json.loads(path.read_text())["samples"]}


@pytest.fixture
def dialect() -> BinanceSpotDialect:
    d = BinanceSpotDialect.for_environment()
    d.register_instruments(INSTRUMENTS)
    return d


def combined(stream: str, data: object) -> bytes:
    return raw({"stream": stream, "data": data})


# -- market --------------------------------------------------------------------------------------------------


def test_depth_update(dialect: BinanceSpotDialect) -> None:
    (event,) = dialect.decode_market(combined("bnbbtc@depth@100ms", payload("ws_depthUpdate.json")), RECV)
    assert event == BookDelta(
        exchange="binance",
        instrument="BNB-BTC",
        ts_exchange=1672515782136 * 1_000_000,
        ts_recv=RECV,
        bids=(("0.0024", "10"),),
        asks=(("0.0026", "100"),),
        first_sequence=157,
        sequence=160,
    )


def test_trade_taker_side(dialect: BinanceSpotDialect) -> None:
    data = payload("ws_trade.json")
    (event,) = dialect.decode_market(combined("bnbbtc@trade", data), RECV)
    assert event == Trade(
        exchange="binance",
        instrument="BNB-BTC",
        ts_exchange=1672515782136 * 1_000_000,
        ts_recv=RECV,
        trade_id="12345",
        price=Decimal("0.001"),
        size=Decimal("100"),
        taker_side=Side.SELL,  # m=true: the buyer was the maker
    )
    (buy,) = dialect.decode_market(combined("bnbbtc@trade", dict(data, m=False)), RECV)
    assert isinstance(buy, Trade) and buy.taker_side is Side.BUY


def test_book_ticker(dialect: BinanceSpotDialect) -> None:
    (event,) = dialect.decode_market(combined("bnbusdt@bookTicker", payload("ws_bookTicker.json")), RECV)
    assert event == BestBidAsk(
        exchange="binance",
        instrument="BNB-USDT",
        ts_recv=RECV,
        bid_price=Decimal("25.35190000"),
        bid_size=Decimal("31.21000000"),
        ask_price=Decimal("25.36520000"),
        ask_size=Decimal("40.66000000"),
        sequence=400900217,
    )
    empty = dict(payload("ws_bookTicker.json"), a="0.00000000", A="0.00000000")
    (one_sided,) = dialect.decode_market(combined("bnbusdt@bookTicker", empty), RECV)
    assert isinstance(one_sided, BestBidAsk) and one_sided.ask_price is None and one_sided.ask_size == 0


def test_partial_depth_is_a_snapshot(dialect: BinanceSpotDialect) -> None:
    (event,) = dialect.decode_market(combined("bnbbtc@depth5@100ms", payload("ws_depth5.json")), RECV)
    assert isinstance(event, BookSnapshot) and (event.instrument, event.sequence) == ("BNB-BTC", 160)


def test_raw_event_without_envelope(dialect: BinanceSpotDialect) -> None:
    (event,) = dialect.decode_market(raw(payload("ws_depthUpdate.json")), RECV)
    assert isinstance(event, BookDelta) and event.instrument == "BNB-BTC"


def test_control_frames(dialect: BinanceSpotDialect) -> None:
    assert dialect.decode_market(raw(payload("ws_subscribe_response.json")), RECV) == [Control(ControlKind.ACK, 1, "")]
    listed = dialect.decode_market(raw(payload("ws_list_subscriptions_response.json")), RECV)
    assert listed[0] == Control(ControlKind.ACK, 3, '["btcusdt@aggTrade"]')
    (error,) = dialect.decode_market(raw(payload("ws_error.json")), RECV)
    assert error == Control(ControlKind.ERROR, None, "2: Invalid request: missing field `method` at line 1 column 73")
    shutdown = {"e": "serverShutdown", "E": 1770123456789}
    for frame in (raw(shutdown), combined("!serverShutdown", shutdown)):
        assert dialect.decode_market(frame, RECV) == [Control(ControlKind.RECONNECT, None, "serverShutdown")]


def test_unknown_symbols_and_agg_trades_are_dropped_and_counted(dialect: BinanceSpotDialect) -> None:
    assert dialect.decode_market(combined("btcusdt@depth@100ms", payload("ws_depthUpdate.json")), RECV) == []
    assert dialect.decode_market(raw(dict(payload("ws_trade.json"), s="XRPUSDT")), RECV) == []
    assert dialect.decode_market(raw(payload("ws_combined_aggTrade.json")), RECV) == []
    stats = dialect.statistics()
    assert (stats.unknown_symbols, stats.ignored_events, stats.malformed) == (2, 1, 0)


def test_accepts_text_frames(dialect: BinanceSpotDialect) -> None:
    text = combined("bnbbtc@trade", payload("ws_trade.json")).decode()
    assert isinstance(dialect.decode_market(text, RECV)[0], Trade)


# -- user data -----------------------------------------------------------------------------------------------


def test_execution_report_new(dialect: BinanceSpotDialect) -> None:
    (update,) = dialect.decode_user(raw(payload("ws_executionReport.json")), RECV)
    assert update == OrderUpdate(
        exchange="binance",
        instrument="ETH-BTC",
        ts_exchange=1499405658657 * 1_000_000,
        ts_recv=RECV,
        client_order_id="mUvoqJxFIILMdfAW5iGSOW",
        exchange_order_id="4293153",
        status=OrderStatus.OPEN,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=Decimal("0.10264410"),
        size=Decimal("1.00000000"),
        filled_size=Decimal("0.00000000"),
        avg_fill_price=None,
    )


def test_execution_report_trade_gives_a_fill(dialect: BinanceSpotDialect) -> None:
    trade = dict(
        payload("ws_executionReport.json"),
        x="TRADE",
        X="PARTIALLY_FILLED",
        t=77,
        l="0.40000000",
        L="0.10264410",
        z="0.40000000",
        Z="0.04105764",
        n="0.00040000",
        N="ETH",
        m=True,
    )
    update, fill = dialect.decode_user(raw({"subscriptionId": 0, "event": trade}), RECV)
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.PARTIALLY_FILLED
    assert update.filled_size == Decimal("0.4") and update.avg_fill_price == Decimal("0.10264410")
    assert fill == Fill(
        exchange="binance",
        instrument="ETH-BTC",
        ts_exchange=1499405658657 * 1_000_000,
        ts_recv=RECV,
        client_order_id="mUvoqJxFIILMdfAW5iGSOW",
        exchange_order_id="4293153",
        trade_id="77",
        side=Side.BUY,
        price=Decimal("0.10264410"),
        size=Decimal("0.40000000"),
        fee=Decimal("0.00040000"),
        fee_asset="ETH",
        liquidity=Liquidity.MAKER,
    )


@pytest.mark.parametrize(
    ("x", "status", "expected"),
    [
        ("CANCELED", "CANCELED", OrderStatus.CANCELLED),
        ("REJECTED", "REJECTED", OrderStatus.REJECTED),
        ("EXPIRED", "EXPIRED", OrderStatus.EXPIRED),
        ("TRADE_PREVENTION", "EXPIRED_IN_MATCH", OrderStatus.EXPIRED),
        ("TRADE", "FILLED", OrderStatus.FILLED),
        ("NEW", "PENDING_CANCEL", OrderStatus.PENDING_CANCEL),
    ],
)
def test_execution_report_statuses(dialect: BinanceSpotDialect, x: str, status: str, expected: OrderStatus) -> None:
    report = dict(payload("ws_executionReport.json"), x=x, X=status, C="orig-1", c="cancel-9", r="NONE")
    update = dialect.decode_user(raw(report), RECV)[0]
    assert isinstance(update, OrderUpdate) and update.status is expected
    assert update.client_order_id == "orig-1"  # a cancel's own id is c; the order's is C


def test_execution_report_market_and_reject_reason(dialect: BinanceSpotDialect) -> None:
    report = dict(
        payload("ws_executionReport.json"), o="MARKET", p="0.00000000", X="REJECTED", r="INSUFFICIENT_BALANCE"
    )
    (update,) = dialect.decode_user(raw(report), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.price, update.order_type, update.reason) == (None, OrderType.MARKET, "INSUFFICIENT_BALANCE")


def test_foreign_order_types_are_skipped(dialect: BinanceSpotDialect) -> None:
    assert dialect.decode_user(raw(dict(payload("ws_executionReport.json"), o="STOP_LOSS_LIMIT")), RECV) == []
    assert dialect.statistics().foreign_orders == 1


def test_account_position_and_ignored_deltas(dialect: BinanceSpotDialect) -> None:
    (balance,) = dialect.decode_user(raw(payload("ws_outboundAccountPosition.json")), RECV)
    assert balance == Balance(
        exchange="binance",
        ts_exchange=1564034571073 * 1_000_000,
        ts_recv=RECV,
        asset="ETH",
        free=Decimal("10000.000000"),
        locked=Decimal("0.000000"),
    )
    assert dialect.decode_user(raw(payload("ws_balanceUpdate.json")), RECV) == []
    assert dialect.decode_user(raw(payload("ws_listStatus.json")), RECV) == []
    assert dialect.statistics().ignored_events == 2


def test_ws_api_envelope_and_answers(dialect: BinanceSpotDialect) -> None:
    balances = dialect.decode_user(raw(payload("ws_api_event.json")), RECV)
    assert [(b.asset, b.free, b.locked) for b in balances if isinstance(b, Balance)] == [
        ("ABC", Decimal("11818.00000000"), Decimal("182.00000000")),
        ("DEF", Decimal("10580.00000000"), Decimal("70.00000000")),
    ]
    ack = dialect.decode_user(raw(payload("ws_api_userDataStream_subscribe_response.json")), RECV)
    assert ack == [Control(ControlKind.ACK, "d3df8a21-98ea-4fe0-8f4e-0fcea5d418b7", '{"subscriptionId":0}')]
    (error,) = dialect.decode_user(raw(payload("ws_api_error_response.json")), RECV)
    assert error == Control(
        ControlKind.ERROR,
        "e2a85d9f-07a5-4f94-8d5f-789dc3deb097",
        "HTTP 400 -2010: Account has insufficient balance for requested action.",
    )


def test_stream_end_events_mean_reconnect(dialect: BinanceSpotDialect) -> None:
    assert dialect.decode_user(raw(payload("ws_listenKeyExpired.json")), RECV) == [
        Control(ControlKind.RECONNECT, None, "listenKeyExpired")
    ]
    terminated = {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1728973001334}}
    assert dialect.decode_user(raw(terminated), RECV) == [Control(ControlKind.RECONNECT, None, "eventStreamTerminated")]


# -- golden files ---------------------------------------------------------------------------------------------


def test_golden_market_streams(dialect: BinanceSpotDialect) -> None:
    samples = golden("ws_market_streams.json")
    streams = {
        "trade": ("bnbbtc@trade", Trade),
        "bookTicker": ("bnbusdt@bookTicker", BestBidAsk),
        "partial_depth_depth5_10_20": ("bnbbtc@depth10", BookSnapshot),
        "depthUpdate_diff": ("bnbbtc@depth", BookDelta),
    }
    for name, (stream, kind) in streams.items():
        (event,) = dialect.decode_market(combined(stream, samples[name]), RECV)
        assert isinstance(event, kind), name
    (delta,) = dialect.decode_market(raw(samples["depthUpdate_diff"]), RECV)
    assert isinstance(delta, BookDelta) and (delta.first_sequence, delta.sequence) == (157, 160)
    wrapped = raw(samples["serverShutdown_event_combined_stream_wrapper"])
    assert dialect.decode_market(wrapped, RECV)[0].kind is ControlKind.RECONNECT  # type: ignore[union-attr]
    assert dialect.decode_market(raw(samples["subscribe_response"]), RECV) == [Control(ControlKind.ACK, 1, "")]


def test_golden_user_data_stream(dialect: BinanceSpotDialect) -> None:
    samples = golden("user_data_stream.json")
    decoded = {name: dialect.decode_user(raw(frame), RECV) for name, frame in samples.items()}
    assert [type(e) for e in decoded["outboundAccountPosition"]] == [Balance]
    (update,) = decoded["executionReport"]
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.OPEN and update.instrument == "ETH-BTC"
    assert decoded["eventStreamTerminated"] == [Control(ControlKind.RECONNECT, None, "eventStreamTerminated")]
    for ignored in ("balanceUpdate", "externalLockUpdate", "executionReport_rejected_example"):
        assert decoded[ignored] == [], ignored


# -- malformed corpus ----------------------------------------------------------------------------------------

VALID_MARKET = [
    combined("bnbbtc@depth@100ms", {"e": "depthUpdate", "E": 1, "s": "BNBBTC", "U": 1, "u": 2, "b": [], "a": []}),
    combined("bnbbtc@trade", {"e": "trade", "E": 1, "s": "BNBBTC", "t": 1, "p": "1", "q": "1", "T": 1, "m": False}),
]

#: (frame, hint, msgspec path) - a bad payload drops one frame, a bad diff depth payload resyncs its instrument.
#: Control answers and garbage envelopes are tested on both venues in tests/exchanges/binance_common/.
INVALID_MARKET = [
    (combined("bnbbtc@trade", {"e": "trade", "E": 1}), RecoveryHint.DROP, "$"),
    (combined("bnbbtc@trade", {"e": "kline", "E": 1}), RecoveryHint.DROP, "$.e"),
    (combined("bnbusdt@bookTicker", {"u": 1, "s": "BNBUSDT", "b": "x"}), RecoveryHint.DROP, "$.b"),
    (
        combined("bnbbtc@depth@100ms", {"e": "depthUpdate", "E": 1, "s": "BNBBTC", "U": 1, "u": 2, "b": [["1"]]}),
        RecoveryHint.RESYNC,
        "$.b[0]",
    ),
    (combined("bnbbtc@depth", {"e": "depthUpdate"}), RecoveryHint.RESYNC, "$"),
]

VALID_USER = [
    raw(payload("ws_executionReport.json")),
    b'{"subscriptionId":3,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":"1","T":1}}',
    b'{"id":1,"status":200,"result":null}',
]

INVALID_USER = [
    (b"\xff\xfe", RecoveryHint.RECONNECT, ""),
    (b'"text"', RecoveryHint.RECONNECT, "$"),
    (b'{"e":5}', RecoveryHint.RECONNECT, "$.e"),
    (b'{"subscriptionId":0}', RecoveryHint.DROP, "$"),
    (b'{"subscriptionId":0,"event":null}', RecoveryHint.DROP, "$"),
    (b'{"subscriptionId":0,"event":{"e":"executionReport","E":1}}', RecoveryHint.DROP, "$"),
    (raw(dict(payload("ws_executionReport.json"), X="WEIRD")), RecoveryHint.DROP, "$.X"),
    (raw(dict(payload("ws_executionReport.json"), S="BOTH")), RecoveryHint.DROP, "$.S"),
    (raw(dict(payload("ws_executionReport.json"), o="ICEBERG")), RecoveryHint.DROP, "$.o"),
]


@pytest.mark.parametrize("frame", VALID_MARKET)
def test_valid_market_frames(dialect: BinanceSpotDialect, frame: bytes) -> None:
    assert len(dialect.decode_market(frame, RECV)) == 1


@pytest.mark.parametrize(("frame", "hint", "path"), INVALID_MARKET)
def test_invalid_market_frames(dialect: BinanceSpotDialect, frame: bytes, hint: RecoveryHint, path: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_market(frame, RECV)
    assert (info.value.hint, info.value.path) == (hint, path)
    if hint is RecoveryHint.RESYNC:
        assert info.value.instrument == "BNB-BTC"
    assert dialect.statistics().malformed == 1


@pytest.mark.parametrize("frame", VALID_USER)
def test_valid_user_frames(dialect: BinanceSpotDialect, frame: bytes) -> None:
    dialect.decode_user(frame, RECV)
    assert dialect.statistics().malformed == 0


@pytest.mark.parametrize(("frame", "hint", "path"), INVALID_USER)
def test_invalid_user_frames(dialect: BinanceSpotDialect, frame: bytes, hint: RecoveryHint, path: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_user(frame, RECV)
    assert (info.value.hint, info.value.path) == (hint, path)
    assert dialect.statistics().malformed == 1


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("esdtpqmuUbaiXSoxid"), children),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=120), _JSONISH.map(raw), st.builds(combined, st.sampled_from(
    ["bnbbtc@depth@100ms", "bnbbtc@trade", "bnbusdt@bookTicker", "bnbbtc@depth5", "x@y", "!serverShutdown"]
), _JSONISH)))  # fmt: skip
def test_arbitrary_input_never_crashes(frame: bytes) -> None:
    """Anything the wire brings is an event list or a typed RemoteProtocolError, never another exception."""
    d = BinanceSpotDialect.for_environment()
    d.register_instruments(INSTRUMENTS)
    with contextlib.suppress(RemoteProtocolError):
        d.decode_market(frame, RECV)
    with contextlib.suppress(RemoteProtocolError):
        d.decode_user(frame, RECV)
