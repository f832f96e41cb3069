"""Commands a strategy sends to an exchange's order manager: place, cancel, cancel-all, modify, set leverage,
set position mode.

One family of :mod:`clobactors.messages` (the overview, and where to import every name from), in its own
module so each family reads on one screen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias, final

from clobactors.messages_base import _Command
from clobactors.model import MarginType, OrderType, PositionAction, PositionMode, PositionSide, Side, TimeInForce

__all__ = ["CancelAll", "CancelOrder", "Command", "ModifyOrder", "PlaceOrder", "SetLeverage", "SetPositionMode"]


@final
class PlaceOrder(_Command, frozen=True, kw_only=True):
    """Place one order. ``client_order_id`` is assigned by the order manager when left empty."""

    side: Side
    order_type: OrderType
    size: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: str = ""
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    position_action: PositionAction | None = None


@final
class CancelOrder(_Command, frozen=True, kw_only=True):
    """Cancel one order, by our id (preferred) or the exchange's."""

    client_order_id: str = ""
    exchange_order_id: str = ""


@final
class CancelAll(_Command, frozen=True, kw_only=True):
    """Cancel every open order on ``instrument`` (all instruments when empty)."""


@final
class ModifyOrder(_Command, frozen=True, kw_only=True):
    """Change price and/or size of a resting order (cancel-replace where the exchange has no amend)."""

    client_order_id: str
    new_price: Decimal | None = None
    new_size: Decimal | None = None


@final
class SetLeverage(_Command, frozen=True, kw_only=True):
    """Set leverage for one perpetual instrument."""

    leverage: int
    margin_type: MarginType | None = None


@final
class SetPositionMode(_Command, frozen=True, kw_only=True):
    """Switch the account between one-way and hedge mode."""

    mode: PositionMode


Command: TypeAlias = PlaceOrder | CancelOrder | CancelAll | ModifyOrder | SetLeverage | SetPositionMode
