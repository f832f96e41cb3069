"""Binance spot wire layer: symbol and exchange filters (filters.md), decoded by ``filterType``."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Generic, TypeAlias, TypeVar, final

import msgspec

from clobactors.exchanges.binance.wire_base import ENCODER, RestStruct

# -- filters (filters.md) ------------------------------------------------------------------------------------


class _Filter(RestStruct, frozen=True, kw_only=True, tag_field="filterType"):
    """Base of known filters, tagged on ``filterType``: Binance spot API, filters.md."""


@final
class PriceFilter(_Filter, frozen=True, kw_only=True, tag="PRICE_FILTER"):
    """filters.md § Symbol filters › PRICE_FILTER (each rule is disabled when its value is 0)."""

    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@final
class PercentPrice(_Filter, frozen=True, kw_only=True, tag="PERCENT_PRICE"):
    """filters.md § Symbol filters › PERCENT_PRICE."""

    multiplier_up: Decimal
    multiplier_down: Decimal
    avg_price_mins: int


@final
class PercentPriceBySide(_Filter, frozen=True, kw_only=True, tag="PERCENT_PRICE_BY_SIDE"):
    """filters.md § Symbol filters › PERCENT_PRICE_BY_SIDE."""

    bid_multiplier_up: Decimal
    bid_multiplier_down: Decimal
    ask_multiplier_up: Decimal
    ask_multiplier_down: Decimal
    avg_price_mins: int


@final
class LotSize(_Filter, frozen=True, kw_only=True, tag="LOT_SIZE"):
    """filters.md § Symbol filters › LOT_SIZE."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@final
class MarketLotSize(_Filter, frozen=True, kw_only=True, tag="MARKET_LOT_SIZE"):
    """filters.md § Symbol filters › MARKET_LOT_SIZE."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@final
class MinNotional(_Filter, frozen=True, kw_only=True, tag="MIN_NOTIONAL"):
    """filters.md § Symbol filters › MIN_NOTIONAL."""

    min_notional: Decimal
    apply_to_market: bool
    avg_price_mins: int


@final
class Notional(_Filter, frozen=True, kw_only=True, tag="NOTIONAL"):
    """filters.md § Symbol filters › NOTIONAL."""

    min_notional: Decimal
    apply_min_to_market: bool
    max_notional: Decimal
    apply_max_to_market: bool
    avg_price_mins: int


@final
class IcebergParts(_Filter, frozen=True, kw_only=True, tag="ICEBERG_PARTS"):
    """filters.md § Symbol filters › ICEBERG_PARTS."""

    limit: int


@final
class MaxNumOrders(_Filter, frozen=True, kw_only=True, tag="MAX_NUM_ORDERS"):
    """filters.md § Symbol filters › MAX_NUM_ORDERS."""

    max_num_orders: int


@final
class MaxNumAlgoOrders(_Filter, frozen=True, kw_only=True, tag="MAX_NUM_ALGO_ORDERS"):
    """filters.md § Symbol filters › MAX_NUM_ALGO_ORDERS."""

    max_num_algo_orders: int


@final
class MaxNumIcebergOrders(_Filter, frozen=True, kw_only=True, tag="MAX_NUM_ICEBERG_ORDERS"):
    """filters.md § Symbol filters › MAX_NUM_ICEBERG_ORDERS."""

    max_num_iceberg_orders: int


@final
class MaxPosition(_Filter, frozen=True, kw_only=True, tag="MAX_POSITION"):
    """filters.md § Symbol filters › MAX_POSITION."""

    max_position: Decimal


@final
class TrailingDelta(_Filter, frozen=True, kw_only=True, tag="TRAILING_DELTA"):
    """filters.md § Symbol filters › TRAILING_DELTA (values in basis points)."""

    min_trailing_above_delta: int
    max_trailing_above_delta: int
    min_trailing_below_delta: int
    max_trailing_below_delta: int


@final
class ExchangeMaxNumOrders(_Filter, frozen=True, kw_only=True, tag="EXCHANGE_MAX_NUM_ORDERS"):
    """filters.md § Exchange Filters › EXCHANGE_MAX_NUM_ORDERS."""

    max_num_orders: int


@final
class ExchangeMaxNumAlgoOrders(_Filter, frozen=True, kw_only=True, tag="EXCHANGE_MAX_NUM_ALGO_ORDERS"):
    """filters.md § Exchange Filters › EXCHANGE_MAX_NUM_ALGO_ORDERS."""

    max_num_algo_orders: int


@final
class MaxAsset(_Filter, frozen=True, kw_only=True, tag="MAX_ASSET"):
    """filters.md § Asset Filters › MAX_ASSET."""

    asset: str
    limit: Decimal


@final
class UnknownFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A filter type not known here, kept verbatim: a new Binance filter never breaks decoding."""

    filter_type: str
    raw: msgspec.Raw


KnownFilter: TypeAlias = (
    PriceFilter
    | PercentPrice
    | PercentPriceBySide
    | LotSize
    | MarketLotSize
    | MinNotional
    | Notional
    | IcebergParts
    | MaxNumOrders
    | MaxNumAlgoOrders
    | MaxNumIcebergOrders
    | MaxPosition
    | TrailingDelta
    | ExchangeMaxNumOrders
    | ExchangeMaxNumAlgoOrders
    | MaxAsset
)
SymbolFilter: TypeAlias = KnownFilter | UnknownFilter


class _FilterTag(msgspec.Struct, frozen=True):
    filterType: str


_FILTER_TAG_DECODER: Final = msgspec.json.Decoder(_FilterTag)
_K = TypeVar("_K")


@final
class FilterCodec(Generic[_K]):
    """Two-stage filter decoding shared by Binance's spot and futures dialects.

    msgspec tagged unions reject unknown tags, so the tag is read first: known ``filterType`` values decode
    into the dialect's typed union, anything else becomes :class:`UnknownFilter` (kept verbatim, so a new
    Binance filter never breaks decoding and the simulator re-sends it unchanged).
    """

    def __init__(self, union: object, known: Iterable[type[msgspec.Struct]]) -> None:
        self._decoder: msgspec.json.Decoder[_K] = msgspec.json.Decoder(union)
        #: ``filterType`` values decoded into typed structs.
        self.known_types: frozenset[str] = frozenset(str(cls.__struct_config__.tag) for cls in known)

    def decode(self, raw: msgspec.Raw | bytes) -> _K | UnknownFilter:
        """One filter; an unknown ``filterType`` is kept raw, a malformed known one raises msgspec errors."""
        tag = _FILTER_TAG_DECODER.decode(raw).filterType
        if tag not in self.known_types:
            return UnknownFilter(filter_type=tag, raw=raw if isinstance(raw, msgspec.Raw) else msgspec.Raw(raw))
        return self._decoder.decode(raw)

    def decode_all(self, raws: Iterable[msgspec.Raw]) -> tuple[_K | UnknownFilter, ...]:
        """A ``filters`` or ``exchangeFilters`` array, kept raw in the structs."""
        return tuple(self.decode(raw) for raw in raws)

    @staticmethod
    def encode_all(filters: Iterable[object]) -> tuple[msgspec.Raw, ...]:
        """The simulator's inverse of :meth:`decode_all`: unknown filters go back out verbatim."""
        return tuple(f.raw if isinstance(f, UnknownFilter) else msgspec.Raw(ENCODER.encode(f)) for f in filters)


_CODEC: Final = FilterCodec[KnownFilter](
    KnownFilter,
    (
        PriceFilter, PercentPrice, PercentPriceBySide, LotSize, MarketLotSize, MinNotional, Notional,
        IcebergParts, MaxNumOrders, MaxNumAlgoOrders, MaxNumIcebergOrders, MaxPosition, TrailingDelta,
        ExchangeMaxNumOrders, ExchangeMaxNumAlgoOrders, MaxAsset,
    ),
)  # fmt: skip
#: ``filterType`` values decoded into typed structs; anything else becomes :class:`UnknownFilter`.
KNOWN_FILTER_TYPES: Final = _CODEC.known_types


def decode_filter(raw: msgspec.Raw | bytes) -> SymbolFilter:
    """Decode one filter object; an unknown ``filterType`` is kept raw, a malformed known one raises."""
    return _CODEC.decode(raw)


def decode_filters(raws: Iterable[msgspec.Raw]) -> tuple[SymbolFilter, ...]:
    """Decode a ``filters`` or ``exchangeFilters`` array, kept raw in the structs."""
    return _CODEC.decode_all(raws)


def encode_filters(filters: Iterable[SymbolFilter]) -> tuple[msgspec.Raw, ...]:
    """The simulator's inverse of :func:`decode_filters`: unknown filters go back out verbatim."""
    return FilterCodec.encode_all(filters)
