"""The order journal: what a reload finds after any sequence of writes and a crash at any byte.

The property checks the reload against an independent reading of the file (``json.loads`` of each complete
line), so a bug shared by writer and reader cannot make them agree.
"""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError
from clobactors.model import OrderType, Side
from clobactors.order_journal import JournaledOrder, OrderJournal, OrderJournalStatistics, replay
from clobactors.orders import TrackedOrder

EXCHANGE = "binance"


def order(cid: str, price: str = "100.5") -> TrackedOrder:
    return TrackedOrder(
        exchange=EXCHANGE,
        instrument="BTC-USDT",
        client_order_id=cid,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        size=Decimal("0.01"),
        price=Decimal(price),
    )


def independent_open_set(data: bytes) -> list[str]:
    """Ids whose ``open`` line is complete and whose later ``done`` line is not, read with the stdlib."""
    live: dict[str, None] = {}
    for line in data.split(b"\n")[:-1]:  # the last piece has no newline: torn, or empty
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("op") == "open":
            live.setdefault(record["client_order_id"], None)
        elif record.get("op") == "done":
            live.pop(record["client_order_id"], None)
    return list(live)


ops = st.lists(st.tuples(st.sampled_from(["open", "done"]), st.integers(0, 5)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ops=ops, cut=st.floats(0, 1), compact_after=st.integers(1, 4))
def test_reload_after_a_crash_at_any_byte_is_consistent(
    ops: list[tuple[str, int]], cut: float, compact_after: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.jsonl"
        model: dict[str, None] = {}
        with OrderJournal.open(path, exchange=EXCHANGE, compact_after=compact_after) as journal:
            for op, n in ops:
                cid = f"c{n}"
                if op == "open":
                    journal.record_open(order(cid), ts=n)
                    model.setdefault(cid, None)
                else:
                    journal.record_done(cid, ts=n)
                    model.pop(cid, None)
                assert list(journal) == list(model)
            assert journal.statistics().write_failures == 0
        data = path.read_bytes()
        assert independent_open_set(data) == list(model)  # nothing lost without a crash
        truncated = data[: int(len(data) * cut)]
        path.write_bytes(truncated)  # a crash mid-write: any prefix of the file survives
        expected = independent_open_set(truncated)
        with OrderJournal.open(path, exchange=EXCHANGE) as journal:
            assert list(journal) == expected
            torn = bool(truncated) and not truncated.endswith(b"\n")
            assert journal.statistics().dropped_lines == int(torn)
            journal.record_open(order("after"), ts=0)  # starts on a fresh line, whatever the crash left
        assert independent_open_set(path.read_bytes()) == [*[c for c in expected if c != "after"], "after"]


def test_records_hold_the_intent_and_no_secrets(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EXCHANGE) as journal:
        journal.record_open(order("x-1"), ts=7)
        journal.record_open(order("x-1", price="1"), ts=8)  # already open: nothing written
        (entry,) = journal.open_orders()
        assert entry == JournaledOrder.of(order("x-1"), 7)
        journal.record_done("x-9", ts=9)  # never open: nothing written
        journal.record_done("x-1", ts=10)
        assert journal.statistics() == OrderJournalStatistics(
            open_orders=0, records_written=2, dropped_lines=0, compactions=0, write_failures=0
        )
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first == {
        "op": "open", "exchange": EXCHANGE, "instrument": "BTC-USDT", "client_order_id": "x-1", "side": "buy",
        "order_type": "limit", "size": "0.01", "price": "100.5", "time_in_force": "gtc", "reduce_only": False,
        "position_side": "both", "ts": 7,
    }  # fmt: skip
    assert second == {"op": "done", "exchange": EXCHANGE, "client_order_id": "x-1", "ts": 10}


def test_bad_lines_are_skipped_and_counted_unknown_fields_ignored(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    good = json.dumps(
        {"op": "open", "exchange": EXCHANGE, "instrument": "BTC-USDT", "client_order_id": "a", "side": "sell",
         "order_type": "market", "size": "1", "added_later": [1, 2]}
    )  # fmt: skip
    other = good.replace('"a"', '"b"').replace(EXCHANGE, "okx")
    lines = [good, "not json", '{"op":"amend","exchange":"binance","client_order_id":"a"}', "", other, '{"op":"op']
    path.write_text("\n".join(lines))
    with OrderJournal.open(path, exchange=EXCHANGE) as journal:
        (entry,) = journal.open_orders()
        assert (entry.client_order_id, entry.side, entry.order_type, entry.price) == ("a", Side.SELL, "market", None)
        assert journal.statistics().dropped_lines == 4  # garbage, unknown op, another exchange's, torn tail
    # Reading compacted the file: only the open record is left, as a clean line.
    assert replay(path.read_bytes(), EXCHANGE).open == {"a": entry}
    assert path.read_bytes().count(b"\n") == 1


def test_compaction_keeps_only_open_records(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EXCHANGE, compact_after=3) as journal:
        for n in range(4):
            journal.record_open(order(f"c{n}"), ts=n)
        for n in range(3):
            journal.record_done(f"c{n}", ts=n)
        assert journal.statistics().compactions == 1  # 3 done lines, more than the 1 open order
        assert path.read_bytes().count(b"\n") == 1
        journal.record_open(order("c9"), ts=9)  # appends go on in the new file
    assert list(replay(path.read_bytes(), EXCHANGE).open) == ["c3", "c9"]
    assert not (tmp_path / "orders.jsonl.tmp").exists()


def test_unusable_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be used"):
        OrderJournal.open(tmp_path / "missing" / "orders.jsonl", exchange=EXCHANGE)
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigError, match="cannot be used"):
        OrderJournal.open(tmp_path / "dir", exchange=EXCHANGE)
    with pytest.raises(ConfigError, match="compact_after"):
        OrderJournal.open(tmp_path / "x", exchange=EXCHANGE, compact_after=0)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ConfigError, match="cannot be used"):
            OrderJournal.open(locked / "orders.jsonl", exchange=EXCHANGE)


def test_one_session_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EXCHANGE):
        with pytest.raises(ConfigError, match="in use by another session"):
            OrderJournal.open(path, exchange=EXCHANGE)
    OrderJournal.open(path, exchange=EXCHANGE).close()  # released on close


def test_a_closed_journal_refuses_opens_and_counts_nothing_for_dones(tmp_path: Path) -> None:
    journal = OrderJournal.open(tmp_path / "orders.jsonl", exchange=EXCHANGE)
    journal.record_open(order("a"), ts=1)
    journal.close()
    journal.close()  # idempotent
    assert journal.closed
    with pytest.raises(ConfigError, match="closed"):
        journal.record_open(order("b"), ts=2)
    assert "b" not in journal
    journal.record_done("a", ts=3)  # logged, never raised: the next process queries "a" once more
    assert "a" not in journal


S_NS = 1_000_000_000


def test_fill_records_are_remembered_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EXCHANGE) as journal:
        journal.record_fill("BTC-USDT", "7", ts=5 * S_NS)
        journal.record_fill("BTC-USDT", "7", ts=5 * S_NS)  # already known: nothing written
        journal.record_fill("ETH-USDT", "7", ts=3 * S_NS)  # trade ids are per instrument
        assert journal.fill_published("BTC-USDT", "7") and not journal.fill_published("BTC-USDT", "8")
        assert not journal.fill_published("SOL-USDT", "7")
        assert journal.last_fill_ns() == {"BTC-USDT": 5 * S_NS, "ETH-USDT": 3 * S_NS}
        assert (journal.statistics().fills, journal.statistics().records_written) == (2, 2)
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"op": "fill", "exchange": EXCHANGE, "instrument": "BTC-USDT", "trade_id": "7", "ts": 5 * S_NS}
    assert replay(path.read_bytes(), EXCHANGE).fills == {"BTC-USDT": {"7": 5 * S_NS}, "ETH-USDT": {"7": 3 * S_NS}}
    with OrderJournal.open(path, exchange=EXCHANGE) as journal:  # a later process knows them
        assert journal.fill_published("ETH-USDT", "7") and journal.last_fill_ns()["BTC-USDT"] == 5 * S_NS


def test_compaction_keeps_the_latest_fill_and_the_boundary_within_the_margin(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=EXCHANGE, compact_after=4, fill_margin=10) as journal:
        journal.keep_fills_for(5)  # never narrows the window
        assert journal.fill_margin == 10
        for n, second in enumerate((0, 30, 45, 50)):  # the 4th fill line triggers a compaction
            journal.record_fill("BTC-USDT", f"t{n}", ts=second * S_NS)
        assert journal.statistics().compactions == 1
        # 50 s is the latest: 45 s and 50 s are within 10 s of it (40 s exactly would be kept too); older ids go.
        assert not journal.fill_published("BTC-USDT", "t1") and journal.fill_published("BTC-USDT", "t2")
        assert (journal.statistics().fills, journal.statistics().fills_pruned) == (2, 2)
        journal.record_fill("BTC-USDT", "t4", ts=40 * S_NS)  # a late trade, at the boundary exactly
    kept = {"t2": 45 * S_NS, "t3": 50 * S_NS, "t4": 40 * S_NS}
    assert replay(path.read_bytes(), EXCHANGE).fills == {"BTC-USDT": kept}
    with OrderJournal.open(path, exchange=EXCHANGE, fill_margin=10) as journal:  # load compacts: all three stay
        assert journal.statistics().fills == 3 and journal.last_fill_ns() == {"BTC-USDT": 50 * S_NS}
    with OrderJournal.open(path, exchange=EXCHANGE, fill_margin=5) as journal:  # a narrower window forgets 40 s
        assert journal.statistics().fills == 2 and not journal.fill_published("BTC-USDT", "t4")
    assert path.read_bytes().count(b"\n") == 2


def test_torn_and_foreign_fill_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    good = json.dumps({"op": "fill", "exchange": EXCHANGE, "instrument": "BTC-USDT", "trade_id": "1", "ts": 9})
    other = good.replace(EXCHANGE, "okx").replace('"1"', '"2"')
    no_id = '{"op":"fill","exchange":"binance","instrument":"BTC-USDT","ts":1}'
    path.write_text("\n".join([good, other, no_id, good.replace('"1"', '"3"')[:30]]))
    with OrderJournal.open(path, exchange=EXCHANGE) as journal:
        assert journal.last_fill_ns() == {"BTC-USDT": 9} and journal.statistics().fills == 1
        assert journal.statistics().dropped_lines == 3  # another exchange's, no trade id, torn tail
        journal.record_fill("BTC-USDT", "3", ts=10)  # starts on a fresh line
    assert replay(path.read_bytes(), EXCHANGE).fills == {"BTC-USDT": {"1": 9, "3": 10}}


def test_a_failed_fill_record_is_remembered_in_memory_and_never_raises(tmp_path: Path) -> None:
    journal = OrderJournal.open(tmp_path / "orders.jsonl", exchange=EXCHANGE)
    journal.close()
    journal.record_fill("BTC-USDT", "1", ts=1)  # logged: the next process may publish it once more
    assert journal.fill_published("BTC-USDT", "1")  # this one will not
    with pytest.raises(ConfigError, match="fill_margin"):
        OrderJournal.open(tmp_path / "x", exchange=EXCHANGE, fill_margin=-1)
