"""Pricing and hedge sizing of the cross-exchange market maker: pure functions over Decimals, no I/O, no clock.

Kept apart from :mod:`clobactors.strategies.cross_exchange` (the actor) so the arithmetic that decides whether a
fill can lose money is tested alone, with Hypothesis, and reads on one screen.

**The profit rule.** Fees are fractions of notional (``Decimal("0.001")`` is 0.1 %), the minimum profit
``min_profit_bps`` is basis points of the maker leg's notional. A maker fill of ``size`` at ``price`` is
hedged by *taking* ``size`` from the hedge book's top levels, which costs (or yields) ``take`` quote in all
(the sum of ``level price * size taken`` best first, so depth is priced, not just the touch):

* maker **bid** (we buy, then sell the hedge into the hedge bids):
  ``take * (1 - hedge_fee) >= price * size * (1 + maker_fee) * (1 + min_profit)``;
* maker **ask** (we sell, then buy the hedge from the hedge asks):
  ``price * size * (1 - maker_fee) >= take * (1 + hedge_fee) * (1 + min_profit)``.

:func:`quote_price` returns the least aggressive tick-rounded price that satisfies the rule (a bid rounded down,
an ask up) and checks it with exact products, so a quote is never inside the hedge book's executable price
less fees and profit, whatever the rounding of the division that found it.

**Hedge sizing.** :class:`HedgeLedger` holds the net exposure: maker fills minus hedge fills, signed (long is
positive). The size to hedge next is the exposure *plus what is already on its way* (hedge orders not yet
ended), rounded down to the hedge instrument's lot; what the lot (or the venue's minimum) leaves is carried in
the exposure and netted with the next fill, never dropped. Hedges never overshoot: a hedge is never larger
than what is pending.

**Hedges in doubt.** A hedge is entered under the client order id the strategy chose *before* it is sent, so
every update the venue publishes for it is counted, whatever became of the answer. When the send fails without
a definite answer (the order manager stopped, a timeout) the hedge stays on its way *in doubt*: its size is
still in :attr:`HedgeLedger.in_flight`, so it is never hedged a second time, until an update under its id
resolves it or the strategy, having checked, releases it (:meth:`~HedgeLedger.release`). Fills reported for
a released hedge still count, so the exposure stays true even then.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import Side

__all__ = [
    "Fees",
    "HedgeLedger",
    "HedgePlan",
    "affordable_size",
    "exposure_room",
    "floor_to",
    "is_profitable",
    "profit_limit",
    "protective_price",
    "quote_price",
    "quote_size",
    "take_cost",
]

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_BPS: Final = Decimal("0.0001")
#: Digits for the few divisions and the exact checks: products of exchange decimals stay far below this, so
#: the checks in :func:`is_profitable` are exact and a division is off by at most one unit in the 80th digit.
_PRECISION: Final = 80

#: One price level: ``(price, size)``.
Level = tuple[Decimal, Decimal]


def _exact() -> decimal.Context:
    return decimal.Context(prec=_PRECISION, rounding=decimal.ROUND_HALF_EVEN)


@final
@attrs.frozen
class Fees:
    """Fee rates as fractions of notional: ``maker`` on the resting quote, ``hedge`` on the aggressive hedge."""

    maker: Decimal
    hedge: Decimal

    def __attrs_post_init__(self) -> None:
        for name, rate in (("maker", self.maker), ("hedge", self.hedge)):
            if not rate.is_finite() or not _ZERO <= rate < _ONE:
                raise ConfigError(f"{name} fee must be a fraction in [0, 1), got {rate}")


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (unchanged when ``step`` is 0: no such rule)."""
    if step == 0:
        return value
    with decimal.localcontext(_exact()):
        return ((value / step).to_integral_value(rounding=ROUND_FLOOR) * step).quantize(step)


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    if step == 0:
        return value
    with decimal.localcontext(_exact()):
        return ((value / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(step)


def take_cost(levels: Iterable[Level], size: Decimal) -> Decimal | None:
    """Quote amount of taking ``size`` from ``levels`` (best first); None if they hold less than ``size``."""
    left, cost = size, _ZERO
    with decimal.localcontext(_exact()):
        for price, available in levels:
            if left <= 0:
                break
            taken = min(left, available)
            cost += price * taken
            left -= taken
    return cost if left <= 0 else None


def is_profitable(
    side: Side, price: Decimal, size: Decimal, cost: Decimal, fees: Fees, min_profit_bps: Decimal
) -> bool:
    """Whether a maker fill of ``size`` at ``price`` on ``side``, hedged for ``cost`` quote (see
    :func:`take_cost`), earns at least ``min_profit_bps`` after both fees. Exact (products only)."""
    with decimal.localcontext(_exact()):
        profit = _ONE + min_profit_bps * _BPS
        if side is Side.BUY:
            return cost * (_ONE - fees.hedge) >= price * size * (_ONE + fees.maker) * profit
        return price * size * (_ONE - fees.maker) >= cost * (_ONE + fees.hedge) * profit


def profit_limit(
    side: Side, hedge_levels: Sequence[Level], size: Decimal, fees: Fees, min_profit_bps: Decimal
) -> Decimal | None:
    """The least favourable maker price (unrounded) at which the profit rule holds for ``size``.

    ``hedge_levels`` are the levels the hedge takes: the hedge book's bids for a maker bid, its asks for a
    maker ask. None when they cannot absorb ``size`` or ``size`` is not positive.
    """
    if size <= 0:
        return None
    cost = take_cost(hedge_levels, size)
    if cost is None:
        return None
    with decimal.localcontext(_exact()):
        profit = _ONE + min_profit_bps * _BPS
        if side is Side.BUY:
            return cost * (_ONE - fees.hedge) / (size * (_ONE + fees.maker) * profit)
        return cost * (_ONE + fees.hedge) * profit / (size * (_ONE - fees.maker))


def quote_price(
    side: Side,
    hedge_levels: Sequence[Level],
    size: Decimal,
    fees: Fees,
    min_profit_bps: Decimal,
    *,
    tick: Decimal,
    maker_best_bid: Decimal | None = None,
    maker_best_ask: Decimal | None = None,
) -> Decimal | None:
    """The maker quote for ``side``: the profit limit rounded to ``tick`` away from the hedge (a bid down, an
    ask up), kept off the other side of the maker book so a post-only order is not refused for crossing.

    None when the hedge levels cannot absorb ``size`` or no positive price satisfies the rule. The result
    always satisfies :func:`is_profitable` (checked exactly, stepped one tick further if a division rounded
    the wrong way).
    """
    limit = profit_limit(side, hedge_levels, size, fees, min_profit_bps)
    cost = take_cost(hedge_levels, size)
    if limit is None or cost is None:
        return None
    if side is Side.BUY:
        price = floor_to(limit, tick)
        if maker_best_ask is not None and tick > 0:
            price = min(price, floor_to(maker_best_ask - tick, tick))
        while price > 0 and not is_profitable(side, price, size, cost, fees, min_profit_bps):
            price = price - tick if tick > 0 else _ZERO
        return price if price > 0 else None
    price = _ceil_to(limit, tick)
    if maker_best_bid is not None and tick > 0:
        price = max(price, _ceil_to(maker_best_bid + tick, tick))
    while tick > 0 and not is_profitable(side, price, size, cost, fees, min_profit_bps):
        price += tick
    return price if is_profitable(side, price, size, cost, fees, min_profit_bps) else None


def protective_price(side: Side, levels: Sequence[Level], size: Decimal, slippage_bps: Decimal, tick: Decimal) -> (
    Decimal | None
):
    """Limit price of an IOC hedge of ``size`` on ``side``: the worst level it would reach (the last level
    shown when they hold less), ``slippage_bps`` further, rounded to ``tick`` toward the book. None without
    levels."""
    worst: Decimal | None = None
    left = size
    for price, available in levels:
        worst = price
        left -= available
        if left <= 0:
            break
    if worst is None:
        return None
    with decimal.localcontext(_exact()):
        slip = slippage_bps * _BPS
        if side is Side.BUY:
            return floor_to(worst * (_ONE + slip), tick)
        price = _ceil_to(worst * (_ONE - slip), tick)
    return price if price > 0 else None


def exposure_room(side: Side, exposure: Decimal, max_unhedged: Decimal) -> Decimal:
    """How much more a quote on ``side`` may fill before the exposure passes ``max_unhedged``.

    Counts only the exposure on the side's own direction: hedges move the exposure toward zero and never
    past it, so a bid sized to this room keeps the long exposure within the limit until it is requoted.
    """
    own = max(exposure, _ZERO) if side is Side.BUY else max(-exposure, _ZERO)
    return max(_ZERO, max_unhedged - own)


def affordable_size(
    side: Side,
    *,
    perpetual: bool,
    base_free: Decimal,
    quote_free: Decimal,
    price: Decimal,
    fee: Decimal = _ZERO,
    leverage: int = 1,
) -> Decimal:
    """Largest size the free balances pay for on ``side`` at ``price``, fee included: quote for a spot buy,
    base for a spot sell, initial margin (``price * size / leverage``, either side) on a perpetual."""
    if price <= 0:
        return _ZERO
    with decimal.localcontext(_exact()):
        if perpetual:
            return max(_ZERO, quote_free * leverage / (price * (_ONE + fee)))
        if side is Side.BUY:
            return max(_ZERO, quote_free / (price * (_ONE + fee)))
        return max(_ZERO, base_free)


def quote_size(target: Decimal, caps: Iterable[Decimal], *, lots: Sequence[Decimal], minimum: Decimal) -> Decimal:
    """``target`` cut to every cap (hedge depth, exposure room, balances on both venues), rounded down to each
    lot in turn (hedge lot first, then the maker's: a multiple of both when one divides the other); 0 when
    the result is below ``minimum`` (the larger of both venues' minimum orders)."""
    size = min((target, *caps))
    for lot in lots:
        size = floor_to(size, lot)
    return size if size > 0 and size >= minimum else _ZERO


@final
@attrs.frozen
class HedgePlan:
    """The next hedge order: ``side`` and ``size`` (a lot multiple, at least the venue's minimum)."""

    side: Side
    size: Decimal


@final
@attrs.define
class _Hedge:
    side: Side
    size: Decimal
    filled: Decimal = _ZERO
    #: Sent without a definite answer and no update seen since: it may or may not exist on the venue.
    doubtful: bool = False
    #: The venue has reported on it (an answer or an update): it exists.
    seen: bool = False


#: Released hedges remembered for late fills (oldest forgotten first).
_RELEASED: Final = 256


@final
@attrs.define
class HedgeLedger:
    """Net exposure across both venues and the hedge orders on their way (see the module docstring)."""

    #: Signed base filled on the maker venue (bought positive) and by ended hedges.
    _settled: Decimal = _ZERO
    _open: dict[str, _Hedge] = attrs.field(factory=dict)
    #: Hedges released while in doubt, kept so a late report of their fills still counts.
    _released: dict[str, _Hedge] = attrs.field(factory=dict)
    maker_volume: Decimal = _ZERO
    hedge_volume: Decimal = _ZERO

    @property
    def exposure(self) -> Decimal:
        """Maker fills minus hedge fills, signed: long is positive."""
        return self._settled + sum((_signed(h.side, h.filled) for h in self._open.values()), _ZERO)

    @property
    def in_flight(self) -> Decimal:
        """Signed size of hedge orders sent and not ended (in doubt included), less what they filled."""
        return sum((_signed(h.side, h.size - h.filled) for h in self._open.values()), _ZERO)

    @property
    def pending(self) -> Decimal:
        """Exposure once every hedge on its way has filled: what the next hedge must flatten."""
        return self.exposure + self.in_flight

    def open_hedges(self) -> int:
        return len(self._open)

    def in_doubt(self) -> tuple[str, ...]:
        """Client order ids of the hedges in doubt now."""
        return tuple(cid for cid, hedge in self._open.items() if hedge.doubtful)

    def is_in_doubt(self, client_order_id: str) -> bool:
        hedge = self._open.get(client_order_id)
        return hedge is not None and hedge.doubtful

    def maker_fill(self, side: Side, size: Decimal) -> None:
        self._settled += _signed(side, size)
        self.maker_volume += size

    def hedge_sent(self, client_order_id: str, side: Side, size: Decimal) -> None:
        """A hedge is about to be sent under ``client_order_id``: from now on it counts as on its way."""
        if client_order_id in self._open or client_order_id in self._released:
            raise ConfigError(f"hedge {client_order_id!r} is already tracked")
        self._open[client_order_id] = _Hedge(side, size)

    def hedge_refused(self, client_order_id: str) -> None:
        """A definite refusal: the hedge never existed; its size is pending again (what it filled, if a
        report said so meanwhile, stays counted)."""
        hedge = self._open.pop(client_order_id, None)
        if hedge is not None:
            self._settled += _signed(hedge.side, hedge.filled)

    def hedge_in_doubt(self, client_order_id: str) -> bool:
        """The send failed without a definite answer: keep the hedge on its way, in doubt. False (and no
        change) when an update under its id has already shown it exists, or it has ended."""
        hedge = self._open.get(client_order_id)
        if hedge is None or hedge.seen:
            return False
        hedge.doubtful = True
        return True

    def release(self, client_order_id: str) -> bool:
        """Give up on a hedge still in doubt after the strategy's checks: its unfilled size is pending again.
        Its id is remembered so fills reported later still count. False when it is no longer in doubt."""
        hedge = self._open.get(client_order_id)
        if hedge is None or not hedge.doubtful:
            return False
        del self._open[client_order_id]
        self._settled += _signed(hedge.side, hedge.filled)
        self._released[client_order_id] = hedge
        while len(self._released) > _RELEASED:
            del self._released[next(iter(self._released))]
        return True

    def tracks(self, client_order_id: str) -> bool:
        return client_order_id in self._open or client_order_id in self._released

    def hedge_update(self, client_order_id: str, filled: Decimal, ended: bool) -> Decimal:
        """What the venue says a hedge has filled in all (never less than known before); ``ended`` settles
        it, any report resolves its doubt. Returns the newly filled size (0 for an unknown or repeated
        report)."""
        released = self._released.get(client_order_id)
        if released is not None:  # it existed after all: count what it filled, late
            new = max(_ZERO, min(filled, released.size) - released.filled)
            released.filled += new
            self.hedge_volume += new
            self._settled += _signed(released.side, new)
            return new
        hedge = self._open.get(client_order_id)
        if hedge is None:
            return _ZERO
        hedge.seen, hedge.doubtful = True, False
        new = max(_ZERO, min(filled, hedge.size) - hedge.filled)
        hedge.filled += new
        self.hedge_volume += new
        if ended:
            del self._open[client_order_id]
            self._settled += _signed(hedge.side, hedge.filled)
        return new

    def next_hedge(self, *, lot: Decimal, min_size: Decimal = _ZERO) -> HedgePlan | None:
        """The hedge that flattens what is pending, rounded down to ``lot``; None while that is below one lot
        or ``min_size`` (carried until more fills add to it). Hedges in doubt count as pending fills."""
        pending = self.pending
        size = floor_to(abs(pending), lot)
        if size <= 0 or size < min_size:
            return None
        return HedgePlan(side=Side.SELL if pending > 0 else Side.BUY, size=size)


def _signed(side: Side, size: Decimal) -> Decimal:
    return size if side is Side.BUY else -size
