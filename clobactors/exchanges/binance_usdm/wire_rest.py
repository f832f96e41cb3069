"""Binance USD-M wire layer: REST bodies (exchange information, market data, orders, account, listen key).

Source: developers.binance.com/docs/derivatives/usds-margined-futures, the section named in each class.
Shared rules (see :mod:`clobactors.exchanges.binance.wire`): never forbid unknown fields, decimals are
:class:`~decimal.Decimal`; fields every documented example carries are required (so the simulator always
encodes them), fields some answers lack default to ``None`` and are omitted when the simulator encodes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, final

import msgspec

from clobactors.exchanges.binance.wire_base import Level, RateLimit, RestStruct
from clobactors.exchanges.binance_usdm.wire_filters import SymbolFilter, decode_filters

__all__ = [
    "ACCOUNT_BALANCES_DECODER",
    "CODE_MESSAGE_DECODER",
    "EXCHANGE_INFO_DECODER",
    "INCOME_DECODER",
    "LEVERAGE_DECODER",
    "LISTEN_KEY_DECODER",
    "ORDERS_DECODER",
    "ORDER_BOOK_DECODER",
    "ORDER_DECODER",
    "POSITION_RISK_DECODER",
    "PREMIUM_INDEX_DECODER",
    "USER_TRADES_DECODER",
    "AccountBalance",
    "AssetInfo",
    "CodeMessage",
    "ExchangeInfo",
    "Income",
    "LeverageResult",
    "ListenKey",
    "Order",
    "OrderBook",
    "PositionRisk",
    "PremiumIndex",
    "SymbolInfo",
    "UserTrade",
]

# -- exchange information and market data --------------------------------------------------------------------


@final
class SymbolInfo(RestStruct, frozen=True, kw_only=True):
    """One entry of ``symbols``: § Market Data › Exchange Information (``GET /fapi/v1/exchangeInfo``).

    ``filters`` stays raw (:meth:`symbol_filters`) so an unknown filter type is kept, not fatal.
    """

    symbol: str
    status: str
    contract_type: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    filters: tuple[msgspec.Raw, ...]
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]
    pair: str | None = None
    delivery_date: int | None = None
    onboard_date: int | None = None
    maint_margin_percent: Decimal | None = None
    required_margin_percent: Decimal | None = None
    price_precision: int | None = None
    quantity_precision: int | None = None
    base_asset_precision: int | None = None
    quote_precision: int | None = None
    underlying_type: str | None = None
    underlying_sub_type: tuple[str, ...] = ()
    settle_plan: int | None = None
    trigger_protect: Decimal | None = None
    liquidation_fee: Decimal | None = None
    market_take_bound: Decimal | None = None

    def symbol_filters(self) -> tuple[SymbolFilter, ...]:
        return decode_filters(self.filters)


@final
class AssetInfo(RestStruct, frozen=True, kw_only=True):
    """One entry of ``assets`` (Multi-Assets margin): § Exchange Information."""

    asset: str
    margin_available: bool
    auto_asset_exchange: Decimal | None = None


@final
class ExchangeInfo(RestStruct, frozen=True, kw_only=True):
    """§ Market Data › Exchange Information (``GET /fapi/v1/exchangeInfo``)."""

    timezone: str
    server_time: int
    rate_limits: tuple[RateLimit, ...]
    exchange_filters: tuple[msgspec.Raw, ...]
    symbols: tuple[SymbolInfo, ...]
    assets: tuple[AssetInfo, ...] = ()


@final
class OrderBook(RestStruct, frozen=True, kw_only=True):
    """§ Market Data › Order Book (``GET /fapi/v1/depth``): ``E`` message time, ``T`` transaction time."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time: int | None = msgspec.field(name="E", default=None)
    transaction_time: int | None = msgspec.field(name="T", default=None)


@final
class PremiumIndex(RestStruct, frozen=True, kw_only=True):
    """§ Market Data › Mark Price (``GET /fapi/v1/premiumIndex``): mark, index and funding."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    last_funding_rate: Decimal
    interest_rate: Decimal
    next_funding_time: int
    time: int


# -- orders --------------------------------------------------------------------------------------------------


@final
class Order(RestStruct, frozen=True, kw_only=True):
    """An order as every order endpoint returns it: § Trade › New Order, Cancel Order, Query Order and
    Current All Open Orders.

    ``cumQty``/``cumQuote``/``avgPrice`` are absent from some answers (the placement example of the Python
    SDK lacks ``avgPrice`` and ``cumQuote``); ``time`` only comes with queries.
    """

    symbol: str
    order_id: int
    client_order_id: str
    status: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    update_time: int
    position_side: str
    reduce_only: bool
    close_position: bool | None = None
    avg_price: Decimal | None = None
    cum_qty: Decimal | None = None
    cum_quote: Decimal | None = None
    stop_price: Decimal | None = None
    orig_type: str | None = None
    working_type: str | None = None
    price_protect: bool | None = None
    price_match: str | None = None
    self_trade_prevention_mode: str | None = None
    good_till_date: int | None = None
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    time: int | None = None


@final
class CodeMessage(RestStruct, frozen=True, kw_only=True):
    """``{"code": 200, "msg": "..."}``: the success answer of § Cancel All Open Orders, § Change Margin Type
    and § Change Position Mode (errors share the shape, with a negative code and a non-2xx status)."""

    code: int
    msg: str


@final
class UserTrade(RestStruct, frozen=True, kw_only=True):
    """§ Trade › Account Trade List (``GET /fapi/v1/userTrades``). No client order id: matched by order id."""

    symbol: str
    id: int
    order_id: int
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    buyer: bool
    maker: bool
    position_side: str
    margin_asset: str | None = None
    base_qty: Decimal | None = None
    pair: str | None = None


# -- account -------------------------------------------------------------------------------------------------


@final
class AccountBalance(RestStruct, frozen=True, kw_only=True):
    """§ Account › Futures Account Balance V3 (``GET /fapi/v3/balance``; V2 has the same shape)."""

    asset: str
    balance: Decimal
    cross_wallet_balance: Decimal
    available_balance: Decimal
    update_time: int
    account_alias: str | None = None
    cross_un_pnl: Decimal | None = None
    max_withdraw_amount: Decimal | None = None
    margin_available: bool | None = None


@final
class PositionRisk(RestStruct, frozen=True, kw_only=True):
    """One position: § Trade › Position Information V2 (``GET /fapi/v2/positionRisk``) and V3.

    V2 carries ``leverage`` (an integer as a string), ``marginType`` (``cross``/``isolated``) and
    ``maxNotionalValue``; V3 drops them and adds margins, ``marginAsset`` and ``adl``. Both shapes decode here.
    """

    symbol: str
    position_amt: Decimal
    entry_price: Decimal
    mark_price: Decimal
    un_realized_profit: Decimal
    liquidation_price: Decimal
    update_time: int
    position_side: str
    break_even_price: Decimal | None = None
    leverage: str | None = None
    max_notional_value: Decimal | None = None
    margin_type: str | None = None
    isolated_margin: Decimal | None = None
    is_auto_add_margin: str | None = None
    notional: Decimal | None = None
    isolated_wallet: Decimal | None = None
    margin_asset: str | None = None
    initial_margin: Decimal | None = None
    maint_margin: Decimal | None = None
    position_initial_margin: Decimal | None = None
    open_order_initial_margin: Decimal | None = None
    adl: int | None = None
    bid_notional: Decimal | None = None
    ask_notional: Decimal | None = None


@final
class LeverageResult(RestStruct, frozen=True, kw_only=True):
    """§ Trade › Change Initial Leverage (``POST /fapi/v1/leverage``)."""

    leverage: int
    max_notional_value: Decimal
    symbol: str


@final
class Income(RestStruct, frozen=True, kw_only=True):
    """§ Account › Get Income History (``GET /fapi/v1/income``); ``symbol`` is empty for transfers."""

    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time: int
    info: str
    tran_id: int
    trade_id: str


@final
class ListenKey(RestStruct, frozen=True, kw_only=True):
    """§ User Data Streams › Start / Keepalive User Data Stream (``POST``/``PUT /fapi/v1/listenKey``)."""

    listen_key: str


# -- prebuilt decoders ---------------------------------------------------------------------------------------

EXCHANGE_INFO_DECODER: Final = msgspec.json.Decoder(ExchangeInfo)
ORDER_BOOK_DECODER: Final = msgspec.json.Decoder(OrderBook)
PREMIUM_INDEX_DECODER: Final = msgspec.json.Decoder(PremiumIndex)
ORDER_DECODER: Final = msgspec.json.Decoder(Order)
ORDERS_DECODER: Final = msgspec.json.Decoder(list[Order])
CODE_MESSAGE_DECODER: Final = msgspec.json.Decoder(CodeMessage)
USER_TRADES_DECODER: Final = msgspec.json.Decoder(list[UserTrade])
ACCOUNT_BALANCES_DECODER: Final = msgspec.json.Decoder(list[AccountBalance])
POSITION_RISK_DECODER: Final = msgspec.json.Decoder(list[PositionRisk])
LEVERAGE_DECODER: Final = msgspec.json.Decoder(LeverageResult)
INCOME_DECODER: Final = msgspec.json.Decoder(list[Income])
LISTEN_KEY_DECODER: Final = msgspec.json.Decoder(ListenKey)
