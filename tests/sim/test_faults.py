"""Fault plans (rules, TOML, the generated schedule) and the injector's decisions, without sockets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import attrs
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError
from clobactors.sim.fault_frames import malformed
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.fault_vocab import BINANCE_VOCABULARY, vocabulary_for
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.sim.http_server import DropConnection, HalfOpen, HandlerResult, HttpRequest, HttpResponse
from clobactors.sim.runtime import DelayedFrame, WsLink


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


# -- rules and plans -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "ws_abort"}, "give 'at'"),
        ({"kind": "ws_abort", "probability": 0.5}, "scheduled times only"),
        ({"kind": "drop_frames", "probability": 1.5}, "probability"),
        ({"kind": "drop_frames", "at": -1}, "at must be"),
        ({"kind": "drop_frames", "at": 1, "count": 0}, "count"),
        ({"kind": "ws_latency", "at": 1, "duration": 5}, "delay or a jitter"),
        ({"kind": "ws_latency", "at": 1, "delay": 1}, "needs a duration"),
        ({"kind": "slow_snapshot", "at": 1}, "needs a delay"),
        ({"kind": "clock_skew", "at": 1}, "non-zero skew"),
        ({"kind": "http_5xx", "at": 1, "status": 404}, "must be 5xx"),
        ({"kind": "malformed_frames", "at": 1, "mode": "shuffle"}, "mode"),
        ({"kind": "nope", "at": 1}, "kind must be one of"),
        ({"kind": "ws_abort", "at": 1, "colour": "red"}, "unknown keys"),
        ({"kind": "ws_abort", "at": "soon"}, "must be a number"),
        ({"kind": "ws_abort", "at": 1, "count": 1.5}, "must be an integer"),
    ],
)
def test_bad_rules_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultRule.from_mapping(table)


def test_firings_follow_at_every_until() -> None:
    rule = FaultRule(kind=FaultKind.WS_ABORT, at=10.0, every=20.0, until=70.0)
    assert list(rule.firings()) == [10.0, 30.0, 50.0, 70.0]
    assert list(FaultRule(kind=FaultKind.WS_CLOSE, at=5.0).firings()) == [5.0]
    assert list(FaultRule(kind=FaultKind.DROP_FRAMES, probability=0.1).firings()) == []


def test_plan_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        'seed = 7\n[[faults]]\nkind = "ws_abort"\ntarget = "m:btcusdt@*"\nat = 30\nevery = 120\n'
        '[[faults]]\nkind = "drop_frames"\ntarget = "m:*@depth*"\nprobability = 0.01\n'
        '[[faults]]\nkind = "http_429"\nat = 5\nretry_after = 3\n'
    )
    plan = FaultPlan.from_toml(path)
    assert plan.seed == 7
    assert plan.rules == (
        FaultRule(kind=FaultKind.WS_ABORT, target="m:btcusdt@*", at=30.0, every=120.0),
        FaultRule(kind=FaultKind.DROP_FRAMES, target="m:*@depth*", probability=0.01),
        FaultRule(kind=FaultKind.HTTP_429, at=5.0, retry_after=3.0),
    )


def test_plan_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[faults]]\nkind = ")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        FaultPlan.from_toml(bad)
    bad.write_text('[[faults]]\nkind = "ws_abort"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: fault rule ws_abort: give 'at'"):
        FaultPlan.from_toml(bad)
    with pytest.raises(ConfigError, match="cannot read fault plan"):
        FaultPlan.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="unknown keys"):
        FaultPlan.from_mapping({"seed": 1, "fault": []})


def test_generated_schedule_is_seeded_complete_and_avoids_quiet_windows() -> None:
    quiet = [(100.0, 180.0)]
    plan = FaultPlan.generate(5, 300.0, quiet=quiet)
    assert plan == FaultPlan.generate(5, 300.0, quiet=quiet)
    assert plan != FaultPlan.generate(6, 300.0, quiet=quiet)
    assert {r.kind for r in plan.rules} == set(FaultKind)
    times = [r.at for r in plan.rules if r.at is not None]
    assert len(times) == len(plan.rules)
    assert all(10.0 <= t <= 295.0 and not 100.0 <= t <= 180.0 for t in times)
    assert times == sorted(times)
    only = FaultPlan.generate(5, 300.0, [FaultKind.WS_ABORT, FaultKind.LOST_ACK])
    assert {r.kind for r in only.rules} == {FaultKind.WS_ABORT, FaultKind.LOST_ACK}
    assert FaultPlan.generate(5, 300.0, []).rules == ()


# -- malformed frames ----------------------------------------------------------------------------------------


def test_corrupt_breaks_one_decimal_and_keeps_the_envelope() -> None:
    frame = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":5,"b":[["100.5","2"]],"a":[]}}'
    out = malformed(frame, "corrupt")
    assert isinstance(out, bytes)
    tree = json.loads(out)
    assert tree["stream"] == "btcusdt@depth@100ms" and tree["data"]["b"] == [["not-a-number", "2"]]
    assert malformed(frame, "truncate") == frame[: len(frame) // 2]
    assert malformed('{"e":"x"}', "corrupt") == '{"e"'  # no decimal inside: truncated, type kept


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.decimals(allow_nan=False).map(str),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100)
@given(value=json_values, mode=st.sampled_from(["corrupt", "truncate"]))
def test_malformed_always_differs_and_never_raises(value: object, mode: str) -> None:
    frame = msgspec.json.encode(value)
    out = malformed(frame, mode)
    assert out != frame or len(frame) == 1
    if mode == "corrupt":
        try:
            msgspec.json.decode(out)
        except msgspec.DecodeError:
            assert out == frame[: max(1, len(frame) // 2)]  # nothing to corrupt: truncated


# -- the injector --------------------------------------------------------------------------------------------


@attrs.define
class StubLink:
    """What the injector reads of a connection (see ``WsLink``)."""

    id: int
    path: str = "/stream"
    topics: frozenset[str] = frozenset({"m:btcusdt@depth@100ms"})
    closed: bool = False
    stalled: bool = False
    sent: list[object] = attrs.field(factory=list)

    def send(self, item: object) -> None:
        self.sent.append(item)

    def frame(self, topic: str, payload: bytes) -> bytes:
        return b"<" + topic.encode() + b">" + payload


def ws_link(stub: StubLink) -> WsLink:
    """The stub where the injector takes a link: ``WsLink`` is a final class over a live socket, with no
    protocol to implement, and the stub has every member the injector's frame path reads."""
    return cast(WsLink, stub)


def injector(*rules: FaultRule, seed: int = 0) -> FaultInjector:
    return FaultInjector(FaultPlan(rules=rules, seed=seed), BINANCE_VOCABULARY)


def request(method: str, path: str, query: str = "") -> HttpRequest:
    params = tuple(tuple(p.split("=", 1)) for p in query.split("&") if p)
    return HttpRequest(method, path, query, params, (), b"", ("127.0.0.1", 5000))  # type: ignore[arg-type]


def answering(log: list[str]) -> Callable[[HttpRequest], Awaitable[HandlerResult]]:
    async def respond(req: HttpRequest) -> HandlerResult:
        log.append(f"{req.method} {req.path}")
        return HttpResponse.json({"ok": True})

    return respond


async def test_armed_frame_faults_hit_the_next_matching_frames(autojump_clock: trio.testing.MockClock) -> None:
    fi = injector(
        FaultRule(kind=FaultKind.DROP_FRAMES, target="m:btcusdt@depth*", at=1.0, count=2),
        FaultRule(kind=FaultKind.DUPLICATE_FRAMES, target="m:*@trade", at=1.0),
    )
    link = ws_link(StubLink(1))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"a") == (b"a",)  # not armed yet
        await trio.sleep(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert fi.ws_frames(link, "m:ethusdt@depth@100ms", b"b") == (b"b",)  # no match
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"c") == ()
        assert fi.ws_frames(link, "m:btcusdt@trade", b"t") == (b"t", b"t")
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"d") == ()
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"e") == (b"e",)
        nursery.cancel_scope.cancel()
    kinds = [(f.kind, f.at, f.probe, f.symbols) for f in fi.log.faults]
    assert kinds == [
        (FaultKind.DROP_FRAMES, 1.0, Probe.BOOK, ("BTCUSDT",)),
        (FaultKind.DUPLICATE_FRAMES, 1.0, Probe.BOOK, ("BTCUSDT",)),
        (FaultKind.DROP_FRAMES, 1.0, Probe.BOOK, ("BTCUSDT",)),
    ]


async def test_reorder_holds_a_frame_until_the_next_or_the_hold_ends(autojump_clock: trio.testing.MockClock) -> None:
    fi = injector(FaultRule(kind=FaultKind.REORDER_FRAMES, at=0.0, every=10.0))
    stub = StubLink(1)
    link = ws_link(stub)
    topic = "m:btcusdt@depth@100ms"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        await trio.testing.wait_all_tasks_blocked()
        assert fi.ws_frames(link, topic, b"1") == ()
        holding = fi.disturbed  # a local: ``assert fi.disturbed`` would stay narrowed to True for mypy below
        assert holding
        assert fi.ws_frames(link, topic, b"2") == (b"2", b"1")
        await trio.sleep(10.0)
        await trio.testing.wait_all_tasks_blocked()
        assert fi.ws_frames(link, topic, b"3") == ()
        await trio.sleep(1.0)  # nothing overtook it: released after the hold
        await trio.testing.wait_all_tasks_blocked()
        assert stub.sent == [b"3"] and not fi.disturbed
        nursery.cancel_scope.cancel()


async def test_latency_window_delays_in_order(autojump_clock: trio.testing.MockClock) -> None:
    fi = injector(FaultRule(kind=FaultKind.WS_LATENCY, target="*", at=2.0, duration=3.0, delay=0.5, jitter=0.2))
    link = ws_link(StubLink(1))
    topic = "m:btcusdt@depth@100ms"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        await trio.sleep(2.0)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        first = fi.ws_frames(link, topic, b"a")
        second = fi.ws_frames(link, topic, b"b")
        assert isinstance(first[0], DelayedFrame) and isinstance(second[0], DelayedFrame)
        assert start + 0.5 <= first[0].at <= start + 0.7 and second[0].at >= first[0].at
        await trio.sleep(3.0)
        assert fi.ws_frames(link, topic, b"c") == (b"c",)  # the window ended
        nursery.cancel_scope.cancel()
    (fault,) = fi.log.faults
    assert (fault.kind, fault.at, fault.until) == (FaultKind.WS_LATENCY, 2.0, 5.0)


def test_probabilistic_rules_are_reproducible_by_seed() -> None:
    def decisions(seed: int) -> list[int]:
        fi = injector(FaultRule(kind=FaultKind.DROP_FRAMES, probability=0.3), seed=seed)
        link = ws_link(StubLink(1))
        return [len(fi.ws_frames(link, "m:btcusdt@depth@100ms", b"x")) for _ in range(200)]

    async def run(seed: int) -> list[int]:
        return decisions(seed)

    first = trio.run(run, 3, clock=trio.testing.MockClock())
    assert first == trio.run(run, 3, clock=trio.testing.MockClock())
    assert first != trio.run(run, 4, clock=trio.testing.MockClock())
    assert 30 < first.count(0) < 90


async def test_http_faults_answer_for_the_exchange(autojump_clock: trio.testing.MockClock) -> None:
    order = "POST /api/v3/order"
    fi = injector(
        FaultRule(kind=FaultKind.HTTP_429, target="GET /api/v3/time", at=0.0, retry_after=2.5),
        FaultRule(kind=FaultKind.LOST_ACK, at=0.0),
        FaultRule(kind=FaultKind.REJECT_ORDER, at=0.0),
        FaultRule(kind=FaultKind.HTTP_TIMEOUT, target=order, at=0.0),
        FaultRule(kind=FaultKind.SLOW_SNAPSHOT, at=0.0, delay=4.0),
        FaultRule(kind=FaultKind.HTTP_5XX, target="GET /api/v3/account", at=0.0, status=502),
    )
    seen: list[str] = []
    respond = answering(seen)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        await trio.testing.wait_all_tasks_blocked()
        limited = await fi.http(request("GET", "/api/v3/time"), respond)
        assert isinstance(limited, HttpResponse) and limited.status == 429
        assert ("Retry-After", "3") in limited.headers and json.loads(limited.body)["code"] == -1003
        lost = await fi.http(request("POST", "/api/v3/order", "symbol=BTCUSDT&newClientOrderId=c1"), respond)
        assert isinstance(lost, DropConnection) and seen == ["POST /api/v3/order"]  # executed, answer lost
        refused = await fi.http(request("POST", "/api/v3/order", "newClientOrderId=c2"), respond)
        assert isinstance(refused, HttpResponse) and json.loads(refused.body)["code"] == -2010
        assert isinstance(await fi.http(request("POST", "/api/v3/order", "newClientOrderId=c3"), respond), HalfOpen)
        started = trio.current_time()
        slow = await fi.http(request("GET", "/api/v3/depth", "symbol=ETHUSDT&limit=1000"), respond)
        assert isinstance(slow, HttpResponse) and slow.status == 200 and trio.current_time() - started == 4.0
        failed = await fi.http(request("GET", "/api/v3/account", "signature=x"), respond)
        assert isinstance(failed, HttpResponse) and failed.status == 502
        await trio.sleep(1.0)
        await fi.http(request("GET", "/api/v3/time"), respond)  # any success ends the 429
        await fi.http(request("GET", "/api/v3/account", "signature=x"), respond)  # the same route ends the 5xx
        nursery.cancel_scope.cancel()
    log = fi.log
    summary = [(f.kind, f.probe, f.client_order_id, f.symbols) for f in log.faults]
    assert summary == [
        (FaultKind.HTTP_429, Probe.REST, "", ()),
        (FaultKind.LOST_ACK, Probe.ORDER, "c1", ()),
        (FaultKind.REJECT_ORDER, Probe.ORDER, "c2", ()),
        (FaultKind.HTTP_TIMEOUT, Probe.ORDER, "c3", ()),
        (FaultKind.SLOW_SNAPSHOT, Probe.BOOK, "", ("ETHUSDT",)),
        (FaultKind.HTTP_5XX, Probe.REST, "", ()),
    ]
    assert log.rest_recovered == {1: 4.0, 6: 5.0}


async def test_suspended_injector_injects_nothing(autojump_clock: trio.testing.MockClock) -> None:
    fi = injector(
        FaultRule(kind=FaultKind.DROP_FRAMES, probability=1.0),
        FaultRule(kind=FaultKind.WS_ABORT, at=5.0),
    )
    link = ws_link(StubLink(1))
    fi.suspend()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fi.run)
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"x") == (b"x",)
        await trio.sleep(6.0)
        fi.resume()
        await trio.testing.wait_all_tasks_blocked()
        assert fi.ws_frames(link, "m:btcusdt@depth@100ms", b"y") == ()
        nursery.cancel_scope.cancel()
    assert fi.log.skipped == 1 and len(fi.log.faults) == 1


def test_vocabulary_registry() -> None:
    assert vocabulary_for("binance") is BINANCE_VOCABULARY
    with pytest.raises(ConfigError, match="no fault vocabulary"):
        vocabulary_for("nowhere")
    assert BINANCE_VOCABULARY.market_symbol("m:ethusdt@trade") == "ETHUSDT"
    assert BINANCE_VOCABULARY.market_symbol("user:default") is None
