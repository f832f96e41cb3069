"""Unit tests of perpetuals in the simulator engine: positions and PnL, margin, reduce-only and hedge rules,
settings, mark price, funding on schedule, liquidation price, and the pure formulas behind them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from clobactors.errors import ConfigError
from clobactors.model import MarginType, OrderStatus, OrderType, PositionMode, PositionSide, Side, TimeInForce
from clobactors.sim import Engine, InstrumentRules, OrderEvent, Rejection, RejectReason, SubmitAccepted
from clobactors.sim.funding import funding_rate, mark_ticks, next_funding_ns, payment_units
from clobactors.sim.perp_api import Perps
from clobactors.sim.perp_config import LeverageBracket, PerpSettings
from clobactors.sim.perp_records import (
    AccountConfigEvent,
    AccountUpdateEvent,
    FundingEvent,
    IncomeType,
    MarginCallEvent,
    PerpReject,
    UpdateReason,
)
from clobactors.sim.positions import Position, apply_fill
from clobactors.sim.rules import ExpireReason

SYM = "BTCUSDT"
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
LONG, SHORT, BOTH = PositionSide.LONG, PositionSide.SHORT, PositionSide.BOTH
RULES = InstrumentRules(
    base="BTC", quote="USDT", tick_size=D("0.1"), lot_size=D("0.001"), min_notional=D("5"),
    maker_fee=D("0.0002"), taker_fee=D("0.0005"),
)  # fmt: skip
HOUR = 3600 * 1_000_000_000


def make(funding: D = D(10_000), **settings: object) -> tuple[Engine, Perps]:
    engine = Engine({SYM: RULES}, perp=PerpSettings(reference_prices={SYM: D(100)}, **settings))  # type: ignore[arg-type]
    for account in ("maker", "alice", "bob"):
        engine.add_account(account, {"USDT": funding})
    assert engine.perps is not None
    return engine, engine.perps


def ok(result: object) -> SubmitAccepted:
    assert isinstance(result, SubmitAccepted), result
    return result


def rejected(result: object) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


def quote(engine: Engine, side: Side, price: str, size: str = "1", account: str = "maker", now: int = 1) -> None:
    ok(engine.submit(account, SYM, side, LIMIT, size=D(size), price=D(price), now_ns=now))


def buy(engine: Engine, account: str, size: str, now: int = 2, **kw: object) -> SubmitAccepted:
    return ok(engine.submit(account, SYM, BUY, MARKET, size=D(size), now_ns=now, **kw))  # type: ignore[arg-type]


def sell(engine: Engine, account: str, size: str, now: int = 2, **kw: object) -> SubmitAccepted:
    return ok(engine.submit(account, SYM, SELL, MARKET, size=D(size), now_ns=now, **kw))  # type: ignore[arg-type]


# -- positions and PnL ----------------------------------------------------------------------------------------


def test_open_increase_reduce_close_and_flip_realize_pnl() -> None:
    engine, perps = make()
    quote(engine, SELL, "100", "1")
    quote(engine, SELL, "110", "1")
    buy(engine, "alice", "1")
    buy(engine, "alice", "1")
    pos = perps.position("alice", SYM)
    assert (pos.size, pos.entry_price) == (D("2.000"), D("105.0"))
    quote(engine, BUY, "120", "3")
    fill = sell(engine, "alice", "0.5").executions[0]
    assert fill.realized_pnl == D("7.5") and fill.position_side is BOTH  # (120 - 105) * 0.5
    flip = sell(engine, "alice", "2.5").executions[0]
    assert flip.realized_pnl == D("22.5")  # closes the remaining 1.5 at +15 each, opens a 1.0 short
    pos = perps.position("alice", SYM)
    assert (pos.size, pos.entry_price, pos.realized_pnl) == (D("-1.000"), D("120.0"), D(30))
    maker = perps.position("maker", SYM)
    assert maker.size == D(1) and maker.realized_pnl == D(-30)  # the other side of every trade
    fees = D("0.0005") * (100 + 110 + 60 + 300) + D("0.0002") * (100 + 110 + 60 + 300)
    assert sum(engine.fees_collected().values()) == fees
    assert engine.asset_totals() == {"USDT": D(30_000)}


def test_apply_fill_is_exact_on_odd_splits() -> None:
    pos = Position()
    apply_fill(pos, 3, 100)  # 3 lots for 100 units: entry 33.33...
    realized, reduced = apply_fill(pos, -1, 40)
    assert (realized, reduced, pos.lots, pos.basis) == (40 - 33, 1, 2, 67)
    realized, _ = apply_fill(pos, -2, 60)
    assert (realized, pos.lots, pos.basis, pos.realized) == (60 - 67, 0, 0, 0)


# -- margin ---------------------------------------------------------------------------------------------------


def test_orders_lock_initial_margin_not_notional() -> None:
    engine, _ = make()
    quote(engine, BUY, "100", "10")  # 1000 notional at 20x: 50 + fee reserve 0.5 + rounding
    locked = engine.balance("maker", "USDT").locked
    assert D(50) < locked < D("50.6")
    engine.cancel_all("maker", now_ns=3)
    assert engine.balance("maker", "USDT").locked == 0


def test_insufficient_margin_is_rejected() -> None:
    engine, perps = make(D(100))
    result = rejected(engine.submit("alice", SYM, BUY, LIMIT, size=D(30), price=D(100), now_ns=1))
    assert result.reason is RejectReason.INSUFFICIENT_BALANCE
    assert perps.set_leverage("alice", SYM, 125, now_ns=1) == D(50_000)
    ok(engine.submit("alice", SYM, BUY, LIMIT, size=D(20), price=D(100), now_ns=1))  # 16 + fees at 125x


def test_market_order_needs_margin_for_what_it_walks() -> None:
    engine, _ = make(D(60))
    engine.deposit("maker", "USDT", D(1000), now_ns=1)
    quote(engine, SELL, "100", "20")
    too_big = engine.submit("alice", SYM, BUY, MARKET, size=D(20), now_ns=2)  # walks 2000: 100 + fees
    assert rejected(too_big).reason is RejectReason.INSUFFICIENT_BALANCE
    result = buy(engine, "alice", "10")
    assert result.order.status is OrderStatus.FILLED


def test_quote_sized_orders_are_spot_only() -> None:
    engine, _ = make()
    result = rejected(engine.submit("alice", SYM, BUY, MARKET, quote_size=D(100), now_ns=1))
    assert result.perp is PerpReject.NOT_SUPPORTED
    spot = Engine({SYM: RULES})
    spot.add_account("a", {"USDT": D(100)})
    assert (
        rejected(spot.submit("a", SYM, BUY, MARKET, size=D(1), reduce_only=True, now_ns=1)).perp
        is PerpReject.NOT_SUPPORTED
    )
    assert spot.perps is None


def test_max_notional_per_leverage_bracket() -> None:
    brackets = (LeverageBracket(D(1000), 50, D("0.01")), LeverageBracket(D(10_000), 10, D("0.05")))
    engine, perps = make(brackets=brackets, default_leverage=10)
    assert perps.max_notional(50) == D(1000) and perps.max_notional(10) == D(10_000)
    assert perps.set_leverage("alice", SYM, 50, now_ns=1) == D(1000)
    result = rejected(engine.submit("alice", SYM, BUY, LIMIT, size=D(11), price=D(100), now_ns=1))
    assert result.perp is PerpReject.MAX_NOTIONAL
    ok(engine.submit("alice", SYM, BUY, LIMIT, size=D(9), price=D(100), now_ns=1))
    assert rejected(perps.set_leverage("alice", SYM, 51, now_ns=1)).perp is PerpReject.INVALID_LEVERAGE
    assert rejected(perps.set_leverage("alice", SYM, 0, now_ns=1)).perp is PerpReject.INVALID_LEVERAGE


# -- reduce-only and hedge mode --------------------------------------------------------------------------------


def test_reduce_only_rejected_when_it_would_increase_and_trimmed_to_the_position() -> None:
    engine, _ = make()
    assert rejected(engine.submit("alice", SYM, SELL, MARKET, size=D(1), reduce_only=True, now_ns=1)).perp is (
        PerpReject.REDUCE_ONLY
    )
    quote(engine, SELL, "100", "2")
    buy(engine, "alice", "1")
    assert rejected(engine.submit("alice", SYM, BUY, MARKET, size=D(1), reduce_only=True, now_ns=2)).perp is (
        PerpReject.REDUCE_ONLY
    )
    resting = ok(engine.submit("alice", SYM, SELL, LIMIT, size=D(5), price=D(200), reduce_only=True, now_ns=3))
    assert resting.order.size == D(1) and resting.order.reduce_only  # trimmed to the 1.0 long
    assert engine.balance("alice", "USDT").locked < D("0.2")  # closing orders lock no initial margin
    second = engine.submit("alice", SYM, SELL, LIMIT, size=D(1), price=D(201), reduce_only=True, now_ns=3)
    assert rejected(second).perp is PerpReject.REDUCE_ONLY  # the position is spoken for


def test_resting_reduce_only_expires_when_the_position_shrinks() -> None:
    engine, _ = make()
    quote(engine, SELL, "100", "2")
    buy(engine, "alice", "2")
    keep = ok(engine.submit("alice", SYM, SELL, LIMIT, size=D(1), price=D(150), reduce_only=True, now_ns=3))
    gone = ok(engine.submit("alice", SYM, SELL, LIMIT, size=D(1), price=D(160), reduce_only=True, now_ns=3))
    engine.drain_events()
    quote(engine, BUY, "90", "1")
    sell(engine, "alice", "1", now=4)  # a plain sell halves the position
    expired = [
        e for e in engine.drain_events() if isinstance(e, OrderEvent) and e.order.order_id == gone.order.order_id
    ]
    assert expired[-1].order.status is OrderStatus.EXPIRED
    assert expired[-1].order.expire_reason is ExpireReason.REDUCE_ONLY
    assert [o.order_id for o in engine.open_orders("alice", SYM)] == [keep.order.order_id]


def test_hedge_mode_legs_and_position_side_rules() -> None:
    engine, perps = make()
    assert perps.set_position_mode("alice", PositionMode.HEDGE, now_ns=1) is None
    assert rejected(perps.set_position_mode("alice", PositionMode.HEDGE, now_ns=1)).perp is PerpReject.NO_CHANGE
    assert rejected(engine.submit("alice", SYM, BUY, MARKET, size=D(1), now_ns=1)).perp is PerpReject.POSITION_SIDE
    hedge_reduce = engine.submit("alice", SYM, BUY, MARKET, size=D(1), reduce_only=True, position_side=LONG, now_ns=1)
    assert rejected(hedge_reduce).perp is PerpReject.REDUCE_ONLY_IN_HEDGE
    assert rejected(engine.submit("bob", SYM, BUY, MARKET, size=D(1), position_side=LONG, now_ns=1)).perp is (
        PerpReject.POSITION_SIDE
    )
    quote(engine, SELL, "100", "3")
    quote(engine, BUY, "99", "3")
    buy(engine, "alice", "2", position_side=LONG)
    sell(engine, "alice", "1", position_side=SHORT)
    assert perps.position("alice", SYM, LONG).size == D(2) and perps.position("alice", SYM, SHORT).size == D(-1)
    closing = engine.submit("alice", SYM, BUY, MARKET, size=D(5), position_side=SHORT, now_ns=3)
    assert ok(closing).order.size == D(1)  # a close on the SHORT leg is trimmed to it
    assert perps.position("alice", SYM, SHORT).size == 0 and perps.position("alice", SYM, LONG).size == D(2)
    assert rejected(engine.submit("alice", SYM, BUY, MARKET, size=D(1), position_side=SHORT, now_ns=4)).perp is (
        PerpReject.REDUCE_ONLY
    )
    assert rejected(perps.set_position_mode("alice", PositionMode.ONE_WAY, now_ns=5)).perp is PerpReject.OPEN_POSITION
    assert [p.position_side for p in perps.positions("alice", SYM, now_ns=5)] == [LONG, SHORT]


# -- settings ------------------------------------------------------------------------------------------------


def test_leverage_change_reprices_open_orders_and_refuses_when_short_of_margin() -> None:
    engine, perps = make(D(1000))
    ok(engine.submit("alice", SYM, BUY, LIMIT, size=D(50), price=D(100), now_ns=1))  # 250 + fees at 20x
    before = engine.balance("alice", "USDT").locked
    assert perps.set_leverage("alice", SYM, 10, now_ns=2) == perps.max_notional(10)
    assert engine.balance("alice", "USDT").locked == before + D(250)
    refused = rejected(perps.set_leverage("alice", SYM, 2, now_ns=3))
    assert (refused.reason, refused.perp) == (RejectReason.INSUFFICIENT_BALANCE, PerpReject.LEVERAGE_MARGIN)
    assert perps.leverage("alice", SYM) == 10 and engine.balance("alice", "USDT").locked == before + D(250)
    events = [e for e in engine.drain_events() if isinstance(e, AccountConfigEvent)]
    assert [(e.account_id, e.leverage) for e in events] == [("alice", 10)]


def test_margin_type_changes_only_when_idle_and_isolated_sets_margin_aside() -> None:
    engine, perps = make()
    assert rejected(perps.set_margin_type("alice", SYM, MarginType.CROSS, now_ns=1)).perp is PerpReject.NO_CHANGE
    assert perps.set_margin_type("alice", SYM, MarginType.ISOLATED, now_ns=1) is None
    quote(engine, SELL, "100", "10")
    buy(engine, "alice", "10")
    pos = perps.position("alice", SYM)
    assert pos.margin_type is MarginType.ISOLATED and pos.isolated_wallet == D(50)
    assert rejected(perps.set_margin_type("alice", SYM, MarginType.CROSS, now_ns=3)).perp is PerpReject.OPEN_POSITION
    balance = perps.margin_balance("alice", "USDT")
    assert balance.cross_wallet_balance == balance.wallet_balance - 50
    assert pos.liquidation_price == D("95.38152610")  # (50 - 10 * 100) / (10 * 0.004 - 10)
    ok(engine.submit("bob", SYM, SELL, LIMIT, size=D(1), price=D(200), now_ns=4))
    assert rejected(perps.set_margin_type("bob", SYM, MarginType.ISOLATED, now_ns=4)).perp is PerpReject.OPEN_ORDERS


def test_engine_without_perp_settings_or_with_bad_ones() -> None:
    with pytest.raises(ConfigError):
        PerpSettings(default_leverage=200)
    with pytest.raises(ConfigError):
        PerpSettings(brackets=(LeverageBracket(D(10), 5, D("0.1")), LeverageBracket(D(5), 10, D("0.1"))))


# -- mark, funding, margin calls --------------------------------------------------------------------------------


def test_mark_is_last_price_clamped_into_the_spread() -> None:
    assert mark_ticks(100, 110, 105, None) == 105
    assert mark_ticks(100, 110, 120, None) == 110
    assert mark_ticks(100, 110, None, None) == 105
    assert mark_ticks(None, 110, 120, None) == 110
    assert mark_ticks(None, None, 120, 90) == 120
    assert mark_ticks(None, None, None, 90) == 90
    assert mark_ticks(None, None, None, None) is None


def test_funding_formula_and_payments() -> None:
    interest, clamp, cap = D("0.0001"), D("0.0005"), D("0.0075")
    assert funding_rate([], interest, clamp, cap) == D("0.0001")
    assert funding_rate([D("0.0002"), D("0.0004")], interest, clamp, cap) == D("0.0001")  # |I - P| <= 0.05 %: I
    assert funding_rate([D("0.002")], interest, clamp, cap) == D("0.0015")
    assert funding_rate([D("0.1")], interest, clamp, cap) == D("0.0075")
    assert payment_units(10, 100, 1, D("0.001")) == -1  # a long pays
    assert payment_units(-10, 100, 1, D("0.001")) == 1  # a short receives
    assert payment_units(3, 100, 1, D("0.001")) == -1  # 0.3 rounds against the payer
    assert payment_units(-3, 100, 1, D("0.001")) == 0  # ... and against the receiver
    assert next_funding_ns(0, 8 * HOUR) == 8 * HOUR and next_funding_ns(8 * HOUR, 8 * HOUR) == 16 * HOUR


def test_funding_settles_at_exactly_the_scheduled_time() -> None:
    engine, perps = make()
    start = 2 * HOUR
    quote(engine, SELL, "101", "10", now=start)
    quote(engine, BUY, "99", "10", now=start)
    buy(engine, "alice", "4", now=start)  # a long of 4 at 101; last price 101, mark = 101 (spread 99..101)
    engine.drain_events()
    premium = perps.premium(SYM, now_ns=start + 1_000_000_000)
    assert premium.next_funding_ns == 8 * HOUR and premium.mark_price == D(101)
    engine.drain_events()
    perps.advance(8 * HOUR - 1)
    assert not [e for e in engine.drain_events() if isinstance(e, FundingEvent)]
    perps.advance(9 * HOUR)  # late: the settlement still happens at 08:00
    events = engine.drain_events()
    (funding,) = [e for e in events if isinstance(e, FundingEvent)]
    # Mark 101 over index 100 (the reference, one-sided book at first) makes a large positive rate.
    assert funding.ts_ns == 8 * HOUR and D("0.005") < funding.rate <= D("0.0075")
    updates = [e for e in events if isinstance(e, AccountUpdateEvent)]
    assert {e.reason for e in updates} == {UpdateReason.FUNDING_FEE} and {e.ts_ns for e in updates} == {8 * HOUR}
    assert all(not e.positions for e in updates)  # funding changes balances only
    (alice,) = [e for e in updates if e.account_id == "alice"]
    paid = -(4 * D(101) * funding.rate)  # exact at 8 decimals: the long pays
    assert alice.balances[0].change == paid
    (maker,) = [e for e in updates if e.account_id == "maker"]
    assert maker.balances[0].change == -paid  # the short receives as much
    (row,) = perps.income("alice", income_type=IncomeType.FUNDING_FEE, now_ns=9 * HOUR)
    assert (row.amount, row.ts_ns) == (paid, 8 * HOUR)
    assert perps.premium(SYM, now_ns=9 * HOUR).last_settled_rate == funding.rate
    assert perps.next_funding_ns(9 * HOUR) == 16 * HOUR and perps.fundings_settled() == 1
    assert engine.asset_totals() == {"USDT": D(30_000)}


def test_margin_call_when_the_mark_moves_against_a_position() -> None:
    engine, perps = make(D(100))
    engine.deposit("maker", "USDT", D(10_000), now_ns=1)
    perps.set_leverage("alice", SYM, 100, now_ns=1)
    quote(engine, SELL, "100", "90", now=1)
    buy(engine, "alice", "90", now=1)
    engine.drain_events()
    quote(engine, BUY, "99", "1", now=2)
    sell(engine, "bob", "1", now=2)  # last trade 99: the mark falls with the next refresh
    quote(engine, BUY, "98", "1", now=2)
    quote(engine, SELL, "101", "1", now=2)
    perps.advance(1_000_000_001)
    calls = [e for e in engine.drain_events() if isinstance(e, MarginCallEvent)]
    assert [c.account_id for c in calls] == ["alice"]
    assert calls[0].positions[0].mark_price == D(99) and calls[0].positions[0].unrealized_pnl == D(-90)
    assert perps.margin_balance("alice", "USDT").available_balance < 0
    assert rejected(engine.submit("alice", SYM, BUY, LIMIT, size=D(1), price=D(80), now_ns=2_000_000_000)).reason is (
        RejectReason.INSUFFICIENT_BALANCE
    )


def test_deposits_reach_the_ledger_and_events() -> None:
    engine, perps = make()
    engine.deposit("alice", "USDT", D("12.5"), now_ns=5)
    (event,) = [e for e in engine.drain_events() if isinstance(e, AccountUpdateEvent)]
    assert event.reason is UpdateReason.DEPOSIT and event.balances[0].change == D("12.5")
    assert perps.deposits() == {"USDT": D("30012.5")} == engine.asset_totals()
    assert [i.income_type for i in perps.income("alice", now_ns=5)] == [IncomeType.TRANSFER]


def test_post_only_and_fok_behave_as_on_spot() -> None:
    engine, _ = make()
    quote(engine, SELL, "100", "1")
    assert rejected(
        engine.submit("alice", SYM, BUY, LIMIT, size=D(1), price=D(100), post_only=True, now_ns=2)
    ).reason is (RejectReason.WOULD_TAKE)
    fok = ok(engine.submit("alice", SYM, BUY, LIMIT, size=D(2), price=D(100), time_in_force=TimeInForce.FOK, now_ns=2))
    assert fok.order.expire_reason is ExpireReason.FOK_UNFILLABLE and engine.balance("alice", "USDT").locked == 0
