"""Canonical messages: frozen msgspec Structs in tagged unions, one family per base class.

Every event carries ``exchange``, ``instrument`` (canonical name, see :mod:`clobactors.model`; empty for
account-wide or exchange-wide events such as balances), ``ts_exchange`` (the exchange's own timestamp in
nanoseconds since the Unix epoch, 0 when the exchange gave none) and ``ts_recv`` (our wall-clock receive time
in nanoseconds, stamped by the actor that read the bytes).

Families, each a tagged union on the ``type`` field:

* :data:`MarketEvent` - book snapshot, book delta, trade, best bid/ask, mark price / funding.
* :data:`AccountEvent` - order update, fill, balance, position, funding payment.
* :data:`Command` - place, cancel, cancel-all, modify, set leverage, set position mode.
* :data:`LifecycleEvent` - feed connected / synced / stale / down, actor restarted, supervisor escalated,
  order outcome unknown, subscriber lagging.

Prices and sizes are :class:`~decimal.Decimal`, except the levels of book messages: a :data:`Level` is the
exchange's own ``(price, size)`` decimal strings, exact and unconverted, because converting every level of
every frame to Decimal was most of the book feed's cost (``bench/run.py book-pipeline``). A dialect passes
them on unvalidated; :class:`~clobactors.book.L2Book` validates them when it applies or reads them, and
:meth:`BookDelta.decimal_bids` (and friends) convert them, raising
:class:`~clobactors.errors.RemoteProtocolError` (hint ``RESYNC``) for a malformed number. msgspec encodes
Decimals as strings in JSON and msgpack, so a round trip is exact either way. Canonical messages forbid
unknown fields (they are ours); wire structs never do.

Market data may be conflated for a slow consumer (:func:`conflation_key` and :func:`merge_market`): the
latest best bid/ask or mark price replaces an older one, and book deltas for the same instrument merge into
one delta that leaves the book in the same state. Trades are never merged (each has its own key).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.model import (
    Liquidity,
    MarginType,
    OrderStatus,
    OrderType,
    PositionAction,
    PositionMode,
    PositionSide,
    Side,
    TimeInForce,
)

__all__ = [
    "AccountEvent",
    "ActorRestarted",
    "Balance",
    "BestBidAsk",
    "BookDelta",
    "BookSnapshot",
    "CancelAll",
    "CancelOrder",
    "Command",
    "DecimalLevel",
    "Event",
    "FeedConnected",
    "FeedDown",
    "FeedStale",
    "FeedSynced",
    "Fill",
    "FundingPayment",
    "Level",
    "LifecycleEvent",
    "MarketEvent",
    "MarkPrice",
    "Message",
    "ModifyOrder",
    "OrderOutcomeUnknown",
    "OrderUpdate",
    "PlaceOrder",
    "Position",
    "SetLeverage",
    "SetPositionMode",
    "SubscriberLagging",
    "SupervisorEscalatedEvent",
    "Trade",
    "conflation_key",
    "decimal_levels",
    "level",
    "merge_market",
]

#: One price level of a book message as the exchange wrote it: ``(price, size)`` decimal strings, exact and
#: not validated yet (see the module docstring). A size of zero (any spelling) in a delta removes the level.
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


class _Event(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=str.lower
):
    """Fields every event carries."""

    exchange: str
    instrument: str = ""
    ts_exchange: int = 0
    ts_recv: int = 0


# -- market data ---------------------------------------------------------------------------------------------


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


# -- account -------------------------------------------------------------------------------------------------


class _Account(_Event, frozen=True, kw_only=True):
    """Base of account events (never dropped by the bus)."""


@final
class OrderUpdate(_Account, frozen=True, kw_only=True):
    """The state of one of our orders as last reported (by REST, WebSocket, or our own order manager)."""

    client_order_id: str
    exchange_order_id: str = ""
    status: OrderStatus
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.GTC
    price: Decimal | None = None
    size: Decimal
    filled_size: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    #: Why it was rejected/expired/cancelled, as the exchange or our rules said it.
    reason: str = ""


@final
class Fill(_Account, frozen=True, kw_only=True):
    """One execution of one of our orders. ``trade_id`` is unique per instrument on the exchange."""

    client_order_id: str
    exchange_order_id: str = ""
    trade_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    liquidity: Liquidity | None = None


@final
class Balance(_Account, frozen=True, kw_only=True):
    """Balance of one asset (``instrument`` empty). ``total`` is ``free + locked``."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@final
class Position(_Account, frozen=True, kw_only=True):
    """A perpetual position. ``size`` is signed in one-way mode (negative is short), unsigned per leg."""

    position_side: PositionSide = PositionSide.BOTH
    size: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = Decimal(0)
    leverage: int | None = None
    margin_type: MarginType | None = None
    liquidation_price: Decimal | None = None


@final
class FundingPayment(_Account, frozen=True, kw_only=True):
    """A funding settlement on a perpetual position (positive amount = received)."""

    asset: str
    amount: Decimal
    rate: Decimal | None = None


AccountEvent: TypeAlias = OrderUpdate | Fill | Balance | Position | FundingPayment


# -- commands ------------------------------------------------------------------------------------------------


class _Command(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=str.lower
):
    """Base of commands a strategy sends to an exchange's order manager."""

    exchange: str
    instrument: str = ""


@final
class PlaceOrder(_Command, frozen=True, kw_only=True):
    """Place one order. ``client_order_id`` is assigned by the order manager when left empty."""

    side: Side
    order_type: OrderType
    size: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: str = ""
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    position_action: PositionAction | None = None


@final
class CancelOrder(_Command, frozen=True, kw_only=True):
    """Cancel one order, by our id (preferred) or the exchange's."""

    client_order_id: str = ""
    exchange_order_id: str = ""


@final
class CancelAll(_Command, frozen=True, kw_only=True):
    """Cancel every open order on ``instrument`` (all instruments when empty)."""


@final
class ModifyOrder(_Command, frozen=True, kw_only=True):
    """Change price and/or size of a resting order (cancel-replace where the exchange has no amend)."""

    client_order_id: str
    new_price: Decimal | None = None
    new_size: Decimal | None = None


@final
class SetLeverage(_Command, frozen=True, kw_only=True):
    """Set leverage for one perpetual instrument."""

    leverage: int
    margin_type: MarginType | None = None


@final
class SetPositionMode(_Command, frozen=True, kw_only=True):
    """Switch the account between one-way and hedge mode."""

    mode: PositionMode


Command: TypeAlias = PlaceOrder | CancelOrder | CancelAll | ModifyOrder | SetLeverage | SetPositionMode


# -- lifecycle -----------------------------------------------------------------------------------------------


class _Lifecycle(_Event, frozen=True, kw_only=True):
    """Base of lifecycle events: the health of feeds, actors and orders."""


@final
class FeedConnected(_Lifecycle, frozen=True, kw_only=True):
    """A feed's connection opened (``feed`` names it, e.g. ``book``, ``user``)."""

    feed: str


@final
class FeedSynced(_Lifecycle, frozen=True, kw_only=True):
    """A book is in sync with the exchange from ``sequence`` on."""

    feed: str
    sequence: int | None = None


@final
class FeedStale(_Lifecycle, frozen=True, kw_only=True):
    """Data for ``instrument`` (all the feed's instruments when empty) may be wrong or old."""

    feed: str
    reason: str


@final
class FeedDown(_Lifecycle, frozen=True, kw_only=True):
    """A feed's connection closed; it will reconnect unless its supervisor gives up."""

    feed: str
    reason: str


@final
class ActorRestarted(_Lifecycle, frozen=True, kw_only=True):
    """A supervisor restarted a child after ``delay`` seconds of backoff."""

    supervisor: str
    actor: str
    restart_count: int
    delay: float
    error: str


@final
class SupervisorEscalatedEvent(_Lifecycle, frozen=True, kw_only=True, tag="supervisorescalated"):
    """A supervisor exceeded its restart intensity and stopped its children."""

    supervisor: str
    restarts: int
    window: float
    error: str


@final
class OrderOutcomeUnknown(_Lifecycle, frozen=True, kw_only=True):
    """A request about an order got no definite answer; the order manager is asking the exchange."""

    client_order_id: str
    reason: str


@final
class SubscriberLagging(_Lifecycle, frozen=True, kw_only=True):
    """A subscriber's never-drop queue passed its high-water mark."""

    topic: str
    subscriber: str
    buffered: int


LifecycleEvent: TypeAlias = (
    FeedConnected
    | FeedSynced
    | FeedStale
    | FeedDown
    | ActorRestarted
    | SupervisorEscalatedEvent
    | OrderOutcomeUnknown
    | SubscriberLagging
)

Event: TypeAlias = MarketEvent | AccountEvent | LifecycleEvent
Message: TypeAlias = Event | Command

MARKET_TYPES: Final = (BookSnapshot, BookDelta, Trade, BestBidAsk, MarkPrice)
ACCOUNT_TYPES: Final = (OrderUpdate, Fill, Balance, Position, FundingPayment)


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
