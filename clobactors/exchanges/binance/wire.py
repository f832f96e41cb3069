"""Binance spot wire types: msgspec mirrors of Binance's JSON, decoded by clients, encoded by the simulator.

Sources, cited per class: the binance/binance-spot-api-docs repository (``rest-api.md``,
``web-socket-streams.md``, ``user-data-stream.md``, ``web-socket-api.md``, ``filters.md``), also published at
https://developers.binance.com/docs/binance-spot-api-docs.

Rules that hold for every struct here:

* Wire structs never forbid unknown fields: Binance adds fields without notice, and an extra field must not
  break a connector.
* Prices, quantities and commissions are :class:`~decimal.Decimal`, decoded straight from Binance's decimal
  strings and encoded back as strings, so ``"0.00100000"`` survives a round trip digit for digit.
* Fields Binance always sends are required; fields it documents as conditional default to ``None`` (or
  ``()``) and are left out when encoding (``omit_defaults``), so the simulator emits what Binance emits.
* REST bodies use camelCase keys (``rename="camel"``); stream events use one-letter keys, given readable
  names through ``msgspec.field(name=...)``.
* Wire structs stay inside the dialect: a codec converts them to :mod:`clobactors.messages`.

Decode through :func:`decode_checked` to turn msgspec errors into
:class:`~clobactors.errors.RemoteProtocolError` carrying the msgspec path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, TypeAlias, TypeVar, final

import msgspec

from clobactors.errors import RecoveryHint, RemoteProtocolError

T = TypeVar("T")

#: A JSON ``null`` kept as raw bytes: the default of optional :class:`msgspec.Raw` fields (Raw cannot be in a
#: union with ``None``), omitted on encode.
NULL: Final = msgspec.Raw(b"null")

#: One book level as Binance sends it: ``["price", "qty"]``.
Level: TypeAlias = tuple[Decimal, Decimal]


class _Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every wire struct: immutable, keyword-only, unset optional fields omitted on encode."""


class _Rest(_Wire, frozen=True, kw_only=True, rename="camel"):
    """Base of camelCase JSON objects (REST bodies, WebSocket API results)."""


# -- general endpoints ---------------------------------------------------------------------------------------


@final
class Empty(_Rest, frozen=True, kw_only=True):
    """``{}``: rest-api.md § Test connectivity (``GET /api/v3/ping``); listenKey PUT/DELETE."""


@final
class ServerTime(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Check server time (``GET /api/v3/time``)."""

    server_time: int


class RateLimit(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § ENUM definitions › Rate limiters (rateLimitType)."""

    #: ``REQUEST_WEIGHT``, ``ORDERS`` or ``RAW_REQUESTS``.
    rate_limit_type: str
    #: ``SECOND``, ``MINUTE``, ``HOUR`` or ``DAY``.
    interval: str
    interval_num: int
    limit: int


@final
class RateLimitUsage(RateLimit, frozen=True, kw_only=True):
    """A rate limit with its current ``count``: Binance spot API, web-socket-api.md § Rate limits."""

    count: int


@final
class ErrorBody(_Rest, frozen=True, kw_only=True):
    """``{"code": -1121, "msg": "Invalid symbol."}``: Binance spot API, rest-api.md § Error Codes (errors.md).

    ``data`` carries extra detail on some errors (cancel-replace results, WebSocket API ``retryAfter``).
    """

    code: int
    msg: str
    data: msgspec.Raw = NULL


# -- filters (filters.md) ------------------------------------------------------------------------------------


class _Filter(_Rest, frozen=True, kw_only=True, tag_field="filterType"):
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
_KNOWN_FILTER_DECODER: Final[msgspec.json.Decoder[KnownFilter]] = msgspec.json.Decoder(KnownFilter)
#: ``filterType`` values decoded into typed structs; anything else becomes :class:`UnknownFilter`.
KNOWN_FILTER_TYPES: Final = frozenset(
    str(cls.__struct_config__.tag)
    for cls in (
        PriceFilter, PercentPrice, PercentPriceBySide, LotSize, MarketLotSize, MinNotional, Notional,
        IcebergParts, MaxNumOrders, MaxNumAlgoOrders, MaxNumIcebergOrders, MaxPosition, TrailingDelta,
        ExchangeMaxNumOrders, ExchangeMaxNumAlgoOrders, MaxAsset,
    )
)  # fmt: skip


def decode_filter(raw: msgspec.Raw | bytes) -> SymbolFilter:
    """Decode one filter object; an unknown ``filterType`` is kept raw, a malformed known one raises.

    Two stages because msgspec tagged unions reject unknown tags: read the tag, then pick the type.
    """
    tag = _FILTER_TAG_DECODER.decode(raw).filterType
    if tag not in KNOWN_FILTER_TYPES:
        return UnknownFilter(filter_type=tag, raw=raw if isinstance(raw, msgspec.Raw) else msgspec.Raw(raw))
    return _KNOWN_FILTER_DECODER.decode(raw)


def decode_filters(raws: Iterable[msgspec.Raw]) -> tuple[SymbolFilter, ...]:
    """Decode a ``filters`` or ``exchangeFilters`` array, kept raw in the structs."""
    return tuple(decode_filter(raw) for raw in raws)


def encode_filters(filters: Iterable[SymbolFilter]) -> tuple[msgspec.Raw, ...]:
    """The simulator's inverse of :func:`decode_filters`: unknown filters go back out verbatim."""
    return tuple(f.raw if isinstance(f, UnknownFilter) else msgspec.Raw(ENCODER.encode(f)) for f in filters)


# -- exchange information and market data (REST) -------------------------------------------------------------


@final
class SymbolInfo(_Rest, frozen=True, kw_only=True):
    """One entry of ``symbols``: Binance spot API, rest-api.md § Exchange information.

    ``filters`` stays raw (see :func:`decode_filters` / :meth:`symbol_filters`) so an unknown filter type is
    kept, not fatal.
    """

    symbol: str
    status: str
    base_asset: str
    base_asset_precision: int
    quote_asset: str
    quote_asset_precision: int
    order_types: tuple[str, ...]
    filters: tuple[msgspec.Raw, ...]
    permissions: tuple[str, ...]
    quote_precision: int | None = None
    base_commission_precision: int | None = None
    quote_commission_precision: int | None = None
    iceberg_allowed: bool | None = None
    oco_allowed: bool | None = None
    oto_allowed: bool | None = None
    quote_order_qty_market_allowed: bool | None = None
    allow_trailing_stop: bool | None = None
    cancel_replace_allowed: bool | None = None
    amend_allowed: bool | None = None
    is_spot_trading_allowed: bool | None = None
    is_margin_trading_allowed: bool | None = None
    permission_sets: tuple[tuple[str, ...], ...] = ()
    default_self_trade_prevention_mode: str | None = None
    allowed_self_trade_prevention_modes: tuple[str, ...] = ()

    def symbol_filters(self) -> tuple[SymbolFilter, ...]:
        return decode_filters(self.filters)


@final
class ExchangeInfo(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Exchange information (``GET /api/v3/exchangeInfo``)."""

    timezone: str
    server_time: int
    rate_limits: tuple[RateLimit, ...]
    exchange_filters: tuple[msgspec.Raw, ...]
    symbols: tuple[SymbolInfo, ...]


class OrderBook(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Order book (``GET /api/v3/depth``)."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@final
class PartialBookDepth(OrderBook, frozen=True, kw_only=True):
    """Top-N book on ``<symbol>@depth<N>[@100ms]``: web-socket-streams.md § Partial Book Depth Streams."""


@final
class RecentTrade(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Recent trades list (``GET /api/v3/trades``)."""

    id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    is_buyer_maker: bool
    is_best_match: bool


@final
class BookTicker(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Symbol order book ticker (``GET /api/v3/ticker/bookTicker``)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal


@final
class Ticker24hr(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § 24hr ticker price change statistics (``type=FULL``)."""

    symbol: str
    price_change: Decimal
    price_change_percent: Decimal
    weighted_avg_price: Decimal
    prev_close_price: Decimal
    last_price: Decimal
    last_qty: Decimal
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: int
    close_time: int
    first_id: int
    last_id: int
    count: int


# -- orders (REST and WebSocket API results) -----------------------------------------------------------------


@final
class OrderAck(_Rest, frozen=True, kw_only=True):
    """``newOrderRespType=ACK``: Binance spot API, rest-api.md § New order (TRADE), Response ACK."""

    symbol: str
    order_id: int
    order_list_id: int
    client_order_id: str
    transact_time: int


class _Order(_Rest, frozen=True, kw_only=True):
    """Fields of order results, cancels and queries; rest-api.md § Conditional fields in Order Responses."""

    symbol: str
    order_id: int
    order_list_id: int
    client_order_id: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal  # sic: Binance's spelling
    status: str
    time_in_force: str
    type: str
    side: str
    orig_quote_order_qty: Decimal | None = None
    working_time: int | None = None
    self_trade_prevention_mode: str | None = None
    stop_price: Decimal | None = None
    iceberg_qty: Decimal | None = None
    prevented_match_id: int | None = None
    prevented_quantity: Decimal | None = None
    strategy_id: int | None = None
    strategy_type: int | None = None
    trailing_delta: int | None = None
    trailing_time: int | None = None


class OrderResult(_Order, frozen=True, kw_only=True):
    """``newOrderRespType=RESULT``: Binance spot API, rest-api.md § New order (TRADE), Response RESULT."""

    transact_time: int


@final
class OrderFill(_Rest, frozen=True, kw_only=True):
    """One element of ``fills``: Binance spot API, rest-api.md § New order (TRADE), Response FULL."""

    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int


@final
class OrderFull(OrderResult, frozen=True, kw_only=True):
    """``newOrderRespType=FULL``: Binance spot API, rest-api.md § New order (TRADE), Response FULL."""

    fills: tuple[OrderFill, ...]


@final
class CanceledOrder(_Order, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Cancel order (TRADE) (``DELETE /api/v3/order``)."""

    orig_client_order_id: str
    transact_time: int | None = None


@final
class OrderInfo(_Order, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Query order (USER_DATA); also each element of § Current open orders."""

    time: int
    update_time: int
    is_working: bool


@final
class OrderListEntry(_Rest, frozen=True, kw_only=True):
    """One element of an order list's ``orders``: rest-api.md § Cancel All Open Orders on a Symbol (TRADE)."""

    symbol: str
    order_id: int
    client_order_id: str


@final
class OrderListStatus(_Rest, frozen=True, kw_only=True):
    """An order list (OCO...) in a cancel-all: rest-api.md § Cancel All Open Orders on a Symbol (TRADE)."""

    order_list_id: int
    contingency_type: str
    list_status_type: str
    list_order_status: str
    list_client_order_id: str
    transaction_time: int
    symbol: str
    orders: tuple[OrderListEntry, ...]
    order_reports: tuple[CanceledOrder, ...] = ()


@final
class CancelReplaceResult(_Rest, frozen=True, kw_only=True):
    """rest-api.md § Cancel an Existing Order and Send a New Order (TRADE), Response SUCCESS.

    Both responses stay raw: each is either an order or an :class:`ErrorBody`, and the new order's shape
    depends on ``newOrderRespType``.
    """

    cancel_result: str
    new_order_result: str
    cancel_response: msgspec.Raw = NULL
    new_order_response: msgspec.Raw = NULL


# -- account -------------------------------------------------------------------------------------------------


@final
class CommissionRates(_Rest, frozen=True, kw_only=True):
    """``commissionRates``: Binance spot API, rest-api.md § Account information (USER_DATA)."""

    maker: Decimal
    taker: Decimal
    buyer: Decimal
    seller: Decimal


@final
class AccountBalance(_Rest, frozen=True, kw_only=True):
    """One element of ``balances``: Binance spot API, rest-api.md § Account information (USER_DATA)."""

    asset: str
    free: Decimal
    locked: Decimal


@final
class AccountInfo(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Account information (USER_DATA) (``GET /api/v3/account``)."""

    maker_commission: int
    taker_commission: int
    buyer_commission: int
    seller_commission: int
    commission_rates: CommissionRates
    can_trade: bool
    can_withdraw: bool
    can_deposit: bool
    update_time: int
    account_type: str
    balances: tuple[AccountBalance, ...]
    permissions: tuple[str, ...]
    brokered: bool | None = None
    require_self_trade_prevention: bool | None = None
    prevent_sor: bool | None = None
    uid: int | None = None


@final
class CommissionDiscount(_Rest, frozen=True, kw_only=True):
    """``discount``: Binance spot API, rest-api.md § Query Commission Rates (USER_DATA)."""

    enabled_for_account: bool
    enabled_for_symbol: bool
    discount_asset: str
    discount: Decimal


@final
class AccountCommission(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Query Commission Rates (USER_DATA)."""

    symbol: str
    standard_commission: CommissionRates
    tax_commission: CommissionRates
    discount: CommissionDiscount
    special_commission: CommissionRates | None = None


@final
class MyTrade(_Rest, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Account trade list (USER_DATA) (``GET /api/v3/myTrades``)."""

    symbol: str
    id: int
    order_id: int
    order_list_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    is_best_match: bool


@final
class ListenKey(_Rest, frozen=True, kw_only=True):
    """user-data-stream.md § Create a listenKey (USER_STREAM) (``POST /api/v3/userDataStream``)."""

    listen_key: str


# -- market streams (web-socket-streams.md) ------------------------------------------------------------------


class _MarketEvent(_Wire, frozen=True, kw_only=True, tag_field="e"):
    """Base of market stream events that carry an ``e`` event type (the tag) and ``E`` event time."""

    event_time: int = msgspec.field(name="E")


@final
class DepthUpdate(_MarketEvent, frozen=True, kw_only=True, tag="depthUpdate"):
    """``<symbol>@depth[@100ms]``: Binance spot API, web-socket-streams.md § Diff. Depth Stream."""

    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: tuple[Level, ...] = msgspec.field(name="b")
    asks: tuple[Level, ...] = msgspec.field(name="a")


@final
class TradeEvent(_MarketEvent, frozen=True, kw_only=True, tag="trade"):
    """``<symbol>@trade``: Binance spot API, web-socket-streams.md § Trade Streams."""

    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    #: True when the buyer was the maker, i.e. the taker sold.
    buyer_is_maker: bool = msgspec.field(name="m")
    ignore: bool | None = msgspec.field(name="M", default=None)
    #: Buyer / seller order ids: in older revisions of the docs, since removed.
    buyer_order_id: int | None = msgspec.field(name="b", default=None)
    seller_order_id: int | None = msgspec.field(name="a", default=None)


@final
class AggTradeEvent(_MarketEvent, frozen=True, kw_only=True, tag="aggTrade"):
    """``<symbol>@aggTrade``: Binance spot API, web-socket-streams.md § Aggregate Trade Streams."""

    symbol: str = msgspec.field(name="s")
    agg_trade_id: int = msgspec.field(name="a")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="l")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    ignore: bool | None = msgspec.field(name="M", default=None)


@final
class ServerShutdown(_MarketEvent, frozen=True, kw_only=True, tag="serverShutdown"):
    """Sent before a planned disconnect: Binance spot API, web-socket-streams.md § Server Shutdown."""


@final
class BookTickerEvent(_Wire, frozen=True, kw_only=True):
    """``<symbol>@bookTicker`` (no ``e``): web-socket-streams.md § Individual Symbol Book Ticker Streams."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_price: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask_price: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")


#: Stream events tagged by ``e``; book ticker and partial depth carry no tag and are routed by stream name.
MarketEvent: TypeAlias = DepthUpdate | TradeEvent | AggTradeEvent | ServerShutdown
MarketPayload: TypeAlias = MarketEvent | BookTickerEvent | PartialBookDepth


@final
class CombinedStreamFrame(_Wire, frozen=True, kw_only=True):
    """``{"stream", "data"}`` on ``/stream?streams=``: web-socket-streams.md § General WSS information.

    ``data`` stays raw: the stream name picks its decoder (:func:`decode_stream_payload`), so a frame is
    parsed once per stage and never twice.
    """

    stream: str
    data: msgspec.Raw


@final
class StreamRequest(_Wire, frozen=True, kw_only=True):
    """``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY``...: web-socket-streams.md
    § Live Subscribing/Unsubscribing to streams.
    """

    method: str
    params: tuple[str | bool, ...] = ()
    id: int | str | None = None


@final
class StreamResponse(_Wire, frozen=True, kw_only=True):
    """``{"result": null, "id": 1}``: web-socket-streams.md § Live Subscribing/Unsubscribing."""

    result: tuple[str, ...] | bool | None
    id: int | str | None


@final
class StreamError(_Wire, frozen=True, kw_only=True):
    """``{"code": 2, "msg": "Invalid request: ...", "id": 1}``: web-socket-streams.md § Error Messages."""

    code: int
    msg: str
    id: int | str | None = None


# -- user data stream events (user-data-stream.md) -----------------------------------------------------------


class _UserEvent(_Wire, frozen=True, kw_only=True, tag_field="e"):
    """Base of user data events: ``e`` event type (the tag) and ``E`` event time."""

    event_time: int = msgspec.field(name="E")


@final
class ExecutionReport(_UserEvent, frozen=True, kw_only=True, tag="executionReport"):
    """Order update: Binance spot API, user-data-stream.md § Order Update (every documented field).

    Conditional fields (trailing stops, STP, SOR, pegged orders, strategies) default to ``None``.
    """

    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f")
    quantity: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    stop_price: Decimal = msgspec.field(name="P")
    iceberg_quantity: Decimal = msgspec.field(name="F")
    order_list_id: int = msgspec.field(name="g")
    #: Id of the order being canceled (empty otherwise).
    orig_client_order_id: str = msgspec.field(name="C")
    execution_type: str = msgspec.field(name="x")
    order_status: str = msgspec.field(name="X")
    reject_reason: str = msgspec.field(name="r")
    order_id: int = msgspec.field(name="i")
    last_executed_quantity: Decimal = msgspec.field(name="l")
    cumulative_filled_quantity: Decimal = msgspec.field(name="z")
    last_executed_price: Decimal = msgspec.field(name="L")
    commission_amount: Decimal = msgspec.field(name="n")
    commission_asset: str | None = msgspec.field(name="N")
    transaction_time: int = msgspec.field(name="T")
    trade_id: int = msgspec.field(name="t")
    execution_id: int = msgspec.field(name="I")
    is_working: bool = msgspec.field(name="w")
    is_maker: bool = msgspec.field(name="m")
    ignore: bool = msgspec.field(name="M")
    order_creation_time: int = msgspec.field(name="O")
    cumulative_quote_quantity: Decimal = msgspec.field(name="Z")
    last_quote_quantity: Decimal = msgspec.field(name="Y")
    quote_order_quantity: Decimal = msgspec.field(name="Q")
    working_time: int | None = msgspec.field(name="W", default=None)
    self_trade_prevention_mode: str | None = msgspec.field(name="V", default=None)
    trailing_delta: int | None = msgspec.field(name="d", default=None)
    trailing_time: int | None = msgspec.field(name="D", default=None)
    strategy_id: int | None = msgspec.field(name="j", default=None)
    strategy_type: int | None = msgspec.field(name="J", default=None)
    prevented_match_id: int | None = msgspec.field(name="v", default=None)
    prevented_quantity: Decimal | None = msgspec.field(name="A", default=None)
    last_prevented_quantity: Decimal | None = msgspec.field(name="B", default=None)
    trade_group_id: int | None = msgspec.field(name="u", default=None)
    counter_order_id: int | None = msgspec.field(name="U", default=None)
    counter_symbol: str | None = msgspec.field(name="Cs", default=None)
    prevented_execution_quantity: Decimal | None = msgspec.field(name="pl", default=None)
    prevented_execution_price: Decimal | None = msgspec.field(name="pL", default=None)
    prevented_execution_quote_qty: Decimal | None = msgspec.field(name="pY", default=None)
    match_type: str | None = msgspec.field(name="b", default=None)
    allocation_id: int | None = msgspec.field(name="a", default=None)
    working_floor: str | None = msgspec.field(name="k", default=None)
    used_sor: bool | None = msgspec.field(name="uS", default=None)
    peg_price_type: str | None = msgspec.field(name="gP", default=None)
    peg_offset_type: str | None = msgspec.field(name="gOT", default=None)
    peg_offset_value: int | None = msgspec.field(name="gOV", default=None)
    pegged_price: Decimal | None = msgspec.field(name="gp", default=None)
    expiry_reason: str | None = msgspec.field(name="eR", default=None)


@final
class PositionBalance(_Wire, frozen=True, kw_only=True):
    """One element of ``B``: user-data-stream.md § Account Update."""

    asset: str = msgspec.field(name="a")
    free: Decimal = msgspec.field(name="f")
    locked: Decimal = msgspec.field(name="l")


@final
class OutboundAccountPosition(_UserEvent, frozen=True, kw_only=True, tag="outboundAccountPosition"):
    """Balances that changed: Binance spot API, user-data-stream.md § Account Update."""

    last_update_time: int = msgspec.field(name="u")
    balances: tuple[PositionBalance, ...] = msgspec.field(name="B")


@final
class BalanceUpdate(_UserEvent, frozen=True, kw_only=True, tag="balanceUpdate"):
    """Deposit, withdrawal or transfer: Binance spot API, user-data-stream.md § Balance Update."""

    asset: str = msgspec.field(name="a")
    delta: Decimal = msgspec.field(name="d")
    clear_time: int = msgspec.field(name="T")


@final
class ListStatusOrder(_Wire, frozen=True, kw_only=True):
    """One element of ``O``: user-data-stream.md § Order Update (listStatus)."""

    symbol: str = msgspec.field(name="s")
    order_id: int = msgspec.field(name="i")
    client_order_id: str = msgspec.field(name="c")


@final
class ListStatus(_UserEvent, frozen=True, kw_only=True, tag="listStatus"):
    """Order list (OCO...) update: Binance spot API, user-data-stream.md § Order Update (listStatus)."""

    symbol: str = msgspec.field(name="s")
    order_list_id: int = msgspec.field(name="g")
    contingency_type: str = msgspec.field(name="c")
    list_status_type: str = msgspec.field(name="l")
    list_order_status: str = msgspec.field(name="L")
    list_reject_reason: str = msgspec.field(name="r")
    list_client_order_id: str = msgspec.field(name="C")
    transaction_time: int = msgspec.field(name="T")
    orders: tuple[ListStatusOrder, ...] = msgspec.field(name="O")


@final
class ListenKeyExpired(_UserEvent, frozen=True, kw_only=True, tag="listenKeyExpired"):
    """The listen key expired and its stream stops: user-data-stream.md § Listen Key Expired."""

    listen_key: str = msgspec.field(name="listenKey")


@final
class EventStreamTerminated(_UserEvent, frozen=True, kw_only=True, tag="eventStreamTerminated"):
    """The WebSocket API subscription ended (e.g. logout): user-data-stream.md § Event Stream Terminated."""


@final
class ExternalLockUpdate(_UserEvent, frozen=True, kw_only=True, tag="externalLockUpdate"):
    """Spot balance locked or unlocked by an external system: user-data-stream.md § External Lock Update."""

    asset: str = msgspec.field(name="a")
    delta: Decimal = msgspec.field(name="d")
    transaction_time: int = msgspec.field(name="T")


UserDataEvent: TypeAlias = (
    ExecutionReport
    | OutboundAccountPosition
    | BalanceUpdate
    | ListStatus
    | ListenKeyExpired
    | EventStreamTerminated
    | ExternalLockUpdate
)


# -- WebSocket API (web-socket-api.md) -----------------------------------------------------------------------

#: Values of a WebSocket API request's ``params``; decimals travel as strings, never floats.
ParamValue: TypeAlias = str | int | bool


@final
class WsApiRequest(_Wire, frozen=True, kw_only=True):
    """``{"id", "method", "params"}``: Binance spot API, web-socket-api.md § Request format.

    Signed requests (``session.logon``, ``userDataStream.subscribe.signature``, ``order.place``) get their
    ``apiKey``/``timestamp``/``signature`` params from
    :func:`clobactors.exchanges.binance.signing.sign_ws_params`.
    """

    id: int | str
    method: str
    params: dict[str, ParamValue] | None = None


@final
class WsApiResponse(_Rest, frozen=True, kw_only=True):
    """``{"id", "status", "result" | "error", "rateLimits"}``: web-socket-api.md § Response format.

    ``result`` stays raw (its type depends on the request's method; decode it with that method's decoder);
    it is :data:`NULL` on a failed request, whose ``error`` is set.
    """

    id: int | str | None
    status: int
    result: msgspec.Raw = NULL
    error: ErrorBody | None = None
    rate_limits: tuple[RateLimitUsage, ...] = ()


@final
class WsApiEvent(_Rest, frozen=True, kw_only=True):
    """``{"subscriptionId": n, "event": {...}}``: Binance spot API, web-socket-api.md § Event format."""

    event: msgspec.Raw
    subscription_id: int | None = None


@final
class UserDataSubscription(_Rest, frozen=True, kw_only=True):
    """Result of ``userDataStream.subscribe[.signature]``: web-socket-api.md § User Data Stream requests."""

    subscription_id: int


@final
class SessionStatus(_Rest, frozen=True, kw_only=True):
    """Result of ``session.logon`` / ``session.status``: web-socket-api.md § Session Authentication."""

    connected_since: int
    return_rate_limits: bool
    server_time: int
    api_key: str | None = None
    authorized_since: int | None = None
    user_data_stream: bool | None = None


# -- prebuilt decoders and the encoder (build once: msgspec docs, perf-tips.rst) -----------------------------


def _plain_decimal(value: Decimal) -> str:
    """Binance writes ``"0.00000000"``, never ``"0E-8"`` (which ``str(Decimal)`` gives): plain notation."""
    return format(value, "f")


#: Encodes wire structs as Binance does; decimals in plain notation (needs msgspec's callable
#: ``decimal_format``, msgspec >= 0.22).
ENCODER: Final = msgspec.json.Encoder(decimal_format=_plain_decimal)

ERROR_DECODER: Final = msgspec.json.Decoder(ErrorBody)
EMPTY_DECODER: Final = msgspec.json.Decoder(Empty)
SERVER_TIME_DECODER: Final = msgspec.json.Decoder(ServerTime)
EXCHANGE_INFO_DECODER: Final = msgspec.json.Decoder(ExchangeInfo)
ORDER_BOOK_DECODER: Final = msgspec.json.Decoder(OrderBook)
RECENT_TRADES_DECODER: Final = msgspec.json.Decoder(list[RecentTrade])
BOOK_TICKER_DECODER: Final = msgspec.json.Decoder(BookTicker)
BOOK_TICKERS_DECODER: Final = msgspec.json.Decoder(list[BookTicker])
TICKER_24HR_DECODER: Final = msgspec.json.Decoder(Ticker24hr)
TICKERS_24HR_DECODER: Final = msgspec.json.Decoder(list[Ticker24hr])
ORDER_ACK_DECODER: Final = msgspec.json.Decoder(OrderAck)
ORDER_RESULT_DECODER: Final = msgspec.json.Decoder(OrderResult)
ORDER_FULL_DECODER: Final = msgspec.json.Decoder(OrderFull)
CANCELED_ORDER_DECODER: Final = msgspec.json.Decoder(CanceledOrder)
CANCEL_REPLACE_DECODER: Final = msgspec.json.Decoder(CancelReplaceResult)
ORDER_INFO_DECODER: Final = msgspec.json.Decoder(OrderInfo)
OPEN_ORDERS_DECODER: Final = msgspec.json.Decoder(list[OrderInfo])
ORDER_LIST_STATUS_DECODER: Final = msgspec.json.Decoder(OrderListStatus)
ACCOUNT_DECODER: Final = msgspec.json.Decoder(AccountInfo)
ACCOUNT_COMMISSION_DECODER: Final = msgspec.json.Decoder(AccountCommission)
MY_TRADES_DECODER: Final = msgspec.json.Decoder(list[MyTrade])
LISTEN_KEY_DECODER: Final = msgspec.json.Decoder(ListenKey)

MARKET_EVENT_DECODER: Final[msgspec.json.Decoder[MarketEvent]] = msgspec.json.Decoder(MarketEvent)
BOOK_TICKER_EVENT_DECODER: Final = msgspec.json.Decoder(BookTickerEvent)
PARTIAL_DEPTH_DECODER: Final = msgspec.json.Decoder(PartialBookDepth)
COMBINED_FRAME_DECODER: Final = msgspec.json.Decoder(CombinedStreamFrame)
STREAM_REQUEST_DECODER: Final = msgspec.json.Decoder(StreamRequest)
STREAM_RESPONSE_DECODER: Final = msgspec.json.Decoder(StreamResponse)
STREAM_ERROR_DECODER: Final = msgspec.json.Decoder(StreamError)

USER_EVENT_DECODER: Final[msgspec.json.Decoder[UserDataEvent]] = msgspec.json.Decoder(UserDataEvent)
WS_API_REQUEST_DECODER: Final = msgspec.json.Decoder(WsApiRequest)
WS_API_RESPONSE_DECODER: Final = msgspec.json.Decoder(WsApiResponse)
WS_API_EVENT_DECODER: Final = msgspec.json.Decoder(WsApiEvent)
USER_DATA_SUBSCRIPTION_DECODER: Final = msgspec.json.Decoder(UserDataSubscription)
SESSION_STATUS_DECODER: Final = msgspec.json.Decoder(SessionStatus)


class _ListProbe(msgspec.Struct, frozen=True):
    contingencyType: str | None = None


_LIST_PROBE_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])
_LIST_ITEM_PROBE_DECODER: Final = msgspec.json.Decoder(_ListProbe)


def decode_cancel_all(body: bytes) -> list[CanceledOrder | OrderListStatus]:
    """``DELETE /api/v3/openOrders`` returns canceled orders and order lists mixed in one array.

    Elements are told apart by ``contingencyType`` (only order lists have it): rest-api.md § Cancel All
    Open Orders on a Symbol (TRADE).
    """
    out: list[CanceledOrder | OrderListStatus] = []
    for item in _LIST_PROBE_DECODER.decode(body):
        if _LIST_ITEM_PROBE_DECODER.decode(item).contingencyType is None:
            out.append(CANCELED_ORDER_DECODER.decode(item))
        else:
            out.append(ORDER_LIST_STATUS_DECODER.decode(item))
    return out


_PARTIAL_DEPTH_RE: Final = re.compile(r"@depth(?:5|10|20)(?:@\d+ms)?$")


def decode_stream_payload(stream: str, data: msgspec.Raw | bytes) -> MarketPayload:
    """Decode a market stream payload, typed by stream name (book ticker and partial depth carry no ``e``)."""
    if stream.endswith("@bookTicker"):
        return BOOK_TICKER_EVENT_DECODER.decode(data)
    if _PARTIAL_DEPTH_RE.search(stream):
        return PARTIAL_DEPTH_DECODER.decode(data)
    return MARKET_EVENT_DECODER.decode(data)


# -- malformed input -> RemoteProtocolError ------------------------------------------------------------------

_PATH_RE: Final = re.compile(r" - at `(?P<path>[^`]*)`$")


def protocol_error(
    exc: msgspec.DecodeError, *, what: str, hint: RecoveryHint = RecoveryHint.DROP, instrument: str = ""
) -> RemoteProtocolError:
    """Turn a msgspec decode/validation error into a :class:`RemoteProtocolError` with the msgspec path.

    ``what`` names the payload (``"depthUpdate"``, ``"GET /api/v3/depth"``); the caller picks the hint
    (a malformed depth update means resync, a malformed trade can be dropped).
    """
    text = str(exc)
    match = _PATH_RE.search(text)
    # msgspec names no path at the root: a ValidationError there is at "$"; malformed JSON has no path.
    path = match["path"] if match else ("$" if isinstance(exc, msgspec.ValidationError) else "")
    detail = text[: match.start()] if match else text
    return RemoteProtocolError(
        message=f"malformed Binance {what}: {detail}", hint=hint, instrument=instrument, path=path
    )


def decode_checked(
    decoder: msgspec.json.Decoder[T],
    data: msgspec.Raw | bytes,
    *,
    what: str,
    hint: RecoveryHint = RecoveryHint.DROP,
    instrument: str = "",
) -> T:
    """Decode with a prebuilt decoder; malformed bytes raise :class:`RemoteProtocolError` (with the path)."""
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise protocol_error(exc, what=what, hint=hint, instrument=instrument) from exc


def encode(obj: msgspec.Struct | list[msgspec.Struct]) -> bytes:
    """Encode a wire struct (or a list, for array responses) to JSON bytes, as Binance would send them."""
    return ENCODER.encode(obj)
