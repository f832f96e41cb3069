"""Binance USD-M face: order endpoints (place, amend, query, cancel, open orders, cancel all, account trades).
Sans-IO.

Sources: USD-M docs § Trade › New Order, Modify Order, Query Order, Cancel Order, Current All Open Orders,
Cancel All Open Orders, Account Trade List. Engine rejections map to the futures codes: filters -4014
(tick), -4023 (step), -4004/-4005 (min/max quantity), -4164 (min notional), margin -2019, reduce-only
-2022, position side -4061, max position -2027, duplicate client id -4116, post-only that would take
-5022; a FOK that cannot fill completely answers -5021 (its NEW and EXPIRED still reach the user stream).
Only LIMIT and MARKET orders exist; ``GTD``, conditional orders and ``closePosition``/``priceMatch`` are
refused as not supported.

Modify Order (``PUT /fapi/v1/order``, § Trade › Modify Order (TRADE)) amends a resting LIMIT order in place
over :meth:`Engine.amend <clobactors.sim.engine.Engine.amend>` (same ids, back of the queue at the new price;
rules in :mod:`clobactors.sim.amend`) and pushes the ORDER_TRADE_UPDATE with execution type ``AMENDMENT`` the
real exchange sends, before the TRADE reports of what a crossing new price took from the book (a GTX order
is cancelled instead, as is one amended to at most its executed quantity: the answer and the stream say
CANCELED). Both ``quantity`` and ``price`` are required (-1102), ``priceMatch`` is not simulated (-1106, as for
new orders); an order that does not rest answers -2013, a ``side`` other than the order's -1102, a
``positionSide`` other than its leg -4061, PERCENT_PRICE -4016/-4024, the same terms -5027, a non-LIMIT order
-5025, the 10 001st modification -5026, a notional below the minimum -5029, a reduce-only order beyond its
position's room -2022, the leverage's maximum notional -2027 and missing margin -2019. Every refusal leaves
the order as it was.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from clobactors.exchanges.binance.face_convert import stp_name
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_user import user_topic
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.face_convert import POSITION_SIDES, order_body, order_update, user_trade
from clobactors.exchanges.binance_usdm.face_core import MAX_OPEN_ORDERS, PERCENT_DOWN, PERCENT_UP, UsdmCore, fail
from clobactors.model import OrderStatus, OrderType, PositionMode, PositionSide, Side, TimeInForce
from clobactors.sim.face_protocol import Output, SimCredentials
from clobactors.sim.perp_records import PerpReject
from clobactors.sim.records import ExecType, OrderEvent, OrderInfo, Rejection
from clobactors.sim.rules import ExpireReason, RejectReason

__all__ = ["amend_order", "cancel_all", "cancel_order", "new_order", "open_orders", "query_order", "user_trades"]

_SIDES: Final = {"BUY": Side.BUY, "SELL": Side.SELL}
_TIFS: Final = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTX": TimeInForce.GTC}
_KNOWN_TYPES: Final = frozenset(
    {"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
_STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
#: Documented parameters of features the engine does not have: refused (-1106) when sent.
_UNSUPPORTED: Final = (
    "stopPrice", "closePosition", "activationPrice", "callbackRate", "workingType", "priceProtect",
    "goodTillDate",
)  # fmt: skip
_CANCEL_ALL_DONE: Final = "The operation of cancel all open order is done."


def _not_required(name: str) -> FaceError:
    return fail(-1106, name)


def _rejected(core: UsdmCore, rejection: Rejection, symbol: str, size: Decimal | None) -> FaceError:
    rules = core.engine.rules(symbol)
    match rejection.reason:
        case RejectReason.UNKNOWN_SYMBOL:
            return fail(-1121)
        case RejectReason.UNKNOWN_ACCOUNT:
            return fail(-2015, status=401)
        case RejectReason.FILTER_PRICE:
            return fail(-4014)
        case RejectReason.FILTER_LOT_SIZE:
            if size is not None and size % rules.lot_size == 0:
                return fail(-4004 if size < (rules.min_size or rules.lot_size) else -4005)
            return fail(-4023)
        case RejectReason.FILTER_MIN_NOTIONAL:
            return fail(-4164, format(rules.min_notional.normalize(), "f"))
        case RejectReason.INSUFFICIENT_BALANCE:
            return fail(-2028 if rejection.perp is PerpReject.LEVERAGE_MARGIN else -2019)
        case RejectReason.WOULD_TAKE:
            return fail(-5022)
        case RejectReason.DUPLICATE_CLIENT_ID:
            return fail(-4116)
        case RejectReason.UNKNOWN_ORDER:
            return fail(-2011)
        case RejectReason.INVALID_ORDER:
            match rejection.perp:
                case PerpReject.REDUCE_ONLY:
                    return fail(-2022)
                case PerpReject.POSITION_SIDE:
                    return fail(-4061)
                case PerpReject.REDUCE_ONLY_IN_HEDGE:
                    return _not_required("reduceOnly")
                case PerpReject.MAX_NOTIONAL:
                    return fail(-2027)
                case PerpReject.INVALID_LEVERAGE:
                    return fail(-4028)
                case _:
                    return FaceError(-2010, "NEW_ORDER_REJECTED")


def _position_side(core: UsdmCore, account: SimCredentials, params: Params) -> PositionSide:
    text = params.raw("positionSide")
    if text is not None and text not in POSITION_SIDES:
        raise fail(-4060)
    side = POSITION_SIDES[text or "BOTH"]
    hedge = core.perps.position_mode(account.account_id) is PositionMode.HEDGE
    if hedge == (side is PositionSide.BOTH):
        raise fail(-4061)
    return side


def new_order(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › New Order (TRADE) (``POST /fapi/v1/order``): LIMIT (GTC/IOC/FOK/GTX) and MARKET."""
    symbol = core.symbol(params)
    assert symbol is not None
    side_text, type_text = params.raw("side", required=True), params.raw("type", required=True)
    assert side_text is not None and type_text is not None
    if side_text not in _SIDES:
        raise fail(-1117)
    if type_text not in _KNOWN_TYPES:
        raise fail(-1116)
    if type_text not in ("LIMIT", "MARKET"):
        raise FaceError(-1014, "Unsupported order combination.")  # conditional orders: not simulated
    position_side = _position_side(core, account, params)
    tif_text = params.raw("timeInForce")
    if tif_text is not None and tif_text not in _TIFS:
        raise fail(-1115)
    quantity, price = params.decimal("quantity"), params.decimal("price")
    reduce_only = params.boolean("reduceOnly")
    client_id = params.client_id("newClientOrderId") or ""
    resp_type = params.choice("newOrderRespType", ("ACK", "RESULT")) or "ACK"
    stp = params.choice("selfTradePreventionMode", _STP_MODES)
    if stp is not None and stp != stp_name(core.stp):
        raise fail(-1130, "selfTradePreventionMode")
    match_text = params.raw("priceMatch")
    if match_text not in (None, "NONE"):
        raise _not_required("priceMatch")
    for name in _UNSUPPORTED:
        if params.raw(name) is not None:
            raise _not_required(name)
    params.finish()
    if reduce_only is not None and position_side is not PositionSide.BOTH:
        raise _not_required("reduceOnly")
    order_type = OrderType.MARKET if type_text == "MARKET" else OrderType.LIMIT
    if quantity is None:
        raise fail(-1102)
    if order_type is OrderType.MARKET:
        if price is not None:
            raise _not_required("price")
        tif_text = None
    elif tif_text is None or price is None:
        raise fail(-1102)
    side = _SIDES[side_text]
    _percent_price(core, symbol, side, price, now_ns)
    if len(core.engine.open_orders(account.account_id, symbol)) >= MAX_OPEN_ORDERS:
        raise fail(-2025)
    core.limits.charge_order(account.account_id, now_ns // 1_000_000)
    result = core.engine.submit(
        account.account_id, symbol, side, order_type, size=quantity, price=price,
        time_in_force=_TIFS[tif_text] if tif_text is not None else TimeInForce.GTC, post_only=tif_text == "GTX",
        client_order_id=client_id, reduce_only=bool(reduce_only), position_side=position_side, now_ns=now_ns,
    )  # fmt: skip
    if isinstance(result, Rejection):
        raise _rejected(core, result, symbol, quantity)
    order = result.order
    if order.expire_reason is ExpireReason.FOK_UNFILLABLE:
        raise fail(-5021)
    if resp_type == "ACK":
        order = msgspec.structs.replace(
            order, status=OrderStatus.OPEN, filled_size=order.filled_size * 0, filled_quote=order.filled_quote * 0,
            updated_ns=now_ns,
        )  # fmt: skip
    return wire.encode(order_body(order, core.stp))


def _percent_price(core: UsdmCore, symbol: str, side: Side, price: Decimal | None, now_ns: int) -> None:
    """§ Filters › PERCENT_PRICE against the mark price (-4016 above the cap, -4024 below the floor)."""
    if price is None:
        return
    mark = core.perps.premium(symbol, now_ns=now_ns).mark_price
    if not mark:
        return
    if side is Side.BUY and price > mark * PERCENT_UP:
        raise fail(-4016)
    if side is Side.SELL and price < mark * PERCENT_DOWN:
        raise fail(-4024)


def _find(core: UsdmCore, account: SimCredentials, params: Params, symbol: str) -> OrderInfo | None:
    order_id = params.integer("orderId")
    client_id = params.raw("origClientOrderId")
    if order_id is None and client_id is None:
        raise FaceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = core.engine.order(account.account_id, symbol, order_id=order_id, client_order_id=client_id or "")
    if order is not None and order_id is not None and client_id is not None and order.client_order_id != client_id:
        return None  # both given: they must name the same order
    return order


def amend_order(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Modify Order (TRADE) (``PUT /fapi/v1/order``): see the module docstring."""
    symbol = core.symbol(params)
    assert symbol is not None
    side_text = params.raw("side", required=True)
    quantity, price = params.decimal("quantity"), params.decimal("price")
    position_text = params.raw("positionSide")
    match_text = params.raw("priceMatch")
    if match_text not in (None, "NONE"):
        raise _not_required("priceMatch")
    order = _find(core, account, params, symbol)
    params.finish()
    if side_text not in _SIDES:
        raise fail(-1117)
    if quantity is None or price is None:
        raise FaceError(-1102, "Both 'quantity' and 'price' must be sent.")
    if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        raise fail(-2013)
    if _SIDES[side_text] is not order.side:
        raise FaceError(-1102, "Param 'side' does not match the order.")
    leg = order.position_side or PositionSide.BOTH
    if position_text is not None and POSITION_SIDES.get(position_text) is not leg:
        raise fail(-4061)
    if (price, quantity) == (order.price, order.size):
        raise fail(-5027)
    _percent_price(core, symbol, order.side, price, now_ns)
    core.limits.charge_order(account.account_id, now_ns // 1_000_000)
    result = core.engine.amend(
        account.account_id, symbol, order_id=order.order_id, price=price, size=quantity, now_ns=now_ns
    )
    if isinstance(result, Rejection):
        raise _amend_rejected(core, result, symbol, quantity)
    if result.amended is not None:  # a cancelling amendment's CANCELED comes from the engine's events
        # Pending outputs go out before the engine's events: AMENDMENT first, then the TRADEs it caused.
        event = OrderEvent(ts_ns=now_ns, account_id=account.account_id, symbol=symbol, exec_type=ExecType.NEW,
                           order=result.amended, execution=None)  # fmt: skip
        update = order_update(
            event, event_ms=now_ns // 1_000_000, stp=core.stp, margin_asset=core.margin_asset(symbol),
            execution_type="AMENDMENT",
        )  # fmt: skip
        core.pending.append(Output(user_topic(account.account_id), wire.encode(update)))
    return wire.encode(order_body(result.order, core.stp))


def _amend_rejected(core: UsdmCore, rejection: Rejection, symbol: str, size: Decimal) -> FaceError:
    """An engine refusal of an amendment in Modify Order's codes, else a new order's (:func:`_rejected`)."""
    match rejection.perp:
        case PerpReject.NO_CHANGE:
            return fail(-5027)
        case PerpReject.LIMIT_ONLY:
            return fail(-5025)
        case PerpReject.MODIFY_LIMIT:
            return fail(-5026)
    if rejection.reason is RejectReason.UNKNOWN_ORDER:
        return fail(-2013)
    if rejection.reason is RejectReason.FILTER_MIN_NOTIONAL:
        return fail(-5029, format(core.engine.rules(symbol).min_notional.normalize(), "f"))
    return _rejected(core, rejection, symbol, size)


def query_order(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Query Order (USER_DATA) (``GET /fapi/v1/order``); unknown: -2013 Order does not exist."""
    symbol = core.symbol(params)
    assert symbol is not None
    order = _find(core, account, params, symbol)
    params.finish()
    if order is None:
        raise fail(-2013)
    return wire.encode(order_body(order, core.stp, with_time=True))


def cancel_order(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Cancel Order (TRADE) (``DELETE /fapi/v1/order``); not open: -2011 Unknown order sent."""
    symbol = core.symbol(params)
    assert symbol is not None
    order = _find(core, account, params, symbol)
    params.finish()
    if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        raise fail(-2011)
    result = core.engine.cancel(account.account_id, symbol, order_id=order.order_id, now_ns=now_ns)
    if isinstance(result, Rejection):
        raise _rejected(core, result, symbol, None)
    return wire.encode(order_body(result, core.stp))


def open_orders(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Current All Open Orders (USER_DATA) (``GET /fapi/v1/openOrders``), one symbol or all."""
    symbol = core.symbol(params, required=False)
    params.finish()
    orders = core.engine.open_orders(account.account_id, symbol)
    return wire.ENCODER.encode([order_body(o, core.stp, with_time=True) for o in orders])


def cancel_all(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Cancel All Open Orders (TRADE) (``DELETE /fapi/v1/allOpenOrders``): code 200 even if none."""
    symbol = core.symbol(params)
    assert symbol is not None
    params.finish()
    result = core.engine.cancel_all(account.account_id, symbol, now_ns=now_ns)
    if isinstance(result, Rejection):
        raise _rejected(core, result, symbol, None)
    return wire.encode(wire.CodeMessage(code=200, msg=_CANCEL_ALL_DONE))


def user_trades(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Account Trade List (USER_DATA) (``GET /fapi/v1/userTrades``): default 500, at most 1000.

    ``fromId`` cannot go with a time range (-1128).
    """
    symbol = core.symbol(params)
    assert symbol is not None
    order_id = params.integer("orderId")
    start, end = params.integer("startTime"), params.integer("endTime")
    from_id = params.integer("fromId")
    limit = params.integer("limit")
    params.finish()
    if from_id is not None and (start is not None or end is not None):
        raise FaceError(-1128, "Combination of optional parameters invalid.")
    if limit is not None and not 1 <= limit <= 1000:
        raise fail(-1130, "limit")
    rows = [
        e
        for e in core.engine.trades_for(account.account_id, symbol)
        if (order_id is None or e.order_id == order_id)
        and (start is None or e.ts_ns // 1_000_000 >= start)
        and (end is None or e.ts_ns // 1_000_000 <= end)
        and (from_id is None or e.trade_id >= from_id)
    ]
    count = limit or 500
    rows = rows[:count] if from_id is not None or start is not None else rows[-count:]
    asset = core.margin_asset(symbol)
    return wire.ENCODER.encode([user_trade(e, asset) for e in rows])
