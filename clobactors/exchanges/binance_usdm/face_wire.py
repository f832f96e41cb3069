"""Binance USD-M bodies only the simulator face sends: REST answers the client dialect never decodes.

Source: developers.binance.com/docs/derivatives/usds-margined-futures, the section named in each class. The
shapes the client decodes too (orders, positions, balances, stream events) live in :mod:`.wire` and are
shared; these follow the same rules (camelCase, decimals as strings, absent fields omitted).
"""

from __future__ import annotations

from decimal import Decimal
from typing import final

from clobactors.exchanges.binance.wire_base import RestStruct

__all__ = ["AccountAsset", "AccountInfo", "AccountPosition", "BookTicker", "DualSidePosition"]


@final
class BookTicker(RestStruct, frozen=True, kw_only=True):
    """§ Market Data › Symbol Order Book Ticker (``GET /fapi/v1/ticker/bookTicker``)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    time: int


@final
class DualSidePosition(RestStruct, frozen=True, kw_only=True):
    """§ Account › Get Current Position Mode (``GET /fapi/v1/positionSide/dual``): true is hedge mode."""

    dual_side_position: bool


@final
class AccountAsset(RestStruct, frozen=True, kw_only=True):
    """One element of ``assets``: § Account › Account Information V2 / V3 (V2 adds ``marginAvailable``)."""

    asset: str
    wallet_balance: Decimal
    unrealized_profit: Decimal
    margin_balance: Decimal
    maint_margin: Decimal
    initial_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    cross_wallet_balance: Decimal
    cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    update_time: int
    margin_available: bool | None = None


@final
class AccountPosition(RestStruct, frozen=True, kw_only=True):
    """One element of ``positions``: § Account Information V3 (V2 adds leverage, entry price, isolated...)."""

    symbol: str
    position_side: str
    position_amt: Decimal
    unrealized_profit: Decimal
    isolated_margin: Decimal
    notional: Decimal
    isolated_wallet: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    update_time: int
    leverage: str | None = None
    entry_price: Decimal | None = None
    max_notional: Decimal | None = None
    isolated: bool | None = None
    position_initial_margin: Decimal | None = None
    open_order_initial_margin: Decimal | None = None
    bid_notional: Decimal | None = None
    ask_notional: Decimal | None = None


@final
class AccountInfo(RestStruct, frozen=True, kw_only=True):
    """§ Account › Account Information V3 (``GET /fapi/v3/account``) and V2 (``/fapi/v2/account``: the
    optional fields). V3 lists only positions that are open (or have open orders); V2 lists every symbol."""

    total_initial_margin: Decimal
    total_maint_margin: Decimal
    total_wallet_balance: Decimal
    total_unrealized_profit: Decimal
    total_margin_balance: Decimal
    total_position_initial_margin: Decimal
    total_open_order_initial_margin: Decimal
    total_cross_wallet_balance: Decimal
    total_cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    assets: tuple[AccountAsset, ...]
    positions: tuple[AccountPosition, ...]
    fee_tier: int | None = None
    can_trade: bool | None = None
    can_deposit: bool | None = None
    can_withdraw: bool | None = None
    fee_burn: bool | None = None
    update_time: int | None = None
    multi_assets_margin: bool | None = None
    trade_group_id: int | None = None
