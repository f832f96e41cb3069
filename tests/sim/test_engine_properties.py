"""Hypothesis state machine over random order sequences: the engine's laws hold after every step.

Laws: no negative free or locked balance; each asset is conserved (accounts plus collected fees); a book is
never crossed at rest; every account's locked funds equal what its open orders need; the depth equals the
sum of open orders per price; book diffs are contiguous; fills follow price-time priority.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from clobactors.model import OrderType, Side, TimeInForce
from clobactors.sim import BookEvent, Engine, InstrumentRules, StpMode, TradeEvent

ACCOUNTS = ("a", "b", "c")
RULES = {
    "X-Q": InstrumentRules(
        base="X", quote="Q", tick_size=D("0.1"), lot_size=D("0.01"), min_notional=D("0.5"),
        maker_fee=D("0.001"), taker_fee=D("0.0025"),
    ),
    "Y-Q": InstrumentRules(
        base="Y", quote="Q", tick_size=D("1"), lot_size=D("0.5"), max_size=D("20"), maker_fee=D("-0.0001"),
        taker_fee=D("0.003"),
    ),
}  # fmt: skip
#: Prices in ticks around a mid of 100 ticks for both symbols.
TICKS = st.integers(min_value=94, max_value=106)
LOTS = st.integers(min_value=1, max_value=60)


class EngineMachine(RuleBasedStateMachine):
    stp = StpMode.EXPIRE_MAKER

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(RULES, stp=self.stp)
        for account in ACCOUNTS:
            self.engine.add_account(account, {"X": D(5), "Y": D(30), "Q": D(800)})
        self.initial = self.engine.asset_totals()
        self.now = 0
        self.ids: list[tuple[str, str, int]] = []
        self.last_update: dict[str, int] = defaultdict(int)

    def _queue(self, order_id: int) -> tuple[int, int, int]:
        """An order's time priority: its id (orders are numbered as placed); amending machines override it."""
        return (order_id, 0, 0)

    def _after(self, account: str, symbol: str, side: Side | None) -> None:
        """Check the events of the last call: contiguous diffs, fills in price-time priority."""
        trades: list[TradeEvent] = []
        for event in self.engine.drain_events():
            if isinstance(event, BookEvent):
                assert event.first_update_id == self.last_update[event.symbol] + 1
                assert event.last_update_id >= event.first_update_id
                self.last_update[event.symbol] = event.last_update_id
            elif isinstance(event, TradeEvent):
                trades.append(event)
        if not trades or side is None:
            return
        buy = side is Side.BUY
        makers = [self._queue(t.seller_order_id if buy else t.buyer_order_id) for t in trades]
        for (p0, m0), (p1, m1) in zip(
            [(t.price, m) for t, m in zip(trades, makers, strict=True)][:-1],
            [(t.price, m) for t, m in zip(trades, makers, strict=True)][1:],
            strict=True,
        ):
            assert (p1 >= p0) if buy else (p1 <= p0)
            if p1 == p0:
                assert m1 > m0
        last_price, last_maker = trades[-1].price, makers[-1]
        for other in ACCOUNTS:
            if other == account and self.stp is not StpMode.NONE:
                continue
            for order in self.engine.open_orders(other, symbol):
                if order.side is side or order.price is None:
                    continue
                assert (order.price >= last_price) if buy else (order.price <= last_price)
                if order.price == last_price:
                    assert self._queue(order.order_id) >= last_maker

    def _tick(self) -> int:
        self.now += 1_000_000
        return self.now

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(RULES)),
        side=st.sampled_from(Side),
        ticks=TICKS,
        lots=LOTS,
        tif=st.sampled_from(TimeInForce),
        post_only=st.booleans(),
        cid=st.sampled_from(("", "", "k1", "k2")),
    )
    def limit(
        self, account: str, symbol: str, side: Side, ticks: int, lots: int, tif: TimeInForce, post_only: bool,
        cid: str,
    ) -> None:  # fmt: skip
        rules = RULES[symbol]
        result = self.engine.submit(
            account, symbol, side, OrderType.LIMIT, size=rules.lot_size * lots, price=rules.tick_size * ticks,
            time_in_force=TimeInForce.GTC if post_only else tif, post_only=post_only, client_order_id=cid,
            now_ns=self._tick(),
        )  # fmt: skip
        if hasattr(result, "order"):
            self.ids.append((account, symbol, result.order.order_id))
        self._after(account, symbol, side)

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(RULES)),
        side=st.sampled_from(Side),
        lots=LOTS,
        by_quote=st.booleans(),
        fok=st.booleans(),
    )
    def market(self, account: str, symbol: str, side: Side, lots: int, by_quote: bool, fok: bool) -> None:
        rules = RULES[symbol]
        if by_quote:
            size, quote = None, D(lots) / 2
        else:
            size, quote = rules.lot_size * lots, None
        self.engine.submit(
            account, symbol, side, OrderType.MARKET, size=size, quote_size=quote,
            time_in_force=TimeInForce.FOK if fok and not by_quote else TimeInForce.GTC, now_ns=self._tick(),
        )  # fmt: skip
        self._after(account, symbol, side)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.ids:
            return
        account, symbol, order_id = data.draw(st.sampled_from(self.ids))
        self.engine.cancel(account, symbol, order_id=order_id, now_ns=self._tick())
        self._after(account, symbol, None)

    @rule(account=st.sampled_from(ACCOUNTS), symbol=st.sampled_from([None, *sorted(RULES)]))
    def cancel_all(self, account: str, symbol: str | None) -> None:
        self.engine.cancel_all(account, symbol, now_ns=self._tick())
        self._after(account, symbol or "", None)

    @invariant()
    def balances_never_negative(self) -> None:
        for account in ACCOUNTS:
            for balance in self.engine.balances(account):
                assert balance.free >= 0 and balance.locked >= 0

    @invariant()
    def assets_are_conserved(self) -> None:
        assert self.engine.asset_totals() == self.initial

    @invariant()
    def books_are_not_crossed(self) -> None:
        for symbol in RULES:
            top = self.engine.best_bid_ask(symbol)
            if top.bid_price is not None and top.ask_price is not None:
                assert top.bid_price < top.ask_price

    @invariant()
    def locked_equals_open_order_needs_and_depth_equals_orders(self) -> None:
        need: dict[tuple[str, str], D] = defaultdict(D)
        levels: dict[tuple[str, Side, D], D] = defaultdict(D)
        for account in ACCOUNTS:
            for order in self.engine.open_orders(account):
                assert order.price is not None
                remaining = order.size - order.filled_size
                assert remaining > 0
                rules = RULES[order.symbol]
                if order.side is Side.BUY:
                    need[(account, rules.quote)] += remaining * order.price
                else:
                    need[(account, rules.base)] += remaining
                levels[(order.symbol, order.side, order.price)] += remaining
        for account in ACCOUNTS:
            for balance in self.engine.balances(account):
                assert balance.locked == need[(account, balance.asset)]
        for symbol in RULES:
            depth = self.engine.depth(symbol)
            book = {(symbol, Side.BUY, p): q for p, q in depth.bids} | {
                (symbol, Side.SELL, p): q for p, q in depth.asks
            }
            assert book == {k: v for k, v in levels.items() if k[0] == symbol}


class EngineMachineNoStp(EngineMachine):
    stp = StpMode.NONE


class EngineMachineExpireTaker(EngineMachine):
    stp = StpMode.EXPIRE_TAKER


_SETTINGS = settings(max_examples=40, stateful_step_count=40, deadline=None)
TestEngineExpireMaker = EngineMachine.TestCase
TestEngineExpireMaker.settings = _SETTINGS
TestEngineNoStp = EngineMachineNoStp.TestCase
TestEngineNoStp.settings = _SETTINGS
TestEngineExpireTaker = EngineMachineExpireTaker.TestCase
TestEngineExpireTaker.settings = _SETTINGS
