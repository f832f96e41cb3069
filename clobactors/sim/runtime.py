"""The loopback server's moving parts: clock mapping, topic fan-out, and the tasks.

Internal to :mod:`clobactors.sim.server` (which documents the behaviour); kept apart so each module stays
small. :class:`Faults` is the seam where fault injection hooks in (:class:`WsLink` is how it reaches a
connection); :class:`NoFaults` changes nothing. The per-connection buffers, the topic hub and :class:`WsLink`
live in :mod:`clobactors.sim.fanout` (re-exported here: :class:`DelayedFrame`, ``FaultFrame``, :class:`WsLink`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, final

import attrs
import trio

from clobactors.errors import TransportError
from clobactors.exchanges.binance.errors import ERROR_MESSAGES, error_body
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import Face, Output, RestRequest, RestResponse
from clobactors.sim.fanout import DelayedFrame, FaultFrame, WsLink, _Close, _Conn, _Hub, _Item
from clobactors.sim.flow import OrderFlow
from clobactors.sim.http_server import HandlerResult, HttpRequest, HttpResponse
from clobactors.sim.ws_server import ServerWsConnection

if TYPE_CHECKING:
    from clobactors.sim.face_protocol import SessionReply

__all__ = ["DelayedFrame", "FaultFrame", "Faults", "NoFaults", "SimRuntime", "SimulatorStatistics", "WsLink"]

logger: Final = logging.getLogger("clobactors.sim.server")

WsHandler: TypeAlias = "Callable[[str | bytes], SessionReply]"  # a session's handling of one message


class Faults(Protocol):
    """Where fault injection (:mod:`clobactors.sim.fault_injector`) hooks into the server.

    ``http`` wraps every REST answer, ``ws_request`` the handling of every WebSocket message (answered
    instead, late, never: :mod:`clobactors.sim.ws_request_faults`); ``ws_frames`` sees every published frame
    (may drop, repeat, delay or rewrite it); ``ws_opened``/``ws_closed`` bracket each connection's life so
    scheduled faults can reach it through its :class:`WsLink`; ``clock_skew_ns`` shifts the server clock;
    ``run`` is a task for scheduled faults, started with the server and cancelled with it.
    """

    async def http(
        self, request: HttpRequest, respond: Callable[[HttpRequest], Awaitable[HandlerResult]]
    ) -> HandlerResult: ...

    def ws_request(self, link: WsLink, message: str | bytes, handle: WsHandler) -> SessionReply: ...

    def ws_frames(self, link: WsLink, topic: str, data: bytes | str) -> Sequence[FaultFrame]: ...

    def ws_opened(self, link: WsLink) -> None: ...

    def ws_closed(self, link: WsLink) -> None: ...

    def clock_skew_ns(self) -> int: ...

    async def run(self) -> None: ...


@final
class NoFaults:
    """The default: every request answered, every frame sent once, as is."""

    async def http(
        self, request: HttpRequest, respond: Callable[[HttpRequest], Awaitable[HandlerResult]]
    ) -> HandlerResult:
        return await respond(request)

    def ws_request(self, link: WsLink, message: str | bytes, handle: WsHandler) -> SessionReply:
        return handle(message)

    def ws_frames(self, link: WsLink, topic: str, data: bytes | str) -> Sequence[FaultFrame]:
        return (data,)

    def ws_opened(self, link: WsLink) -> None:
        pass

    def ws_closed(self, link: WsLink) -> None:
        pass

    def clock_skew_ns(self) -> int:
        return 0

    async def run(self) -> None:
        pass


@final
@attrs.frozen
class SimulatorStatistics:
    """Counters since start."""

    rest_requests: int
    ws_connections: int
    frames_published: int
    slow_disconnects: int
    face_errors: int


@final
@attrs.define(eq=False)
class SimRuntime:
    """The server's moving parts: clock mapping, fan-out, tasks."""

    face: Face
    engine: Engine
    flow: OrderFlow | None
    faults: Faults
    start_ns: int
    t0: float
    hub: _Hub = attrs.field(factory=_Hub)
    wake: trio.Event = attrs.field(factory=trio.Event)
    resume: trio.Event = attrs.field(factory=trio.Event)
    flow_paused: bool = False
    #: Most frames one connection write may carry (see ``_write``); 1 = a write per frame.
    write_batch: int = 1
    _links: int = 0
    _rest_requests: int = 0
    _ws_connections: int = 0
    _published: int = 0
    _slow: int = 0
    _face_errors: int = 0

    def now_ns(self) -> int:
        return self.start_ns + round((trio.current_time() - self.t0) * 1e9) + self.faults.clock_skew_ns()

    def trio_at(self, ns: int) -> float:
        return self.t0 + (ns - self.start_ns - self.faults.clock_skew_ns()) / 1e9

    def statistics(self) -> SimulatorStatistics:
        return SimulatorStatistics(
            rest_requests=self._rest_requests,
            ws_connections=self._ws_connections,
            frames_published=self._published,
            slow_disconnects=self._slow,
            face_errors=self._face_errors,
        )

    # -- fan-out -------------------------------------------------------------------------------------------

    def after_call(self) -> None:
        """Drain the face and publish; wake the timer (deadlines may have moved)."""
        self.publish(self.face.drain(self.now_ns(), self.hub.topics))
        self.wake.set()

    def publish(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            for conn in list(self.hub.topics.get(output.topic, ())):
                if conn.stalled or conn.link is None:
                    continue
                if output.payload is not None:
                    data = conn.session.frame(output.topic, output.payload)
                    for frame in self.faults.ws_frames(conn.link, output.topic, data):
                        self._published += 1
                        if not conn.push(frame):
                            self._slow += 1
                            logger.info("disconnecting a slow WebSocket reader (topic %s)", output.topic)
                            break
                if output.close is not None:
                    conn.push(_Close(*output.close))

    # -- tasks ---------------------------------------------------------------------------------------------

    async def run_flow(self, first_ns: int) -> None:
        assert self.flow is not None
        next_ns = first_ns
        while True:
            await trio.sleep_until(self.trio_at(next_ns))
            while self.flow_paused:
                self.resume = trio.Event()
                await self.resume.wait()
            next_ns = self.flow.step(self.engine, max(self.now_ns(), next_ns))
            self.after_call()

    async def run_timer(self) -> None:
        # ``fired``: the last deadline served. The trio clock is a float, so right at a deadline ``now_ns``
        # may read a nanosecond early; never asking for a deadline at or before ``fired`` avoids serving it
        # twice (and spinning at one instant under MockClock).
        fired = 0
        while True:
            now = max(self.now_ns(), fired)
            deadline = self.face.next_deadline_ns(now, self.hub.topics)
            self.wake = trio.Event()
            if deadline is None:
                await self.wake.wait()
                continue
            if deadline > now:
                with trio.move_on_at(self.trio_at(deadline)) as waiting:
                    await self.wake.wait()
                if not waiting.cancelled_caught:
                    continue  # something changed: recompute the deadline
            fired = max(self.now_ns(), deadline)
            self.face.on_timer(fired, self.hub.topics)
            self.publish(self.face.drain(fired, self.hub.topics))

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def handle_http(self, request: HttpRequest) -> HandlerResult:
        return await self.faults.http(request, self._answer_http)

    async def _answer_http(self, request: HttpRequest) -> HandlerResult:
        self._rest_requests += 1
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return HttpResponse.json(error_body(-1100, "Illegal characters found in the request body."), 400)
        rest = RestRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            body=body,
            headers=request.headers,
            client_ip=request.client[0],
        )
        try:
            answer = self.face.handle_rest(rest, self.now_ns())
        except Exception:
            # A face bug must not take the server down: Binance-style 500, and the traceback in the log.
            self._face_errors += 1
            logger.exception("face failed on %s %s", request.method, request.path)
            answer = RestResponse(
                500, error_body(-1000, ERROR_MESSAGES[-1000]), (("Content-Type", "application/json"),)
            )
        if answer.status >= 400:
            # Path only: the query may carry a signature and the key travels in a header.
            logger.info("%s %s -> %d %s", request.method, request.path, answer.status, answer.body[:200])
        self.after_call()
        return HttpResponse(answer.status, answer.headers, answer.body)

    # -- WebSocket -----------------------------------------------------------------------------------------

    async def handle_ws(self, ws: ServerWsConnection) -> None:
        opened = self.face.open_session(ws.path, ws.query, ws.headers, ws.client[0], self.now_ns())
        if isinstance(opened, RestResponse):
            logger.info("WebSocket %s refused: %d %s", ws.path, opened.status, opened.body[:200])
            await ws.reject(opened.status, opened.body, opened.headers)
            return
        self._ws_connections += 1
        policy = self.face.ws_policy
        send, receive = trio.open_memory_channel[_Item](policy.send_buffer)
        conn = _Conn(opened, send)
        self._links += 1
        link = conn.link = WsLink(self._links, ws.path, conn, ws)
        self.hub.update(conn)
        self.faults.ws_opened(link)
        self.after_call()
        gone = False
        try:
            await ws.accept()
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write, ws, receive, conn)
                    await self._read(ws, conn, link, policy.max_lifetime)
                    nursery.cancel_scope.cancel()
        except* TransportError:
            gone = True  # the client went away
        finally:
            self.hub.remove(conn)
            self.faults.ws_closed(link)
            self.face.close_session(conn.session, self.now_ns())
            send.close()
            self.wake.set()
        if conn.aborted or (conn.sending and not gone):
            await ws.abort()
        elif conn.closing is not None and not gone:
            if conn.closing.code == 1008:
                logger.info("closing WebSocket %s: %s", ws.path, conn.closing.reason)
            await ws.close(conn.closing.code, conn.closing.reason)

    async def _read(self, ws: ServerWsConnection, conn: _Conn, link: WsLink, max_lifetime: float | None) -> None:
        with trio.move_on_after(max_lifetime if max_lifetime is not None else float("inf")):
            while True:
                message = await ws.receive()
                reply = self.faults.ws_request(link, message, lambda m: conn.session.receive(m, self.now_ns()))
                self.hub.update(conn)
                for answer in reply.messages:
                    conn.push(answer)
                if reply.close is not None:
                    conn.push(_Close(*reply.close))
                self.after_call()
        conn.kill(_Close(1000, "connection lifetime reached"))

    async def _write(self, ws: ServerWsConnection, receive: trio.MemoryReceiveChannel[_Item], conn: _Conn) -> None:
        """Send what the fan-out queued, in order; a close item ends the connection.

        With ``write_batch`` > 1, frames already queued behind the first go out in the same write (up to that
        many, never past a delayed frame or a close): each write costs three scheduler rounds and a syscall,
        which capped the simulator at ~3 k frames/s in ``loopback-market`` (10 k asked). It stays opt-in
        (``open_simulator(write_batch=...)``) because how many frames are queued when the writer wakes
        depends on the scheduler's order, and fault timelines (chaos tests) count frames per write.
        """
        limit = self.write_batch
        held: _Item | None = None
        async with receive:
            while True:
                if held is not None:
                    item, held = held, None
                else:
                    try:
                        item = await receive.receive()
                    except trio.EndOfChannel:
                        return
                if isinstance(item, _Close):
                    conn.kill(item)
                    return
                if isinstance(item, DelayedFrame):
                    await trio.sleep_until(item.at)
                    item = item.data
                batch = [item]
                while len(batch) < limit:
                    try:
                        more = receive.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    if not isinstance(more, bytes | str):
                        held = more
                        break
                    batch.append(more)
                conn.sending = True
                await ws.send_many(batch)
                conn.sending = False
