"""Trading rules of a simulated instrument, the outcomes they produce, and the exact integer scales.

The engine computes in integers so that no rounding can create or destroy money:

* a price is a count of ticks (``price = ticks * tick_size``);
* a size is a count of lot steps (``size = lots * lot_size``);
* a balance is a count of asset units (``amount = units * 10**-decimals``, eight decimals by default, as
  Binance reports balances).

:class:`Scale` holds the conversion factors of one instrument. Decimals appear only at the engine's API.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError

__all__ = [
    "DEFAULT_ASSET_DECIMALS",
    "ExpireReason",
    "InstrumentRules",
    "RejectReason",
    "Scale",
    "StpMode",
    "resolve_asset_decimals",
    "fee_units",
    "required_decimals",
    "to_units",
]

#: Balances are kept with this many decimals unless an instrument needs more.
DEFAULT_ASSET_DECIMALS: Final = 8


class RejectReason(enum.StrEnum):
    """Why a request was refused; nothing changed in the engine. Faces map these to error codes."""

    #: The symbol is not traded on this engine.
    UNKNOWN_SYMBOL = "unknown_symbol"
    #: No account with this id (API key) exists.
    UNKNOWN_ACCOUNT = "unknown_account"
    #: Cancel of an order that is not open (never existed, or already closed).
    UNKNOWN_ORDER = "unknown_order"
    #: Parameters that do not make an order: limit without price, post-only IOC, both size and quote size...
    INVALID_ORDER = "invalid_order"
    #: Price not positive or not a multiple of the tick size (Binance ``PRICE_FILTER``).
    FILTER_PRICE = "filter_price"
    #: Size not a multiple of the lot size, or outside ``[min_size, max_size]`` (Binance ``LOT_SIZE``).
    FILTER_LOT_SIZE = "filter_lot_size"
    #: Price times size below ``min_notional`` (Binance ``NOTIONAL``/``MIN_NOTIONAL``).
    FILTER_MIN_NOTIONAL = "filter_min_notional"
    #: Free balance does not cover what the order must lock.
    INSUFFICIENT_BALANCE = "insufficient_balance"
    #: A post-only order would have crossed the book (Binance -2010 "would immediately match and take").
    WOULD_TAKE = "would_take"
    #: An open order of this account and symbol already uses this client order id.
    DUPLICATE_CLIENT_ID = "duplicate_client_id"


class ExpireReason(enum.StrEnum):
    """Why an accepted order ended as ``EXPIRED`` (it received an order id and possibly fills first)."""

    #: The unfilled rest of an IOC limit order.
    IOC_REMAINDER = "ioc_remainder"
    #: A FOK order that could not fill completely on entry (accepted, then expired, as Binance does).
    FOK_UNFILLABLE = "fok_unfillable"
    #: A market order ran out of opposite liquidity before its size (or quote amount) was done.
    NO_LIQUIDITY = "no_liquidity"
    #: Self-trade prevention ended this order (taker or maker, depending on :class:`StpMode`).
    SELF_TRADE_PREVENTION = "self_trade_prevention"
    #: Perpetuals: a reduce-only (or hedge closing) order left larger than its position (Binance cancels it).
    REDUCE_ONLY = "reduce_only"


class StpMode(enum.StrEnum):
    """What happens when an order would trade against a resting order of the same account."""

    #: Trade anyway (the account pays both fees).
    NONE = "none"
    #: Expire the incoming order's remainder; the resting order stays.
    EXPIRE_TAKER = "expire_taker"
    #: Expire the resting order and keep matching (Binance's default on newer symbols).
    EXPIRE_MAKER = "expire_maker"


def _positive(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be a positive finite Decimal, got {value!r}")


def _split(value: Decimal) -> tuple[int, int]:
    """``value == mantissa * 10**exponent`` with the smallest integer mantissa (value positive, finite)."""
    norm = value.normalize()
    exponent = norm.as_tuple().exponent
    assert isinstance(exponent, int)
    return int(norm.scaleb(-exponent)), exponent


def _decimals_of(value: Decimal) -> int:
    """How many decimal places ``value`` needs (0 for integers)."""
    return max(0, -_split(value)[1])


@final
@attrs.frozen
class InstrumentRules:
    """The exchange's filters and fees for one symbol, and its two assets.

    ``min_size`` defaults to one lot; ``max_size`` ``None`` means unlimited. Fee rates are fractions
    (``Decimal("0.001")`` is 10 bps); a negative maker fee is a rebate paid out of the collected fees.
    """

    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_size: Decimal | None = None
    max_size: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)

    def __attrs_post_init__(self) -> None:
        if not self.base or not self.quote or self.base == self.quote:
            raise ConfigError(f"instrument needs two distinct assets, got {self.base!r}/{self.quote!r}")
        _positive("tick_size", self.tick_size)
        _positive("lot_size", self.lot_size)
        for name, value in (("min_size", self.min_size), ("max_size", self.max_size)):
            if value is not None:
                _positive(name, value)
                if value % self.lot_size != 0:
                    raise ConfigError(f"{name} {value} is not a multiple of lot_size {self.lot_size}")
        if self.min_size is not None and self.max_size is not None and self.max_size < self.min_size:
            raise ConfigError("max_size is below min_size")
        if not self.min_notional.is_finite() or self.min_notional < 0:
            raise ConfigError(f"min_notional must be >= 0, got {self.min_notional}")
        for name, fee in (("maker_fee", self.maker_fee), ("taker_fee", self.taker_fee)):
            if not fee.is_finite() or not -1 < fee < 1:
                raise ConfigError(f"{name} must be a fraction in (-1, 1), got {fee}")
        if self.taker_fee < 0 or self.maker_fee + self.taker_fee < 0:
            raise ConfigError("a trade must not pay out more rebate than it collects in fees")


def required_decimals(rules: InstrumentRules) -> dict[str, int]:
    """Decimals each asset needs so that every lot and every tick*lot notional is a whole number of units."""
    return {
        rules.base: _decimals_of(rules.lot_size),
        rules.quote: _decimals_of(rules.tick_size * rules.lot_size),
    }


def _fee_ratio(rate: Decimal) -> tuple[int, int]:
    num, den = rate.as_integer_ratio()
    return num, den


@final
@attrs.frozen
class Scale:
    """Integer conversion factors for one instrument, given the decimals of its assets."""

    rules: InstrumentRules
    base_decimals: int
    quote_decimals: int
    _tick: tuple[int, int]
    _lot: tuple[int, int]
    #: Base units in one lot.
    base_per_lot: int
    #: Quote units in one tick times one lot (the notional of one lot at a price of one tick).
    quote_per_tick_lot: int
    min_lots: int
    #: ``None``: no maximum.
    max_lots: int | None
    #: Smallest notional in quote units (rounded up: an integer notional >= x iff it is >= ceil(x)).
    min_notional_units: int
    maker_fee: tuple[int, int]
    taker_fee: tuple[int, int]

    @classmethod
    def build(cls, rules: InstrumentRules, base_decimals: int, quote_decimals: int) -> Scale:
        need = required_decimals(rules)
        if base_decimals < need[rules.base] or quote_decimals < need[rules.quote]:
            raise ConfigError(
                f"asset decimals too small for {rules.base}/{rules.quote}: need {need[rules.base]} and "
                f"{need[rules.quote]} to hold one lot and one tick*lot notional exactly"
            )
        tick, lot = _split(rules.tick_size), _split(rules.lot_size)
        min_lots = 1 if rules.min_size is None else int(rules.min_size / rules.lot_size)
        max_lots = None if rules.max_size is None else int(rules.max_size / rules.lot_size)
        return cls(
            rules=rules,
            base_decimals=base_decimals,
            quote_decimals=quote_decimals,
            tick=tick,
            lot=lot,
            base_per_lot=int(rules.lot_size.scaleb(base_decimals)),
            quote_per_tick_lot=int((rules.tick_size * rules.lot_size).scaleb(quote_decimals)),
            min_lots=min_lots,
            max_lots=max_lots,
            min_notional_units=int(
                rules.min_notional.scaleb(quote_decimals).to_integral_value(rounding=ROUND_CEILING)
            ),
            maker_fee=_fee_ratio(rules.maker_fee),
            taker_fee=_fee_ratio(rules.taker_fee),
        )

    def ticks(self, price: Decimal) -> int | None:
        """Price as a whole number of ticks, or ``None`` if it is not positive or off the tick grid."""
        return _on_grid(price, self._tick)

    def lots(self, size: Decimal) -> int | None:
        """Size as a whole number of lots, or ``None`` if it is not positive or off the lot grid."""
        return _on_grid(size, self._lot)

    def price(self, ticks: int) -> Decimal:
        return Decimal(ticks) * self.rules.tick_size

    def size(self, lots: int) -> Decimal:
        return Decimal(lots) * self.rules.lot_size

    def quote(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.quote_decimals)

    def base(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.base_decimals)

    def notional(self, ticks: int, lots: int) -> int:
        """Quote units of ``lots`` at ``ticks``."""
        return ticks * lots * self.quote_per_tick_lot


def fee_units(amount: int, ratio: tuple[int, int]) -> int:
    """Fee on ``amount`` units at rate ``num/den``, rounded up (in the exchange's favour, as exchanges do).

    For a rate below one the fee never exceeds the amount, so a received amount never goes negative.
    """
    num, den = ratio
    return -((-amount * num) // den)


def _on_grid(value: Decimal, grid: tuple[int, int]) -> int | None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        return None
    mantissa, exponent = grid
    scaled = value.scaleb(-exponent)
    if scaled != scaled.to_integral_value():
        return None
    steps, rest = divmod(int(scaled), mantissa)
    return None if rest else steps


def to_units(amount: Decimal, decimals: int) -> int | None:
    """``amount`` as whole units at ``decimals``, or ``None`` if it is not finite or has more decimals."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return None
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def resolve_asset_decimals(rules: Mapping[str, InstrumentRules], given: Mapping[str, int]) -> dict[str, int]:
    """Decimals per asset: the given ones, else the default, raised where an instrument needs more."""
    decimals = dict(given)
    for r in rules.values():
        for asset, need in required_decimals(r).items():
            if asset in given:
                if given[asset] < need:
                    raise ConfigError(f"{asset} needs at least {need} decimals for its instruments")
            else:
                decimals[asset] = max(decimals.get(asset, DEFAULT_ASSET_DECIMALS), need)
    return decimals
