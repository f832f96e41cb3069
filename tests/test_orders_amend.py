"""Amendments in place on a tracked order: :meth:`TrackedOrder.amend` and terms taken from reports."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import LocalProtocolError
from clobactors.messages import OrderUpdate
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.order_tracker import OrderTracker
from clobactors.orders import TrackedOrder

S = OrderStatus
T1, T2, T3 = 1_000_000_000, 2_000_000_000, 3_000_000_000


def _order() -> TrackedOrder:
    order = TrackedOrder(
        exchange="x", instrument="BTC-USDT-PERP", client_order_id="c1", side=Side.BUY,
        order_type=OrderType.LIMIT, size=D("1"), price=D("100"),
    )  # fmt: skip
    order.apply_update(_report(order, S.OPEN, T1))
    return order


def _report(
    order: TrackedOrder, status: OrderStatus, ts: int, *, price: str | None = None, size: str | None = None,
    filled: str = "0",
) -> OrderUpdate:
    return msgspec.structs.replace(
        order.to_update(), status=status, ts_exchange=ts, exchange_order_id="42", filled_size=D(filled),
        price=order.price if price is None else D(price), size=order.size if size is None else D(size),
    )  # fmt: skip


def test_amend_changes_terms_once_and_keeps_ids_and_status() -> None:
    order = _order()
    change = order.amend(D("101"), D("2"), ts_exchange=T2)
    assert change.changed and change.amended and change.event is None
    assert (order.price, order.size, order.status, order.exchange_order_id) == (D("101"), D("2"), S.OPEN, "42")
    again = order.amend(D("101"), D("2"), ts_exchange=T2)
    assert not again.changed  # the same terms twice: nothing to publish
    # The stream's AMENDMENT report with the same terms changes nothing either.
    assert not order.apply_update(_report(order, S.OPEN, T2)).changed


def test_amend_refusals() -> None:
    order = _order()
    order.apply_update(_report(order, S.PARTIALLY_FILLED, T2, filled="0.4"))
    for size in ("0.4", "0.3"):
        with pytest.raises(LocalProtocolError):
            order.amend(D("100"), D(size))  # never at or below the filled size
    order.apply_update(_report(order, S.CANCELLED, T3, filled="0.4"))
    with pytest.raises(LocalProtocolError):
        order.amend(D("100"), D("2"))  # terminal


def test_a_newer_report_heals_the_terms_and_a_stale_one_never_undoes_them() -> None:
    tracker = OrderTracker()
    order = TrackedOrder(
        exchange="x", instrument="BTC-USDT-PERP", client_order_id="c1", side=Side.BUY,
        order_type=OrderType.LIMIT, size=D("1"), price=D("100"),
    )  # fmt: skip
    tracker.track(order)
    tracker.apply_update(_report(order, S.OPEN, T1))
    # The amend answer was lost; a reconcile's report (newer) carries the new terms.
    (change,) = tracker.apply_update(_report(order, S.OPEN, T2, price="99", size="3"))
    assert change.changed and change.amended and (order.price, order.size) == (D("99"), D("3"))
    # The placement's own report, late: older than the terms held, ignored.
    (stale,) = tracker.apply_update(_report(order, S.OPEN, T1, price="100", size="1"))
    assert not stale.changed and (order.price, order.size) == (D("99"), D("3"))
    # Same time, other terms: which came first is unknown; ours stay.
    tracker.apply_update(_report(order, S.OPEN, T2, price="98"))
    assert order.price == D("99")
    # A fill beyond the old size is in range of the new one.
    (filled,) = tracker.apply_update(_report(order, S.PARTIALLY_FILLED, T3, filled="2"))
    assert filled.changed and filled.anomaly is None and order.filled_size == D("2")
    # A report below the filled size sets no terms.
    order.apply_update(_report(order, S.PARTIALLY_FILLED, T3 + 1, size="1.5", filled="2"))
    assert order.size == D("3")


def test_a_report_as_new_as_the_terms_is_taken_only_when_it_states_our_amendment() -> None:
    """Placed and amended within one exchange millisecond, the amend answer lost: the query's report has the
    time of the placement's. It is taken for the amendment we expect, and for no other terms."""
    order = _order()  # open at T1, 1 @ 100
    order.expect_amendment(D("101"), D("2"))
    assert not order.apply_update(_report(order, S.OPEN, T1, price="102", size="2")).changed  # not ours
    assert (order.price, order.size) == (D("100"), D("1"))
    change = order.apply_update(_report(order, S.OPEN, T1, price="101.0", size="2.00"))
    assert change.amended and (order.price, order.size) == (D("101"), D("2"))
    order.settle_amendment()
    # Settled: a report of that time with the old terms (the placement's, late) does not undo it.
    assert not order.apply_update(_report(order, S.OPEN, T1, price="100", size="1")).changed
    assert (order.price, order.size) == (D("101"), D("2"))
    # Nothing expected: a report of that time with other terms is ambiguous and leaves ours.
    order.apply_update(_report(order, S.OPEN, T1, price="101", size="3"))
    assert order.size == D("2")


def test_terminal_order_keeps_its_terms() -> None:
    order = _order()
    order.apply_update(_report(order, S.CANCELLED, T2))
    change = order.apply_update(_report(order, S.CANCELLED, T3, price="90"))
    assert not change.changed and order.price == D("100")


_sizes = st.decimals(min_value=D("0.001"), max_value=D("10"), places=3)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["amend", "fill", "report", "cancel"]), _sizes, _sizes, st.integers(1, 50)),
        max_size=12,
    )
)
def test_amend_invariants(steps: list[tuple[str, D, D, int]]) -> None:
    """Whatever mix of amendments, fills and reports: size never below filled, terminal orders refuse."""
    order = _order()
    for kind, a, b, ts in steps:
        filled_before, terms_before = order.filled_size, (order.price, order.size)
        if kind == "amend":
            if order.is_terminal or not b > order.filled_size:
                with pytest.raises(LocalProtocolError):
                    order.amend(a, b, ts_exchange=ts * T1)
                assert (order.price, order.size) == terms_before
            else:
                order.amend(a, b, ts_exchange=ts * T1)
                assert (order.price, order.size) == (a, b)
        elif kind == "fill":
            target = min(order.size, filled_before + a)
            if not order.is_terminal:
                order.apply_update(_report(order, S.PARTIALLY_FILLED, ts * T1, filled=str(target)))
        elif kind == "report":
            order.apply_update(_report(order, S.OPEN, ts * T1, price=str(a), size=str(b), filled=str(filled_before)))
        else:
            order.apply_update(_report(order, S.CANCELLED, ts * T1, filled=str(filled_before)))
        assert order.filled_size <= order.size
        assert order.filled_size >= filled_before
        if order.is_terminal:
            with pytest.raises(LocalProtocolError):
                order.amend(D("1"), order.size + 1)
