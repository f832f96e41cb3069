"""Hypothesis state machine over random perpetual order flows: the margin laws hold after every step.

Laws: money is conserved (wallets minus position cost bases, plus fees and funding residue, equal the
deposits); each wallet is its funding plus its income records (realized PnL, commissions, funding); realized
plus unrealized PnL sums to zero over all accounts, as do commissions with the fees collected and funding
with its residue; every position equals the sum of its fills; closing orders never exceed their position;
and while the mark price stands still, no accepted order leaves any account's available balance negative.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from clobactors.model import MarginType, OrderType, PositionMode, PositionSide, Side, TimeInForce
from clobactors.sim import Engine, InstrumentRules, OrderEvent
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.perp_records import IncomeType

ACCOUNTS = ("a", "b", "c")
SYM = "XUSDT"
RULES = {
    SYM: InstrumentRules(
        base="X", quote="USDT", tick_size=D("1"), lot_size=D("0.01"), min_notional=D("1"), maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )
}  # fmt: skip
FUNDING = D(2000)
HOUR = 3600 * 1_000_000_000
TICKS = st.integers(min_value=90, max_value=110)
LOTS = st.integers(min_value=1, max_value=400)


class PerpMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(RULES, perp=PerpSettings(reference_prices={SYM: D(100)}))
        perps = self.engine.perps
        assert perps is not None
        self.perps = perps
        for account in ACCOUNTS:
            self.engine.add_account(account, {"USDT": FUNDING})
        self.now = 1
        self.filled: dict[tuple[str, PositionSide], D] = defaultdict(D)
        self.ids: list[tuple[str, int]] = []

    def _sides(self, account: str) -> tuple[PositionSide, ...]:
        if self.perps.position_mode(account) is PositionMode.ONE_WAY:
            return (PositionSide.BOTH,)
        return (PositionSide.LONG, PositionSide.SHORT)

    def _available(self) -> dict[str, D]:
        return {a: self.perps.margin_balance(a, "USDT").available_balance for a in ACCOUNTS}

    def _drain(self) -> None:
        for event in self.engine.drain_events():
            if isinstance(event, OrderEvent) and event.execution is not None:
                execution = event.execution
                assert execution.position_side is not None
                signed = execution.size if execution.side is Side.BUY else -execution.size
                self.filled[(execution.account_id, execution.position_side)] += signed

    def _submit(self, account: str, **kwargs: object) -> None:
        before = self._available()
        mark = self.perps.position(account, SYM, self._sides(account)[0]).mark_price
        result = self.engine.submit(account, SYM, now_ns=self.now, **kwargs)  # type: ignore[arg-type]
        assert self.perps.position(account, SYM, self._sides(account)[0]).mark_price == mark
        if hasattr(result, "order"):
            self.ids.append((account, result.order.order_id))
            after = self._available()
            for other in ACCOUNTS:
                if before[other] >= 0:
                    assert after[other] >= 0, (other, before[other], after[other])
        self._drain()

    @rule(
        account=st.sampled_from(ACCOUNTS), side=st.sampled_from(Side), ticks=TICKS, lots=LOTS,
        tif=st.sampled_from(TimeInForce), post_only=st.booleans(), reduce=st.booleans(), leg=st.booleans(),
    )  # fmt: skip
    def limit(
        self, account: str, side: Side, ticks: int, lots: int, tif: TimeInForce, post_only: bool, reduce: bool,
        leg: bool,
    ) -> None:  # fmt: skip
        sides = self._sides(account)
        position_side = sides[int(leg) % len(sides)]
        self._submit(
            account, side=side, order_type=OrderType.LIMIT, size=D("0.01") * lots, price=D(ticks),
            time_in_force=TimeInForce.GTC if post_only else tif, post_only=post_only,
            reduce_only=reduce and position_side is PositionSide.BOTH, position_side=position_side,
        )  # fmt: skip

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(Side),
        lots=LOTS,
        reduce=st.booleans(),
        leg=st.booleans(),
    )
    def market(self, account: str, side: Side, lots: int, reduce: bool, leg: bool) -> None:
        sides = self._sides(account)
        position_side = sides[int(leg) % len(sides)]
        self._submit(
            account, side=side, order_type=OrderType.MARKET, size=D("0.01") * lots,
            reduce_only=reduce and position_side is PositionSide.BOTH, position_side=position_side,
        )  # fmt: skip

    @precondition(lambda self: bool(self.ids))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        account, order_id = data.draw(st.sampled_from(self.ids))
        self.engine.cancel(account, SYM, order_id=order_id, now_ns=self.now)
        self._drain()

    @rule(account=st.sampled_from(ACCOUNTS))
    def cancel_all(self, account: str) -> None:
        self.engine.cancel_all(account, SYM, now_ns=self.now)
        self._drain()

    @rule(account=st.sampled_from(ACCOUNTS), leverage=st.integers(min_value=0, max_value=130))
    def leverage(self, account: str, leverage: int) -> None:
        self.perps.set_leverage(account, SYM, leverage, now_ns=self.now)
        self._drain()

    @rule(account=st.sampled_from(ACCOUNTS), mode=st.sampled_from(PositionMode))
    def position_mode(self, account: str, mode: PositionMode) -> None:
        self.perps.set_position_mode(account, mode, now_ns=self.now)
        self._drain()

    @rule(account=st.sampled_from(ACCOUNTS), margin_type=st.sampled_from(MarginType))
    def margin_type(self, account: str, margin_type: MarginType) -> None:
        self.perps.set_margin_type(account, SYM, margin_type, now_ns=self.now)
        self._drain()

    @rule(hours=st.sampled_from((0, 0, 1, 8)), ms=st.integers(min_value=1, max_value=3000))
    def time_passes(self, hours: int, ms: int) -> None:
        self.now += hours * HOUR + ms * 1_000_000
        self.perps.advance(self.now)
        self._drain()

    @invariant()
    def money_is_conserved(self) -> None:
        assert self.engine.asset_totals() == {"USDT": D(len(ACCOUNTS)) * FUNDING}
        incomes = {a: self.perps.income(a, now_ns=self.now) for a in ACCOUNTS}
        for account in ACCOUNTS:
            wallet = self.perps.margin_balance(account, "USDT").wallet_balance
            assert wallet == FUNDING + sum((i.amount for i in incomes[account]), D(0))
        by_type: dict[IncomeType, D] = defaultdict(D)
        for rows in incomes.values():
            for row in rows:
                by_type[row.income_type] += row.amount
        upnl = sum((self.perps.margin_balance(a, "USDT").unrealized_pnl for a in ACCOUNTS), D(0))
        assert by_type[IncomeType.REALIZED_PNL] + upnl == 0
        assert by_type[IncomeType.COMMISSION] + self.engine.fees_collected().get("USDT", D(0)) == 0
        assert by_type[IncomeType.FUNDING_FEE] + self.perps.funding_residue().get("USDT", D(0)) == 0

    @invariant()
    def positions_equal_fills_and_closing_orders_fit(self) -> None:
        total = D(0)
        for account in ACCOUNTS:
            for leg in self._sides(account):
                size = self.perps.position(account, SYM, leg).size
                assert size == self.filled[(account, leg)]
                total += size
                if leg is PositionSide.LONG:
                    assert size >= 0
                if leg is PositionSide.SHORT:
                    assert size <= 0
                closing = [
                    o for o in self.engine.open_orders(account, SYM)
                    if o.position_side is leg and (o.reduce_only or (leg is PositionSide.LONG and o.side is Side.SELL)
                                                    or (leg is PositionSide.SHORT and o.side is Side.BUY))
                ]  # fmt: skip
                for side in Side:
                    rest = sum((o.size - o.filled_size for o in closing if o.side is side), D(0))
                    room = max(D(0), size) if side is Side.SELL else max(D(0), -size)
                    assert rest <= room
        assert total == 0
        top = self.engine.best_bid_ask(SYM)
        if top.bid_price is not None and top.ask_price is not None:
            assert top.bid_price < top.ask_price

    @rule()
    def reset_fills_on_mode_change(self) -> None:
        """Legs of the other mode are flat and gone: forget their fill sums."""
        for (account, leg), size in list(self.filled.items()):
            if leg not in self._sides(account):
                assert size == 0
                del self.filled[(account, leg)]


TestPerpMachine = PerpMachine.TestCase
TestPerpMachine.settings = settings(max_examples=60, stateful_step_count=50, deadline=None)
