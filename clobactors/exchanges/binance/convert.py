"""Binance spellings of our enums, both ways, and the small conversions every codec module shares.

Binance writes sides, order types, statuses and times in force as upper-case strings
(rest-api.md § ENUM definitions). Reading one we do not know is the exchange's doing, so it raises
:class:`~clobactors.errors.RemoteProtocolError` (hint ``DROP``: one frame or body is lost, nothing else);
writing one Binance has no spelling for is ours, so it raises :class:`~clobactors.errors.LocalProtocolError`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clobactors.errors import LocalProtocolError, RecoveryHint, RemoteProtocolError
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "EXCHANGE",
    "ms_to_ns",
    "order_type_param",
    "parse_order_type",
    "parse_side",
    "parse_status",
    "parse_time_in_force",
    "side_param",
    "time_in_force_param",
    "unknown_value",
]

#: Registry name and the ``exchange`` field of every event this dialect emits.
EXCHANGE: Final = "binance"

_NS_PER_MS: Final = 1_000_000

_SIDES: Final = {"BUY": Side.BUY, "SELL": Side.SELL}
_SIDE_PARAMS: Final = {Side.BUY: "BUY", Side.SELL: "SELL"}

#: Order types we trade. STOP_LOSS, TAKE_PROFIT and their LIMIT variants are Binance's too, but no command
#: of ours creates them: orders of those types (placed by another tool on the same account) are skipped.
_ORDER_TYPES: Final = {
    "LIMIT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "LIMIT_MAKER": OrderType.LIMIT_MAKER,
}
_ORDER_TYPE_PARAMS: Final = {v: k for k, v in _ORDER_TYPES.items()}
_FOREIGN_ORDER_TYPES: Final = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})

#: rest-api.md § ENUM definitions › Order status. PENDING_NEW is an order-list leg waiting for its working
#: order: accepted and live on the exchange, so OPEN. EXPIRED_IN_MATCH (self-trade prevention) is an expiry.
_STATUSES: Final = {
    "NEW": OrderStatus.OPEN,
    "PENDING_NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}

_TIFS: Final = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_TIF_PARAMS: Final = {v: k for k, v in _TIFS.items()}


def ms_to_ns(ms: int) -> int:
    """Binance milliseconds since the epoch as our nanoseconds."""
    return ms * _NS_PER_MS


def unknown_value(what: str, value: str, path: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"unknown Binance {what} {value!r}", hint=RecoveryHint.DROP, path=path)


def parse_side(value: str, path: str = "$.side") -> Side:
    try:
        return _SIDES[value]
    except KeyError:
        raise unknown_value("side", value, path) from None


def parse_status(value: str, path: str = "$.status") -> OrderStatus:
    try:
        return _STATUSES[value]
    except KeyError:
        raise unknown_value("order status", value, path) from None


def parse_order_type(value: str, path: str = "$.type") -> OrderType | None:
    """Our order type, or ``None`` for a documented Binance type we do not trade (the caller skips it)."""
    known = _ORDER_TYPES.get(value)
    if known is None and value not in _FOREIGN_ORDER_TYPES:
        raise unknown_value("order type", value, path)
    return known


def parse_time_in_force(value: str, path: str = "$.timeInForce") -> TimeInForce:
    try:
        return _TIFS[value]
    except KeyError:
        raise unknown_value("time in force", value, path) from None


def side_param(side: Side) -> str:
    return _SIDE_PARAMS[side]


def order_type_param(order_type: OrderType) -> str:
    try:
        return _ORDER_TYPE_PARAMS[order_type]
    except KeyError:
        raise LocalProtocolError(f"Binance spot has no order type for {order_type!r}") from None


def time_in_force_param(time_in_force: TimeInForce) -> str:
    try:
        return _TIF_PARAMS[time_in_force]
    except KeyError:
        raise LocalProtocolError(f"Binance spot has no time in force for {time_in_force!r}") from None


def average_price(quote_qty: Decimal, base_qty: Decimal) -> Decimal | None:
    """Average fill price from Binance's cumulative quote and base quantities; ``None`` before any fill."""
    if base_qty <= 0:
        return None
    return quote_qty / base_qty
