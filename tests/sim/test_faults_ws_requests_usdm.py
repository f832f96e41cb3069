"""Request faults on Binance USD-M's WebSocket API (``/ws-fapi/v1``, ``"WS <method>"`` targets).

The vocabulary's frames are read back with the USD-M client's own decoder (:func:`wsapi_orders.decode_answer`)
and error mapping (§ Error Codes: -1003 with ``retryAfter``, -1001, -2019). The seam is driven over loopback
sockets against the USD-M simulator under the autojump clock: each kind does to ``order.place`` and
``order.modify`` what it does to ``POST`` / ``PUT /fapi/v1/order``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.chaos import amend_faults, ws_request_faults
from clobactors.config import OrderEntry
from clobactors.errors import ConfigError, ConnectionLost, ExchangeUnavailable, InsufficientBalance, RateLimited
from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.exchanges.binance_usdm.errors import map_error
from clobactors.exchanges.binance_usdm.face_faults import BINANCE_USDM_VOCABULARY as VOCAB
from clobactors.exchanges.binance_usdm.face_faults import REQUEST_WEIGHT_PER_MINUTE
from clobactors.exchanges.binance_usdm.wsapi_orders import decode_answer
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.sim.server import Simulator, open_simulator
from clobactors.sim.ws_request_faults import WsRequest, WsRequestVocabulary
from clobactors.transport.ws import WsConnection, open_ws

NOW_MS: Final = 1_704_067_200_000
SYMBOL: Final = "BTCUSDT"


def frame(method: str, request_id: int | str = 7, **params: Any) -> str:
    return json.dumps({"id": request_id, "method": method, "params": params})


# -- the vocabulary ------------------------------------------------------------------------------------------


def test_usdm_vocabulary_reads_method_id_and_client_order_id() -> None:
    assert isinstance(VOCAB, WsRequestVocabulary)
    place = frame("order.place", 3, symbol=SYMBOL, newClientOrderId="a-1", signature="ff")
    assert VOCAB.ws_request(place) == WsRequest("order.place", 3, "a-1", signed=True)
    assert VOCAB.ws_request(place.encode()) == WsRequest("order.place", 3, "a-1", signed=True)
    for method in ("order.modify", "order.cancel", "order.status"):  # the order it is about
        assert VOCAB.ws_request(frame(method, "x", origClientOrderId="b")) == WsRequest(method, "x", "b")
    assert VOCAB.ws_request(frame("order.modify", newClientOrderId="n")) == WsRequest("order.modify", 7)
    assert VOCAB.ws_request(frame("v2/account.balance")) == WsRequest("v2/account.balance", 7)
    assert VOCAB.ws_request(frame("order.place", orderId=5)) == WsRequest("order.place", 7)  # no client id
    for junk in ("", "{", "[]", '{"id": 1}', '{"method": "order.place"}', "\xff"):
        assert VOCAB.ws_request(junk) is None
    assert (VOCAB.ws_order_route, VOCAB.ws_modify_route) == ("WS order.place", "WS order.modify")
    assert VOCAB.modify_target(True) == "WS order.modify" and VOCAB.modify_target(False) == "PUT /fapi/v1/order"


@settings(max_examples=100)
@given(st.one_of(st.text(), st.binary()))
def test_reading_any_frame_never_raises(message: str | bytes) -> None:
    request = VOCAB.ws_request(message)
    assert request is None or isinstance(request, WsRequest)


def answer(message: str) -> tuple[wire.WsApiResponse, Exception]:
    result = decode_answer(message, 0.0, NOW_MS).result
    retry_after = next((float(v) for k, v in result.headers if k == "retry-after"), None)
    return wire.WS_API_RESPONSE_DECODER.decode(message), map_error(result.status, result.body, retry_after=retry_after)


def test_error_frames_are_usdm_answers_the_client_reads() -> None:
    limited, error = answer(VOCAB.ws_rate_limited(3, 429, 2.0, NOW_MS))
    assert limited.error is not None and (limited.id, limited.status, limited.error.code) == (3, 429, -1003)
    assert f"current limit is {REQUEST_WEIGHT_PER_MINUTE} requests per minute" in limited.error.msg
    assert msgspec.json.decode(limited.error.data) == {"serverTime": NOW_MS, "retryAfter": NOW_MS + 2000}
    assert isinstance(error, RateLimited) and error.retry_after == 2.0 and not error.banned
    banned, error = answer(VOCAB.ws_rate_limited("q", 418, 9.5, NOW_MS))
    assert banned.error is not None and (banned.id, banned.status, banned.error.code) == ("q", 418, -1003)
    assert f"IP banned until {NOW_MS + 10_000}" in banned.error.msg
    assert isinstance(error, RateLimited) and error.retry_after == 10.0 and error.banned
    broken, error = answer(VOCAB.ws_server_error(4, 503))
    assert broken.error is not None and (broken.id, broken.status, broken.error.code) == (4, 503, -1001)
    assert isinstance(error, ExchangeUnavailable) and broken.result == wire.NULL
    refused = json.loads(VOCAB.ws_order_rejected(5))
    assert refused == {"id": 5, "status": 400, "error": {"code": -2019, "msg": "Margin is insufficient."}}
    assert isinstance(answer(VOCAB.ws_order_rejected(5))[1], InsufficientBalance)
    assert VOCAB.ws_succeeded([b'{"id":1,"status":200,"result":{}}'])
    assert not VOCAB.ws_succeeded([VOCAB.ws_server_error(1, 500)]) and not VOCAB.ws_succeeded([])


# -- rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["WS order.place", "WS order.modify", "WS order.*", "WS *", "WS v2/account.balance", "WS session.status"],
)
def test_usdm_takes_ws_targets_naming_its_methods(target: str) -> None:
    for kind in (FaultKind.LOST_ACK, FaultKind.HTTP_5XX, FaultKind.HTTP_418, FaultKind.HTTP_TIMEOUT):
        FaultInjector(FaultPlan(rules=(FaultRule(kind=kind, target=target, at=1.0),)), VOCAB)


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (FaultRule(kind=FaultKind.LOST_ACK, target="WS order.cancelReplace", at=1.0), "USD-M simulator"),  # spot's
        (FaultRule(kind=FaultKind.HTTP_5XX, target="WS ping", at=1.0), "names no WebSocket API method"),
        (FaultRule(kind=FaultKind.HTTP_5XX, target="WS userDataStream.*", at=1.0), "names no WebSocket API"),
        (FaultRule(kind=FaultKind.WS_ABORT, target="WS order.place", at=1.0), "only the request kinds"),
        (FaultRule(kind=FaultKind.LOST_ACK, target="POST /ws-api/v3", at=1.0), "Binance USD-M does not serve"),
        (FaultRule(kind=FaultKind.WS_ABORT, target="/ws-api/v3", at=1.0), "Binance USD-M does not serve"),
    ],
)
def test_usdm_refuses_ws_targets_that_cannot_fire(rule: FaultRule, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        FaultInjector(FaultPlan(rules=(rule,)), VOCAB)


def test_chaos_aims_usdm_request_kinds_at_its_websocket_api() -> None:
    plan = FaultPlan.generate(3, 600.0)
    moved = ws_request_faults(plan.rules, VOCAB)
    expected = {FaultKind.LOST_ACK: "WS order.place", FaultKind.REJECT_ORDER: "WS order.place"}
    expected |= {k: "WS *" for k in (FaultKind.HTTP_LATENCY, FaultKind.HTTP_429, FaultKind.HTTP_418,
                                     FaultKind.HTTP_5XX, FaultKind.HTTP_TIMEOUT)}  # fmt: skip
    for before, after in zip(plan.rules, moved, strict=True):
        target = expected.get(before.kind, before.target)
        assert (after.kind, after.at, after.target) == (before.kind, before.at, target)
    FaultInjector(FaultPlan(rules=moved), VOCAB)  # every target is one USD-M takes
    amend = amend_faults("binance-usdm", 3, 600.0, order_entry=OrderEntry.WEBSOCKET)
    assert amend and {r.target for r in amend} == {"WS order.modify"}


# -- the seam, over loopback ---------------------------------------------------------------------------------


async def send(ws: WsConnection, sim: Simulator, method: str, request_id: int | str, **params: str) -> None:
    creds = Credentials(api_key=sim.api_key, secret=sim.api_secret)
    signed = sign_ws_params({"symbol": SYMBOL, **params}, creds, timestamp=sim.now_ms())
    await ws.send(json.dumps({"id": request_id, "method": method, "params": signed}))


async def place(ws: WsConnection, sim: Simulator, cid: str, request_id: int | str = 1) -> None:
    await send(ws, sim, "order.place", request_id, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
               price="30000", newClientOrderId=cid)  # fmt: skip


async def response(ws: WsConnection) -> wire.WsApiResponse:
    return wire.WS_API_RESPONSE_DECODER.decode((await ws.receive()).data)


def price_of(sim: Simulator, cid: str) -> Decimal | None:
    order = sim.engine.order(sim.account_id, SYMBOL, client_order_id=cid)
    return None if order is None else order.price


def injector(sim: Simulator) -> FaultInjector:
    faults = sim.faults
    assert isinstance(faults, FaultInjector)
    return faults


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [(FaultKind.REJECT_ORDER, 400, -2019), (FaultKind.HTTP_429, 429, -1003), (FaultKind.HTTP_5XX, 503, -1001)],
)
async def test_error_answers_on_order_place_echo_the_id_and_execute_nothing(
    autojump_clock: trio.testing.MockClock, kind: FaultKind, status: int, code: int
) -> None:
    plan = FaultPlan(rules=(FaultRule(kind=kind, target="WS order.place", at=1.0),), seed=4)
    with trio.fail_after(60):
        async with open_simulator("binance-usdm", seed=2, symbols=[SYMBOL], flow=False, faults=plan) as sim:
            assert sim.ws_api_url.endswith("/ws-fapi/v1")
            async with open_ws(sim.ws_api_url) as ws:
                await trio.sleep(2.0)
                await place(ws, sim, "hit", request_id="r-1")
                hit = await response(ws)
                assert (hit.id, hit.status, hit.error is not None and hit.error.code) == ("r-1", status, code)
                assert price_of(sim, "hit") is None
                await place(ws, sim, "next", request_id=2)  # armed once: the next one goes through
                assert (await response(ws)).status == 200 and price_of(sim, "next") is not None
            (fault,) = injector(sim).log.faults
            assert (fault.kind, fault.at) == (kind, 2.0)
            if kind is FaultKind.HTTP_429:
                assert (fault.probe, fault.target) == (Probe.REST, "WS order.place")
            else:
                assert (fault.probe, fault.client_order_id) == (Probe.ORDER, "hit")


async def test_lost_modify_answer_executes_the_amendment(autojump_clock: trio.testing.MockClock) -> None:
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.LOST_ACK, target="WS order.modify", at=1.0),), seed=4)
    with trio.fail_after(60):
        async with open_simulator("binance-usdm", seed=2, symbols=[SYMBOL], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await place(ws, sim, "amend-me")
                assert (await response(ws)).status == 200
                await trio.sleep(2.0)
                await send(ws, sim, "order.modify", 2, side="BUY", quantity="0.01", price="29990",
                           origClientOrderId="amend-me")  # fmt: skip
                with pytest.raises(ConnectionLost):
                    await ws.receive()  # no answer: the connection is reset
            assert price_of(sim, "amend-me") == Decimal(29990)  # amended all the same
            (fault,) = injector(sim).log.faults
            assert (fault.kind, fault.probe, fault.client_order_id) == (FaultKind.LOST_ACK, Probe.ORDER, "amend-me")
            assert fault.target == "WS order.modify amend-me"


async def test_timeout_on_modify_answers_nothing_and_changes_nothing(autojump_clock: trio.testing.MockClock) -> None:
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.HTTP_TIMEOUT, target="WS order.modify", at=1.0),), seed=4)
    with trio.fail_after(60):
        async with open_simulator("binance-usdm", seed=2, symbols=[SYMBOL], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await place(ws, sim, "still")
                assert (await response(ws)).status == 200
                await trio.sleep(2.0)
                await send(ws, sim, "order.modify", 2, side="BUY", quantity="0.01", price="29990",
                           origClientOrderId="still")  # fmt: skip
                with trio.move_on_after(20.0) as waited:
                    await ws.receive()
                assert waited.cancelled_caught and price_of(sim, "still") == Decimal(30000)
                await send(ws, sim, "order.status", 3, origClientOrderId="still")  # the connection stays
                assert (await response(ws)).status == 200
