"""Trading rules of one instrument, exchange-neutral: tick, lot, minimums, and exact quantisation.

Dialects build :class:`InstrumentRules` from the exchange's own description (Binance exchangeInfo filters,
OKX instruments, ...). The order manager checks every order against them *before* it leaves, so a bad
price or size is a local, typed :class:`~clobactors.errors.TradingRuleViolation` instead of a round trip
and an exchange error code.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import final

import attrs

from clobactors.errors import TradingRuleViolation
from clobactors.model import Instrument, OrderType, Side

__all__ = ["InstrumentRules"]

_ZERO = Decimal(0)


def _on_grid(value: Decimal, step: Decimal) -> bool:
    return step == 0 or (value % step) == 0


@final
@attrs.frozen(kw_only=True)
class InstrumentRules:
    """What the exchange accepts for one instrument. A zero step or limit means "no such rule"."""

    instrument: Instrument
    tick_size: Decimal
    lot_size: Decimal
    min_size: Decimal = _ZERO
    max_size: Decimal = _ZERO
    #: Minimum price * size (quote value), checked for limit orders and, where the exchange does, market.
    min_notional: Decimal = _ZERO
    min_price: Decimal = _ZERO
    max_price: Decimal = _ZERO
    #: Lot step and bounds for market orders when the exchange sets them apart (Binance MARKET_LOT_SIZE).
    market_lot_size: Decimal = _ZERO
    market_max_size: Decimal = _ZERO
    #: Whether min_notional also applies to market orders (Binance NOTIONAL.applyMinToMarket).
    min_notional_applies_to_market: bool = True
    #: Whether the exchange accepts post-only (LIMIT_MAKER) orders on this instrument.
    post_only: bool = True
    #: Whether trading is open now (exchangeInfo status TRADING).
    trading: bool = True

    @property
    def name(self) -> str:
        return self.instrument.name

    def quantize_price(self, price: Decimal, side: Side | None = None) -> Decimal:
        """Round to the tick: down for bids, up for asks (never more aggressive), half-way if no side."""
        if self.tick_size == 0:
            return price
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING if side is Side.SELL else ROUND_DOWN
        steps = (price / self.tick_size).to_integral_value(rounding=rounding)
        return (steps * self.tick_size).quantize(self.tick_size)

    def quantize_size(self, size: Decimal, order_type: OrderType = OrderType.LIMIT) -> Decimal:
        """Round down to the lot step (never trade more than asked)."""
        step = self._lot(order_type)
        if step == 0:
            return size
        steps = (size / step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * step).quantize(step)

    def _lot(self, order_type: OrderType) -> Decimal:
        if order_type is OrderType.MARKET and self.market_lot_size != 0:
            return self.market_lot_size
        return self.lot_size

    def check(
        self,
        *,
        side: Side,
        order_type: OrderType,
        size: Decimal,
        price: Decimal | None,
        reference_price: Decimal | None = None,
        client_order_id: str = "",
    ) -> None:
        """Raise :class:`TradingRuleViolation` (``local=True``) if the exchange would refuse the order.

        ``reference_price`` (e.g. the mid) is used for a market order's notional when given.
        """

        def fail(why: str) -> TradingRuleViolation:
            return TradingRuleViolation(
                f"{self.name}: {why}", exchange=self.instrument.exchange, client_order_id=client_order_id,
                local=True,
            )

        if not self.trading:
            raise fail("instrument is not trading")
        if not size.is_finite() or size <= 0:
            raise fail(f"size {size} must be positive")
        if order_type is OrderType.LIMIT_MAKER and not self.post_only:
            raise fail("post-only orders are not accepted")
        step = self._lot(order_type)
        if not _on_grid(size, step):
            raise fail(f"size {size} is not a multiple of the lot size {step}")
        if size < self.min_size:
            raise fail(f"size {size} is below the minimum {self.min_size}")
        is_market = order_type is OrderType.MARKET
        max_size = self.market_max_size if is_market and self.market_max_size else self.max_size
        if max_size and size > max_size:
            raise fail(f"size {size} is above the maximum {max_size}")
        if order_type is OrderType.MARKET:
            if price is not None:
                raise fail("market orders take no price")
            applies = self.min_notional and self.min_notional_applies_to_market
            if applies and reference_price is not None and size * reference_price < self.min_notional:
                raise fail(f"notional {size * reference_price} is below the minimum {self.min_notional}")
            return
        if price is None:
            raise fail(f"{order_type.value} orders need a price")
        if not price.is_finite() or price <= 0:
            raise fail(f"price {price} must be positive")
        if not _on_grid(price, self.tick_size):
            raise fail(f"price {price} is not a multiple of the tick size {self.tick_size}")
        if self.min_price and price < self.min_price:
            raise fail(f"price {price} is below the minimum {self.min_price}")
        if self.max_price and price > self.max_price:
            raise fail(f"price {price} is above the maximum {self.max_price}")
        if self.min_notional and price * size < self.min_notional:
            raise fail(f"notional {price * size} is below the minimum {self.min_notional}")
