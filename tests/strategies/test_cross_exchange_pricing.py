"""The cross-exchange maker's arithmetic: quotes never inside the hedge book less fees and profit, hedge sizes
that add up to the fills, residuals below the lot carried (Hypothesis properties plus worked examples)."""

from __future__ import annotations

import decimal
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError
from clobactors.model import Side
from clobactors.strategies.cross_exchange import CrossExchangeMaker
from clobactors.strategies.cross_exchange_pricing import (
    Fees,
    HedgeLedger,
    HedgePlan,
    affordable_size,
    exposure_room,
    floor_to,
    profit_limit,
    protective_price,
    quote_price,
    quote_size,
    take_cost,
)

TICKS = st.sampled_from([D("0.01"), D("0.1"), D("0.5"), D("1"), D("0.00001")])
LOTS = st.sampled_from([D("0.001"), D("0.00001"), D("0.01"), D("1")])
FEES = st.builds(
    Fees,
    maker=st.decimals(min_value=D(0), max_value=D("0.01"), places=5),
    hedge=st.decimals(min_value=D(0), max_value=D("0.01"), places=5),
)
PROFIT = st.decimals(min_value=D(0), max_value=D(100), places=2)


@st.composite
def books(draw: st.DrawFn) -> tuple[Side, list[tuple[D, D]]]:
    """A side of the hedge book, best first: bids descending (maker BUY), asks ascending (maker SELL)."""
    side = draw(st.sampled_from(Side))
    prices = draw(st.lists(st.integers(1, 10_000_000), min_size=1, max_size=8, unique=True))
    prices.sort(reverse=side is Side.BUY)
    sizes = draw(st.lists(st.integers(1, 10_000), min_size=len(prices), max_size=len(prices)))
    return side, [(D(p) / 100, D(s) / 1000) for p, s in zip(prices, sizes, strict=True)]


def exactly_profitable(side: Side, price: D, size: D, levels: list[tuple[D, D]], fees: Fees, bps: D) -> bool:
    """The profit rule, recomputed independently at a precision no product here can exceed."""
    with decimal.localcontext(decimal.Context(prec=200, traps=[decimal.Inexact])):
        left, cost = size, D(0)
        for level_price, available in levels:
            taken = min(left, available)
            cost, left = cost + level_price * taken, left - taken
        assert left == 0
        profit = 1 + bps / 10_000
        if side is Side.BUY:
            return cost * (1 - fees.hedge) >= price * size * (1 + fees.maker) * profit
        return price * size * (1 - fees.maker) >= cost * (1 + fees.hedge) * profit


@settings(max_examples=300)
@given(books(), st.integers(1, 10_000), FEES, PROFIT, TICKS)
def test_quote_is_never_inside_the_hedge_price_less_fees_and_profit(
    book: tuple[Side, list[tuple[D, D]]], size_units: int, fees: Fees, bps: D, tick: D
) -> None:
    side, levels = book
    size = D(size_units) / 1000
    price = quote_price(side, levels, size, fees, bps, tick=tick)
    if take_cost(levels, size) is None:
        assert price is None  # the hedge book cannot absorb the size: no quote
        return
    if price is None:
        assert side is Side.BUY  # only a bid can be priced out (below one tick)
        return
    assert price > 0 and price % tick == 0
    assert exactly_profitable(side, price, size, levels, fees, bps)
    # ... and it is the best such tick: one tick more aggressive breaks the rule.
    better = price + tick if side is Side.BUY else price - tick
    assert better <= 0 or not exactly_profitable(side, better, size, levels, fees, bps)


@given(books(), FEES, PROFIT, TICKS, st.integers(1, 10_000_000))
def test_a_post_only_quote_stays_off_the_other_side_of_the_maker_book(
    book: tuple[Side, list[tuple[D, D]]], fees: Fees, bps: D, tick: D, other_units: int
) -> None:
    side, levels = book
    other = D(other_units) / 100
    size = levels[0][1]
    if side is Side.BUY:
        price = quote_price(side, levels, size, fees, bps, tick=tick, maker_best_ask=other)
        assert price is None or price < other
    else:
        price = quote_price(side, levels, size, fees, bps, tick=tick, maker_best_bid=other)
        assert price is None or price > other
    if price is not None:
        assert exactly_profitable(side, price, size, levels, fees, bps)


def test_worked_example_prices_depth_not_just_the_touch() -> None:
    bids = [(D("100"), D("1")), (D("99"), D("1"))]
    fees = Fees(maker=D("0.001"), hedge=D("0.0005"))
    # Selling 2 into the bids yields 199; less 0.05 % = 198.9005; over 2 * 1.001 * 1.001 (10 bps profit).
    limit = profit_limit(Side.BUY, bids, D(2), fees, D(10))
    with decimal.localcontext(decimal.Context(prec=100)):
        assert limit is not None and abs(limit - D("198.9005") / (2 * D("1.001") * D("1.001"))) < D("1e-70")
    assert quote_price(Side.BUY, bids, D(2), fees, D(10), tick=D("0.01")) == D("99.25")
    assert quote_price(Side.BUY, bids, D(1), fees, D(10), tick=D("0.01")) == D("99.75")
    assert quote_price(Side.BUY, bids, D(3), fees, D(10), tick=D("0.01")) is None  # deeper than the book
    asks = [(D("101"), D("1"))]
    # Buying 1 costs 101 * 1.0005 * 1.001; the ask must bring that in after the 0.1 % maker fee.
    assert quote_price(Side.SELL, asks, D(1), fees, D(10), tick=D("0.01")) == D("101.26")
    assert quote_price(Side.SELL, asks, D(1), fees, D(10), tick=D("0.01"), maker_best_bid=D("102")) == D("102.01")


@st.composite
def fill_sequences(draw: st.DrawFn) -> tuple[D, D, list[tuple[Side, D]], list[int]]:
    lot = draw(LOTS)
    maker_lot = lot / draw(st.sampled_from([1, 10, 100]))
    fills = draw(
        st.lists(st.tuples(st.sampled_from(Side), st.integers(1, 500).map(lambda n: n * maker_lot)), max_size=30)
    )
    # Per hedge: the share (percent) an IOC fills; 0 is a hedge that took nothing.
    shares = draw(st.lists(st.integers(0, 100), min_size=1, max_size=40))
    return lot, maker_lot, fills, shares


@settings(max_examples=300)
@given(fill_sequences())
def test_hedges_add_up_to_the_fills_and_carry_what_the_lot_leaves(
    case: tuple[D, D, list[tuple[Side, D]], list[int]],
) -> None:
    lot, _, fills, shares = case
    ledger = HedgeLedger()
    maker_net = hedged = D(0)
    n = 0
    for side, size in fills:
        ledger.maker_fill(side, size)
        maker_net += size if side is Side.BUY else -size
        attempts = 0
        while (plan := ledger.next_hedge(lot=lot)) is not None:
            before = ledger.exposure
            assert plan.size % lot == 0 and plan.size <= abs(ledger.pending)  # never overshoots
            assert plan.side is (Side.SELL if ledger.pending > 0 else Side.BUY)
            n += 1
            ledger.hedge_sent(f"h{n}", plan.side, plan.size)
            assert ledger.pending == before + (plan.size if plan.side is Side.BUY else -plan.size)
            share = shares[attempts % len(shares)] if attempts < 5 else 100  # IOCs end; the last one fills
            filled = floor_to(plan.size * share / 100, lot)
            ledger.hedge_update(f"h{n}", filled, ended=True)
            hedged += filled if plan.side is Side.BUY else -filled
            assert abs(ledger.exposure) <= abs(before)  # toward zero, never through it
            assert ledger.exposure * before >= 0
            attempts += 1
        assert ledger.exposure == maker_net + hedged  # nothing lost, nothing invented
        assert abs(ledger.exposure) < lot  # what is left is below one hedge lot
        assert ledger.in_flight == 0 and ledger.open_hedges() == 0
    assert ledger.maker_volume == sum((s for _, s in fills), D(0))


def test_residuals_below_the_lot_are_netted_with_the_next_fill() -> None:
    ledger = HedgeLedger()
    ledger.maker_fill(Side.BUY, D("0.0004"))
    assert ledger.next_hedge(lot=D("0.001")) is None
    ledger.maker_fill(Side.BUY, D("0.0004"))
    assert ledger.next_hedge(lot=D("0.001")) is None
    ledger.maker_fill(Side.BUY, D("0.0004"))
    plan = ledger.next_hedge(lot=D("0.001"))
    assert plan == HedgePlan(Side.SELL, D("0.001"))
    ledger.hedge_sent("a", plan.side, plan.size)
    assert ledger.next_hedge(lot=D("0.001")) is None  # on its way: not sent twice
    assert ledger.hedge_update("a", D("0.001"), ended=False) == D("0.001")
    assert ledger.hedge_update("a", D("0.001"), ended=True) == 0  # a repeated report adds nothing
    assert ledger.exposure == D("0.0002")
    ledger.maker_fill(Side.SELL, D("0.0012"))  # the other way: the residual nets against it
    assert ledger.next_hedge(lot=D("0.001")) == HedgePlan(Side.BUY, D("0.001"))
    # A venue minimum above the lot holds the hedge back too, until fills reach it.
    assert ledger.next_hedge(lot=D("0.001"), min_size=D("0.002")) is None


def test_a_hedge_still_on_its_way_counts_once_and_an_unknown_report_is_ignored() -> None:
    ledger = HedgeLedger()
    ledger.maker_fill(Side.SELL, D("0.005"))
    ledger.hedge_sent("x", Side.BUY, D("0.005"))
    assert ledger.hedge_update("other", D(1), ended=True) == 0
    assert ledger.hedge_update("x", D("0.002"), ended=False) == D("0.002")
    assert (ledger.exposure, ledger.in_flight, ledger.pending) == (D("-0.003"), D("0.003"), D(0))
    assert ledger.hedge_update("x", D("0.002"), ended=True) == 0  # the IOC expired with 0.003 left
    assert ledger.next_hedge(lot=D("0.001")) == HedgePlan(Side.BUY, D("0.003"))
    ledger.hedge_sent("y", Side.BUY, D(1))
    with pytest.raises(ConfigError):
        ledger.hedge_sent("y", Side.SELL, D(1))


def test_sizing_helpers() -> None:
    assert exposure_room(Side.BUY, D("0.5"), D(1)) == D("0.5")
    assert exposure_room(Side.BUY, D("-0.5"), D(1)) == D(1)  # hedges of a short never make us long
    assert exposure_room(Side.SELL, D("-1.5"), D(1)) == 0
    assert affordable_size(Side.BUY, perpetual=False, base_free=D(0), quote_free=D(1000), price=D(100)) == D(10)
    assert affordable_size(Side.SELL, perpetual=False, base_free=D(3), quote_free=D(0), price=D(100)) == D(3)
    perp = affordable_size(Side.SELL, perpetual=True, base_free=D(0), quote_free=D(1000), price=D(100), leverage=5)
    assert perp == D(50)
    assert affordable_size(Side.BUY, perpetual=False, base_free=D(1), quote_free=D(1), price=D(0)) == 0
    assert quote_size(D("0.05"), (D("0.0347"), D(1)), lots=(D("0.001"), D("0.00001")), minimum=D("0.002")) == D(
        "0.034"
    )
    assert quote_size(D("0.05"), (D("0.0019"),), lots=(D("0.001"),), minimum=D("0.002")) == 0
    bids = [(D("100"), D("1")), (D("99.5"), D("1"))]
    assert protective_price(Side.SELL, bids, D("1.5"), D(50), D("0.1")) == D("99.1")  # 99.5 less 0.5 %, up
    asks = [(D("100"), D("1"))]
    assert protective_price(Side.BUY, asks, D(5), D(50), D("0.1")) == D("100.5")  # past the book: its last level
    assert protective_price(Side.BUY, [], D(1), D(50), D("0.1")) is None


def test_bad_fees_and_params_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        Fees(maker=D(1), hedge=D(0))
    with pytest.raises(ConfigError, match="hedge_exchange"):
        CrossExchangeMaker.from_params("x", "binance", "BTC-USDT", {})
    params = {"hedge_exchange": "binance_usdm", "hedge_instrument": "BTC-USDT-PERP"}
    with pytest.raises(ConfigError, match="decimal"):
        CrossExchangeMaker.from_params("x", "binance", "BTC-USDT", {**params, "size": "abc"})
    with pytest.raises(ConfigError, match="hedge_order_type"):
        CrossExchangeMaker.from_params("x", "binance", "BTC-USDT", {**params, "hedge_order_type": "fok"})
    same = {"hedge_exchange": "binance", "hedge_instrument": "BTC-USDT"}
    with pytest.raises(ConfigError, match="differ"):
        CrossExchangeMaker.from_params("x", "binance", "BTC-USDT", same)
    maker = CrossExchangeMaker.from_params("x", "binance", "BTC-USDT", {**params, "size": "0.01"})
    stats = maker.statistics()
    assert (stats.exposure, stats.hedge_failures, stats.paused, stats.pauses) == (D(0), 0, True, 0)  # not started
