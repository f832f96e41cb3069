"""Engine amendments as Binance USD-M § Trade › Modify Order describes them (:mod:`clobactors.sim.amend`).

A crossing new price trades at once through the taker path and rests the remainder at the new price; a GTX
order, or one amended to at most its executed quantity, is cancelled; filters, reduce-only room, the maximum
notional, margin and the modification count refuse an amendment without changing anything.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from clobactors.errors import ConfigError
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim import (
    BookEvent,
    Engine,
    InstrumentRules,
    OrderEvent,
    RejectReason,
    StpMode,
    TradeEvent,
)
from clobactors.sim.engine import AmendAccepted, AmendResult
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.perp_records import AccountUpdateEvent, PerpReject
from clobactors.sim.records import ExecType, OrderInfo
from clobactors.sim.rules import ExpireReason
from tests.sim.test_perp_engine import BUY, LIMIT, SELL, SYM, buy, make, ok, quote, rejected

S = OrderStatus


def limit(engine: Engine, account: str, side: Side, size: str, price: str, now: int = 1, **kw: object) -> OrderInfo:
    return ok(engine.submit(account, SYM, side, LIMIT, size=D(size), price=D(price), now_ns=now, **kw)).order  # type: ignore[arg-type]


def amend(engine: Engine, account: str, order_id: int, price: str, size: str, now: int = 5) -> AmendResult:
    return engine.amend(account, SYM, order_id=order_id, price=D(price), size=D(size), now_ns=now)


def accepted(result: object) -> AmendAccepted:
    assert isinstance(result, AmendAccepted), result
    return result


def snapshot(engine: Engine) -> tuple[object, ...]:
    """Everything a refused amendment must leave as it was."""
    perps = engine.perps
    assert perps is not None
    return (
        engine.depth(SYM),
        tuple(engine.open_orders(a) for a in ("maker", "alice", "bob")),
        tuple(engine.balances(a) for a in ("maker", "alice", "bob")),
        tuple(perps.position(a, SYM) for a in ("maker", "alice", "bob")),
        engine.asset_totals(),
    )


def test_a_crossing_amendment_trades_like_a_taker_and_rests_the_rest_at_the_new_price() -> None:
    engine, perps = make()
    quote(engine, SELL, "101", "1")
    quote(engine, SELL, "102", "1")
    order = limit(engine, "alice", BUY, "3", "99")
    engine.drain_events()
    totals = engine.asset_totals()

    result = accepted(amend(engine, "alice", order.order_id, "101.5", "3"))

    assert result.amended is not None
    assert (result.amended.price, result.amended.size, result.amended.filled_size) == (D("101.5"), D(3), D(0))
    assert result.amended.status is S.OPEN  # the AMENDMENT report's state: before meeting the book
    done = result.order
    assert (done.order_id, done.client_order_id) == (order.order_id, order.client_order_id)
    assert (done.status, done.price, done.size, done.filled_size) == (S.PARTIALLY_FILLED, D("101.5"), D(3), D(1))
    (fill,) = result.executions
    assert (fill.price, fill.size, fill.is_maker, fill.order_id) == (D(101), D(1), False, order.order_id)
    assert fill.fee == D("0.0505")  # the taker fee, as a new order's taker part pays
    # Events in the taker path's order: per fill the trade and the maker's update, then the taker's
    # update, then one book diff and the accounts' updates.
    events = engine.drain_events()
    kinds = [(type(e).__name__, getattr(e, "account_id", None)) for e in events]
    assert kinds[:4] == [
        ("TradeEvent", None), ("OrderEvent", "maker"), ("OrderEvent", "alice"), ("BookEvent", None),
    ]  # fmt: skip
    assert {e.account_id for e in events[4:] if isinstance(e, AccountUpdateEvent)} == {"maker", "alice"}
    taker = events[2]
    assert isinstance(taker, OrderEvent) and taker.exec_type is ExecType.TRADE and taker.execution == fill
    trade = events[0]
    assert isinstance(trade, TradeEvent) and trade.taker_side is BUY and trade.buyer_order_id == order.order_id
    book = events[3]
    assert isinstance(book, BookEvent)
    assert set(book.bids) == {(D(99), D(0)), (D("101.5"), D(2))} and book.asks == ((D(101), D(0)),)
    # The rest rests at the new price; the position and margin follow the fill; money is conserved.
    depth = engine.depth(SYM)
    assert depth.bids == ((D("101.5"), D(2)),) and depth.asks == ((D(102), D(1)),)
    assert perps.position("alice", SYM).size == D(1)
    (open_order,) = engine.open_orders("alice", SYM)
    assert open_order == done
    assert engine.asset_totals() == totals
    assert engine.statistics().orders_amended == 1


def test_a_crossing_amendment_that_fills_completely_closes_the_order() -> None:
    engine, perps = make()
    quote(engine, SELL, "100", "2")
    order = limit(engine, "alice", BUY, "1", "99")
    result = accepted(amend(engine, "alice", order.order_id, "100", "1.5"))
    assert result.order.status is S.FILLED and result.order.filled_size == D("1.5")
    assert [e.size for e in result.executions] == [D("1.5")]
    assert not engine.is_open(order.order_id)
    assert engine.open_orders("alice", SYM) == ()
    assert engine.balance("alice", "USDT").locked == 0  # a filled order keeps no margin
    assert perps.position("alice", SYM).size == D("1.5")
    assert engine.depth(SYM).asks == ((D(100), D("0.5")),)


def test_the_amended_order_goes_to_the_back_of_its_new_level() -> None:
    engine, _ = make()
    first = limit(engine, "alice", BUY, "1", "98")
    second = limit(engine, "bob", BUY, "1", "99")
    accepted(amend(engine, "alice", first.order_id, "99", "1"))  # now behind bob's order at 99
    engine.drain_events()
    fill = ok(engine.submit("maker", SYM, SELL, OrderType.MARKET, size=D(1), now_ns=6)).executions[0]
    trade = next(e for e in engine.drain_events() if isinstance(e, TradeEvent))
    assert fill.price == D(99) and trade.buyer_order_id == second.order_id


def test_a_gtx_order_whose_new_price_would_take_is_cancelled() -> None:
    engine, _ = make()
    quote(engine, SELL, "101", "1")
    order = limit(engine, "alice", BUY, "1", "99", time_in_force=TimeInForce.GTC, post_only=True)
    engine.drain_events()
    result = accepted(amend(engine, "alice", order.order_id, "101", "1"))
    assert result.amended is None and result.executions == ()
    assert result.order.status is S.CANCELLED and result.order.price == D(99)  # cancelled, not amended
    events = engine.drain_events()
    cancelled = [e for e in events if isinstance(e, OrderEvent)]
    assert [(e.exec_type, e.order.order_id) for e in cancelled] == [(ExecType.CANCELLED, order.order_id)]
    assert not any(isinstance(e, TradeEvent) for e in events)
    assert engine.depth(SYM).bids == () and engine.depth(SYM).asks == ((D(101), D(1)),)
    assert engine.balance("alice", "USDT").locked == 0
    # A GTX amendment that does not cross is an ordinary amendment.
    other = limit(engine, "alice", BUY, "1", "99", time_in_force=TimeInForce.GTC, post_only=True)
    moved = accepted(amend(engine, "alice", other.order_id, "100", "1"))
    assert moved.order.status is S.OPEN and moved.order.price == D(100) and moved.order.post_only


@pytest.mark.parametrize("size", ["0.5", "0.4"])
def test_a_partially_filled_order_amended_to_at_most_its_executed_size_is_cancelled(size: str) -> None:
    engine, _ = make()
    order = limit(engine, "alice", BUY, "2", "99")
    ok(engine.submit("maker", SYM, SELL, OrderType.MARKET, size=D("0.5"), now_ns=2))
    engine.drain_events()
    result = accepted(amend(engine, "alice", order.order_id, "98", size))
    assert result.amended is None and result.executions == ()
    assert (result.order.status, result.order.filled_size, result.order.size) == (S.CANCELLED, D("0.5"), D(2))
    assert [e.exec_type for e in engine.drain_events() if isinstance(e, OrderEvent)] == [ExecType.CANCELLED]
    assert engine.balance("alice", "USDT").locked == 0
    assert rejected(amend(engine, "alice", order.order_id, "98", "1")).reason is RejectReason.UNKNOWN_ORDER


def test_a_reduce_only_order_amended_beyond_its_room_is_refused_and_nothing_changes() -> None:
    engine, perps = make()
    quote(engine, SELL, "100", "1")
    buy(engine, "alice", "1")  # long 1
    first = limit(engine, "alice", SELL, "0.5", "110", reduce_only=True)
    second = limit(engine, "alice", SELL, "0.3", "111", reduce_only=True)
    engine.drain_events()
    before = snapshot(engine)
    for size in ("0.8", "2"):  # the room is 1 - 0.3 (the other closing order) = 0.7
        refused = rejected(amend(engine, "alice", first.order_id, "110", size))
        assert (refused.reason, refused.perp) == (RejectReason.INVALID_ORDER, PerpReject.REDUCE_ONLY)
        assert snapshot(engine) == before and engine.drain_events() == []
    grown = accepted(amend(engine, "alice", first.order_id, "110", "0.7"))  # exactly the room
    assert grown.order.size == D("0.7") and grown.order.reduce_only
    assert rejected(amend(engine, "alice", second.order_id, "111", "0.31")).perp is PerpReject.REDUCE_ONLY
    # A closing order crossing the book reduces the position like a new one would.
    quote(engine, BUY, "105", "1")
    filled = accepted(amend(engine, "alice", first.order_id, "105", "0.7"))
    assert filled.order.status is S.FILLED and perps.position("alice", SYM).size == D("0.3")
    (left,) = engine.open_orders("alice", SYM)
    assert left.order_id == second.order_id  # 0.3 still fits the 0.3 left


def test_an_opening_order_grown_beyond_the_maximum_notional_is_refused() -> None:
    engine, _ = make(funding=D(10_000_000))
    perps = engine.perps
    assert perps is not None
    perps.set_leverage("alice", SYM, 125, now_ns=1)
    cap = perps.position("alice", SYM).max_notional
    size = (cap / D(100) / 2).quantize(D("0.001"))
    order = limit(engine, "alice", BUY, str(size), "90")
    engine.drain_events()
    before = snapshot(engine)
    refused = rejected(amend(engine, "alice", order.order_id, "90", str(size * 3)))
    assert refused.perp is PerpReject.MAX_NOTIONAL and snapshot(engine) == before
    assert accepted(amend(engine, "alice", order.order_id, "90", str(size / 2))).order.size == size / 2


def test_refusals_change_nothing() -> None:
    engine, _ = make(funding=D(200))
    order = limit(engine, "alice", BUY, "1", "99")
    engine.drain_events()
    before = snapshot(engine)
    cases = [
        (("99.05", "1"), RejectReason.FILTER_PRICE, None),
        (("99", "1.0005"), RejectReason.FILTER_LOT_SIZE, None),
        (("99", "0.01"), RejectReason.FILTER_MIN_NOTIONAL, None),
        (("99", "1"), RejectReason.INVALID_ORDER, PerpReject.NO_CHANGE),
        (("99", "100"), RejectReason.INSUFFICIENT_BALANCE, None),
    ]
    for (price, size), reason, perp in cases:
        refused = rejected(amend(engine, "alice", order.order_id, price, size))
        assert (refused.reason, refused.perp) == (reason, perp), (price, size)
        assert snapshot(engine) == before and engine.drain_events() == []
    assert rejected(amend(engine, "bob", order.order_id, "98", "1")).reason is RejectReason.UNKNOWN_ORDER
    assert rejected(amend(engine, "alice", 999, "98", "1")).reason is RejectReason.UNKNOWN_ORDER
    assert rejected(engine.amend("nobody", SYM, order_id=1, price=D(1), size=D(1), now_ns=5)).reason is (
        RejectReason.UNKNOWN_ACCOUNT
    )
    assert rejected(engine.amend("alice", "NOPE", order_id=1, price=D(1), size=D(1), now_ns=5)).reason is (
        RejectReason.UNKNOWN_SYMBOL
    )


def test_the_modification_count_is_limited_per_order() -> None:
    engine = Engine(
        {SYM: InstrumentRules(base="BTC", quote="USDT", tick_size=D("0.1"), lot_size=D("0.001"))},
        perp=PerpSettings(reference_prices={SYM: D(100)}), amend_limit=2,
    )  # fmt: skip
    engine.add_account("alice", {"USDT": D(10_000)})
    order = limit(engine, "alice", BUY, "1", "90")
    other = limit(engine, "alice", BUY, "1", "80")
    accepted(amend(engine, "alice", order.order_id, "91", "1"))
    accepted(amend(engine, "alice", order.order_id, "92", "1"))
    refused = rejected(amend(engine, "alice", order.order_id, "93", "1"))
    assert refused.perp is PerpReject.MODIFY_LIMIT
    assert accepted(amend(engine, "alice", other.order_id, "81", "1")).order.price == D(81)  # counted per order
    with pytest.raises(ConfigError):
        Engine({SYM: InstrumentRules(base="BTC", quote="USDT", tick_size=D(1), lot_size=D(1))}, amend_limit=-1)


def test_self_trade_prevention_applies_to_a_crossing_amendment() -> None:
    engine, _ = make()
    own = limit(engine, "alice", SELL, "1", "101")
    quote(engine, SELL, "102", "1")
    order = limit(engine, "alice", BUY, "1", "99")
    engine.drain_events()
    result = accepted(amend(engine, "alice", order.order_id, "102", "1"))  # EXPIRE_MAKER: own ask expires
    assert result.order.status is S.FILLED and result.executions[0].price == D(102)
    expired = engine.order("alice", SYM, order_id=own.order_id)
    assert expired is not None and expired.expire_reason is ExpireReason.SELF_TRADE_PREVENTION


def test_a_spot_engine_amendment_crosses_too_and_keeps_its_locks_exact() -> None:
    rules = {"X-Q": InstrumentRules(base="X", quote="Q", tick_size=D("0.1"), lot_size=D("0.01"))}
    engine = Engine(rules, stp=StpMode.EXPIRE_MAKER)
    for account in ("a", "b"):
        engine.add_account(account, {"X": D(10), "Q": D(1000)})
    totals = engine.asset_totals()
    ok(engine.submit("a", "X-Q", SELL, LIMIT, size=D(1), price=D(10), now_ns=1))
    bid = ok(engine.submit("b", "X-Q", BUY, LIMIT, size=D(2), price=D(9), now_ns=1)).order
    result = engine.amend("b", "X-Q", order_id=bid.order_id, price=D(11), size=D(2), now_ns=2)
    assert isinstance(result, AmendAccepted)
    assert result.order.filled_size == D(1) and result.executions[0].price == D(10)
    assert engine.balance("b", "Q").locked == D(11)  # the rest (1 at 11) keeps its need, the cheaper fill freed
    assert engine.depth("X-Q").bids == ((D(11), D(1)),)
    assert engine.asset_totals() == totals
