"""What the engine hands out: order snapshots, executions, answers to requests, and its event log.

All records are frozen msgspec Structs with Decimal amounts, so a face can encode them directly and a test can
compare two event logs byte for byte (``msgspec.json.encode``). Times are integers in nanoseconds, exactly as
passed in by the caller. Events form one tagged union, :data:`EngineEvent`, in the order the engine made them.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import TypeAlias, final

import msgspec

from clobactors.model import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from clobactors.sim.perp_records import (
    AccountConfigEvent,
    AccountUpdateEvent,
    FundingEvent,
    MarginCallEvent,
    PerpReject,
)
from clobactors.sim.rules import ExpireReason, RejectReason

__all__ = [
    "AssetBalance",
    "BalanceEvent",
    "BookEvent",
    "Depth",
    "EngineEvent",
    "ExecType",
    "Execution",
    "OrderEvent",
    "OrderInfo",
    "PriceLevel",
    "Rejection",
    "SubmitAccepted",
    "SubmitResult",
    "TopOfBook",
    "TradeEvent",
]

#: ``(price, size)``; in a :class:`BookEvent` a size of zero removes the level.
PriceLevel: TypeAlias = tuple[Decimal, Decimal]


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every engine record."""


class ExecType(enum.StrEnum):
    """What happened to an order in one :class:`OrderEvent` (Binance ``executionReport`` field ``x``)."""

    #: Accepted; the order has its exchange id.
    NEW = "new"
    #: One fill; the event carries the :class:`Execution`.
    TRADE = "trade"
    #: Cancelled on request.
    CANCELLED = "cancelled"
    #: Ended by the engine (IOC/FOK/market remainder, self-trade prevention); see ``OrderInfo.expire_reason``.
    EXPIRED = "expired"


@final
class OrderInfo(_Record, frozen=True, kw_only=True):
    """One order as the exchange sees it at one moment.

    ``size`` is the requested base size; for a market order sized in quote (``quote_size``), it is the size
    filled so far. ``filled_quote`` is the cumulative quote amount traded (Binance ``cummulativeQuoteQty``).
    """

    order_id: int
    client_order_id: str
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    price: Decimal | None
    size: Decimal
    quote_size: Decimal | None
    filled_size: Decimal
    filled_quote: Decimal
    status: OrderStatus
    expire_reason: ExpireReason | None
    created_ns: int
    updated_ns: int
    #: Perpetuals only: the order may only reduce a position; the position (leg) it trades.
    reduce_only: bool = False
    position_side: PositionSide | None = None


@final
class Execution(_Record, frozen=True, kw_only=True):
    """One fill of one order, as the owning account sees it (Binance ``myTrades`` row)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    account_id: str
    side: Side
    price: Decimal
    size: Decimal
    quote_size: Decimal
    #: Paid in ``fee_asset``: the buyer pays in base, the seller in quote (Binance's default without BNB).
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ns: int
    #: Perpetuals only: profit or loss this fill realized (in the margin asset), and the position it traded.
    realized_pnl: Decimal | None = None
    position_side: PositionSide | None = None


@final
class AssetBalance(_Record, frozen=True, kw_only=True):
    """Free and locked amount of one asset of one account."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@final
class Depth(_Record, frozen=True, kw_only=True):
    """Top levels of a book; ``update_id`` is the id of its last change (Binance ``lastUpdateId``)."""

    symbol: str
    update_id: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


@final
class TopOfBook(_Record, frozen=True, kw_only=True):
    """Best bid and ask; an empty side has ``None`` price and zero size."""

    symbol: str
    update_id: int
    bid_price: Decimal | None
    bid_size: Decimal
    ask_price: Decimal | None
    ask_size: Decimal


@final
class Rejection(_Record, frozen=True, kw_only=True):
    """A refused request. Nothing changed; no event was emitted."""

    reason: RejectReason
    message: str
    #: Perpetuals: the specific rule (reason is then ``INVALID_ORDER`` or ``INSUFFICIENT_BALANCE``).
    perp: PerpReject | None = None


@final
class SubmitAccepted(_Record, frozen=True, kw_only=True):
    """An accepted order: its state after matching, and the fills it took on entry (Binance ``FULL``)."""

    order: OrderInfo
    executions: tuple[Execution, ...]


SubmitResult: TypeAlias = SubmitAccepted | Rejection


# -- events --------------------------------------------------------------------------------------------------


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=str.lower):
    """Base of engine events; ``ts_ns`` is the ``now_ns`` of the call that caused it."""

    ts_ns: int


@final
class OrderEvent(_Event, frozen=True, kw_only=True):
    """A change of one order (Binance ``executionReport``, OKX ``orders`` channel)."""

    account_id: str
    symbol: str
    exec_type: ExecType
    order: OrderInfo
    #: Set for :attr:`ExecType.TRADE` only.
    execution: Execution | None = None


@final
class TradeEvent(_Event, frozen=True, kw_only=True):
    """One public trade. ``taker_side`` is the aggressor's side."""

    symbol: str
    trade_id: int
    price: Decimal
    size: Decimal
    quote_size: Decimal
    taker_side: Side
    buyer_order_id: int
    seller_order_id: int


@final
class BookEvent(_Event, frozen=True, kw_only=True):
    """Levels changed by one engine call, with their new total size (zero: level gone).

    Every change to a level increments the symbol's update id by one; this event covers
    ``first_update_id..last_update_id`` and the next one starts at ``last_update_id + 1``
    (Binance ``U``/``u``).
    """

    symbol: str
    first_update_id: int
    last_update_id: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


@final
class BalanceEvent(_Event, frozen=True, kw_only=True):
    """Assets of one account whose balance one engine call changed (Binance ``outboundAccountPosition``)."""

    account_id: str
    balances: tuple[AssetBalance, ...]


#: Spot engines emit the first four; perpetual engines emit :class:`BalanceEvent` never and the
#: perpetual events of :mod:`clobactors.sim.perp_records` besides.
EngineEvent: TypeAlias = (
    OrderEvent
    | TradeEvent
    | BookEvent
    | BalanceEvent
    | AccountUpdateEvent
    | MarginCallEvent
    | AccountConfigEvent
    | FundingEvent
)
