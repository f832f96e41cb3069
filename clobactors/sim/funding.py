"""Mark price, index price, premium and funding: pure formulas over ticks, units and Decimals.

* **Index price**: the book's mid at each refresh (Binance averages spot exchanges; the simulated book is
  the only market here), unless set from outside (:meth:`clobactors.sim.perp.Perps.set_index_price`).
* **Mark price**: the median of best bid, best ask and last trade price, i.e. the last price clamped into
  the spread, on the tick grid (a common "fair price" rule; Binance's is a median of index-based estimates
  and the last price). With one side missing it is that side, with no book the last price, else the index.
* **Premium index**: ``(mark - index) / index`` sampled at each refresh; the funding rate of an interval is
  ``P + clamp(I - P, -c, c)`` capped at ``±cap`` (:class:`~clobactors.sim.perp_config.PerpSettings`), rounded
  to 8 decimals as Binance publishes it. No sample: the interest rate alone.
* **Payment** of one position: ``floor(-size * mark * rate)`` quote units (signed size; positive: received).
  Rounding down favours the exchange on both sides; what it keeps is counted as the funding residual, so
  money is conserved exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

__all__ = ["RATE_QUANTUM", "funding_rate", "mark_ticks", "next_funding_ns", "payment_units", "premium"]

#: Funding rates and premiums are published with 8 decimals.
RATE_QUANTUM: Final = Decimal("0.00000001")


def next_funding_ns(now_ns: int, interval_ns: int) -> int:
    """The first funding time strictly after ``now_ns`` (multiples of the interval since the epoch: UTC)."""
    return (now_ns // interval_ns + 1) * interval_ns


def mark_ticks(bid: int | None, ask: int | None, last: int | None, index_ticks: int | None) -> int | None:
    """Median of bid, ask and last (see the module docstring), in ticks; ``None`` without any price."""
    if bid is not None and ask is not None:
        if last is None:
            return (bid + ask) // 2
        return sorted((bid, ask, last))[1]
    for price in (bid, ask, last, index_ticks):
        if price is not None:
            return price
    return None


def premium(mark: Decimal, index: Decimal) -> Decimal:
    return ((mark - index) / index).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def funding_rate(samples: Sequence[Decimal], interest: Decimal, clamp: Decimal, cap: Decimal) -> Decimal:
    """Binance's formula over the premium samples of one interval (module docstring)."""
    average = sum(samples, Decimal(0)) / len(samples) if samples else Decimal(0)
    rate = average + min(clamp, max(-clamp, interest - average))
    rate = min(cap, max(-cap, rate))
    return rate.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def payment_units(size_lots: int, mark: int, quote_per_tick_lot: int, rate: Decimal) -> int:
    """Quote units a position of signed ``size_lots`` receives (negative: pays) at ``mark`` ticks and ``rate``."""
    num, den = rate.as_integer_ratio()
    return (-size_lots * mark * quote_per_tick_lot * num) // den
