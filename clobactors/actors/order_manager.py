"""The order manager: one per exchange account, the only actor that places and cancels orders.

It drives the exchange's dialect, so the same actor serves every exchange. Protocol:

==============================================  ===============================================================
message                                         answer
==============================================  ===============================================================
``ask(PlaceOrder)``                             the order's :class:`OrderUpdate` after the exchange answered
                                                (``unknown`` if it did not), or the typed error (``fail``)
``ask(CancelOrder)``                            the order's :class:`OrderUpdate` after the cancel's answer
``ask(CancelAll)``                              ``tuple[OrderUpdate, ...]`` of our orders it touched
``ask(ModifyOrder)``                            the modified order's :class:`OrderUpdate` (a cancel-replace's:
                                                the replacement's), or the typed error
``ask(Reconcile)``                              a :class:`~clobactors.actors.reconcile.ReconcileSummary`
``ask(GetBalances)``                            ``Mapping[str, Balance]`` (read-only copy) by asset
``ask(GetOpenOrders)``                          ``tuple[OrderUpdate, ...]`` of non-terminal orders
``ask(GetRules)``                               the instrument's :class:`~clobactors.rules.InstrumentRules`
``ask(SetLeverage)``                            the leverage (``int``) once set (margin type first, if given)
``ask(SetPositionMode)``                        the :class:`~clobactors.model.PositionMode` now in force
``ask(GetPositions)``                           ``tuple[Position, ...]`` of non-zero position legs
``ask(ClosePosition)``                          the :class:`OrderUpdate` of the reduce-only MARKET order
``tell(OrderReport)``                           (none) account events from the user stream, merged in order
==============================================  ===============================================================

Guarantees, per the design's order rules:

* Client order ids are ours (:class:`~clobactors.client_ids.ClientOrderIdFactory` with the dialect's spec) and
  the order is tracked *before* its request leaves, so a lost answer can still be resolved by that id.
* Trading rules are checked locally: a bad price or size fails with
  :class:`~clobactors.errors.TradingRuleViolation` (``local=True``) and its ``rejected`` update is published.
* Requests pass the rate limiter: cancels at ``CANCEL`` priority, placements at ``ORDER``, queries at ``QUERY``.
* A timeout, a dropped connection, a 5xx or an undecodable success answer makes the outcome *unknown*: the
  ``unknown`` update and an :class:`~clobactors.messages.OrderOutcomeUnknown` are published, the ask is
  answered with the ``unknown`` snapshot, and a background task queries the exchange until it knows
  (:func:`~clobactors.actors.reconcile.resolve_unknown`). Strategies follow the outcome on the bus.
* Every answer and stream report is merged idempotently (:class:`~clobactors.actors.account_book.AccountBook`);
  canonical events are published only when something changed.
* Reconciliation on start and on every ``Reconcile`` (the user stream asks after each reconnect), and a light
  one (balances, open orders, fills where an order changed) every ``reconcile_interval`` seconds, which heals
  stream frames lost while the connection stayed up. Each publishes only what changed.
* The clock offset is refreshed every ``clock_sync_interval`` and right after an authentication failure (a
  skewed timestamp is the usual cause), after which the refused request is sent once more: placements,
  cancels and every query of a reconciliation or a resolution alike.
* With a ``journal`` (:class:`~clobactors.order_journal.OrderJournal`), every order tracked live is journaled
  before its request leaves and marked done once terminal; the start reconciliation queries each order an
  earlier process journaled that nothing else accounts for, so a restart learns what became of every order
  it placed, also one cancelled without a fill while no process ran. Without one, such an order stays unknown.
  The journal also records the fills published, so a restart does not publish them again
  (:mod:`~clobactors.actors.account_book`).
* With ``cancel_all_on_shutdown`` our open orders are cancelled when the actor stops, within its shutdown
  budget, in a shielded scope.

The four perpetual asks (:mod:`clobactors.actors.perp`) are served when the dialect implements
:class:`~clobactors.exchanges.standard.PerpDialect`, and fail with ConfigError on a spot venue. There the
reconciliation fetches positions too, and the user stream's Position reports keep the position view.

Commands run concurrently (one task each), so a cancel never waits behind a slow placement. A placement, and a
cancel of an order of ours whose create is not in flight, is checked, tracked and, when the rate gate grants
at once and a kept-alive connection is idle, written in the actor's own task (no task switch before the
wire); only the wait for its answer runs in a task.

This module routes; the jobs live apart: :mod:`~clobactors.actors.order_placement` (creates),
:mod:`~clobactors.actors.order_cancellation` (cancels), :mod:`~clobactors.actors.order_modification`
(modifies), :mod:`~clobactors.actors.order_outcomes` (unknown
outcomes), :mod:`~clobactors.actors.order_clock` (clock offset), :mod:`~clobactors.actors.reconcile`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, Request, unwrap_exception_group
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_cancellation import Cancellation
from clobactors.actors.order_clock import ClockKeeper
from clobactors.actors.order_messages import (
    ClosePosition,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    GetRules,
    OrderManagerStatistics,
    OrderReport,
    Reconcile,
)
from clobactors.actors.order_modification import Modification
from clobactors.actors.order_outcomes import Outcomes, answer, check_exchange
from clobactors.actors.order_placement import Placement
from clobactors.actors.perp import close_order, require_perp, set_leverage, set_position_mode
from clobactors.actors.reconcile import ReconcileSummary, ResolvePolicy, light_reconcile, reconcile
from clobactors.client_ids import ClientIdSpec, ClientOrderIdFactory
from clobactors.errors import ClobactorsError, ConfigError, LocalProtocolError
from clobactors.messages import (
    CancelAll,
    CancelOrder,
    ModifyOrder,
    OrderUpdate,
    PlaceOrder,
    SetLeverage,
    SetPositionMode,
)
from clobactors.order_journal import OrderJournal

__all__ = [
    "ClosePosition",
    "GetBalances",
    "GetOpenOrders",
    "GetPositions",
    "GetRules",
    "OrderManager",
    "OrderManagerStatistics",
    "OrderReport",
    "Reconcile",
    "ReconcileSummary",
    "ResolvePolicy",
]

logger: Final = logging.getLogger(__name__)


@final
@attrs.define
class OrderManager:
    """Places, cancels and tracks one account's orders on one exchange (see the module docstring).

    ``instruments`` are reconciled (fills) even when no order of ours is open on them.
    """

    name: str
    link: ExchangeLink
    instruments: Sequence[str] = ()
    cancel_all_on_shutdown: bool = False
    clock_sync_interval: float = 600.0
    #: Seconds between light reconciliations (trio clock); ``None``: only on start and when asked.
    reconcile_interval: float | None = 60.0
    policy: ResolvePolicy = attrs.field(factory=ResolvePolicy)
    #: Seeds the client order id nonce (tests); os.urandom when absent.
    id_rng: random.Random | None = attrs.field(default=None, repr=False)
    retain_terminal: int = 1000
    #: Journal of live orders for the next process (see the module docstring); the caller opens and closes
    #: it, so it outlives restarts of this actor. ``None``: nothing is kept across processes.
    journal: OrderJournal | None = attrs.field(default=None, repr=False)
    _book: AccountBook = attrs.field(init=False)
    _clock: ClockKeeper = attrs.field(init=False)
    _outcomes: Outcomes = attrs.field(init=False)
    _placement: Placement = attrs.field(init=False)
    _cancellation: Cancellation = attrs.field(init=False)
    _modification: Modification = attrs.field(init=False)
    _reconcile_lock: trio.Lock = attrs.field(factory=trio.Lock, init=False, repr=False)
    _reconciliations: int = attrs.field(default=0, init=False)
    _periodic: int = attrs.field(default=0, init=False)
    _periodic_failures: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if not self.clock_sync_interval > 0:
            raise ConfigError(f"clock_sync_interval must be positive, got {self.clock_sync_interval!r}")
        if self.reconcile_interval is not None and not self.reconcile_interval > 0:
            raise ConfigError(f"reconcile_interval must be positive, got {self.reconcile_interval!r}")
        if self.journal is not None and self.journal.exchange != self.link.name:
            raise ConfigError(f"{self.name}: order journal of {self.journal.exchange!r}, not of {self.link.name!r}")
        if self.journal is not None:  # every fill the start reconciliation fetches again must still be known
            self.journal.keep_fills_for(self.policy.fill_margin)
        self._book = book = AccountBook(self.link.name, retain_terminal=self.retain_terminal, journal=self.journal)
        self._clock = clock = ClockKeeper(self.link, self.name)
        self._outcomes = outcomes = Outcomes(self.link, book, self.policy, clock)
        self._placement = Placement(self.name, self.link, book, outcomes, clock)
        self._cancellation = Cancellation(
            self.name, self.link, book, outcomes, clock, self._placement.creating, self.instruments
        )
        self._modification = Modification(self.name, self.link, book, outcomes, clock, self._placement.creating)

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reconcile, report ready, serve commands and reports until stopped."""
        if self.link.credentials is None:
            raise ConfigError(f"{self.name}: the order manager of {self.link.name} needs credentials")
        spec = self.link.dialect.client_order_id_spec()
        if not isinstance(spec, ClientIdSpec):
            raise ConfigError(f"{self.link.name}: client_order_id_spec() must return a ClientIdSpec")
        self._placement.ids = self._modification.ids = ClientOrderIdFactory(spec, rng=self.id_rng)
        self._outcomes.rng = ctx.system.rng_for(ctx.name)
        try:
            with unwrap_exception_group():
                async with trio.open_nursery() as nursery:
                    self._outcomes.nursery = nursery
                    await self._reconcile(ctx, "start")
                    nursery.start_soon(self._clock.run, ctx, self.clock_sync_interval)
                    if self.reconcile_interval is not None:
                        nursery.start_soon(self._reconcile_loop, ctx, self.reconcile_interval)
                    task_status.started()
                    async for message in ctx.inbox:
                        await self._dispatch(ctx, nursery, message)
        finally:
            self._outcomes.nursery = None  # nobody is left to resolve; the next start reconciles
            if self.cancel_all_on_shutdown:
                with ctx.shutdown_scope():
                    await self._cancellation.cancel_all_on_shutdown(ctx)

    async def _dispatch(self, ctx: Context, nursery: trio.Nursery, message: object) -> None:
        match message:
            case OrderReport(events=events):
                await self._book.apply(ctx, events)
            case Request(payload=PlaceOrder() as place):
                await self._placement.place_now(ctx, nursery, message, place)
            case Request(payload=CancelOrder() as cancel):
                await self._cancellation.cancel_now(ctx, nursery, message, cancel)
            case Request(payload=CancelAll() as cancel_all):
                nursery.start_soon(answer, message, lambda: self._cancellation.cancel_all(ctx, cancel_all))
            case Request(payload=ModifyOrder() as modify):
                nursery.start_soon(answer, message, lambda: self._modification.modify(ctx, modify))
            case Request(payload=Reconcile(reason=reason)):
                nursery.start_soon(answer, message, lambda: self._reconcile(ctx, reason))
            case Request(payload=GetBalances()):
                message.reply(self._book.balances())
            case Request(payload=GetOpenOrders(instrument=instrument)):
                message.reply(self._book.open_orders(instrument))
            case Request(payload=GetRules(instrument=instrument)):
                try:
                    message.reply(self.link.rules(instrument))
                except ConfigError as exc:
                    message.fail(exc)
            case Request(payload=SetLeverage() as leverage):
                nursery.start_soon(answer, message, lambda: self._set_leverage(ctx, leverage))
            case Request(payload=SetPositionMode() as mode):
                nursery.start_soon(answer, message, lambda: self._set_position_mode(ctx, mode))
            case Request(payload=GetPositions(instrument=instrument)):
                try:
                    require_perp(self.link, "GetPositions")
                    message.reply(self._book.positions(instrument))
                except ConfigError as exc:
                    message.fail(exc)
            case Request(payload=ClosePosition() as close):
                nursery.start_soon(answer, message, lambda: self._close_position(ctx, close))
            case Request():
                message.fail(ConfigError(f"{self.name} does not serve {type(message.payload).__name__}"))
            case _:
                logger.warning("%s: dropped unexpected message %s", self.name, type(message).__name__)

    # -- perpetuals ----------------------------------------------------------------------------------------

    async def _set_leverage(self, ctx: Context, command: SetLeverage) -> int:
        check_exchange(self.name, self.link, command)
        return await set_leverage(ctx, self.link, command)

    async def _set_position_mode(self, ctx: Context, command: SetPositionMode) -> object:
        check_exchange(self.name, self.link, command)
        return await set_position_mode(ctx, self.link, command)

    async def _close_position(self, ctx: Context, command: ClosePosition) -> OrderUpdate:
        require_perp(self.link, "ClosePosition")
        position = self._book.position(command.instrument, command.position_side)
        order = close_order(self.link.name, position, command.instrument, command.position_side)
        return await self._placement.place(ctx, order)

    # -- reconciliation ------------------------------------------------------------------------------------

    async def _reconcile(self, ctx: Context, reason: str) -> ReconcileSummary:
        async with self._reconcile_lock:
            summary = await reconcile(ctx, self.link, self._book, self.instruments, self.policy, clock=self._clock)
        self._reconciliations += 1
        logger.info("%s: reconciled (%s): %s", self.name, reason or "requested", summary)
        return summary

    async def _reconcile_loop(self, ctx: Context, interval: float) -> None:
        """A light reconciliation every ``interval`` seconds (drift-free); a failed one waits for the next."""
        deadline = trio.current_time()
        while True:
            deadline = max(deadline + interval, trio.current_time())
            await trio.sleep_until(deadline)
            async with self._reconcile_lock:
                try:
                    summary = await light_reconcile(ctx, self.link, self._book, self.policy, clock=self._clock)
                except LocalProtocolError:
                    raise  # our bug: crash, and let the supervisor restart us
                except ClobactorsError as exc:
                    self._periodic_failures += 1
                    logger.warning("%s: periodic reconcile failed: %s", self.name, exc)
                    continue
            self._periodic += 1
            logger.debug("%s: periodic reconcile: %s", self.name, summary)

    def statistics(self) -> OrderManagerStatistics:
        return OrderManagerStatistics(
            orders=self._book.tracker.statistics(),
            placed=self._placement.placed,
            rejected_locally=self._placement.rejected_locally,
            cancels=self._cancellation.cancels,
            modifies=self._modification.modifies,
            outcome_unknown=self._outcomes.unknown,
            resolving=self._outcomes.resolving,
            reconciliations=self._reconciliations,
            adopted=self._book.adopted,
            clock_syncs=self._clock.syncs,
            balances=len(self._book.balances()),
            published=self._book.published,
            placed_inline=self._placement.inline,
            cancels_inline=self._cancellation.inline,
            periodic_reconciliations=self._periodic,
            periodic_reconcile_failures=self._periodic_failures,
            fills_deduplicated=self._book.fills_deduplicated,
            journal=None if self.journal is None else self.journal.statistics(),
            funding=self._book.funding.statistics(),
        )
