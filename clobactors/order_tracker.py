"""All of one connector's tracked orders: routing of reports, orphans, anomaly counts.

Reports are routed by client order id, or by exchange order id when the exchange omitted ours (some fill
streams carry only theirs). A report for an order we do not know yet is kept as an *orphan*, not dropped: the
exchange id is often learned a moment later (the REST create answer racing the WebSocket fill), and the orphan
is then adopted. The orphan list is bounded; what falls off it is counted.
"""

from __future__ import annotations

from collections import deque
from typing import final

import attrs

from clobactors.errors import LocalProtocolError
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.orders import Anomaly, Change, TrackedOrder

__all__ = ["OrderTracker", "OrderTrackerStatistics"]

Report = OrderUpdate | Fill


@final
@attrs.frozen
class OrderTrackerStatistics:
    """A snapshot of :class:`OrderTracker` counters."""

    tracked: int
    #: Orders not yet terminal (including pending and unknown ones).
    open: int
    #: Orders whose outcome is unknown: the order manager should be asking the exchange about them.
    unknown: int
    #: Status reports that changed something.
    updates_applied: int
    #: Status reports that changed nothing (duplicates, stale reports).
    updates_ignored: int
    fills_applied: int
    duplicate_fills: int
    #: Reports dropped as inconsistent (see :class:`~clobactors.orders.AnomalyKind`).
    anomalies: int
    #: Reports waiting for an order to be routed to.
    orphans: int
    orphans_dropped: int


@final
@attrs.define
class OrderTracker:
    """Tracked orders keyed by client order id, with lookup by exchange order id.

    Every ``apply_*`` returns the :class:`~clobactors.orders.Change` records it caused (adopted orphans
    included), so the order manager publishes canonical events exactly when something changed and logs each
    ``anomaly``.
    """

    max_orphans: int = 1000
    max_anomalies: int = 100
    _orders: dict[str, TrackedOrder] = attrs.field(factory=dict, init=False)
    _by_exchange_id: dict[str, TrackedOrder] = attrs.field(factory=dict, init=False)
    _orphans: deque[Report] = attrs.field(init=False)
    _anomalies: deque[Anomaly] = attrs.field(init=False)
    _updates_applied: int = attrs.field(default=0, init=False)
    _updates_ignored: int = attrs.field(default=0, init=False)
    _fills_applied: int = attrs.field(default=0, init=False)
    _duplicate_fills: int = attrs.field(default=0, init=False)
    _anomaly_count: int = attrs.field(default=0, init=False)
    _orphans_dropped: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._orphans = deque()
        self._anomalies = deque(maxlen=self.max_anomalies)

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def track(self, order: TrackedOrder) -> list[Change]:
        """Start tracking ``order`` (before its request leaves); adopts orphans already waiting for it."""
        if order.client_order_id in self._orders:
            raise LocalProtocolError(f"client order id {order.client_order_id!r} is already tracked")
        self._orders[order.client_order_id] = order
        if order.exchange_order_id:
            self._by_exchange_id[order.exchange_order_id] = order
        return self._adopt(order)

    def get(self, client_order_id: str) -> TrackedOrder | None:
        return self._orders.get(client_order_id)

    def by_exchange_id(self, exchange_order_id: str) -> TrackedOrder | None:
        return self._by_exchange_id.get(exchange_order_id)

    def forget(self, client_order_id: str) -> TrackedOrder | None:
        """Stop tracking an order (normally a terminal one); later reports for it become orphans."""
        order = self._orders.pop(client_order_id, None)
        if order is not None and order.exchange_order_id:
            self._by_exchange_id.pop(order.exchange_order_id, None)
        return order

    def open_orders(self, instrument: str = "") -> list[TrackedOrder]:
        """Orders not yet terminal, optionally on one instrument, in the order they were tracked."""
        return [
            o
            for o in self._orders.values()
            if not o.is_terminal and (not instrument or o.instrument == instrument)
        ]

    @property
    def orphans(self) -> tuple[Report, ...]:
        return tuple(self._orphans)

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """The most recent anomalies (up to ``max_anomalies``); the total is in :meth:`statistics`."""
        return tuple(self._anomalies)

    def apply_update(self, update: OrderUpdate) -> list[Change]:
        order = self._route(update)
        if order is None:
            self._add_orphan(update)
            return []
        return self._after(order, [self._count(order.apply_update(update))])

    def apply_fill(self, fill: Fill) -> list[Change]:
        order = self._route(fill)
        if order is None:
            self._add_orphan(fill)
            return []
        change = order.apply_fill(fill)
        if change is None:
            self._duplicate_fills += 1
            return []
        return self._after(order, [self._count(change)])

    def statistics(self) -> OrderTrackerStatistics:
        orders = self._orders.values()
        return OrderTrackerStatistics(
            tracked=len(self._orders),
            open=sum(1 for o in orders if not o.is_terminal),
            unknown=sum(1 for o in orders if o.status is OrderStatus.UNKNOWN),
            updates_applied=self._updates_applied,
            updates_ignored=self._updates_ignored,
            fills_applied=self._fills_applied,
            duplicate_fills=self._duplicate_fills,
            anomalies=self._anomaly_count,
            orphans=len(self._orphans),
            orphans_dropped=self._orphans_dropped,
        )

    # -- machinery -----------------------------------------------------------------------------------------

    def _route(self, report: Report) -> TrackedOrder | None:
        if report.client_order_id:
            return self._orders.get(report.client_order_id)
        if report.exchange_order_id:
            return self._by_exchange_id.get(report.exchange_order_id)
        return None

    def _count(self, change: Change) -> Change:
        if change.anomaly is not None:
            self._anomaly_count += 1
            self._anomalies.append(change.anomaly)
        elif change.fill is not None:
            self._fills_applied += 1
        elif change.changed:
            self._updates_applied += 1
        else:
            self._updates_ignored += 1
        return change

    def _after(self, order: TrackedOrder, changes: list[Change]) -> list[Change]:
        if any(c.learned_exchange_id for c in changes):
            self._by_exchange_id[order.exchange_order_id] = order
            changes += self._adopt(order)
        return changes

    def _adopt(self, order: TrackedOrder) -> list[Change]:
        """Apply orphans that belong to ``order``, repeating while they teach it its exchange id."""
        changes: list[Change] = []
        while True:
            mine = [r for r in self._orphans if self._belongs(r, order)]
            if not mine:
                return changes
            for report in mine:
                self._orphans.remove(report)
            known = order.exchange_order_id
            for report in mine:
                if isinstance(report, Fill):
                    change = order.apply_fill(report)
                    if change is None:
                        self._duplicate_fills += 1
                        continue
                else:
                    change = order.apply_update(report)
                changes.append(self._count(change))
            if order.exchange_order_id == known:
                return changes
            self._by_exchange_id[order.exchange_order_id] = order

    @staticmethod
    def _belongs(report: Report, order: TrackedOrder) -> bool:
        if report.client_order_id:
            return report.client_order_id == order.client_order_id
        return bool(order.exchange_order_id) and report.exchange_order_id == order.exchange_order_id

    def _add_orphan(self, report: Report) -> None:
        if len(self._orphans) >= self.max_orphans:
            self._orphans.popleft()
            self._orphans_dropped += 1
        self._orphans.append(report)
