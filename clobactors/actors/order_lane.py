"""The order-entry WebSocket as the exchange link sees it: a request out, its answer back.

An :class:`OrderLane` wraps one open connection to the exchange's WebSocket API. The
:class:`~clobactors.actors.order_entry.OrderEntry` actor opens it, reads every answer into :meth:`OrderLane.deliver`
and closes it; while it is open the link sends what the dialect can translate
(:meth:`~clobactors.exchanges.order_entry.OrderEntryDialect.order_entry_frame`) through it instead of REST, and gets
back the same :class:`~clobactors.httpspec.HttpResult` REST would have given (so everything after the wire is one
code path). Answers are matched to requests by the request ``id`` the exchange echoes.

What the order manager must be able to tell apart is kept as REST has it:

* nothing left (the lane was closed before the write) -> :class:`~clobactors.errors.ConnectFailed`: the order is
  not on the exchange;
* the frame may have left but no answer came (the connection died, or ``answer_timeout`` passed) ->
  :class:`~clobactors.errors.ConnectionLost` / :class:`~clobactors.errors.TransportTimeout`: outcome unknown, the
  order manager resolves it by client order id, exactly as after a lost HTTP answer.

A request left unanswered for ``answer_timeout`` closes the lane, as a timed-out HTTP connection is never reused:
a connection that stopped answering (half-open, an exchange stuck on it) would otherwise time out every order
sent after it until the pings notice, tens of seconds later. The other requests waiting on it become outcome
unknown too, new ones go over REST, and the owner (``on_close``) reconnects.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Final, final

import attrs
import msgspec
import trio

from clobactors.errors import ConnectFailed, ConnectionLost, TransportError, TransportTimeout
from clobactors.exchanges.order_entry import OrderEntryAnswer, OrderEntryDialect
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.transport.ws import WsConnection

__all__ = ["LaneAnswer", "LaneStatistics", "OrderLane", "PreparedFrame"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.frozen
class LaneStatistics:
    """Counters of one lane (one connection)."""

    sent: int
    answered: int
    #: Answers whose request was no longer waited for (it timed out) or never existed.
    unmatched: int
    #: Requests failed because the connection ended or the answer did not come in time.
    failed: int
    waiting: int


@final
@attrs.frozen
class PreparedFrame:
    """A request translated for the lane, before any rate-limit grant: the link grants, then writes it."""

    request_id: int
    #: Carries the API key and the signature: never in a repr (logs, tracebacks).
    frame: str = attrs.field(repr=False)
    spec: HttpRequestSpec = attrs.field(repr=False)


@attrs.define(eq=False)
class _Waiter:
    sent_at: float
    done: trio.Event = attrs.field(factory=trio.Event)
    result: HttpResult | None = None
    error: TransportError | None = None


@final
@attrs.define(eq=False)
class OrderLane:
    """One open order-entry connection (see the module docstring). Built and closed by the OrderEntry actor."""

    _ws: WsConnection = attrs.field(repr=False)
    _dialect: OrderEntryDialect = attrs.field(repr=False)
    _credentials: object = attrs.field(repr=False)
    #: Seconds a request waits for its answer before its outcome is declared unknown.
    answer_timeout: float = 10.0
    _endpoint: str = ""
    #: Called once when the lane closes (the OrderEntry actor stops reading and reconnects).
    _on_close: Callable[[], None] | None = attrs.field(default=None, repr=False)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), repr=False)
    _waiting: dict[int | str, _Waiter] = attrs.field(factory=dict, repr=False)
    _closed: TransportError | None = attrs.field(default=None, repr=False)
    #: Retired (:meth:`retire`): takes no new request, and is set ``_drained`` once none waits.
    _retired: bool = False
    _drained: trio.Event = attrs.field(factory=trio.Event, repr=False)
    _sent: int = 0
    _answered: int = 0
    _unmatched: int = 0
    _failed: int = 0

    @property
    def is_open(self) -> bool:
        return self._closed is None

    @property
    def error(self) -> TransportError | None:
        """Why the lane closed, once it has."""
        return self._closed

    @property
    def retired(self) -> bool:
        return self._retired

    def ready_nowait(self) -> bool:
        """True when a request written now would not wait (open, not retired, no write in progress)."""
        return self._closed is None and not self._retired and not self._ws.writing and self._ws.failure is None

    def retire(self) -> None:
        """Take no new request (they go over REST) but let the ones waiting have their answers."""
        self._retired = True
        if not self._waiting:
            self._drained.set()

    async def drained(self) -> None:
        """Wait until a retired lane has no request waiting for its answer (or it closed)."""
        await self._drained.wait()

    def prepare(self, spec: HttpRequestSpec) -> PreparedFrame | None:
        """``spec`` as a frame of the exchange's WebSocket API, or ``None`` (it goes over REST)."""
        if self._closed is not None or self._retired:
            return None
        request_id = next(self._ids)
        frame = self._dialect.order_entry_frame(spec, self._credentials, request_id)
        if frame is None:
            return None
        return PreparedFrame(request_id, frame, spec)

    async def send(self, prepared: PreparedFrame) -> LaneAnswer:
        """Write a prepared frame; its answer is awaited with :meth:`LaneAnswer.receive`, exactly once.

        ConnectFailed when the lane closed before the write (nothing left); an error during the write is the
        connection's (outcome unknown, raised by ``receive`` as for every later failure).
        """
        failure = self._ws.failure
        if failure is not None and self._closed is None:
            # The heartbeat or a read failed the connection and the reader has not closed the lane yet: a send
            # would raise before writing anything, so this is "nothing left" (REST carries it), not unknown.
            self.close(failure)
        if self._closed is not None:
            raise ConnectFailed(f"order entry connection closed before the request: {self._closed}", self._endpoint)
        waiter = _Waiter(trio.current_time())
        self._waiting[prepared.request_id] = waiter
        self._sent += 1
        try:
            await self._ws.send(prepared.frame)
        except TransportError as exc:
            self.close(exc)
        return LaneAnswer(self, prepared.request_id, waiter)

    def deliver(self, answer: OrderEntryAnswer) -> None:
        """An answer read from the connection: wake the request it answers (late answers are counted)."""
        request_id = answer.request_id
        waiter = self._waiting.pop(request_id, None) if request_id is not None else None
        if waiter is None:
            self._unmatched += 1
            logger.warning("order entry: an answer to request %r, which nobody waits for", request_id)
            return
        self._answered += 1
        waiter.result = msgspec.structs.replace(answer.result, elapsed=trio.current_time() - waiter.sent_at)
        waiter.done.set()
        if self._retired and not self._waiting:
            self._drained.set()

    def close(self, error: TransportError) -> None:
        """The connection ended: no more requests, and each one still waiting fails with ``error``."""
        first = self._closed is None
        if first:
            self._closed = error
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            self._failed += 1
            waiter.error = error
            waiter.done.set()
        self._drained.set()
        if first and self._on_close is not None:
            self._on_close()

    def statistics(self) -> LaneStatistics:
        return LaneStatistics(
            sent=self._sent,
            answered=self._answered,
            unmatched=self._unmatched,
            failed=self._failed,
            waiting=len(self._waiting),
        )


@final
@attrs.define(eq=False)
class LaneAnswer:
    """A request written on the lane; :meth:`receive` is its answer (as :class:`PendingAnswer` is for REST)."""

    _lane: OrderLane = attrs.field(repr=False)
    _request_id: int
    _waiter: _Waiter = attrs.field(repr=False)

    async def receive(self) -> HttpResult:
        """The answer as a REST result; ConnectionLost / TransportTimeout when none came (outcome unknown)."""
        waiter = self._waiter
        if not waiter.done.is_set():
            with trio.move_on_at(waiter.sent_at + self._lane.answer_timeout):  # counted from the write
                await waiter.done.wait()
            if not waiter.done.is_set():
                timeout = TransportTimeout(
                    f"no answer to order-entry request {self._request_id} within {self._lane.answer_timeout:g}s",
                    self._lane._endpoint,
                )
                self._lane.close(timeout)  # the connection is presumed dead (module docstring)
                raise timeout
        if waiter.error is not None:
            endpoint = self._lane._endpoint
            raise ConnectionLost(f"order entry connection ended before the answer: {waiter.error}", endpoint)
        assert waiter.result is not None
        return waiter.result
