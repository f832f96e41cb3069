"""USD-M spellings of our enums, both ways (§ Public Endpoints Info › ENUM definitions).

Sides and order statuses are spelled as on spot and parsed by the spot helpers. What differs:

* **Post-only.** Futures have no ``LIMIT_MAKER`` type: post-only is ``type=LIMIT`` with ``timeInForce=GTX``
  ("Good Till Crossing"). :data:`OrderType.LIMIT_MAKER <clobactors.model.OrderType>` goes out that way, and a
  LIMIT/GTX order coming back is LIMIT_MAKER with time in force GTC. ``RPI`` (post-only, matched against
  app/web orders only) reads as LIMIT_MAKER too; ``GTD`` reads as GTC (it rests until its date).
* **Foreign types.** STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET and
  LIQUIDATION orders are never ours: the codecs skip and count them.
* **Position side** BOTH/LONG/SHORT, **margin type** ``cross``/``isolated`` in positions and
  ``CROSSED``/``ISOLATED`` in requests and margin calls (both spellings parse).

Unknown values from the exchange raise :class:`~clobactors.errors.RemoteProtocolError` (hint ``DROP``);
values we cannot send raise :class:`~clobactors.errors.LocalProtocolError`.
"""

from __future__ import annotations

from typing import Final

from clobactors.errors import LocalProtocolError
from clobactors.exchanges.binance.convert import ms_to_ns, parse_side, parse_status, side_param, unknown_value
from clobactors.model import MarginType, OrderType, PositionSide, TimeInForce

__all__ = [
    "EXCHANGE",
    "margin_type_param",
    "ms_to_ns",
    "order_type_params",
    "parse_margin_type",
    "parse_order_kind",
    "parse_position_side",
    "parse_side",
    "parse_status",
    "position_side_param",
    "side_param",
]

#: Registry name and the ``exchange`` field of every event this dialect emits.
EXCHANGE: Final = "binance_usdm"

_FOREIGN_ORDER_TYPES: Final = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET", "LIQUIDATION"}
)
#: Time in force → (is post-only, our time in force).
_TIFS: Final = {
    "GTC": (False, TimeInForce.GTC),
    "IOC": (False, TimeInForce.IOC),
    "FOK": (False, TimeInForce.FOK),
    "GTD": (False, TimeInForce.GTC),
    "GTX": (True, TimeInForce.GTC),
    "RPI": (True, TimeInForce.GTC),
}
_TIF_PARAMS: Final = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_POSITION_SIDES: Final = {"BOTH": PositionSide.BOTH, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
_POSITION_SIDE_PARAMS: Final = {v: k for k, v in _POSITION_SIDES.items()}
_MARGIN_TYPES: Final = {
    "cross": MarginType.CROSS,
    "crossed": MarginType.CROSS,
    "isolated": MarginType.ISOLATED,
}
_MARGIN_TYPE_PARAMS: Final = {MarginType.CROSS: "CROSSED", MarginType.ISOLATED: "ISOLATED"}


def parse_order_kind(
    order_type: str, time_in_force: str, *, path: str = "$.type", tif_path: str = "$.timeInForce"
) -> tuple[OrderType, TimeInForce] | None:
    """Our ``(order type, time in force)``; ``None`` for a documented type we never place (skipped)."""
    if order_type in _FOREIGN_ORDER_TYPES:
        return None
    if order_type not in ("LIMIT", "MARKET"):
        raise unknown_value("order type", order_type, path)
    try:
        post_only, tif = _TIFS[time_in_force]
    except KeyError:
        raise unknown_value("time in force", time_in_force, tif_path) from None
    if order_type == "MARKET":
        return OrderType.MARKET, tif
    return (OrderType.LIMIT_MAKER if post_only else OrderType.LIMIT), tif


def order_type_params(order_type: OrderType, time_in_force: TimeInForce) -> tuple[str, str | None]:
    """``(type, timeInForce)`` to send; market orders send no time in force."""
    if order_type is OrderType.MARKET:
        if time_in_force is TimeInForce.FOK:
            raise LocalProtocolError("Binance USD-M market orders cannot be fill-or-kill")
        return "MARKET", None
    if order_type is OrderType.LIMIT_MAKER:
        if time_in_force is not TimeInForce.GTC:
            raise LocalProtocolError("a post-only (GTX) order takes no other time in force")
        return "LIMIT", "GTX"
    if order_type is OrderType.LIMIT:
        return "LIMIT", _TIF_PARAMS[time_in_force]
    raise LocalProtocolError(f"Binance USD-M has no order type for {order_type!r}")  # pragma: no cover


def parse_position_side(value: str, path: str = "$.positionSide") -> PositionSide:
    try:
        return _POSITION_SIDES[value]
    except KeyError:
        raise unknown_value("position side", value, path) from None


def position_side_param(side: PositionSide) -> str:
    return _POSITION_SIDE_PARAMS[side]


def parse_margin_type(value: str, path: str = "$.marginType") -> MarginType:
    try:
        return _MARGIN_TYPES[value.lower()]
    except KeyError:
        raise unknown_value("margin type", value, path) from None


def margin_type_param(margin_type: MarginType) -> str:
    return _MARGIN_TYPE_PARAMS[margin_type]
