"""Request faults on WebSocket API requests (``"WS <method>"`` targets): the vocabulary, the rules, and the seam.

The vocabulary's frames are read back with the client's own decoder (:func:`wsapi_orders.decode_answer`) and
error mapping, and the refusal is compared with the documented failed response (web-socket-api.md § Response
format). The seam is driven over loopback sockets against the simulator under the autojump clock: each kind
does to ``order.place`` what it does to ``POST /api/v3/order``.
"""

from __future__ import annotations

import json
from pathlib import Path
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
from clobactors.exchanges.binance.errors import map_error
from clobactors.exchanges.binance.face_faults import BINANCE_VOCABULARY
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.exchanges.binance.wsapi_orders import decode_answer
from clobactors.exchanges.binance_usdm.face_faults import BINANCE_USDM_VOCABULARY
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.sim.server import Simulator, open_simulator
from clobactors.sim.ws_request_faults import WsRequest, WsRequestVocabulary, check_ws_rule
from clobactors.transport.ws import WsConnection, open_ws

PAYLOADS: Final = Path(__file__).resolve().parents[1] / "exchanges" / "binance" / "payloads"
NOW_MS: Final = 1_704_067_200_000
PLACE: Final = "WS order.place"


def frame(method: str, request_id: int | str = 7, **params: Any) -> str:
    return json.dumps({"id": request_id, "method": method, "params": params})


# -- the vocabulary ------------------------------------------------------------------------------------------


def test_spot_vocabulary_reads_method_id_and_client_order_id() -> None:
    vocab = BINANCE_VOCABULARY
    assert isinstance(vocab, WsRequestVocabulary)
    place = frame("order.place", 3, symbol="BTCUSDT", newClientOrderId="a-1", signature="ff")
    assert vocab.ws_request(place) == WsRequest("order.place", 3, "a-1", signed=True)
    assert vocab.ws_request(place.encode()) == WsRequest("order.place", 3, "a-1", signed=True)
    assert vocab.ws_request(frame("order.cancel", "x", origClientOrderId="b")) == WsRequest("order.cancel", "x", "b")
    assert vocab.ws_request(frame("order.status", origClientOrderId="c")) == WsRequest("order.status", 7, "c")
    replace = frame("order.cancelReplace", cancelOrigClientOrderId="old", newClientOrderId="new")
    assert vocab.ws_request(replace) == WsRequest("order.cancelReplace", 7, "old")  # the order replaced
    assert vocab.ws_request(frame("v3/order.place", newClientOrderId="d")) == WsRequest("order.place", 7, "d")
    assert vocab.ws_request(frame("openOrders.status", symbol="BTCUSDT")) == WsRequest("openOrders.status", 7)
    assert vocab.ws_request(frame("order.place", orderId=5)) == WsRequest("order.place", 7)  # no client id
    assert vocab.ws_request(json.dumps({"id": 1, "method": "ping"})) == WsRequest("ping", 1)
    assert WsRequest("order.place", 1).route == PLACE
    for junk in ("", "{", "[]", '{"id": 1}', '{"method": "ping"}', "\xff"):
        assert vocab.ws_request(junk) is None


@settings(max_examples=200)
@given(st.one_of(st.text(), st.binary()))
def test_reading_any_frame_never_raises(message: str | bytes) -> None:
    request = BINANCE_VOCABULARY.ws_request(message)
    assert request is None or isinstance(request, WsRequest)


def answer(message: str) -> tuple[wire.WsApiResponse, Exception]:
    result = decode_answer(message, 0.0, NOW_MS).result
    return wire.WS_API_RESPONSE_DECODER.decode(message), map_error(
        result.status, result.body, retry_after=next((float(v) for k, v in result.headers if k == "retry-after"), None)
    )


def test_error_frames_read_as_the_client_reads_them() -> None:
    vocab = BINANCE_VOCABULARY
    limited, error = answer(vocab.ws_rate_limited(3, 429, 2.0, NOW_MS))
    assert (limited.id, limited.status, limited.error is not None and limited.error.code) == (3, 429, -1003)
    assert isinstance(error, RateLimited) and error.retry_after == 2.0 and not error.banned
    data = msgspec.json.decode(limited.error.data if limited.error else b"null")
    assert data == {"serverTime": NOW_MS, "retryAfter": NOW_MS + 2000}  # as WsApiSession answers a real 429
    banned, error = answer(vocab.ws_rate_limited("q", 418, 9.5, NOW_MS))
    assert (banned.id, banned.status) == ("q", 418)
    assert isinstance(error, RateLimited) and error.retry_after == 10.0 and error.banned
    assert banned.error is not None and str(NOW_MS + 10_000) in banned.error.msg
    broken, error = answer(vocab.ws_server_error(4, 503))
    assert (broken.id, broken.status, broken.error is not None and broken.error.code) == (4, 503, -1001)
    assert isinstance(error, ExchangeUnavailable)
    assert broken.result == wire.NULL and broken.rate_limits == ()


def test_refusal_is_the_documented_failed_response() -> None:
    documented = json.loads((PAYLOADS / "ws_api_error_response.json").read_text())["payload"]
    refused = json.loads(BINANCE_VOCABULARY.ws_order_rejected(documented["id"]))
    assert refused == {"id": documented["id"], "status": 400, "error": documented["error"]}  # rateLimits: optional
    _, error = answer(BINANCE_VOCABULARY.ws_order_rejected(1))
    assert isinstance(error, InsufficientBalance)


def test_ws_succeeded_reads_the_last_frame() -> None:
    vocab = BINANCE_VOCABULARY
    ok = json.dumps({"id": 1, "status": 200, "result": {}})
    assert vocab.ws_succeeded([b'{"event":{}}', ok])
    assert not vocab.ws_succeeded([vocab.ws_server_error(1, 503)])
    assert not vocab.ws_succeeded([])
    assert not vocab.ws_succeeded(["not json"])


# -- rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["WS order.place", "WS order.*", "WS *", "WS order.cancelReplace", "WS userDataStream.*", "WS myTrades"]
)
def test_spot_takes_ws_targets(target: str) -> None:
    for kind in (FaultKind.LOST_ACK, FaultKind.HTTP_5XX, FaultKind.HTTP_429, FaultKind.HTTP_TIMEOUT):
        FaultInjector(FaultPlan(rules=(FaultRule(kind=kind, target=target, at=1.0),)), BINANCE_VOCABULARY)


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (FaultRule(kind=FaultKind.LOST_ACK, target="WS order.placed", at=1.0), "names no WebSocket API method"),
        (FaultRule(kind=FaultKind.REJECT_ORDER, target="WS POST /api/v3/order", at=1.0), "names no WebSocket"),
        (FaultRule(kind=FaultKind.WS_ABORT, target="WS order.place", at=1.0), "only the request kinds"),
        (FaultRule(kind=FaultKind.DROP_FRAMES, target="WS *", at=1.0), "only the request kinds"),
        (FaultRule(kind=FaultKind.SLOW_SNAPSHOT, target="WS *", at=1.0, delay=1.0), "only the request kinds"),
    ],
)
def test_spot_refuses_ws_targets_that_cannot_fire(rule: FaultRule, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        FaultInjector(FaultPlan(rules=(rule,)), BINANCE_VOCABULARY)


def test_a_vocabulary_without_websocket_words_refuses_ws_targets() -> None:
    rule = FaultRule(kind=FaultKind.LOST_ACK, target=PLACE, at=1.0)
    with pytest.raises(ConfigError, match="takes none"):
        check_ws_rule(rule, object())
    check_ws_rule(rule, BINANCE_USDM_VOCABULARY)  # USD-M has them (tests/sim/test_faults_ws_requests_usdm.py)
    with pytest.raises(ConfigError, match="WebSocket API"):  # its own refusals are as before
        FaultInjector(FaultPlan(rules=(FaultRule(kind=FaultKind.WS_ABORT, target="/ws-api/v3", at=1.0),)),
                      BINANCE_USDM_VOCABULARY)  # fmt: skip
    check_ws_rule(FaultRule(kind=FaultKind.LOST_ACK, at=1.0), object())  # REST targets: the vocabulary's call


def test_chaos_aims_the_request_kinds_at_the_websocket_api() -> None:
    plan = FaultPlan.generate(3, 600.0)
    moved = ws_request_faults(plan.rules, BINANCE_VOCABULARY)
    assert [(r.kind, r.at) for r in moved] == [(r.kind, r.at) for r in plan.rules]  # the mix keeps its shape
    expected = {FaultKind.LOST_ACK: "WS order.place", FaultKind.REJECT_ORDER: "WS order.place"}
    expected |= {k: "WS *" for k in (FaultKind.HTTP_LATENCY, FaultKind.HTTP_429, FaultKind.HTTP_418,
                                     FaultKind.HTTP_5XX, FaultKind.HTTP_TIMEOUT)}  # fmt: skip
    for before, after in zip(plan.rules, moved, strict=True):
        assert after.target == expected.get(before.kind, before.target)
    FaultInjector(FaultPlan(rules=moved), BINANCE_VOCABULARY)  # every target is one spot takes
    mine = FaultRule(kind=FaultKind.HTTP_5XX, target="WS order.cancel", at=3.0)
    assert ws_request_faults([mine], BINANCE_VOCABULARY) == (mine,)
    amend = amend_faults("binance", 3, 600.0, order_entry=OrderEntry.WEBSOCKET)
    assert amend and {r.target for r in amend} == {"WS order.cancelReplace"}


# -- the seam, over loopback ---------------------------------------------------------------------------------


async def place(ws: WsConnection, sim: Simulator, cid: str, request_id: int | str = 1) -> None:
    creds = Credentials(api_key=sim.api_key, secret=sim.api_secret)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "30000", "newClientOrderId": cid}  # fmt: skip
    body = {"id": request_id, "method": "order.place", "params": sign_ws_params(params, creds, timestamp=sim.now_ms())}
    await ws.send(json.dumps(body))


async def response(ws: WsConnection) -> wire.WsApiResponse:
    return wire.WS_API_RESPONSE_DECODER.decode((await ws.receive()).data)


def exists(sim: Simulator, cid: str) -> bool:
    return sim.engine.order(sim.account_id, "BTCUSDT", client_order_id=cid) is not None


def injector(sim: Simulator) -> FaultInjector:
    faults = sim.faults
    assert isinstance(faults, FaultInjector)
    return faults


def rules(*rules: FaultRule) -> FaultPlan:
    return FaultPlan(rules=rules, seed=4)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [(FaultKind.REJECT_ORDER, 400, -2010), (FaultKind.HTTP_429, 429, -1003), (FaultKind.HTTP_418, 418, -1003),
     (FaultKind.HTTP_5XX, 503, -1001)],
)  # fmt: skip
async def test_error_answers_echo_the_id_and_execute_nothing(
    autojump_clock: trio.testing.MockClock, kind: FaultKind, status: int, code: int
) -> None:
    plan = rules(FaultRule(kind=kind, target=PLACE, at=1.0))
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await trio.sleep(2.0)
                await place(ws, sim, "hit", request_id="r-1")
                hit = await response(ws)
                assert (hit.id, hit.status, hit.error is not None and hit.error.code) == ("r-1", status, code)
                assert not exists(sim, "hit")
                await place(ws, sim, "next", request_id=2)  # armed once: the next one goes through
                assert (await response(ws)).status == 200 and exists(sim, "next")
            (fault,) = injector(sim).log.faults
            assert (fault.kind, fault.at) == (kind, 2.0)
            if kind in (FaultKind.HTTP_429, FaultKind.HTTP_418):  # path-wide: over at the next success
                assert (fault.probe, fault.target) == (Probe.REST, PLACE)
                assert injector(sim).log.rest_recovered == {fault.seq: 2.0}
            else:
                assert (fault.probe, fault.target, fault.client_order_id) == (Probe.ORDER, f"{PLACE} hit", "hit")


async def test_lost_ack_executes_then_aborts_the_connection(autojump_clock: trio.testing.MockClock) -> None:
    plan = rules(FaultRule(kind=FaultKind.LOST_ACK, target="WS order.*", at=1.0))
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as watcher:
                creds = Credentials(api_key=sim.api_key, secret=sim.api_secret)
                subscribe = sign_ws_params({}, creds, timestamp=sim.now_ms())
                await watcher.send(json.dumps({"id": 0, "method": "userDataStream.subscribe.signature",
                                               "params": subscribe}))  # fmt: skip
                assert (await response(watcher)).status == 200
                async with open_ws(sim.ws_api_url) as ws:
                    await trio.sleep(2.0)
                    await place(ws, sim, "lost")
                    with pytest.raises(ConnectionLost):
                        await ws.receive()  # no answer: the connection is reset
                assert exists(sim, "lost")  # executed all the same
                event = wire.WS_API_EVENT_DECODER.decode((await watcher.receive()).data)
                report = wire.USER_EVENT_DECODER.decode(event.event)
                assert isinstance(report, wire.ExecutionReport) and report.client_order_id == "lost"
            (fault,) = injector(sim).log.faults
            assert (fault.kind, fault.probe, fault.client_order_id) == (FaultKind.LOST_ACK, Probe.ORDER, "lost")


async def test_timeout_answers_nothing_and_keeps_the_connection(autojump_clock: trio.testing.MockClock) -> None:
    plan = rules(FaultRule(kind=FaultKind.HTTP_TIMEOUT, target=PLACE, at=1.0))
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await trio.sleep(2.0)
                await place(ws, sim, "silent")
                with trio.move_on_after(20.0) as waited:
                    await ws.receive()
                assert waited.cancelled_caught and not exists(sim, "silent")
                await place(ws, sim, "after", request_id=2)
                after = await response(ws)
                assert (after.id, after.status) == (2, 200)


async def test_latency_delays_the_answer_and_what_follows(autojump_clock: trio.testing.MockClock) -> None:
    plan = rules(FaultRule(kind=FaultKind.HTTP_LATENCY, target=PLACE, at=1.0, duration=5.0, delay=1.5))
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await trio.sleep(2.0)
                start = trio.current_time()
                await place(ws, sim, "slow", request_id=1)
                await ws.send(json.dumps({"id": 2, "method": "ping"}))  # not in the target, but behind it
                await trio.sleep(0.5)
                assert exists(sim, "slow")  # executed at once, answered late
                first, second = await response(ws), await response(ws)
                assert (first.id, first.status, second.id) == (1, 200, 2)
                assert trio.current_time() - start == pytest.approx(1.5)
                await trio.sleep(5.0)
                await place(ws, sim, "fast", request_id=3)
                await response(ws)
                assert trio.current_time() - start == pytest.approx(6.5)  # the window is over
            (fault,) = injector(sim).log.faults
            assert (fault.kind, fault.probe, fault.until) == (FaultKind.HTTP_LATENCY, Probe.REST, 6.0)
            assert injector(sim).log.rest_recovered == {fault.seq: 8.5}  # the first answer after the window


async def test_rest_targets_never_hit_the_websocket_api(autojump_clock: trio.testing.MockClock) -> None:
    plan = rules(FaultRule(kind=FaultKind.HTTP_5XX, target="*", probability=1.0),
                 FaultRule(kind=FaultKind.LOST_ACK, at=0.5))  # fmt: skip
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                await trio.sleep(1.0)
                await place(ws, sim, "fine")
                assert (await response(ws)).status == 200
            assert injector(sim).log.faults == []


async def test_a_request_only_connection_heals_at_the_next_answered_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A connection fault on a connection with no topics (order entry): probed by the WebSocket API requests,
    over at the first one answered after it."""
    plan = rules(FaultRule(kind=FaultKind.WS_ABORT, target="/ws-api/*", at=1.0))
    with trio.fail_after(60):
        async with open_simulator(seed=2, symbols=["BTCUSDT"], flow=False, faults=plan) as sim:
            async with open_ws(sim.ws_api_url) as ws:
                with pytest.raises(ConnectionLost):
                    await ws.receive()
            await trio.sleep(2.0)
            async with open_ws(sim.ws_api_url) as ws:
                await place(ws, sim, "again")
                assert (await response(ws)).status == 200
            (fault,) = injector(sim).log.faults
            assert fault.probe is Probe.REST and injector(sim).log.rest_recovered == {fault.seq: 3.0}
