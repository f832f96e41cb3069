"""The data half of :class:`~clobactors.actors.account_book.AccountBook`: its fields, read-only views, and
what the account holds besides orders (balances, positions, funding payments), merged and published.

:class:`~clobactors.actors.account_book.AccountBook` is one class written in two modules by job, as
:class:`~clobactors.orders.TrackedOrder` is: this one (:class:`AccountState`) holds every field, the views,
the holdings and the publishing order (:meth:`AccountState._emit`); :mod:`clobactors.actors.account_book` the
order merge and the order events it publishes. The halves are joined by inheritance rather than delegation,
so the publish path reads the same slots of the same object as when the class was one module, with no extra
call or attribute hop. Import :class:`AccountBook` from :mod:`clobactors.actors.account_book`;
:class:`AccountState` is a base for it alone, not a public API.

Positions (perpetual venues) are kept per ``(instrument, position side)``; a :class:`Position` is published
only when its size, entry price, leverage or margin type changed (mark price and unrealized PnL move on
every tick and would flood the account topic). Fields a report leaves out (the user stream carries no
leverage) keep their last known value. Funding payments are published once each, whether the stream or a
reconciliation brought them (:class:`~clobactors.actors.funding_recovery.FundingLedger`), and with an order
journal once across restarts too: each published payment is journaled, and the journal's payments are
replayed into the ledger when the book is built.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs
import msgspec

from clobactors.actors.actor import Context
from clobactors.actors.funding_recovery import FundingLedger
from clobactors.actors.ordered_publisher import OrderedPublisher, Published
from clobactors.messages import Balance, Fill, FundingPayment, OrderUpdate, Position
from clobactors.model import ZERO, PositionSide
from clobactors.order_journal import OrderJournal
from clobactors.order_tracker import OrderTracker

__all__ = ["AccountState"]


def _position_state(p: Position) -> tuple[object, ...]:
    return (p.size, p.entry_price, p.leverage, p.margin_type)


@attrs.define
class AccountState:
    """The fields, views and holdings of an :class:`~clobactors.actors.account_book.AccountBook` (see the
    module docstring); the order half changes the order fields."""

    exchange: str
    retain_terminal: int = 1000
    tracker: OrderTracker = attrs.field(factory=OrderTracker)
    #: Where live orders are journaled for the next process (owned, opened and closed, by the caller).
    journal: OrderJournal | None = None
    #: Funding settlements published, so one seen on the stream and over REST is published once.
    funding: FundingLedger = attrs.field(factory=FundingLedger)
    _balances: dict[str, Balance] = attrs.field(factory=dict, init=False)
    _positions: dict[tuple[str, PositionSide], Position] = attrs.field(factory=dict, init=False)
    #: Latest exchange timestamp (ns) of a fill seen per instrument, where fill reconciliation resumes.
    _last_fill_ns: dict[str, int] = attrs.field(factory=dict, init=False)
    _terminal: deque[str] = attrs.field(factory=deque, init=False)
    _retained: set[str] = attrs.field(factory=set, init=False)
    #: The last snapshot published of each live order after its first (``AccountBook._events`` says why);
    #: dropped when the order is retired, so it holds at most the live orders.
    _last_published: dict[str, OrderUpdate] = attrs.field(factory=dict, init=False, repr=False)
    _adopted: int = attrs.field(default=0, init=False)
    _stale_balances: int = attrs.field(default=0, init=False)
    _fills_deduplicated: int = attrs.field(default=0, init=False)
    #: Serialises publication (FIFO), so events reach the bus in the order their changes were made.
    _publisher: OrderedPublisher = attrs.field(factory=OrderedPublisher, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.journal is None:
            return
        # Fill and funding reconciliation resume where the earlier process left off, and what it published
        # is not published again.
        self._last_fill_ns.update(self.journal.last_fill_ns())
        for payment in self.journal.funding_payments():
            self.funding.restore(
                payment.asset, payment.instrument, payment.ts, fetched=payment.fetched, payment_id=payment.payment_id
            )

    # -- views ---------------------------------------------------------------------------------------------

    def balances(self) -> Mapping[str, Balance]:
        """A read-only copy of the balance view, by asset."""
        return MappingProxyType(dict(self._balances))

    def positions(self, instrument: str = "") -> tuple[Position, ...]:
        """Non-zero positions in the view (on ``instrument`` only, when given), by instrument and side."""
        return tuple(
            p for key, p in sorted(self._positions.items()) if p.size != 0 and instrument in ("", key[0])
        )

    def position(self, instrument: str, side: PositionSide) -> Position | None:
        """The last known position of one leg (``None`` when never reported)."""
        return self._positions.get((instrument, side))

    def open_orders(self, instrument: str = "") -> tuple[OrderUpdate, ...]:
        """Snapshots of every non-terminal order (pending and unknown ones included)."""
        return tuple(o.to_update() for o in self.tracker.open_orders(instrument))

    def last_fill_ms(self, instrument: str) -> int | None:
        ns = self._last_fill_ns.get(instrument)
        return None if ns is None else ns // 1_000_000

    @property
    def adopted(self) -> int:
        return self._adopted

    @property
    def published(self) -> int:
        return self._publisher.published

    @property
    def fills_deduplicated(self) -> int:
        """Fills merged but not published again: the journal says an earlier process published them."""
        return self._fills_deduplicated

    def already_published(self, fill: Fill) -> bool:
        """Whether the journal says ``fill`` was published (by an earlier process, or this one)."""
        return (
            bool(fill.trade_id)
            and self.journal is not None
            and self.journal.fill_published(fill.instrument, fill.trade_id)
        )

    @property
    def stale_balances(self) -> int:
        """Balance reports ignored because a newer one (by exchange time) was already applied."""
        return self._stale_balances

    # -- holdings ------------------------------------------------------------------------------------------

    async def publish_funding(self, ctx: Context, payments: Iterable[FundingPayment], *, fetched: bool = False) -> int:
        """Publish those of ``payments`` (``fetched``: over REST) the ledger has not seen; how many it let through.

        Each is journaled before it is published (as fills are), so the next process does not publish it again."""
        fresh = [p for p in payments if self.funding.admit(p, fetched=fetched)]
        if self.journal is not None:
            for payment in fresh:
                self.journal.record_funding(payment, fetched=fetched)
        await self._emit(ctx, *fresh)
        return len(fresh)

    async def apply_balance(self, ctx: Context, balance: Balance) -> None:
        known = self._balances.get(balance.asset)
        if known is not None:
            if balance.ts_exchange and known.ts_exchange and balance.ts_exchange < known.ts_exchange:
                self._stale_balances += 1
                return
            if (known.free, known.locked) == (balance.free, balance.locked):
                self._balances[balance.asset] = balance
                return
        self._balances[balance.asset] = balance
        await self._emit(ctx, balance)

    async def replace_balances(self, ctx: Context, balances: Iterable[Balance], recv_ns: int) -> int:
        """Apply a full balance snapshot; assets it no longer lists drop to zero. Returns assets listed."""
        listed = 0
        missing = set(self._balances)
        for balance in balances:
            listed += 1
            missing.discard(balance.asset)
            await self.apply_balance(ctx, balance)
        for asset in sorted(missing):
            gone = Balance(exchange=self.exchange, asset=asset, free=ZERO, locked=ZERO, ts_recv=recv_ns)
            await self.apply_balance(ctx, gone)
        return listed

    async def apply_position(self, ctx: Context, position: Position) -> None:
        """Merge one position report; publish it only when its state changed (see the module docstring)."""
        key = (position.instrument, position.position_side)
        known = self._positions.get(key)
        if known is not None:
            if position.ts_exchange and known.ts_exchange and position.ts_exchange < known.ts_exchange:
                return
            position = msgspec.structs.replace(
                position,
                entry_price=position.entry_price if position.entry_price is not None else known.entry_price,
                mark_price=position.mark_price if position.mark_price is not None else known.mark_price,
                leverage=position.leverage if position.leverage is not None else known.leverage,
                margin_type=position.margin_type if position.margin_type is not None else known.margin_type,
                liquidation_price=(
                    position.liquidation_price if position.liquidation_price is not None else known.liquidation_price
                ),
            )
        self._positions[key] = position
        if known is None and position.size == 0:
            return  # a flat leg we never saw open: nothing to say
        if known is not None and _position_state(known) == _position_state(position):
            return
        await self._emit(ctx, position)

    async def replace_positions(self, ctx: Context, positions: Iterable[Position], recv_ns: int) -> int:
        """Apply a full position snapshot; open legs it no longer lists drop to zero. Returns legs listed."""
        listed = 0
        missing = {k for k, p in self._positions.items() if p.size != 0}
        for position in positions:
            listed += 1
            missing.discard((position.instrument, position.position_side))
            await self.apply_position(ctx, position)
        for instrument, side in sorted(missing):
            flat = Position(
                exchange=self.exchange, instrument=instrument, position_side=side, size=ZERO, ts_recv=recv_ns
            )
            await self.apply_position(ctx, flat)
        return listed

    # -- machinery -----------------------------------------------------------------------------------------

    async def _emit(self, ctx: Context, *events: Published) -> None:
        """Publish ``events`` in the account's publishing order (:mod:`~clobactors.actors.ordered_publisher`)."""
        await self._publisher.emit(ctx, events)
