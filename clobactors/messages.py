"""Canonical messages: frozen msgspec Structs in tagged unions, one family per base class.

Every event carries ``exchange``, ``instrument`` (canonical name, see :mod:`clobactors.model`; empty for
account-wide or exchange-wide events such as balances), ``ts_exchange`` (the exchange's own timestamp in
nanoseconds since the Unix epoch, 0 when the exchange gave none) and ``ts_recv`` (our wall-clock receive time
in nanoseconds, stamped by the actor that read the bytes).

Families, each a tagged union on the ``type`` field:

* :data:`MarketEvent` - book snapshot, book delta, trade, best bid/ask, mark price / funding.
* :data:`AccountEvent` - order update, fill, balance, position, funding payment.
* :data:`Command` - place, cancel, cancel-all, modify, set leverage, set position mode.
* :data:`LifecycleEvent` - feed connected / synced / stale / down / removed, actor restarted, supervisor
  escalated, order outcome unknown, subscriber lagging.

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

Each family lives in its own module, with the roots and their msgspec options in
:mod:`clobactors.messages_base`: :mod:`~clobactors.messages_market` (with the level helpers and the
conflation), :mod:`~clobactors.messages_account`, :mod:`~clobactors.messages_commands` and
:mod:`~clobactors.messages_lifecycle`. This module assembles the unions and re-exports every name: import
them from here.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from clobactors.messages_account import AccountEvent, Balance, Fill, FundingPayment, OrderUpdate, Position
from clobactors.messages_commands import (
    CancelAll,
    CancelOrder,
    Command,
    ModifyOrder,
    PlaceOrder,
    SetLeverage,
    SetPositionMode,
)
from clobactors.messages_lifecycle import (
    ActorRestarted,
    FeedConnected,
    FeedDown,
    FeedRemoved,
    FeedStale,
    FeedSynced,
    LifecycleEvent,
    OrderOutcomeUnknown,
    SubscriberLagging,
    SupervisorEscalatedEvent,
)
from clobactors.messages_market import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    DecimalLevel,
    Level,
    MarketEvent,
    MarkPrice,
    Trade,
    conflation_key,
    decimal_levels,
    level,
    merge_market,
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
    "FeedRemoved",
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
    "MARKET_TYPES",
    "ACCOUNT_TYPES",
]

Event: TypeAlias = MarketEvent | AccountEvent | LifecycleEvent
Message: TypeAlias = Event | Command

MARKET_TYPES: Final = (BookSnapshot, BookDelta, Trade, BestBidAsk, MarkPrice)
ACCOUNT_TYPES: Final = (OrderUpdate, Fill, Balance, Position, FundingPayment)
