"""An actor incarnation's inbox and the request/reply plumbing of ``ask`` (see :mod:`clobactors.actors.actor`).

:class:`Request` is what an ``ask`` looks like in the target's inbox; :class:`ReplySlot` is where the asker waits;
:class:`Mailbox` is one incarnation's inbox plus the requests it still owes an answer, all answered with
:data:`CLOSED` (the asker raises ActorUnavailable) when the incarnation ends.
"""

from __future__ import annotations

from typing import Final, final

import attrs
import trio

__all__ = ["CLOSED", "Closed", "Mailbox", "ReplySlot", "Request"]


@attrs.define(eq=False)
class ReplySlot:
    """Where one ``ask`` waits for its answer: the asker's task parks on it, the answer reschedules it.

    Lighter than a reply channel per ask (no channel pair, no second suspension): the ask hop is on the
    order path (bench/run.py order-overhead).
    """

    #: The asker while it is parked here.
    task: trio.lowlevel.Task | None = None
    #: ``(value, error)`` once answered; ``error`` is :data:`CLOSED` when the incarnation ended first.
    answer: tuple[object, BaseException | None] | None = None
    #: The asker stopped waiting (cancelled): an answer is discarded.
    abandoned: bool = False

    def put(self, value: object, error: BaseException | None) -> None:
        if self.answer is not None:
            raise trio.ClosedResourceError("this request was already answered")
        self.answer = (value, error)
        task, self.task = self.task, None
        if task is not None:
            trio.lowlevel.reschedule(task)


class Closed(Exception):
    """Internal: the incarnation ended before answering (the asker raises ActorUnavailable)."""


CLOSED: Final = Closed()


@final
@attrs.frozen(eq=False)
class Request:
    """An ``ask`` as it arrives in the target's inbox; answer it once with :meth:`reply` or :meth:`fail`.

    Both answers are synchronous and never wait on the asker (who may have given up; then the answer is
    discarded). Answering twice raises ``trio.ClosedResourceError``.
    """

    payload: object
    sender: str
    _slot: ReplySlot = attrs.field(repr=False)
    _outstanding: set[ReplySlot] = attrs.field(repr=False)

    @property
    def abandoned(self) -> bool:
        """True once the asker stopped waiting (cancelled, timed out): an answer would be discarded.

        Lets a server withdraw work queued for a caller that is gone (the rate limiter's tickets).
        """
        return self._slot.abandoned

    def reply(self, value: object) -> None:
        """Answer with ``value``; the asker's ``ask`` returns it."""
        self._answer(value, None)

    def fail(self, error: Exception) -> None:
        """Answer with an error; the asker's ``ask`` raises it."""
        self._answer(None, error)

    def _answer(self, value: object, error: BaseException | None) -> None:
        self._outstanding.discard(self._slot)
        self._slot.put(value, error)


@attrs.define(eq=False)
class Mailbox:
    """One incarnation's inbox plus the reply slots of requests it has not answered yet."""

    send: trio.MemorySendChannel[object]
    receive: trio.MemoryReceiveChannel[object]
    outstanding: set[ReplySlot] = attrs.field(factory=set)

    def close(self) -> None:
        self.send.close()
        self.receive.close()
        for slot in self.outstanding:
            slot.put(None, CLOSED)
        self.outstanding.clear()
