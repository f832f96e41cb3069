"""The order manager's protocol: the messages it serves besides commands, and its statistics record.

Kept apart from :mod:`clobactors.actors.order_manager` so that the user stream (which sends
:class:`OrderReport` and :class:`Reconcile`) and strategies (which ask :class:`GetBalances` and
:class:`GetOpenOrders`) depend on the protocol, not on the actor. The commands themselves
(:class:`~clobactors.messages.PlaceOrder`, :class:`~clobactors.messages.CancelOrder`,
:class:`~clobactors.messages.CancelAll`) are canonical messages.
"""

from __future__ import annotations

from typing import final

import attrs
import msgspec

from clobactors.actors.funding_recovery import FundingLedgerStatistics
from clobactors.messages import AccountEvent
from clobactors.model import PositionSide
from clobactors.order_journal import OrderJournalStatistics
from clobactors.order_tracker import OrderTrackerStatistics

__all__ = [
    "ClosePosition",
    "GetBalances",
    "GetOpenOrders",
    "GetPositions",
    "GetRules",
    "OrderManagerStatistics",
    "OrderReport",
    "Reconcile",
]


@final
class OrderReport(msgspec.Struct, frozen=True, kw_only=True):
    """Tell: account events the user stream decoded, merged in order."""

    events: tuple[AccountEvent, ...]


@final
class Reconcile(msgspec.Struct, frozen=True, kw_only=True):
    """Ask: reconcile orders, fills and balances over REST now (after a stream reconnect)."""

    reason: str = ""


@final
class GetBalances(msgspec.Struct, frozen=True):
    """Ask: the balance view, ``Mapping[str, Balance]`` by asset."""


@final
class GetOpenOrders(msgspec.Struct, frozen=True, kw_only=True):
    """Ask: snapshots of our non-terminal orders (on ``instrument`` only, when given)."""

    instrument: str = ""


@final
class GetRules(msgspec.Struct, frozen=True, kw_only=True):
    """Ask: the :class:`~clobactors.rules.InstrumentRules` of ``instrument`` (exchange-neutral, so strategies
    can size and price orders without seeing a dialect)."""

    instrument: str


@final
class GetPositions(msgspec.Struct, frozen=True, kw_only=True):
    """Ask (perpetual venues): the position view, ``tuple[Position, ...]`` of non-zero positions (on
    ``instrument`` only, when given). Fails with ConfigError on a spot exchange."""

    instrument: str = ""


@final
class ClosePosition(msgspec.Struct, frozen=True, kw_only=True):
    """Ask (perpetual venues): close one position leg with a reduce-only MARKET order for its size in the
    position view; the answer is that order's :class:`~clobactors.messages.OrderUpdate`. Fails with
    ConfigError when the view holds no such position (or on a spot exchange)."""

    instrument: str
    position_side: PositionSide = PositionSide.BOTH


@final
@attrs.frozen
class OrderManagerStatistics:
    """Counters of one order manager, and its tracker's."""

    orders: OrderTrackerStatistics
    placed: int
    rejected_locally: int
    cancels: int
    outcome_unknown: int
    resolving: int
    reconciliations: int
    adopted: int
    clock_syncs: int
    balances: int
    published: int
    #: Creates and cancels written from the actor's own task (no task switch before the wire).
    placed_inline: int = 0
    cancels_inline: int = 0
    #: Light reconciliations run every ``reconcile_interval`` (and those that failed, to be retried next time).
    periodic_reconciliations: int = 0
    periodic_reconcile_failures: int = 0
    #: ModifyOrder commands served (:mod:`clobactors.actors.order_modification`).
    modifies: int = 0
    #: Fills an earlier process already published, merged but not published again (order journal).
    fills_deduplicated: int = 0
    #: The order journal's counters, when the manager has one (:class:`~clobactors.order_journal.OrderJournal`).
    journal: OrderJournalStatistics | None = None
    #: The funding ledger's counters (:class:`~clobactors.actors.funding_recovery.FundingLedger`): payments
    #: published, refused as duplicates or too old, and restored from the journal. ``None`` only when the
    #: record was built without them.
    funding: FundingLedgerStatistics | None = None
