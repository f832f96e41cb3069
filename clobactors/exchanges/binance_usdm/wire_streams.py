"""Binance USD-M wire layer: market stream events.

Source: USD-M docs § Websocket Market Streams (each stream's page is cited per class). Unlike spot, every
futures market event carries ``e`` (the book ticker too), so one tagged union decodes them all. The
subscribe/unsubscribe frames and answers have spot's shape and are shared from
:mod:`clobactors.exchanges.binance.wire_streams` (``StreamRequest``, ``StreamResponse``, ``StreamError``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import Level, WireStruct

__all__ = [
    "MARKET_EVENT_DECODER",
    "AggTradeEvent",
    "BookTickerEvent",
    "DepthUpdate",
    "MarkPriceUpdate",
    "MarketEvent",
]


class _MarketEvent(WireStruct, frozen=True, kw_only=True, tag_field="e"):
    """Base of market events: ``e`` event type (the tag), ``E`` event time, ``s`` symbol."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")


@final
class DepthUpdate(_MarketEvent, frozen=True, kw_only=True, tag="depthUpdate"):
    """``<symbol>@depth[@100ms|@500ms]``: § Diff. Book Depth Streams.

    ``pu`` is the final update id of the previous event on this stream: the futures continuity check.
    """

    transaction_time: int = msgspec.field(name="T")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    previous_final_update_id: int = msgspec.field(name="pu")
    bids: tuple[Level, ...] = msgspec.field(name="b")
    asks: tuple[Level, ...] = msgspec.field(name="a")


@final
class AggTradeEvent(_MarketEvent, frozen=True, kw_only=True, tag="aggTrade"):
    """``<symbol>@aggTrade``: § Aggregate Trade Streams. ``nq`` excludes RPI fills (newer revisions only)."""

    agg_trade_id: int = msgspec.field(name="a")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="l")
    trade_time: int = msgspec.field(name="T")
    #: True when the buyer was the maker, i.e. the taker sold.
    buyer_is_maker: bool = msgspec.field(name="m")
    normal_quantity: Decimal | None = msgspec.field(name="nq", default=None)


@final
class BookTickerEvent(_MarketEvent, frozen=True, kw_only=True, tag="bookTicker"):
    """``<symbol>@bookTicker``: § Individual Symbol Book Ticker Streams."""

    update_id: int = msgspec.field(name="u")
    transaction_time: int = msgspec.field(name="T")
    bid_price: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask_price: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")


@final
class MarkPriceUpdate(_MarketEvent, frozen=True, kw_only=True, tag="markPriceUpdate"):
    """``<symbol>@markPrice[@1s]``: § Mark Price Stream (``T`` is the next funding time)."""

    mark_price: Decimal = msgspec.field(name="p")
    index_price: Decimal = msgspec.field(name="i")
    estimated_settle_price: Decimal = msgspec.field(name="P")
    funding_rate: Decimal = msgspec.field(name="r")
    next_funding_time: int = msgspec.field(name="T")
    #: Mark price moving average (newer revisions only).
    average_price: Decimal | None = msgspec.field(name="ap", default=None)


MarketEvent: TypeAlias = DepthUpdate | AggTradeEvent | BookTickerEvent | MarkPriceUpdate

MARKET_EVENT_DECODER: Final[msgspec.json.Decoder[MarketEvent]] = msgspec.json.Decoder(MarketEvent)
