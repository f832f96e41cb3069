"""Perpetual contract settings of the simulated exchange: leverage brackets, funding schedule and formula.

Binance publishes per symbol a table of *notional brackets* (``GET /fapi/v1/leverageBracket``): the larger a
position, the lower the highest leverage allowed and the higher the maintenance margin rate. The simulator
uses one simplified table for every symbol (:data:`DEFAULT_BRACKETS`, close to BTCUSDT's in 2024); the
``maxNotionalValue`` Binance reports for a leverage is the cap of the largest bracket that still allows it.

Funding (USD-M docs § Market Data › Get Funding Rate History; Binance's "Introduction to Binance Futures
Funding Rates"): every ``funding_interval`` (8 h, at 00:00, 08:00 and 16:00 UTC) positions exchange
``position notional at mark * funding rate``, longs paying shorts when the rate is positive. The rate is
``P + clamp(I - P, -premium_clamp, +premium_clamp)`` with ``P`` the average premium index of the interval and
``I`` the interest rate (0.01 % per interval), then capped at ``funding_cap``; see :mod:`.funding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError

__all__ = ["DEFAULT_BRACKETS", "FUNDING_INTERVAL_NS", "LeverageBracket", "PerpSettings"]

#: Eight hours: Binance settles funding at 00:00, 08:00 and 16:00 UTC.
FUNDING_INTERVAL_NS: Final = 8 * 3600 * 1_000_000_000
_SECOND_NS: Final = 1_000_000_000


def _copy_prices(prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return dict(prices)


@final
@attrs.frozen
class LeverageBracket:
    """Positions up to ``max_notional`` (quote) may use up to ``max_leverage``; maintenance at ``maint_rate``."""

    max_notional: Decimal
    max_leverage: int
    maint_rate: Decimal


#: Simplified from BTCUSDT's brackets (USD-M docs § Account › Notional and Leverage Brackets).
DEFAULT_BRACKETS: Final = (
    LeverageBracket(Decimal(50_000), 125, Decimal("0.004")),
    LeverageBracket(Decimal(250_000), 100, Decimal("0.005")),
    LeverageBracket(Decimal(3_000_000), 75, Decimal("0.0065")),
    LeverageBracket(Decimal(15_000_000), 50, Decimal("0.01")),
    LeverageBracket(Decimal(30_000_000), 25, Decimal("0.02")),
    LeverageBracket(Decimal(80_000_000), 20, Decimal("0.025")),
    LeverageBracket(Decimal(100_000_000), 10, Decimal("0.05")),
    LeverageBracket(Decimal(200_000_000), 5, Decimal("0.1")),
    LeverageBracket(Decimal(300_000_000), 4, Decimal("0.125")),
    LeverageBracket(Decimal(500_000_000), 3, Decimal("0.15")),
    LeverageBracket(Decimal(800_000_000), 2, Decimal("0.25")),
    LeverageBracket(Decimal(1_000_000_000), 1, Decimal("0.5")),
)


@final
@attrs.frozen
class PerpSettings:
    """How every perpetual of an engine margins and funds; the defaults follow Binance USD-M."""

    #: Leverage of a symbol until the account sets one (Binance's default is 20x).
    default_leverage: int = 20
    brackets: tuple[LeverageBracket, ...] = DEFAULT_BRACKETS
    funding_interval_ns: int = FUNDING_INTERVAL_NS
    #: Interest rate per funding interval (0.01 %).
    interest_rate: Decimal = Decimal("0.0001")
    premium_clamp: Decimal = Decimal("0.0005")
    funding_cap: Decimal = Decimal("0.0075")
    #: How often the mark price is recomputed (and a premium sampled): Binance updates it every second.
    mark_refresh_ns: int = _SECOND_NS
    #: Margin ratio (maintenance margin / margin balance) at which a MARGIN_CALL is sent.
    margin_call_ratio: Decimal = Decimal("0.8")
    #: Mark and index price per symbol before the book has any (else the first order's own price).
    reference_prices: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_copy_prices)

    def __attrs_post_init__(self) -> None:
        if not self.brackets:
            raise ConfigError("perpetuals need at least one leverage bracket")
        caps = [b.max_notional for b in self.brackets]
        levers = [b.max_leverage for b in self.brackets]
        if caps != sorted(caps) or levers != sorted(levers, reverse=True) or levers[-1] < 1:
            raise ConfigError("brackets must grow in notional and shrink in leverage, down to at least 1x")
        if not 1 <= self.default_leverage <= self.max_leverage:
            raise ConfigError(f"default leverage must be within 1..{self.max_leverage}")
        if self.funding_interval_ns <= 0 or self.mark_refresh_ns <= 0:
            raise ConfigError("funding interval and mark refresh must be positive")
        if self.funding_cap <= 0 or self.premium_clamp < 0:
            raise ConfigError("funding cap must be positive and the premium clamp not negative")

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].max_leverage

    def max_notional(self, leverage: int) -> Decimal:
        """Largest position notional allowed at ``leverage`` (Binance ``maxNotionalValue``)."""
        allowed = [b.max_notional for b in self.brackets if b.max_leverage >= leverage]
        return allowed[-1] if allowed else Decimal(0)

    def bracket(self, notional: Decimal) -> LeverageBracket:
        """The bracket a position of ``notional`` (absolute, quote) falls in; the last one beyond."""
        for bracket in self.brackets:
            if notional <= bracket.max_notional:
                return bracket
        return self.brackets[-1]
