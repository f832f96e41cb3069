"""One account's orders, balances and positions as the order manager knows them, and the events their changes publish.

:class:`AccountBook` is the order manager's memory, split out so that reconciliation
(:mod:`clobactors.actors.reconcile`) and command handling (:mod:`clobactors.actors.order_manager`) share one
merge path. Every report, whether it came from a REST answer, the user stream or a reconciliation, goes
through :meth:`AccountBook.apply`, which merges it with :class:`~clobactors.order_tracker.OrderTracker`
(idempotent, fills deduplicated by trade id, terminal states final) and publishes canonical events on the bus
*only when something changed*. Account events are published with the bus's never-drop path, in the order
their changes were made (see :mod:`clobactors.actors.ordered_publisher`), whichever of the order manager's
tasks made them.

Orders the exchange reports that we never placed (left open by an earlier session, or placed by hand) are
*adopted* when their report is not terminal, so they can be tracked and cancelled like ours. Terminal orders
are forgotten oldest first beyond ``retain_terminal``, so a long session's memory stays bounded.

With an :class:`~clobactors.order_journal.OrderJournal`, every order tracked live (ours before its request
leaves, adopted ones when adopted) is journaled ``open``, and ``done`` when it turns terminal, so the next
process can ask the exchange about each (:func:`~clobactors.actors.reconcile.reconcile`). The journal write is
a synchronous append: it adds no checkpoint between tracking an order and writing its request.

The journal also remembers the fills published (``fill`` records), so a restarted process does not publish
again a fill that an earlier one did and that the exchange's recent trade list still holds: the book resumes
fetching fills at the journal's latest fill time per instrument, and a fill the journal knows is still merged
into its order's state (an adopted order must end filled) but its Fill event is not published a second time
(counted in :attr:`AccountBook.fills_deduplicated`, logged at debug). The order's status updates are published
as usual; an order that only such fills name is not queried at all (see
:func:`~clobactors.actors.reconcile.reconcile`), since the earlier process published its fills and its end.

An order's status update is published whenever a change moves it, except after a fill that leaves its
snapshot as the last one published (an order adopted from the open-order list, whose report already stated
what its fetched fills then add): the Fill goes out, its duplicate update does not.

Balances, positions, funding payments, the fields and the views live in the class's data half,
:class:`~clobactors.actors.account_state.AccountState` (one class written in two modules by job, joined by
inheritance so the publish path reads the same slots as when it was one module).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, assert_never, final

import attrs
import msgspec

from clobactors.actors.account_state import AccountState
from clobactors.actors.actor import Context
from clobactors.actors.ordered_publisher import HeldEvents
from clobactors.errors import ConfigError
from clobactors.messages import (
    AccountEvent,
    Balance,
    Fill,
    FundingPayment,
    OrderOutcomeUnknown,
    OrderUpdate,
    Position,
)
from clobactors.model import TERMINAL_STATUSES, OrderStatus
from clobactors.orders import Change, TrackedOrder

__all__ = ["AccountBook", "HeldEvents"]

logger: Final = logging.getLogger(__name__)


def _state(update: OrderUpdate) -> tuple[object, ...]:
    """An order's snapshot without its timestamps: the fields a change can move (the others are fixed for an
    order's life: exchange, instrument, client order id, side, type, time in force, reduce-only, position side)."""
    return (
        update.status,
        update.filled_size,
        update.avg_fill_price,
        update.price,
        update.size,
        update.exchange_order_id,
        update.reason,
    )


@final
@attrs.define
class AccountBook(AccountState):
    """Tracked orders, the balance view and per-instrument fill times of one exchange account."""

    # -- merging -------------------------------------------------------------------------------------------

    async def track(self, ctx: Context, order: TrackedOrder, *, publish: bool = True, persist: bool = True) -> None:
        """Start tracking one of our orders before its request leaves (publishing its pending state).

        With ``persist`` (an order that will be sent) it is journaled first; a journal that cannot record it
        raises ConfigError and nothing is tracked."""
        if persist and self.journal is not None:
            self.journal.record_open(order, ctx.wall_ns())
        changes = self.tracker.track(order)
        first = [self._snapshot(ctx, order)] if publish else []
        await self._emit(ctx, *first, *self._events(ctx, changes))

    async def track_held(self, ctx: Context, order: TrackedOrder) -> HeldEvents:
        """:meth:`track`, but its events keep their place in the publishing order and go out on
        :meth:`HeldEvents.release`: the order path writes its request first (``bench/run.py order-overhead``)."""
        if self.journal is not None:
            self.journal.record_open(order, ctx.wall_ns())
        changes = self.tracker.track(order)
        return await self._publisher.hold(ctx, (self._snapshot(ctx, order), *self._events(ctx, changes)))

    async def publish_held(self, ctx: Context, changes: Iterable[Change]) -> HeldEvents:
        """:meth:`publish`, held as :meth:`track_held` holds (a cancel's ``pending_cancel``)."""
        return await self._publisher.hold(ctx, tuple(self._events(ctx, changes)))

    async def apply(self, ctx: Context, events: Iterable[AccountEvent]) -> None:
        """Merge one batch of reports from any source (a REST answer, a stream frame); publish what changed.

        Fills are merged before the rest of the batch, which otherwise keeps its order. A status report states
        the order *after* the fills it comes with, so merging it first would publish that status ahead of the
        fills that produced it (``filled`` before its last Fill) and then the same status again as each fill
        lands; fill first, the report usually changes nothing more.
        """
        batch = list(events)
        for event in [e for e in batch if isinstance(e, Fill)] + [e for e in batch if not isinstance(e, Fill)]:
            match event:
                case OrderUpdate():
                    await self.apply_update(ctx, event)
                case Fill():
                    if event.ts_exchange:
                        seen = self._last_fill_ns.get(event.instrument, 0)
                        self._last_fill_ns[event.instrument] = max(seen, event.ts_exchange)
                    await self.publish(ctx, self.tracker.apply_fill(event))
                case Balance():
                    await self.apply_balance(ctx, event)
                case Position():
                    await self.apply_position(ctx, event)
                case FundingPayment():
                    await self.publish_funding(ctx, (event,))  # the balance report follows it
                case _:
                    assert_never(event)

    async def apply_update(
        self, ctx: Context, update: OrderUpdate, *, adopt_ended: bool = False
    ) -> TrackedOrder | None:
        """Merge one status report; adopt the order if we do not know it and it is still live.

        With ``adopt_ended`` an ended order is adopted too: reconciliation asked the exchange about it because
        fills of it were waiting as orphans, which adopting it lets through (fills first, then its status).
        """
        order = self._find(update)
        if order is None:
            if not update.client_order_id or (update.status in TERMINAL_STATUSES and not adopt_ended):
                await self.publish(ctx, self.tracker.apply_update(update))  # kept as an orphan
                return None
            order = TrackedOrder(
                exchange=update.exchange or self.exchange,
                instrument=update.instrument,
                client_order_id=update.client_order_id,
                side=update.side,
                order_type=update.order_type,
                size=update.size,
                price=update.price,
                time_in_force=update.time_in_force,
                reduce_only=update.reduce_only,
                position_side=update.position_side,
            )
            self._adopted += 1
            logger.info("%s: adopted order %s we did not place", self.exchange, update.client_order_id)
            changes = self.tracker.track(order)  # adopts orphans naming our id; the report, those naming theirs
            changes += self.tracker.apply_update(update)
            if self.journal is not None and not order.is_terminal:
                try:
                    self.journal.record_open(order, ctx.wall_ns())
                except ConfigError as exc:  # it is live on the exchange whatever we write: track it anyway
                    logger.warning("%s: adopted order %s not journaled: %s", self.exchange, order.client_order_id, exc)
            await self._publish_adopted(ctx, order, changes, update)
            return order
        await self.publish(ctx, self.tracker.apply_update(update), update)
        return order

    async def conclude_journaled(self, ctx: Context, report: OrderUpdate) -> None:
        """End a journaled order of an earlier process that the exchange no longer knows: ``report`` (built
        from the journal, terminal) adopted and published, then an :class:`OrderOutcomeUnknown` alarm, since
        what became of it is inferred, not stated by the exchange."""
        await self.apply_update(ctx, report, adopt_ended=True)
        alarm = OrderOutcomeUnknown(
            exchange=report.exchange,
            instrument=report.instrument,
            client_order_id=report.client_order_id,
            reason=report.reason,
            ts_recv=ctx.wall_ns(),
        )
        await self._emit(ctx, alarm)

    async def conclude(self, ctx: Context, order: TrackedOrder, status: OrderStatus, reason: str) -> None:
        """End an order the exchange cannot tell us about any more, with a synthetic report saying why."""
        if order.is_terminal:
            return
        if status is OrderStatus.REJECTED and order.filled_size > 0:
            status = OrderStatus.EXPIRED  # it traded, so it was placed: it cannot have been rejected
        report = msgspec.structs.replace(order.to_update(ts_recv=ctx.wall_ns()), status=status, reason=reason)
        await self.publish(ctx, self.tracker.apply_update(report), report)

    async def outcome_unknown(self, ctx: Context, order: TrackedOrder, change: Change, reason: str) -> None:
        """Publish that ``order``'s request got no definite answer (its status update, then the alarm)."""
        await self._emit(
            ctx,
            *self._events(ctx, [change]),
            OrderOutcomeUnknown(
                exchange=order.exchange,
                instrument=order.instrument,
                client_order_id=order.client_order_id,
                reason=reason,
                ts_recv=ctx.wall_ns(),
            ),
        )

    async def publish_amended(
        self, ctx: Context, order: TrackedOrder, price: Decimal, size: Decimal, ts_exchange: int = 0
    ) -> None:
        """The exchange confirmed an amendment of ``order`` in place (:meth:`TrackedOrder.amend`): its one
        OrderUpdate with the new terms takes its place in the publishing order like any change (none when the
        terms were already these, e.g. the stream's AMENDMENT report came first)."""
        change = order.amend(price, size, ts_exchange=ts_exchange)
        await self.publish(ctx, [change], order.to_update(ts_exchange=ts_exchange))  # the report: for its time

    async def publish(self, ctx: Context, changes: Iterable[Change], report: OrderUpdate | None = None) -> None:
        """Publish the canonical events for ``changes`` that changed something; log anomalies."""
        await self._emit(ctx, *self._events(ctx, changes, report))

    def _events(self, ctx: Context, changes: Iterable[Change], report: OrderUpdate | None = None) -> list[AccountEvent]:
        """The events ``changes`` publish, each order's snapshot taken now (:mod:`~.ordered_publisher` says why).

        Each snapshot is remembered as the order's last published; one a fill produced is left out when it
        states nothing that one did not (compared without timestamps). An order's first snapshot (its pending
        state, :meth:`track`) is not remembered: nothing earlier can be compared with it."""
        events: list[AccountEvent] = []
        for change in changes:
            if change.anomaly is not None:
                logger.warning("%s: report dropped: %s", self.exchange, change.anomaly.error)
                continue
            if not change.changed:
                continue
            order = self.tracker.get(change.client_order_id)
            if change.fill is not None:
                self._add_fill(events, change.fill, change.client_order_id, order)
            if order is None:
                continue
            cid = order.client_order_id
            if change.fill is None:
                snapshot = self._snapshot(ctx, order, report.ts_exchange if report is not None else 0)
            else:
                snapshot = self._snapshot(ctx, order, change.fill.ts_exchange)
                last = self._last_published.get(cid)
                if last is not None and _state(last) == _state(snapshot):
                    continue  # the fill moved nothing published (module docstring); terminal ones are not kept
            self._last_published[cid] = snapshot
            events.append(snapshot)
            if order.is_terminal:
                self._retire(ctx, cid)
        return events

    # -- machinery -----------------------------------------------------------------------------------------

    async def _publish_adopted(
        self, ctx: Context, order: TrackedOrder, changes: list[Change], report: OrderUpdate
    ) -> None:
        """Publish a just-adopted order's first report: the waiting fills it let through, then its state once,
        so ``filled`` never precedes its fills nor repeats."""
        changed = False
        events: list[AccountEvent] = []
        for change in changes:
            if change.anomaly is not None:
                logger.warning("%s: report dropped: %s", self.exchange, change.anomaly.error)
            elif change.changed:
                changed = True
                if change.fill is not None:
                    self._add_fill(events, change.fill, order.client_order_id, order)
        if changed:
            events.append(snapshot := self._snapshot(ctx, order, report.ts_exchange))
            self._last_published[order.client_order_id] = snapshot
            if order.is_terminal:
                self._retire(ctx, order.client_order_id)
        await self._emit(ctx, *events)

    def _add_fill(
        self, events: list[AccountEvent], fill: Fill, client_order_id: str, order: TrackedOrder | None
    ) -> None:
        """Append ``fill`` to ``events`` and journal it as published, unless the journal says it already was."""
        if self.already_published(fill):
            self._fills_deduplicated += 1
            logger.debug("%s: fill %s of %s published by an earlier process: not again", self.exchange,
                         fill.trade_id, fill.instrument)  # fmt: skip
            return
        events.append(self._named(fill, client_order_id, order))
        if self.journal is not None and fill.trade_id:
            self.journal.record_fill(fill.instrument, fill.trade_id, fill.ts_exchange)

    def _find(self, update: OrderUpdate) -> TrackedOrder | None:
        if update.client_order_id:
            return self.tracker.get(update.client_order_id)
        if update.exchange_order_id:
            return self.tracker.by_exchange_id(update.exchange_order_id)
        return None

    @staticmethod
    def _named(fill: Fill, client_order_id: str, order: TrackedOrder | None) -> Fill:
        """``fill`` naming its order by both ids: a fill routed by one id (REST trade lists carry no client
        order id) must still reach strategies, which know their orders by client order id."""
        exchange_order_id = fill.exchange_order_id or (order.exchange_order_id if order is not None else "")
        if fill.client_order_id and fill.exchange_order_id == exchange_order_id:
            return fill
        return msgspec.structs.replace(
            fill, client_order_id=fill.client_order_id or client_order_id, exchange_order_id=exchange_order_id
        )

    @staticmethod
    def _snapshot(ctx: Context, order: TrackedOrder, ts_exchange: int = 0) -> OrderUpdate:
        return order.to_update(ts_exchange=ts_exchange, ts_recv=ctx.wall_ns())

    def _retire(self, ctx: Context, client_order_id: str) -> None:
        self._last_published.pop(client_order_id, None)  # a terminal order's snapshot is never compared
        if client_order_id in self._retained:
            return
        if self.journal is not None:
            self.journal.record_done(client_order_id, ctx.wall_ns())
        self._retained.add(client_order_id)
        self._terminal.append(client_order_id)
        while len(self._terminal) > self.retain_terminal:
            old = self._terminal.popleft()
            self._retained.discard(old)
            self.tracker.forget(old)
