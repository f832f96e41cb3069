"""Binance spot book payloads decoded with their levels as the exchange's strings (canonical ``Level``).

The wire structs (:mod:`.wire`) decode prices and sizes to Decimal, which the simulator's face and the other
payloads want; for book levels that conversion was most of the feed's cost (``bench/run.py book-pipeline``:
msgspec decodes a diff-depth frame to strings in ~1.1 µs, to Decimals in ~3.9 µs). These structs mirror the
same documented payloads with the levels kept as the strings Binance sent, which canonical book messages
carry unchanged; :class:`~clobactors.book.L2Book` validates them when it applies or reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance import wire as w
from clobactors.messages import Level

__all__ = ["BOOK_TEXT_DECODER", "BookText", "DepthUpdateText", "MarketText", "decode_stream_text"]


@final
class DepthUpdateText(msgspec.Struct, frozen=True, kw_only=True, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms]``: web-socket-streams.md § Diff. Depth Stream (levels as strings)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: tuple[Level, ...] = msgspec.field(name="b")
    asks: tuple[Level, ...] = msgspec.field(name="a")


@final
class BookText(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``GET /api/v3/depth`` (rest-api.md § Order book) and ``<symbol>@depth<N>`` (web-socket-streams.md
    § Partial Book Depth Streams), levels as strings."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


#: Stream events tagged by ``e``, the diff depth update with string levels.
MarketText: TypeAlias = DepthUpdateText | w.TradeEvent | w.AggTradeEvent | w.ServerShutdown
PayloadText: TypeAlias = MarketText | w.BookTickerEvent | BookText

MARKET_TEXT_DECODER: Final[msgspec.json.Decoder[MarketText]] = msgspec.json.Decoder(MarketText)
BOOK_TEXT_DECODER: Final = msgspec.json.Decoder(BookText)

_PARTIAL_DEPTH_RE: Final = re.compile(r"@depth(?:5|10|20)(?:@\d+ms)?$")
#: Stream name -> decode function; streams are few and long-lived, so the choice is made once per name.
_DECODE_BY_STREAM: Final[dict[str, Callable[[msgspec.Raw | bytes], PayloadText]]] = {}
_MAX_CACHED_STREAMS: Final = 8192


def _stream_decoder(stream: str) -> Callable[[msgspec.Raw | bytes], PayloadText]:
    if stream.endswith("@bookTicker"):
        return w.BOOK_TICKER_EVENT_DECODER.decode
    if _PARTIAL_DEPTH_RE.search(stream):
        return BOOK_TEXT_DECODER.decode
    return MARKET_TEXT_DECODER.decode


def decode_stream_text(stream: str, data: msgspec.Raw | bytes) -> PayloadText:
    """Decode a market stream payload, typed by stream name (book ticker and partial depth carry no ``e``)."""
    decode = _DECODE_BY_STREAM.get(stream)
    if decode is None:
        decode = _stream_decoder(stream)
        if len(_DECODE_BY_STREAM) < _MAX_CACHED_STREAMS:
            _DECODE_BY_STREAM[stream] = decode
    return decode(data)
