"""Funding payments in the order journal: journaled when published, replayed into a new ledger, the last 24 h
kept through compaction; a journal written before funding records existed loads as before."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
import trio
import trio.testing

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import open_actor_system
from clobactors.errors import ConfigError
from clobactors.messages import FundingPayment
from clobactors.order_journal import JournaledFunding, OrderJournal, replay
from tests.actors.fake_exchange import start_probe
from tests.integration.test_usdm_session import drain

EX = "binance_usdm"
BTC = "BTC-USDT-PERP"
S_NS = 1_000_000_000
HOUR_NS = 3600 * S_NS
T0 = 1_704_096_000_000 * 1_000_000  # a settlement (08:00 UTC)


def pay(instrument: str, amount: str, ts: int = T0, asset: str = "USDT") -> FundingPayment:
    return FundingPayment(exchange=EX, instrument=instrument, ts_exchange=ts, asset=asset, amount=D(amount))


def kept(path: Path) -> list[tuple[str, str, int, bool]]:
    return [(f.asset, f.instrument, f.ts, f.fetched) for f in replay(path.read_bytes(), EX).funding]


def test_funding_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EX) as journal:
        journal.record_funding(pay("", "-1.5"), fetched=False)  # the stream's cross-margin total
        journal.record_funding(pay(BTC, "-1.5", T0 + S_NS), fetched=True)  # the REST row, stamped apart
        journal.record_funding(pay(BTC, "-1.5", T0 + S_NS), fetched=True)  # known: nothing written
        journal.record_funding(pay("", "-1", 0), fetched=False)  # untimed: nothing to match it by
        assert (journal.statistics().funding, journal.statistics().records_written) == (2, 2)
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {
        "op": "funding", "exchange": EX, "asset": "USDT", "instrument": "", "ts": T0, "amount": "-1.5",
        "fetched": False, "payment_id": "",
    }  # fmt: skip
    assert kept(path) == [("USDT", "", T0, False), ("USDT", BTC, T0 + S_NS, True)]
    with OrderJournal.open(path, exchange=EX) as journal:  # a later process knows them, amounts exact
        assert journal.funding_payments() == (
            JournaledFunding(exchange=EX, asset="USDT", instrument="", ts=T0, amount=D("-1.5")),
            JournaledFunding(exchange=EX, asset="USDT", instrument=BTC, ts=T0 + S_NS, amount=D("-1.5"), fetched=True),
        )
    with pytest.raises(ConfigError, match="funding_retention"):
        OrderJournal.open(tmp_path / "x", exchange=EX, funding_retention=-1)


def test_compaction_keeps_the_last_24_hours_of_funding(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EX, compact_after=4) as journal:
        for name in ("A", "B", "C"):
            journal.record_funding(pay(name, "-1"), fetched=True)
        journal.record_funding(pay("", "-1", T0 + 25 * HOUR_NS), fetched=False)  # the 4th line: compaction
        stats = journal.statistics()
        assert (stats.compactions, stats.funding, stats.funding_pruned) == (1, 1, 3)
        assert kept(path) == [("USDT", "", T0 + 25 * HOUR_NS, False)]
        journal.record_funding(pay(BTC, "-1", T0 + HOUR_NS), fetched=True)  # 24 h before the newest exactly
        journal.record_funding(pay(BTC, "-1", T0 + HOUR_NS - 1), fetched=True)  # older: gone at the next rewrite
    assert len(kept(path)) == 3
    with OrderJournal.open(path, exchange=EX) as journal:  # loading compacts
        assert [f.ts for f in journal.funding_payments()] == [T0 + 25 * HOUR_NS, T0 + HOUR_NS]
    assert path.read_bytes().count(b"\n") == 2
    with OrderJournal.open(path, exchange=EX, funding_retention=3600.0) as journal:
        assert [f.ts for f in journal.funding_payments()] == [T0 + 25 * HOUR_NS]


def test_a_journal_without_funding_records_loads_as_before(tmp_path: Path) -> None:
    """Written by a version that journaled no funding: orders and fills come back, no payment, nothing dropped."""
    path = tmp_path / "orders.jsonl"
    lines = [
        {"op": "open", "exchange": EX, "instrument": BTC, "client_order_id": "a", "side": "buy",
         "order_type": "limit", "size": "0.01", "price": "100", "ts": 1},
        {"op": "open", "exchange": EX, "instrument": BTC, "client_order_id": "b", "side": "sell",
         "order_type": "market", "size": "0.02", "ts": 2},
        {"op": "done", "exchange": EX, "client_order_id": "a", "ts": 3},
        {"op": "fill", "exchange": EX, "instrument": BTC, "trade_id": "7", "ts": 5 * S_NS},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    found = replay(path.read_bytes(), EX)
    assert (list(found.open), found.funding, found.dropped) == (["b"], (), 0)
    with OrderJournal.open(path, exchange=EX) as journal:
        assert list(journal) == ["b"] and journal.fill_published(BTC, "7")
        assert journal.funding_payments() == () and journal.statistics().dropped_lines == 0
        journal.record_funding(pay(BTC, "-2"), fetched=True)  # and it takes funding records from now on
    assert kept(path) == [("USDT", BTC, T0, True)]


async def test_a_book_replays_the_journal_into_its_ledger(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """What one process published, the next one's ledger knows: not published again, and its funding fetch
    resumes at the newest payment fetched."""
    path = tmp_path / "orders.jsonl"
    async with open_actor_system(wall_ns=lambda: T0) as system:
        seen = system.bus.subscribe("", prefix=True, reliable_capacity=1000, lag_high_water=1000)
        ctx = await start_probe(system)
        with OrderJournal.open(path, exchange=EX) as journal:
            book = AccountBook(EX, journal=journal)
            assert await book.publish_funding(ctx, [pay(BTC, "-1"), pay("ETH-USDT-PERP", "2")], fetched=True) == 2
            assert await book.publish_funding(ctx, [pay("", "-3", T0 + 8 * HOUR_NS)]) == 1  # the stream's
            assert len(drain(seen)) == 3 and book.funding.statistics().restored == 0
        with OrderJournal.open(path, exchange=EX) as journal:
            book = AccountBook(EX, journal=journal)
            stats = book.funding.statistics()
            assert (stats.restored, stats.published, stats.settlements) == (3, 0, 2)
            # Fetched rows resume the fetch (the stream's total does not), minus the margin.
            now_ms = (T0 + 9 * HOUR_NS) // 1_000_000
            assert book.funding.resume_ms(now_ms, 3600.0, 60.0) == T0 // 1_000_000 - 60_000
            # The same settlements, from either source: nothing published; a new one: published and journaled.
            again = [pay(BTC, "-1"), pay("ETH-USDT-PERP", "2"), pay(BTC, "-3", T0 + 8 * HOUR_NS + S_NS)]
            assert await book.publish_funding(ctx, again, fetched=True) == 0
            assert await book.publish_funding(ctx, [pay("", "-1", T0 + 1_000_000)]) == 0  # REST listed every row
            assert await book.publish_funding(ctx, [pay(BTC, "4", T0 + 16 * HOUR_NS)], fetched=True) == 1
            assert journal.statistics().funding == 4
        assert len(drain(seen)) == 1
