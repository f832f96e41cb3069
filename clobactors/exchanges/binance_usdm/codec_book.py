"""Binance USD-M book payloads decoded with their levels as the exchange's strings (canonical ``Level``).

As for spot (:mod:`clobactors.exchanges.binance.codec_book`): the wire structs decode prices and sizes to
Decimal, which the simulator's face and the other payloads want, but for book levels that conversion was
most of the feed's cost. These structs mirror the same documented payloads with the levels kept as sent;
:class:`~clobactors.book.L2Book` validates them when it applies or reads them.
"""

from __future__ import annotations

from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance_usdm import wire as w
from clobactors.messages import Level

__all__ = ["MARKET_TEXT_DECODER", "ORDER_BOOK_TEXT_DECODER", "DepthUpdateText", "MarketText", "OrderBookText"]


@final
class DepthUpdateText(msgspec.Struct, frozen=True, kw_only=True, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms|@500ms]``: § Diff. Book Depth Streams (levels as strings); ``pu`` is the final
    update id of the previous event on this stream."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    transaction_time: int = msgspec.field(name="T")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    previous_final_update_id: int = msgspec.field(name="pu")
    bids: tuple[Level, ...] = msgspec.field(name="b")
    asks: tuple[Level, ...] = msgspec.field(name="a")


@final
class OrderBookText(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """§ Market Data › Order Book (``GET /fapi/v1/depth``), levels as strings."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time: int | None = msgspec.field(name="E", default=None)
    transaction_time: int | None = msgspec.field(name="T", default=None)


#: Market events tagged by ``e``, the diff depth update with string levels.
MarketText: TypeAlias = DepthUpdateText | w.AggTradeEvent | w.BookTickerEvent | w.MarkPriceUpdate

MARKET_TEXT_DECODER: Final[msgspec.json.Decoder[MarketText]] = msgspec.json.Decoder(MarketText)
ORDER_BOOK_TEXT_DECODER: Final = msgspec.json.Decoder(OrderBookText)
