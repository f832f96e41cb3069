"""What the engine hands out about perpetuals: positions, margin balances, income, premium, and events.

Frozen msgspec Structs with Decimal amounts, like :mod:`clobactors.sim.records` (which puts the events here in
its :data:`~clobactors.sim.records.EngineEvent` union). Sizes are signed (a short is negative), as Binance's
``positionAmt``; the fields follow what Binance USD-M reports (Position Information, Futures Account Balance,
Income History, Mark Price, ACCOUNT_UPDATE, MARGIN_CALL, ACCOUNT_CONFIG_UPDATE) so a face only renames them.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import final

import msgspec

from clobactors.model import MarginType, PositionMode, PositionSide

__all__ = [
    "AccountConfigEvent",
    "AccountUpdateEvent",
    "BalanceChange",
    "FundingEvent",
    "Income",
    "IncomeType",
    "MarginBalance",
    "MarginCallEvent",
    "PerpReject",
    "PositionInfo",
    "PremiumInfo",
    "UpdateReason",
]


class PerpReject(enum.StrEnum):
    """The perpetual rule behind a :class:`~clobactors.sim.records.Rejection` (its ``perp`` field)."""

    #: A reduce-only (or hedge-mode closing) order that cannot reduce: no position to reduce, or it is taken.
    REDUCE_ONLY = "reduce_only"
    #: ``position_side`` does not fit the account's position mode (LONG/SHORT in one-way, BOTH in hedge).
    POSITION_SIDE = "position_side"
    #: ``reduce_only`` given in hedge mode (closing there is the side opposite the leg).
    REDUCE_ONLY_IN_HEDGE = "reduce_only_in_hedge"
    #: The position plus open orders would exceed the leverage's maximum notional.
    MAX_NOTIONAL = "max_notional"
    #: Leverage outside ``1..max_leverage``.
    INVALID_LEVERAGE = "invalid_leverage"
    #: Lower leverage would leave the account short of margin.
    LEVERAGE_MARGIN = "leverage_margin"
    #: The setting already has the requested value (Binance -4046 / -4059).
    NO_CHANGE = "no_change"
    #: Margin type or position mode cannot change with open orders.
    OPEN_ORDERS = "open_orders"
    #: Margin type or position mode cannot change with an open position.
    OPEN_POSITION = "open_position"
    #: A spot-only parameter (a quote-sized order) sent to a perpetual, or a perpetual one to spot.
    NOT_SUPPORTED = "not_supported"
    #: An amendment of an order that is not a LIMIT order (Binance -5025).
    LIMIT_ONLY = "limit_only"
    #: An order already amended the maximum number of times (Binance -5026).
    MODIFY_LIMIT = "modify_limit"


class IncomeType(enum.StrEnum):
    """Kinds of income records (Binance ``incomeType``)."""

    REALIZED_PNL = "REALIZED_PNL"
    FUNDING_FEE = "FUNDING_FEE"
    COMMISSION = "COMMISSION"
    TRANSFER = "TRANSFER"


class UpdateReason(enum.StrEnum):
    """Why balances or positions changed (Binance ACCOUNT_UPDATE ``m``)."""

    ORDER = "ORDER"
    FUNDING_FEE = "FUNDING_FEE"
    DEPOSIT = "DEPOSIT"
    MARGIN_TYPE_CHANGE = "MARGIN_TYPE_CHANGE"


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of perpetual records."""


@final
class PositionInfo(_Record, frozen=True, kw_only=True):
    """One position (one per symbol in one-way mode, one per leg in hedge mode), valued at the mark price.

    ``realized_pnl`` is accumulated over the position's life (Binance ``cr``); ``liquidation_price`` is 0 when
    the account cannot be liquidated by this position alone (as Binance reports it).
    """

    account_id: str
    symbol: str
    position_side: PositionSide
    size: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    notional: Decimal
    margin_type: MarginType
    isolated_wallet: Decimal
    leverage: int
    max_notional: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    open_order_margin: Decimal
    liquidation_price: Decimal
    margin_asset: str
    updated_ns: int


@final
class MarginBalance(_Record, frozen=True, kw_only=True):
    """One margin asset of an account (Binance ``/fapi/v3/balance`` and ``/fapi/v3/account``).

    ``available_balance = cross_wallet_balance + cross_unrealized_pnl - position_margin - order_margin``;
    it can go negative when prices move against positions (the simulator does not liquidate).
    """

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    unrealized_pnl: Decimal
    cross_unrealized_pnl: Decimal
    available_balance: Decimal
    position_margin: Decimal
    order_margin: Decimal
    maint_margin: Decimal
    updated_ns: int


@final
class Income(_Record, frozen=True, kw_only=True):
    """One income record (Binance ``GET /fapi/v1/income``); ``amount`` is signed (negative: paid)."""

    account_id: str
    symbol: str
    income_type: IncomeType
    amount: Decimal
    asset: str
    ts_ns: int
    tran_id: int
    trade_id: int | None = None


@final
class PremiumInfo(_Record, frozen=True, kw_only=True):
    """Mark, index and funding of one symbol (Binance ``premiumIndex``); ``funding_rate`` is the estimate for
    the next settlement, ``last_settled_rate`` the rate of the previous one."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    last_settled_rate: Decimal | None
    interest_rate: Decimal
    next_funding_ns: int
    ts_ns: int


@final
class BalanceChange(_Record, frozen=True, kw_only=True):
    """A balance in an :class:`AccountUpdateEvent`; ``change`` excludes PnL and fees (funding, deposits)."""

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    change: Decimal


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=str.lower):
    """Same base shape as the engine's other events (``ts_ns``: the time of the call that caused it)."""

    ts_ns: int


@final
class AccountUpdateEvent(_Event, frozen=True, kw_only=True):
    """Balances and positions of one account that one engine call changed (Binance ACCOUNT_UPDATE)."""

    account_id: str
    reason: UpdateReason
    balances: tuple[BalanceChange, ...]
    positions: tuple[PositionInfo, ...]


@final
class MarginCallEvent(_Event, frozen=True, kw_only=True):
    """An account's margin ratio reached the margin-call threshold (Binance MARGIN_CALL)."""

    account_id: str
    cross_wallet_balance: Decimal
    positions: tuple[PositionInfo, ...]


@final
class AccountConfigEvent(_Event, frozen=True, kw_only=True):
    """An account setting changed: a symbol's leverage, or the position mode (Binance ACCOUNT_CONFIG_UPDATE)."""

    account_id: str
    symbol: str
    leverage: int | None = None
    position_mode: PositionMode | None = None


@final
class FundingEvent(_Event, frozen=True, kw_only=True):
    """A funding settlement of one symbol at ``ts_ns`` (the scheduled time), at ``rate`` and ``mark_price``."""

    symbol: str
    rate: Decimal
    mark_price: Decimal
