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

from clobactors.exchanges.binance.wire_base import ENCODER, RestStruct

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
class PriceFilter(_Filter, frozen=True, kw_only=True, tag="PRICE_FILTER"):
    """§ Filters › PRICE_FILTER (each rule disabled when 0)."""

    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@final
class LotSize(_Filter, frozen=True, kw_only=True, tag="LOT_SIZE"):
    """§ Filters › LOT_SIZE."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@final
class MarketLotSize(_Filter, frozen=True, kw_only=True, tag="MARKET_LOT_SIZE"):
    """§ Filters › MARKET_LOT_SIZE."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


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


@final
class UnknownFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A filter type not known here, kept verbatim so a new Binance filter never breaks decoding."""

    filter_type: str
    raw: msgspec.Raw


KnownFilter: TypeAlias = (
    PriceFilter | LotSize | MarketLotSize | MaxNumOrders | MaxNumAlgoOrders | PercentPrice | MinNotional
)
SymbolFilter: TypeAlias = KnownFilter | UnknownFilter


class _FilterTag(msgspec.Struct, frozen=True):
    filterType: str


_FILTER_TAG_DECODER: Final = msgspec.json.Decoder(_FilterTag)
_KNOWN_FILTER_DECODER: Final[msgspec.json.Decoder[KnownFilter]] = msgspec.json.Decoder(KnownFilter)
KNOWN_FILTER_TYPES: Final = frozenset(
    str(cls.__struct_config__.tag)
    for cls in (PriceFilter, LotSize, MarketLotSize, MaxNumOrders, MaxNumAlgoOrders, PercentPrice, MinNotional)
)


def decode_filter(raw: msgspec.Raw | bytes) -> SymbolFilter:
    """One filter; an unknown ``filterType`` is kept raw, a malformed known one raises msgspec errors."""
    tag = _FILTER_TAG_DECODER.decode(raw).filterType
    if tag not in KNOWN_FILTER_TYPES:
        return UnknownFilter(filter_type=tag, raw=raw if isinstance(raw, msgspec.Raw) else msgspec.Raw(raw))
    return _KNOWN_FILTER_DECODER.decode(raw)


def decode_filters(raws: Iterable[msgspec.Raw]) -> tuple[SymbolFilter, ...]:
    return tuple(decode_filter(raw) for raw in raws)


def encode_filters(filters: Iterable[SymbolFilter]) -> tuple[msgspec.Raw, ...]:
    """The simulator's inverse of :func:`decode_filters`: unknown filters go back out verbatim."""
    return tuple(f.raw if isinstance(f, UnknownFilter) else msgspec.Raw(ENCODER.encode(f)) for f in filters)
