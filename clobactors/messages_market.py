"""Market-data messages (book snapshot and delta, trade, best bid/ask, mark price) and the helpers that act on
them alone: the exact :data:`Level` strings and their Decimal reading, and the conflation of market data for a
slow consumer (:func:`conflation_key`, :func:`merge_market`).

One family of :mod:`clobactors.messages` (the overview of all four, and where to import every name from),
in its own module so each family reads on one screen; the level helpers and the conflation live here because
they act on market events alone.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import TypeAlias, final

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.messages_base import _Event
from clobactors.model import Side

__all__ = [
    "BestBidAsk",
    "BookDelta",
    "BookSnapshot",
    "DecimalLevel",
    "Level",
    "MarketEvent",
    "MarkPrice",
    "Trade",
    "conflation_key",
    "decimal_levels",
    "level",
    "merge_market",
]

#: One price level of a book message as the exchange wrote it: ``(price, size)`` decimal strings, exact and
#: not validated yet (see :mod:`clobactors.messages`). A size of zero (any spelling) in a delta removes the level.
Level: TypeAlias = tuple[str, str]
#: One price level as numbers: what :meth:`BookDelta.decimal_bids` and the book's Decimal reads return.
DecimalLevel: TypeAlias = tuple[Decimal, Decimal]


def level(price: Decimal | str, size: Decimal | str) -> Level:
    """A :data:`Level` from numbers or strings; Decimals are written in plain notation with every digit."""
    return (
        price if isinstance(price, str) else format(price, "f"),
        size if isinstance(size, str) else format(size, "f"),
    )


def decimal_levels(levels: tuple[Level, ...], instrument: str = "") -> tuple[DecimalLevel, ...]:
    """Levels as ``(Decimal, Decimal)``; a malformed, non-finite or negative number (or a price that is not
    positive) raises :class:`~clobactors.errors.RemoteProtocolError` with hint ``RESYNC``."""
    try:
        out = tuple((Decimal(price), Decimal(size)) for price, size in levels)
        for (price, size), (p, s) in zip(out, levels, strict=True):
            # Decimal() accepts "1_000", which no exchange means; NaN fails the comparisons.
            if not price > 0 or not size >= 0 or not (price + size).is_finite() or "_" in p or "_" in s:
                raise ValueError(f"level ({p!r}, {s!r}) is not a positive price with a non-negative size")
    except (decimal.InvalidOperation, TypeError, ValueError) as exc:
        raise RemoteProtocolError(
            f"malformed book level: {exc}", hint=RecoveryHint.RESYNC, instrument=instrument
        ) from exc
    return out


class _Market(_Event, frozen=True, kw_only=True):
    """Base of market-data events (may be conflated for slow consumers)."""


@final
class BookSnapshot(_Market, frozen=True, kw_only=True):
    """A full (or top-N) L2 book. ``sequence`` is the exchange's update id for it, if any.

    Levels are the exchange's strings (:data:`Level`), bids best first and asks best first as sent.
    """

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    sequence: int | None = None

    def decimal_bids(self) -> tuple[DecimalLevel, ...]:
        """The bids as Decimals (RemoteProtocolError for a malformed number)."""
        return decimal_levels(self.bids, self.instrument)

    def decimal_asks(self) -> tuple[DecimalLevel, ...]:
        """The asks as Decimals (RemoteProtocolError for a malformed number)."""
        return decimal_levels(self.asks, self.instrument)


@final
class BookDelta(_Market, frozen=True, kw_only=True):
    """Changed levels; size zero removes a level.

    ``first_sequence``/``sequence`` span the exchange update ids this delta covers; ``prev_sequence`` is the
    id the exchange says came right before (Binance futures ``pu``, Bybit/OKX ``prevSeqId``). ``checksum``
    is the exchange's checksum of the resulting book, when it sends one.
    """

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    first_sequence: int | None = None
    sequence: int | None = None
    prev_sequence: int | None = None
    checksum: int | None = None

    def decimal_bids(self) -> tuple[DecimalLevel, ...]:
        """The changed bids as Decimals (RemoteProtocolError for a malformed number)."""
        return decimal_levels(self.bids, self.instrument)

    def decimal_asks(self) -> tuple[DecimalLevel, ...]:
        """The changed asks as Decimals (RemoteProtocolError for a malformed number)."""
        return decimal_levels(self.asks, self.instrument)


@final
class Trade(_Market, frozen=True, kw_only=True):
    """One public trade. ``taker_side`` is the aggressor's side when the exchange says it."""

    trade_id: str
    price: Decimal
    size: Decimal
    taker_side: Side | None = None


@final
class BestBidAsk(_Market, frozen=True, kw_only=True):
    """Top of book. A side with no orders has ``None`` price and zero size."""

    bid_price: Decimal | None
    bid_size: Decimal
    ask_price: Decimal | None
    ask_size: Decimal
    sequence: int | None = None


@final
class MarkPrice(_Market, frozen=True, kw_only=True):
    """Perpetual mark/index price and funding."""

    mark_price: Decimal
    index_price: Decimal | None = None
    funding_rate: Decimal | None = None
    #: Next funding time, ns since epoch; 0 when unknown.
    next_funding_ts: int = 0


MarketEvent: TypeAlias = BookSnapshot | BookDelta | Trade | BestBidAsk | MarkPrice


def conflation_key(event: MarketEvent) -> tuple[str, str, str]:
    """Key under which a newer market event may replace or merge with an older one for a slow consumer."""
    if isinstance(event, Trade):
        return ("trade", event.exchange, f"{event.instrument}#{event.trade_id}")
    return (type(event).__name__, event.exchange, event.instrument)


def merge_market(older: MarketEvent, newer: MarketEvent) -> MarketEvent:
    """Combine two events of one conflation key into one that a consumer can apply instead of both.

    Snapshots, best bid/ask and mark prices: the newer wins. Deltas: levels merge (newer size wins per price)
    and the sequence range spans both, which leaves a book in exactly the state applying both would.
    """
    if isinstance(older, BookDelta) and isinstance(newer, BookDelta):
        return BookDelta(
            exchange=newer.exchange,
            instrument=newer.instrument,
            ts_exchange=newer.ts_exchange,
            ts_recv=newer.ts_recv,
            bids=_merge_levels(older.bids, newer.bids),
            asks=_merge_levels(older.asks, newer.asks),
            first_sequence=older.first_sequence,
            sequence=newer.sequence,
            prev_sequence=older.prev_sequence,
            checksum=newer.checksum,
        )
    return newer


def _merge_levels(older: tuple[Level, ...], newer: tuple[Level, ...]) -> tuple[Level, ...]:
    """Each price string's last change, in the order of those last changes: applied in that order they give
    what applying both deltas does, even where the exchange spelled one price two ways (``"1.5"``,
    ``"1.50"``), within one delta or across both (the spelling changed last still lands last)."""
    merged: dict[str, str] = {}
    for levels in (older, newer):
        for price, size in levels:
            merged.pop(price, None)  # re-inserted below: moves to the end, after every earlier change
            merged[price] = size
    return tuple(merged.items())
