"""Binance USD-M REST answers into canonical messages: orders, fills, balances, positions, funding, books.

Every function takes a successful answer (the actor has checked ``is_error``). Malformed bodies raise
:class:`~clobactors.errors.RemoteProtocolError` with the msgspec path and hint ``DROP`` (the request can be
repeated; no stream state is at stake), except a depth snapshot's, which is ``RESYNC`` for its instrument.

* ``POST /fapi/v1/order`` answers an order (RESULT, or ACK's NEW) with no fills: fills come from the user
  stream's ORDER_TRADE_UPDATE or ``userTrades``, so ``decode_place_order`` yields the OrderUpdate alone.
* ``PUT /fapi/v1/order`` (§ Trade › Modify Order) answers the amended order like a placement; any 2xx answer
  is a :class:`~clobactors.exchanges.standard.ModifyOutcome` ``MODIFIED`` (refusals are error answers, mapped
  by :mod:`.errors`). An amendment to at most the filled size, or of a GTX order to a price that would trade at
  once, cancels the order: the answer says CANCELED,
  which the report carries.
* ``DELETE /fapi/v1/allOpenOrders`` answers only ``{"code": 200, "msg": ...}``: no order events; each
  cancellation arrives on the user stream (and a reconcile's ``openOrders`` shows them gone).
* ``GET /fapi/v1/userTrades`` has no client order id: fills carry ``exchange_order_id`` and an empty
  ``client_order_id``, matched by the order manager through the placement answer's order id.
* ``GET /fapi/v1/income`` rows of type FUNDING_FEE become FundingPayments (other types are skipped); a row
  without a symbol keeps an empty instrument.

Conversion rules for balances, positions and orders are in :mod:`.convert_account`.
"""

from __future__ import annotations

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.binance_usdm import wire as w
from clobactors.exchanges.binance_usdm.codec_book import ORDER_BOOK_TEXT_DECODER
from clobactors.exchanges.binance_usdm.commands import FUNDING_FEE, PAGE_LIMIT
from clobactors.exchanges.binance_usdm.convert import EXCHANGE, ms_to_ns, parse_side
from clobactors.exchanges.binance_usdm.convert_account import balance, order_update, position
from clobactors.exchanges.standard import ModifyAnswer, ModifyOutcome
from clobactors.httpspec import HttpResult
from clobactors.messages import (
    AccountEvent,
    Balance,
    BookSnapshot,
    Fill,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    PlaceOrder,
    Position,
)
from clobactors.model import Instrument, Liquidity

__all__ = [
    "decode_balances",
    "decode_book_snapshot",
    "decode_cancel_all",
    "decode_cancel_order",
    "decode_fills",
    "decode_funding_payments",
    "income_next_page",
    "decode_listen_key",
    "decode_mark_price",
    "decode_modify_order",
    "decode_open_orders",
    "decode_place_order",
    "decode_positions",
    "decode_query_order",
    "decode_server_time",
]


def _required(update: OrderUpdate | None, what: str) -> OrderUpdate:
    if update is None:
        raise RemoteProtocolError(
            f"Binance USD-M {what} answered about an order we do not trade (unknown symbol or order type)",
            hint=RecoveryHint.DROP,
        )
    return update


def decode_place_order(
    result: HttpResult, command: PlaceOrder, recv_ns: int, table: SymbolTable
) -> list[AccountEvent]:
    order = w.decode_checked(w.ORDER_DECODER, result.body, what="POST /fapi/v1/order")
    update = order_update(order, table, recv_ns=recv_ns, instrument=command.instrument or None)
    return [_required(update, "POST /fapi/v1/order")]


def decode_modify_order(result: HttpResult, command: PlaceOrder, recv_ns: int, table: SymbolTable) -> ModifyAnswer:
    """``PUT /fapi/v1/order``: the amended order's report (see the module docstring)."""
    order = w.decode_checked(w.ORDER_DECODER, result.body, what="PUT /fapi/v1/order")
    update = order_update(order, table, recv_ns=recv_ns, instrument=command.instrument or None)
    return ModifyAnswer(ModifyOutcome.MODIFIED, (_required(update, "PUT /fapi/v1/order"),))


def decode_cancel_order(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[AccountEvent]:
    order = w.decode_checked(w.ORDER_DECODER, result.body, what="DELETE /fapi/v1/order")
    update = order_update(order, table, recv_ns=recv_ns)
    return [] if update is None else [update]


def decode_cancel_all(result: HttpResult) -> list[AccountEvent]:
    """Checks the ``{"code", "msg"}`` answer; the cancellations themselves come from the user stream."""
    w.decode_checked(w.CODE_MESSAGE_DECODER, result.body, what="DELETE /fapi/v1/allOpenOrders")
    return []


def decode_query_order(result: HttpResult, recv_ns: int, table: SymbolTable) -> OrderUpdate:
    order = w.decode_checked(w.ORDER_DECODER, result.body, what="GET /fapi/v1/order")
    return _required(order_update(order, table, recv_ns=recv_ns), "GET /fapi/v1/order")


def decode_open_orders(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[OrderUpdate]:
    orders = w.decode_checked(w.ORDERS_DECODER, result.body, what="GET /fapi/v1/openOrders")
    updates = (order_update(o, table, recv_ns=recv_ns) for o in orders)
    return [u for u in updates if u is not None]


def decode_fills(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[Fill]:
    trades = w.decode_checked(w.USER_TRADES_DECODER, result.body, what="GET /fapi/v1/userTrades")
    fills: list[Fill] = []
    for index, trade in enumerate(trades):
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
                side=parse_side(trade.side, path=f"$[{index}].side"),
                price=trade.price,
                size=trade.qty,
                fee=trade.commission,
                fee_asset=trade.commission_asset,
                liquidity=Liquidity.MAKER if trade.maker else Liquidity.TAKER,
            )
        )
    return fills


def decode_balances(result: HttpResult, recv_ns: int) -> list[Balance]:
    rows = w.decode_checked(w.ACCOUNT_BALANCES_DECODER, result.body, what="GET /fapi/v3/balance")
    return [
        balance(b.asset, b.balance, b.cross_wallet_balance, ts_ms=b.update_time, recv_ns=recv_ns) for b in rows
    ]


def decode_positions(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[Position]:
    """``GET /fapi/v2/positionRisk`` (or V3): every registered symbol's positions, flat ones included."""
    rows = w.decode_checked(w.POSITION_RISK_DECODER, result.body, what="GET /fapi/v2/positionRisk")
    out: list[Position] = []
    for index, row in enumerate(rows):
        name = table.name(row.symbol)
        if name is None:
            continue
        out.append(
            position(
                name,
                side=row.position_side,
                amount=row.position_amt,
                entry_price=row.entry_price,
                unrealized_pnl=row.un_realized_profit,
                margin_type=row.margin_type,
                ts_ms=row.update_time,
                recv_ns=recv_ns,
                mark_price=row.mark_price,
                leverage=row.leverage,
                liquidation_price=row.liquidation_price,
                path=f"$[{index}]",
            )
        )
    return out


def decode_funding_payments(result: HttpResult, recv_ns: int, table: SymbolTable) -> list[FundingPayment]:
    rows = w.decode_checked(w.INCOME_DECODER, result.body, what="GET /fapi/v1/income")
    out: list[FundingPayment] = []
    for row in rows:
        if row.income_type != FUNDING_FEE:
            continue
        name = table.name(row.symbol) if row.symbol else ""
        if name is None:
            continue
        out.append(
            FundingPayment(
                exchange=EXCHANGE,
                instrument=name,
                ts_exchange=ms_to_ns(row.time),
                ts_recv=recv_ns,
                asset=row.asset,
                amount=row.income,
                payment_id=str(row.tran_id),
            )
        )
    return out


def income_next_page(result: HttpResult, since_ms: int) -> int | None:
    """``GET /fapi/v1/income`` paging (§ Account › Get Income History: ``startTime`` inclusive, oldest first,
    ``limit`` rows at most, we ask :data:`~.commands.PAGE_LIMIT`): a page shorter than that was the last (every
    row counted, those :func:`decode_funding_payments` skips included); else the next starts at its newest row's
    time (its rows repeat and are duplicates), or 1 ms past ``since_ms`` when the whole page is of that instant
    (rather than asking for it for ever; later rows of that instant are then missed)."""
    rows = w.decode_checked(w.INCOME_DECODER, result.body, what="GET /fapi/v1/income")
    if len(rows) < PAGE_LIMIT:
        return None
    newest = max(row.time for row in rows)
    return newest if newest > since_ms else since_ms + 1


def decode_mark_price(result: HttpResult, instrument: Instrument, recv_ns: int) -> MarkPrice:
    """``GET /fapi/v1/premiumIndex?symbol=...``: a MarkPrice like the stream's."""
    row = w.decode_checked(w.PREMIUM_INDEX_DECODER, result.body, what="GET /fapi/v1/premiumIndex")
    return MarkPrice(
        exchange=EXCHANGE,
        instrument=instrument.name,
        ts_exchange=ms_to_ns(row.time),
        ts_recv=recv_ns,
        mark_price=row.mark_price,
        index_price=row.index_price,
        funding_rate=row.last_funding_rate,
        next_funding_ts=ms_to_ns(row.next_funding_time),
    )


def decode_book_snapshot(result: HttpResult, instrument: Instrument, recv_ns: int) -> BookSnapshot:
    """``GET /fapi/v1/depth``: ``lastUpdateId`` is what the sync splices the diff stream onto."""
    book = w.decode_checked(
        ORDER_BOOK_TEXT_DECODER,  # levels stay the exchange's strings (see codec_book)
        result.body,
        what="GET /fapi/v1/depth",
        hint=RecoveryHint.RESYNC,
        instrument=instrument.name,
    )
    return BookSnapshot(
        exchange=EXCHANGE,
        instrument=instrument.name,
        ts_exchange=ms_to_ns(book.transaction_time or 0),
        ts_recv=recv_ns,
        bids=book.bids,
        asks=book.asks,
        sequence=book.last_update_id,
    )


def decode_server_time(result: HttpResult) -> int:
    return w.decode_checked(w.SERVER_TIME_DECODER, result.body, what="GET /fapi/v1/time").server_time


def decode_listen_key(result: HttpResult) -> str:
    return w.decode_checked(w.LISTEN_KEY_DECODER, result.body, what="POST /fapi/v1/listenKey").listen_key
