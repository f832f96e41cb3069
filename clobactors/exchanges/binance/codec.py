"""Binance spot WebSocket frames into canonical events: market streams and the user data stream.

Each frame is parsed in two stages (msgspec ``Raw``, lesson 5): a small envelope struct says what the frame
is, then only the payload is decoded with its own prebuilt decoder. REST answers are in :mod:`.codec_rest`.

Market connection (web-socket-streams.md), combined streams ``/stream?streams=...``:

* ``{"stream": "btcusdt@depth@100ms", "data": {...}}``: the stream name picks the decoder and, through its
  symbol prefix, the instrument. ``depthUpdate`` → BookDelta (``first_sequence=U``, ``sequence=u``; levels
  as the exchange's strings, :mod:`.codec_book`),
  ``trade`` → Trade (``m`` true: the buyer was the maker, so the taker *sold*), ``bookTicker`` →
  BestBidAsk, partial depth → BookSnapshot. ``serverShutdown`` → ``Control(RECONNECT)``.
* ``{"result": ..., "id": n}`` (subscribe answers) → ``Control(ACK)``; ``{"code", "msg"[, "id"]}`` →
  ``Control(ERROR)``.
* A raw event with an ``e`` field (a ``/ws`` connection) is decoded too, named by its ``s`` symbol.

User connection: raw events on ``<ws>/ws/<listenKey>``, or on the WebSocket API
(web-socket-api.md § Event format) ``{"subscriptionId": n, "event": {...}}`` plus request answers
``{"id", "status", "result" | "error"}`` → ``Control(ACK)`` / ``Control(ERROR)``.

* ``executionReport`` → OrderUpdate, plus a Fill when ``x`` is ``TRADE`` (trade id ``t``, last quantity
  ``l`` at ``L``, commission ``n`` in ``N``, maker ``m``). A cancel's report carries the canceled order's
  id in ``C`` (``c`` is the cancel request's own id), so ``C`` wins when set.
* ``outboundAccountPosition`` → one Balance per asset (absolute free/locked).
* ``balanceUpdate`` and ``externalLockUpdate`` are *deltas* (deposits, transfers, collateral locks); Binance
  follows each with an ``outboundAccountPosition`` carrying the absolute balances, so they are counted as
  ignored rather than turned into a Balance the consumer would have to add up. ``listStatus`` (order
  lists, which we never place) is ignored the same way: each leg also gets its own ``executionReport``.
* ``listenKeyExpired`` and ``eventStreamTerminated`` → ``Control(RECONNECT)``.

Errors: bytes that are not a JSON object are a broken connection (hint ``RECONNECT``); a well-formed
envelope with a malformed payload loses one frame (``DROP``), except a diff depth update, whose loss
breaks the book (``RESYNC`` for its instrument). Every error is counted in the symbol table's statistics.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance import wire as w
from clobactors.exchanges.binance.codec_book import (
    MARKET_TEXT_DECODER,
    BookText,
    DepthUpdateText,
    decode_stream_text,
)
from clobactors.exchanges.binance.convert import (
    EXCHANGE,
    average_price,
    ms_to_ns,
    parse_order_type,
    parse_side,
    parse_status,
    parse_time_in_force,
)
from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.binance_common.envelope import STREAM_ENVELOPE_DECODER, as_bytes, control_of, raw_detail
from clobactors.exchanges.binance_common.orders import trade_fill
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.messages import (
    AccountEvent,
    Balance,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    MarketEvent,
    OrderUpdate,
    Trade,
)
from clobactors.model import OrderType, Side

__all__ = ["decode_market", "decode_user", "execution_report_events"]

_ZERO: Final = Decimal(0)


class _UserEnvelope(msgspec.Struct, frozen=True):
    """What a user-connection frame is: raw event, WebSocket API event, or WebSocket API answer."""

    e: str | None = None
    event: msgspec.Raw = w.NULL
    id: int | str | UnsetType | None = UNSET
    status: int | None = None
    error: w.ErrorBody | None = None
    result: msgspec.Raw = w.NULL


_USER_ENVELOPE: Final = msgspec.json.Decoder(_UserEnvelope)


# -- market --------------------------------------------------------------------------------------------------


def decode_market(table: SymbolTable, frame: bytes | str, recv_ns: int) -> list[MarketEvent | Control]:
    """One market-connection frame (see the module docstring)."""
    # A try block rather than ``table.counting()``: this runs for every frame, and entering a context
    # manager cost ~0.3 µs of a ~3 µs decode (bench/run.py book-pipeline); same effect.
    try:
        data = frame.encode() if isinstance(frame, str) else frame
        env = w.decode_checked(STREAM_ENVELOPE_DECODER, data, what="market frame", hint=RecoveryHint.RECONNECT)
        if env.stream is not None:
            return _market_payload(table, env.stream, env.data, recv_ns)
        controls = control_of(env)
        if controls is not None:
            return list(controls)
        if env.e is not None:
            return _market_payload(table, None, data, recv_ns)
        raise RemoteProtocolError("unrecognised Binance market frame", hint=RecoveryHint.DROP, path="$")
    except RemoteProtocolError:
        table.note_malformed()
        raise


def _market_payload(
    table: SymbolTable, stream: str | None, data: msgspec.Raw | bytes, recv_ns: int
) -> list[MarketEvent | Control]:
    try:
        payload = decode_stream_text(stream, data) if stream else MARKET_TEXT_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        # A lost diff depth event breaks its book; any other lost frame is just one frame.
        is_diff_depth = stream is not None and ("@depth@" in stream or stream.endswith("@depth"))
        where = table.stream_name(stream, count=False) if stream else None
        raise w.protocol_error(
            exc,
            what=f"stream {stream}" if stream else "market event",
            hint=RecoveryHint.RESYNC if is_diff_depth and where else RecoveryHint.DROP,
            instrument=where or "",
        ) from exc
    if type(payload) is DepthUpdateText:  # the hot path: most frames of a market connection
        name = table.stream_name(stream) if stream is not None else table.name(payload.symbol)
        if name is None:
            return []
        return [
            BookDelta(
                exchange=EXCHANGE,
                instrument=name,
                ts_exchange=payload.event_time * 1_000_000,  # ms_to_ns, inlined
                ts_recv=recv_ns,
                bids=payload.bids,
                asks=payload.asks,
                first_sequence=payload.first_update_id,
                sequence=payload.final_update_id,
            )
        ]
    if isinstance(payload, w.ServerShutdown):
        return [Control(ControlKind.RECONNECT, None, "serverShutdown")]
    if isinstance(payload, w.AggTradeEvent):
        table.note_ignored()  # never subscribed; an aggregate id is not a trade id
        return []
    if stream is not None:
        name = table.stream_name(stream)
    elif isinstance(payload, BookText):  # pragma: no cover - carries no e, never routed here
        name = None
    else:
        name = table.name(payload.symbol)
    if name is None:
        return []
    match payload:
        case w.TradeEvent():
            return [
                Trade(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_exchange=ms_to_ns(payload.trade_time),
                    ts_recv=recv_ns,
                    trade_id=str(payload.trade_id),
                    price=payload.price,
                    size=payload.quantity,
                    taker_side=Side.SELL if payload.buyer_is_maker else Side.BUY,
                )
            ]
        case w.BookTickerEvent():
            bid_empty = payload.bid_qty == _ZERO and payload.bid_price == _ZERO
            ask_empty = payload.ask_qty == _ZERO and payload.ask_price == _ZERO
            return [
                BestBidAsk(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_recv=recv_ns,
                    bid_price=None if bid_empty else payload.bid_price,
                    bid_size=payload.bid_qty,
                    ask_price=None if ask_empty else payload.ask_price,
                    ask_size=payload.ask_qty,
                    sequence=payload.update_id,
                )
            ]
        case BookText():
            return [
                BookSnapshot(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_recv=recv_ns,
                    bids=payload.bids,
                    asks=payload.asks,
                    sequence=payload.last_update_id,
                )
            ]


# -- user data -----------------------------------------------------------------------------------------------


def decode_user(table: SymbolTable, frame: bytes | str, recv_ns: int) -> list[AccountEvent | Control]:
    """One user-connection frame, listen-key stream or WebSocket API (see the module docstring)."""
    with table.counting():
        data = as_bytes(frame)
        env = w.decode_checked(_USER_ENVELOPE, data, what="user frame", hint=RecoveryHint.RECONNECT)
        if env.e is not None:
            raw: msgspec.Raw | bytes = data
        elif env.event != w.NULL:
            raw = env.event
        elif not isinstance(env.id, UnsetType):
            if env.error is None and env.status == 200:
                return [Control(ControlKind.ACK, env.id, raw_detail(env.result))]
            error = env.error
            detail = f"{error.code}: {error.msg}" if error is not None else "no error body"
            return [Control(ControlKind.ERROR, env.id, f"HTTP {env.status} {detail}")]
        else:
            raise RemoteProtocolError("unrecognised Binance user frame", hint=RecoveryHint.DROP, path="$")
        event = w.decode_checked(w.USER_EVENT_DECODER, raw, what="user data event")
        return _user_event(table, event, recv_ns)


def _user_event(table: SymbolTable, event: w.UserDataEvent, recv_ns: int) -> list[AccountEvent | Control]:
    match event:
        case w.ExecutionReport():
            return list(execution_report_events(table, event, recv_ns))
        case w.OutboundAccountPosition():
            ts = ms_to_ns(event.last_update_time)
            return [
                Balance(exchange=EXCHANGE, ts_exchange=ts, ts_recv=recv_ns, asset=b.asset, free=b.free, locked=b.locked)
                for b in event.balances
            ]
        case w.BalanceUpdate() | w.ExternalLockUpdate() | w.ListStatus():
            table.note_ignored()
            return []
        case w.ListenKeyExpired():
            return [Control(ControlKind.RECONNECT, None, "listenKeyExpired")]
        case w.EventStreamTerminated():
            return [Control(ControlKind.RECONNECT, None, "eventStreamTerminated")]


def execution_report_events(table: SymbolTable, report: w.ExecutionReport, recv_ns: int) -> tuple[AccountEvent, ...]:
    """``executionReport`` → OrderUpdate (+ Fill on ``x == TRADE``); nothing for foreign types or symbols."""
    order_type = parse_order_type(report.order_type, path="$.o")
    if order_type is None:
        table.note_foreign_order()
        return ()
    name = table.name(report.symbol)
    if name is None:
        return ()
    ts = ms_to_ns(report.transaction_time)
    side = parse_side(report.side, path="$.S")
    update = OrderUpdate(
        exchange=EXCHANGE,
        instrument=name,
        ts_exchange=ts,
        ts_recv=recv_ns,
        client_order_id=report.orig_client_order_id or report.client_order_id,
        exchange_order_id=str(report.order_id),
        status=parse_status(report.order_status, path="$.X"),
        side=side,
        order_type=order_type,
        time_in_force=parse_time_in_force(report.time_in_force, path="$.f"),
        price=None if order_type is OrderType.MARKET else report.price,
        size=report.quantity,
        filled_size=report.cumulative_filled_quantity,
        avg_fill_price=average_price(report.cumulative_quote_quantity, report.cumulative_filled_quantity),
        reason="" if report.reject_reason == "NONE" else report.reject_reason,
    )
    if report.execution_type != "TRADE":
        return (update,)
    fill = trade_fill(
        update,
        trade_id=report.trade_id,
        price=report.last_executed_price,
        size=report.last_executed_quantity,
        fee=report.commission_amount,
        fee_asset=report.commission_asset,
        is_maker=report.is_maker,
    )
    return (update, fill)
