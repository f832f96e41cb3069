"""Typed commands into Binance spot requests: signed REST specs and WebSocket frames. No I/O, no clock.

Signed REST requests (rest-api.md § SIGNED (TRADE and USER_DATA) Endpoint security): the parameters in the
documented order, then ``recvWindow`` and ``timestamp``, then ``signature`` =
:meth:`Credentials.sign() <clobactors.exchanges.binance.signing.Credentials.sign>` (HMAC-SHA256, hex) over exactly
:meth:`HttpRequestSpec.query_string() <clobactors.httpspec.HttpRequestSpec.query_string>` without it, so the
signed bytes are the sent bytes. Everything goes in the query string (no body), with ``X-MBX-APIKEY``.
Decimals are written in plain notation (``format(d, "f")``: never a float, never an exponent).

``POST /api/v3/order`` parameters, in the docs' order: ``symbol, side, type, timeInForce`` (LIMIT only),
``quantity, price`` (not MARKET), ``newClientOrderId`` (when ours is set), ``newOrderRespType``. We want
``FULL`` answers: they carry the fills that happened on entry, so a taker order's executions are known
from the answer itself without waiting for the user stream. ``FULL`` is Binance's documented default for
LIMIT and MARKET (other types default to ACK), so ``newOrderRespType`` is only sent where it differs
from that default (LIMIT_MAKER); a LIMIT order is then byte for byte the docs' signing example.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from clobactors.client_ids import BINANCE
from clobactors.errors import ConfigError, LocalProtocolError
from clobactors.exchanges.binance import signing, urls
from clobactors.exchanges.binance import wire as w
from clobactors.exchanges.binance.convert import order_type_param, side_param, time_in_force_param
from clobactors.exchanges.binance_common.orders import order_ref
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.httpspec import HttpRequestSpec, encode_query, remember_query
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder
from clobactors.model import Instrument, OrderType, PositionSide, TimeInForce

__all__ = [
    "MAX_STREAMS_PER_FRAME",
    "USER_SUBSCRIBE_METHOD",
    "OrderResponse",
    "CANCEL_REPLACE_MODE",
    "account",
    "cancel_all",
    "cancel_order",
    "cancel_replace",
    "depth",
    "exchange_info",
    "listen_key_create",
    "listen_key_keepalive",
    "my_trades",
    "open_orders",
    "place_order",
    "query_order",
    "server_time",
    "signed",
    "stream_frames",
    "stream_names",
    "user_subscribe_frame",
]

#: Streams per SUBSCRIBE/UNSUBSCRIBE frame; Binance sets no count, this keeps frames a few KB.
MAX_STREAMS_PER_FRAME: Final = 200
#: WebSocket API method that subscribes the user data stream with a signature (no session logon needed,
#: so HMAC keys work): web-socket-api.md § User Data Stream requests.
USER_SUBSCRIBE_METHOD: Final = "userDataStream.subscribe.signature"
#: myTrades page size (the documented maximum).
MY_TRADES_LIMIT: Final = 1000
#: ``cancelReplaceMode`` we send: never place the replacement when the cancel failed.
CANCEL_REPLACE_MODE: Final = "STOP_ON_FAILURE"
_MAX_DEPTH: Final = 5000


class OrderResponse(enum.StrEnum):
    """``newOrderRespType`` we ask for (ACK is never used: it carries no status)."""

    #: Status plus the fills that happened on entry.
    FULL = "FULL"
    #: Status only.
    RESULT = "RESULT"


def signed(
    method: str,
    path: str,
    params: Sequence[tuple[str, signing.ParamValue]],
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """A signed request: params, ``recvWindow`` (when set), ``timestamp``, then ``signature`` last."""
    pairs = [(name, value if value.__class__ is str else signing.format_value(value)) for name, value in params]
    if recv_window is not None:
        pairs.append(("recvWindow", str(recv_window)))
    pairs.append(("timestamp", str(now_ms)))
    unsigned = encode_query(pairs)  # never empty: it ends with the timestamp
    signature = credentials.sign(unsigned)  # lowercase hex: nothing in it to percent-encode
    pairs.append(("signature", signature))
    sent = tuple(pairs)
    remember_query(sent, f"{unsigned}&signature={signature}")  # the transport sends it as is
    return HttpRequestSpec(
        method=method,
        path=path,
        params=sent,
        headers=((signing.API_KEY_HEADER, credentials.api_key),),
    )


def _positive(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise LocalProtocolError(f"order {what} must be a positive finite decimal, not {value}")
    return value


def place_order(
    command: PlaceOrder,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    response: OrderResponse = OrderResponse.FULL,
) -> HttpRequestSpec:
    """``POST /api/v3/order`` (see the module docstring for the parameter order and the response type)."""
    if (
        command.order_type is OrderType.LIMIT
        and command.price is not None
        and command.client_order_id
        and command.instrument == instrument.name
        and not command.reduce_only
        and command.position_action is None
        and command.position_side is PositionSide.BOTH
    ):
        return _limit_order(command, command.price, instrument, credentials, now_ms, recv_window, response)
    params = _order_params(command, instrument, response)
    return signed("POST", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


#: (symbol, side, time in force, response) -> the parameters a LIMIT order starts with, and their encoding.
_LIMIT_HEADS: dict[tuple[str, object, object, object], tuple[tuple[tuple[str, str], ...], str]] = {}
_MAX_HEADS: Final = 4096


def _limit_order(
    command: PlaceOrder,
    price: Decimal,
    instrument: Instrument,
    credentials: signing.Credentials,
    now_ms: int,
    recv_window: int | None,
    response: OrderResponse,
) -> HttpRequestSpec:
    """:func:`place_order` of the usual order, a LIMIT with our client order id, from a cached head.

    The parameters before ``quantity`` depend only on the symbol, side, time in force (and the response type
    after the id), so they are built by the general path once and their encoding is reused: ~20 -> ~13 µs in
    context on the order path (``bench/run.py order-stages``). The result is the general path's, byte for byte
    (``tests/exchanges/binance/test_commands_limit.py`` checks it by property).
    """
    key = (instrument.symbol, command.side, command.time_in_force, response)
    head = _LIMIT_HEADS.get(key)
    if head is None:
        general = _order_params(command, instrument, response)  # validates the head's parts, as always
        pairs = tuple((n, signing.format_value(v)) for n, v in general[: [n for n, _ in general].index("quantity")])
        if len(_LIMIT_HEADS) >= _MAX_HEADS:
            _LIMIT_HEADS.clear()
        head = _LIMIT_HEADS[key] = (pairs, encode_query(pairs))
    pairs, query = head
    client_order_id = command.client_order_id
    if not BINANCE.is_valid(client_order_id):
        raise LocalProtocolError(f"{client_order_id!r} is not a valid Binance client order id")
    tail = [
        ("quantity", format(_positive(command.size, "size"), "f")),
        ("price", format(_positive(price, "price"), "f")),
        ("newClientOrderId", client_order_id),
    ]
    if response is not OrderResponse.FULL:
        tail.append(("newOrderRespType", response.value))
    if recv_window is not None:
        tail.append(("recvWindow", str(recv_window)))
    tail.append(("timestamp", str(now_ms)))
    unsigned = f"{query}&{encode_query(tail)}"
    signature = credentials.sign(unsigned)  # lowercase hex: nothing in it to percent-encode
    tail.append(("signature", signature))
    sent = pairs + tuple(tail)
    remember_query(sent, f"{unsigned}&signature={signature}")  # the transport sends it as is
    return HttpRequestSpec(
        method="POST",
        path=urls.ORDER,
        params=sent,
        headers=((signing.API_KEY_HEADER, credentials.api_key),),
    )


def cancel_replace(
    command: PlaceOrder,
    original: str,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    response: OrderResponse = OrderResponse.FULL,
) -> HttpRequestSpec:
    """``POST /api/v3/order/cancelReplace`` (rest-api.md § Cancel an Existing Order and Send a New Order
    (TRADE)): cancel our order ``original`` and place ``command`` (the full new order, under its own new
    client order id) in one request.

    Parameters in the docs' order: ``symbol, side, type, cancelReplaceMode``, then the new order's as for
    ``POST /api/v3/order`` (``timeInForce, quantity, price``), ``cancelOrigClientOrderId``,
    ``newClientOrderId``, ``newOrderRespType`` where it differs from the default. ``STOP_ON_FAILURE``: when
    the cancel fails (the order filled meanwhile) the new order is not attempted, so a re-quote can never
    leave two orders resting.
    """
    if not command.client_order_id or command.client_order_id == original:
        raise LocalProtocolError("a cancel-replace needs a new client order id for the replacement")
    if not BINANCE.is_valid(original):
        raise LocalProtocolError(f"{original!r} is not a valid Binance client order id")
    params = _order_params(command, instrument, response)
    params.insert(3, ("cancelReplaceMode", CANCEL_REPLACE_MODE))
    at = next(i for i, (name, _) in enumerate(params) if name == "newClientOrderId")
    params.insert(at, ("cancelOrigClientOrderId", original))
    return signed("POST", urls.ORDER_CANCEL_REPLACE, params, credentials, now_ms=now_ms, recv_window=recv_window)


def _order_params(
    command: PlaceOrder, instrument: Instrument, response: OrderResponse
) -> list[tuple[str, signing.ParamValue]]:
    """A new order's parameters in the docs' order (module docstring); LocalProtocolError when illegal."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"command for {command.instrument} sent with instrument {instrument.name}")
    if command.reduce_only or command.position_action is not None or command.position_side != PositionSide.BOTH:
        raise LocalProtocolError("reduce-only and position fields do not exist on Binance spot")
    kind = command.order_type
    params: list[tuple[str, signing.ParamValue]] = [
        ("symbol", instrument.symbol),
        ("side", side_param(command.side)),
        ("type", order_type_param(kind)),
    ]
    if kind is OrderType.LIMIT:
        params.append(("timeInForce", time_in_force_param(command.time_in_force)))
    elif kind is OrderType.LIMIT_MAKER and command.time_in_force is not TimeInForce.GTC:
        raise LocalProtocolError("a post-only (LIMIT_MAKER) order takes no time in force")
    elif kind is OrderType.MARKET and command.time_in_force is TimeInForce.FOK:
        raise LocalProtocolError("Binance spot market orders cannot be fill-or-kill")
    params.append(("quantity", _positive(command.size, "size")))
    if kind is OrderType.MARKET:
        if command.price is not None:
            raise LocalProtocolError("a market order takes no price")
    elif command.price is None:
        raise LocalProtocolError(f"a {kind.value} order needs a price")
    else:
        params.append(("price", _positive(command.price, "price")))
    if command.client_order_id:
        if not BINANCE.is_valid(command.client_order_id):
            raise LocalProtocolError(f"{command.client_order_id!r} is not a valid Binance client order id")
        params.append(("newClientOrderId", command.client_order_id))
    default = OrderResponse.FULL if kind in (OrderType.LIMIT, OrderType.MARKET) else None
    if response is not default:
        params.append(("newOrderRespType", response.value))
    return params


def cancel_order(
    command: CancelOrder,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``DELETE /api/v3/order`` by our id (preferred) or the exchange's."""
    params: list[tuple[str, signing.ParamValue]] = [("symbol", instrument.symbol)]
    params.append(order_ref(command.client_order_id, command.exchange_order_id, "a cancel"))
    return signed("DELETE", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def cancel_all(
    command: CancelAll,
    instrument: Instrument,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``DELETE /api/v3/openOrders``: Binance cancels per symbol only."""
    if command.instrument and command.instrument != instrument.name:
        raise LocalProtocolError(f"cancel-all for {command.instrument} sent with instrument {instrument.name}")
    params: list[tuple[str, signing.ParamValue]] = [("symbol", instrument.symbol)]
    return signed("DELETE", urls.OPEN_ORDERS, params, credentials, now_ms=now_ms, recv_window=recv_window)


def query_order(
    instrument: Instrument,
    client_order_id: str,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
    exchange_order_id: str = "",
) -> HttpRequestSpec:
    """``GET /api/v3/order`` by our id (preferred) or Binance's numeric one."""
    params: list[tuple[str, signing.ParamValue]] = [("symbol", instrument.symbol)]
    params.append(order_ref(client_order_id, exchange_order_id, "a query"))
    return signed("GET", urls.ORDER, params, credentials, now_ms=now_ms, recv_window=recv_window)


def open_orders(
    instrument: Instrument | None, credentials: signing.Credentials, *, now_ms: int, recv_window: int | None
) -> HttpRequestSpec:
    """``GET /api/v3/openOrders``, one symbol (weight 6) or all (weight 80)."""
    params: list[tuple[str, signing.ParamValue]] = [] if instrument is None else [("symbol", instrument.symbol)]
    return signed("GET", urls.OPEN_ORDERS, params, credentials, now_ms=now_ms, recv_window=recv_window)


def my_trades(
    instrument: Instrument,
    since_ms: int,
    credentials: signing.Credentials,
    *,
    now_ms: int,
    recv_window: int | None,
) -> HttpRequestSpec:
    """``GET /api/v3/myTrades`` from ``since_ms`` (oldest first, one page of up to 1000)."""
    params: list[tuple[str, signing.ParamValue]] = [
        ("symbol", instrument.symbol),
        ("startTime", since_ms),
        ("limit", MY_TRADES_LIMIT),
    ]
    return signed("GET", urls.MY_TRADES, params, credentials, now_ms=now_ms, recv_window=recv_window)


def account(credentials: signing.Credentials, *, now_ms: int, recv_window: int | None) -> HttpRequestSpec:
    """``GET /api/v3/account`` without the zero balances (an account lists hundreds of assets)."""
    params: list[tuple[str, signing.ParamValue]] = [("omitZeroBalances", True)]
    return signed("GET", urls.ACCOUNT, params, credentials, now_ms=now_ms, recv_window=recv_window)


def server_time() -> HttpRequestSpec:
    return HttpRequestSpec(method="GET", path=urls.TIME)


def exchange_info() -> HttpRequestSpec:
    return HttpRequestSpec(method="GET", path=urls.EXCHANGE_INFO)


def depth(instrument: Instrument, limit: int) -> HttpRequestSpec:
    """``GET /api/v3/depth``; ``limit`` 1..5000 (the sync needs as deep a book as the consumer wants)."""
    if not 1 <= limit <= _MAX_DEPTH:
        raise ConfigError(f"Binance depth limit must be within 1..{_MAX_DEPTH}, not {limit}")
    return HttpRequestSpec(method="GET", path=urls.DEPTH, params=(("symbol", instrument.symbol), ("limit", str(limit))))


def listen_key_create(credentials: signing.Credentials) -> HttpRequestSpec:
    """``POST /api/v3/userDataStream`` (USER_STREAM: API key header, no signature)."""
    return HttpRequestSpec(
        method="POST", path=urls.USER_DATA_STREAM, headers=((signing.API_KEY_HEADER, credentials.api_key),)
    )


def listen_key_keepalive(credentials: signing.Credentials, listen_key: str) -> HttpRequestSpec:
    """``PUT /api/v3/userDataStream?listenKey=...``: extends the key's 60 minutes."""
    return HttpRequestSpec(
        method="PUT",
        path=urls.USER_DATA_STREAM,
        params=(("listenKey", listen_key),),
        headers=((signing.API_KEY_HEADER, credentials.api_key),),
    )


# -- WebSocket -----------------------------------------------------------------------------------------------


def stream_names(subscriptions: Sequence[Subscription], *, depth_speed_ms: int) -> list[str]:
    """Stream names in subscription order, duplicates removed: BOOK → ``<sym>@depth@100ms`` (diffs),
    TRADES → ``<sym>@trade``, BBO → ``<sym>@bookTicker``. MARK does not exist on spot."""
    names: dict[str, None] = {}
    for sub in subscriptions:
        symbol = sub.instrument.symbol
        match sub.channel:
            case Channel.BOOK:
                names[urls.depth_stream(symbol, speed_ms=depth_speed_ms)] = None
            case Channel.TRADES:
                names[urls.trade_stream(symbol)] = None
            case Channel.BBO:
                names[urls.book_ticker_stream(symbol)] = None
            case Channel.MARK:
                raise ConfigError(f"Binance spot has no mark price stream ({sub.instrument.name})")
    return list(names)


def stream_frames(method: str, streams: Sequence[str], request_id: int) -> list[str]:
    """``SUBSCRIBE`` / ``UNSUBSCRIBE`` frames, :data:`MAX_STREAMS_PER_FRAME` streams each, ids counting up
    from ``request_id`` (web-socket-streams.md § Live Subscribing/Unsubscribing to streams)."""
    return [
        w.encode(w.StreamRequest(method=method, params=tuple(streams[i : i + MAX_STREAMS_PER_FRAME]), id=n)).decode()
        for n, i in enumerate(range(0, len(streams), MAX_STREAMS_PER_FRAME), start=request_id)
    ]


def user_subscribe_frame(
    credentials: signing.Credentials, *, now_ms: int, request_id: int, recv_window: int | None
) -> str:
    """``userDataStream.subscribe.signature`` with ``apiKey``, ``recvWindow``, ``timestamp``, ``signature``."""
    params = signing.sign_ws_params({}, credentials, timestamp=now_ms, recv_window=recv_window)
    return w.encode(w.WsApiRequest(id=request_id, method=USER_SUBSCRIBE_METHOD, params=params)).decode()
