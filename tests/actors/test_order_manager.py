"""OrderManager against the fake exchange over loopback: placing, cancelling, unknown outcomes, reconciliation.

Every test runs on the virtual clock; the fake server runs in the same trio run on 127.0.0.1 port 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TypeVar

import attrs
import msgspec
import pytest
import trio
import trio.testing

from clobactors.actors import Context, Subscription, open_actor_system
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_manager import (
    GetBalances,
    GetOpenOrders,
    OrderManager,
    OrderReport,
    Reconcile,
    ReconcileSummary,
)
from clobactors.actors.rate_limiter import RateLimiterActor
from clobactors.errors import InsufficientBalance, TradingRuleViolation
from clobactors.messages import (
    Balance,
    CancelAll,
    CancelOrder,
    Event,
    Fill,
    OrderOutcomeUnknown,
    OrderUpdate,
    PlaceOrder,
)
from clobactors.model import OrderStatus, OrderType, Side
from tests.actors.fake_exchange import (
    INSTRUMENT,
    NAME,
    FakeExchange,
    Fault,
    _Balance,
    open_fake_link,
    start_probe,
    wall_ns,
)

D = Decimal
T = TypeVar("T")


@attrs.define
class Harness:
    exchange: FakeExchange
    link: ExchangeLink
    manager: OrderManager
    ctx: Context
    events: Subscription

    async def ask(self, payload: object, kind: type[T]) -> T:
        answer = await self.ctx.ask("orders", payload)
        assert isinstance(answer, kind)
        return answer

    async def place(self, size: str = "1", price: str | None = "100", **kw: object) -> OrderUpdate:
        command = PlaceOrder(
            exchange=NAME,
            instrument=INSTRUMENT,
            side=Side.BUY,
            order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            size=D(size),
            price=None if price is None else D(price),
            **kw,  # type: ignore[arg-type]
        )
        return await self.ask(command, OrderUpdate)

    async def cancel(self, client_order_id: str) -> OrderUpdate:
        return await self.ask(CancelOrder(exchange=NAME, client_order_id=client_order_id), OrderUpdate)

    async def open_orders(self) -> dict[str, OrderUpdate]:
        orders = await self.ask(GetOpenOrders(), tuple)
        return {o.client_order_id: o for o in orders}

    async def report(self, *events: OrderUpdate | Fill | Balance) -> None:
        await self.ctx.tell("orders", OrderReport(events=events))
        await trio.testing.wait_all_tasks_blocked()

    def drain(self) -> list[Event]:
        out: list[Event] = []
        with contextlib.suppress(trio.WouldBlock):
            while True:
                out.append(self.events.receive_nowait())
        return out


def statuses(events: Sequence[Event], client_order_id: str) -> list[OrderStatus]:
    return [e.status for e in events if isinstance(e, OrderUpdate) and e.client_order_id == client_order_id]


@contextlib.asynccontextmanager
async def open_manager(
    exchange: FakeExchange, *, read_timeout: float = 5.0, **options: object
) -> AsyncIterator[Harness]:
    async with (
        open_fake_link(exchange, read_timeout=read_timeout) as link,
        open_actor_system(wall_ns=wall_ns) as system,
    ):
        events = system.bus.subscribe("", prefix=True, reliable_capacity=10_000, lag_high_water=10_000)
        ctx = await start_probe(system)  # started first, stopped last
        await system.start(RateLimiterActor("limiter", link))
        manager = OrderManager("orders", link, **options)  # type: ignore[arg-type]
        await system.start(manager)
        yield Harness(exchange, link, manager, ctx, events)


async def test_place_open_then_filled_by_stream_reports(autojump_clock: trio.testing.MockClock) -> None:
    async with open_manager(FakeExchange()) as h:
        placed = await h.place("1", "100")
        cid = placed.client_order_id
        assert placed.status is OrderStatus.OPEN
        assert placed.exchange_order_id == h.exchange.orders[cid].oid
        assert h.manager.link.dialect.client_order_id_spec().is_valid(cid)  # type: ignore[attr-defined]
        # tracked (and published) before the request left
        assert h.exchange.requests("POST", "/order")[0]["cid"] == cid
        assert statuses(h.drain(), cid) == [OrderStatus.PENDING_CREATE, OrderStatus.OPEN]

        await h.report(*h.exchange.fill(cid, "0.4", "100"))
        events = h.drain()
        # the fill is merged first and published with the one update it causes; the report adds nothing
        assert [type(e).__name__ for e in events] == ["Fill", "OrderUpdate"]
        assert statuses(events, cid) == [OrderStatus.PARTIALLY_FILLED]
        await h.report(*h.exchange.fill(cid, "0.6", "99.5"))
        events = h.drain()
        assert statuses(events, cid)[-1] is OrderStatus.FILLED
        final = [e for e in events if isinstance(e, OrderUpdate)][-1]
        assert final.filled_size == D(1)
        assert final.avg_fill_price == D("99.7")
        assert await h.open_orders() == {}


async def test_fill_routed_by_exchange_id_is_published_with_our_client_id(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # REST trade lists (Binance myTrades) name the exchange's order id only; subscribers know client ids.
    async with open_manager(FakeExchange()) as h:
        placed = await h.place("1", "100")
        h.drain()
        _, fill = h.exchange.fill(placed.client_order_id, "0.4", "100")
        await h.report(msgspec.structs.replace(fill, client_order_id=""))
        (published,) = [e for e in h.drain() if isinstance(e, Fill)]
        assert published == msgspec.structs.replace(fill, client_order_id=placed.client_order_id)
        assert published.exchange_order_id == placed.exchange_order_id


async def test_local_rule_rejection_never_leaves(autojump_clock: trio.testing.MockClock) -> None:
    async with open_manager(FakeExchange()) as h:
        with pytest.raises(TradingRuleViolation) as info:
            await h.place("1", "100.005")
        assert info.value.local
        assert "tick size" in str(info.value)
        rejected = [e for e in h.drain() if isinstance(e, OrderUpdate)]
        assert [e.status for e in rejected] == [OrderStatus.REJECTED]
        assert "tick size" in rejected[0].reason
        with pytest.raises(TradingRuleViolation, match="notional"):
            await h.place("0.001", "100")
        with pytest.raises(TradingRuleViolation, match="positive"):
            await h.place("0", "100")
        assert h.exchange.requests("POST", "/order") == []
        assert h.manager.statistics().rejected_locally == 2  # the zero-size one could not even be tracked


async def test_exchange_rejection_is_typed_and_published(autojump_clock: trio.testing.MockClock) -> None:
    async with open_manager(FakeExchange()) as h:
        with pytest.raises(InsufficientBalance) as info:
            await h.place("500", "100")
        assert not info.value.local
        updates = [e for e in h.drain() if isinstance(e, OrderUpdate)]
        assert [u.status for u in updates] == [OrderStatus.PENDING_CREATE, OrderStatus.REJECTED]
        assert "insufficient balance" in updates[-1].reason


async def test_duplicate_fills_from_rest_and_stream_count_once(autojump_clock: trio.testing.MockClock) -> None:
    async with open_manager(FakeExchange(), instruments=(INSTRUMENT,)) as h:
        cid = (await h.place("1", "100")).client_order_id
        update, fill = h.exchange.fill(cid, "0.25", "100")
        await h.report(fill, update, fill)  # the stream repeats itself
        summary = await h.ask(Reconcile(reason="test"), ReconcileSummary)  # and REST lists it again
        assert summary.fills == 1
        await h.report(fill)
        fills = [e for e in h.drain() if isinstance(e, Fill)]
        assert [f.trade_id for f in fills] == [fill.trade_id]
        orders = h.manager.statistics().orders
        assert orders.fills_applied == 1
        assert orders.duplicate_fills == 3
        assert (await h.open_orders())[cid].filled_size == D("0.25")


async def test_lost_submit_answer_is_resolved_by_query(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.fault("POST", "/order", Fault.DROP_AFTER)
        placed = await h.place("1", "100")
        cid = placed.client_order_id
        assert placed.status is OrderStatus.UNKNOWN
        await trio.sleep(10)
        events = h.drain()
        alarms = [e for e in events if isinstance(e, OrderOutcomeUnknown)]
        assert [a.client_order_id for a in alarms] == [cid]
        assert "ConnectionLost" in alarms[0].reason
        assert statuses(events, cid) == [OrderStatus.PENDING_CREATE, OrderStatus.UNKNOWN, OrderStatus.OPEN]
        assert len(exchange.requests("GET", "/order")) == 1
        assert (await h.open_orders())[cid].exchange_order_id == exchange.orders[cid].oid


async def test_submit_not_yet_visible_is_queried_again(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.fault("POST", "/order", Fault.DROP_AFTER_HIDDEN)  # invisible to queries for 1.2 s
        start = trio.current_time()
        cid = (await h.place("1", "100")).client_order_id
        await trio.sleep(10)
        query_times = [t - start for t, m, p, _ in exchange.log if (m, p) == ("GET", "/order")]
        assert query_times == [0.0, 0.5, 1.5]  # not found, not found, found
        assert statuses(h.drain(), cid)[-1] is OrderStatus.OPEN


async def test_submit_that_never_arrived_ends_rejected(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.fault("POST", "/order", Fault.DROP_BEFORE)
        start = trio.current_time()
        cid = (await h.place("1", "100")).client_order_id
        await trio.sleep(10)
        query_times = [t - start for t, m, p, _ in exchange.log if (m, p) == ("GET", "/order")]
        assert query_times == [0.0, 0.5, 1.5]
        final = [e for e in h.drain() if isinstance(e, OrderUpdate)][-1]
        assert final.status is OrderStatus.REJECTED
        assert "never placed" in final.reason
        assert cid not in await h.open_orders()
        assert h.manager.statistics().resolving == 0


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [(Fault.UNAVAILABLE_AFTER, OrderStatus.OPEN), (Fault.UNAVAILABLE, OrderStatus.REJECTED)],
)
async def test_5xx_is_unknown_then_resolved(
    autojump_clock: trio.testing.MockClock, fault: Fault, outcome: OrderStatus
) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.fault("POST", "/order", fault)
        placed = await h.place("1", "100")
        assert placed.status is OrderStatus.UNKNOWN
        await trio.sleep(10)
        events = h.drain()
        assert any(isinstance(e, OrderOutcomeUnknown) for e in events)
        assert statuses(events, placed.client_order_id)[-1] is outcome


async def test_timeout_is_unknown_then_resolved(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, read_timeout=2.0) as h:
        exchange.fault("POST", "/order", Fault.SILENT_AFTER)
        start = trio.current_time()
        placed = await h.place("1", "100")
        assert trio.current_time() - start == 2.0
        assert placed.status is OrderStatus.UNKNOWN
        await trio.sleep(1)
        assert (await h.open_orders())[placed.client_order_id].status is OrderStatus.OPEN


async def test_cancel_and_cancel_all(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        a = (await h.place("1", "100")).client_order_id
        b = (await h.place("1", "101")).client_order_id
        c = (await h.place("1", "102")).client_order_id
        cancelled = await h.cancel(a)
        assert cancelled.status is OrderStatus.CANCELLED
        assert exchange.orders[a].status == "cancelled"
        again = await h.cancel(a)  # idempotent: no second request
        assert again.status is OrderStatus.CANCELLED
        assert len(exchange.requests("DELETE", "/order")) == 1
        h.drain()
        touched = await h.ask(CancelAll(exchange=NAME, instrument=INSTRUMENT), tuple)
        assert {u.client_order_id: u.status for u in touched} == {
            b: OrderStatus.CANCELLED,
            c: OrderStatus.CANCELLED,
        }
        assert statuses(h.drain(), b) == [OrderStatus.PENDING_CANCEL, OrderStatus.CANCELLED]
        assert await h.open_orders() == {}


async def test_cancel_of_an_order_the_exchange_forgot(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        del exchange.orders[cid]
        answer = await h.cancel(cid)
        assert answer.status is OrderStatus.UNKNOWN  # "unknown order" never means cancelled
        await trio.sleep(5)
        final = [e for e in h.drain() if isinstance(e, OrderUpdate)][-1]
        assert final.status is OrderStatus.EXPIRED
        assert "no longer knows" in final.reason


async def test_cancel_that_raced_a_fill(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
        exchange.fill(cid, "1", "100")  # filled on the exchange; the stream has not told us yet
        answer = await h.cancel(cid)
        assert answer.status is OrderStatus.UNKNOWN
        await trio.sleep(5)
        assert statuses(h.drain(), cid)[-1] is OrderStatus.FILLED


async def test_reconcile_adopts_and_resolves_vanished(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    exchange.add_order("left-open-earlier", price="99")
    async with open_manager(exchange) as h:
        open_orders = await h.open_orders()
        assert open_orders["left-open-earlier"].status is OrderStatus.OPEN  # adopted on start
        assert h.manager.statistics().adopted == 1
        mine = (await h.place("1", "100")).client_order_id
        gone = (await h.place("1", "100.5")).client_order_id
        exchange.orders[mine].status = "cancelled"  # the stream missed it (disconnected)
        del exchange.orders[gone]  # and this one the exchange forgot entirely
        exchange.add_order("placed-by-hand", price="98")
        summary = await h.ask(Reconcile(reason="stream reconnected"), ReconcileSummary)
        assert summary == ReconcileSummary(balances=0, open_orders=2, adopted=1, fills=0, vanished=2)
        open_orders = await h.open_orders()
        assert set(open_orders) == {"left-open-earlier", "placed-by-hand"}
        events = h.drain()
        assert statuses(events, mine)[-1] is OrderStatus.CANCELLED
        assert statuses(events, gone)[-1] is OrderStatus.EXPIRED
        # adopted orders can be cancelled like ours
        assert (await h.cancel("placed-by-hand")).status is OrderStatus.CANCELLED


async def test_balance_view(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    exchange.balances = {"USDT": _Balance("USDT", "1000", "0"), "BTC": _Balance("BTC", "2", "0.5")}
    async with open_manager(exchange) as h:
        balances = await h.ask(GetBalances(), object)
        assert {a: (b.free, b.locked) for a, b in balances.items()} == {  # type: ignore[attr-defined]
            "USDT": (D(1000), D(0)),
            "BTC": (D(2), D("0.5")),
        }
        h.drain()
        newer = Balance(exchange=NAME, asset="USDT", free=D(900), locked=D(100), ts_exchange=2_000)
        older = Balance(exchange=NAME, asset="USDT", free=D(1), locked=D(1), ts_exchange=1_000)
        await h.report(newer, older, newer)
        assert h.drain() == [newer]  # once, and the stale one ignored
        usdt = (await h.ask(GetBalances(), object))["USDT"]  # type: ignore[index]
        assert (usdt.free, usdt.locked) == (D(900), D(100))
        del exchange.balances["BTC"]
        await h.ask(Reconcile(), ReconcileSummary)
        btc = (await h.ask(GetBalances(), object))["BTC"]  # type: ignore[index]
        assert (btc.free, btc.locked) == (D(0), D(0))


async def test_auth_failure_resyncs_the_clock_and_resends(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.skew_ms = 2000
        exchange.fault("POST", "/order", Fault.UNAUTHORIZED)
        placed = await h.place("1", "100")
        assert placed.status is OrderStatus.OPEN
        assert h.link.time_offset_ms == 2000
        posts = exchange.requests("POST", "/order")
        assert len(posts) == 2
        assert int(posts[1]["ts"]) - int(posts[0]["ts"]) == 2000  # resent with the corrected timestamp


async def test_clock_is_refreshed_periodically(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, clock_sync_interval=600.0) as h:
        exchange.skew_ms = -300
        await trio.sleep(599)
        assert h.link.time_offset_ms == 0
        await trio.sleep(2)
        assert h.link.time_offset_ms == -300
        assert h.manager.statistics().clock_syncs == 1


async def test_cancel_all_on_shutdown(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, cancel_all_on_shutdown=True) as h:
        cid = (await h.place("1", "100")).client_order_id
    assert exchange.orders[cid].status == "cancelled"


async def test_no_cancel_all_on_shutdown_by_default(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        cid = (await h.place("1", "100")).client_order_id
    assert exchange.orders[cid].status == "open"


async def test_cancel_waits_for_the_create_in_flight(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, read_timeout=2.0) as h:
        exchange.fault("POST", "/order", Fault.SILENT_AFTER)  # accepted, answer never comes
        placed: list[OrderUpdate] = []
        async with trio.open_nursery() as nursery:

            async def place() -> None:
                placed.append(await h.place("1", "100"))

            nursery.start_soon(place)
            await trio.testing.wait_all_tasks_blocked()
            (cid,) = await h.open_orders()
            start = trio.current_time()
            cancelled = await h.cancel(cid)
        # the cancel left only once the create had its (non-)answer, and then found the order
        assert [t - start for t, m, p, _ in exchange.log if (m, p) == ("DELETE", "/order")] == [2.0]
        assert placed[0].status is OrderStatus.UNKNOWN
        assert cancelled.status is OrderStatus.CANCELLED
        await trio.sleep(5)
        assert await h.open_orders() == {}
