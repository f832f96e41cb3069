"""OrderTracker: routing by either id, orphans adopted later, counters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clobactors.errors import LocalProtocolError
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.order_tracker import OrderTracker, OrderTrackerStatistics
from clobactors.orders import AnomalyKind, TrackedOrder

S = OrderStatus


def order(cid: str, instrument: str = "BTC-USDT") -> TrackedOrder:
    return TrackedOrder(
        exchange="sim",
        instrument=instrument,
        client_order_id=cid,
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        size=Decimal(5),
        price=Decimal(10),
    )


def update(cid: str, eid: str, status: OrderStatus, filled: str = "0") -> OrderUpdate:
    return OrderUpdate(
        exchange="sim",
        instrument="BTC-USDT",
        client_order_id=cid,
        exchange_order_id=eid,
        status=status,
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        size=Decimal(5),
        filled_size=Decimal(filled),
    )


def fill(cid: str, eid: str, trade_id: str, size: str = "1") -> Fill:
    return Fill(
        exchange="sim",
        instrument="BTC-USDT",
        client_order_id=cid,
        exchange_order_id=eid,
        trade_id=trade_id,
        side=Side.SELL,
        price=Decimal(10),
        size=Decimal(size),
    )


def test_routes_by_client_id_then_exchange_id() -> None:
    tracker = OrderTracker()
    a, b = order("a"), order("b")
    assert tracker.track(a) == [] and tracker.track(b) == []
    [change] = tracker.apply_update(update("a", "X1", S.OPEN))
    assert change.changed and tracker.by_exchange_id("X1") is a
    [change] = tracker.apply_fill(fill("", "X1", "t1"))
    assert change.fill is not None and a.filled_size == 1
    assert tracker.apply_fill(fill("", "X1", "t1")) == []
    assert b.status is S.PENDING_CREATE
    assert "a" in tracker and len(tracker) == 2


def test_fill_before_exchange_id_is_known_is_adopted_later() -> None:
    tracker = OrderTracker()
    a = order("a")
    tracker.track(a)
    assert tracker.apply_fill(fill("", "X1", "t1", "2")) == []
    assert tracker.statistics().orphans == 1
    changes = tracker.apply_update(update("a", "X1", S.OPEN))
    assert [c.event for c in changes] == ["report_open", "fill"]
    assert a.status is S.PARTIALLY_FILLED and a.filled_size == 2
    assert tracker.orphans == ()


def test_reports_before_tracking_are_adopted_on_track() -> None:
    tracker = OrderTracker()
    tracker.apply_update(update("a", "X1", S.PARTIALLY_FILLED, "1"))
    tracker.apply_fill(fill("", "X1", "t1"))
    tracker.apply_fill(fill("zzz", "X9", "t9"))
    a = order("a")
    changes = tracker.track(a)
    assert len(changes) == 2
    assert (a.status, a.filled_size, a.filled_by_fills) == (S.PARTIALLY_FILLED, Decimal(1), Decimal(1))
    assert [o.client_order_id for o in tracker.orphans] == ["zzz"]


def test_duplicate_tracking_is_a_bug() -> None:
    tracker = OrderTracker()
    tracker.track(order("a"))
    with pytest.raises(LocalProtocolError):
        tracker.track(order("a"))


def test_orphans_are_bounded_and_counted() -> None:
    tracker = OrderTracker(max_orphans=2)
    for i in range(5):
        tracker.apply_fill(fill("ghost", "", f"t{i}"))
    stats = tracker.statistics()
    assert (stats.orphans, stats.orphans_dropped) == (2, 3)
    assert [o.trade_id for o in tracker.orphans if isinstance(o, Fill)] == ["t3", "t4"]


def test_open_orders_forget_and_statistics() -> None:
    tracker = OrderTracker()
    a, b, c = order("a"), order("b", "ETH-USDT"), order("c")
    for o in (a, b, c):
        tracker.track(o)
    tracker.apply_update(update("a", "X1", S.OPEN))
    tracker.apply_update(update("a", "X1", S.OPEN))
    tracker.apply_update(update("b", "X2", S.FILLED, "5"))
    tracker.apply_update(update("b", "X2", S.CANCELLED))
    c.submit_outcome_unknown()
    assert tracker.open_orders() == [a, c]
    assert tracker.open_orders("ETH-USDT") == []
    assert tracker.statistics() == OrderTrackerStatistics(
        tracked=3,
        open=2,
        unknown=1,
        updates_applied=2,
        updates_ignored=1,
        fills_applied=0,
        duplicate_fills=0,
        anomalies=1,
        orphans=0,
        orphans_dropped=0,
    )
    [anomaly] = tracker.anomalies
    assert anomaly.kind is AnomalyKind.CONFLICTING_STATUS
    assert tracker.forget("b") is b
    assert tracker.by_exchange_id("X2") is None
    tracker.apply_fill(fill("b", "X2", "late"))
    assert tracker.statistics().orphans == 1
