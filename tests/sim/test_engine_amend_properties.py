"""Hypothesis state machines: random place/amend/cancel sequences keep the engine's laws.

The spot and perpetual machines of ``test_engine_properties.py`` and ``test_perp_properties.py`` gain an
``amend`` rule (any price on the grid, so amendments often cross the book and trade); their invariants hold
after every step: balances and margin conserved, locks equal to the open orders' needs, depth equal to the
open orders, books never crossed, positions equal to their fills, closing orders within their positions, and
no accepted amendment pushing an account's available balance below zero while the mark stands still. A
refused amendment changes nothing and emits nothing; fills of a crossing amendment follow price-time priority.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from clobactors.model import OrderType, Side, TimeInForce
from clobactors.sim import Engine, OrderInfo, Rejection
from clobactors.sim.engine import AmendAccepted
from clobactors.sim.rules import StpMode
from tests.sim.test_engine_properties import ACCOUNTS, LOTS, RULES, TICKS, EngineMachine
from tests.sim.test_perp_properties import ACCOUNTS as PERP_ACCOUNTS
from tests.sim.test_perp_properties import LOTS as PERP_LOTS
from tests.sim.test_perp_properties import SYM, PerpMachine
from tests.sim.test_perp_properties import TICKS as PERP_TICKS

#: How many ticks beyond the best opposite price an amendment reaches, or ``None`` for a price off the grid.
THROUGH = st.one_of(st.none(), st.integers(min_value=0, max_value=3))


def crossing(engine: Engine, order: OrderInfo, through: int | None) -> D | None:
    """A price ``through`` ticks past the best opposite price (so the amendment takes), if there is one."""
    top = engine.best_bid_ask(order.symbol)
    best = top.ask_price if order.side is Side.BUY else top.bid_price
    if through is None or best is None:
        return None
    tick = engine.rules(order.symbol).tick_size
    return best + through * tick if order.side is Side.BUY else max(tick, best - through * tick)


def quote_ticks(engine: Engine, order: OrderInfo) -> int | None:
    """A price (in ticks) one tick outside the order's side of the book, when the opposite side is empty:
    where another account's quote rests, so that amendments have something to take."""
    top = engine.best_bid_ask(order.symbol)
    tick = engine.rules(order.symbol).tick_size
    if order.side is Side.BUY:
        return None if top.ask_price is not None or top.bid_price is None else int(top.bid_price / tick) + 1
    return None if top.bid_price is not None or top.ask_price is None else max(1, int(top.ask_price / tick) - 1)


class SpotAmendMachine(EngineMachine):
    def __init__(self) -> None:
        super().__init__()
        #: Queue keys of amended orders: an amendment puts the order behind every order placed so far.
        self.queued: dict[int, tuple[int, int, int]] = {}
        self.amendments = 0

    def _queue(self, order_id: int) -> tuple[int, int, int]:
        """Time priority: a placed order's id, or just after the last id placed before its last amendment."""
        return self.queued.get(order_id, (order_id, 0, 0))

    @rule(data=st.data(), ticks=TICKS, lots=LOTS, through=THROUGH)
    def amend(self, data: st.DataObject, ticks: int, lots: int, through: int | None) -> None:
        open_orders = [(a, o) for a in ACCOUNTS for o in self.engine.open_orders(a)]
        if not open_orders:
            return
        account, order = data.draw(st.sampled_from(open_orders))
        symbol, rules = order.symbol, RULES[order.symbol]
        if through is not None and (at := quote_ticks(self.engine, order)) is not None:
            maker, size = data.draw(st.sampled_from(ACCOUNTS)), data.draw(LOTS)
            self.limit(maker, symbol, order.side.opposite, at, size, TimeInForce.GTC, False, "")
        price = crossing(self.engine, order, through) or rules.tick_size * ticks
        before = (self.engine.balances(account), self.engine.depth(symbol), self.engine.open_orders(account))
        result = self.engine.amend(
            account, symbol, order_id=order.order_id, price=price, size=rules.lot_size * lots, now_ns=self._tick()
        )
        if isinstance(result, Rejection):
            after = (self.engine.balances(account), self.engine.depth(symbol), self.engine.open_orders(account))
            assert after == before and self.engine.drain_events() == []
            return
        assert isinstance(result, AmendAccepted)
        assert result.order.order_id == order.order_id
        self.amendments += 1
        self.queued[order.order_id] = (self.engine.statistics().orders_accepted, 1, self.amendments)
        self._after(account, symbol, result.order.side if result.executions else None)


class SpotAmendMachineNoStp(SpotAmendMachine):
    stp = StpMode.NONE


class SpotAmendMachineExpireTaker(SpotAmendMachine):
    stp = StpMode.EXPIRE_TAKER


class PerpAmendMachine(PerpMachine):
    @precondition(lambda self: any(self.engine.open_orders(a, SYM) for a in PERP_ACCOUNTS))
    @rule(data=st.data(), ticks=PERP_TICKS, lots=PERP_LOTS, through=THROUGH)
    def amend(self, data: st.DataObject, ticks: int, lots: int, through: int | None) -> None:
        open_orders = [(a, o) for a in PERP_ACCOUNTS for o in self.engine.open_orders(a, SYM)]
        account, order = data.draw(st.sampled_from(open_orders))
        if through is not None and (at := quote_ticks(self.engine, order)) is not None:
            maker, size = data.draw(st.sampled_from(PERP_ACCOUNTS)), data.draw(PERP_LOTS)
            self._submit(
                maker, side=order.side.opposite, order_type=OrderType.LIMIT, size=D("0.01") * size, price=D(at),
                position_side=self._sides(maker)[0],
            )  # fmt: skip
        price = crossing(self.engine, order, through) or D(ticks)
        available = self._available()
        before = (self.engine.balances(account), self.engine.depth(SYM), self.engine.open_orders(account))
        positions = [self.perps.position(a, SYM, leg) for a in PERP_ACCOUNTS for leg in self._sides(a)]
        result = self.engine.amend(
            account, SYM, order_id=order.order_id, price=price, size=D("0.01") * lots, now_ns=self.now
        )
        if isinstance(result, Rejection):
            after = (self.engine.balances(account), self.engine.depth(SYM), self.engine.open_orders(account))
            assert after == before and self.engine.drain_events() == []
            assert [self.perps.position(a, SYM, leg) for a in PERP_ACCOUNTS for leg in self._sides(a)] == positions
            return
        assert isinstance(result, AmendAccepted)
        now = self._available()
        for other in PERP_ACCOUNTS:
            if available[other] >= 0:
                assert now[other] >= 0, (other, available[other], now[other])
        self._drain()


_SETTINGS = settings(max_examples=30, stateful_step_count=40, deadline=None)
TestSpotAmend = SpotAmendMachine.TestCase
TestSpotAmend.settings = _SETTINGS
TestSpotAmendNoStp = SpotAmendMachineNoStp.TestCase
TestSpotAmendNoStp.settings = _SETTINGS
TestSpotAmendExpireTaker = SpotAmendMachineExpireTaker.TestCase
TestSpotAmendExpireTaker.settings = _SETTINGS
TestPerpAmend = PerpAmendMachine.TestCase
TestPerpAmend.settings = settings(max_examples=50, stateful_step_count=50, deadline=None)
