"""Binance spot wire layer: REST bodies (exchange information, market data, orders, account, listen key).

The equivalent WebSocket API methods return the same shapes as their ``result``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, final

import msgspec

from clobactors.exchanges.binance.wire_base import NULL, Level, RateLimit, RestStruct
from clobactors.exchanges.binance.wire_filters import SymbolFilter, decode_filters

# -- exchange information and market data (REST) -------------------------------------------------------------


@final
class SymbolInfo(RestStruct, frozen=True, kw_only=True):
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
class ExchangeInfo(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Exchange information (``GET /api/v3/exchangeInfo``)."""

    timezone: str
    server_time: int
    rate_limits: tuple[RateLimit, ...]
    exchange_filters: tuple[msgspec.Raw, ...]
    symbols: tuple[SymbolInfo, ...]


class OrderBook(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Order book (``GET /api/v3/depth``)."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@final
class PartialBookDepth(OrderBook, frozen=True, kw_only=True):
    """Top-N book on ``<symbol>@depth<N>[@100ms]``: web-socket-streams.md § Partial Book Depth Streams."""


@final
class RecentTrade(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Recent trades list (``GET /api/v3/trades``)."""

    id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    is_buyer_maker: bool
    is_best_match: bool


@final
class BookTicker(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Symbol order book ticker (``GET /api/v3/ticker/bookTicker``)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal


@final
class Ticker24hr(RestStruct, frozen=True, kw_only=True):
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
class OrderAck(RestStruct, frozen=True, kw_only=True):
    """``newOrderRespType=ACK``: Binance spot API, rest-api.md § New order (TRADE), Response ACK."""

    symbol: str
    order_id: int
    order_list_id: int
    client_order_id: str
    transact_time: int


class _Order(RestStruct, frozen=True, kw_only=True):
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
class OrderFill(RestStruct, frozen=True, kw_only=True):
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
class OrderListEntry(RestStruct, frozen=True, kw_only=True):
    """One element of an order list's ``orders``: rest-api.md § Cancel All Open Orders on a Symbol (TRADE)."""

    symbol: str
    order_id: int
    client_order_id: str


@final
class OrderListStatus(RestStruct, frozen=True, kw_only=True):
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
class CancelReplaceResult(RestStruct, frozen=True, kw_only=True):
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
class CommissionRates(RestStruct, frozen=True, kw_only=True):
    """``commissionRates``: Binance spot API, rest-api.md § Account information (USER_DATA)."""

    maker: Decimal
    taker: Decimal
    buyer: Decimal
    seller: Decimal


@final
class AccountBalance(RestStruct, frozen=True, kw_only=True):
    """One element of ``balances``: Binance spot API, rest-api.md § Account information (USER_DATA)."""

    asset: str
    free: Decimal
    locked: Decimal


@final
class AccountInfo(RestStruct, frozen=True, kw_only=True):
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
class CommissionDiscount(RestStruct, frozen=True, kw_only=True):
    """``discount``: Binance spot API, rest-api.md § Query Commission Rates (USER_DATA)."""

    enabled_for_account: bool
    enabled_for_symbol: bool
    discount_asset: str
    discount: Decimal


@final
class AccountCommission(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Query Commission Rates (USER_DATA)."""

    symbol: str
    standard_commission: CommissionRates
    tax_commission: CommissionRates
    discount: CommissionDiscount
    special_commission: CommissionRates | None = None


@final
class MyTrade(RestStruct, frozen=True, kw_only=True):
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
class ListenKey(RestStruct, frozen=True, kw_only=True):
    """user-data-stream.md § Create a listenKey (USER_STREAM) (``POST /api/v3/userDataStream``)."""

    listen_key: str


# -- prebuilt decoders ---------------------------------------------------------------------------------------

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
