"""The records and state of :class:`~clobactors.strategies.cross_exchange.CrossExchangeMaker`: its statistics,
one venue's market, rules, book and balances, a resting quote, and typed reads of its config parameters.

Split from the actor's module so the actor holds only its behaviour; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Final, final

import attrs

from clobactors.actors.book_view import BookView
from clobactors.errors import ConfigError
from clobactors.model import Instrument, InstrumentKind, OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.strategies.cross_exchange_pricing import affordable_size

__all__ = ["CrossExchangeStatistics", "Quote", "StrategyParams", "Venue", "ceil_to"]

_ZERO: Final = Decimal(0)


@final
@attrs.frozen
class CrossExchangeStatistics:
    """Counters of one :class:`CrossExchangeMaker`, with its exposure (base units, long positive) now."""

    quotes_placed: int
    quotes_cancelled: int
    requotes: int
    maker_fills: int
    #: Hedge orders placed, those that filled (in part or whole), and refused or empty attempts (retried).
    hedges_placed: int
    hedge_fills: int
    hedge_failures: int
    #: Hedges sent without a definite answer (the order manager stopped, a timeout): each stayed on its way
    #: until an update under its id, or the checks after ``hedge_doubt_timeout``, settled it.
    hedges_in_doubt: int
    maker_volume: Decimal
    hedge_volume: Decimal
    #: Maker fills minus hedge fills, and the signed size of hedges sent and not ended.
    exposure: Decimal
    in_flight: Decimal
    #: Not quoting now for a stale book or a down user stream (also before both books first synced), and how
    #: many times quoting stopped so after it had started.
    paused: bool
    pauses: int
    skipped_for_balance: int
    skipped_for_exposure: int
    skipped_for_depth: int
    errors: int


@final
@attrs.define
class Venue:
    """One side of the trade: a market, its rules, its live book and the free balances of its exchange."""

    exchange: str
    instrument: str
    perpetual: bool
    base: str
    #: The quote asset; on a perpetual, the margin (settle) asset.
    quote: str
    rules: InstrumentRules | None = None
    view: BookView | None = None
    free: dict[str, Decimal] = attrs.field(factory=dict)

    @classmethod
    def of(cls, exchange: str, instrument: str) -> Venue:
        kind, base, quote, settle = Instrument.parse_name(instrument)
        perpetual = kind is InstrumentKind.PERPETUAL
        return cls(exchange, instrument, perpetual, base, settle if perpetual else quote)

    @property
    def orders(self) -> str:
        return f"{self.exchange}.orders"

    @property
    def books(self) -> str:
        return f"{self.exchange}.books"

    def minimum(self, price: Decimal) -> Decimal:
        """Smallest order the rules take at ``price``: the minimum size, and the minimum notional in lots."""
        assert self.rules is not None
        rules, floor = self.rules, self.rules.min_size
        if rules.min_notional and price > 0:
            floor = max(floor, ceil_to(rules.min_notional / price, rules.lot_size))
        return floor

    def affordable(self, side: Side, price: Decimal, fee: Decimal, leverage: int) -> Decimal:
        return affordable_size(
            side, perpetual=self.perpetual, base_free=self.free.get(self.base, _ZERO),
            quote_free=self.free.get(self.quote, _ZERO), price=price, fee=fee, leverage=leverage,
        )  # fmt: skip


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


@final
@attrs.frozen
class StrategyParams:
    """Typed reads of a strategy's config parameters (decimals as strings, so they stay exact)."""

    name: str
    params: Mapping[str, object]

    def text(self, key: str) -> str:
        value = self.params.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.name}: parameter {key!r} is required (a string)")
        return value

    def dec(self, key: str, default: str) -> Decimal:
        value = self.params.get(key, default)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ConfigError(f"{self.name}: parameter {key!r} must be a decimal string")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ConfigError(f"{self.name}: parameter {key!r} is not a decimal: {value!r}") from None
        if not number.is_finite():
            raise ConfigError(f"{self.name}: parameter {key!r} must be finite")
        return number

    def integer(self, key: str, default: int) -> int:
        value = self.params.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self.name}: parameter {key!r} must be an integer")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.params.get(key, default)
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ConfigError(f"{self.name}: {key} must be a number of seconds")
        return float(value)

    def order_type(self, key: str) -> OrderType:
        value = self.params.get(key, "limit")
        if value not in ("limit", "market"):
            raise ConfigError(f"{self.name}: {key} must be 'limit' (IOC) or 'market'")
        return OrderType(str(value))


@final
@attrs.frozen
class Quote:
    client_order_id: str
    price: Decimal
    size: Decimal
    #: The hedge mid it was priced at.
    reference: Decimal
