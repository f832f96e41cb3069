"""Binance spot wire layer: market stream events and the stream connection's control frames.

Source: Binance spot API, web-socket-streams.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import Level, WireStruct
from clobactors.exchanges.binance.wire_rest import PartialBookDepth

# -- market streams (web-socket-streams.md) ------------------------------------------------------------------


class _MarketEvent(WireStruct, frozen=True, kw_only=True, tag_field="e"):
    """Base of market stream events that carry an ``e`` event type (the tag) and ``E`` event time."""

    event_time: int = msgspec.field(name="E")


@final
class DepthUpdate(_MarketEvent, frozen=True, kw_only=True, tag="depthUpdate"):
    """``<symbol>@depth[@100ms]``: Binance spot API, web-socket-streams.md § Diff. Depth Stream."""

    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: tuple[Level, ...] = msgspec.field(name="b")
    asks: tuple[Level, ...] = msgspec.field(name="a")


@final
class TradeEvent(_MarketEvent, frozen=True, kw_only=True, tag="trade"):
    """``<symbol>@trade``: Binance spot API, web-socket-streams.md § Trade Streams."""

    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    #: True when the buyer was the maker, i.e. the taker sold.
    buyer_is_maker: bool = msgspec.field(name="m")
    ignore: bool | None = msgspec.field(name="M", default=None)
    #: Buyer / seller order ids: in older revisions of the docs, since removed.
    buyer_order_id: int | None = msgspec.field(name="b", default=None)
    seller_order_id: int | None = msgspec.field(name="a", default=None)


@final
class AggTradeEvent(_MarketEvent, frozen=True, kw_only=True, tag="aggTrade"):
    """``<symbol>@aggTrade``: Binance spot API, web-socket-streams.md § Aggregate Trade Streams."""

    symbol: str = msgspec.field(name="s")
    agg_trade_id: int = msgspec.field(name="a")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="l")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    ignore: bool | None = msgspec.field(name="M", default=None)


@final
class ServerShutdown(_MarketEvent, frozen=True, kw_only=True, tag="serverShutdown"):
    """Sent before a planned disconnect: Binance spot API, web-socket-streams.md § Server Shutdown."""


@final
class BookTickerEvent(WireStruct, frozen=True, kw_only=True):
    """``<symbol>@bookTicker`` (no ``e``): web-socket-streams.md § Individual Symbol Book Ticker Streams."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_price: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask_price: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")


#: Stream events tagged by ``e``; book ticker and partial depth carry no tag and are routed by stream name.
MarketEvent: TypeAlias = DepthUpdate | TradeEvent | AggTradeEvent | ServerShutdown
MarketPayload: TypeAlias = MarketEvent | BookTickerEvent | PartialBookDepth


@final
class CombinedStreamFrame(WireStruct, frozen=True, kw_only=True):
    """``{"stream", "data"}`` on ``/stream?streams=``: web-socket-streams.md § General WSS information.

    ``data`` stays raw: the stream name picks its decoder (:func:`decode_stream_payload`), so a frame is
    parsed once per stage and never twice.
    """

    stream: str
    data: msgspec.Raw


@final
class StreamRequest(WireStruct, frozen=True, kw_only=True):
    """``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY``...: web-socket-streams.md
    § Live Subscribing/Unsubscribing to streams.
    """

    method: str
    params: tuple[str | bool, ...] = ()
    id: int | str | None = None


@final
class StreamResponse(WireStruct, frozen=True, kw_only=True):
    """``{"result": null, "id": 1}``: web-socket-streams.md § Live Subscribing/Unsubscribing."""

    result: tuple[str, ...] | bool | None
    id: int | str | None


@final
class StreamError(WireStruct, frozen=True, kw_only=True):
    """``{"code": 2, "msg": "Invalid request: ...", "id": 1}``: web-socket-streams.md § Error Messages."""

    code: int
    msg: str
    id: int | str | None = None


# -- prebuilt decoders ---------------------------------------------------------------------------------------

MARKET_EVENT_DECODER: Final[msgspec.json.Decoder[MarketEvent]] = msgspec.json.Decoder(MarketEvent)
BOOK_TICKER_EVENT_DECODER: Final = msgspec.json.Decoder(BookTickerEvent)
PARTIAL_DEPTH_DECODER: Final = msgspec.json.Decoder(PartialBookDepth)
COMBINED_FRAME_DECODER: Final = msgspec.json.Decoder(CombinedStreamFrame)
STREAM_REQUEST_DECODER: Final = msgspec.json.Decoder(StreamRequest)
STREAM_RESPONSE_DECODER: Final = msgspec.json.Decoder(StreamResponse)
STREAM_ERROR_DECODER: Final = msgspec.json.Decoder(StreamError)

_PARTIAL_DEPTH_RE: Final = re.compile(r"@depth(?:5|10|20)(?:@\d+ms)?$")


#: Stream name -> decode function; streams are few and long-lived, so the choice is made once per name.
_DECODE_BY_STREAM: Final[dict[str, Callable[[msgspec.Raw | bytes], MarketPayload]]] = {}
_MAX_CACHED_STREAMS: Final = 8192


def _stream_decoder(stream: str) -> Callable[[msgspec.Raw | bytes], MarketPayload]:
    if stream.endswith("@bookTicker"):
        return BOOK_TICKER_EVENT_DECODER.decode
    if _PARTIAL_DEPTH_RE.search(stream):
        return PARTIAL_DEPTH_DECODER.decode
    return MARKET_EVENT_DECODER.decode


def decode_stream_payload(stream: str, data: msgspec.Raw | bytes) -> MarketPayload:
    """Decode a market stream payload, typed by stream name (book ticker and partial depth carry no ``e``)."""
    decode = _DECODE_BY_STREAM.get(stream)
    if decode is None:
        decode = _stream_decoder(stream)
        if len(_DECODE_BY_STREAM) < _MAX_CACHED_STREAMS:
            _DECODE_BY_STREAM[stream] = decode
    return decode(data)
