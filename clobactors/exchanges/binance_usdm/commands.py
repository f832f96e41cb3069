"""Typed commands into Binance USD-M requests: signed REST specs and stream names. No I/O, no clock.

Signing is spot's (:func:`clobactors.exchanges.binance.commands.signed`): params in order, then
``recvWindow`` and ``timestamp``, then ``signature`` over exactly the query string that is sent, with
``X-MBX-APIKEY``. Everything goes in the query string.

``POST /fapi/v1/order`` (§ Trade › New Order) parameters, in the order of the docs' signing example:
``symbol, side, [positionSide], type, quantity, [price], [timeInForce], [reduceOnly], [newClientOrderId],
[newOrderRespType]``, so a plain LIMIT order with ACK answers is byte for byte the docs' example.

* **Post-only**: :data:`~clobactors.model.OrderType.LIMIT_MAKER` is ``type=LIMIT&timeInForce=GTX``.
* **Answers**: ``RESULT`` by default (Binance's default is ``ACK``; futures have no ``FULL``). RESULT carries the
  final state of MARKET and IOC/FOK/GTX orders; fills always come from the user stream (or ``userTrades``).
* **Positions** (§ New Order: ``positionSide`` "must be sent in Hedge Mode", ``reduceOnly`` "cannot be sent in
  Hedge Mode"). The command's ``position_side`` says the mode:

  - ``BOTH`` (one-way): no ``positionSide``; ``reduce_only`` or ``position_action=CLOSE`` sends
    ``reduceOnly=true``; both OPEN and reduce-only at once is refused.
  - ``LONG``/``SHORT`` (hedge): ``positionSide`` is sent and ``reduceOnly`` never is; closing is the side
    opposite the leg (SELL closes LONG, BUY closes SHORT). ``position_action`` or ``reduce_only`` that
    contradicts the side is refused locally (Binance would answer -4061/-2022 or open the other way).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from clobactors.client_ids import BINANCE
from clobactors.errors import ConfigError, LocalProtocolError
from clobactors.exchanges.binance.commands import signed, stream_frames
from clobactors.exchanges.binance_common.orders import order_ref
from clobactors.exchanges.binance_usdm import signing, urls
from clobactors.exchanges.binance_usdm.convert import (
    margin_type_param,
    order_type_params,
    position_side_param,
    side_param,
)
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder, SetLeverage, SetPositionMode
from clobactors.model import Instrument, MarginType, OrderType, PositionAction, PositionMode, PositionSide, Side

__all__ = [
    "FUNDING_FEE",
    "MAX_LEVERAGE",
    "OrderResponse",
    "balances",
    "cancel_all",
    "cancel_order",
    "depth",
    "exchange_info",
    "income",
    "listen_key_close",
    "listen_key_create",
    "listen_key_keepalive",
    "modify_order",
    "open_orders",
    "place_order",
    "position_risk",
    "premium_index",
    "query_order",
    "server_time",
    "set_leverage",
    "set_margin_type",
    "set_position_mode",
    "stream_frames",
    "stream_names",
    "user_trades",
]

#: ``incomeType`` of funding settlements (§ Account › Get Income History).
FUNDING_FEE: Final = "FUNDING_FEE"
#: Highest leverage the endpoint accepts (§ Change Initial Leverage: "int from 1 to 125").
MAX_LEVERAGE: Final = 125
#: userTrades / income page size (the documented maximum).
PAGE_LIMIT: Final = 1000

_Params = list[tuple[str, signing.ParamValue]]


class OrderResponse(enum.StrEnum):
    """``newOrderRespType`` we ask for."""

    #: Status after entry: final for MARKET and IOC/FOK/GTX orders (our default).
    RESULT = "RESULT"
    #: Binance's default; the answer still carries the order's fields, as NEW.
    ACK = "ACK"


def _positive(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise LocalProtocolError(f"order {what} must be a positive finite decimal, not {value}")
    return value


def _position_params(command: PlaceOrder) -> tuple[_Params, _Params]:
    """``(positionSide params, reduceOnly params)`` per the module docstring's rules."""
    action = command.position_action
    if command.position_side is PositionSide.BOTH:
        if command.reduce_only and action is PositionAction.OPEN:
            raise LocalProtocolError("an order cannot both open a position and be reduce-only")
        closing = command.reduce_only or action is PositionAction.CLOSE
        return [], ([("reduceOnly", True)] if closing else [])
    closes = (command.position_side is PositionSide.LONG) == (command.side is Side.SELL)
    if action is not None and (action is PositionAction.CLOSE) != closes:
        raise LocalProtocolError(
            f"{command.side.value} on the {command.position_side.value} leg does not {action.value} it (hedge mode)"
        )
    if command.reduce_only and not closes:
        raise LocalProtocolError(
            f"{command.side.value} on the {command.position_side.value} leg opens it; it cannot be reduce-only"
        )
    return [("positionSide", position_side_param(command.position_side))], []


def place_order(
    command: PlaceOrder,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    response: OrderResponse = OrderResponse.RESULT,
) -> HttpRequestSpec:
    """``POST /fapi/v1/order`` (see the module docstring for order, post-only and position rules)."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"command for {command.instrument} sent with instrument {instrument.name}")
    type_param, tif_param = order_type_params(command.order_type, command.time_in_force)
    position_side, reduce_only = _position_params(command)
    params: _Params = [("symbol", instrument.symbol), ("side", side_param(command.side))]
    params += position_side
    params += [("type", type_param), ("quantity", _positive(command.size, "size"))]
    if command.order_type is OrderType.MARKET:
        if command.price is not None:
            raise LocalProtocolError("a market order takes no price")
    elif command.price is None:
        raise LocalProtocolError(f"a {command.order_type.value} order needs a price")
    else:
        params.append(("price", _positive(command.price, "price")))
    if tif_param is not None:
        params.append(("timeInForce", tif_param))
    params += reduce_only
    if command.client_order_id:
        if not BINANCE.is_valid(command.client_order_id):
            raise LocalProtocolError(f"{command.client_order_id!r} is not a valid Binance client order id")
        params.append(("newClientOrderId", command.client_order_id))
    if response is not OrderResponse.ACK:
        params.append(("newOrderRespType", response.value))
    return signed("POST", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def modify_order(
    command: PlaceOrder,
    original: str,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``PUT /fapi/v1/order`` (§ Trade › Modify Order): amend our order ``original`` in place to ``command``'s
    price and total size. Parameters in the docs' order: ``symbol``, ``side``, ``[positionSide]`` (hedge mode),
    ``quantity``, ``price``, ``origClientOrderId``. Only LIMIT orders can be modified and both ``quantity``
    and ``price`` must be sent; the order keeps its ids and goes to the back of the queue."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"command for {command.instrument} sent with instrument {instrument.name}")
    if command.order_type not in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
        raise LocalProtocolError(f"only LIMIT orders can be modified, not {command.order_type.value}")
    if command.price is None:
        raise LocalProtocolError("a modification needs a price")
    if command.client_order_id and command.client_order_id != original:
        raise LocalProtocolError("an amendment keeps the order's client order id")
    if not BINANCE.is_valid(original):
        raise LocalProtocolError(f"{original!r} is not a valid Binance client order id")
    params: _Params = [("symbol", instrument.symbol), ("side", side_param(command.side))]
    if command.position_side is not PositionSide.BOTH:
        params.append(("positionSide", position_side_param(command.position_side)))
    params += [
        ("quantity", _positive(command.size, "size")),
        ("price", _positive(command.price, "price")),
        ("origClientOrderId", original),
    ]
    return signed("PUT", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def cancel_order(
    command: CancelOrder,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``DELETE /fapi/v1/order`` by our id (preferred) or Binance's numeric one."""
    params: _Params = [
        ("symbol", instrument.symbol),
        order_ref(command.client_order_id, command.exchange_order_id, "a cancel"),
    ]
    return signed("DELETE", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def cancel_all(
    command: CancelAll,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``DELETE /fapi/v1/allOpenOrders``: per symbol only."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"cancel-all for {command.instrument} sent with instrument {instrument.name}")
    params: _Params = [("symbol", instrument.symbol)]
    return signed("DELETE", urls.ALL_OPEN_ORDERS, params, credentials, now_ms=now_ms, recv_window=recv_window)


def query_order(
    instrument: Instrument,
    client_order_id: str,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    exchange_order_id: str = "",
) -> HttpRequestSpec:
    """``GET /fapi/v1/order`` by our id (preferred) or Binance's numeric one."""
    params: _Params = [("symbol", instrument.symbol), order_ref(client_order_id, exchange_order_id, "a query")]
    return signed("GET", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def open_orders(
    instrument: Instrument | None, credentials: signing.Credentials, *, now_ms: int, recv_window: int | None
) -> HttpRequestSpec:
    """``GET /fapi/v1/openOrders``, one symbol (weight 1) or all (weight 40)."""
    params: _Params = [] if instrument is None else [("symbol", instrument.symbol)]
    return signed("GET", urls.OPEN_ORDERS, params, credentials, now_ms=now_ms, recv_window=recv_window)


def user_trades(
    instrument: Instrument, since_ms: int, credentials: signing.Credentials, *, now_ms: int, recv_window: int | None
) -> HttpRequestSpec:
    """``GET /fapi/v1/userTrades`` from ``since_ms`` (one page of up to 1000; at most 7 days per query)."""
    params: _Params = [("symbol", instrument.symbol), ("startTime", since_ms), ("limit", PAGE_LIMIT)]
    return signed("GET", urls.USER_TRADES, params, credentials, now_ms=now_ms, recv_window=recv_window)


def balances(credentials: signing.Credentials, *, now_ms: int, recv_window: int | None) -> HttpRequestSpec:
    """``GET /fapi/v3/balance``."""
    return signed("GET", urls.BALANCE, [], credentials, now_ms=now_ms, recv_window=recv_window)


def position_risk(
    instrument: Instrument | None, credentials: signing.Credentials, *, now_ms: int, recv_window: int | None
) -> HttpRequestSpec:
    """``GET /fapi/v2/positionRisk``: V2 because it carries leverage and margin type (V3 dropped them)."""
    params: _Params = [] if instrument is None else [("symbol", instrument.symbol)]
    return signed("GET", urls.POSITION_RISK, params, credentials, now_ms=now_ms, recv_window=recv_window)


def set_leverage(
    command: SetLeverage,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``POST /fapi/v1/leverage``. The command's ``margin_type`` is a separate endpoint (:func:`set_margin_type`)."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"leverage for {command.instrument} sent with instrument {instrument.name}")
    if not 1 <= command.leverage <= MAX_LEVERAGE:
        raise LocalProtocolError(f"leverage must be within 1..{MAX_LEVERAGE}, not {command.leverage}")
    params: _Params = [("symbol", instrument.symbol), ("leverage", command.leverage)]
    return signed("POST", urls.LEVERAGE, params, credentials, now_ms=now_ms, recv_window=recv_window)


def set_margin_type(
    instrument: Instrument,
    margin_type: MarginType,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``POST /fapi/v1/marginType`` with ``CROSSED``/``ISOLATED`` (-4046 "no need to change" is success)."""
    params: _Params = [("symbol", instrument.symbol), ("marginType", margin_type_param(margin_type))]
    return signed("POST", urls.MARGIN_TYPE, params, credentials, now_ms=now_ms, recv_window=recv_window)


def set_position_mode(
    command: SetPositionMode, credentials: signing.Credentials, *, now_ms: int, recv_window: int | None
) -> HttpRequestSpec:
    """``POST /fapi/v1/positionSide/dual``: ``dualSidePosition=true`` is hedge mode, for every symbol."""
    params: _Params = [("dualSidePosition", command.mode is PositionMode.HEDGE)]
    return signed("POST", urls.POSITION_SIDE_DUAL, params, credentials, now_ms=now_ms, recv_window=recv_window)


def income(
    instrument: Instrument | None,
    since_ms: int,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    income_type: str = FUNDING_FEE,
) -> HttpRequestSpec:
    """``GET /fapi/v1/income`` of one type (funding fees by default) from ``since_ms``, up to 1000 rows."""
    params: _Params = [] if instrument is None else [("symbol", instrument.symbol)]
    params += [("incomeType", income_type), ("startTime", since_ms), ("limit", PAGE_LIMIT)]
    return signed("GET", urls.INCOME, params, credentials, now_ms=now_ms, recv_window=recv_window)


def server_time() -> HttpRequestSpec:
    return HttpRequestSpec(method="GET", path=urls.TIME)


def exchange_info() -> HttpRequestSpec:
    return HttpRequestSpec(method="GET", path=urls.EXCHANGE_INFO)


def depth(instrument: Instrument, levels: int) -> HttpRequestSpec:
    """``GET /fapi/v1/depth`` with the smallest valid ``limit`` holding ``levels`` (5..1000)."""
    limit = urls.depth_limit_for(levels)
    return HttpRequestSpec(method="GET", path=urls.DEPTH, params=(("symbol", instrument.symbol), ("limit", str(limit))))


def premium_index(instrument: Instrument) -> HttpRequestSpec:
    """``GET /fapi/v1/premiumIndex`` for one symbol: mark, index, last funding rate, next funding time."""
    return HttpRequestSpec(method="GET", path=urls.PREMIUM_INDEX, params=(("symbol", instrument.symbol),))


def _user_stream(method: str, credentials: signing.Credentials) -> HttpRequestSpec:
    headers = ((signing.API_KEY_HEADER, credentials.api_key),)
    return HttpRequestSpec(method=method, path=urls.LISTEN_KEY, headers=headers)


def listen_key_create(credentials: signing.Credentials) -> HttpRequestSpec:
    """``POST /fapi/v1/listenKey`` (USER_STREAM: key header, no signature; returns the active key if any)."""
    return _user_stream("POST", credentials)


def listen_key_keepalive(credentials: signing.Credentials) -> HttpRequestSpec:
    """``PUT /fapi/v1/listenKey``: no parameters on futures; extends the account's key by 60 minutes."""
    return _user_stream("PUT", credentials)


def listen_key_close(credentials: signing.Credentials) -> HttpRequestSpec:
    """``DELETE /fapi/v1/listenKey``: closes the stream."""
    return _user_stream("DELETE", credentials)


def stream_names(
    subscriptions: Sequence[Subscription], *, depth_speed_ms: int = 100, mark_speed_ms: int = 1000
) -> list[str]:
    """Stream names in subscription order, duplicates removed: BOOK → ``<sym>@depth@100ms``, TRADES →
    ``<sym>@aggTrade`` (futures have no raw trade stream), BBO → ``<sym>@bookTicker``, MARK →
    ``<sym>@markPrice@1s``."""
    names: dict[str, None] = {}
    for sub in subscriptions:
        symbol = sub.instrument.symbol
        match sub.channel:
            case Channel.BOOK:
                names[urls.depth_stream(symbol, speed_ms=depth_speed_ms)] = None
            case Channel.TRADES:
                names[urls.agg_trade_stream(symbol)] = None
            case Channel.BBO:
                names[urls.book_ticker_stream(symbol)] = None
            case Channel.MARK:
                names[urls.mark_price_stream(symbol, speed_ms=mark_speed_ms)] = None
    if not names:
        raise ConfigError("no streams to subscribe")
    return list(names)
