"""The Binance face's WebSocket sessions, sans-IO: control frames, limits, depth windows, WebSocket API."""

from __future__ import annotations

import json
from decimal import Decimal as D

import msgspec
import pytest

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance.face_streams import DepthWindow, StreamSession, parse_stream
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.model import OrderType, Side
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestResponse
from clobactors.sim.records import BookEvent

NOW_NS = 1_704_067_200_000 * 1_000_000
KEY, SECRET = "k" * 64, "s" * 64


def make_face() -> BinanceFace:
    face = BinanceFace(Engine(SimConfig.for_symbols(["BTCUSDT", "ETHUSDT"]).engine_rules()), seed=3)
    face.add_account({"USDT": D(100_000), "BTC": D(1)}, account_id="me", api_key=KEY, secret=SECRET)
    return face


def session(face: BinanceFace, path: str, query: str = "") -> StreamSession:
    opened = face.open_session(path, query, (), "10.0.0.1", NOW_NS)
    assert isinstance(opened, StreamSession)
    return opened


def answer(s: StreamSession, request: object, at_ms: int = 0) -> object:
    reply = s.receive(json.dumps(request), NOW_NS + at_ms * 1_000_000)
    (message,) = reply.messages
    return json.loads(message)


@pytest.mark.parametrize(
    ("name", "kind", "levels", "speed"),
    [
        ("btcusdt@depth", "depth", 0, 1000),
        ("btcusdt@depth@100ms", "depth", 0, 100),
        ("btcusdt@depth5", "partial", 5, 1000),
        ("ethusdt@depth20@100ms", "partial", 20, 100),
        ("btcusdt@trade", "trade", 0, 1000),
        ("btcusdt@aggTrade", "aggTrade", 0, 1000),
        ("btcusdt@bookTicker", "bookTicker", 0, 1000),
    ],
)
def test_stream_names(name: str, kind: str, levels: int, speed: int) -> None:
    spec = parse_stream(name)
    assert spec is not None and (spec.kind, spec.levels, spec.speed_ms) == (kind, levels, speed)


@pytest.mark.parametrize("name", ["BTCUSDT@trade", "btcusdt@depth7", "btcusdt@depth@250ms", "btcusdt@kline", "@trade"])
def test_bad_stream_names(name: str) -> None:
    assert parse_stream(name) is None


def test_subscribe_list_unsubscribe_and_properties() -> None:
    """web-socket-streams.md § Live Subscribing/Unsubscribing to streams."""
    s = session(make_face(), "/ws")
    assert answer(s, {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@depth"], "id": 1}) == {
        "result": None,
        "id": 1,
    }
    assert s.topics == {"m:btcusdt@aggTrade", "m:btcusdt@depth"}
    assert answer(s, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {
        "result": ["btcusdt@aggTrade", "btcusdt@depth"],
        "id": 3,
    }
    assert answer(s, {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 312}) == {"result": None, "id": 312}
    assert answer(s, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}, 1000) == {"result": False, "id": 2}
    assert s.frame("m:btcusdt@aggTrade", b'{"e":1}') == b'{"e":1}'
    assert answer(s, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}, 1000) == {
        "result": None,
        "id": 5,
    }
    assert s.frame("m:btcusdt@aggTrade", b'{"e":1}') == b'{"stream":"btcusdt@aggTrade","data":{"e":1}}'
    for request, code in [
        ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 6}, 1),
        ({"method": "SET_PROPERTY", "params": ["speed", True], "id": 6}, 0),
        ({"method": "SUBSCRIBE", "params": ["btcusdt@nope"], "id": 7}, 2),
    ]:
        got = answer(s, request, 2000)
        assert isinstance(got, dict) and got["code"] == code and got.get("id") in (6, 7)


def test_malformed_control_frames_get_documented_errors() -> None:
    """web-socket-streams.md § Error Messages; the answers decode as StreamError."""
    s = session(make_face(), "/ws")
    cases = [
        ("{not json", 3),
        (json.dumps({"params": [], "id": 1}), 2),
        (json.dumps({"method": "SUBSCRIBE", "params": [], "id": -5}), 2),
        (json.dumps({"method": "PUBLISH", "id": 1}), 2),
    ]
    for second, (text, code) in enumerate(cases):
        (message,) = s.receive(text, NOW_NS + second * 1_000_000_000).messages
        error = wire.STREAM_ERROR_DECODER.decode(message)
        assert error.code == code
    assert "unknown variant `PUBLISH`" in wire.STREAM_ERROR_DECODER.decode(message).msg


def test_more_than_five_messages_a_second_closes_1008() -> None:
    s = session(make_face(), "/ws")
    request = json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1})
    for i in range(5):
        assert s.receive(request, NOW_NS + i * 100_000_000).close is None
    assert s.receive(request, NOW_NS + 900_000_000).close == (1008, "Too many requests")
    assert s.receive(request, NOW_NS + 2_000_000_000).close is None  # a new second


def test_at_most_1024_streams() -> None:
    face = make_face()
    names = [f"sym{i}@trade" for i in range(1025)]
    refused = face.open_session("/stream", "streams=" + "/".join(names), (), "10.0.0.1", NOW_NS)
    assert isinstance(refused, RestResponse) and refused.status == 400
    s = session(face, "/stream", "streams=" + "/".join(names[:1024]))
    got = answer(s, {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 9})
    assert isinstance(got, dict) and got["code"] == 2 and "too many streams" in got["msg"]


def test_unknown_paths_and_bad_streams_are_refused() -> None:
    face = make_face()
    for path, query in [("/nope", ""), ("/ws/BTCUSDT@trade", ""), ("/stream", "streams=btcusdt@depth7")]:
        refused = face.open_session(path, query, (), "10.0.0.1", NOW_NS)
        assert isinstance(refused, RestResponse) and refused.status in (400, 404)


def test_depth_window_merges_and_keeps_ids_contiguous() -> None:
    window = DepthWindow()
    assert window.flush("BTCUSDT", 1) is None
    window.add(BookEvent(ts_ns=0, symbol="BTCUSDT", first_update_id=5, last_update_id=6, bids=((D(1), D(2)),), asks=()))
    window.add(
        BookEvent(
            ts_ns=0,
            symbol="BTCUSDT",
            first_update_id=7,
            last_update_id=7,
            bids=((D(1), D(0)), (D(2), D(1))),
            asks=((D(3), D(4)),),
        )
    )
    update = window.flush("BTCUSDT", 99)
    assert update is not None
    assert (update.first_update_id, update.final_update_id, update.event_time) == (5, 7, 99)
    assert (update.bids, update.asks) == (((D(2), D(1)), (D(1), D(0))), ((D(3), D(4)),))
    decoded = wire.MARKET_EVENT_DECODER.decode(wire.encode(update))
    assert isinstance(decoded, wire.DepthUpdate) and decoded == update
    assert window.flush("BTCUSDT", 100) is None


def test_depth_and_partial_streams_flush_on_the_100ms_grid() -> None:
    face = make_face()
    face.add_account({"BTC": D(1)}, account_id="maker")
    wanted = {"m:btcusdt@depth@100ms", "m:btcusdt@depth5", "m:btcusdt@bookTicker", "m:btcusdt@trade"}
    assert face.next_deadline_ns(NOW_NS + 1, wanted) == NOW_NS + 100_000_000
    face.engine.submit("maker", "BTCUSDT", Side.SELL, OrderType.LIMIT, size=D("0.01"), price=D(60000), now_ns=NOW_NS)
    (ticker,) = face.drain(NOW_NS, wanted)
    event = wire.BOOK_TICKER_EVENT_DECODER.decode(ticker.payload or b"")
    assert (event.ask_price, event.ask_qty, event.bid_price, event.update_id) == (D(60000), D("0.01"), D(0), 1)
    face.on_timer(NOW_NS + 100_000_000, wanted)
    by_topic = {o.topic: o.payload or b"" for o in face.drain(NOW_NS + 100_000_000, wanted)}
    diff = wire.MARKET_EVENT_DECODER.decode(by_topic["m:btcusdt@depth@100ms"])
    assert isinstance(diff, wire.DepthUpdate) and (diff.first_update_id, diff.final_update_id) == (1, 1)
    partial = wire.PARTIAL_DEPTH_DECODER.decode(by_topic["m:btcusdt@depth5"])
    assert (partial.last_update_id, partial.asks) == (1, ((D(60000), D("0.01")),))
    face.on_timer(NOW_NS + 200_000_000, wanted)
    assert [o.topic for o in face.drain(NOW_NS + 200_000_000, wanted)] == []  # no change, no diff; depth5 waits for 1 s


def test_ws_api_session_subscribe_events_and_errors() -> None:
    """web-socket-api.md § User Data Stream requests, § Event format, § Response format."""
    face = make_face()
    s = face.open_session("/ws-api/v3", "", (), "10.0.0.1", NOW_NS)
    assert not isinstance(s, RestResponse)
    ms = NOW_NS // 1_000_000

    def request(
        method: str, params: dict[str, str | int | bool] | None = None, *, at_ms: int = 0
    ) -> wire.WsApiResponse:
        body = {"id": "r1", "method": method} | ({"params": params} if params is not None else {})
        (*_events, message) = s.receive(json.dumps(body), NOW_NS + at_ms * 1_000_000).messages
        return wire.WS_API_RESPONSE_DECODER.decode(message)

    assert request("ping").result == msgspec.Raw(b"{}")
    pong = request("time")
    assert wire.SERVER_TIME_DECODER.decode(pong.result).server_time == ms
    assert [(r.rate_limit_type, r.count) for r in pong.rate_limits] == [("REQUEST_WEIGHT", 4)]  # 2 to connect
    creds = Credentials(api_key=KEY, secret=SECRET)
    params = sign_ws_params({}, creds, timestamp=ms)
    subscribed = request("userDataStream.subscribe.signature", params)
    assert subscribed.status == 200
    assert wire.USER_DATA_SUBSCRIPTION_DECODER.decode(subscribed.result).subscription_id == 0
    assert s.topics == {"user:me"}
    again = request("userDataStream.subscribe.signature", params)
    assert again.status == 400 and again.error is not None
    bad = request("userDataStream.subscribe.signature", params | {"signature": "00" * 32})
    assert bad.error is not None and (bad.status, bad.error.code) == (400, -1022)
    late = request("userDataStream.subscribe.signature", params, at_ms=6000)
    assert late.error is not None and late.error.code == -1021
    unknown = request(
        "userDataStream.subscribe.signature",
        sign_ws_params({}, Credentials(api_key="x" * 64, secret="y"), timestamp=ms),
    )
    assert unknown.error is not None and unknown.error.code == -2015
    logon = request("session.logon", params)
    assert logon.error is not None and logon.status == 401  # Ed25519 only on Binance
    assert request("no.such.method").error is not None
    assert wire.SESSION_STATUS_DECODER.decode(request("session.status").result).user_data_stream is True
    wrapped = s.frame("user:me", b'{"e":"x"}')
    event = wire.WS_API_EVENT_DECODER.decode(wrapped)
    assert (event.subscription_id, bytes(event.event)) == (0, b'{"e":"x"}')
    reply = s.receive(json.dumps({"id": 9, "method": "userDataStream.unsubscribe"}), NOW_NS)
    terminated, response = reply.messages
    ended = wire.WS_API_EVENT_DECODER.decode(terminated)
    assert ended.subscription_id == 0
    assert isinstance(wire.USER_EVENT_DECODER.decode(ended.event), wire.EventStreamTerminated)
    assert wire.WS_API_RESPONSE_DECODER.decode(response).status == 200 and s.topics == frozenset()
    (malformed,) = s.receive("{nope", NOW_NS).messages
    decoded = wire.WS_API_RESPONSE_DECODER.decode(malformed)
    assert decoded.error is not None and (decoded.status, decoded.error.code, decoded.id) == (400, -1135, None)


def test_listen_key_stream_routes_account_events() -> None:
    face = make_face()
    key = face._core.listen_keys.create("me", NOW_NS)
    raw = session(face, f"/ws/{key}")
    assert raw.topics == {"user:me", f"lk:{key}"}
    combined = session(face, "/stream", f"streams={key}/btcusdt@trade")
    assert combined.frame("user:me", b"{}") == b'{"stream":"' + key.encode() + b'","data":{}}'
    silent = session(face, "/ws/unknownlistenkey")
    assert silent.topics == {"lk:unknownlistenkey"}
