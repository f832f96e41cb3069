"""The USD-M face's WebSocket API (``/ws-fapi/v1``), sans-IO: each method against its REST twin.

USD-M § Websocket API General Info: rate limits "are the same as on REST API and are shared with REST API", and
each method's page documents the REST endpoint's parameters and answer. So every method runs on a *twin* face
(same engine config, seed, accounts, requests and clock): ``result`` equals REST's body byte for byte, errors
carry REST's status, code and text, ``REQUEST_WEIGHT`` is the REST weight plus the handshake's 5, order methods
report the ORDERS windows REST reports in ``X-MBX-ORDER-COUNT-*``, and both faces emit the same user-stream
events. Then what only the WebSocket API has: its session methods, ``returnRateLimits``, the handshake weight.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any, Final

from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.exchanges.binance import wire as spot_wire
from clobactors.exchanges.binance.face_user import WsApiSession
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.exchanges.binance.wire_base import RateLimit
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.face import BinanceUsdmFace
from clobactors.exchanges.binance_usdm.face_wsapi import (
    WS_API_CONNECT_WEIGHT,
    WS_API_METHODS,
    WS_API_PATH,
    WS_API_ROUTE_KEYS,
)
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestResponse
from tests.sim import wsapi_twin_support as twin_support
from tests.sim.wsapi_twin_support import IP, NOW_MS, NOW_NS, Params, WsApiTwin, header, send

ME: Final = Credentials(api_key="k" * 64, secret="s" * 64)
MAKER: Final = Credentials(api_key="M" * 64, secret="N" * 64)
WANTED: Final = frozenset({"user:me", "user:maker"})


def make_face(**kwargs: Any) -> BinanceUsdmFace:
    config = SimConfig.for_symbols(["BTCUSDT"], perpetual=True)
    face = BinanceUsdmFace(Engine(config.engine_rules(), perp=config.perp_settings()), seed=3, **kwargs)
    face.add_account({"USDT": D(100_000)}, account_id="me", api_key=ME.api_key, secret=ME.secret)
    face.add_account({"USDT": D(100_000)}, account_id="maker", api_key=MAKER.api_key, secret=MAKER.secret)
    return face


def open_api(face: BinanceUsdmFace, query: str = "") -> WsApiSession:
    return twin_support.open_api(face, WS_API_PATH, query)


def ws_signed(session: WsApiSession, method: str, params: Params, creds: Credentials = ME) -> spot_wire.WsApiResponse:
    return twin_support.ws_signed(session, method, params, creds)


def rest_call(face: BinanceUsdmFace, method: str, params: Params, creds: Credentials = ME) -> RestResponse:
    return twin_support.rest_call(face, WS_API_ROUTE_KEYS, method, params, creds)


class Twin(WsApiTwin):
    """USD-M's twin faces (see :mod:`tests.sim.wsapi_twin_support`)."""

    def __init__(self) -> None:
        super().__init__(
            make_face, path=WS_API_PATH, route_keys=WS_API_ROUTE_KEYS, methods=WS_API_METHODS,
            connect_weight=WS_API_CONNECT_WEIGHT, order_windows=_ORDER_WINDOWS, wanted=WANTED, default=ME,
        )  # fmt: skip


_ORDER_WINDOWS: Final = {("SECOND", 10): "X-MBX-ORDER-COUNT-10S", ("MINUTE", 1): "X-MBX-ORDER-COUNT-1M"}


def limit(side: str, price: str, quantity: str = "0.01", **extra: str | int) -> Params:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC", "quantity": quantity,
            "price": price, **extra}  # fmt: skip


# -- every method against REST --------------------------------------------------------------------------------


def test_every_method_answers_what_rest_answers() -> None:
    twin = Twin()
    placed = wire.ORDER_DECODER.decode(
        twin.both("order.place", limit("BUY", "40000", newClientOrderId="b1", newOrderRespType="RESULT")).result
    )
    assert (placed.status, placed.client_order_id) == ("NEW", "b1")
    twin.both("order.place", limit("SELL", "60000", "1"), MAKER)  # a resting ask for the MARKET order below
    twin.both("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.2"})
    amended = twin.both("order.modify", {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.02", "price": "40100",
                                         "origClientOrderId": "b1"})  # fmt: skip
    assert wire.ORDER_DECODER.decode(amended.result).price == D("40100")
    twin.both("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "b1"})
    twin.both("order.status", {"symbol": "BTCUSDT", "orderId": placed.order_id})
    for method in ("account.position", "v2/account.position", "account.balance", "v2/account.balance",
                   "account.status", "v2/account.status"):  # fmt: skip
        twin.both(method, {})
    twin.both("account.position", {"symbol": "BTCUSDT"})
    cancelled = twin.both("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "b1"})
    assert wire.ORDER_DECODER.decode(cancelled.result).status == "CANCELED"
    assert twin.events >= 6  # ORDER_TRADE_UPDATE and ACCOUNT_UPDATE, the same from both faces
    assert set(WS_API_ROUTE_KEYS) == {
        "order.place", "order.modify", "order.cancel", "order.status", "account.position", "v2/account.position",
        "account.balance", "v2/account.balance", "account.status", "v2/account.status",
    }  # fmt: skip


def test_refusals_are_the_rest_refusals() -> None:
    twin = Twin()
    twin.both("order.place", limit("BUY", "40000", newClientOrderId="b1"))
    same: Params = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", "price": "40000", "origClientOrderId": "b1"}
    assert twin.both("order.modify", same).error.code == -5027  # type: ignore[union-attr]
    assert twin.both("order.modify", {**same, "origClientOrderId": "nope", "price": "1"}).error.code == -2013  # type: ignore[union-attr]
    assert twin.both("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}).error.code == -2011  # type: ignore[union-attr]
    assert twin.both("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}).error.code == -2013  # type: ignore[union-attr]
    assert twin.both("order.place", limit("BUY", "40000", "100")).error.code == -2019  # type: ignore[union-attr]
    assert twin.both("order.place", limit("BUY", "40000.001")).error.code == -4014  # type: ignore[union-attr]
    assert twin.both("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"}).status == 400
    assert twin.both("order.place", limit("BUY", "40000", symbol="NOPEUSDT")).error.code == -1121  # type: ignore[union-attr]


def test_authentication_fails_as_on_rest() -> None:
    face = make_face()
    session = open_api(face)
    params = sign_ws_params({"symbol": "BTCUSDT", "origClientOrderId": "x"}, ME, timestamp=NOW_MS)
    tampered = send(session, {"id": 1, "method": "order.status", "params": {**params, "symbol": "ETHUSDT"}})
    assert (tampered.status, tampered.error and tampered.error.code) == (400, -1022)
    stranger = sign_ws_params({"symbol": "BTCUSDT"}, Credentials(api_key="x" * 64, secret="y" * 64), timestamp=NOW_MS)
    unknown = send(session, {"id": 2, "method": "account.position", "params": stranger})
    assert (unknown.status, unknown.error and unknown.error.code) == (401, -2015)
    late = sign_ws_params({}, ME, timestamp=NOW_MS - 10_000)
    assert send(session, {"id": 3, "method": "v2/account.balance", "params": late}).error.code == -1021  # type: ignore[union-attr]
    unsigned = {"apiKey": ME.api_key, "timestamp": NOW_MS}
    assert send(session, {"id": 4, "method": "v2/account.balance", "params": unsigned}).error.code == -1102  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None)
@given(
    price=st.integers(min_value=30_000, max_value=70_000).map(lambda p: str(D(p) / 10)),
    ticks=st.integers(min_value=1, max_value=5),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_any_order_then_its_amendment_answers_as_rest(price: str, ticks: int, side: str) -> None:
    """Whatever REST answers (an order, a filter refusal, a margin refusal), the WebSocket API answers too."""
    twin = Twin()
    twin.both("order.place", limit(side, price, newClientOrderId="p1"))
    moved = str(D(price) + D(ticks) / 10)
    twin.both("order.modify", {"symbol": "BTCUSDT", "side": side, "quantity": "0.02", "price": moved,
                               "origClientOrderId": "p1"})  # fmt: skip


# -- the WebSocket API's own parts -----------------------------------------------------------------------------


def test_session_methods_are_usdm_s() -> None:
    session = open_api(make_face())
    status = send(session, {"id": "s", "method": "session.status"})
    assert status.status == 200
    assert json.loads(bytes(status.result)) == {
        "connectedSince": NOW_MS, "returnRateLimits": True, "serverTime": NOW_MS,
    }  # fmt: skip  # no userDataStream: USD-M user data stays on the listen key
    logon = send(session, {"id": "l", "method": "session.logon", "params": sign_ws_params({}, ME, timestamp=NOW_MS)})
    assert logon.status == 401  # Ed25519 keys only; the simulator's are HMAC
    for method in ("ping", "time", "userDataStream.subscribe.signature", "openOrders.status", "myTrades"):
        answer = send(session, {"id": method, "method": method, "params": sign_ws_params({}, ME, timestamp=NOW_MS)})
        assert (answer.status, answer.error and answer.error.code) == (400, -1020), method


def test_rate_limits_can_be_hidden_and_shown_again() -> None:
    face = make_face()
    hidden = open_api(face, "returnRateLimits=false")
    assert ws_signed(hidden, "v2/account.balance", {}).rate_limits == ()
    shown = ws_signed(hidden, "v2/account.balance", {"returnRateLimits": True})
    assert [r.rate_limit_type for r in shown.rate_limits] == ["REQUEST_WEIGHT"]
    assert shown.status == 200  # returnRateLimits is signed along, and not a parameter of the route


def test_the_handshake_costs_five_and_a_rate_limit_answers_like_rest() -> None:
    tight = (RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=12),)
    face = make_face(rate_limits=tight)
    session = open_api(face)
    first = ws_signed(session, "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "x"})
    assert [r.count for r in first.rate_limits] == [WS_API_CONNECT_WEIGHT + 1]
    assert ws_signed(session, "v2/account.balance", {}).status == 200  # 11 of 12
    over = ws_signed(session, "v2/account.balance", {})
    assert over.status == 429 and over.error is not None and over.error.code == -1003
    data = json.loads(bytes(over.error.data))
    assert data["serverTime"] == NOW_MS and data["retryAfter"] > NOW_MS  # the Retry-After REST would send
    refused = face.open_session(WS_API_PATH, "", (), IP, NOW_NS)
    assert isinstance(refused, RestResponse) and refused.status in (418, 429)
    assert header(refused, "Retry-After") is not None
