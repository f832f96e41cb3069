"""The simulator's topic indexes: a face's memo over the wanted topics, and a session's framing by topic."""

from __future__ import annotations

import msgspec

from clobactors.exchanges.binance.face_streams import StreamSession
from clobactors.sim.face_protocol import WantedTopics


def test_derived_values_are_computed_once_per_key_set() -> None:
    wanted: WantedTopics[set[int]] = WantedTopics()
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(wanted)

    assert wanted.derived("n", compute) == 0
    wanted["a"] = {1}
    assert wanted.derived("n", compute) == 0  # the owner did not say it changed
    wanted.changed()
    assert (wanted.derived("n", compute), wanted.derived("n", compute), len(calls)) == (1, 1, 2)
    assert "a" in wanted and wanted.derived("other", lambda: "x") == "x"


def _session() -> StreamSession:
    return StreamSession(
        ["btcusdt@depth@100ms", "btcusdt@trade"], combined=True, resolve_listen_key=lambda key: "acct-1"
    )


def test_frames_follow_subscription_changes() -> None:
    session = _session()
    wrapped = msgspec.json.decode(session.frame("m:btcusdt@trade", b'{"t":1}'))
    assert wrapped == {"stream": "btcusdt@trade", "data": {"t": 1}}
    assert session.frame("m:ethusdt@trade", b"{}") == b"{}"  # not subscribed: as is
    session.receive(b'{"method":"SUBSCRIBE","params":["ethusdt@trade"],"id":1}', 0)
    assert msgspec.json.decode(session.frame("m:ethusdt@trade", b"{}"))["stream"] == "ethusdt@trade"
    session.receive(b'{"method":"SET_PROPERTY","params":["combined",false],"id":2}', 0)
    assert session.frame("m:ethusdt@trade", b"{}") == b"{}"


def test_a_shared_topic_is_framed_with_its_first_stream() -> None:
    session = StreamSession(["keyA", "keyB"], combined=True, resolve_listen_key=lambda key: "acct-1")
    assert msgspec.json.decode(session.frame("user:acct-1", b"{}"))["stream"] == "keyA"
    session.receive(b'{"method":"UNSUBSCRIBE","params":["keyA"],"id":1}', 0)
    assert msgspec.json.decode(session.frame("user:acct-1", b"{}"))["stream"] == "keyB"
