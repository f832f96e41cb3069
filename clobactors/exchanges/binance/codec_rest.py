"""Binance spot REST answers into canonical messages: orders, fills, balances, book snapshots, time.

Every function takes the successful answer's :class:`~clobactors.httpspec.HttpResult` (the actor has already
checked ``is_error``). Malformed bodies raise :class:`~clobactors.errors.RemoteProtocolError` with the msgspec
path and hint ``DROP``: the request can be repeated, no stream state is at stake.

Order answers (rest-api.md § Conditional fields in Order Responses) share one conversion, :func:`order_update`:

* a cancel's ``clientOrderId`` is the id of the *cancel request*; the order's own id is ``origClientOrderId``;
* ``price`` is ``"0.00000000"`` on market orders, which becomes ``None``;
* the average fill price is ``cummulativeQuoteQty / executedQty`` (``None`` before any fill);
* orders of types we never place (STOP_LOSS...) and orders on unregistered symbols are skipped and counted.

``GET /api/v3/myTrades`` has no client order id: its fills carry ``exchange_order_id`` and an empty
``client_order_id``; the order manager matches them by exchange id (it learns it from the placement answer).
"""

from __future__ import annotations

from typing import Final, TypeAlias

import attrs
import msgspec

from clobactors.errors import ExchangeError, OrderRejected, RecoveryHint, RemoteProtocolError, UnknownOrder
from clobactors.exchanges.binance import wire as w
from clobactors.exchanges.binance.codec_book import BOOK_TEXT_DECODER
from clobactors.exchanges.binance.convert import (
    EXCHANGE,
    average_price,
    ms_to_ns,
    parse_order_type,
    parse_side,
    parse_status,
    parse_time_in_force,
)
from clobactors.exchanges.binance.errors import map_error_code
from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.standard import ModifyAnswer, ModifyOutcome
from clobactors.httpspec import HttpResult
from clobactors.messages import AccountEvent, Balance, BookSnapshot, Fill, OrderUpdate, PlaceOrder
from clobactors.model import Instrument, Liquidity, OrderType, Side

__all__ = [
    "OrderBody",
    "decode_balances",
    "decode_book_snapshot",
    "decode_cancel_all",
    "decode_cancel_order",
    "decode_cancel_replace",
    "decode_fills",
    "decode_listen_key",
    "decode_open_orders",
    "decode_place_order",
    "decode_query_order",
    "decode_server_time",
    "is_cancel_replace_outcome",
    "order_update",
]

#: Every REST order shape that carries a status (ACK does not, so it is never requested).
OrderBody: TypeAlias = w.OrderResult | w.OrderFull | w.CanceledOrder | w.OrderInfo


def order_update(
    order: OrderBody,
    table: SymbolTable,
    *,
    ts_ms: int,
    recv_ns: int,
    instrument: str | None = None,
) -> OrderUpdate | None:
    """One order answer as an OrderUpdate; ``None`` (counted) for foreign types or unknown symbols."""
    order_type = parse_order_type(order.type)
    if order_type is None:
        table.note_foreign_order()
        return None
    name = instrument or table.name(order.symbol)
    if name is None:
        return None
    client_order_id = order.orig_client_order_id if isinstance(order, w.CanceledOrder) else order.client_order_id
    return OrderUpdate(
        exchange=EXCHANGE,
        instrument=name,
        ts_exchange=ms_to_ns(ts_ms),
        ts_recv=recv_ns,
        client_order_id=client_order_id,
        exchange_order_id=str(order.order_id),
        status=parse_status(order.status),
        side=parse_side(order.side),
        order_type=order_type,
        time_in_force=parse_time_in_force(order.time_in_force),
        price=None if order_type is OrderType.MARKET else order.price,
        size=order.orig_qty,
        filled_size=order.executed_qty,
        avg_fill_price=average_price(order.cummulative_quote_qty, order.executed_qty),
    )


def _required(update: OrderUpdate | None, what: str) -> OrderUpdate:
    if update is None:
        raise RemoteProtocolError(
            f"Binance {what} answered about an order we do not trade (unknown symbol or order type)",
            hint=RecoveryHint.DROP,
        )
    return update


def decode_place_order(
    result: HttpResult, command: PlaceOrder, recv_ns: int, table: SymbolTable, *, full: bool
) -> list[AccountEvent]:
    """``POST /api/v3/order`` (RESULT or FULL): the order, then its immediate fills.

    Fills in the placement answer happened while the order entered the book, so they are taker fills.
    """
    return _new_order_events(result.body, command, recv_ns, table, full=full, what="POST /api/v3/order")


def _new_order_events(
    body: bytes | msgspec.Raw, command: PlaceOrder, recv_ns: int, table: SymbolTable, *, full: bool, what: str
) -> list[AccountEvent]:
    order: w.OrderResult = (
        w.decode_checked(w.ORDER_FULL_DECODER, body, what=what)
        if full
        else w.decode_checked(w.ORDER_RESULT_DECODER, body, what=what)
    )
    update = _required(
        order_update(order, table, ts_ms=order.transact_time, recv_ns=recv_ns, instrument=command.instrument or None),
        what,
    )
    events: list[AccountEvent] = [update]
    for fill in order.fills if isinstance(order, w.OrderFull) else ():
        events.append(
            Fill(
                exchange=EXCHANGE,
                instrument=update.instrument,
                ts_exchange=update.ts_exchange,
                ts_recv=recv_ns,
                client_order_id=update.client_order_id,
                exchange_order_id=update.exchange_order_id,
                trade_id=str(fill.trade_id),
                side=update.side,
                price=fill.price,
                size=fill.qty,
                fee=fill.commission,
                fee_asset=fill.commission_asset,
                liquidity=Liquidity.TAKER,
            )
        )
    return events


# -- cancel-replace (rest-api.md § Cancel an Existing Order and Send a New Order (TRADE)) ----------------------

_CANCEL_REPLACE: Final = "POST /api/v3/order/cancelReplace"
#: -2021 (one side failed) and -2022 (both failed; with STOP_ON_FAILURE: the cancel failed, nothing placed).
_CANCEL_REPLACE_CODES: Final = frozenset({-2021, -2022})
_SUCCESS: Final = "SUCCESS"


def _cancel_replace_error(result: HttpResult) -> w.ErrorBody | None:
    """The error body of a cancel-replace answer that carries per-side ``data`` (HTTP 400 or 409), else None."""
    if result.status not in (400, 409):
        return None
    try:
        error = w.ERROR_DECODER.decode(result.body)
    except msgspec.DecodeError:
        return None
    return error if error.code in _CANCEL_REPLACE_CODES and error.data != w.NULL else None


def is_cancel_replace_outcome(result: HttpResult) -> bool:
    """Whether a non-2xx answer is a cancel-replace's documented per-side outcome (-2021 with HTTP 409,
    -2022 with HTTP 400, each with ``data``), which :func:`decode_cancel_replace` reads, not an error to map."""
    return _cancel_replace_error(result) is not None


def _side_error(body: msgspec.Raw, client_order_id: str) -> ExchangeError:
    """One side's ``{"code", "msg"}`` as the typed error the same answer to a lone request would map to."""
    error = w.decode_checked(w.ERROR_DECODER, body, what=_CANCEL_REPLACE)
    mapped = map_error_code(400, error.code, error.msg)
    if isinstance(mapped, OrderRejected | UnknownOrder):
        return attrs.evolve(mapped, client_order_id=client_order_id)
    return mapped


def decode_cancel_replace(
    result: HttpResult, command: PlaceOrder, original: str, recv_ns: int, table: SymbolTable, *, full: bool
) -> ModifyAnswer:
    """A cancel-replace answer: success (HTTP 200), or a per-side outcome (:func:`is_cancel_replace_outcome`).

    * both succeeded: the original's cancel report (its reason names the replacement), then the
      replacement's report and fills, as a placement answer;
    * -2021, the cancel succeeded and the new order failed: the original's report, and the new order's
      error as :func:`~clobactors.exchanges.binance.errors.map_error_code` maps it alone (``-2010`` "Order
      would immediately match and take." is an :class:`~clobactors.errors.OrderRejected`);
    * -2022 with ``NOT_ATTEMPTED``: the cancel's error (``-2011`` "Unknown order sent." is an
      :class:`~clobactors.errors.UnknownOrder`: the original may have filled), nothing placed.

    ``ALLOW_FAILURE`` shapes (a replacement placed although the cancel failed) are never asked for and raise
    :class:`~clobactors.errors.RemoteProtocolError`.
    """
    error = _cancel_replace_error(result)
    data = w.decode_checked(
        w.CANCEL_REPLACE_DECODER, result.body if error is None else error.data, what=_CANCEL_REPLACE
    )
    cancelled, placed = data.cancel_result == _SUCCESS, data.new_order_result == _SUCCESS
    events: list[AccountEvent] = []
    if cancelled:
        order = w.decode_checked(w.CANCELED_ORDER_DECODER, data.cancel_response, what=_CANCEL_REPLACE)
        update = _required(order_update(order, table, ts_ms=order.transact_time or 0, recv_ns=recv_ns), _CANCEL_REPLACE)
        events.append(msgspec.structs.replace(update, reason=f"replaced by {command.client_order_id}"))
    if cancelled and placed:
        events += _new_order_events(data.new_order_response, command, recv_ns, table, full=full, what=_CANCEL_REPLACE)
        return ModifyAnswer(ModifyOutcome.MODIFIED, tuple(events))
    if cancelled:
        refusal = _side_error(data.new_order_response, command.client_order_id)
        return ModifyAnswer(ModifyOutcome.REPLACEMENT_REFUSED, tuple(events), refusal)
    if not placed:
        return ModifyAnswer(ModifyOutcome.REFUSED, (), _side_error(data.cancel_response, original))
    raise RemoteProtocolError(
        f"Binance {_CANCEL_REPLACE} placed a replacement although the cancel failed (STOP_ON_FAILURE was sent)",
        hint=RecoveryHint.DROP,
    )


def decode_cancel_order(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[AccountEvent]:
    order = w.decode_checked(w.CANCELED_ORDER_DECODER, result.body, what="DELETE /api/v3/order")
    update = order_update(order, table, ts_ms=order.transact_time or 0, recv_ns=recv_ns)
    return [] if update is None else [update]


def decode_cancel_all(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[AccountEvent]:
    """``DELETE /api/v3/openOrders``: plain orders and the legs of order lists (each leg's report)."""
    try:
        items = w.decode_cancel_all(result.body)
    except msgspec.DecodeError as exc:
        raise w.protocol_error(exc, what="DELETE /api/v3/openOrders") from exc
    orders: list[w.CanceledOrder] = []
    for item in items:
        orders.extend(item.order_reports if isinstance(item, w.OrderListStatus) else (item,))
    updates = (order_update(o, table, ts_ms=o.transact_time or 0, recv_ns=recv_ns) for o in orders)
    return [u for u in updates if u is not None]


def decode_query_order(result: HttpResult, recv_ns: int, table: SymbolTable) -> OrderUpdate:
    order = w.decode_checked(w.ORDER_INFO_DECODER, result.body, what="GET /api/v3/order")
    return _required(order_update(order, table, ts_ms=order.update_time, recv_ns=recv_ns), "GET /api/v3/order")


def decode_open_orders(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[OrderUpdate]:
    orders = w.decode_checked(w.OPEN_ORDERS_DECODER, result.body, what="GET /api/v3/openOrders")
    updates = (order_update(o, table, ts_ms=o.update_time, recv_ns=recv_ns) for o in orders)
    return [u for u in updates if u is not None]


def decode_fills(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[Fill]:
    trades = w.decode_checked(w.MY_TRADES_DECODER, result.body, what="GET /api/v3/myTrades")
    fills: list[Fill] = []
    for trade in trades:
        name = table.name(trade.symbol)
        if name is None:
            continue
        fills.append(
            Fill(
                exchange=EXCHANGE,
                instrument=name,
                ts_exchange=ms_to_ns(trade.time),
                ts_recv=recv_ns,
                client_order_id="",
                exchange_order_id=str(trade.order_id),
                trade_id=str(trade.id),
                side=Side.BUY if trade.is_buyer else Side.SELL,
                price=trade.price,
                size=trade.qty,
                fee=trade.commission,
                fee_asset=trade.commission_asset,
                liquidity=Liquidity.MAKER if trade.is_maker else Liquidity.TAKER,
            )
        )
    return fills


def decode_balances(result: HttpResult, recv_ns: int) -> list[Balance]:
    account = w.decode_checked(w.ACCOUNT_DECODER, result.body, what="GET /api/v3/account")
    ts = ms_to_ns(account.update_time)
    return [
        Balance(exchange=EXCHANGE, ts_exchange=ts, ts_recv=recv_ns, asset=b.asset, free=b.free, locked=b.locked)
        for b in account.balances
    ]


def decode_book_snapshot(result: HttpResult, instrument: Instrument, recv_ns: int) -> BookSnapshot:
    """``GET /api/v3/depth``: ``lastUpdateId`` is the sequence the sync splices the diff stream onto."""
    book = w.decode_checked(
        BOOK_TEXT_DECODER,  # levels stay the exchange's strings (see codec_book)
        result.body,
        what="GET /api/v3/depth",
        hint=RecoveryHint.RESYNC,
        instrument=instrument.name,
    )
    return BookSnapshot(
        exchange=EXCHANGE,
        instrument=instrument.name,
        ts_recv=recv_ns,
        bids=book.bids,
        asks=book.asks,
        sequence=book.last_update_id,
    )


def decode_server_time(result: HttpResult) -> int:
    return w.decode_checked(w.SERVER_TIME_DECODER, result.body, what="GET /api/v3/time").server_time


def decode_listen_key(result: HttpResult) -> str:
    return w.decode_checked(w.LISTEN_KEY_DECODER, result.body, what="POST /api/v3/userDataStream").listen_key
