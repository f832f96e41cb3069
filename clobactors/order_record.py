"""What a tracked order holds and reports: its fields, construction, read-only views and snapshot, and the
records (:class:`Change`, :class:`Anomaly`) its transitions return.

:class:`~clobactors.orders.TrackedOrder` is one class written in two modules by job: this one is the data
half (:class:`OrderRecord`: the terms, the state fields, :meth:`OrderRecord.from_command`, the views and
:meth:`OrderRecord.to_update`), :mod:`clobactors.orders` the merge rules that change it. The halves are
joined by inheritance rather than delegation, so the transitions read the same slots of the same object as
when the class was one module, with no extra call or attribute hop. Import every name from
:mod:`clobactors.orders`; :class:`OrderRecord` is a base for ``TrackedOrder`` alone, not a public API.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Self, final

import attrs

from clobactors.errors import ConfigError, RemoteProtocolError
from clobactors.messages import Fill, OrderUpdate, PlaceOrder
from clobactors.model import (
    TERMINAL_STATUSES,
    ZERO,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from clobactors.order_states import TRANSITIONS, OrderEvent

__all__ = ["Anomaly", "AnomalyKind", "Change", "InFlight", "OrderRecord"]

_S = OrderStatus
_E = OrderEvent


class InFlight(enum.StrEnum):
    """Which of our requests has no definite answer yet."""

    #: Nothing of ours is waiting for an answer.
    NONE = "none"
    #: The create request.
    CREATE = "create"
    #: A cancel request.
    CANCEL = "cancel"


class AnomalyKind(enum.StrEnum):
    """Why an exchange report was not applied."""

    #: Filled size negative, above the order size, or a fill of non-positive size or price.
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
    #: A status contradicting what the exchange already said (cancelled after filled, rejected with fills).
    CONFLICTING_STATUS = "conflicting_status"
    #: A trade id seen before with a different price or size.
    TRADE_ID_REUSED = "trade_id_reused"
    #: An exchange order id different from the one already known.
    EXCHANGE_ID_MISMATCH = "exchange_id_mismatch"
    #: A report whose status is ours (pending, unknown), not one the exchange can state.
    NOT_AN_EXCHANGE_STATUS = "not_an_exchange_status"


@final
@attrs.frozen
class Anomaly:
    """A report that was dropped, kept whole so nothing is lost silently."""

    kind: AnomalyKind
    error: RemoteProtocolError
    report: OrderUpdate | Fill


@final
@attrs.frozen
class Change:
    """What one event did to one order; publish a canonical event only when :attr:`changed`."""

    client_order_id: str
    #: The event applied; ``None`` for :meth:`~clobactors.orders.TrackedOrder.amend` (terms, not status) or
    #: a dropped report whose status is not an exchange status.
    event: OrderEvent | None
    status_before: OrderStatus
    status: OrderStatus
    filled_before: Decimal
    filled: Decimal
    #: The fill newly applied, if the event was a new fill.
    fill: Fill | None = None
    #: True when this event taught us the exchange order id.
    learned_exchange_id: bool = False
    #: True when the order's terms (price, total size) changed: an amendment in place.
    amended: bool = False
    #: Set when the report was dropped; nothing else changed then.
    anomaly: Anomaly | None = None

    @property
    def changed(self) -> bool:
        return (
            self.status is not self.status_before
            or self.filled != self.filled_before
            or self.fill is not None
            or self.learned_exchange_id
            or self.amended
        )


@attrs.define(eq=False)
class OrderRecord:
    """The fields, construction and views of :class:`~clobactors.orders.TrackedOrder` (see the module
    docstring); the state fields are changed only by ``TrackedOrder``'s transitions."""

    exchange: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    size: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    _status: OrderStatus = attrs.field(default=OrderStatus.PENDING_CREATE, init=False)
    _exchange_order_id: str = attrs.field(default="", init=False)
    _reported_filled: Decimal = attrs.field(default=ZERO, init=False)
    _reported_avg_price: Decimal | None = attrs.field(default=None, init=False)
    _fills: dict[str, Fill] = attrs.field(factory=dict, init=False)
    _fill_total: Decimal = attrs.field(default=ZERO, init=False)
    _notional: Decimal = attrs.field(default=ZERO, init=False)
    _fees: dict[str, Decimal] = attrs.field(factory=dict, init=False)
    _before_cancel: OrderStatus = attrs.field(default=OrderStatus.PENDING_CREATE, init=False)
    _unknown_request: InFlight = attrs.field(default=InFlight.NONE, init=False)
    _reason: str = attrs.field(default="", init=False)
    #: Exchange time (ns) of the newest report that set or confirmed the terms (stale ones cannot undo them).
    _terms_ts: int = attrs.field(default=0, init=False)
    #: Terms of an amendment sent and not yet settled (:meth:`TrackedOrder.expect_amendment`).
    _amending_to: tuple[Decimal | None, Decimal] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if not self.client_order_id:
            raise ConfigError("a tracked order needs a client order id")
        if not self.size > 0:
            raise ConfigError(f"order {self.client_order_id}: size must be positive, got {self.size}")

    @classmethod
    def from_command(cls, command: PlaceOrder, client_order_id: str = "") -> Self:
        """Track ``command`` under ``client_order_id`` (or the id it already carries)."""
        return cls(
            exchange=command.exchange,
            instrument=command.instrument,
            client_order_id=client_order_id or command.client_order_id,
            side=command.side,
            order_type=command.order_type,
            size=command.size,
            price=command.price,
            time_in_force=command.time_in_force,
            reduce_only=command.reduce_only,
            position_side=command.position_side,
        )

    # -- views ---------------------------------------------------------------------------------------------

    @property
    def status(self) -> OrderStatus:
        return self._status

    @property
    def exchange_order_id(self) -> str:
        return self._exchange_order_id

    @property
    def is_terminal(self) -> bool:
        return self._status in TERMINAL_STATUSES

    @property
    def can_cancel(self) -> bool:
        return (self._status, _E.REQUEST_CANCEL) in TRANSITIONS

    @property
    def in_flight(self) -> InFlight:
        if self._status is _S.PENDING_CREATE:
            return InFlight.CREATE
        if self._status is _S.PENDING_CANCEL:
            return InFlight.CANCEL
        return self._unknown_request if self._status is _S.UNKNOWN else InFlight.NONE

    @property
    def filled_size(self) -> Decimal:
        """Best known cumulative filled size: never decreases, never exceeds :attr:`size`."""
        return max(self._reported_filled, self._fill_total)

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled_size

    @property
    def fills(self) -> tuple[Fill, ...]:
        """Distinct fills in arrival order."""
        return tuple(self._fills.values())

    @property
    def filled_by_fills(self) -> Decimal:
        """Sum of distinct fills seen (may trail :attr:`filled_size` while fills are on the way)."""
        return self._fill_total

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Size-weighted price of the fills seen, from exact sums; ``None`` before any fill."""
        return self._notional / self._fill_total if self._fill_total else None

    @property
    def reported_avg_fill_price(self) -> Decimal | None:
        return self._reported_avg_price

    @property
    def fees(self) -> Mapping[str, Decimal]:
        """Fees paid per asset (negative for rebates), summed over distinct fills."""
        return MappingProxyType(dict(self._fees))

    @property
    def reason(self) -> str:
        return self._reason

    def to_update(self, *, ts_exchange: int = 0, ts_recv: int = 0) -> OrderUpdate:
        """The canonical event describing this order now, for the bus."""
        filled = self.filled_size
        avg = self.avg_fill_price if self._fill_total == filled else (self._reported_avg_price or self.avg_fill_price)
        return OrderUpdate(
            exchange=self.exchange,
            instrument=self.instrument,
            ts_exchange=ts_exchange,
            ts_recv=ts_recv,
            client_order_id=self.client_order_id,
            exchange_order_id=self._exchange_order_id,
            status=self._status,
            side=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            price=self.price,
            size=self.size,
            filled_size=filled,
            avg_fill_price=avg,
            reduce_only=self.reduce_only,
            position_side=self.position_side,
            reason=self._reason,
        )
