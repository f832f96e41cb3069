"""The fault injector: applies a :class:`~clobactors.sim.faults.FaultPlan` at the simulator's fault seam.

:class:`FaultInjector` implements :class:`~clobactors.sim.runtime.Faults`. The server calls it for every REST
request (``http``), every published WebSocket frame (``ws_frames``), every connection opened and closed, and
runs its :meth:`~FaultInjector.run` task, which fires the scheduled rules on the trio clock. Each injection
is recorded in :attr:`FaultInjector.log` with its time in seconds since the injector started (:attr:`t0`).
Which probe checks each injection, and when a REST-probed one counts as recovered, is
:mod:`clobactors.sim.fault_probes`.

Where each kind acts:

* connection kinds act on a live connection's :class:`~clobactors.sim.runtime.WsLink`: ``close`` (close
  frame), ``abort`` (TCP reset), ``stall`` (half-open: the server's socket neither reads nor writes, so pings
  go unanswered), or the exchange's end-of-stream event (:meth:`FaultVocabulary.user_stream_end`);
* frame kinds rewrite the frames handed to one connection: none (drop), two (duplicate), held back until the
  next frame of the topic (reorder), corrupted (malformed), or :class:`~clobactors.sim.runtime.DelayedFrame`
  (latency, order kept);
* HTTP kinds answer instead of the face (429/418/5xx, an order rejection), never answer (timeout), answer
  late (latency, slow snapshot), or execute and then drop the connection (lost ack); aimed at ``"WS <method>"``
  they do the same to WebSocket API requests (``ws_request``, :mod:`clobactors.sim.ws_request_faults`);
* clock skew shifts the clock the whole simulator reads (:meth:`clock_skew_ns`).

:meth:`suspend` stops new faults (a quiet point for the invariant checker); :meth:`resume` restarts them.
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, final

import attrs
import trio

from clobactors.sim.face_protocol import SessionReply
from clobactors.sim.fault_frames import malformed
from clobactors.sim.fault_probes import FaultRecorder
from clobactors.sim.fault_vocab_base import FaultVocabulary
from clobactors.sim.faults import (
    CONNECTION_KINDS,
    FRAME_KINDS,
    HTTP_KINDS,
    FaultKind,
    FaultLog,
    FaultPlan,
    FaultRule,
    InjectedFault,
    Probe,
)
from clobactors.sim.http_server import DropConnection, HalfOpen, HandlerResult, HttpRequest
from clobactors.sim.runtime import DelayedFrame, FaultFrame, WsHandler, WsLink
from clobactors.sim.ws_request_faults import WsRequestFaults, check_ws_rule, is_ws_target

__all__ = ["FaultInjector"]

logger: Final = logging.getLogger(__name__)

#: How long a reordered frame waits for the next frame of its topic before it is sent anyway.
_REORDER_HOLD: Final = 1.0
#: Seconds a half-open connection counts as "in effect" for :attr:`FaultInjector.disturbed`: by then the
#: client has given up on it (its idle timeout or ping deadline, at most 60 s on Binance) and reconnected.
#: The server's socket may linger much longer (Binance USD-M pings every 3 minutes and waits 10 for a pong),
#: but nothing the session sees depends on it any more.
HALF_OPEN_GRACE: Final = 75.0


@attrs.define
class _Rule:
    """One rule's runtime state: its own seeded Random, armed hits, and its current window."""

    rule: FaultRule
    target: str
    rng: random.Random
    armed: int = 0
    window_until: float = float("-inf")
    window_fault: InjectedFault | None = None

    def matches(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(name, self.target) for name in names)

    def hits(self, elapsed: float) -> bool:
        """Whether the next matching frame or request is hit (consumes an armed hit or a random draw)."""
        rule = self.rule
        if rule.kind in (FaultKind.WS_LATENCY, FaultKind.HTTP_LATENCY) and not rule.probability:
            return elapsed < self.window_until
        if rule.probability:
            return rule.active(elapsed) and self.rng.random() < rule.probability
        if self.armed > 0:
            self.armed -= 1
            return True
        return False


@final
class FaultInjector:
    """Applies one plan to one simulator; see the module docstring. Build one per simulator run."""

    def __init__(
        self, plan: FaultPlan, vocabulary: FaultVocabulary, *, half_open_grace: float = HALF_OPEN_GRACE
    ) -> None:
        """ConfigError if a rule has no meaning on the vocabulary's exchange (it could never fire there)."""
        for rule in plan.rules:
            vocabulary.check_rule(rule)
            check_ws_rule(rule, vocabulary)
        self.plan = plan
        self._half_open_grace = half_open_grace
        self._stalled_at: dict[int, float] = {}
        self.log = FaultLog()
        self._vocab = vocabulary
        self._rules = [
            _Rule(rule, rule.target or vocabulary.default_target(rule.kind), random.Random(f"{plan.seed}/{i}/{rule.kind}"))  # noqa: E501
            for i, rule in enumerate(plan.rules)
        ]  # fmt: skip
        self._t0: float | None = None
        self._links: dict[int, WsLink] = {}
        self._suspended = False
        self._resumed = trio.Event()
        self._skew_ns = 0
        self._delivery: dict[int, float] = {}
        self._held: dict[tuple[int, str], tuple[bytes | str, int]] = {}
        self._holds = 0
        self._terminated: set[tuple[int, str]] = set()
        self._nursery: trio.Nursery | None = None
        self._recorder = FaultRecorder(self.log, vocabulary)
        self._clock_ns: Callable[[], int] | None = None
        self._ws_requests = WsRequestFaults(
            self._rules, self._recorder, vocabulary, now_ms=self._now_ms, elapsed=self.elapsed
        )

    # -- control -------------------------------------------------------------------------------------------

    def attach(self, clock_ns: Callable[[], int]) -> None:
        """Give the injector the simulator's epoch clock (for timestamps in injected events and bans)."""
        self._clock_ns = clock_ns

    @property
    def t0(self) -> float:
        """Trio time the injector started at (fault times count from it)."""
        if self._t0 is None:
            self._t0 = trio.current_time()
        return self._t0

    def elapsed(self) -> float:
        return trio.current_time() - self.t0

    @property
    def suspended(self) -> bool:
        return self._suspended

    def suspend(self) -> None:
        """Inject nothing new until :meth:`resume` (windows already open run out; armed hits wait)."""
        self._suspended = True

    def resume(self) -> None:
        self._suspended = False
        self._resumed.set()
        self._resumed = trio.Event()

    @property
    def disturbed(self) -> bool:
        """Something injected is still in effect: a half-open connection still open (within its grace: see
        :data:`HALF_OPEN_GRACE`), a held frame, a window."""
        now = self.elapsed()
        deadline = trio.current_time() - self._half_open_grace
        return (
            any(
                link.stalled and not link.closed and self._stalled_at.get(link.id, deadline) > deadline
                for link in self._links.values()
            )
            or bool(self._held)
            or any(state.window_until > now for state in self._rules)
        )

    # -- the seam ------------------------------------------------------------------------------------------

    def clock_skew_ns(self) -> int:
        return self._skew_ns

    def ws_opened(self, link: WsLink) -> None:
        self._links[link.id] = link

    def ws_closed(self, link: WsLink) -> None:
        self._links.pop(link.id, None)
        self._stalled_at.pop(link.id, None)
        self._delivery.pop(link.id, None)
        for key in [k for k in self._held if k[0] == link.id]:
            del self._held[key]
        self._terminated = {k for k in self._terminated if k[0] != link.id}

    def ws_frames(self, link: WsLink, topic: str, data: bytes | str) -> Sequence[FaultFrame]:
        if (link.id, topic) in self._terminated:
            return ()
        held = self._held.pop((link.id, topic), None)
        frames = self._frame_fault(link, topic, data) if not self._suspended else (data,)
        if held is not None:
            frames = (*frames, held[0])  # the held frame goes after the one that overtook it
        return self._delay(link, frames)

    def _frame_fault(self, link: WsLink, topic: str, data: bytes | str) -> Sequence[FaultFrame]:
        elapsed = self.elapsed()
        for state in self._rules:
            kind = state.rule.kind
            if kind not in FRAME_KINDS or kind is FaultKind.WS_LATENCY or not state.matches(topic):
                continue
            if not state.hits(elapsed):
                continue
            self._recorder.record_frame(kind, elapsed, link, topic)
            match kind:
                case FaultKind.DROP_FRAMES:
                    return ()
                case FaultKind.DUPLICATE_FRAMES:
                    return (data, data)
                case FaultKind.REORDER_FRAMES:
                    self._hold(link, topic, data, state.rule.delay or _REORDER_HOLD)
                    return ()
                case FaultKind.MALFORMED_FRAMES:
                    return (malformed(data, state.rule.mode),)
        return (data,)

    def _delay(self, link: WsLink, frames: Sequence[FaultFrame]) -> Sequence[FaultFrame]:
        """Latency: each frame waits behind the previous one of its connection (a slow path never reorders)."""
        if not frames:
            return frames
        elapsed = self.elapsed()
        for state in self._rules:
            rule = state.rule
            if rule.kind is not FaultKind.WS_LATENCY or not state.matches(*link.topics, link.path):
                continue
            if self._suspended and rule.probability:
                continue
            if not state.hits(elapsed):
                continue
            if rule.probability:
                self._recorder.record_frame(rule.kind, elapsed, link, ",".join(sorted(link.topics)))
            at = trio.current_time() + rule.delay + state.rng.uniform(0.0, rule.jitter)
            at = max(at, self._delivery.get(link.id, at))
            self._delivery[link.id] = at
            return [DelayedFrame(f.data if isinstance(f, DelayedFrame) else f, at) for f in frames]
        return frames

    def _hold(self, link: WsLink, topic: str, data: bytes | str, hold: float) -> None:
        self._holds += 1
        token = self._holds
        self._held[(link.id, topic)] = (data, token)
        if self._nursery is not None:
            self._nursery.start_soon(self._release, link, topic, token, hold)

    async def _release(self, link: WsLink, topic: str, token: int, hold: float) -> None:
        await trio.sleep(hold)
        held = self._held.get((link.id, topic))
        if held is not None and held[1] == token:
            del self._held[(link.id, topic)]
            if not link.closed:
                link.send(held[0])

    def ws_request(self, link: WsLink, message: str | bytes, handle: WsHandler) -> SessionReply:
        """WebSocket API requests under the ``WS``-targeted request rules (:mod:`.ws_request_faults`)."""
        return self._ws_requests.apply(link, message, handle, suspended=self._suspended)

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def http(
        self, request: HttpRequest, respond: Callable[[HttpRequest], Awaitable[HandlerResult]]
    ) -> HandlerResult:
        route = f"{request.method} {request.path}"
        state = None if self._suspended else self._http_rule(route)
        if state is None:
            return self._recorder.observe(request, route, await respond(request), self.elapsed)
        rule, elapsed = state.rule, self.elapsed()
        fault = state.window_fault if rule.kind is FaultKind.HTTP_LATENCY and not rule.probability else None
        if fault is None:
            fault = self._recorder.record_http(rule.kind, elapsed, request, route)
        match rule.kind:
            case FaultKind.HTTP_LATENCY:
                await trio.sleep(rule.delay + state.rng.uniform(0.0, rule.jitter))
                return self._recorder.observe(request, route, await respond(request), self.elapsed)
            case FaultKind.SLOW_SNAPSHOT:
                await trio.sleep(rule.delay + state.rng.uniform(0.0, rule.jitter))
                return self._recorder.observe(request, route, await respond(request), self.elapsed)
            case FaultKind.HTTP_429 | FaultKind.HTTP_418:
                status = 429 if rule.kind is FaultKind.HTTP_429 else 418
                return self._vocab.rate_limited(status, rule.retry_after, self._now_ms())
            case FaultKind.HTTP_5XX:
                return self._vocab.server_error(rule.status)
            case FaultKind.HTTP_TIMEOUT:
                return HalfOpen()
            case FaultKind.LOST_ACK:
                await respond(request)
                return DropConnection()
            case FaultKind.REJECT_ORDER:
                return self._vocab.order_rejected()
            case _:  # pragma: no cover - _http_rule returns HTTP kinds only
                raise AssertionError(rule.kind)

    def _http_rule(self, route: str) -> _Rule | None:
        elapsed = self.elapsed()
        for state in self._rules:
            if state.rule.kind in HTTP_KINDS and state.matches(route) and state.hits(elapsed):
                return state
        return None

    def _now_ms(self) -> int:
        if self._clock_ns is not None:
            return self._clock_ns() // 1_000_000
        return int(trio.current_time() * 1000) + self._skew_ns // 1_000_000

    # -- schedule ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Fire the scheduled rules at their times until cancelled (the server starts this task)."""
        t0 = self.t0
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            queue: list[tuple[float, int]] = []
            schedules = [state.rule.firings() for state in self._rules]
            for index, schedule in enumerate(schedules):
                first = next(schedule, None)
                if first is not None:
                    queue.append((first, index))
            heapq.heapify(queue)
            while queue:
                at, index = heapq.heappop(queue)
                await trio.sleep_until(t0 + at)
                if self._suspended:
                    self.log.skipped += 1
                else:
                    self._fire(self._rules[index], at)
                following = next(schedules[index], None)
                if following is not None:
                    heapq.heappush(queue, (following, index))
            await trio.sleep_forever()

    def _fire(self, state: _Rule, at: float) -> None:
        rule = state.rule
        if rule.kind in CONNECTION_KINDS:
            self._fire_connections(state, at)
        elif rule.kind is FaultKind.CLOCK_SKEW:
            until = at + rule.duration if rule.duration else None
            self._skew_ns = round(rule.skew * 1e9)
            fault = self.log.record(rule.kind, at, f"server clock {rule.skew:+g}s", Probe.REST, until=until)
            self._recorder.await_rest(fault, signed=True)
            if until is not None and self._nursery is not None:
                self._nursery.start_soon(self._unskew, until)
        elif rule.kind in (FaultKind.WS_LATENCY, FaultKind.HTTP_LATENCY):
            state.window_until = at + rule.duration
            where = "ws" if rule.kind is FaultKind.WS_LATENCY else "" if is_ws_target(state.target) else "rest"
            target = f"{where} {state.target}".lstrip()  # a WebSocket API target says so itself ("WS *")
            probe = Probe.BOOK if rule.kind is FaultKind.WS_LATENCY else Probe.REST
            state.window_fault = self.log.record(rule.kind, at, target, probe, until=state.window_until)
            if probe is Probe.REST:
                self._recorder.await_rest(state.window_fault)
        else:
            state.armed += rule.count

    async def _unskew(self, until: float) -> None:
        await trio.sleep_until(self.t0 + until)
        self._skew_ns = 0

    def _fire_connections(self, state: _Rule, at: float) -> None:
        rule = state.rule
        candidates = [
            link
            for _, link in sorted(self._links.items())
            if not link.closed and not link.stalled and state.matches(*link.topics, link.path)
        ]
        if not candidates:
            self.log.skipped += 1
            return
        for link in state.rng.sample(candidates, min(rule.count, len(candidates))):
            topics = sorted(link.topics)
            match rule.kind:
                case FaultKind.WS_CLOSE:
                    link.close(1001, "going away (injected fault)")
                case FaultKind.WS_ABORT:
                    link.abort()
                case FaultKind.WS_HALF_OPEN:
                    link.stall()
                    self._stalled_at[link.id] = trio.current_time()
                case FaultKind.USER_STREAM_END:
                    end = self._vocab.user_stream_end(link, self._now_ms())
                    if end is None:
                        self.log.skipped += 1
                        continue
                    link.send(link.frame(end.topic, end.payload))
                    if end.close:
                        link.close(1000, "user stream ended (injected fault)")
                    else:
                        self._terminated.add((link.id, end.topic))
                    topics = [end.topic]
            self._recorder.record_link(rule.kind, at, link, topics)
