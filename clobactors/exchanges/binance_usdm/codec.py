"""Binance USD-M WebSocket frames into canonical events: market streams and the user data stream.

Two-stage parsing as on spot (lesson 5): a small envelope says what a frame is, then only the payload is
decoded with its prebuilt decoder. REST answers are in :mod:`.codec_rest`; account conversions shared with
REST are in :mod:`.convert_account`.

Market connection (``<ws>[/public|/market]/stream?streams=...``, § Websocket Market Streams):

* ``{"stream", "data"}``: the stream name's symbol prefix names the instrument. ``depthUpdate`` →
  BookDelta (``first_sequence=U``, ``sequence=u``, ``prev_sequence=pu``, ``ts_exchange=T``); ``aggTrade`` →
  Trade with ``trade_id="agg:<a>"`` (an *aggregate* id: the prefix keeps it from ever equalling a real trade
  id such as a fill's ``t``; ``m`` true means the buyer made, so the taker sold); ``bookTicker`` →
  BestBidAsk (``sequence=u``); ``markPriceUpdate`` → MarkPrice (mark ``p``, index ``i``, funding rate ``r``,
  next funding time ``T``).
* ``{"result", "id"}`` → ``Control(ACK)``; ``{"code", "msg"}`` → ``Control(ERROR)``; a raw event with ``e``
  (a ``/ws`` connection) is decoded too, named by its ``s``.

User connection (``<ws>[/private]/ws/<listenKey>``, § User Data Streams):

* ``ORDER_TRADE_UPDATE`` → OrderUpdate, plus a Fill when ``x == "TRADE"`` (trade id ``t``, ``l`` at ``L``,
  commission ``n`` in ``N``, maker ``m``). Orders of foreign types (stop, take-profit, trailing, and Binance's
  own LIQUIDATION orders) are skipped and counted: their effect reaches us through ACCOUNT_UPDATE.
* ``ACCOUNT_UPDATE`` → Balance per ``B`` entry and Position per ``P`` entry (see :mod:`.convert_account`),
  then, when ``m == "FUNDING_FEE"``, a FundingPayment per balance with a non-zero ``bc`` (the balance change
  other than PnL and commission, i.e. the fee). Binance lists the position only for an isolated one, so a
  cross-margin funding payment carries no instrument (``GET /fapi/v1/income`` has it).
* ``MARGIN_CALL`` → ``Control(ERROR)`` naming each position at risk: a warning the user stream logs and
  counts; it changes no state (the liquidation, if any, arrives as ACCOUNT_UPDATE).
* ``listenKeyExpired`` → ``Control(RECONNECT)``. ``TRADE_LITE`` (a faster copy of ORDER_TRADE_UPDATE's
  fills), ``ACCOUNT_CONFIG_UPDATE`` and the strategy/grid/algo events are counted as ignored.

Errors: bytes that are not a JSON object are a broken connection (``RECONNECT``). A malformed diff depth event
breaks its book (``RESYNC`` for its instrument); a malformed ORDER_TRADE_UPDATE or ACCOUNT_UPDATE loses
account state, so it is ``RESYNC`` too (the user stream then reconciles over REST); anything else loses one
frame (``DROP``). Every error is counted in the symbol table's statistics.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

import msgspec

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.binance_common.envelope import STREAM_ENVELOPE_DECODER, as_bytes, control_of
from clobactors.exchanges.binance_usdm import wire as w
from clobactors.exchanges.binance_usdm.codec_book import MARKET_TEXT_DECODER, DepthUpdateText
from clobactors.exchanges.binance_usdm.convert import EXCHANGE, ms_to_ns
from clobactors.exchanges.binance_usdm.convert_account import (
    account_update_events,
    order_trade_update_events,
)
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.messages import AccountEvent, BestBidAsk, BookDelta, MarketEvent, MarkPrice, Trade
from clobactors.model import Side

__all__ = ["AGG_TRADE_PREFIX", "decode_market", "decode_user", "margin_call_detail"]

#: Prefix of public trade ids built from aggregate trade ids.
AGG_TRADE_PREFIX: Final = "agg:"
_ZERO: Final = Decimal(0)
_DIFF_DEPTH_RE: Final = re.compile(r"@depth(?:@\d+ms)?$")
#: User events whose loss leaves our account state wrong.
_STATEFUL_USER_EVENTS: Final = frozenset({"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"})


class _EventTag(msgspec.Struct, frozen=True):
    e: str | None = None


_EVENT_TAG: Final = msgspec.json.Decoder(_EventTag)


# -- market --------------------------------------------------------------------------------------------------


def decode_market(table: SymbolTable, frame: bytes | str, recv_ns: int) -> list[MarketEvent | Control]:
    """One market-connection frame (see the module docstring)."""
    with table.counting():
        data = as_bytes(frame)
        env = w.decode_checked(STREAM_ENVELOPE_DECODER, data, what="market frame", hint=RecoveryHint.RECONNECT)
        if env.stream is not None:
            return _market_payload(table, env.stream, env.data, recv_ns)
        controls = control_of(env)
        if controls is not None:
            return list(controls)
        if env.e is not None:
            return _market_payload(table, None, data, recv_ns)
        raise RemoteProtocolError("unrecognised Binance USD-M market frame", hint=RecoveryHint.DROP, path="$")


def _market_payload(
    table: SymbolTable, stream: str | None, data: msgspec.Raw | bytes, recv_ns: int
) -> list[MarketEvent | Control]:
    try:
        payload = MARKET_TEXT_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        where = table.stream_name(stream, count=False) if stream else None
        resync = stream is not None and _DIFF_DEPTH_RE.search(stream) is not None and where is not None
        raise w.protocol_error(
            exc,
            what=f"stream {stream}" if stream else "market event",
            hint=RecoveryHint.RESYNC if resync else RecoveryHint.DROP,
            instrument=where or "",
        ) from exc
    name = table.stream_name(stream) if stream is not None else table.name(payload.symbol)
    if name is None:
        return []
    match payload:
        case DepthUpdateText():
            return [
                BookDelta(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_exchange=ms_to_ns(payload.transaction_time),
                    ts_recv=recv_ns,
                    bids=payload.bids,
                    asks=payload.asks,
                    first_sequence=payload.first_update_id,
                    sequence=payload.final_update_id,
                    prev_sequence=payload.previous_final_update_id,
                )
            ]
        case w.AggTradeEvent():
            return [
                Trade(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_exchange=ms_to_ns(payload.trade_time),
                    ts_recv=recv_ns,
                    trade_id=f"{AGG_TRADE_PREFIX}{payload.agg_trade_id}",
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
                    ts_exchange=ms_to_ns(payload.transaction_time),
                    ts_recv=recv_ns,
                    bid_price=None if bid_empty else payload.bid_price,
                    bid_size=payload.bid_qty,
                    ask_price=None if ask_empty else payload.ask_price,
                    ask_size=payload.ask_qty,
                    sequence=payload.update_id,
                )
            ]
        case w.MarkPriceUpdate():
            return [
                MarkPrice(
                    exchange=EXCHANGE,
                    instrument=name,
                    ts_exchange=ms_to_ns(payload.event_time),
                    ts_recv=recv_ns,
                    mark_price=payload.mark_price,
                    index_price=payload.index_price,
                    funding_rate=payload.funding_rate,
                    next_funding_ts=ms_to_ns(payload.next_funding_time),
                )
            ]


# -- user data -----------------------------------------------------------------------------------------------


def decode_user(table: SymbolTable, frame: bytes | str, recv_ns: int) -> list[AccountEvent | Control]:
    """One user-connection frame (see the module docstring)."""
    with table.counting():
        data = as_bytes(frame)
        env = w.decode_checked(STREAM_ENVELOPE_DECODER, data, what="user frame", hint=RecoveryHint.RECONNECT)
        raw: msgspec.Raw | bytes
        if env.stream is not None:  # stream mode on /private: {"stream": <listenKey>, "data": {...}}
            raw = env.data
            kind = w.decode_checked(_EVENT_TAG, raw, what="user data event").e
        elif env.e is not None:
            raw, kind = data, env.e
        else:
            controls = control_of(env)
            if controls is None:
                raise RemoteProtocolError("unrecognised Binance USD-M user frame", hint=RecoveryHint.DROP, path="$")
            return list(controls)
        if kind not in w.USER_EVENT_TYPES:
            table.note_ignored()  # STRATEGY_UPDATE, GRID_UPDATE, ALGO_UPDATE...: nothing we placed
            return []
        hint = RecoveryHint.RESYNC if kind in _STATEFUL_USER_EVENTS else RecoveryHint.DROP
        event = w.decode_checked(w.USER_EVENT_DECODER, raw, what=f"user event {kind}", hint=hint)
        return _user_event(table, event, recv_ns)


def _user_event(table: SymbolTable, event: w.UserDataEvent, recv_ns: int) -> list[AccountEvent | Control]:
    match event:
        case w.OrderTradeUpdate():
            return list(order_trade_update_events(table, event.order, recv_ns))
        case w.AccountUpdate():
            return list(account_update_events(table, event, recv_ns))
        case w.MarginCall():
            return [Control(ControlKind.ERROR, None, margin_call_detail(event))]
        case w.ListenKeyExpired():
            return [Control(ControlKind.RECONNECT, None, "listenKeyExpired")]
        case w.TradeLite() | w.AccountConfigUpdate():
            table.note_ignored()
            return []


def margin_call_detail(event: w.MarginCall) -> str:
    """A one-line account of a margin call, for the log (§ Event: Margin Call)."""
    legs = ", ".join(
        f"{p.symbol} {p.position_side} {p.position_amount} mark {p.mark_price} upnl {p.unrealized_pnl} "
        f"maint {p.maintenance_margin}"
        for p in event.positions
    )
    wallet = f" cross wallet {event.cross_wallet_balance}" if event.cross_wallet_balance is not None else ""
    return f"MARGIN_CALL{wallet}: {legs}"
