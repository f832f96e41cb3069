"""Order state machine: every table row, the merge rules one by one, and the mermaid doc staying in sync."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from clobactors.errors import LocalProtocolError
from clobactors.messages import Fill, OrderUpdate, PlaceOrder
from clobactors.model import TERMINAL_STATUSES, OrderStatus, OrderType, Side
from clobactors.order_states import LOCAL_REQUESTS, RESUME, TRANSITIONS, OrderEvent, render_mermaid
from clobactors.orders import AnomalyKind, Change, InFlight, TrackedOrder

S = OrderStatus
E = OrderEvent
SIZE = Decimal(10)
CID = "c1"
EID = "E1"


def new_order() -> TrackedOrder:
    return TrackedOrder(
        exchange="sim",
        instrument="BTC-USDT",
        client_order_id=CID,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        size=SIZE,
        price=Decimal(100),
    )


def report(status: OrderStatus, filled: str = "0", **kw: object) -> OrderUpdate:
    fields: dict[str, object] = {
        "exchange": "sim",
        "instrument": "BTC-USDT",
        "client_order_id": CID,
        "exchange_order_id": EID,
        "status": status,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "price": Decimal(100),
        "size": SIZE,
        "filled_size": Decimal(filled),
    }
    fields.update(kw)
    return OrderUpdate(**fields)  # type: ignore[arg-type]


_trade_ids = itertools.count()


def fill(size: str, price: str = "100", trade_id: str | None = None, **kw: object) -> Fill:
    fields: dict[str, object] = {
        "exchange": "sim",
        "instrument": "BTC-USDT",
        "client_order_id": CID,
        "exchange_order_id": EID,
        "trade_id": trade_id or f"t{next(_trade_ids)}",
        "side": Side.BUY,
        "price": Decimal(price),
        "size": Decimal(size),
    }
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


def status_of(order: TrackedOrder) -> OrderStatus:
    """Read the status afresh (mypy would otherwise keep a narrowed literal across calls that change it)."""
    return order.status


def reach(status: OrderStatus) -> TrackedOrder:
    """A fresh order driven into ``status`` by the shortest realistic path."""
    order = new_order()
    match status:
        case S.PENDING_CREATE:
            pass
        case S.OPEN:
            order.apply_update(report(S.OPEN))
        case S.PARTIALLY_FILLED:
            order.apply_fill(fill("1"))
        case S.PENDING_CANCEL:
            order.apply_update(report(S.OPEN))
            order.request_cancel()
        case S.UNKNOWN:
            order.submit_outcome_unknown()
        case S.REJECTED:
            order.reject_locally("min notional")
        case _:
            order.apply_update(report(status))
    assert order.status is status
    return order


def fire(order: TrackedOrder, event: OrderEvent) -> Change | None:
    """Drive ``event`` through the public API, as an order manager would."""
    reports = {
        E.REPORT_OPEN: S.OPEN,
        E.REPORT_PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        E.REPORT_FILLED: S.FILLED,
        E.REPORT_CANCELLED: S.CANCELLED,
        E.REPORT_REJECTED: S.REJECTED,
        E.REPORT_EXPIRED: S.EXPIRED,
    }
    if event in reports:
        filled = "2" if event is E.REPORT_PARTIALLY_FILLED else "0"
        return order.apply_update(report(reports[event], filled))
    if event is E.FILL:
        return order.apply_fill(fill("1"))
    if event is E.COMPLETE:
        return order.apply_fill(fill(str(SIZE - order.filled_by_fills)))
    if event is E.REJECT_LOCALLY:
        return order.reject_locally("tick size")
    method = getattr(order, event.value)
    change: Change = method()
    return change


@pytest.mark.parametrize(
    ("status", "event"), list(itertools.product(OrderStatus, OrderEvent)), ids=lambda v: v.value
)
def test_every_transition(status: OrderStatus, event: OrderEvent) -> None:
    order = reach(status)
    target = TRANSITIONS.get((status, event))
    if target is None:
        assert event in LOCAL_REQUESTS
        with pytest.raises(LocalProtocolError, match=event.value):
            fire(order, event)
        assert status_of(order) is status
        return
    change = fire(order, event)
    expected = S.OPEN if target is RESUME else target  # reach() requests the cancel from open
    assert status_of(order) is expected
    if change is not None and change.anomaly is None:
        assert change.status_before is status
        assert change.status is expected


def test_table_is_total_except_for_our_requests() -> None:
    for status, event in itertools.product(OrderStatus, OrderEvent):
        assert ((status, event) in TRANSITIONS) or event in LOCAL_REQUESTS


def test_terminal_statuses_never_move() -> None:
    for (status, _event), target in TRANSITIONS.items():
        if status in TERMINAL_STATUSES:
            assert target is status


def test_only_exchange_reports_leave_unknown_for_rejected() -> None:
    assert (S.UNKNOWN, E.REJECT_LOCALLY) not in TRANSITIONS
    assert TRANSITIONS[(S.UNKNOWN, E.REPORT_REJECTED)] is S.REJECTED
    order = reach(S.UNKNOWN)
    with pytest.raises(LocalProtocolError):
        order.reject_locally("too late")
    order.apply_update(report(S.REJECTED, reason="insufficient balance"))
    assert status_of(order) is S.REJECTED
    assert order.reason == "insufficient balance"


def test_submit_rejected_by_the_exchange() -> None:
    order = reach(S.UNKNOWN)
    change = order.submit_rejected("insufficient balance")
    assert change.changed and status_of(order) is S.REJECTED and order.reason == "insufficient balance"
    partly = reach(S.PARTIALLY_FILLED)
    anomaly = partly.submit_rejected("late nonsense").anomaly
    assert anomaly is not None and anomaly.kind is AnomalyKind.CONFLICTING_STATUS


def test_unknown_becomes_whatever_the_exchange_reports() -> None:
    order = reach(S.UNKNOWN)
    assert order.in_flight is InFlight.CREATE
    assert order.apply_fill(fill("3")) is not None
    assert status_of(order) is S.UNKNOWN  # a fill proves existence, not whether it still rests
    order.apply_update(report(S.OPEN))
    assert status_of(order) is S.PARTIALLY_FILLED  # open with fills seen is partially filled
    assert order.in_flight.value == "none"


def test_open_after_partial_fill_does_not_regress() -> None:
    order = reach(S.OPEN)
    order.apply_update(report(S.PARTIALLY_FILLED, "4"))
    change = order.apply_update(report(S.OPEN, "0"))
    assert status_of(order) is S.PARTIALLY_FILLED
    assert order.filled_size == 4
    assert not change.changed


def test_filled_report_before_its_fills() -> None:
    order = reach(S.OPEN)
    order.apply_update(report(S.FILLED, "10", avg_fill_price=Decimal("100.3")))
    assert (status_of(order), order.filled_size, order.remaining) == (S.FILLED, SIZE, Decimal(0))
    assert order.avg_fill_price is None
    assert order.to_update().avg_fill_price == Decimal("100.3")
    first = fill("4", "100.1", trade_id="a", fee=Decimal("0.4"), fee_asset="USDT")
    second = fill("6", "100.4", trade_id="b", fee=Decimal("-0.1"), fee_asset="USDT")
    for f in (first, first, second, first):
        order.apply_fill(f)
    assert status_of(order) is S.FILLED
    assert [f.trade_id for f in order.fills] == ["a", "b"]
    assert order.filled_by_fills == SIZE
    assert order.fees == {"USDT": Decimal("0.3")}
    assert order.avg_fill_price == Decimal("100.28")


def test_avg_price_is_exact_for_simple_fills() -> None:
    order = reach(S.OPEN)
    order.apply_fill(fill("1", "100.1"))
    order.apply_fill(fill("2", "100.4"))
    assert order.avg_fill_price == Decimal("100.3")
    assert order.to_update().avg_fill_price == Decimal("100.3")


def test_duplicate_fill_is_none_and_changes_nothing() -> None:
    order = reach(S.OPEN)
    f = fill("2")
    first = order.apply_fill(f)
    assert first is not None and first.changed and first.fill == f
    assert order.apply_fill(f) is None
    assert order.filled_size == 2


def test_pending_cancel_then_fills() -> None:
    order = reach(S.PENDING_CANCEL)
    assert order.in_flight is InFlight.CANCEL
    order.apply_fill(fill("3"))
    assert (status_of(order), order.filled_size) == (S.PENDING_CANCEL, Decimal(3))
    order.apply_fill(fill("7"))
    assert status_of(order) is S.FILLED
    change = order.cancel_acknowledged()  # the ack of a cancel that lost the race
    assert status_of(order) is S.FILLED and not change.changed and change.anomaly is None
    order.cancel_unknown_order()
    assert status_of(order) is S.FILLED


def test_cancel_unknown_order_is_not_cancelled() -> None:
    order = reach(S.PENDING_CANCEL)
    order.cancel_unknown_order()
    assert status_of(order) is S.UNKNOWN
    assert order.in_flight is InFlight.CANCEL
    order.apply_update(report(S.FILLED, "10"))
    assert status_of(order) is S.FILLED


def test_refused_cancel_resumes_what_the_exchange_said_meanwhile() -> None:
    order = new_order()
    order.request_cancel()  # cancel before the create was acknowledged
    order.apply_update(report(S.OPEN))
    assert status_of(order) is S.PENDING_CANCEL
    order.apply_fill(fill("2"))
    order.cancel_rejected()
    assert status_of(order) is S.PARTIALLY_FILLED
    assert order.in_flight is InFlight.NONE


def test_refused_cancel_of_unknown_order_stays_unknown() -> None:
    order = reach(S.UNKNOWN)
    order.request_cancel()
    order.apply_fill(fill("1"))
    order.cancel_rejected()
    assert status_of(order) is S.UNKNOWN
    assert order.in_flight is InFlight.CREATE


def test_late_submit_timeout_is_ignored() -> None:
    order = reach(S.OPEN)
    assert not order.submit_outcome_unknown().changed
    assert status_of(order) is S.OPEN


@pytest.mark.parametrize(
    ("prepare", "bad", "kind"),
    [
        (S.OPEN, report(S.PARTIALLY_FILLED, "11"), AnomalyKind.QUANTITY_OUT_OF_RANGE),
        (S.OPEN, report(S.PARTIALLY_FILLED, "-1"), AnomalyKind.QUANTITY_OUT_OF_RANGE),
        (S.OPEN, fill("11"), AnomalyKind.QUANTITY_OUT_OF_RANGE),
        (S.OPEN, fill("0"), AnomalyKind.QUANTITY_OUT_OF_RANGE),
        (S.PARTIALLY_FILLED, fill("9.5"), AnomalyKind.QUANTITY_OUT_OF_RANGE),
        (S.FILLED, report(S.CANCELLED), AnomalyKind.CONFLICTING_STATUS),
        (S.CANCELLED, report(S.FILLED, "10"), AnomalyKind.CONFLICTING_STATUS),
        (S.PARTIALLY_FILLED, report(S.REJECTED), AnomalyKind.CONFLICTING_STATUS),
        (S.OPEN, report(S.REJECTED, "1"), AnomalyKind.CONFLICTING_STATUS),
        (S.OPEN, report(S.OPEN, exchange_order_id="E2"), AnomalyKind.EXCHANGE_ID_MISMATCH),
        (S.OPEN, fill("1", exchange_order_id="E2"), AnomalyKind.EXCHANGE_ID_MISMATCH),
        (S.OPEN, report(S.PENDING_CANCEL), AnomalyKind.NOT_AN_EXCHANGE_STATUS),
        (S.OPEN, report(S.UNKNOWN), AnomalyKind.NOT_AN_EXCHANGE_STATUS),
    ],
    ids=lambda v: getattr(v, "value", None) or type(v).__name__,
)
def test_anomalies_are_dropped_and_reported(
    prepare: OrderStatus, bad: OrderUpdate | Fill, kind: AnomalyKind
) -> None:
    order = reach(prepare)
    before = (status_of(order), order.filled_size, order.fills)
    change = order.apply_fill(bad) if isinstance(bad, Fill) else order.apply_update(bad)
    assert change is not None and change.anomaly is not None
    assert change.anomaly.kind is kind
    assert change.anomaly.report is bad
    assert change.anomaly.error.instrument == "BTC-USDT"
    assert not change.changed
    assert (status_of(order), order.filled_size, order.fills) == before


def test_reused_trade_id_with_other_size_is_an_anomaly() -> None:
    order = reach(S.OPEN)
    order.apply_fill(fill("1", trade_id="x"))
    change = order.apply_fill(fill("2", trade_id="x"))
    assert change is not None and change.anomaly is not None
    assert change.anomaly.kind is AnomalyKind.TRADE_ID_REUSED
    assert order.filled_size == 1


def test_report_routed_to_the_wrong_order_is_our_bug() -> None:
    order = new_order()
    with pytest.raises(LocalProtocolError):
        order.apply_update(report(S.OPEN, client_order_id="other"))
    with pytest.raises(LocalProtocolError):
        order.apply_fill(fill("1", client_order_id="other"))


def test_exchange_id_is_learned_once() -> None:
    order = new_order()
    change = order.apply_update(report(S.OPEN))
    assert change.learned_exchange_id and order.exchange_order_id == EID
    assert not order.apply_update(report(S.OPEN)).changed


def test_from_command_and_to_update() -> None:
    command = PlaceOrder(
        exchange="sim",
        instrument="ETH-USDT",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        size=Decimal("0.5"),
        price=Decimal(3000),
    )
    order = TrackedOrder.from_command(command, "abc")
    assert (order.client_order_id, order.size, order.side, order.status) == (
        "abc",
        Decimal("0.5"),
        Side.SELL,
        S.PENDING_CREATE,
    )
    update = order.to_update(ts_recv=5)
    assert (update.status, update.client_order_id, update.ts_recv) == (S.PENDING_CREATE, "abc", 5)
    assert update.filled_size == 0


def test_local_reject_records_the_reason() -> None:
    order = new_order()
    order.reject_locally("below min notional")
    assert order.is_terminal and order.to_update().reason == "below min notional"


def test_mermaid_diagram_covers_every_status() -> None:
    text = render_mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for status in OrderStatus:
        assert f" {status.value} " in text
    assert "pending_cancel --> open : cancel_rejected (resume)" in text
    assert "filled --> [*]" in text


def test_docs_diagram_matches_the_table() -> None:
    doc = Path(__file__).parent.parent / "docs" / "state-machines.md"
    assert f"```mermaid\n{render_mermaid()}```" in doc.read_text(encoding="utf-8"), (
        "docs/state-machines.md is stale: paste clobactors.order_states.render_mermaid() into it"
    )
