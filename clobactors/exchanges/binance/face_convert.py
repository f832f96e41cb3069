"""Binance face: engine records (``clobactors.sim.records``) turned into Binance wire structs.

Binance writes amounts with eight decimals (``"0.10000000"``); :func:`d8` pads every amount that fits, so
the simulator's answers look like Binance's digit for digit. Status and type names follow rest-api.md
§ ENUM definitions; the order fields follow § New order (TRADE), § Query order (USER_DATA) and § Cancel order
(TRADE); trade rows § Account trade list (USER_DATA); ``executionReport`` user-data-stream.md § Order Update.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, NamedTuple, final

from clobactors.exchanges.binance import wire
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim.records import ExecType, Execution, OrderEvent, OrderInfo
from clobactors.sim.rules import ExpireReason, StpMode

__all__ = [
    "ORDER_STATUS",
    "ORDER_TYPE",
    "SIDE",
    "TIME_IN_FORCE",
    "canceled_order",
    "d8",
    "execution_report",
    "ms",
    "my_trade",
    "order_fill",
    "order_info",
    "order_result",
    "stp_name",
]

_E8: Final = Decimal("1E-8")
ZERO: Final = Decimal(0)

ORDER_STATUS: Final = {
    OrderStatus.OPEN: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.PENDING_CANCEL: "PENDING_CANCEL",
    OrderStatus.PENDING_CREATE: "PENDING_NEW",
    OrderStatus.UNKNOWN: "NEW",
}
ORDER_TYPE: Final = {OrderType.LIMIT: "LIMIT", OrderType.MARKET: "MARKET", OrderType.LIMIT_MAKER: "LIMIT_MAKER"}
SIDE: Final = {Side.BUY: "BUY", Side.SELL: "SELL"}
TIME_IN_FORCE: Final = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_EXEC_TYPE: Final = {
    ExecType.NEW: "NEW",
    ExecType.TRADE: "TRADE",
    ExecType.CANCELLED: "CANCELED",
    ExecType.EXPIRED: "EXPIRED",
}


def d8(value: Decimal) -> Decimal:
    """``value`` with eight decimals when that loses nothing (``0.1`` → ``0.10000000``)."""
    try:
        padded = value.quantize(_E8)
    except ArithmeticError:  # too many digits for the context: send as is
        return value
    return padded if padded == value else value


def ms(ns: int) -> int:
    return ns // 1_000_000


def stp_name(mode: StpMode) -> str:
    return mode.value.upper()


def _status(order: OrderInfo) -> str:
    if order.status is OrderStatus.EXPIRED and order.expire_reason is ExpireReason.SELF_TRADE_PREVENTION:
        return "EXPIRED_IN_MATCH"  # rest-api.md § ENUM definitions › Order status (STP)
    return ORDER_STATUS[order.status]


@final
class _Fields(NamedTuple):
    """The fields every order answer shares (rest-api.md § Conditional fields in Order Responses)."""

    symbol: str
    order_id: int
    client_order_id: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal
    status: str
    time_in_force: str
    type: str
    side: str
    orig_quote_order_qty: Decimal


def _common(order: OrderInfo) -> _Fields:
    return _Fields(
        symbol=order.symbol,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        price=d8(order.price if order.price is not None else ZERO),
        orig_qty=d8(order.size),
        executed_qty=d8(order.filled_size),
        cummulative_quote_qty=d8(order.filled_quote),
        status=_status(order),
        # Binance reports GTC for orders without a time in force (MARKET, LIMIT_MAKER).
        time_in_force=TIME_IN_FORCE[order.time_in_force] if order.order_type is OrderType.LIMIT else "GTC",
        type=ORDER_TYPE[order.order_type],
        side=SIDE[order.side],
        orig_quote_order_qty=d8(order.quote_size if order.quote_size is not None else ZERO),
    )


def is_working(order: OrderInfo) -> bool:
    """On the book: open and resting (the engine keeps only GTC limit orders open)."""
    return order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED) and (
        order.order_type is not OrderType.MARKET and order.time_in_force is TimeInForce.GTC
    )


def order_result(order: OrderInfo, stp: StpMode, transact_ns: int) -> wire.OrderResult:
    """rest-api.md § New order (TRADE), Response RESULT."""
    return wire.OrderResult(
        **_common(order)._asdict(),
        order_list_id=-1,
        transact_time=ms(transact_ns),
        working_time=ms(order.created_ns),
        self_trade_prevention_mode=stp_name(stp),
    )


def order_full(order: OrderInfo, executions: tuple[Execution, ...], stp: StpMode, transact_ns: int) -> wire.OrderFull:
    """rest-api.md § New order (TRADE), Response FULL: RESULT plus the fills taken on entry."""
    return wire.OrderFull(
        **_common(order)._asdict(),
        order_list_id=-1,
        transact_time=ms(transact_ns),
        working_time=ms(order.created_ns),
        self_trade_prevention_mode=stp_name(stp),
        fills=tuple(order_fill(e) for e in executions),
    )


def order_fill(execution: Execution) -> wire.OrderFill:
    return wire.OrderFill(
        price=d8(execution.price),
        qty=d8(execution.size),
        commission=d8(execution.fee),
        commission_asset=execution.fee_asset,
        trade_id=execution.trade_id,
    )


def order_info(order: OrderInfo, stp: StpMode) -> wire.OrderInfo:
    """rest-api.md § Query order (USER_DATA) and each row of § Current open orders (USER_DATA)."""
    return wire.OrderInfo(
        **_common(order)._asdict(),
        order_list_id=-1,
        stop_price=d8(ZERO),
        iceberg_qty=d8(ZERO),
        time=ms(order.created_ns),
        update_time=ms(order.updated_ns),
        is_working=is_working(order),
        working_time=ms(order.created_ns),
        self_trade_prevention_mode=stp_name(stp),
    )


def canceled_order(order: OrderInfo, cancel_client_id: str, stp: StpMode, transact_ns: int) -> wire.CanceledOrder:
    """rest-api.md § Cancel order (TRADE): ``clientOrderId`` is the cancel's id, the order's is ``orig...``."""
    fields = _common(order)._replace(client_order_id=cancel_client_id)
    return wire.CanceledOrder(
        **fields._asdict(),
        order_list_id=-1,
        orig_client_order_id=order.client_order_id,
        transact_time=ms(transact_ns),
        self_trade_prevention_mode=stp_name(stp),
    )


def my_trade(execution: Execution) -> wire.MyTrade:
    """rest-api.md § Account trade list (USER_DATA)."""
    return wire.MyTrade(
        symbol=execution.symbol,
        id=execution.trade_id,
        order_id=execution.order_id,
        order_list_id=-1,
        price=d8(execution.price),
        qty=d8(execution.size),
        quote_qty=d8(execution.quote_size),
        commission=d8(execution.fee),
        commission_asset=execution.fee_asset,
        time=ms(execution.ts_ns),
        is_buyer=execution.side is Side.BUY,
        is_maker=execution.is_maker,
        is_best_match=True,
    )


def execution_report(
    event: OrderEvent, *, execution_id: int, event_ms: int, stp: StpMode, cancel_client_id: str | None = None
) -> wire.ExecutionReport:
    """user-data-stream.md § Order Update. A cancel reports the cancel's client id in ``c`` and the order's
    in ``C``; a self-trade-prevention expiry is ``x=TRADE_PREVENTION``, ``X=EXPIRED_IN_MATCH``."""
    order, fill = event.order, event.execution
    exec_type = _EXEC_TYPE[event.exec_type]
    if event.exec_type is ExecType.EXPIRED and order.expire_reason is ExpireReason.SELF_TRADE_PREVENTION:
        exec_type = "TRADE_PREVENTION"
    common = _common(order)
    return wire.ExecutionReport(
        event_time=event_ms,
        symbol=order.symbol,
        client_order_id=cancel_client_id if cancel_client_id is not None else order.client_order_id,
        side=SIDE[order.side],
        order_type=ORDER_TYPE[order.order_type],
        time_in_force=common.time_in_force,
        quantity=d8(order.size),
        price=d8(order.price if order.price is not None else ZERO),
        stop_price=d8(ZERO),
        iceberg_quantity=d8(ZERO),
        order_list_id=-1,
        orig_client_order_id=order.client_order_id if cancel_client_id is not None else "",
        execution_type=exec_type,
        order_status=_status(order),
        reject_reason="NONE",
        order_id=order.order_id,
        last_executed_quantity=d8(fill.size if fill is not None else ZERO),
        cumulative_filled_quantity=d8(order.filled_size),
        last_executed_price=d8(fill.price if fill is not None else ZERO),
        commission_amount=d8(fill.fee) if fill is not None else ZERO,
        commission_asset=fill.fee_asset if fill is not None else None,
        transaction_time=ms(event.ts_ns),
        trade_id=fill.trade_id if fill is not None else -1,
        execution_id=execution_id,
        is_working=is_working(order),
        is_maker=fill.is_maker if fill is not None else False,
        ignore=False,
        order_creation_time=ms(order.created_ns),
        cumulative_quote_quantity=d8(order.filled_quote),
        last_quote_quantity=d8(fill.quote_size if fill is not None else ZERO),
        quote_order_quantity=d8(order.quote_size if order.quote_size is not None else ZERO),
        working_time=ms(order.created_ns) if is_working(order) or fill is not None else None,
        self_trade_prevention_mode=stp_name(stp),
    )
