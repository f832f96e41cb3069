"""OrderLane over a real loopback WebSocket: answers matched by id, timeouts and a dying connection told apart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import trio_websocket

from clobactors.actors.order_lane import OrderLane
from clobactors.errors import ConnectFailed, ConnectionLost, TransportTimeout
from clobactors.exchanges.order_entry import OrderEntryAnswer
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.transport.ws import open_ws

ORDER = HttpRequestSpec(method="POST", path="/order", params=(("size", "1"),))
DEPTH = HttpRequestSpec(method="GET", path="/depth")


class EchoDialect:
    """A toy order entry: ``{"id", "path", "params"}`` out, ``{"id", "status", "body"}`` back."""

    def order_entry_url(self) -> str:
        return ""

    def order_entry_frame(self, spec: HttpRequestSpec, credentials: object, request_id: int) -> str | None:
        if spec.path != "/order":
            return None
        return json.dumps({"id": request_id, "path": spec.path, "params": dict(spec.params)})

    def decode_order_entry_answer(self, message: str | bytes, elapsed: float, now_ms: int) -> OrderEntryAnswer:
        answer = json.loads(message)
        result = HttpResult(status=answer["status"], headers=(), body=answer["body"].encode(), elapsed=elapsed)
        return OrderEntryAnswer(answer["id"], result)


@asynccontextmanager
async def lane_on(
    handler: Callable[[trio_websocket.WebSocketConnection], Awaitable[None]],
    *,
    answer_timeout: float = 1.0,
    on_close: Callable[[], None] | None = None,
) -> AsyncIterator[OrderLane]:
    """A lane to a loopback server running ``handler`` per connection, with a reader delivering its answers."""

    async def serve(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await handler(ws)

    dialect = EchoDialect()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, serve, "127.0.0.1", 0, None)
        port = server.port
        async with open_ws(f"ws://127.0.0.1:{port}/") as ws:
            lane = OrderLane(
                ws, dialect, object(), answer_timeout=answer_timeout, endpoint="loopback", on_close=on_close
            )

            async def read() -> None:
                try:
                    async for frame in ws:
                        lane.deliver(dialect.decode_order_entry_answer(frame.data, 0.0, 0))
                except ConnectionLost as exc:
                    lane.close(exc)

            nursery.start_soon(read)
            yield lane
        nursery.cancel_scope.cancel()


async def test_answers_are_matched_by_id_even_out_of_order(autojump_clock: trio.testing.MockClock) -> None:
    async def reverse(ws: trio_websocket.WebSocketConnection) -> None:
        first = json.loads(await ws.get_message())
        second = json.loads(await ws.get_message())
        await trio.sleep(0.25)
        for request in (second, first):
            await ws.send_message(json.dumps({"id": request["id"], "status": 200, "body": request["params"]["size"]}))
        await trio.sleep_forever()

    async with lane_on(reverse) as lane:
        one = lane.prepare(ORDER)
        two = lane.prepare(HttpRequestSpec(method="POST", path="/order", params=(("size", "2"),)))
        assert one is not None and two is not None and one.request_id != two.request_id
        assert lane.prepare(DEPTH) is None  # no WebSocket twin: REST carries it
        first, second = await lane.send(one), await lane.send(two)
        started = trio.current_time()
        assert (await first.receive()).body == b"1"
        result = await second.receive()
        assert result.body == b"2" and result.status == 200
        assert trio.current_time() - started == pytest.approx(0.25)
        assert result.elapsed == pytest.approx(0.25)
        stats = lane.statistics()
        assert (stats.sent, stats.answered, stats.unmatched, stats.failed, stats.waiting) == (2, 2, 0, 0, 0)


async def test_no_answer_in_time_is_an_unknown_outcome_and_the_late_answer_is_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def late(ws: trio_websocket.WebSocketConnection) -> None:
        request = json.loads(await ws.get_message())
        await trio.sleep(3)
        await ws.send_message(json.dumps({"id": request["id"], "status": 200, "body": "late"}))
        await trio.sleep_forever()

    async with lane_on(late, answer_timeout=2.0) as lane:
        prepared = lane.prepare(ORDER)
        assert prepared is not None
        answer = await lane.send(prepared)
        started = trio.current_time()
        with pytest.raises(TransportTimeout):
            await answer.receive()
        assert trio.current_time() - started == pytest.approx(2.0)
        assert not lane.is_open and isinstance(lane.error, TransportTimeout)  # presumed dead: never reused
        assert lane.prepare(ORDER) is None  # the next order goes over REST
        await trio.sleep(2)
        stats = lane.statistics()
        assert (stats.answered, stats.unmatched, stats.failed, stats.waiting) == (0, 1, 1, 0)


async def test_a_connection_dying_fails_what_waits_and_refuses_what_comes_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def hang_up(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.get_message()
        await ws.aclose(1011, "going away")

    async with lane_on(hang_up) as lane:
        assert lane.ready_nowait()
        prepared = lane.prepare(ORDER)
        assert prepared is not None
        answer = await lane.send(prepared)
        with pytest.raises(ConnectionLost):  # it may have reached the exchange: outcome unknown
            await answer.receive()
        assert not lane.is_open and not lane.ready_nowait()
        assert lane.prepare(ORDER) is None
        with pytest.raises(ConnectFailed):  # nothing left: the order is not on the exchange
            await lane.send(prepared)
        assert lane.statistics().failed == 1


async def test_a_timeout_fails_every_waiting_request_and_tells_the_owner_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def silent(ws: trio_websocket.WebSocketConnection) -> None:
        await trio.sleep_forever()

    closed: list[float] = []
    async with lane_on(silent, answer_timeout=2.0, on_close=lambda: closed.append(trio.current_time())) as lane:
        first, second = lane.prepare(ORDER), lane.prepare(ORDER)
        assert first is not None and second is not None
        one = await lane.send(first)
        await trio.sleep(1)
        two = await lane.send(second)
        started = trio.current_time()
        with pytest.raises(TransportTimeout):
            await one.receive()
        with pytest.raises(ConnectionLost):  # failed with the first: it may have been executed
            await two.receive()
        assert trio.current_time() - started == pytest.approx(1.0)
        assert closed == [pytest.approx(started + 1.0)]
        assert lane.statistics().failed == 2
