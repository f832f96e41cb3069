"""The orders invariant compares terms: an order amended in place (new limit price, new total size) must carry
the exchange's terms in the session, or the quiet point reports it."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from clobactors.invariants import compare_orders
from clobactors.model import OrderStatus, OrderType
from tests.test_invariants import info, update

S = OrderStatus


def test_terms_are_compared() -> None:
    truth = {
        "same": info("same", S.OPEN),
        "price": msgspec.structs.replace(info("price", S.OPEN), price=D("101")),
        "size": msgspec.structs.replace(info("size", S.PARTIALLY_FILLED, "0.5"), size=D("2")),
        "status": msgspec.structs.replace(info("status", S.CANCELLED), price=D("99")),
    }
    orders = {
        "same": update("same", S.OPEN),
        "price": update("price", S.OPEN),
        "size": update("size", S.PARTIALLY_FILLED, "0.5"),
        "status": update("status", S.OPEN),
    }
    found = [(v.subject, v.detail) for v in compare_orders(orders, lambda u: truth.get(u.client_order_id))]
    assert found == [
        ("price", "terms: session 1@100, exchange 1@101"),
        ("size", "terms: session 1@100, exchange 2@100"),
        ("status", "session open filled 0, exchange cancelled filled 0"),  # one verdict per order: status first
    ]


def test_a_quote_sized_market_order_compares_its_price_only() -> None:
    bought = msgspec.structs.replace(
        info("m", S.FILLED, "0.3"), order_type=OrderType.MARKET, price=None, size=D("0.3"), quote_size=D("30")
    )
    mine = msgspec.structs.replace(update("m", S.FILLED, "0.3"), order_type=OrderType.MARKET, price=None)
    assert compare_orders({"m": mine}, lambda _: bought) == []
    priced = msgspec.structs.replace(mine, price=D("100"))
    assert [v.detail for v in compare_orders({"m": priced}, lambda _: bought)] == [
        "terms: session 100, exchange market"
    ]
