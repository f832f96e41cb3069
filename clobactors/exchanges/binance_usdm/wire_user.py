"""Binance USD-M wire layer: user data stream events (``<ws>[/private]/ws/<listenKey>``).

Source: USD-M docs § User Data Streams, the event page named in each class. Events Binance documents but
no command of ours produces (``STRATEGY_UPDATE``, ``GRID_UPDATE``, ``ALGO_UPDATE``,
``CONDITIONAL_ORDER_TRIGGER_REJECT``) are not decoded: :data:`USER_EVENT_TYPES` lets the codec count them
as ignored instead of failing on an unknown tag.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import WireStruct

__all__ = [
    "USER_EVENT_DECODER",
    "USER_EVENT_TYPES",
    "AccountConfig",
    "AccountConfigUpdate",
    "AccountUpdate",
    "AccountUpdateData",
    "BalanceEntry",
    "ListenKeyExpired",
    "MarginCall",
    "MarginCallPosition",
    "MultiAssetsConfig",
    "OrderTradeUpdate",
    "OrderUpdateData",
    "PositionEntry",
    "TradeLite",
    "UserDataEvent",
]


class _UserEvent(WireStruct, frozen=True, kw_only=True, tag_field="e"):
    """Base of user events: ``e`` event type (the tag) and ``E`` event time."""

    event_time: int = msgspec.field(name="E")


@final
class OrderUpdateData(WireStruct, frozen=True, kw_only=True):
    """``o`` of ORDER_TRADE_UPDATE: § Event: Order Update (every documented field).

    ``N``/``n`` (commission asset and amount) are absent when there is no commission; fields of conditional
    orders (``sp``, ``AP``, ``cr``, ``wt``...) default to ``None``.
    """

    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f")
    quantity: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    average_price: Decimal = msgspec.field(name="ap")
    execution_type: str = msgspec.field(name="x")
    order_status: str = msgspec.field(name="X")
    order_id: int = msgspec.field(name="i")
    last_filled_quantity: Decimal = msgspec.field(name="l")
    cumulative_filled_quantity: Decimal = msgspec.field(name="z")
    last_filled_price: Decimal = msgspec.field(name="L")
    trade_time: int = msgspec.field(name="T")
    trade_id: int = msgspec.field(name="t")
    is_maker: bool = msgspec.field(name="m")
    reduce_only: bool = msgspec.field(name="R")
    position_side: str = msgspec.field(name="ps")
    commission_asset: str | None = msgspec.field(name="N", default=None)
    commission: Decimal | None = msgspec.field(name="n", default=None)
    realized_profit: Decimal | None = msgspec.field(name="rp", default=None)
    stop_price: Decimal | None = msgspec.field(name="sp", default=None)
    bids_notional: Decimal | None = msgspec.field(name="b", default=None)
    asks_notional: Decimal | None = msgspec.field(name="a", default=None)
    working_type: str | None = msgspec.field(name="wt", default=None)
    original_order_type: str | None = msgspec.field(name="ot", default=None)
    close_position: bool | None = msgspec.field(name="cp", default=None)
    activation_price: Decimal | None = msgspec.field(name="AP", default=None)
    callback_rate: Decimal | None = msgspec.field(name="cr", default=None)
    price_protect: bool | None = msgspec.field(name="pP", default=None)
    ignore_si: int | None = msgspec.field(name="si", default=None)
    ignore_ss: int | None = msgspec.field(name="ss", default=None)
    self_trade_prevention_mode: str | None = msgspec.field(name="V", default=None)
    price_match: str | None = msgspec.field(name="pm", default=None)
    good_till_date: int | None = msgspec.field(name="gtd", default=None)
    expiry_reason: str | None = msgspec.field(name="er", default=None)
    margin_asset: str | None = msgspec.field(name="ma", default=None)


@final
class OrderTradeUpdate(_UserEvent, frozen=True, kw_only=True, tag="ORDER_TRADE_UPDATE"):
    """§ Event: Order Update: new order, status change, fill (``x == "TRADE"``)."""

    transaction_time: int = msgspec.field(name="T")
    order: OrderUpdateData = msgspec.field(name="o")


@final
class BalanceEntry(WireStruct, frozen=True, kw_only=True):
    """One element of ``a.B``: § Event: Balance and Position Update.

    ``bc`` is the balance change other than PnL and commission (a funding fee, a transfer).
    """

    asset: str = msgspec.field(name="a")
    wallet_balance: Decimal = msgspec.field(name="wb")
    cross_wallet_balance: Decimal = msgspec.field(name="cw")
    balance_change: Decimal | None = msgspec.field(name="bc", default=None)


@final
class PositionEntry(WireStruct, frozen=True, kw_only=True):
    """One element of ``a.P``: § Event: Balance and Position Update (margin type ``cross``/``isolated``)."""

    symbol: str = msgspec.field(name="s")
    position_amount: Decimal = msgspec.field(name="pa")
    entry_price: Decimal = msgspec.field(name="ep")
    accumulated_realized: Decimal = msgspec.field(name="cr")
    unrealized_pnl: Decimal = msgspec.field(name="up")
    margin_type: str = msgspec.field(name="mt")
    isolated_wallet: Decimal = msgspec.field(name="iw")
    position_side: str = msgspec.field(name="ps")
    breakeven_price: Decimal | None = msgspec.field(name="bep", default=None)


@final
class AccountUpdateData(WireStruct, frozen=True, kw_only=True):
    """``a`` of ACCOUNT_UPDATE: the reason ``m`` (ORDER, FUNDING_FEE, DEPOSIT...), balances, positions."""

    reason: str = msgspec.field(name="m")
    balances: tuple[BalanceEntry, ...] = msgspec.field(name="B", default=())
    positions: tuple[PositionEntry, ...] = msgspec.field(name="P", default=())


@final
class AccountUpdate(_UserEvent, frozen=True, kw_only=True, tag="ACCOUNT_UPDATE"):
    """§ Event: Balance and Position Update. Only changed balances and positions are listed."""

    transaction_time: int = msgspec.field(name="T")
    data: AccountUpdateData = msgspec.field(name="a")


@final
class MarginCallPosition(WireStruct, frozen=True, kw_only=True):
    """One element of ``p``: § Event: Margin Call (margin type ``CROSSED``/``ISOLATED`` here)."""

    symbol: str = msgspec.field(name="s")
    position_side: str = msgspec.field(name="ps")
    position_amount: Decimal = msgspec.field(name="pa")
    margin_type: str = msgspec.field(name="mt")
    isolated_wallet: Decimal = msgspec.field(name="iw")
    mark_price: Decimal = msgspec.field(name="mp")
    unrealized_pnl: Decimal = msgspec.field(name="up")
    maintenance_margin: Decimal = msgspec.field(name="mm")


@final
class MarginCall(_UserEvent, frozen=True, kw_only=True, tag="MARGIN_CALL"):
    """§ Event: Margin Call: risk guidance only (positions may already be liquidated)."""

    positions: tuple[MarginCallPosition, ...] = msgspec.field(name="p")
    cross_wallet_balance: Decimal | None = msgspec.field(name="cw", default=None)


@final
class ListenKeyExpired(_UserEvent, frozen=True, kw_only=True, tag="listenKeyExpired"):
    """§ Event: User Data Stream Expired: nothing more arrives until a new listen key is used."""

    listen_key: str | None = msgspec.field(name="listenKey", default=None)


@final
class TradeLite(_UserEvent, frozen=True, kw_only=True, tag="TRADE_LITE"):
    """§ Event: Trade Lite Update: a faster, smaller copy of ORDER_TRADE_UPDATE's TRADE executions."""

    transaction_time: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    quantity: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    is_maker: bool = msgspec.field(name="m")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    last_filled_price: Decimal = msgspec.field(name="L")
    last_filled_quantity: Decimal = msgspec.field(name="l")
    trade_id: int = msgspec.field(name="t")
    order_id: int = msgspec.field(name="i")


@final
class AccountConfig(WireStruct, frozen=True, kw_only=True):
    """``ac``: a symbol's new leverage (§ Event: Account Configuration Update)."""

    symbol: str = msgspec.field(name="s")
    leverage: int = msgspec.field(name="l")


@final
class MultiAssetsConfig(WireStruct, frozen=True, kw_only=True):
    """``ai``: the Multi-Assets margin mode (§ Event: Account Configuration Update)."""

    multi_assets: bool = msgspec.field(name="j")


@final
class AccountConfigUpdate(_UserEvent, frozen=True, kw_only=True, tag="ACCOUNT_CONFIG_UPDATE"):
    """§ Event: Account Configuration Update (previous Leverage Update)."""

    transaction_time: int = msgspec.field(name="T")
    symbol_config: AccountConfig | None = msgspec.field(name="ac", default=None)
    account_config: MultiAssetsConfig | None = msgspec.field(name="ai", default=None)


UserDataEvent: TypeAlias = (
    OrderTradeUpdate | AccountUpdate | MarginCall | ListenKeyExpired | TradeLite | AccountConfigUpdate
)

USER_EVENT_DECODER: Final[msgspec.json.Decoder[UserDataEvent]] = msgspec.json.Decoder(UserDataEvent)
#: Event types decoded into structs; other ``e`` values are documented extras the codec ignores.
USER_EVENT_TYPES: Final = frozenset(
    str(cls.__struct_config__.tag)
    for cls in (OrderTradeUpdate, AccountUpdate, MarginCall, ListenKeyExpired, TradeLite, AccountConfigUpdate)
)
