"""Binance face: order endpoints (place, query, cancel, cancel-replace, open orders, cancel all). Sans-IO.

Each handler takes the shared :class:`FaceCore`, the account, the request's :class:`Params` and ``now_ns``,
and returns the JSON body or raises :class:`FaceError` with Binance's code. Engine rejections map to
Binance's answers: filter failures -1013 ``Filter failure: <FILTER>``, matching-engine refusals -2010 with
the documented text (insufficient balance, would immediately match and take, duplicate order).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, NamedTuple

import msgspec

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

__all__ = ["cancel_all", "cancel_order", "cancel_replace", "new_order", "open_orders", "query_order"]

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


class _NewOrder(NamedTuple):
    """A new order's parameters as read (``POST /api/v3/order`` and the new half of a cancel-replace)."""

    symbol: str
    side: Side
    order_type: OrderType
    tif: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_id: str
    resp_type: str | None


def _read_new_order(core: FaceCore, params: Params) -> _NewOrder:
    r"""rest-api.md § New order (TRADE) parameters (not yet :meth:`Params.finish`\ ed)."""
    symbol = core.symbol(params)
    assert symbol is not None
    side_text = params.raw("side", required=True)
    type_text = params.raw("type", required=True)
    assert side_text is not None and type_text is not None
    if side_text not in _SIDES:
        raise FaceError(ErrorCode.INVALID_SIDE)
    if type_text not in _TYPES:
        raise FaceError(ErrorCode.INVALID_ORDER_TYPE)
    tif_text = params.choice("timeInForce", _TIFS, code=ErrorCode.INVALID_TIF)
    new = _NewOrder(
        symbol, _SIDES[side_text], _TYPES[type_text], tif_text, params.decimal("quantity"),
        params.decimal("quoteOrderQty"), params.decimal("price"), params.client_id("newClientOrderId") or "",
        params.choice("newOrderRespType", _RESP_TYPES),
    )  # fmt: skip
    stp = params.choice("selfTradePreventionMode", _STP_MODES)
    if stp is not None and stp != stp_name(core.stp):
        raise invalid("selfTradePreventionMode")
    for name in _UNSUPPORTED:
        if params.raw(name) is not None:
            raise _not_required(name)
    return new


def new_order(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § New order (TRADE) (``POST /api/v3/order``): LIMIT, MARKET, LIMIT_MAKER."""
    new = _read_new_order(core, params)
    params.finish()
    _check_combination(new.order_type, new.tif, new.quantity, new.quote_qty, new.price)
    core.limits.charge_order(account.account_id, now_ns // 1_000_000)
    return _place(core, account, new, now_ns)


def _place(core: FaceCore, account: SimCredentials, new: _NewOrder, now_ns: int) -> bytes:
    """Submit a checked and charged new order; its answer in the asked (or default) response type."""
    order_type = new.order_type
    result = core.engine.submit(
        account.account_id, new.symbol, new.side, order_type, size=new.quantity, price=new.price,
        quote_size=new.quote_qty, time_in_force=_TIFS[new.tif] if new.tif is not None else TimeInForce.GTC,
        client_order_id=new.client_id, now_ns=now_ns,
    )  # fmt: skip
    if isinstance(result, Rejection):
        raise _rejected(result, order_type)
    order = result.order
    resp_type = new.resp_type
    if resp_type is None:
        resp_type = "ACK" if order_type is OrderType.LIMIT_MAKER else "FULL"
    if resp_type == "ACK":
        ack = wire.OrderAck(
            symbol=new.symbol, order_id=order.order_id, order_list_id=-1, client_order_id=order.client_order_id,
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


# -- cancel-replace -------------------------------------------------------------------------------------------

_REPLACE_MODES: Final = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
_SUCCESS: Final = "SUCCESS"
_FAILURE: Final = "FAILURE"
_NOT_ATTEMPTED: Final = "NOT_ATTEMPTED"
_NULL: Final = msgspec.Raw(b"null")


def _cancel_replace_failure(code: int, status: int, data: bytes) -> FaceError:
    """-2021 / -2022 with the per-side ``data`` (rest-api.md § Cancel an Existing Order and Send a New Order)."""
    return FaceError(code, status=status, data=data)


def _replace_data(cancel_result: str, new_result: str, cancel: bytes | None, new: bytes | None) -> bytes:
    """The documented four keys in order, ``null`` kept (``newOrderResponse`` of a new order not attempted)."""
    return msgspec.json.encode(
        {
            "cancelResult": cancel_result,
            "newOrderResult": new_result,
            "cancelResponse": _NULL if cancel is None else msgspec.Raw(cancel),
            "newOrderResponse": _NULL if new is None else msgspec.Raw(new),
        }
    )


def _check_filters(core: FaceCore, new: _NewOrder) -> None:
    """PRICE_FILTER, LOT_SIZE and NOTIONAL of the new order, which Binance evaluates before the cancel."""
    rules = core.engine.rules(new.symbol)
    price, size = new.price, new.quantity
    if price is not None and (price <= 0 or price % rules.tick_size != 0):
        raise FaceError(ErrorCode.INVALID_MESSAGE, filter_failure("PRICE_FILTER"))
    if size is not None:
        lot_size = "MARKET_LOT_SIZE" if new.order_type is OrderType.MARKET else "LOT_SIZE"
        too_big = rules.max_size is not None and size > rules.max_size
        if size <= 0 or size % rules.lot_size != 0 or size < (rules.min_size or rules.lot_size) or too_big:
            raise FaceError(ErrorCode.INVALID_MESSAGE, filter_failure(lot_size))
        if price is not None and price * size < rules.min_notional:
            raise FaceError(ErrorCode.INVALID_MESSAGE, filter_failure("NOTIONAL"))


def cancel_replace(core: FaceCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Cancel an Existing Order and Send a New Order (TRADE) (``POST /api/v3/order/cancelReplace``).

    Filters and the order count are evaluated first (a new order not attempted still counts). Then the cancel
    (a CANCELED execution report), then the new order (a NEW report). ``STOP_ON_FAILURE``: a failed cancel
    answers HTTP 400 -2022 with ``NOT_ATTEMPTED``; a refused new order after a cancel answers HTTP 409 -2021.
    """
    new = _read_new_order(core, params)
    mode = params.choice("cancelReplaceMode", _REPLACE_MODES)
    cancel_id = params.client_id("cancelNewClientOrderId") or core.next_cancel_id()
    orig_client_id = params.raw("cancelOrigClientOrderId")
    orig_order_id = params.integer("cancelOrderId")
    restriction = params.choice(
        "cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"), code=ErrorCode.INVALID_CANCEL_RESTRICTIONS
    )
    params.choice("orderRateLimitExceededMode", ("DO_NOTHING",))  # CANCEL_ONLY is not simulated
    params.finish()
    if mode is None:
        raise mandatory("cancelReplaceMode")
    if orig_client_id is None and orig_order_id is None:
        raise FaceError(
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
            "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!",
        )
    _check_combination(new.order_type, new.tif, new.quantity, new.quote_qty, new.price)
    _check_filters(core, new)
    core.limits.charge_order(account.account_id, now_ns // 1_000_000)
    symbol = new.symbol
    order = core.engine.order(account.account_id, symbol, order_id=orig_order_id, client_order_id=orig_client_id or "")
    if order is not None and orig_client_id is not None and order.client_order_id != orig_client_id:
        order = None  # both given: they must name the same order
    cancel_error: FaceError | None = None
    cancelled: bytes | None = None
    if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        cancel_error = FaceError(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
    elif (restriction == "ONLY_NEW" and order.status is not OrderStatus.OPEN) or (
        restriction == "ONLY_PARTIALLY_FILLED" and order.status is not OrderStatus.PARTIALLY_FILLED
    ):
        cancel_error = FaceError(ErrorCode.CANCEL_REJECTED, MSG_CANCEL_RESTRICTIONS)
    else:
        core.cancel_ids[order.order_id] = cancel_id
        result = core.engine.cancel(account.account_id, symbol, order_id=order.order_id, now_ns=now_ns)
        if isinstance(result, Rejection):
            core.cancel_ids.pop(order.order_id, None)
            cancel_error = _rejected(result, order.order_type)
        else:
            cancelled = wire.encode(canceled_order(result, cancel_id, core.stp, now_ns))
    if cancel_error is not None and mode == "STOP_ON_FAILURE":
        data = _replace_data(_FAILURE, _NOT_ATTEMPTED, cancel_error.body(), None)
        raise _cancel_replace_failure(ErrorCode.CANCEL_REPLACE_FAILED, 400, data)
    try:
        placed = _place(core, account, new, now_ns)
    except FaceError as new_error:
        if cancelled is None:
            assert cancel_error is not None
            data = _replace_data(_FAILURE, _FAILURE, cancel_error.body(), new_error.body())
            raise _cancel_replace_failure(ErrorCode.CANCEL_REPLACE_FAILED, 400, data) from None
        data = _replace_data(_SUCCESS, _FAILURE, cancelled, new_error.body())
        raise _cancel_replace_failure(ErrorCode.CANCEL_REPLACE_PARTIALLY_FAILED, 409, data) from None
    if cancelled is None:
        assert cancel_error is not None
        data = _replace_data(_FAILURE, _SUCCESS, cancel_error.body(), placed)
        raise _cancel_replace_failure(ErrorCode.CANCEL_REPLACE_PARTIALLY_FAILED, 409, data)
    return _replace_data(_SUCCESS, _SUCCESS, cancelled, placed)
