"""The periodic light reconciliation heals what the user stream dropped, and signed queries refused for their
timestamp re-measure the clock and are sent once more.

Same harness as ``test_order_manager.py`` (fake exchange over loopback, virtual clock).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing

from clobactors.actors.order_manager import GetBalances, OrderManager, Reconcile, ReconcileSummary
from clobactors.config import ExchangeConfig
from clobactors.errors import AuthenticationFailed, ConfigError
from clobactors.messages import Balance, Fill, OrderUpdate
from clobactors.model import OrderStatus
from tests.actors.fake_exchange import FakeExchange, Fault, _Balance
from tests.actors.test_order_manager import open_manager, statuses

D = Decimal
S = OrderStatus


def times(exchange: FakeExchange, method: str, path: str, start: float) -> list[float]:
    return [t - start for t, m, p, _ in exchange.log if (m, p) == (method, path)]


async def test_a_dropped_fill_is_published_once_after_the_interval(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=60.0) as h:
        start = trio.current_time()
        cid = (await h.place("1", "100")).client_order_id
        h.drain()
        update, fill = exchange.fill(cid, "0.4", "100")  # the stream frame never arrives
        await trio.sleep(59.5)
        assert h.drain() == []
        await trio.sleep(1)
        events = h.drain()
        assert [type(e) for e in events] == [Fill, OrderUpdate]  # the fill first, then the state it caused
        assert isinstance(events[0], Fill)
        assert (events[0].trade_id, events[0].size) == (fill.trade_id, D("0.4"))
        assert statuses(events, cid) == [S.PARTIALLY_FILLED]
        await trio.sleep(120)  # two more rounds: nothing new
        await h.report(fill, update)  # and the frame arriving late changes nothing
        assert h.drain() == []
        assert times(exchange, "GET", "/balances", start) == [0.0, 60.0, 120.0, 180.0]  # start, then each round
        assert times(exchange, "GET", "/fills", start) == [60.0]  # only where an order changed
        stats = h.manager.statistics()
        assert (stats.periodic_reconciliations, stats.orders.fills_applied) == (3, 1)


async def test_an_order_filled_while_the_stream_slept_ends_filled(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=30.0) as h:
        cid = (await h.place("1", "100")).client_order_id
        h.drain()
        exchange.fill(cid, "1", "100")  # no longer in the open-order list
        await trio.sleep(31)
        events = h.drain()
        assert [type(e) for e in events] == [Fill, OrderUpdate]
        assert statuses(events, cid) == [S.FILLED]
        assert exchange.requests("GET", "/order") == []  # the fills told it all: no query needed
        assert await h.open_orders() == {}


async def test_an_order_cancelled_behind_our_back_is_queried(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=30.0) as h:
        cid = (await h.place("1", "100")).client_order_id
        h.drain()
        exchange.orders[cid].status = "cancelled"
        await trio.sleep(31)
        assert statuses(h.drain(), cid) == [S.CANCELLED]
        assert len(exchange.requests("GET", "/order")) == 1


async def test_balances_converge_after_the_interval(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    exchange.balances = {"USDT": _Balance("USDT", "1000", "0")}
    async with open_manager(exchange, reconcile_interval=60.0) as h:
        h.drain()
        exchange.balances = {"BTC": _Balance("BTC", "1", "0")}  # USDT gone, BTC new: frames lost
        await trio.sleep(61)
        published = {e.asset: (e.free, e.locked) for e in h.drain() if isinstance(e, Balance)}
        assert published == {"BTC": (D(1), D(0)), "USDT": (D(0), D(0))}
        balances = await h.ask(GetBalances(), object)
        assert {a: (b.free, b.locked) for a, b in balances.items()} == published  # type: ignore[attr-defined]
        await trio.sleep(60)
        assert h.drain() == []


async def test_a_failed_round_waits_for_the_next(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=60.0) as h:
        exchange.fault("GET", "/balances", Fault.UNAVAILABLE)
        await trio.sleep(121)
        stats = h.manager.statistics()
        assert (stats.periodic_reconcile_failures, stats.periodic_reconciliations) == (1, 1)


async def test_no_periodic_reconcile_when_disabled(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=None) as h:
        await trio.sleep(600)
        assert len(exchange.requests("GET", "/balances")) == 1  # the start only
        assert h.manager.statistics().periodic_reconciliations == 0


def test_reconcile_interval_is_validated() -> None:
    with pytest.raises(ConfigError, match="reconcile_interval"):
        OrderManager("orders", None, reconcile_interval=0.0)  # type: ignore[arg-type]
    table: dict[str, object] = {"name": "x", "instruments": [], "reconcile_interval": 15}
    assert ExchangeConfig.from_mapping(table).reconcile_interval == 15.0
    assert ExchangeConfig.from_mapping({"name": "x", "instruments": []}).reconcile_interval == 60.0
    for bad in (0, -1, True, "60", float("inf")):
        with pytest.raises(ConfigError, match="reconcile_interval"):
            ExchangeConfig.from_mapping({**table, "reconcile_interval": bad})


# -- timestamp refusals (-1021 on Binance, AuthenticationFailed in the tree) ---------------------------------


async def test_reconcile_refused_for_its_timestamp_resyncs_and_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.skew_ms = 2500
        exchange.fault("GET", "/balances", Fault.UNAUTHORIZED)
        summary = await h.ask(Reconcile(reason="test"), ReconcileSummary)
        assert summary.open_orders == 0
        gets = exchange.requests("GET", "/balances")
        assert len(gets) == 3  # start, refused, resent
        assert int(gets[2]["ts"]) - int(gets[1]["ts"]) == 2500
        assert h.link.time_offset_ms == 2500
        assert h.manager.statistics().clock_syncs == 1


async def test_a_second_refusal_is_not_retried_again(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange) as h:
        exchange.fault("GET", "/open", Fault.UNAUTHORIZED, Fault.UNAUTHORIZED)
        with pytest.raises(AuthenticationFailed):
            await h.ask(Reconcile(reason="test"), ReconcileSummary)
        assert len(exchange.requests("GET", "/open")) == 3  # start, refused, resent and refused: no third try


async def test_periodic_and_resolution_queries_resync_too(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_manager(exchange, reconcile_interval=60.0) as h:
        exchange.fault("POST", "/order", Fault.DROP_AFTER)
        exchange.fault("GET", "/order", Fault.UNAUTHORIZED)
        exchange.skew_ms = 700
        placed = await h.place("1", "100")
        assert placed.status is S.UNKNOWN
        await trio.sleep(1)
        assert (await h.open_orders())[placed.client_order_id].status is S.OPEN  # resolved on the resend
        assert h.link.time_offset_ms == 700
        exchange.skew_ms = -400
        exchange.fault("GET", "/open", Fault.UNAUTHORIZED)
        await trio.sleep(60)
        assert h.link.time_offset_ms == -400
        stats = h.manager.statistics()
        assert (stats.clock_syncs, stats.periodic_reconciliations, stats.periodic_reconcile_failures) == (2, 1, 0)
