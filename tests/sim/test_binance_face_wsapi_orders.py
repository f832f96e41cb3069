"""The WebSocket API's trading and account requests on the Binance face, sans-IO.

web-socket-api.md: the WebSocket API "provides the same functionality, accepts the same parameters, returns the
same status and error codes" as REST. So every method is checked against REST on a *twin* face (same engine
config, same seed, same requests at the same clock): the ``result`` bytes equal REST's body, errors carry REST's
status, code, text and ``data``, the weight charged is the route's, and the user-stream events both faces emit
are byte-identical. Then the WebSocket-only parts: ``apiKey``/``signature`` as params, ``rateLimits`` with the
ORDERS entries, ``returnRateLimits``, and the documented signed ``order.place`` (golden vector).
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any, Final

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance.face_user import WsApiSession
from clobactors.exchanges.binance.face_wsapi_orders import WS_API_METHODS, WS_API_ROUTE_KEYS
from clobactors.exchanges.binance.signing import (
    Credentials,
    hmac_sha256_hex,
    sign_ws_params,
    ws_signature_payload,
)
from clobactors.exchanges.binance.urls import WS_API_CONNECT_WEIGHT
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from tests.sim import wsapi_twin_support as twin_support
from tests.sim.wsapi_twin_support import IP, NOW_MS, NOW_NS, Params, WsApiTwin, send

GOLDEN: Final = Path(__file__).resolve().parents[3] / "shared" / "golden" / "binance_spot" / "signing_hmac.json"
ME: Final = Credentials(api_key="k" * 64, secret="s" * 64)
OTHER: Final = Credentials(api_key="K" * 64, secret="S" * 64)
WANTED: Final = frozenset({"user:me", "user:other"})


def make_face(**kwargs: Any) -> BinanceFace:
    face = BinanceFace(Engine(SimConfig.for_symbols(["BTCUSDT", "ETHUSDT"]).engine_rules()), seed=5, **kwargs)
    face.add_account({"USDT": D(10_000), "BTC": D(1)}, account_id="me", api_key=ME.api_key, secret=ME.secret)
    face.add_account({"USDT": D(10_000), "BTC": D(1)}, account_id="other", api_key=OTHER.api_key, secret=OTHER.secret)
    return face


def open_api(face: BinanceFace, query: str = "") -> WsApiSession:
    return twin_support.open_api(face, "/ws-api/v3", query)


def ws_signed(
    session: WsApiSession, method: str, params: Params, creds: Credentials = ME, *, now_ns: int = NOW_NS,
    ts_ms: int | None = None,
) -> wire.WsApiResponse:  # fmt: skip
    return twin_support.ws_signed(session, method, params, creds, now_ns=now_ns, ts_ms=ts_ms)


def limits_of(response: wire.WsApiResponse) -> list[tuple[str, str, int, int]]:
    return [(r.rate_limit_type, r.interval, r.interval_num, r.count) for r in response.rate_limits]


class Twin(WsApiTwin):
    """Spot's twin faces (see :mod:`tests.sim.wsapi_twin_support`)."""

    def __init__(self) -> None:
        super().__init__(
            make_face, path="/ws-api/v3", route_keys=WS_API_ROUTE_KEYS, methods=WS_API_METHODS,
            connect_weight=WS_API_CONNECT_WEIGHT, order_windows=_ORDER_WINDOWS, wanted=WANTED, default=ME,
        )  # fmt: skip


_ORDER_WINDOWS: Final = {("SECOND", 10): "X-MBX-ORDER-COUNT-10S", ("DAY", 1): "X-MBX-ORDER-COUNT-1D"}


def order(side: str, price: str, quantity: str = "0.01", **extra: str | int) -> Params:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC", "quantity": quantity,
            "price": price, **extra}  # fmt: skip


# -- every method against REST --------------------------------------------------------------------------------


def test_every_method_answers_what_rest_answers() -> None:
    twin = Twin()
    b1 = wire.ORDER_FULL_DECODER.decode(twin.both("order.place", order("BUY", "40000", newClientOrderId="b1")).result)
    assert (b1.status, b1.client_order_id) == ("NEW", "b1")
    ack = twin.both("order.place", order("BUY", "39000", newClientOrderId="b2", newOrderRespType="ACK"))
    assert set(json.loads(bytes(ack.result))) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    status = wire.ORDER_INFO_DECODER.decode(
        twin.both("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "b1"}).result
    )
    assert (status.order_id, status.is_working) == (b1.order_id, True)
    assert len(wire.OPEN_ORDERS_DECODER.decode(twin.both("openOrders.status", {"symbol": "BTCUSDT"}).result)) == 2
    assert len(wire.OPEN_ORDERS_DECODER.decode(twin.both("openOrders.status", {}).result)) == 2  # weight 80
    taker = twin.both("order.place", order("SELL", "40000", "0.004"), OTHER)
    assert wire.ORDER_FULL_DECODER.decode(taker.result).status == "FILLED"
    trades = wire.MY_TRADES_DECODER.decode(twin.both("myTrades", {"symbol": "BTCUSDT"}).result)
    assert [(t.price, t.qty, t.is_maker) for t in trades] == [(D(40000), D("0.004"), True)]
    assert twin.both("myTrades", {"symbol": "BTCUSDT", "orderId": b1.order_id}).status == 200  # weight 5
    replaced = twin.both(
        "order.cancelReplace",
        order("BUY", "39500", cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="b2", newClientOrderId="b3"),
    )
    assert json.loads(bytes(replaced.result))["cancelResult"] == "SUCCESS"
    cancelled = twin.both("order.cancel", {"symbol": "BTCUSDT", "orderId": b1.order_id, "newClientOrderId": "x1"})
    assert wire.CANCELED_ORDER_DECODER.decode(cancelled.result).status == "CANCELED"
    account = wire.ACCOUNT_DECODER.decode(twin.both("account.status", {"omitZeroBalances": True}).result)
    assert {b.asset: b.locked for b in account.balances}["USDT"] == D("395")  # b3 rests
    assert twin.both("account.status", {}).status == 200
    everything = twin.both("openOrders.cancelAll", {"symbol": "BTCUSDT"})
    assert [o.status for o in wire.decode_cancel_all(bytes(everything.result))] == ["CANCELED"]  # type: ignore[union-attr]
    # NEW, NEW, taker NEW+TRADE / maker TRADE, cancel-replace CANCELED+NEW, CANCELED, CANCELED, with positions.
    assert twin.events > 10


def test_errors_are_rests_errors() -> None:
    twin = Twin()
    broke = twin.both("order.place", order("BUY", "40000", "5"))
    assert broke.error is not None and (broke.status, broke.error.code) == (400, -2010)
    assert broke.error.msg == "Account has insufficient balance for requested action."
    assert [(r.rate_limit_type, r.count) for r in broke.rate_limits][:2] == [("ORDERS", 1), ("ORDERS", 1)]
    tick = twin.both("order.place", order("BUY", "40000.005"))
    assert tick.error is not None and (tick.error.code, tick.error.msg) == (-1013, "Filter failure: PRICE_FILTER")
    unknown = twin.both("order.cancel", {"symbol": "BTCUSDT", "orderId": 999})
    assert unknown.error is not None and unknown.error.code == -2011
    missing = twin.both("order.status", {"symbol": "BTCUSDT"})
    assert missing.error is not None and missing.error.code == -1102
    assert twin.both("myTrades", {"symbol": "NOPE"}).status == 400
    # cancel-replace failures keep their per-side ``data`` (web-socket-api.md § Cancel and replace order).
    stop = twin.both(
        "order.cancelReplace", order("BUY", "39000", cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=77)
    )
    assert stop.error is not None and (stop.status, stop.error.code) == (400, -2022)
    assert json.loads(bytes(stop.error.data))["newOrderResult"] == "NOT_ATTEMPTED"
    twin.both("order.place", order("BUY", "30000", newClientOrderId="old"))
    partial = twin.both(
        "order.cancelReplace",
        order("BUY", "39000", "5", cancelReplaceMode="ALLOW_FAILURE", cancelOrigClientOrderId="old"),
    )
    assert partial.error is not None and (partial.status, partial.error.code) == (409, -2021)
    assert json.loads(bytes(partial.error.data))["cancelResult"] == "SUCCESS"
    assert twin.both("openOrders.cancelAll", {"symbol": "BTCUSDT"}).status == 400  # nothing open: -2011


# -- the WebSocket envelope -------------------------------------------------------------------------------------


def test_authentication_errors_carry_rest_codes() -> None:
    face = make_face()
    api = open_api(face)
    good = sign_ws_params(order("BUY", "40000"), ME, timestamp=NOW_MS)

    def code(params: dict[str, Any], *, now_ns: int = NOW_NS) -> tuple[int, int, str]:
        got = send(api, {"id": 1, "method": "order.place", "params": params}, now_ns)
        assert got.error is not None and bytes(got.result) == b"null"
        return got.status, got.error.code, got.error.msg

    assert code(good | {"signature": "00" * 32}) == (400, -1022, "Signature for this request is not valid.")
    assert code(good | {"price": "40001"})[1] == -1022  # tampered after signing
    assert code({k: v for k, v in good.items() if k != "apiKey"}) == (
        400, -1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
    )  # fmt: skip
    assert code({k: v for k, v in good.items() if k != "signature"})[:2] == (400, -1102)
    assert code({k: v for k, v in good.items() if k != "timestamp"})[:2] == (400, -1102)
    assert code(good | {"apiKey": "bad key"})[:2] == (401, -2014)
    assert code(sign_ws_params(order("BUY", "40000"), Credentials("A" * 64, "B"), timestamp=NOW_MS))[:2] == (401, -2015)
    assert code(good, now_ns=NOW_NS + 5_001_000_000) == (
        400, -1021, "Timestamp for this request is outside of the recvWindow.",
    )  # fmt: skip
    assert code(good, now_ns=NOW_NS - 1_000_000_000)[1] == -1021  # 1 s ahead of the server
    far: dict[str, Any] = {**order("BUY", "40000"), "recvWindow": 60_001, "timestamp": NOW_MS, "apiKey": ME.api_key}
    far["signature"] = hmac_sha256_hex(ME.secret, ws_signature_payload(far))
    assert code(far) == (400, -1131, "recvWindow must be less than 60000")
    extra = sign_ws_params(order("BUY", "40000", foo="bar"), ME, timestamp=NOW_MS)
    assert code(extra)[:2] == (400, -1104)
    assert face.engine.open_orders("me") == ()
    unknown = send(api, {"id": 2, "method": "order.amend.keepPriority", "params": good})
    assert unknown.error is not None and (unknown.status, unknown.error.code) == (400, -1020)


def test_numbers_booleans_version_prefix_and_return_rate_limits() -> None:
    face = make_face()
    api = open_api(face)
    # Numbers for integers and even for a whole price (format_value writes them as REST would).
    numeric = ws_signed(api, "v3/order.place", {**order("BUY", "x"), "price": 40000, "newOrderRespType": "ACK"})
    assert numeric.status == 200, numeric.error
    assert wire.ORDER_ACK_DECODER.decode(numeric.result).symbol == "BTCUSDT"
    # ``returnRateLimits`` is signed with the rest and hides the array (§ How to show/hide rate limit information).
    quiet = ws_signed(api, "account.status", {"returnRateLimits": False, "omitZeroBalances": True})
    assert (quiet.status, quiet.rate_limits) == (200, ())
    quiet_session = open_api(face, "returnRateLimits=false")
    assert ws_signed(quiet_session, "order.status", {"symbol": "BTCUSDT", "orderId": 1}).rate_limits == ()
    loud = ws_signed(quiet_session, "openOrders.status", {"symbol": "BTCUSDT", "returnRateLimits": True})
    assert [r.rate_limit_type for r in loud.rate_limits] == ["REQUEST_WEIGHT"]


def test_order_limit_429_has_retry_after_and_orders_usage() -> None:
    limits = (
        wire.RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=6000),
        wire.RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=2),
    )
    face = make_face(rate_limits=limits)
    api = open_api(face)
    for price in ("30000", "30001"):
        assert ws_signed(api, "order.place", order("BUY", price)).status == 200
    refused = ws_signed(api, "order.place", order("BUY", "30002"))
    assert refused.error is not None and (refused.status, refused.error.code) == (429, -1015)
    retry = json.loads(bytes(refused.error.data))
    assert retry == {"serverTime": NOW_MS, "retryAfter": NOW_MS + 10_000}  # the 10 s window starts at NOW
    assert limits_of(refused) == [("ORDERS", "SECOND", 10, 2), ("REQUEST_WEIGHT", "MINUTE", 1, 2 + 3)]


def test_events_of_a_ws_api_order_reach_its_subscription() -> None:
    face = make_face()
    api = open_api(face)
    subscribed = ws_signed(api, "userDataStream.subscribe.signature", {})
    assert subscribed.status == 200 and api.topics == {"user:me"}
    placed = wire.ORDER_FULL_DECODER.decode(ws_signed(api, "order.place", order("BUY", "40000")).result)
    outputs = face.drain(NOW_NS, api.topics)
    report, position = (wire.WS_API_EVENT_DECODER.decode(api.frame(o.topic, o.payload or b"")) for o in outputs)
    assert report.subscription_id == position.subscription_id == 0
    event = wire.USER_EVENT_DECODER.decode(report.event)
    assert isinstance(event, wire.ExecutionReport)
    assert (event.order_id, event.execution_type, event.client_order_id) == (placed.order_id, "NEW", "sim-1")
    assert isinstance(wire.USER_EVENT_DECODER.decode(position.event), wire.OutboundAccountPosition)


# -- the documented signed request -----------------------------------------------------------------------------


def _golden() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not GOLDEN.is_file():
        pytest.skip(f"golden vectors absent: {GOLDEN}")
    data = json.loads(GOLDEN.read_text())
    rest = next(v for v in data["vectors"] if v["name"] == "rest_post_order_ascii")
    return rest, data["ws_api_signed_requests"]


def test_documented_ws_api_order_place_is_accepted_and_a_tampered_one_refused() -> None:
    """web-socket-api.md § SIGNED request example (HMAC), replayed within its 100 ms ``recvWindow``."""
    rest, requests = _golden()
    vector = next(v for v in requests if v["name"] == "ws_api_signed_order_place_ascii")
    params = vector["json"]["params"]
    at_ns = (params["timestamp"] + 40) * 1_000_000

    def documented_face() -> tuple[BinanceFace, WsApiSession]:
        face = BinanceFace(Engine(SimConfig.for_symbols(["BTCUSDT"]).engine_rules()), seed=1)
        face.add_account({"BTC": D(1)}, account_id="doc", api_key=rest["api_key"], secret=rest["secret_key"])
        session = face.open_session("/ws-api/v3", "", (), IP, at_ns)
        assert isinstance(session, WsApiSession)
        return face, session

    face, api = documented_face()
    (message,) = api.receive(vector["raw"], at_ns).messages
    got = wire.WS_API_RESPONSE_DECODER.decode(message)
    assert (got.id, got.status, got.error) == (vector["json"]["id"], 200, None)
    placed = wire.ORDER_FULL_DECODER.decode(got.result)
    assert (placed.symbol, placed.side, placed.price, placed.orig_qty) == ("BTCUSDT", "SELL", D(52000), D("0.01"))
    assert [(o.side.value, o.price) for o in face.engine.open_orders("doc")] == [("sell", D(52000))]

    late = send(documented_face()[1], vector["json"], at_ns + 100_000_000)  # past the 100 ms window
    assert late.error is not None and late.error.code == -1021
    for tampered in (params | {"price": "52000.01"}, params | {"signature": params["signature"][:-1] + "0"}):
        face, api = documented_face()
        refused = send(api, {**vector["json"], "params": tampered}, at_ns)
        assert refused.error is not None and (refused.status, refused.error.code) == (400, -1022)
        assert face.engine.open_orders("doc") == ()
    # The non-ASCII example signs raw UTF-8: the signature passes, the symbol then fails (-1100, as on REST).
    other = next(v for v in requests if v["name"] == "ws_api_signed_order_place_non_ascii")
    odd = send(documented_face()[1], other["json"], (other["json"]["params"]["timestamp"] + 1) * 1_000_000)
    assert odd.error is not None and odd.error.code == -1100


# -- never a crash --------------------------------------------------------------------------------------------

_VALUES = st.one_of(st.text(max_size=12), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans())
_NAMES = st.sampled_from(
    ["symbol", "side", "type", "timeInForce", "quantity", "price", "orderId", "origClientOrderId", "newClientOrderId",
     "cancelReplaceMode", "cancelOrderId", "limit", "fromId", "startTime", "omitZeroBalances", "recvWindow", "x"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(sorted(WS_API_METHODS)), params=st.dictionaries(_NAMES, _VALUES, max_size=8))
def test_any_signed_params_get_a_binance_answer(method: str, params: Params) -> None:
    face = make_face()
    api = open_api(face)
    signed = sign_ws_params({k: v for k, v in params.items() if k != "recvWindow"}, ME, timestamp=NOW_MS)
    got = send(api, {"id": 1, "method": method, "params": signed})
    assert got.status in (200, 400, 401, 409)
    assert (got.error is None) == (got.status == 200)
    if got.error is not None:
        assert got.error.code < 0 and got.error.msg and bytes(got.result) == b"null"
    else:
        assert isinstance(msgspec.json.decode(bytes(got.result)), dict | list)
