"""Binance face: order endpoints (place, query, cancel, open orders, cancel all). Sans-IO.

Each handler takes the shared :class:`FaceCore`, the account, the request's :class:`Params` and ``now_ns``,
and returns the JSON body or raises :class:`FaceError` with Binance's code. Engine rejections map to
Binance's answers: filter failures -1013 ``Filter failure: <FILTER>``, matching-engine refusals -2010 with
the documented text (insufficient balance, would immediately match and take, duplicate order).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import (
    MSG_CANCEL_RESTRICTIONS,
    MSG_DUPLICATE_ORDER,
    MSG_INSUFFICIENT_BALANCE,
    MSG_UNKNOWN_ORDER,
    MSG_UNSUPPORTED_COMBINATION,
    MSG_WOULD_MATCH_AND_TAKE,
    ErrorCode,
    filter_failure,
)
from clobactors.exchanges.binance.face_convert import canceled_order, order_full, order_info, order_result, stp_name
from clobactors.exchanges.binance.face_core import FaceCore
from clobactors.exchanges.binance.face_params import FaceError, Params, invalid, mandatory
from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim.face_protocol import SimCredentials
from clobactors.sim.records import OrderInfo, Rejection
from clobactors.sim.rules import RejectReason

__all__ = ["cancel_all", "cancel_order", "new_order", "open_orders", "query_order"]

_SIDES: Final = {"BUY": Side.BUY, "SELL": Side.SELL}
_TYPES: Final = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "LIMIT_MAKER": OrderType.LIMIT_MAKER}
_TIFS: Final = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_RESP_TYPES: Final = ("ACK", "RESULT", "FULL")
_STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT")
#: Documented new-order parameters for features the engine does not have: refused if sent.
_UNSUPPORTED: Final = (
    "stopPrice", "trailingDelta", "icebergQty", "strategyId", "strategyType", "pegPriceType",
    "pegOffsetValue", "pegOffsetType",
)  # fmt: skip


def _not_required(name: str) -> FaceError:
    return FaceError(ErrorCode.PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required.")


def _rejected(rejection: Rejection, order_type: OrderType) -> FaceError:
    reason = rejection.reason
    match reason:
        case RejectReason.UNKNOWN_SYMBOL:
            return FaceError(ErrorCode.BAD_SYMBOL)
        case RejectReason.UNKNOWN_ACCOUNT:
            return FaceError(ErrorCode.REJECTED_MBX_KEY, status=401)
        case RejectReason.FILTER_PRICE:
            return FaceError(ErrorCode.INVALID_MESSAGE, filter_failure("PRICE_FILTER"))
        case RejectReason.FILTER_LOT_SIZE:
            name = "MARKET_LOT_SIZE" if order_type is OrderType.MARKET else "LOT_SIZE"
            return FaceError(ErrorCode.INVALID_MESSAGE, filter_failure(name))
        case RejectReason.FILTER_MIN_NOTIONAL:
            return FaceError(ErrorCode.INVALID_MESSAGE, filter_failure("NOTIONAL"))
        case RejectReason.INSUFFICIENT_BALANCE:
            return FaceError(ErrorCode.NEW_ORDER_REJECTED, MSG_INSUFFICIENT_BALANCE)
        case RejectReason.WOULD_TAKE:
            return FaceError(ErrorCode.NEW_ORDER_REJECTED, MSG_WOULD_MATCH_AND_TAKE)
        case RejectReason.DUPLICATE_CLIENT_ID:
            return FaceError(ErrorCode.NEW_ORDER_REJECTED, MSG_DUPLICATE_ORDER)
        case RejectReason.UNKNOWN_ORDER:
            return FaceError(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        case RejectReason.INVALID_ORDER:
            return FaceError(ErrorCode.NEW_ORDER_REJECTED, MSG_UNSUPPORTED_COMBINATION)


def new_order(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § New order (TRADE) (``POST /api/v3/order``): LIMIT, MARKET, LIMIT_MAKER."""
    symbol = core.symbol(params)
    assert symbol is not None
    side_text = params.raw("side", required=True)
    type_text = params.raw("type", required=True)
    assert side_text is not None and type_text is not None
    if side_text not in _SIDES:
        raise FaceError(ErrorCode.INVALID_SIDE)
    if type_text not in _TYPES:
        raise FaceError(ErrorCode.INVALID_ORDER_TYPE)
    side, order_type = _SIDES[side_text], _TYPES[type_text]
    tif_text = params.choice("timeInForce", _TIFS, code=ErrorCode.INVALID_TIF)
    quantity = params.decimal("quantity")
    quote_qty = params.decimal("quoteOrderQty")
    price = params.decimal("price")
    client_id = params.client_id("newClientOrderId") or ""
    resp_type = params.choice("newOrderRespType", _RESP_TYPES)
    stp = params.choice("selfTradePreventionMode", _STP_MODES)
    if stp is not None and stp != stp_name(core.stp):
        raise invalid("selfTradePreventionMode")
    for name in _UNSUPPORTED:
        if params.raw(name) is not None:
            raise _not_required(name)
    params.finish()
    _check_combination(order_type, tif_text, quantity, quote_qty, price)
    core.limits.charge_order(account.account_id, now_ns // 1_000_000)
    result = core.engine.submit(
        account.account_id, symbol, side, order_type, size=quantity, price=price, quote_size=quote_qty,
        time_in_force=_TIFS[tif_text] if tif_text is not None else TimeInForce.GTC,
        client_order_id=client_id, now_ns=now_ns,
    )  # fmt: skip
    if isinstance(result, Rejection):
        raise _rejected(result, order_type)
    order = result.order
    if resp_type is None:
        resp_type = "ACK" if order_type is OrderType.LIMIT_MAKER else "FULL"
    if resp_type == "ACK":
        ack = wire.OrderAck(
            symbol=symbol, order_id=order.order_id, order_list_id=-1, client_order_id=order.client_order_id,
            transact_time=now_ns // 1_000_000,
        )  # fmt: skip
        return wire.encode(ack)
    if resp_type == "RESULT":
        return wire.encode(order_result(order, core.stp, now_ns))
    return wire.encode(order_full(order, result.executions, core.stp, now_ns))


def _check_combination(
    order_type: OrderType,
    tif: str | None,
    quantity: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
) -> None:
    """Mandatory and forbidden parameters per order type (rest-api.md § New order, "Additional mandatory
    parameters based on type")."""
    if order_type is OrderType.MARKET:
        if quantity is None and quote_qty is None:
            raise FaceError(
                ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if quantity is not None and quote_qty is not None:
            raise _not_required("quoteOrderQty")
        if price is not None:
            raise _not_required("price")
        if tif is not None:
            raise FaceError(ErrorCode.TIF_NOT_REQUIRED)
        return
    if quote_qty is not None:
        raise _not_required("quoteOrderQty")
    if order_type is OrderType.LIMIT and tif is None:
        raise mandatory("timeInForce")
    if order_type is OrderType.LIMIT_MAKER and tif is not None:
        raise FaceError(ErrorCode.TIF_NOT_REQUIRED)
    if quantity is None:
        raise mandatory("quantity")
    if price is None:
        raise mandatory("price")


def _find(core: FaceCore, account: SimCredentials, params: Params, symbol: str) -> OrderInfo | None:
    order_id = params.integer("orderId")
    client_id = params.raw("origClientOrderId")
    if order_id is None and client_id is None:
        raise FaceError(
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        )
    order = core.engine.order(account.account_id, symbol, order_id=order_id, client_order_id=client_id or "")
    if order is not None and order_id is not None and client_id is not None and order.client_order_id != client_id:
        return None  # both given: they must name the same order
    return order


def query_order(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Query order (USER_DATA) (``GET /api/v3/order``)."""
    symbol = core.symbol(params)
    assert symbol is not None
    order = _find(core, account, params, symbol)
    params.finish()
    if order is None:
        raise FaceError(ErrorCode.NO_SUCH_ORDER)
    return wire.encode(order_info(order, core.stp))


def cancel_order(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Cancel order (TRADE) (``DELETE /api/v3/order``); not open: -2011 Unknown order sent."""
    symbol = core.symbol(params)
    assert symbol is not None
    order = _find(core, account, params, symbol)
    cancel_id = params.client_id("newClientOrderId") or core.next_cancel_id()
    restriction = params.choice(
        "cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"), code=ErrorCode.INVALID_CANCEL_RESTRICTIONS
    )
    params.finish()
    if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        raise FaceError(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
    if (restriction == "ONLY_NEW" and order.status is not OrderStatus.OPEN) or (
        restriction == "ONLY_PARTIALLY_FILLED" and order.status is not OrderStatus.PARTIALLY_FILLED
    ):
        raise FaceError(ErrorCode.CANCEL_REJECTED, MSG_CANCEL_RESTRICTIONS)
    core.cancel_ids[order.order_id] = cancel_id
    result = core.engine.cancel(account.account_id, symbol, order_id=order.order_id, now_ns=now_ns)
    if isinstance(result, Rejection):
        core.cancel_ids.pop(order.order_id, None)
        raise _rejected(result, order.order_type)
    return wire.encode(canceled_order(result, cancel_id, core.stp, now_ns))


def open_orders(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Current open orders (USER_DATA) (``GET /api/v3/openOrders``), one symbol or all."""
    symbol = core.symbol(params, required=False)
    params.finish()
    orders = core.engine.open_orders(account.account_id, symbol)
    return wire.ENCODER.encode([order_info(o, core.stp) for o in orders])


def cancel_all(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Cancel All Open Orders on a Symbol (TRADE) (``DELETE /api/v3/openOrders``).

    With nothing open Binance answers -2011 Unknown order sent, and so does the simulator.
    """
    symbol = core.symbol(params)
    assert symbol is not None
    params.finish()
    ids = {o.order_id: core.next_cancel_id() for o in core.engine.open_orders(account.account_id, symbol)}
    if not ids:
        raise FaceError(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
    core.cancel_ids.update(ids)
    result = core.engine.cancel_all(account.account_id, symbol, now_ns=now_ns)
    if isinstance(result, Rejection):
        for order_id in ids:
            core.cancel_ids.pop(order_id, None)
        raise _rejected(result, OrderType.LIMIT)
    return wire.ENCODER.encode([canceled_order(o, ids[o.order_id], core.stp, now_ns) for o in result])
