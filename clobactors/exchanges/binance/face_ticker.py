"""Binance face: rolling 24-hour statistics per symbol for ``GET /api/v3/ticker/24hr``.

rest-api.md § 24hr ticker price change statistics. Trades are summed into one-minute buckets (at most 1440
per symbol, whatever the trade rate), so the 24-hour window moves by whole minutes: a deliberate, documented
approximation of Binance's exact rolling window. Sans-IO: times are passed in.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.face_convert import d8
from clobactors.sim.records import TopOfBook, TradeEvent

__all__ = ["TickerStats"]

_MINUTE_MS: Final = 60_000
_DAY_MS: Final = 86_400_000
_ZERO: Final = Decimal(0)


@attrs.define
class _Bucket:
    minute: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    close_qty: Decimal
    volume: Decimal
    quote_volume: Decimal
    first_id: int
    last_id: int
    count: int


@final
@attrs.define
class TickerStats:
    """Minute buckets of one symbol's trades; see the module docstring."""

    _buckets: deque[_Bucket] = attrs.field(factory=deque)
    #: Close of the last bucket that left the window (``prevClosePrice``).
    _prev_close: Decimal = _ZERO

    def add(self, trade: TradeEvent) -> None:
        minute = trade.ts_ns // 1_000_000 // _MINUTE_MS
        last = self._buckets[-1] if self._buckets else None
        if last is None or last.minute != minute:
            self._buckets.append(
                _Bucket(
                    minute,
                    trade.price,
                    trade.price,
                    trade.price,
                    trade.price,
                    trade.size,
                    trade.size,
                    trade.quote_size,
                    trade.trade_id,
                    trade.trade_id,
                    1,
                )
            )
            return
        last.high = max(last.high, trade.price)
        last.low = min(last.low, trade.price)
        last.close, last.close_qty = trade.price, trade.size
        last.volume += trade.size
        last.quote_volume += trade.quote_size
        last.last_id = trade.trade_id
        last.count += 1

    def ticker(self, symbol: str, top: TopOfBook, now_ms: int) -> wire.Ticker24hr:
        open_time = now_ms - _DAY_MS
        first_minute = open_time // _MINUTE_MS + 1
        while self._buckets and self._buckets[0].minute < first_minute:
            self._prev_close = self._buckets.popleft().close
        buckets = list(self._buckets)
        volume = sum((b.volume for b in buckets), _ZERO)
        quote_volume = sum((b.quote_volume for b in buckets), _ZERO)
        if buckets:
            open_price, last = buckets[0].open, buckets[-1]
            last_price, last_qty = last.close, last.close_qty
            high, low = max(b.high for b in buckets), min(b.low for b in buckets)
            first_id, last_id = buckets[0].first_id, last.last_id
        else:
            open_price = last_price = last_qty = high = low = _ZERO
            first_id = last_id = -1
        change = last_price - open_price
        percent = (change / open_price * 100).quantize(Decimal("0.001")) if open_price else _ZERO
        weighted = (quote_volume / volume).quantize(Decimal("1E-8")) if volume else _ZERO
        return wire.Ticker24hr(
            symbol=symbol,
            price_change=d8(change),
            price_change_percent=percent,
            weighted_avg_price=d8(weighted),
            prev_close_price=d8(self._prev_close),
            last_price=d8(last_price),
            last_qty=d8(last_qty),
            bid_price=d8(top.bid_price or _ZERO),
            bid_qty=d8(top.bid_size),
            ask_price=d8(top.ask_price or _ZERO),
            ask_qty=d8(top.ask_size),
            open_price=d8(open_price),
            high_price=d8(high),
            low_price=d8(low),
            volume=d8(volume),
            quote_volume=d8(quote_volume),
            open_time=open_time,
            close_time=now_ms,
            first_id=first_id,
            last_id=last_id,
            count=sum(b.count for b in buckets),
        )
