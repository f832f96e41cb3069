"""Stateful property test: an exchange-side "truth" order against our tracked view of it.

The exchange fills the order in random chunks, cancels or expires it, answers our cancels (or loses the
answers), and emits WebSocket reports and REST snapshots. Every report can be delivered late, out of order,
or again; some fills carry only the exchange order id. Invariants hold after every step, and once everything
is delivered (plus the REST reconcile an order manager does for an unknown order) we agree with the truth.
"""

from __future__ import annotations

import random
import sys
from decimal import Decimal

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from clobactors.messages import Fill, OrderUpdate
from clobactors.model import TERMINAL_STATUSES, OrderStatus, OrderType, Side
from clobactors.order_tracker import OrderTracker
from clobactors.orders import TrackedOrder

S = OrderStatus
SIZE = Decimal(10)
CID, EID = "c1", "E1"
LIVE = (S.OPEN, S.PARTIALLY_FILLED)


@attrs.frozen
class Answer:
    """The answer (or non-answer) to one of our requests, arriving some time later."""

    method: str


Delivery = OrderUpdate | Fill | Answer


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tracker = OrderTracker()
        self.order = TrackedOrder(
            exchange="sim",
            instrument="BTC-USDT",
            client_order_id=CID,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            size=SIZE,
            price=Decimal(100),
        )
        self.tracker.track(self.order)
        self.truth = S.PENDING_CREATE
        self.truth_fills: list[Fill] = []
        self.pending: list[Delivery] = []
        self.history: list[OrderUpdate | Fill] = []
        self.cancels_in_flight = 0
        self.last = (self.order.status, self.order.filled_size)
        self.rng = random.Random(0)

    # -- the exchange --------------------------------------------------------------------------------------

    @property
    def truth_filled(self) -> Decimal:
        return sum((f.size for f in self.truth_fills), Decimal(0))

    def emit(self, item: OrderUpdate | Fill) -> None:
        self.pending.append(item)
        self.history.append(item)

    def snapshot(self) -> OrderUpdate:
        notional = sum((f.price * f.size for f in self.truth_fills), Decimal(0))
        return OrderUpdate(
            exchange="sim",
            instrument="BTC-USDT",
            client_order_id=CID,
            exchange_order_id="" if self.truth is S.REJECTED else EID,
            status=self.truth,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            price=Decimal(100),
            size=SIZE,
            filled_size=self.truth_filled,
            avg_fill_price=notional / self.truth_filled if self.truth_fills else None,
        )

    @initialize(
        accepted=st.integers(0, 9).map(bool),
        rest_answer_lost=st.booleans(),
        taker_fills=st.lists(st.integers(1, 120), max_size=2),
        rng=st.randoms(use_true_random=False),
    )
    def submit(
        self, accepted: bool, rest_answer_lost: bool, taker_fills: list[int], rng: random.Random
    ) -> None:
        self.rng = rng  # picks which pending item lands next: uniform, unlike small-biased integer draws
        self.truth = S.OPEN if accepted else S.REJECTED
        self.emit(self.snapshot())  # the WebSocket report
        for tenths in taker_fills if accepted else ():
            if self.truth in LIVE:
                self.exchange_fills(tenths, only_exchange_id=False, fee=1)
        if rest_answer_lost:
            self.pending.append(Answer("submit_outcome_unknown"))
        else:
            self.emit(self.snapshot())  # the REST answer

    @precondition(lambda self: self.truth in LIVE)
    @rule(tenths=st.integers(1, 120), only_exchange_id=st.booleans(), fee=st.integers(-2, 5))
    def exchange_fills(self, tenths: int, only_exchange_id: bool, fee: int) -> None:
        size = min(Decimal(tenths) / 10, SIZE - self.truth_filled)
        trade = Fill(
            exchange="sim",
            instrument="BTC-USDT",
            client_order_id="" if only_exchange_id else CID,
            exchange_order_id=EID,
            trade_id=f"T{len(self.truth_fills)}",
            side=Side.BUY,
            price=Decimal(100) - Decimal(len(self.truth_fills)) / 100,
            size=size,
            fee=Decimal(fee) / 1000,
            fee_asset="USDT",
        )
        self.truth_fills.append(trade)
        self.truth = S.FILLED if self.truth_filled == SIZE else S.PARTIALLY_FILLED
        self.emit(trade)
        self.emit(self.snapshot())

    @precondition(lambda self: self.truth in LIVE)
    @rule(end=st.sampled_from([S.CANCELLED, S.EXPIRED]))
    def exchange_ends_order(self, end: OrderStatus) -> None:
        self.truth = end
        self.emit(self.snapshot())

    @rule()
    def rest_poll(self) -> None:
        self.emit(self.snapshot())

    @precondition(lambda self: self.cancels_in_flight > 0)
    @rule(outcome=st.sampled_from(["answered", "answer_lost", "request_lost", "refused"]))
    def exchange_handles_cancel(self, outcome: str) -> None:
        self.cancels_in_flight -= 1
        if outcome == "request_lost":
            self.pending.append(Answer("cancel_outcome_unknown"))
        elif outcome == "refused":
            self.pending.append(Answer("cancel_rejected"))
        else:
            if self.truth in LIVE:
                self.truth = S.CANCELLED
                self.emit(self.snapshot())
                answer = "cancel_acknowledged"
            else:
                answer = "cancel_unknown_order"
            self.pending.append(Answer(answer if outcome == "answered" else "cancel_outcome_unknown"))

    # -- us ------------------------------------------------------------------------------------------------

    @precondition(lambda self: self.order.can_cancel)
    @rule()
    def request_cancel(self) -> None:
        self.order.request_cancel()
        self.cancels_in_flight += 1

    def deliver(self, item: Delivery) -> None:
        if isinstance(item, Answer):
            getattr(self.order, item.method)()
        elif isinstance(item, Fill):
            self.tracker.apply_fill(item)
        else:
            self.tracker.apply_update(item)

    @precondition(lambda self: self.pending)
    @rule()
    def deliver_one(self) -> None:
        self.deliver(self.pending.pop(self.rng.randrange(len(self.pending))))

    @precondition(lambda self: self.history)
    @rule()
    def deliver_again(self) -> None:
        self.deliver(self.rng.choice(self.history))

    @rule()
    def quiesce(self) -> None:
        """Let every request and report land, in a random order, then check we agree with the exchange."""
        while self.cancels_in_flight:
            self.exchange_handles_cancel(self.rng.choice(["answered", "answer_lost", "refused"]))
        self.rng.shuffle(self.pending)
        for item in self.pending:
            self.deliver(item)
        self.pending.clear()
        order = self.order
        assert order.status is not S.PENDING_CANCEL
        if order.status is not S.UNKNOWN:
            assert order.status is self.truth
        self.tracker.apply_update(self.snapshot())  # the order manager reconciles unknown orders over REST
        assert order.status is self.truth
        assert order.filled_size == order.filled_by_fills == self.truth_filled
        assert {f.trade_id for f in order.fills} == {f.trade_id for f in self.truth_fills}
        assert order.avg_fill_price == self.snapshot().avg_fill_price
        assert order.fees.get("USDT", 0) == sum((f.fee for f in self.truth_fills), Decimal(0))
        assert self.tracker.statistics().orphans == 0

    def teardown(self) -> None:
        if sys.exc_info()[0] is None:  # every run ends at quiescence, unless it already failed
            self.quiesce()

    # -- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def never_regresses(self) -> None:
        status, filled = self.order.status, self.order.filled_size
        last_status, last_filled = self.last
        if last_status in TERMINAL_STATUSES:
            assert status is last_status
        assert last_filled <= filled <= self.truth_filled <= SIZE
        self.last = (status, filled)

    @invariant()
    def agrees_with_truth_so_far(self) -> None:
        order = self.order
        if order.is_terminal:
            assert order.status is self.truth
        trade_ids = [f.trade_id for f in order.fills]
        assert len(trade_ids) == len(set(trade_ids))
        assert set(order.fills) <= set(self.truth_fills)
        assert order.filled_by_fills == sum((f.size for f in order.fills), Decimal(0))
        assert self.tracker.statistics().anomalies == 0


OrderLifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase
