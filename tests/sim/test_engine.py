"""Unit tests of the simulator engine: every order type, every rejection, fees, locks, priority, events."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from clobactors.errors import ConfigError
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim import (
    BalanceEvent,
    BookEvent,
    Engine,
    ExecType,
    ExpireReason,
    InstrumentRules,
    OrderEvent,
    OrderInfo,
    Rejection,
    RejectReason,
    StpMode,
    SubmitAccepted,
    SubmitResult,
    TradeEvent,
)

SYM = "BTC-USDT"
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET, MAKER = OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER
RULES = InstrumentRules(
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.001"),
    min_size=D("0.001"),
    max_size=D("100"),
    min_notional=D("10"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)


def make_engine(
    stp: StpMode = StpMode.EXPIRE_MAKER, closed_order_limit: int = 100, trade_history_limit: int = 100
) -> Engine:
    engine = Engine(
        {SYM: RULES}, stp=stp, closed_order_limit=closed_order_limit, trade_history_limit=trade_history_limit
    )
    for account in ("alice", "bob", "carol"):
        engine.add_account(account, {"BTC": D("10"), "USDT": D("100000")})
    return engine


def ok(result: SubmitResult) -> SubmitAccepted:
    assert isinstance(result, SubmitAccepted), result
    return result


def rejected(result: SubmitResult | OrderInfo | tuple[OrderInfo, ...]) -> RejectReason:
    assert isinstance(result, Rejection), result
    return result.reason


def limit(
    engine: Engine, account: str, side: Side, size: str, price: str, now: int = 1, **kw: object
) -> SubmitResult:
    return engine.submit(account, SYM, side, LIMIT, size=D(size), price=D(price), now_ns=now, **kw)  # type: ignore[arg-type]


def free_locked(engine: Engine, account: str, asset: str) -> tuple[D, D]:
    balance = engine.balance(account, asset)
    return balance.free, balance.locked


# -- resting, locking, cancelling --------------------------------------------------------------------------


def test_limit_order_rests_and_locks_then_cancel_releases() -> None:
    engine = make_engine()
    order = ok(limit(engine, "alice", BUY, "0.5", "20000")).order
    assert order.status is OrderStatus.OPEN and order.order_id == 1 and order.client_order_id == "sim-1"
    assert free_locked(engine, "alice", "USDT") == (D("90000"), D("10000"))
    assert engine.depth(SYM).bids == ((D("20000.00"), D("0.500")),)
    assert engine.open_orders("alice", SYM) == (order,)
    cancelled = engine.cancel("alice", SYM, order_id=order.order_id, now_ns=2)
    assert isinstance(cancelled, OrderInfo) and cancelled.status is OrderStatus.CANCELLED
    assert free_locked(engine, "alice", "USDT") == (D("100000"), D("0"))
    assert engine.depth(SYM).bids == ()
    assert engine.open_orders("alice") == ()
    assert engine.order("alice", SYM, order_id=1) == cancelled  # closed orders stay queryable


def test_sell_locks_base_and_cancel_by_client_id() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "2", "30000", client_order_id="my-1"))
    assert free_locked(engine, "alice", "BTC") == (D("8"), D("2"))
    assert (
        rejected(engine.cancel("alice", SYM, client_order_id="nope", now_ns=2)) is RejectReason.UNKNOWN_ORDER
    )
    assert rejected(engine.cancel("bob", SYM, client_order_id="my-1", now_ns=2)) is RejectReason.UNKNOWN_ORDER
    cancelled = engine.cancel("alice", SYM, client_order_id="my-1", now_ns=2)
    assert isinstance(cancelled, OrderInfo) and cancelled.status is OrderStatus.CANCELLED
    assert free_locked(engine, "alice", "BTC") == (D("10"), D("0"))
    assert (
        rejected(engine.cancel("alice", SYM, client_order_id="my-1", now_ns=3)) is RejectReason.UNKNOWN_ORDER
    )


def test_cancel_all_cancels_oldest_first_and_only_own() -> None:
    engine = make_engine()
    for price in ("100", "101", "102"):
        ok(limit(engine, "alice", BUY, "1", price))
    ok(limit(engine, "bob", BUY, "1", "99"))
    cancelled = engine.cancel_all("alice", SYM, now_ns=5)
    assert isinstance(cancelled, tuple)
    assert [o.order_id for o in cancelled] == [1, 2, 3]
    assert all(o.status is OrderStatus.CANCELLED for o in cancelled)
    assert engine.open_orders("alice") == () and len(engine.open_orders("bob")) == 1
    assert free_locked(engine, "alice", "USDT") == (D("100000"), D("0"))
    assert engine.cancel_all("alice", now_ns=6) == ()
    assert rejected(engine.cancel_all("nobody", now_ns=6)) is RejectReason.UNKNOWN_ACCOUNT
    assert rejected(engine.cancel_all("alice", "ETH-USDT", now_ns=6)) is RejectReason.UNKNOWN_SYMBOL


# -- matching ----------------------------------------------------------------------------------------------


def test_partial_fill_at_maker_price_and_lock_refund() -> None:
    engine = make_engine()
    maker = ok(limit(engine, "alice", SELL, "1", "20000")).order
    engine.drain_events()
    result = ok(limit(engine, "bob", BUY, "0.4", "20100", now=2))
    assert result.order.status is OrderStatus.FILLED
    assert [(e.price, e.size, e.is_maker) for e in result.executions] == [(D("20000.00"), D("0.400"), False)]
    # bob locked 0.4 * 20100 and paid 0.4 * 20000: the difference is back, nothing stays locked
    assert free_locked(engine, "bob", "USDT") == (D("92000"), D("0"))
    maker_now = engine.order("alice", SYM, order_id=maker.order_id)
    assert maker_now is not None and maker_now.status is OrderStatus.PARTIALLY_FILLED
    assert maker_now.filled_size == D("0.4") and maker_now.filled_quote == D("8000")
    assert engine.depth(SYM).asks == ((D("20000.00"), D("0.600")),)
    assert free_locked(engine, "alice", "BTC") == (D("9"), D("0.6"))


def test_taker_rests_remainder_after_partial_fill() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "20000"))
    result = ok(limit(engine, "bob", BUY, "3", "20050", now=2))
    assert result.order.status is OrderStatus.PARTIALLY_FILLED and result.order.filled_size == D("1")
    assert engine.depth(SYM).bids == ((D("20050.00"), D("2.000")),)
    assert engine.depth(SYM).asks == ()
    # what rests keeps exactly its own need locked: 2 * 20050
    assert free_locked(engine, "bob", "USDT") == (D("100000") - D("20000") - D("40100"), D("40100"))


def test_price_time_priority() -> None:
    engine = make_engine()
    first = ok(limit(engine, "alice", SELL, "1", "100")).order.order_id
    second = ok(limit(engine, "bob", SELL, "1", "100")).order.order_id
    better = ok(limit(engine, "carol", SELL, "1", "99.99")).order.order_id
    engine.drain_events()
    ok(limit(engine, "carol", BUY, "2.5", "100", now=2))  # carol's own ask is expired (STP), not traded
    trades = [e for e in engine.drain_events() if isinstance(e, TradeEvent)]
    assert [(t.seller_order_id, t.size) for t in trades] == [(first, D("1.000")), (second, D("1.000"))]
    assert engine.order("carol", SYM, order_id=better) is not None
    ok(limit(engine, "alice", SELL, "1", "99", now=3))
    trades = [e for e in engine.drain_events() if isinstance(e, TradeEvent)]
    assert [(t.price, t.size, t.taker_side) for t in trades] == [(D("100.00"), D("0.500"), SELL)]


def test_priority_same_price_oldest_first_even_after_partial_fill() -> None:
    engine = make_engine()
    a = ok(limit(engine, "alice", BUY, "2", "100")).order.order_id
    b = ok(limit(engine, "bob", BUY, "2", "100")).order.order_id
    ok(limit(engine, "carol", SELL, "1", "100", now=2))
    ok(limit(engine, "carol", SELL, "2", "100", now=3))
    fills = [(t.buyer_order_id, t.size) for t in engine.drain_events() if isinstance(t, TradeEvent)]
    assert fills == [(a, D("1.000")), (a, D("1.000")), (b, D("1.000"))]


def test_fees_exact_maker_and_taker() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "0.5", "20000"))  # maker, seller: pays 0.1% of quote
    result = ok(limit(engine, "bob", BUY, "0.5", "20000", now=2))  # taker, buyer: pays 0.2% of base
    (execution,) = result.executions
    assert (execution.fee, execution.fee_asset, execution.is_maker) == (D("0.001"), "BTC", False)
    (maker_exec,) = engine.trades_for("alice", SYM)
    assert (maker_exec.fee, maker_exec.fee_asset, maker_exec.is_maker) == (D("10"), "USDT", True)
    assert engine.balance("alice", "USDT").free == D("100000") + D("10000") - D("10")
    assert engine.balance("alice", "BTC").total == D("9.5")
    assert engine.balance("bob", "BTC").free == D("10") + D("0.5") - D("0.001")
    assert engine.balance("bob", "USDT").free == D("90000")
    assert engine.fees_collected() == {"BTC": D("0.001"), "USDT": D("10")}
    assert engine.asset_totals() == {"BTC": D("30"), "USDT": D("300000")}


def test_fee_rounds_up_to_the_asset_unit() -> None:
    rules = InstrumentRules(base="X", quote="Y", tick_size=D("1"), lot_size=D("1"), taker_fee=D("0.003"))
    engine = Engine({"X-Y": rules}, asset_decimals={"X": 2, "Y": 2})
    engine.add_account("a", {"X": D(10)})
    engine.add_account("b", {"Y": D(100)})
    ok(engine.submit("a", "X-Y", SELL, LIMIT, size=D(1), price=D(3), now_ns=1))
    (execution,) = ok(engine.submit("b", "X-Y", BUY, MARKET, size=D(1), now_ns=2)).executions
    assert execution.fee == D("0.01")  # 0.003 rounded up to 0.01
    assert engine.balance("b", "X").free == D("0.99")


def test_maker_rebate_is_paid_from_collected_fees() -> None:
    rules = InstrumentRules(
        base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"), maker_fee=D("-0.0001"),
        taker_fee=D("0.0005"),
    )  # fmt: skip
    engine = Engine({SYM: rules})
    engine.add_account("a", {"BTC": D(1)})
    engine.add_account("b", {"USDT": D(100000)})
    ok(engine.submit("a", SYM, SELL, LIMIT, size=D(1), price=D(10000), now_ns=1))
    ok(engine.submit("b", SYM, BUY, LIMIT, size=D(1), price=D(10000), now_ns=2))
    assert engine.balance("a", "USDT").free == D("10001")
    assert engine.fees_collected() == {"BTC": D("0.0005"), "USDT": D("-1")}
    assert engine.asset_totals() == {"BTC": D(1), "USDT": D(100000)}


# -- order types -------------------------------------------------------------------------------------------


def test_market_buy_walks_levels_and_expires_on_empty_book() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "alice", SELL, "1", "101"))
    result = ok(engine.submit("bob", SYM, BUY, MARKET, size=D("3"), now_ns=2))
    assert [(e.price, e.size) for e in result.executions] == [
        (D("100.00"), D("1.000")),
        (D("101.00"), D("1.000")),
    ]
    assert result.order.status is OrderStatus.EXPIRED
    assert result.order.expire_reason is ExpireReason.NO_LIQUIDITY
    assert result.order.filled_quote == D("201")
    assert free_locked(engine, "bob", "USDT") == (D("100000") - D("201"), D("0"))
    empty = ok(engine.submit("bob", SYM, SELL, MARKET, size=D("1"), now_ns=3)).order
    assert empty.status is OrderStatus.EXPIRED and empty.filled_size == 0
    assert free_locked(engine, "bob", "BTC") == (D("10") + D("2") - D("0.004"), D("0"))


def test_market_buy_rejected_when_walk_costs_more_than_free_quote() -> None:
    engine = make_engine()
    engine.add_account("poor", {"USDT": D("150")})
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "alice", SELL, "1", "101"))
    result = engine.submit("poor", SYM, BUY, MARKET, size=D("2"), now_ns=2)
    assert rejected(result) is RejectReason.INSUFFICIENT_BALANCE
    assert engine.balance("poor", "USDT").free == D("150")
    assert (
        ok(engine.submit("poor", SYM, BUY, MARKET, size=D("1"), now_ns=3)).order.status is OrderStatus.FILLED
    )


def test_market_buy_by_quote_amount() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "alice", SELL, "1", "200"))
    engine.drain_events()
    result = ok(engine.submit("bob", SYM, BUY, MARKET, quote_size=D("150"), now_ns=2))
    order = result.order
    # 1 at 100, then floor(50 / 0.2) lots of 0.001 at 200 = 0.25
    assert [(e.price, e.size) for e in result.executions] == [
        (D("100.00"), D("1.000")),
        (D("200.00"), D("0.250")),
    ]
    assert (order.status, order.filled_size, order.filled_quote) == (OrderStatus.FILLED, D("1.25"), D("150"))
    assert order.quote_size == D("150") and order.size == D("1.25")
    updates = [e for e in engine.drain_events() if isinstance(e, OrderEvent) and e.account_id == "bob"]
    assert [(u.exec_type, u.order.status) for u in updates] == [
        (ExecType.NEW, OrderStatus.OPEN),
        (ExecType.TRADE, OrderStatus.PARTIALLY_FILLED),
        (ExecType.TRADE, OrderStatus.FILLED),
    ]
    assert free_locked(engine, "bob", "USDT") == (D("99850"), D("0"))


def test_market_sell_by_quote_amount_locks_walked_base() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", BUY, "1", "100"))
    result = ok(engine.submit("bob", SYM, SELL, MARKET, quote_size=D("50"), now_ns=2))
    assert result.order.filled_size == D("0.5") and result.order.status is OrderStatus.FILLED
    assert free_locked(engine, "bob", "BTC") == (D("9.5"), D("0"))
    partial = ok(engine.submit("bob", SYM, SELL, MARKET, quote_size=D("80"), now_ns=3)).order
    assert partial.status is OrderStatus.EXPIRED and partial.filled_quote == D("50")


def test_ioc_fills_what_crosses_then_expires() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    engine.drain_events()
    result = ok(limit(engine, "bob", BUY, "3", "100", now=2, time_in_force=TimeInForce.IOC))
    assert result.order.status is OrderStatus.EXPIRED
    assert result.order.expire_reason is ExpireReason.IOC_REMAINDER
    assert result.order.filled_size == D("1")
    kinds = [(type(e).__name__, getattr(e, "exec_type", None)) for e in engine.drain_events()]
    assert kinds == [
        ("OrderEvent", ExecType.NEW),
        ("TradeEvent", None),
        ("OrderEvent", ExecType.TRADE),  # maker
        ("OrderEvent", ExecType.TRADE),  # taker
        ("OrderEvent", ExecType.EXPIRED),
        ("BookEvent", None),
        ("BalanceEvent", None),
        ("BalanceEvent", None),
    ]
    assert engine.depth(SYM).bids == ()
    assert engine.balance("bob", "USDT").locked == 0


def test_fok_unfillable_expires_untouched_and_fillable_fills() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "alice", SELL, "1", "102"))
    killed = ok(limit(engine, "bob", BUY, "2", "101", now=2, time_in_force=TimeInForce.FOK))
    assert killed.order.status is OrderStatus.EXPIRED and killed.executions == ()
    assert killed.order.expire_reason is ExpireReason.FOK_UNFILLABLE
    assert free_locked(engine, "bob", "USDT") == (D("100000"), D("0"))
    assert len(engine.depth(SYM).asks) == 2
    filled = ok(limit(engine, "bob", BUY, "2", "102", now=3, time_in_force=TimeInForce.FOK))
    assert filled.order.status is OrderStatus.FILLED and len(filled.executions) == 2
    fok_market = ok(
        engine.submit("bob", SYM, BUY, MARKET, size=D("1"), time_in_force=TimeInForce.FOK, now_ns=4)
    )
    assert fok_market.order.expire_reason is ExpireReason.FOK_UNFILLABLE


def test_post_only() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    assert rejected(limit(engine, "bob", BUY, "1", "100", post_only=True)) is RejectReason.WOULD_TAKE
    would = engine.submit("bob", SYM, BUY, MAKER, size=D("1"), price=D("100.5"), now_ns=2)
    assert rejected(would) is RejectReason.WOULD_TAKE
    assert engine.balance("bob", "USDT").locked == 0
    rests = ok(engine.submit("bob", SYM, BUY, MAKER, size=D("1"), price=D("99.99"), now_ns=3)).order
    assert rests.status is OrderStatus.OPEN and rests.post_only


# -- rejections --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"symbol": "ETH-USDT"}, RejectReason.UNKNOWN_SYMBOL),
        ({"account_id": "mallory"}, RejectReason.UNKNOWN_ACCOUNT),
        ({"price": D("100.001")}, RejectReason.FILTER_PRICE),
        ({"price": D("0")}, RejectReason.FILTER_PRICE),
        ({"price": D("-1")}, RejectReason.FILTER_PRICE),
        ({"price": D("NaN")}, RejectReason.FILTER_PRICE),
        ({"price": D("Infinity")}, RejectReason.FILTER_PRICE),
        ({"size": D("1.0005")}, RejectReason.FILTER_LOT_SIZE),
        ({"size": D("0")}, RejectReason.FILTER_LOT_SIZE),
        ({"size": D("100.001")}, RejectReason.FILTER_LOT_SIZE),
        ({"size": D("0.001"), "price": D("9999.99")}, RejectReason.FILTER_MIN_NOTIONAL),
        ({"size": D("11")}, RejectReason.INSUFFICIENT_BALANCE),
        ({"side": BUY, "size": D("2"), "price": D("50000.01")}, RejectReason.INSUFFICIENT_BALANCE),
        ({"price": None}, RejectReason.INVALID_ORDER),
        ({"size": None}, RejectReason.INVALID_ORDER),
        ({"quote_size": D("10")}, RejectReason.INVALID_ORDER),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, RejectReason.INVALID_ORDER),
        ({"order_type": MARKET}, RejectReason.INVALID_ORDER),  # market with a price
        ({"order_type": MARKET, "price": None, "post_only": True}, RejectReason.INVALID_ORDER),
        ({"order_type": MARKET, "price": None, "quote_size": D("10")}, RejectReason.INVALID_ORDER),
        ({"order_type": MARKET, "price": None, "size": None}, RejectReason.INVALID_ORDER),
        (
            {"order_type": MARKET, "price": None, "size": None, "quote_size": D("1.123456789")},
            RejectReason.INVALID_ORDER,
        ),
        (
            {"order_type": MARKET, "price": None, "size": None, "quote_size": D("5")},
            RejectReason.FILTER_MIN_NOTIONAL,
        ),
        (
            {
                "order_type": MARKET,
                "price": None,
                "size": None,
                "quote_size": D("10"),
                "time_in_force": TimeInForce.FOK,
            },
            RejectReason.INVALID_ORDER,
        ),
    ],
)
def test_rejections_change_nothing(kwargs: dict[str, object], reason: RejectReason) -> None:
    engine = make_engine()
    ok(limit(engine, "bob", BUY, "1", "100"))
    before = (engine.balances("alice"), engine.depth(SYM), engine.statistics().orders_accepted)
    engine.drain_events()
    args: dict[str, object] = {
        "account_id": "alice", "symbol": SYM, "side": SELL, "order_type": LIMIT, "size": D("1"),
        "price": D("20000"), "now_ns": 2,
    }  # fmt: skip
    args.update(kwargs)
    assert rejected(engine.submit(**args)) is reason  # type: ignore[arg-type]
    assert (engine.balances("alice"), engine.depth(SYM), engine.statistics().orders_accepted) == before
    assert engine.drain_events() == []
    assert engine.statistics().orders_rejected == 1


def test_market_min_notional_uses_last_trade_price_else_best_price() -> None:
    engine = make_engine()
    ok(engine.submit("bob", SYM, BUY, MARKET, size=D("0.001"), now_ns=1))  # empty book, no trades: skipped
    ok(limit(engine, "alice", SELL, "1", "5000", now=2))
    small = engine.submit("bob", SYM, BUY, MARKET, size=D("0.001"), now_ns=3)
    assert rejected(small) is RejectReason.FILTER_MIN_NOTIONAL  # 0.001 * best ask 5000 = 5 < 10
    ok(engine.submit("bob", SYM, BUY, MARKET, size=D("0.002"), now_ns=4))  # trades at 5000
    ok(limit(engine, "alice", SELL, "1", "4000", now=5))
    again = engine.submit("bob", SYM, BUY, MARKET, size=D("0.0025"), now_ns=6)
    assert rejected(again) is RejectReason.FILTER_LOT_SIZE
    assert rejected(engine.submit("bob", SYM, BUY, MARKET, size=D("0.001"), now_ns=7)) is (
        RejectReason.FILTER_MIN_NOTIONAL
    )  # the last trade (5000) is the reference, not the best ask
    ok(engine.submit("bob", SYM, BUY, MARKET, size=D("0.002"), now_ns=8))


def test_duplicate_client_id_only_among_open_orders() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", BUY, "1", "100", client_order_id="x"))
    assert (
        rejected(limit(engine, "alice", BUY, "1", "100", client_order_id="x"))
        is RejectReason.DUPLICATE_CLIENT_ID
    )
    ok(limit(engine, "bob", BUY, "1", "100", client_order_id="x"))  # another account may use it
    engine.cancel("alice", SYM, client_order_id="x", now_ns=2)
    again = ok(limit(engine, "alice", BUY, "1", "101", client_order_id="x", now=3)).order
    found = engine.order("alice", SYM, client_order_id="x")
    assert found is not None and found.order_id == again.order_id


# -- self-trade prevention ---------------------------------------------------------------------------------


def test_stp_expire_maker() -> None:
    engine = make_engine(StpMode.EXPIRE_MAKER)
    own = ok(limit(engine, "alice", SELL, "1", "100")).order.order_id
    ok(limit(engine, "bob", SELL, "1", "101"))
    result = ok(limit(engine, "alice", BUY, "1", "101", now=2))
    assert result.order.status is OrderStatus.FILLED and result.executions[0].price == D("101")
    expired = engine.order("alice", SYM, order_id=own)
    assert expired is not None and expired.status is OrderStatus.EXPIRED
    assert expired.expire_reason is ExpireReason.SELF_TRADE_PREVENTION
    assert engine.balance("alice", "BTC").locked == 0


def test_stp_expire_taker() -> None:
    engine = make_engine(StpMode.EXPIRE_TAKER)
    ok(limit(engine, "bob", SELL, "1", "99"))
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "bob", SELL, "1", "101"))
    result = ok(limit(engine, "alice", BUY, "3", "101", now=2))
    assert [e.price for e in result.executions] == [D("99")]
    assert result.order.status is OrderStatus.EXPIRED
    assert result.order.expire_reason is ExpireReason.SELF_TRADE_PREVENTION
    assert len(engine.depth(SYM).asks) == 2


def test_stp_none_trades_with_itself() -> None:
    engine = make_engine(StpMode.NONE)
    ok(limit(engine, "alice", SELL, "1", "100"))
    result = ok(limit(engine, "alice", BUY, "1", "100", now=2))
    assert result.order.status is OrderStatus.FILLED
    assert engine.balance("alice", "BTC").total == D("10") - D("0.002")
    assert engine.balance("alice", "USDT").total == D("100000") - D("0.1")


# -- events and queries ------------------------------------------------------------------------------------


def test_book_events_are_contiguous_and_match_the_depth_snapshot() -> None:
    engine = make_engine()
    ok(limit(engine, "alice", SELL, "1", "100"))
    ok(limit(engine, "alice", SELL, "1", "101"))
    ok(limit(engine, "bob", BUY, "1", "99"))
    ok(limit(engine, "carol", BUY, "1.5", "101", now=2))  # takes 100 and half of 101
    engine.cancel("bob", SYM, order_id=3, now_ns=3)
    books = [e for e in engine.drain_events() if isinstance(e, BookEvent)]
    assert [(b.first_update_id, b.last_update_id) for b in books] == [(1, 1), (2, 2), (3, 3), (4, 5), (6, 6)]
    assert books[3].asks == ((D("100.00"), D("0")), (D("101.00"), D("0.500")))
    assert books[4].bids == ((D("99.00"), D("0")),)
    depth = engine.depth(SYM)
    assert depth.update_id == books[-1].last_update_id == engine.update_id(SYM)
    top = engine.best_bid_ask(SYM)
    assert top.bid_price is None and top.bid_size == 0
    assert (top.ask_price, top.ask_size) == (D("101"), D("0.5"))


def test_balance_events_per_call_and_deposit() -> None:
    engine = make_engine()
    engine.deposit("alice", "ETH", D("3"), now_ns=7)
    (event,) = engine.drain_events()
    assert isinstance(event, BalanceEvent) and event.ts_ns == 7
    assert [(b.asset, b.free, b.locked) for b in event.balances] == [("ETH", D(3), D(0))]
    assert [b.asset for b in engine.balances("alice")] == ["BTC", "ETH", "USDT"]


def test_trade_histories_and_recent_trades() -> None:
    engine = make_engine(trade_history_limit=2)
    for i in range(3):
        ok(limit(engine, "alice", SELL, "1", "100", now=i))
        ok(limit(engine, "bob", BUY, "1", "100", now=i))
    assert [t.trade_id for t in engine.recent_trades(SYM)] == [2, 3]
    assert [t.trade_id for t in engine.recent_trades(SYM, limit=1)] == [3]
    assert [e.trade_id for e in engine.trades_for("bob", SYM)] == [2, 3]
    assert engine.trades_for("carol", SYM) == ()
    assert engine.statistics().trades == 3


def test_closed_orders_are_forgotten_beyond_the_limit() -> None:
    engine = make_engine(closed_order_limit=2)
    ids = [
        ok(limit(engine, "alice", BUY, "1", "100", client_order_id=f"c{i}")).order.order_id for i in range(3)
    ]
    engine.cancel_all("alice", now_ns=2)
    assert engine.order("alice", SYM, order_id=ids[0]) is None
    assert engine.order("alice", SYM, client_order_id="c0") is None
    assert engine.order("alice", SYM, order_id=ids[2]) is not None
    assert engine.order("bob", SYM, order_id=ids[2]) is None
    assert engine.statistics().closed_orders_kept == 2


def test_queries_reject_unknown_names() -> None:
    engine = make_engine()
    with pytest.raises(ConfigError):
        engine.depth("ETH-USDT")
    with pytest.raises(ConfigError):
        engine.open_orders("nobody")
    with pytest.raises(ConfigError):
        engine.order("alice", "ETH-USDT", order_id=1)
    with pytest.raises(ConfigError):
        engine.balances("nobody")
    assert engine.symbols == (SYM,) and engine.rules(SYM) is RULES


# -- configuration -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tick_size": D(0)},
        {"lot_size": D("-1")},
        {"min_size": D("0.0015")},
        {"min_size": D(2), "max_size": D(1)},
        {"maker_fee": D(1)},
        {"taker_fee": D("-0.001")},
        {"min_notional": D(-1)},
        {"quote": "BTC"},
    ],
)
def test_bad_rules_are_config_errors(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"base": "BTC", "quote": "USDT", "tick_size": D("0.01"), "lot_size": D("0.001")}
    args.update(kwargs)
    with pytest.raises(ConfigError):
        InstrumentRules(**args)  # type: ignore[arg-type]


def test_engine_config_errors() -> None:
    with pytest.raises(ConfigError):
        Engine({})
    with pytest.raises(ConfigError):
        Engine({SYM: RULES}, asset_decimals={"USDT": 2})  # tick*lot = 0.00001 needs 5
    engine = make_engine()
    with pytest.raises(ConfigError):
        engine.add_account("alice", {})
    with pytest.raises(ConfigError):
        engine.add_account("dave", {"BTC": D("-1")})
    with pytest.raises(ConfigError):
        engine.add_account("dave", {"BTC": D("0.000000001")})
    assert not engine.has_account("dave")


def test_fine_instruments_raise_asset_decimals() -> None:
    rules = InstrumentRules(base="SHIB", quote="USDT", tick_size=D("0.00000001"), lot_size=D("1000"))
    engine = Engine({"SHIB-USDT": rules})
    engine.add_account("a", {"USDT": D("1.00000001")})
    assert engine.balance("a", "USDT").free == D("1.00000001")
    rules = InstrumentRules(base="A", quote="B", tick_size=D("0.0000001"), lot_size=D("0.001"))
    engine = Engine({"A-B": rules})
    engine.add_account("a", {"B": D("0.0000000001")})  # tick*lot needs 10 decimals
