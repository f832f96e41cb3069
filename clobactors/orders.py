"""One tracked order: idempotent merging of exchange reports into the table of :mod:`order_states`.

Events come from two sides:

* **our own actions** (:meth:`TrackedOrder.request_cancel`, the answers or non-answers to our requests);
* **the exchange's reports** (:class:`~clobactors.messages.OrderUpdate`, :class:`~clobactors.messages.Fill`),
  from REST or WebSocket, in any order, any number of times.

Merge rules, which make applying reports idempotent and order-insensitive:

* A terminal status never changes. Stale reports are ignored; a report naming a *different* terminal status
  (cancelled after filled, rejected after fills) is an anomaly: counted, returned, not applied. A cancel
  acknowledgement after ``filled`` is a late answer and is ignored.
* Fills are deduplicated by ``trade_id``. The filled size is ``max(highest reported cumulative size, sum of
  distinct fills)``, so a stale ``open`` report after a partial fill regresses nothing, and a ``filled``
  report keeps the order filled while its fills are still on the way. A ``filled`` report means the whole
  size, whatever cumulative size it carries.
* The filled size never exceeds the order size: a report or fill that would exceed it is a
  :class:`~clobactors.errors.RemoteProtocolError` anomaly (hint ``drop``): counted, kept whole in an
  :class:`Anomaly` for inspection, never applied (clamping would invent a quantity nobody reported).
* ``unknown`` (submit or cancel timed out, connection dropped, 5xx) is never treated as failed: only an
  exchange *status report* resolves it, to whatever the exchange says, including ``rejected``. Fills alone
  prove the order exists but not whether it still rests, so they leave it ``unknown``.
* A cancel answered "unknown order" never means cancelled (the order may have filled): it means ``unknown``.
* While a cancel is pending, reports still advance the status the order would *resume* if the exchange
  refuses the cancel (:data:`~clobactors.order_states.RESUME`), so a refused cancel forgets nothing.
* **Terms** (price, total size) change when an exchange amends the order in place (Binance USD-M
  ``PUT /fapi/v1/order``): :meth:`TrackedOrder.amend` applies a confirmed amendment, and a report naming
  other terms than ours is taken as one, so a lost amend answer heals at the next report or reconcile. A
  report's terms are taken only while the order is not terminal, only when it is newer by exchange time
  than the report that last set (or confirmed) the terms, so a stale report never undoes an amendment, and
  never below the filled size. A report exactly as new as the terms held is ambiguous (exchange times are
  milliseconds: an order placed and amended within one has two reports of one time) and is taken only when
  it states the terms of an amendment we sent and have no answer to (:meth:`TrackedOrder.expect_amendment`):
  then it can only be that amendment's. Terms are not a status: the status table is untouched.

:class:`TrackedOrder` holds one order; :class:`~clobactors.order_tracker.OrderTracker` routes reports to many.

The class is written in two modules by job: :mod:`clobactors.order_record` holds its fields, construction,
views and snapshot (:class:`~clobactors.order_record.OrderRecord`, the base) and the records returned here
(:class:`Change`, :class:`Anomaly`); this module holds the transitions. Import every name from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Final, final

import attrs
import msgspec

from clobactors.errors import LocalProtocolError, RecoveryHint, RemoteProtocolError
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import TERMINAL_STATUSES, ZERO, OrderStatus
from clobactors.order_record import Anomaly, AnomalyKind, Change, InFlight, OrderRecord
from clobactors.order_states import (
    EXCHANGE_EVENTS,
    REPORT_EVENTS,
    RESUME,
    TRANSITIONS,
    OrderEvent,
    render_mermaid,
)

__all__ = [
    "TRANSITIONS",
    "Anomaly",
    "AnomalyKind",
    "Change",
    "InFlight",
    "OrderEvent",
    "TrackedOrder",
    "render_mermaid",
]

_S = OrderStatus
_E = OrderEvent
_TERMINAL_REPORTS: Final[Mapping[OrderEvent, OrderStatus]] = {
    e: s for s, e in REPORT_EVENTS.items() if s in TERMINAL_STATUSES
}


@final
@attrs.define(eq=False)
class TrackedOrder(OrderRecord):
    """One of our orders, tracked from before its request leaves until (and after) it is terminal.

    Built from the intent (:meth:`from_command`); starts in ``pending_create`` with the create in flight.
    Local actions that the table forbids raise :class:`~clobactors.errors.LocalProtocolError`; exchange
    reports never raise (bad ones come back as :class:`Change` with an :class:`Anomaly`). Fields, views and
    :meth:`to_update` are the base's (:class:`~clobactors.order_record.OrderRecord`).
    """

    # -- our actions and the answers to them ---------------------------------------------------------------

    def request_cancel(self) -> Change:
        """Record that a cancel is being sent; raises LocalProtocolError on a terminal order."""
        return self._local(_E.REQUEST_CANCEL)

    def reject_locally(self, reason: str) -> Change:
        """Our trading rules refused the order before it was sent."""
        self._reason = reason
        return self._local(_E.REJECT_LOCALLY)

    def submit_rejected(self, reason: str) -> Change:
        """The exchange answered our create request with a rejection: its word, merged like a report."""
        rejected = msgspec.structs.replace(
            self.to_update(),
            status=OrderStatus.REJECTED,
            exchange_order_id="",
            filled_size=ZERO,
            avg_fill_price=None,
            reason=reason,
        )
        return self.apply_update(rejected)

    def submit_outcome_unknown(self) -> Change:
        """The create request timed out, lost its connection or got a 5xx: the order may or may not exist."""
        return self._local(_E.SUBMIT_OUTCOME_UNKNOWN)

    def cancel_outcome_unknown(self) -> Change:
        """The cancel request got no definite answer: the order may or may not still rest."""
        return self._local(_E.CANCEL_OUTCOME_UNKNOWN)

    def cancel_acknowledged(self) -> Change:
        """The exchange confirmed our cancel; ignored if the order already reached a terminal status."""
        return self._local(_E.CANCEL_ACKNOWLEDGED)

    def cancel_rejected(self) -> Change:
        """The exchange refused the cancel request itself (rate limit, malformed): the order stands."""
        return self._local(_E.CANCEL_REJECTED)

    def cancel_unknown_order(self) -> Change:
        """The cancel was answered "unknown order" (:class:`~clobactors.errors.UnknownOrder`): the order may
        have filled, so this makes it ``unknown``, never ``cancelled``; ask the exchange."""
        return self._local(_E.CANCEL_UNKNOWN_ORDER)

    def expect_amendment(self, price: Decimal | None, size: Decimal) -> None:
        """An amendment to ``price`` and total ``size`` is being sent: until :meth:`settle_amendment`, a report
        as new as the terms held that states these terms is taken (see the module docstring), so an amendment
        whose answer is lost heals even when the exchange stamped it in the millisecond of the last report."""
        self._amending_to = (price, size)

    def settle_amendment(self) -> None:
        """The amendment's outcome is known (answered, refused, or learned by a query): stop expecting it."""
        self._amending_to = None

    def amend(self, price: Decimal, size: Decimal, *, ts_exchange: int = 0) -> Change:
        """The exchange amended the order in place: new limit ``price`` and total ``size`` (filled part
        included), same ids and status. Raises LocalProtocolError on a terminal order or a size not above the
        filled size (the exchange cancels such an amendment; its report says so)."""
        if self.is_terminal:
            raise LocalProtocolError(f"order {self.client_order_id} is {self._status.value}: it cannot be amended")
        if not (price > 0 and size > self.filled_size):
            raise LocalProtocolError(
                f"order {self.client_order_id}: cannot amend to {size} @ {price} with {self.filled_size} filled"
            )
        before, filled = self._status, self.filled_size
        amended = (price, size) != (self.price, self.size)
        self.price, self.size = price, size
        self._terms_ts = max(self._terms_ts, ts_exchange)
        return self._change(None, before, filled, amended=amended)

    def _local(self, event: OrderEvent) -> Change:
        before, filled = self._status, self.filled_size
        self._fire(event)
        return self._change(event, before, filled)

    # -- exchange reports ----------------------------------------------------------------------------------

    def apply_update(self, update: OrderUpdate) -> Change:
        """Merge one status report (REST or WS, possibly stale or duplicated)."""
        self._check_routing(update)
        before, filled_before = self._status, self.filled_size
        event = REPORT_EVENTS.get(update.status)
        if event is None:
            return self._drop(update, AnomalyKind.NOT_AN_EXCHANGE_STATUS, f"status {update.status.value!r}")
        terms = self._report_terms(update)
        size = self.size if terms is None else terms[1]
        if not ZERO <= update.filled_size <= size:
            return self._drop(
                update,
                AnomalyKind.QUANTITY_OUT_OF_RANGE,
                f"filled size {update.filled_size} outside 0..{size}",
            )
        if self._conflicts(event, update.filled_size):
            return self._drop(
                update, AnomalyKind.CONFLICTING_STATUS, f"{update.status.value} after {self._status.value}"
            )
        if (mismatch := self._id_mismatch(update)) is not None:
            return mismatch
        learned = self._learn_id(update.exchange_order_id)
        amended = False
        if terms is not None:  # taken, or confirmed: older reports can no longer change them
            amended = terms != (self.price, self.size)
            self.price, self.size = terms
            self._terms_ts = update.ts_exchange
        cumulative = self.size if event is _E.REPORT_FILLED else update.filled_size
        if cumulative >= self._reported_filled:
            self._reported_filled = cumulative
            if update.avg_fill_price is not None:
                self._reported_avg_price = update.avg_fill_price
        self._fire(event)
        self._normalize()
        if update.reason and self._status is update.status:
            self._reason = update.reason
        return self._change(event, before, filled_before, learned_exchange_id=learned, amended=amended)

    def _report_terms(self, update: OrderUpdate) -> tuple[Decimal | None, Decimal] | None:
        """The terms ``update`` states when they may be taken (see the module docstring: not terminal, not
        older than the terms held, never below the filled size), else ``None``."""
        if self.is_terminal or not update.ts_exchange or update.ts_exchange < self._terms_ts:
            return None
        price = self.price if update.price is None else update.price
        if (price, update.size) != (self.price, self.size):
            if update.ts_exchange == self._terms_ts and (price, update.size) != self._amending_to:
                return None  # as new as the terms held and not our amendment's: keep ours
            if not (update.size > 0 and update.size >= max(self.filled_size, update.filled_size)):
                return None
        return price, update.size

    def apply_fill(self, fill: Fill) -> Change | None:
        """Merge one fill; ``None`` when it is a duplicate of one already applied (same trade id)."""
        self._check_routing(fill)
        seen = self._fills.get(fill.trade_id)
        if seen is not None:
            if (seen.price, seen.size) == (fill.price, fill.size):
                return None
            return self._drop(fill, AnomalyKind.TRADE_ID_REUSED, f"trade {fill.trade_id} changed")
        if not (fill.size > 0 and fill.price > 0) or self._fill_total + fill.size > self.size:
            return self._drop(
                fill,
                AnomalyKind.QUANTITY_OUT_OF_RANGE,
                f"fill {fill.trade_id} of {fill.size} @ {fill.price} with {self._fill_total} of "
                f"{self.size} already filled",
            )
        if (mismatch := self._id_mismatch(fill)) is not None:
            return mismatch
        before, filled_before = self._status, self.filled_size
        learned = self._learn_id(fill.exchange_order_id)
        self._fills[fill.trade_id] = fill
        self._fill_total += fill.size
        with localcontext() as ctx:
            ctx.prec = 60  # products of two 28-digit decimals stay exact
            self._notional += fill.price * fill.size
        if fill.fee:
            self._fees[fill.fee_asset] = self._fees.get(fill.fee_asset, ZERO) + fill.fee
        self._normalize()
        return self._change(_E.FILL, before, filled_before, fill=fill, learned_exchange_id=learned)

    # -- machinery -----------------------------------------------------------------------------------------

    def _fire(self, event: OrderEvent) -> None:
        status = self._status
        target = TRANSITIONS.get((status, event))
        if target is None:
            raise LocalProtocolError(
                f"order {self.client_order_id}: {event.value} is illegal in status {status.value}"
            )
        if status is _S.PENDING_CANCEL and event in EXCHANGE_EVENTS:
            # Keep the status to resume up to date with what the exchange says meanwhile.
            resumed = TRANSITIONS[(self._before_cancel, event)]
            if isinstance(resumed, OrderStatus):
                self._before_cancel = resumed
        if event is _E.REQUEST_CANCEL and status is not _S.PENDING_CANCEL:
            self._before_cancel = status
        if target is RESUME:
            target = self._before_cancel
        elif target is _S.UNKNOWN and status is not _S.UNKNOWN:
            self._unknown_request = InFlight.CREATE if status is _S.PENDING_CREATE else InFlight.CANCEL
        self._status = target

    def _normalize(self) -> None:
        """Let quantities speak: any fill means partially filled, a full fill means filled."""
        if self.filled_size > 0:
            self._fire(_E.FILL)
        if self.filled_size == self.size:
            self._fire(_E.COMPLETE)

    def _conflicts(self, event: OrderEvent, reported_filled: Decimal) -> bool:
        if event is _E.REPORT_REJECTED and (reported_filled > 0 or self.filled_size > 0):
            return True  # an order with fills was accepted, whatever this report says
        reported = _TERMINAL_REPORTS.get(event)
        return reported is not None and self.is_terminal and reported is not self._status

    def _id_mismatch(self, report: OrderUpdate | Fill) -> Change | None:
        known, got = self._exchange_order_id, report.exchange_order_id
        if known and got and known != got:
            return self._drop(report, AnomalyKind.EXCHANGE_ID_MISMATCH, f"exchange order id {got} != {known}")
        return None

    def _learn_id(self, exchange_order_id: str) -> bool:
        if exchange_order_id and not self._exchange_order_id:
            self._exchange_order_id = exchange_order_id
            return True
        return False

    def _check_routing(self, report: OrderUpdate | Fill) -> None:
        if report.client_order_id and report.client_order_id != self.client_order_id:
            raise LocalProtocolError(
                f"report for {report.client_order_id!r} routed to order {self.client_order_id!r}"
            )

    def _drop(self, report: OrderUpdate | Fill, kind: AnomalyKind, detail: str) -> Change:
        error = RemoteProtocolError(
            f"order {self.client_order_id}: {detail}", hint=RecoveryHint.DROP, instrument=self.instrument
        )
        event = _E.FILL if isinstance(report, Fill) else REPORT_EVENTS.get(report.status)
        return self._change(event, self._status, self.filled_size, anomaly=Anomaly(kind, error, report))

    def _change(
        self,
        event: OrderEvent | None,
        before: OrderStatus,
        filled_before: Decimal,
        *,
        fill: Fill | None = None,
        learned_exchange_id: bool = False,
        anomaly: Anomaly | None = None,
        amended: bool = False,
    ) -> Change:
        return Change(
            self.client_order_id,
            event,
            before,
            self._status,
            filled_before,
            self.filled_size,
            fill=fill,
            learned_exchange_id=learned_exchange_id,
            anomaly=anomaly,
            amended=amended,
        )
