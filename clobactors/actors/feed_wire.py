"""The wire side of a book feed's live subscription changes: request ids, matching answers, pacing.

Split from :mod:`clobactors.actors.feed_subscriptions` (which decides *what* changes) so each stays small:

* :class:`RequestIds` numbers every subscribe frame a feed sends, one id per frame, because a dialect may
  split one change into several frames (Binance: 200 streams a frame) numbered upwards from the id given.
* :class:`AckWaiters` holds the requests awaiting the exchange's answer by id; the reader hands it each
  ``Control`` ACK/ERROR (the control path: data frames never touch it). A socket that closes releases its
  waiters: the reconnect subscribes the connection's current set, so there is nothing left to confirm.
* :func:`pace` keeps the frames sent on one connection under the exchange's per-second limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, final

import attrs
import trio

from clobactors.errors import ExchangeError, TransportTimeout
from clobactors.exchanges.standard import Control, ControlKind, OutgoingFrame, Subscription

__all__ = ["AckWaiter", "AckWaiters", "FrameMaker", "RequestIds", "pace"]

#: Seconds added to the pacing window, so our count and the exchange's never straddle a boundary.
_PACE_MARGIN: Final = 0.01

#: Frames for these subscriptions, numbered upwards from the request id given.
FrameMaker = Callable[[Sequence[Subscription], int], Sequence[OutgoingFrame]]


@final
@attrs.define
class RequestIds:
    """Request ids of a feed's subscribe frames: one per frame, the first given to the dialect."""

    _next: int = 1

    def frames(self, make: FrameMaker, subscriptions: Sequence[Subscription]) -> tuple[int, Sequence[OutgoingFrame]]:
        """``(first id, frames)`` for ``subscriptions``; the ids they use are never handed out again."""
        first = self._next
        frames = make(subscriptions, first)
        self._next = first + max(1, len(frames))
        return first, frames


@final
@attrs.define(eq=False)
class AckWaiter:
    """One frame's answer: ``done`` once it came (``error`` set if refused) or its socket closed."""

    connection: int
    done: trio.Event = attrs.field(factory=trio.Event)
    error: str | None = None


@final
@attrs.define
class AckWaiters:
    """Our live requests awaiting the exchange's answer, by request id."""

    _pending: dict[int | str, AckWaiter] = attrs.field(factory=dict)

    def expect(self, connection: int, first: int, count: int) -> list[AckWaiter]:
        waiters = [AckWaiter(connection) for _ in range(count)]
        self._pending.update(zip(range(first, first + count), waiters, strict=True))
        return waiters

    def resolve(self, control: Control) -> bool:
        """Hand an ACK or ERROR to its waiter; False if its id is not one we wait for."""
        waiter = self._pending.pop(control.request_id, None) if control.request_id is not None else None
        if waiter is None:
            return False
        if control.kind is ControlKind.ERROR:
            waiter.error = control.detail or "refused"
        waiter.done.set()
        return True

    def connection_lost(self, connection: int) -> None:
        """Release the waiters of a socket that closed (see the module docstring)."""
        for request_id, waiter in list(self._pending.items()):
            if waiter.connection == connection:
                del self._pending[request_id]
                waiter.done.set()

    async def wait(self, waiters: Sequence[AckWaiter], *, deadline: float, exchange: str, what: str) -> None:
        """Until every waiter is done; TransportTimeout at trio time ``deadline``, ExchangeError if refused."""
        if not waiters:
            return
        with trio.move_on_at(deadline) as scope:
            for waiter in waiters:
                await waiter.done.wait()
        if scope.cancelled_caught:
            gone = set(map(id, waiters))
            for request_id, waiter in list(self._pending.items()):
                if id(waiter) in gone:
                    del self._pending[request_id]
            raise TransportTimeout(f"{exchange}: no answer to our {what} in time")
        errors = [w.error for w in waiters if w.error is not None]
        if errors:
            raise ExchangeError(f"{what} refused: {'; '.join(errors)}", exchange=exchange)


async def pace(sent: deque[float], limit: int) -> None:
    """Wait until one more frame keeps ``sent`` (trio times of the last frames) within ``limit`` a second."""
    while True:
        now = trio.current_time()
        while sent and sent[0] <= now - 1.0:
            sent.popleft()
        if len(sent) < limit:
            sent.append(now)
            return
        await trio.sleep_until(sent[0] + 1.0 + _PACE_MARGIN)
