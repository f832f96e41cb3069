"""Regression: a market buy sized in quote that spends its budget on the book's last level is FILLED.

``take()`` used to test for an empty book before testing whether the quote budget was spent, so an order
that emptied the book with exactly its budget ended EXPIRED (no liquidity) instead of FILLED.
"""

from __future__ import annotations

from decimal import Decimal as D

from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim import Engine, ExecType, InstrumentRules, OrderEvent, SubmitAccepted

SYM = "X-Q"
RULES = InstrumentRules(base="X", quote="Q", tick_size=D("1"), lot_size=D("0.1"))


def _engine() -> Engine:
    engine = Engine({SYM: RULES})
    engine.add_account("maker", {"X": D(10), "Q": D(0)})
    engine.add_account("taker", {"X": D(0), "Q": D(1000)})
    return engine


def test_quote_budget_spent_on_last_level_is_filled() -> None:
    engine = _engine()
    assert isinstance(engine.submit("maker", SYM, Side.SELL, OrderType.LIMIT, size=D(1), price=D(100), now_ns=1),
                      SubmitAccepted)  # fmt: skip
    assert isinstance(engine.submit("maker", SYM, Side.SELL, OrderType.LIMIT, size=D(1), price=D(110), now_ns=2),
                      SubmitAccepted)  # fmt: skip
    engine.drain_events()
    result = engine.submit("taker", SYM, Side.BUY, OrderType.MARKET, quote_size=D(210), now_ns=3)
    assert isinstance(result, SubmitAccepted)
    order = result.order
    assert (order.status, order.expire_reason) == (OrderStatus.FILLED, None)
    assert (order.filled_size, order.filled_quote) == (D(2), D(210))
    assert engine.depth(SYM).asks == ()
    updates = [e for e in engine.drain_events() if isinstance(e, OrderEvent) and e.account_id == "taker"]
    assert [u.exec_type for u in updates] == [ExecType.NEW, ExecType.TRADE, ExecType.TRADE]
    assert updates[-1].order.status is OrderStatus.FILLED
    assert engine.balance("taker", "Q").total == D(790) and engine.balance("taker", "Q").locked == 0


def test_quote_budget_left_when_book_runs_out_still_expires() -> None:
    engine = _engine()
    engine.submit("maker", SYM, Side.SELL, OrderType.LIMIT, size=D(1), price=D(100), now_ns=1)
    result = engine.submit("taker", SYM, Side.BUY, OrderType.MARKET, quote_size=D(150), now_ns=2)
    assert isinstance(result, SubmitAccepted)
    assert result.order.status is OrderStatus.EXPIRED and result.order.filled_quote == D(100)
