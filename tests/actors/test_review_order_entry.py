"""Review tests of the order-entry lane: what the lane tells the link when nothing was written, secrets kept out
of reprs, and the retire/drain rotation of the OrderEntry actor with a request in flight."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, cast

import attrs
import pytest
import trio
import trio.testing
import trio_websocket

from clobactors.actors import open_actor_system
from clobactors.actors.order_entry import OrderEntry
from clobactors.actors.order_lane import OrderLane, PreparedFrame
from clobactors.errors import ConnectFailed, ConnectionLost, UnknownOrder
from clobactors.exchanges.binance import BinanceSpotDialect
from clobactors.exchanges.binance.signing import Credentials
from clobactors.exchanges.order_entry import OrderEntryAnswer
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.ratelimit import Priority
from clobactors.transport.ws import WsConnection
from tests.actors.fake_exchange import SYMBOL, FakeExchange, open_fake_link, start_probe, wall_ns
from tests.actors.test_order_lane import ORDER, EchoDialect, lane_on

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _ws_of(lane: OrderLane) -> WsConnection:
    return lane._ws


async def _silent(ws: trio_websocket.WebSocketConnection) -> None:
    await trio.sleep_forever()


async def test_a_connection_already_failed_is_not_sent_on(autojump_clock: trio.testing.MockClock) -> None:
    """The heartbeat (or the keeper's read) failed the connection, and the reader has not closed the lane yet:
    nothing of a request can leave, so the link must hear ConnectFailed (REST carries it), not an unknown
    outcome that costs the order manager a resolution by client order id."""
    async with lane_on(_silent) as lane:
        _ws_of(lane)._fail(ConnectionLost("no pong within 10s", "loopback"))
        assert lane.is_open  # the reader has not run yet
        assert not lane.ready_nowait()  # the inline path must not pick it
        prepared = lane.prepare(ORDER)
        if prepared is not None:
            with pytest.raises(ConnectFailed):
                await lane.send(prepared)
        assert lane.statistics().sent == 0


async def test_rest_falls_back_when_the_lane_connection_already_failed(autojump_clock: trio.testing.MockClock) -> None:
    """End of the same race through ExchangeLink.rest: the request goes over REST (the fake exchange answers it:
    an unknown order), never 'outcome unknown' from a lane that wrote nothing."""
    query = HttpRequestSpec(method="GET", path="/order", params=(("symbol", SYMBOL), ("cid", "nope")))

    class QueryDialect(EchoDialect):
        def order_entry_frame(self, spec: HttpRequestSpec, credentials: object, request_id: int) -> str | None:
            return json.dumps({"id": request_id, "path": spec.path})

    async with (
        open_fake_link(FakeExchange(), rate_limiter="") as link,
        open_actor_system(wall_ns=wall_ns) as system,
        lane_on(_silent) as lane,
    ):
        ctx = await start_probe(system)
        await link.load_reference_data(ctx)
        lane._dialect = QueryDialect()
        link.lane = lane
        _ws_of(lane)._fail(ConnectionLost("no pong within 10s", "loopback"))
        with pytest.raises(UnknownOrder):  # REST answered
            await link.rest(ctx, query, Priority.QUERY)


def test_prepared_frame_repr_keeps_the_api_key_and_signature_out() -> None:
    dialect = BinanceSpotDialect.for_urls(rest="http://x", ws="ws://x", ws_api="ws://x/ws-api/v3")
    spec = HttpRequestSpec(
        method="POST", path="/api/v3/order", params=(("symbol", "BTCUSDT"), ("timestamp", "1645423376532"))
    )
    frame = dialect.order_entry_frame(spec, Credentials(KEY, SECRET), 7)
    assert frame is not None and KEY in frame
    shown = repr(PreparedFrame(7, frame, spec))
    assert KEY not in shown and "signature" not in shown


async def test_a_retired_lane_is_drained_by_its_last_answer(autojump_clock: trio.testing.MockClock) -> None:
    async def late(ws: trio_websocket.WebSocketConnection) -> None:
        request = json.loads(await ws.get_message())
        await trio.sleep(3)
        await ws.send_message(json.dumps({"id": request["id"], "status": 200, "body": "ok"}))
        await trio.sleep_forever()

    async with lane_on(late, answer_timeout=10.0) as lane:
        prepared = lane.prepare(ORDER)
        assert prepared is not None
        answer = await lane.send(prepared)
        lane.retire()
        assert lane.prepare(ORDER) is None and not lane.ready_nowait()
        started = trio.current_time()
        with trio.fail_after(60):
            await lane.drained()
        assert trio.current_time() - started == pytest.approx(3.0)
        assert (await answer.receive()).status == 200


class _ServerDialect(EchoDialect):
    def __init__(self, url: str) -> None:
        self._url = url

    def order_entry_url(self) -> str:
        return self._url


async def test_retiring_keeps_the_request_in_flight_and_moves_new_ones_off_the_old_lane(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A request written just before ``max_age`` is answered on the old connection (it drains first); from the
    retire moment on the link no longer offers the old lane."""

    async def slow(ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            request = json.loads(await ws.get_message())
            await trio.sleep(5)
            await ws.send_message(json.dumps({"id": request["id"], "status": 200, "body": "done"}))

    async def serve(request: trio_websocket.WebSocketRequest) -> None:
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await slow(await request.accept())

    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_websocket.serve_websocket, serve, "127.0.0.1", 0, None)
            async with open_fake_link(FakeExchange(), rate_limiter="") as link:
                link.dialect = cast(Any, _ServerDialect(f"ws://127.0.0.1:{server.port}/"))
                actor = OrderEntry("x.order_entry", link, max_age=100.0, answer_timeout=10.0, ping_interval=None)
                async with open_actor_system(wall_ns=wall_ns) as system:
                    await system.start(actor)
                    first = link.lane
                    assert first is not None
                    await trio.sleep(98)
                    prepared = first.prepare(ORDER)
                    assert prepared is not None
                    answer = await first.send(prepared)
                    await trio.sleep(2.5)  # retired at 100 s, its request still waiting
                    assert first.retired and link.lane is not first
                    result = await answer.receive()  # answered at 103 s on the old connection
                    assert result.status == 200 and result.body == b"done"
                    await trio.sleep(1)
                    second = link.lane
                    assert second is not None and second is not first and second.is_open
            nursery.cancel_scope.cancel()


def test_echo_answer_shape() -> None:  # keeps the helper dialect honest for the tests above
    answer = EchoDialect().decode_order_entry_answer('{"id": 1, "status": 200, "body": "x"}', 0.0, 0)
    assert answer == OrderEntryAnswer(1, HttpResult(status=200, headers=(), body=b"x", elapsed=0.0))


@attrs.define
class _StubWs:
    """Stands for the WsConnection: records writes; ``on_write`` runs as a reader would while send yields."""

    writing: bool = False
    failure: ConnectionLost | None = None
    sent: list[str] = attrs.field(factory=list)
    on_write: Callable[[str], None] | None = None

    async def send(self, message: str) -> None:
        self.sent.append(message)
        if self.on_write is not None:
            self.on_write(message)  # the answer came back before send returned (it yields after writing)
        await trio.lowlevel.checkpoint()


def _stub_lane(ws: _StubWs) -> OrderLane:
    return OrderLane(cast(WsConnection, ws), EchoDialect(), object(), answer_timeout=2.0, endpoint="stub")


async def test_an_answer_read_while_the_write_returns_is_not_lost(autojump_clock: trio.testing.MockClock) -> None:
    ws = _StubWs()
    lane = _stub_lane(ws)

    def answer(frame: str) -> None:
        request_id = json.loads(frame)["id"]
        result = HttpResult(status=200, headers=(), body=b"fast", elapsed=0.0)
        lane.deliver(OrderEntryAnswer(request_id, result))

    ws.on_write = answer
    prepared = lane.prepare(ORDER)
    assert prepared is not None
    pending = await lane.send(prepared)
    assert (await pending.receive()).body == b"fast"
    assert lane.statistics().unmatched == 0


async def test_the_inline_path_never_waits_behind_a_write_in_progress(autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_link(FakeExchange(), rate_limiter="") as link, open_actor_system(wall_ns=wall_ns) as system:
        ctx = await start_probe(system)
        ws = _StubWs(writing=True)
        link.lane = _stub_lane(ws)
        assert await link.try_send(ctx, ORDER, Priority.ORDER) is None
        assert ws.sent == []  # nothing granted, nothing written: the task path takes it


async def test_a_dropped_connection_is_taken_off_the_link_at_once(autojump_clock: trio.testing.MockClock) -> None:
    async def serve(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await trio.sleep(1)
        await ws.aclose(1011, "going away")

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_websocket.serve_websocket, serve, "127.0.0.1", 0, None)
            async with open_fake_link(FakeExchange(), rate_limiter="") as link:
                link.dialect = cast(Any, _ServerDialect(f"ws://127.0.0.1:{server.port}/"))
                actor = OrderEntry("x.order_entry", link, ping_interval=None)
                async with open_actor_system(wall_ns=wall_ns) as system:
                    await system.start(actor)
                    first = link.lane
                    assert first is not None
                    await trio.sleep(1.1)  # dropped at 1 s; the reconnect waits its backoff (>= 0.45 s)
                    assert not first.is_open and link.lane is None
            nursery.cancel_scope.cancel()
