"""Price-time priority matching of one incoming order against a book, as a plan of steps.

:func:`take` yields one step at a time (fill this maker, expire that maker, stop) and reads the book afresh
before each step, so the engine applies a step (settles balances, updates the book, emits events) between
two ``next`` calls. Matching rules stay here, money stays in the engine and the ledger, which is where a
perpetuals settlement can plug in later. :func:`fillable` walks the same path without changing anything; the
engine uses it for FOK checks and to size what a market order must lock. Both share one rule set:

* levels are taken best price first, orders in a level oldest first;
* a limit price stops the walk at the first level it does not reach;
* a quote budget (market order sized in quote) stops it once spent, or at the first level where not one more
  lot fits (both count as done, even when the spend emptied the book);
* a resting order of the taker's own account triggers self-trade prevention (:class:`StpMode`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TypeAlias, final

import attrs

from clobactors.model import Side
from clobactors.sim.book import Book, SimOrder
from clobactors.sim.rules import StpMode

__all__ = ["MakerExpire", "MakerFill", "Step", "Stop", "StopKind", "fillable", "take"]


class StopKind(enum.Enum):
    """Why matching ended."""

    #: The size is filled, or the quote budget cannot buy one more lot.
    DONE = "done"
    #: No more opposite liquidity within the limit price.
    NO_MATCH = "no_match"
    #: Self-trade prevention expires the taker (``StpMode.EXPIRE_TAKER``).
    SELF_TRADE = "self_trade"


@final
@attrs.frozen
class MakerFill:
    """Trade ``lots`` at ``price`` (the maker's price) against ``maker``."""

    maker: SimOrder
    price: int
    lots: int


@final
@attrs.frozen
class MakerExpire:
    """Expire ``maker`` (self-trade prevention, ``StpMode.EXPIRE_MAKER``), then keep matching."""

    maker: SimOrder


@final
@attrs.frozen
class Stop:
    kind: StopKind


Step: TypeAlias = MakerFill | MakerExpire | Stop


def reaches(side: Side, limit: int | None, price: int) -> bool:
    """Whether a taker of ``side`` with ``limit`` (``None``: market) may trade at ``price``."""
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


def take(book: Book, taker: SimOrder, quote_per_tick_lot: int, stp: StpMode) -> Iterator[Step]:
    """Steps to match ``taker``; the caller must apply each step before asking for the next.

    Applying a :class:`MakerFill` must fill the maker and the taker; applying a :class:`MakerExpire` must
    remove the maker from the book. The plan ends with exactly one :class:`Stop`.
    """
    opposite = book.side(taker.side.opposite)
    while True:
        if taker.size is not None and taker.remaining == 0:
            yield Stop(StopKind.DONE)
            return
        if taker.quote_size is not None and taker.filled_quote == taker.quote_size:
            # The budget is spent: done, even if that emptied the book (checked before the liquidity test).
            yield Stop(StopKind.DONE)
            return
        level = opposite.best()
        if level is None or not reaches(taker.side, taker.price, level.price):
            yield Stop(StopKind.NO_MATCH)
            return
        maker = level.front()
        if maker.account_id == taker.account_id and stp is not StpMode.NONE:
            if stp is StpMode.EXPIRE_TAKER:
                yield Stop(StopKind.SELF_TRADE)
                return
            yield MakerExpire(maker)
            continue
        lots = maker.remaining if taker.size is None else min(maker.remaining, taker.remaining)
        if taker.quote_size is not None:
            affordable = (taker.quote_size - taker.filled_quote) // (level.price * quote_per_tick_lot)
            if affordable == 0:
                yield Stop(StopKind.DONE)
                return
            lots = min(lots, affordable)
        yield MakerFill(maker, level.price, lots)


def fillable(
    book: Book,
    side: Side,
    account_id: str,
    limit: int | None,
    max_lots: int | None,
    quote_budget: int | None,
    quote_per_tick_lot: int,
    stp: StpMode,
) -> tuple[int, int]:
    """``(lots, quote_units)`` that :func:`take` would trade for such an order now; changes nothing."""
    lots_total = quote_total = 0
    for level in book.side(side.opposite):
        if not reaches(side, limit, level.price):
            break
        for maker in level.orders.values():
            if maker.account_id == account_id and stp is not StpMode.NONE:
                if stp is StpMode.EXPIRE_TAKER:
                    return lots_total, quote_total
                continue
            lots = maker.remaining
            if max_lots is not None:
                lots = min(lots, max_lots - lots_total)
            if quote_budget is not None:
                affordable = (quote_budget - quote_total) // (level.price * quote_per_tick_lot)
                if affordable == 0:
                    return lots_total, quote_total
                lots = min(lots, affordable)
            lots_total += lots
            quote_total += level.price * lots * quote_per_tick_lot
            if max_lots is not None and lots_total == max_lots:
                return lots_total, quote_total
    return lots_total, quote_total
