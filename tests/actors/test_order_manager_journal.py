"""The order manager with an order journal: journaled before the request leaves, done when terminal, and a
restarted manager learns what became of every journaled order (the fake exchange over loopback, virtual time).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing

from clobactors.actors.order_manager import OrderManager, Reconcile, ReconcileSummary
from clobactors.errors import ConfigError, TradingRuleViolation
from clobactors.messages import Fill, OrderOutcomeUnknown, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.order_journal import OrderJournal, replay
from tests.actors.fake_exchange import NAME, FakeExchange, open_fake_link
from tests.actors.test_order_manager import open_manager, statuses

S = OrderStatus


def journal_at(path: Path) -> OrderJournal:
    return OrderJournal.open(path, exchange=NAME)


def on_file(path: Path) -> list[str]:
    return list(replay(path.read_bytes(), NAME).open)


async def test_orders_are_journaled_until_terminal(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with journal_at(path) as journal:
        async with open_manager(FakeExchange(), journal=journal) as h:
            filled = (await h.place("1", "100")).client_order_id
            cancelled = (await h.place("2", "99")).client_order_id
            assert on_file(path) == [filled, cancelled]  # on the file, not only in memory
            await h.report(*h.exchange.fill(filled, "1", "100"))
            assert (await h.cancel(cancelled)).status is S.CANCELLED
            assert on_file(path) == [] and len(journal) == 0
            with pytest.raises(TradingRuleViolation):
                await h.place("0.001", "100")  # refused by the rules: never sent, so never journaled
            assert journal.statistics().records_written == 5  # 2 open, 1 fill, 2 done
            assert journal.statistics().fills == 1


async def test_an_order_that_cannot_be_journaled_is_not_sent(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    journal = journal_at(tmp_path / "orders.jsonl")
    journal.close()  # any write now fails, as on a full disk
    async with open_manager(FakeExchange(), journal=journal) as h:
        with pytest.raises(ConfigError, match="closed"):
            await h.place("1", "100")
        assert h.exchange.requests("POST", "/order") == []
        assert h.manager.statistics().orders.tracked == 0


async def test_a_restart_learns_what_became_of_journaled_orders(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    exchange = FakeExchange()
    with journal_at(path) as journal:
        async with open_manager(exchange, journal=journal) as h:
            gone, cancelled, live = [(await h.place("1", p)).client_order_id for p in ("98", "99", "100")]
    # While no manager runs: one order is cancelled without a fill, one is forgotten by the exchange.
    exchange.orders[cancelled].status = "cancelled"
    del exchange.orders[gone]
    with journal_at(path) as journal:
        assert list(journal) == [gone, cancelled, live]
        start = trio.current_time()
        async with open_manager(exchange, journal=journal) as h:
            assert trio.current_time() - start == 0  # three queries, no waiting
            events = h.drain()
            assert statuses(events, cancelled) == [S.CANCELLED]
            assert statuses(events, live) == [S.OPEN]
            (expired,) = [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id == gone]
            assert (expired.status, expired.filled_size, expired.size, expired.price) == (
                S.EXPIRED,
                Decimal(0),
                Decimal(1),
                Decimal("98"),
            )
            assert "unknown to the exchange" in expired.reason
            (alarm,) = [e for e in events if isinstance(e, OrderOutcomeUnknown)]
            assert (alarm.client_order_id, alarm.reason) == (gone, expired.reason)
            assert [p["cid"] for p in exchange.requests("GET", "/order")] == [gone, cancelled]
            assert list(journal) == [live]  # done with the two that ended; the live one stays journaled
            assert set(await h.open_orders()) == {live}
            summary = await h.ask(Reconcile(reason="test"), ReconcileSummary)
            assert summary.journaled == 0  # nothing left unaccounted: not asked about again
    assert on_file(path) == [live]


async def test_a_restart_does_not_publish_again_the_fills_an_earlier_manager_published(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    exchange = FakeExchange()
    with journal_at(path) as journal:
        async with open_manager(exchange, journal=journal) as h:
            done, half = [(await h.place("1", p)).client_order_id for p in ("100", "99")]
            await h.report(*exchange.fill(done, "1", "100"))
            await h.report(*exchange.fill(half, "0.5", "99"))
            published = [e for e in h.drain() if isinstance(e, Fill)]
            assert [f.client_order_id for f in published] == [done, half]
            assert journal.statistics().fills == 2
    await trio.sleep(10)
    _, late = exchange.fill(half, "0.5", "99")  # while no manager runs: the rest of ``half`` fills
    with journal_at(path) as journal:
        assert list(journal) == [half]
        start = trio.current_time()
        async with open_manager(exchange, journal=journal) as h:
            assert trio.current_time() - start == 0
            events = h.drain()
            # The trade list still holds all three fills; only the one no manager published goes out.
            assert [(f.client_order_id, f.trade_id) for f in events if isinstance(f, Fill)] == [(half, late.trade_id)]
            assert statuses(events, done) == []  # its fill and its end were published by the first manager
            (update,) = [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id == half]
            assert (update.status, update.filled_size) == (S.FILLED, Decimal(1))  # both fills merged
            # One query: ``half`` by its exchange id (a fill no manager published names it); ``done`` not at all.
            assert [p.get("oid") for p in exchange.requests("GET", "/order")] == [exchange.orders[half].oid]
            assert journal.statistics().fills == 3 and list(journal) == []
            stats = h.manager.statistics()  # what a monitor sees
            assert stats.fills_deduplicated == 1  # half's first fill; done's stays an unclaimed orphan
            assert stats.journal is not None and stats.journal.fills == 3
    assert on_file(path) == []


async def test_a_journaled_order_adopted_at_restart_merges_its_published_fills_silently(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Part filled while the first manager ran (published), then cancelled while none ran: the restart
    publishes its end once, with the filled size of the fill it does not publish again."""
    path = tmp_path / "orders.jsonl"
    exchange = FakeExchange()
    with journal_at(path) as journal:
        async with open_manager(exchange, journal=journal) as h:
            cid = (await h.place("1", "100")).client_order_id
            await h.report(*exchange.fill(cid, "0.4", "100"))
    exchange.orders[cid].status = "cancelled"
    with journal_at(path) as journal:
        async with open_manager(exchange, journal=journal) as h:
            events = h.drain()
            assert [e for e in events if isinstance(e, Fill)] == []
            (update,) = [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id == cid]
            assert (update.status, update.filled_size) == (S.CANCELLED, Decimal("0.4"))
            assert [p.get("cid") for p in exchange.requests("GET", "/order")] == [cid]  # by the journal, once
            assert list(journal) == []


async def test_a_journal_of_another_exchange_is_refused(tmp_path: Path) -> None:
    async with open_fake_link(FakeExchange()) as link:
        with (
            OrderJournal.open(tmp_path / "j", exchange="other") as journal,
            pytest.raises(ConfigError, match="journal of 'other'"),
        ):
            OrderManager("orders", link, journal=journal)
