"""Account messages: order update, fill, balance, position, funding payment (never dropped by the bus).

One family of :mod:`clobactors.messages` (the overview, and where to import every name from), in its own
module so each family reads on one screen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias, final

from clobactors.messages_base import _Event
from clobactors.model import (
    Liquidity,
    MarginType,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)

__all__ = ["AccountEvent", "Balance", "Fill", "FundingPayment", "OrderUpdate", "Position"]


class _Account(_Event, frozen=True, kw_only=True):
    """Base of account events (never dropped by the bus)."""


@final
class OrderUpdate(_Account, frozen=True, kw_only=True):
    """The state of one of our orders as last reported (by REST, WebSocket, or our own order manager)."""

    client_order_id: str
    exchange_order_id: str = ""
    status: OrderStatus
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.GTC
    price: Decimal | None = None
    size: Decimal
    filled_size: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    #: Why it was rejected/expired/cancelled, as the exchange or our rules said it.
    reason: str = ""


@final
class Fill(_Account, frozen=True, kw_only=True):
    """One execution of one of our orders. ``trade_id`` is unique per instrument on the exchange."""

    client_order_id: str
    exchange_order_id: str = ""
    trade_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    liquidity: Liquidity | None = None


@final
class Balance(_Account, frozen=True, kw_only=True):
    """Balance of one asset (``instrument`` empty). ``total`` is ``free + locked``."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@final
class Position(_Account, frozen=True, kw_only=True):
    """A perpetual position. ``size`` is signed in one-way mode (negative is short), unsigned per leg."""

    position_side: PositionSide = PositionSide.BOTH
    size: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = Decimal(0)
    leverage: int | None = None
    margin_type: MarginType | None = None
    liquidation_price: Decimal | None = None


@final
class FundingPayment(_Account, frozen=True, kw_only=True):
    """A funding settlement on a perpetual position (positive amount = received)."""

    asset: str
    amount: Decimal
    rate: Decimal | None = None
    #: The exchange's id of the payment where it gives one (Binance's ``tranId`` in the funding history; not on
    #: the user stream): two legs of one instrument in hedge mode settle at one instant as two payments.
    payment_id: str = ""


AccountEvent: TypeAlias = OrderUpdate | Fill | Balance | Position | FundingPayment
