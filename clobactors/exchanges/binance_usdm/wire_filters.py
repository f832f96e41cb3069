"""Binance USD-M wire layer: symbol filters of ``GET /fapi/v1/exchangeInfo``, decoded by ``filterType``.

Source: USD-M docs § Public Endpoints Info › Filters (common-definition). Futures filters differ from spot's:
``MIN_NOTIONAL`` carries only ``notional`` (checked against the mark price for market orders),
``MAX_NUM_ORDERS`` counts in ``limit``, and ``PERCENT_PRICE`` bounds prices by the mark price.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import RestStruct
from clobactors.exchanges.binance.wire_filters import FilterCodec, LotSize, MarketLotSize, PriceFilter, UnknownFilter

__all__ = [
    "KNOWN_FILTER_TYPES",
    "KnownFilter",
    "LotSize",
    "MarketLotSize",
    "MaxNumAlgoOrders",
    "MaxNumOrders",
    "MinNotional",
    "PercentPrice",
    "PriceFilter",
    "SymbolFilter",
    "UnknownFilter",
    "decode_filter",
    "decode_filters",
    "encode_filters",
]


class _Filter(RestStruct, frozen=True, kw_only=True, tag_field="filterType"):
    """Base of known futures filters, tagged on ``filterType``."""


@final
class MaxNumOrders(_Filter, frozen=True, kw_only=True, tag="MAX_NUM_ORDERS"):
    """§ Filters › MAX_NUM_ORDERS (open orders per symbol, algo orders included)."""

    limit: int


@final
class MaxNumAlgoOrders(_Filter, frozen=True, kw_only=True, tag="MAX_NUM_ALGO_ORDERS"):
    """§ Filters › MAX_NUM_ALGO_ORDERS."""

    limit: int


@final
class PercentPrice(_Filter, frozen=True, kw_only=True, tag="PERCENT_PRICE"):
    """§ Filters › PERCENT_PRICE: BUY ``price <= mark * multiplierUp``, SELL ``price >= mark * multiplierDown``.

    ``multiplierDecimal`` is a string in exchangeInfo and a number in the filter's own example; both are kept.
    """

    multiplier_up: Decimal
    multiplier_down: Decimal
    multiplier_decimal: str | int


@final
class MinNotional(_Filter, frozen=True, kw_only=True, tag="MIN_NOTIONAL"):
    """§ Filters › MIN_NOTIONAL: ``price * quantity >= notional`` (mark price for market orders)."""

    notional: Decimal


KnownFilter: TypeAlias = (
    PriceFilter | LotSize | MarketLotSize | MaxNumOrders | MaxNumAlgoOrders | PercentPrice | MinNotional
)
SymbolFilter: TypeAlias = KnownFilter | UnknownFilter

_CODEC: Final = FilterCodec[KnownFilter](
    KnownFilter, (PriceFilter, LotSize, MarketLotSize, MaxNumOrders, MaxNumAlgoOrders, PercentPrice, MinNotional)
)
KNOWN_FILTER_TYPES: Final = _CODEC.known_types


def decode_filter(raw: msgspec.Raw | bytes) -> SymbolFilter:
    """One filter; an unknown ``filterType`` is kept raw, a malformed known one raises msgspec errors."""
    return _CODEC.decode(raw)


def decode_filters(raws: Iterable[msgspec.Raw]) -> tuple[SymbolFilter, ...]:
    return _CODEC.decode_all(raws)


def encode_filters(filters: Iterable[SymbolFilter]) -> tuple[msgspec.Raw, ...]:
    """The simulator's inverse of :func:`decode_filters`: unknown filters go back out verbatim."""
    return FilterCodec.encode_all(filters)
