"""Cancels written from the order manager's own task, like placements, and the paths that still take a task.

Same harness as ``test_order_manager.py`` (fake exchange over loopback, virtual clock).
"""

from __future__ import annotations

import msgspec
import pytest
import trio
import trio.testing

from clobactors.actors.actor import Context
from clobactors.actors.bus import Bus
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_manager import Reconcile
from clobactors.errors import RateLimited
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import Event, OrderOutcomeUnknown, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.ratelimit import Priority
from tests.actors.fake_exchange import FakeExchange, Fault
from tests.actors.test_order_manager import open_manager, statuses

S = OrderStatus


def delete_times(exchange: FakeExchange, start: float) -> list[float]:
    return [t - start for t, m, p, _ in exchange.log if (m, p) == ("DELETE", "/order")]


async def test_cancel_is_written_inline_and_answered(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        h.drain()
        cancelled = await h.cancel(cid)
        assert cancelled.status is S.CANCELLED
        assert statuses(h.drain(), cid) == [S.PENDING_CANCEL, S.CANCELLED]
        stats = h.manager.statistics()
        assert (stats.placed_inline, stats.cancels_inline, stats.cancels) == (1, 1, 1)
        again = await h.cancel(cid)  # terminal: answered at once, nothing sent
        assert again.status is S.CANCELLED
        assert len(exchange.requests("DELETE", "/order")) == 1
        assert h.manager.statistics().cancels_inline == 1


async def test_cancel_of_a_create_in_flight_waits_in_a_task(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, read_timeout=2.0) as h:
        exchange.fault("POST", "/order", Fault.SILENT_AFTER)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h.place, "1", "100")
            await trio.testing.wait_all_tasks_blocked()
            (cid,) = await h.open_orders()
            start = trio.current_time()
            cancelled = await h.cancel(cid)
        assert delete_times(exchange, start) == [2.0]
        assert cancelled.status is S.CANCELLED
        assert h.manager.statistics().cancels_inline == 0


async def test_inline_cancel_with_a_lost_answer_is_resolved_by_query(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        h.drain()
        exchange.fault("DELETE", "/order", Fault.DROP_AFTER)
        answer = await h.cancel(cid)
        assert answer.status is S.UNKNOWN
        assert h.manager.statistics().cancels_inline == 1
        await trio.sleep(5)
        events = h.drain()
        assert [e.client_order_id for e in events if isinstance(e, OrderOutcomeUnknown)] == [cid]
        assert statuses(events, cid) == [S.PENDING_CANCEL, S.UNKNOWN, S.CANCELLED]
        assert len(exchange.requests("GET", "/order")) == 1


async def test_inline_cancel_refused_for_its_timestamp_resyncs_and_resends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        exchange.skew_ms = 1500
        exchange.fault("DELETE", "/order", Fault.UNAUTHORIZED)
        assert (await h.cancel(cid)).status is S.CANCELLED
        deletes = exchange.requests("DELETE", "/order")
        assert len(deletes) == 2
        assert int(deletes[1]["ts"]) - int(deletes[0]["ts"]) == 1500
        assert h.link.time_offset_ms == 1500


async def test_cancel_while_every_grant_is_paused_queues_at_cancel_priority(
    autojump_clock: trio.testing.MockClock,
) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        exchange.fault("GET", "/balances", Fault.RATE_LIMITED)  # 429, Retry-After: 3
        with pytest.raises(RateLimited):
            await h.ask(Reconcile(reason="test"), object)
        start = trio.current_time()
        cancelled = await h.cancel(cid)
        assert cancelled.status is S.CANCELLED
        assert delete_times(exchange, start) == [3.0]  # not inline: it waited for the pause to end
        assert h.manager.statistics().cancels_inline == 0


async def test_a_stream_report_never_overtakes_the_lost_cancel_answers_update(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel's answer is lost while the user stream reports the order cancelled (the chaos test's lost
    DELETE ack). The answer's ``unknown`` update is taken first but has to wait to be published (the bus
    checkpoints, or a subscriber is full); the stream's ``cancelled`` must not overtake it, or the bus's last
    word is ``unknown`` while the manager knows the order cancelled, and nothing would ever correct it."""
    exchange = FakeExchange()
    publish = Bus.publish
    held, release = trio.Event(), trio.Event()

    async def slow_for_unknown(self: Bus, event: Event, *, topic: str | None = None) -> None:
        if isinstance(event, OrderUpdate) and event.status is S.UNKNOWN and not release.is_set():
            held.set()
            await release.wait()
        await publish(self, event, topic=topic)

    monkeypatch.setattr(Bus, "publish", slow_for_unknown)
    async with open_manager(exchange) as h:
        placed = await h.place("1", "100")
        cid = placed.client_order_id
        h.drain()
        exchange.fault("DELETE", "/order", Fault.DROP_AFTER)  # cancelled on the exchange, answer lost
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h.cancel, cid)
            await held.wait()
            await h.report(msgspec.structs.replace(placed, status=S.CANCELLED))
            release.set()
        await trio.sleep(5)
        events = h.drain()
        assert statuses(events, cid) == [S.PENDING_CANCEL, S.UNKNOWN, S.CANCELLED]
        assert [type(e) for e in events] == [OrderUpdate, OrderUpdate, OrderOutcomeUnknown, OrderUpdate]
        assert await h.open_orders() == {}
        assert exchange.requests("GET", "/order") == []  # known cancelled: nothing to resolve


async def test_pending_create_is_published_once_its_request_left(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline path writes first and publishes ``pending_create`` right after, still first for the order."""
    exchange = FakeExchange()
    seen_when_sent: list[list[Event]] = []
    try_send = ExchangeLink.try_send

    async def watching(self: ExchangeLink, ctx: Context, spec: HttpRequestSpec, priority: Priority) -> object:
        pending = await try_send(self, ctx, spec, priority)
        seen_when_sent.append(h.drain())
        return pending

    monkeypatch.setattr(ExchangeLink, "try_send", watching)
    async with open_manager(exchange) as h:
        placed = await h.place("1", "100")
        assert h.manager.statistics().placed_inline == 1
        assert seen_when_sent == [[]]  # the request had left before anything was published
        assert statuses(h.drain(), placed.client_order_id) == [S.PENDING_CREATE, S.OPEN]


async def test_held_events_keep_their_place_in_the_publishing_order(autojump_clock: trio.testing.MockClock) -> None:
    """While a batch is held (its request being written), a later change of the same order waits behind it."""
    async with open_manager(FakeExchange()) as h:
        placed = await h.place("1", "100")
        cid = placed.client_order_id
        h.drain()
        book = h.manager._book
        order = book.tracker.get(cid)
        assert order is not None
        held = await book.publish_held(h.ctx, [order.request_cancel()])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(book.apply, h.ctx, [msgspec.structs.replace(placed, status=S.CANCELLED)])
            await trio.testing.wait_all_tasks_blocked()
            assert h.drain() == []  # the stream's change is made, but waits for the held batch
            await held.release(h.ctx)
        assert statuses(h.drain(), cid) == [S.PENDING_CANCEL, S.CANCELLED]
        with pytest.raises(RuntimeError):
            await held.release(h.ctx)
