"""Binance USD-M's fault vocabulary against the documented payloads, decoded by the USD-M dialect itself.

Sources (developers.binance.com/docs/derivatives/usds-margined-futures): § General Info › HTTP Return Codes
and LIMITS (429 / 418 with ``Retry-After``, 5XX = execution status unknown), § Error Codes (-1003, -1001,
-2019), § User Data Streams › Event: User Data Stream Expired, § Websocket Market Streams (stream names).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Awaitable, Callable

import attrs
import pytest
import trio
import trio.testing

from clobactors.errors import ConfigError, ExchangeUnavailable, InsufficientBalance, RateLimited
from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.binance_usdm.codec import decode_user
from clobactors.exchanges.binance_usdm.errors import map_error, parse_retry_after
from clobactors.exchanges.binance_usdm.face_faults import BINANCE_USDM_VOCABULARY as VOCAB
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.fault_vocab import BINANCE_VOCABULARY, VOCABULARIES, vocabulary_for
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.sim.http_server import DropConnection, HandlerResult, HttpRequest, HttpResponse

#: § User Data Streams › Event: User Data Stream Expired (the documented example's key).
LISTEN_KEY = "WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv"
#: § Websocket Market Streams: the streams the USD-M session subscribes to.
MARKET_TOPICS = ("m:btcusdt@depth@100ms", "m:btcusdt@aggTrade", "m:btcusdt@markPrice@1s", "m:btcusdt@bookTicker")


def request(method: str, path: str, query: str = "", body: bytes = b"") -> HttpRequest:
    params = tuple(tuple(p.split("=", 1)) for p in query.split("&") if p)
    return HttpRequest(method, path, query, params, (), body, ("127.0.0.1", 5000))  # type: ignore[arg-type]


def retry_after(response: HttpResponse) -> float | None:
    return parse_retry_after(dict(response.headers).get("Retry-After"))


def test_registry_knows_usdm_under_both_spellings() -> None:
    assert vocabulary_for("binance-usdm") is VOCAB
    assert vocabulary_for("binance_usdm") is VOCAB
    assert vocabulary_for("binance") is BINANCE_VOCABULARY
    with pytest.raises(ConfigError, match="binance-usdm"):  # the message names the known faces
        vocabulary_for("okx")
    assert set(VOCABULARIES) == {"binance", "binance-usdm", "binance_usdm"}


def test_429_and_418_bodies_decode_as_rate_limits() -> None:
    limited = VOCAB.rate_limited(429, 1.5, now_ms=1_704_067_200_000)
    assert limited.status == 429 and retry_after(limited) == 2.0  # whole seconds, rounded up
    assert json.loads(limited.body) == {
        "code": -1003,
        "msg": "Too many requests; current limit is 2400 requests per minute. Please use the websocket for live "
        "updates to avoid polling the API.",
    }
    error = map_error(429, limited.body, retry_after=retry_after(limited))
    assert isinstance(error, RateLimited) and not error.banned and error.retry_after == 2.0
    banned = VOCAB.rate_limited(418, 10.0, now_ms=1_704_067_200_000)
    assert json.loads(banned.body) == {
        "code": -1003,
        "msg": "Way too many requests; IP banned until 1704067210000. Please use the websocket for live updates "
        "to avoid bans.",
    }
    error = map_error(418, banned.body, retry_after=retry_after(banned))
    assert isinstance(error, RateLimited) and error.banned and error.retry_after == 10.0


def test_5xx_and_margin_rejection_bodies() -> None:
    failed = VOCAB.server_error(503)
    assert failed.status == 503 and json.loads(failed.body) == {
        "code": -1001,
        "msg": "Internal error; unable to process your request. Please try again.",
    }
    assert isinstance(map_error(503, failed.body), ExchangeUnavailable)  # outcome unknown, never "failed"
    refused = VOCAB.order_rejected()
    assert refused.status == 400 and json.loads(refused.body) == {"code": -2019, "msg": "Margin is insufficient."}
    error = map_error(400, refused.body)
    assert isinstance(error, InsufficientBalance) and error.code == "-2019"


def test_user_stream_end_is_listen_key_expired_then_close() -> None:
    link = StubLink(topics=frozenset({"user:default", f"lk:{LISTEN_KEY}"}))
    end = VOCAB.user_stream_end(link, now_ms=1_736_996_475_556)  # type: ignore[arg-type]
    assert end is not None and end.close and end.topic == f"lk:{LISTEN_KEY}"
    assert json.loads(end.payload) == {"e": "listenKeyExpired", "E": 1736996475556, "listenKey": LISTEN_KEY}
    (event,) = decode_user(SymbolTable(), end.payload, recv_ns=0)
    assert isinstance(event, Control) and event.kind is ControlKind.RECONNECT
    assert VOCAB.user_stream_end(StubLink(topics=frozenset(MARKET_TOPICS)), now_ms=0) is None  # type: ignore[arg-type]


def test_topics_routes_and_default_targets() -> None:
    depth = [t for t in MARKET_TOPICS if fnmatch.fnmatchcase(t, VOCAB.default_target(FaultKind.DROP_FRAMES))]
    assert depth == ["m:btcusdt@depth@100ms"]
    assert fnmatch.fnmatchcase(f"lk:{LISTEN_KEY}", VOCAB.default_target(FaultKind.USER_STREAM_END))
    assert {VOCAB.market_symbol(t) for t in MARKET_TOPICS} == {"BTCUSDT"}
    assert VOCAB.market_symbol(f"lk:{LISTEN_KEY}") is None and VOCAB.is_user_topic(f"lk:{LISTEN_KEY}")
    assert not VOCAB.is_user_topic("m:btcusdt@aggTrade")
    assert VOCAB.default_target(FaultKind.SLOW_SNAPSHOT) == "GET /fapi/v1/depth"
    assert VOCAB.default_target(FaultKind.LOST_ACK) == VOCAB.default_target(FaultKind.REJECT_ORDER)
    assert VOCAB.default_target(FaultKind.LOST_ACK) == "POST /fapi/v1/order"
    assert VOCAB.snapshot_symbol(request("GET", "/fapi/v1/depth", "symbol=ETHUSDT&limit=1000")) == "ETHUSDT"
    assert VOCAB.snapshot_symbol(request("GET", "/api/v3/depth", "symbol=ETHUSDT")) is None
    place = request("POST", "/fapi/v1/order", "", b"symbol=BTCUSDT&newClientOrderId=c1&signature=ab")
    assert VOCAB.order_client_id(place) == "c1" and VOCAB.is_signed(place)
    assert VOCAB.order_client_id(request("DELETE", "/fapi/v1/order", "origClientOrderId=c2")) == "c2"
    assert VOCAB.order_client_id(request("GET", "/fapi/v1/order", "origClientOrderId=c2")) == "c2"  # a query
    assert VOCAB.order_client_id(request("GET", "/fapi/v1/openOrders", "symbol=BTCUSDT")) is None
    assert not VOCAB.is_signed(request("GET", "/fapi/v1/depth", "symbol=BTCUSDT"))


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        (FaultKind.LOST_ACK, "POST /api/v3/order"),
        (FaultKind.HTTP_5XX, "* /api/v3/depth"),
        (FaultKind.USER_STREAM_END, "/ws-api/v3"),
        (FaultKind.WS_CLOSE, "/ws-fapi/v1"),
    ],
)
def test_rules_that_cannot_fire_on_usdm_are_refused(kind: FaultKind, target: str) -> None:
    plan = FaultPlan(rules=(FaultRule(kind=kind, target=target, at=1.0),))
    with pytest.raises(ConfigError, match="Binance USD-M does not serve"):
        FaultInjector(plan, VOCAB)


def test_futures_targets_are_refused_on_spot() -> None:
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.LOST_ACK, target="POST /fapi/v1/order", at=1.0),))
    with pytest.raises(ConfigError, match="spot simulator does not serve"):
        FaultInjector(plan, BINANCE_VOCABULARY)


def test_every_kind_has_a_usdm_meaning() -> None:
    """No kind is refused on USD-M: each default rule builds, with a target in the USD-M protocol."""
    for kind in FaultKind:
        FaultInjector(FaultPlan(rules=(FaultRule.default(kind, 1.0),)), VOCAB)
        target = VOCAB.default_target(kind)
        assert "/api/v3" not in target and "ws-api" not in target


@attrs.define
class StubLink:
    """What the vocabulary and the injector read of a connection (see ``WsLink``)."""

    id: int = 1
    path: str = "/stream"
    topics: frozenset[str] = frozenset(MARKET_TOPICS)
    closed: bool = False
    stalled: bool = False
    sent: list[object] = attrs.field(factory=list)

    def send(self, item: object) -> None:
        self.sent.append(item)

    def frame(self, topic: str, payload: bytes) -> bytes:
        return payload

    def close(self, code: int, reason: str) -> None:
        self.closed = True

    def stall(self) -> None:
        self.stalled = True


def answering(log: list[str]) -> Callable[[HttpRequest], Awaitable[HandlerResult]]:
    async def respond(req: HttpRequest) -> HandlerResult:
        log.append(f"{req.method} {req.path}")
        return HttpResponse.json({"ok": True})

    return respond


async def test_injector_speaks_usdm(autojump_clock: trio.testing.MockClock) -> None:
    fi = FaultInjector(
        FaultPlan(
            rules=(
                FaultRule(kind=FaultKind.LOST_ACK, at=0.0),
                FaultRule(kind=FaultKind.REJECT_ORDER, at=0.0),
                FaultRule(kind=FaultKind.SLOW_SNAPSHOT, at=0.0, delay=4.0),
                FaultRule(kind=FaultKind.USER_STREAM_END, at=2.0),
                FaultRule(kind=FaultKind.WS_HALF_OPEN, target="m:*", at=3.0),
            )
        ),
        VOCAB,
        half_open_grace=75.0,
    )
    user = StubLink(id=1, topics=frozenset({"user:default", f"lk:{LISTEN_KEY}"}))
    market = StubLink(id=2)
    fi.ws_opened(user)  # type: ignore[arg-type]
    fi.ws_opened(market)  # type: ignore[arg-type]
    seen: list[str] = []
    respond = answering(seen)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        await trio.testing.wait_all_tasks_blocked()
        lost = await fi.http(request("POST", "/fapi/v1/order", "symbol=BTCUSDT&newClientOrderId=c1"), respond)
        assert isinstance(lost, DropConnection) and seen == ["POST /fapi/v1/order"]  # executed, answer lost
        refused = await fi.http(request("POST", "/fapi/v1/order", "newClientOrderId=c2"), respond)
        assert isinstance(refused, HttpResponse) and json.loads(refused.body)["code"] == -2019
        passed = await fi.http(request("POST", "/fapi/v1/order", "newClientOrderId=c3"), respond)
        assert isinstance(passed, HttpResponse) and passed.status == 200  # each armed hit is spent once
        started = trio.current_time()
        slow = await fi.http(request("GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000"), respond)
        assert isinstance(slow, HttpResponse) and trio.current_time() - started == 4.0
        assert user.closed and json.loads(user.sent[0])["e"] == "listenKeyExpired"  # type: ignore[arg-type]
        assert market.stalled
        disturbed = [fi.disturbed]
        await trio.sleep_until(fi.t0 + 3.0 + 74.0)
        disturbed.append(fi.disturbed)
        await trio.sleep_until(fi.t0 + 3.0 + 75.0)
        disturbed.append(fi.disturbed)
        # After its grace the client has long given up; the server's socket lingers (USD-M's 10-min pong wait).
        assert disturbed == [True, True, False] and not market.closed
        nursery.cancel_scope.cancel()
    summary = [(f.kind, f.probe, f.client_order_id, f.symbols) for f in fi.log.faults]
    assert summary == [
        (FaultKind.LOST_ACK, Probe.ORDER, "c1", ()),
        (FaultKind.REJECT_ORDER, Probe.ORDER, "c2", ()),
        (FaultKind.SLOW_SNAPSHOT, Probe.BOOK, "", ("BTCUSDT",)),
        (FaultKind.USER_STREAM_END, Probe.USER, "", ()),
        (FaultKind.WS_HALF_OPEN, Probe.BOOK, "", ("BTCUSDT",)),
    ]
