"""The order manager: one per exchange account, the only actor that places and cancels orders.

It drives the exchange's dialect, so the same actor serves every exchange. Protocol:

==============================================  ===============================================================
message                                         answer
==============================================  ===============================================================
``ask(PlaceOrder)``                             the order's :class:`OrderUpdate` after the exchange answered
                                                (``unknown`` if it did not), or the typed error (``fail``)
``ask(CancelOrder)``                            the order's :class:`OrderUpdate` after the cancel's answer
``ask(CancelAll)``                              ``tuple[OrderUpdate, ...]`` of our orders it touched
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
* Reconciliation on start and on every ``Reconcile`` (the user stream asks after each reconnect).
* The clock offset is refreshed every ``clock_sync_interval`` and right after an authentication failure (a
  skewed timestamp is the usual cause), after which the refused request is sent once more.
* With ``cancel_all_on_shutdown`` our open orders are cancelled when the actor stops, within its shutdown
  budget, in a shielded scope.

The four perpetual asks (:mod:`clobactors.actors.perp`) are served when the dialect implements
:class:`~clobactors.exchanges.standard.PerpDialect`, and fail with ConfigError on a spot venue. There the
reconciliation fetches positions too, and the user stream's Position reports keep the position view.

Commands run concurrently (one task each), so a cancel never waits behind a slow placement. A placement is
checked, tracked and, when the rate gate grants at once and a kept-alive connection is idle, written in the
actor's own task (no task switch before the wire); only the wait for its answer runs in a task.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, final

import attrs
import msgspec
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, Request, unwrap_exception_group
from clobactors.actors.exchange import ExchangeLink, PendingRest
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
from clobactors.actors.perp import close_order, require_perp, set_leverage, set_position_mode
from clobactors.actors.reconcile import ReconcileSummary, ResolvePolicy, reconcile, resolve_unknown
from clobactors.client_ids import ClientIdSpec, ClientOrderIdFactory
from clobactors.errors import (
    ActorUnavailable,
    AuthenticationFailed,
    ClobactorsError,
    ConfigError,
    ConnectFailed,
    ExchangeError,
    ExchangeUnavailable,
    LocalProtocolError,
    RemoteProtocolError,
    TradingRuleViolation,
    TransportError,
    UnknownOrder,
)
from clobactors.messages import CancelAll, CancelOrder, OrderUpdate, PlaceOrder, SetLeverage, SetPositionMode
from clobactors.model import Instrument, OrderStatus
from clobactors.orders import Change, TrackedOrder
from clobactors.ratelimit import Priority

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

#: The request may have reached the exchange, but no definite answer came back.
_OUTCOME_UNKNOWN: Final = (TransportError, ExchangeUnavailable, RemoteProtocolError)
#: The request never left (or the limiter refused it): nothing happened on the exchange.
_NOT_SENT: Final = (ConnectFailed, ActorUnavailable, ConfigError)
_LIVE_ON_EXCHANGE: Final = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


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
    policy: ResolvePolicy = attrs.field(factory=ResolvePolicy)
    #: Seeds the client order id nonce (tests); os.urandom when absent.
    id_rng: random.Random | None = attrs.field(default=None, repr=False)
    retain_terminal: int = 1000
    _book: AccountBook = attrs.field(init=False)
    _ids: ClientOrderIdFactory | None = attrs.field(default=None, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False, repr=False)
    _resolving: set[str] = attrs.field(factory=set, init=False)
    #: Set when the create request of an order has its answer (or non-answer); cancels wait for it.
    _creating: dict[str, trio.Event] = attrs.field(factory=dict, init=False)
    _reconcile_lock: trio.Lock = attrs.field(factory=trio.Lock, init=False, repr=False)
    _clock_lock: trio.Lock = attrs.field(factory=trio.Lock, init=False, repr=False)
    _last_clock_sync: float = attrs.field(default=float("-inf"), init=False)
    _rng: random.Random = attrs.field(factory=random.Random, init=False, repr=False)
    _placed: int = attrs.field(default=0, init=False)
    _rejected_locally: int = attrs.field(default=0, init=False)
    _cancels: int = attrs.field(default=0, init=False)
    _unknown: int = attrs.field(default=0, init=False)
    _reconciliations: int = attrs.field(default=0, init=False)
    _clock_syncs: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._book = AccountBook(self.link.name, retain_terminal=self.retain_terminal)
        if not self.clock_sync_interval > 0:
            raise ConfigError(f"clock_sync_interval must be positive, got {self.clock_sync_interval!r}")

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reconcile, report ready, serve commands and reports until stopped."""
        if self.link.credentials is None:
            raise ConfigError(f"{self.name}: the order manager of {self.link.name} needs credentials")
        spec = self.link.dialect.client_order_id_spec()
        if not isinstance(spec, ClientIdSpec):
            raise ConfigError(f"{self.link.name}: client_order_id_spec() must return a ClientIdSpec")
        self._ids = ClientOrderIdFactory(spec, rng=self.id_rng)
        self._rng = ctx.system.rng_for(ctx.name)
        try:
            with unwrap_exception_group():
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    await self._reconcile(ctx, "start")
                    nursery.start_soon(self._clock_loop, ctx)
                    task_status.started()
                    async for message in ctx.inbox:
                        await self._dispatch(ctx, nursery, message)
        finally:
            self._nursery = None
            if self.cancel_all_on_shutdown:
                with ctx.shutdown_scope():
                    await self._cancel_all_on_shutdown(ctx)

    async def _dispatch(self, ctx: Context, nursery: trio.Nursery, message: object) -> None:
        match message:
            case OrderReport(events=events):
                await self._book.apply(ctx, events)
            case Request(payload=PlaceOrder() as place):
                await self._place_now(ctx, nursery, message, place)
            case Request(payload=CancelOrder() as cancel):
                nursery.start_soon(self._answer, message, lambda: self._cancel(ctx, cancel))
            case Request(payload=CancelAll() as cancel_all):
                nursery.start_soon(self._answer, message, lambda: self._cancel_all(ctx, cancel_all))
            case Request(payload=Reconcile(reason=reason)):
                nursery.start_soon(self._answer, message, lambda: self._reconcile(ctx, reason))
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
                nursery.start_soon(self._answer, message, lambda: self._set_leverage(ctx, leverage))
            case Request(payload=SetPositionMode() as mode):
                nursery.start_soon(self._answer, message, lambda: self._set_position_mode(ctx, mode))
            case Request(payload=GetPositions(instrument=instrument)):
                try:
                    require_perp(self.link, "GetPositions")
                    message.reply(self._book.positions(instrument))
                except ConfigError as exc:
                    message.fail(exc)
            case Request(payload=ClosePosition() as close):
                nursery.start_soon(self._answer, message, lambda: self._close_position(ctx, close))
            case Request():
                message.fail(ConfigError(f"{self.name} does not serve {type(message.payload).__name__}"))
            case _:
                logger.warning("%s: dropped unexpected message %s", self.name, type(message).__name__)

    async def _answer(self, request: Request, job: Callable[[], Awaitable[object]]) -> None:
        try:
            value = await job()
        except LocalProtocolError as exc:
            request.fail(exc)
            raise  # our bug: crash, and let the supervisor restart us (reconciling on start)
        except ClobactorsError as exc:
            request.fail(exc)
        else:
            request.reply(value)

    # -- placing -------------------------------------------------------------------------------------------

    def _check_exchange(
        self, command: PlaceOrder | CancelOrder | CancelAll | SetLeverage | SetPositionMode
    ) -> None:
        if command.exchange != self.link.name:
            raise ConfigError(f"{self.name} trades on {self.link.name}, not {command.exchange!r}")

    async def _place_now(self, ctx: Context, nursery: trio.Nursery, request: Request, command: PlaceOrder) -> None:
        """Check, track and (when nothing has to wait) send a placement in the actor's own task.

        A task per placement cost a task switch between the ask and the wire (bench/run.py order-overhead).
        Here the request leaves before the inbox is read again when the rate gate grants at once and a
        kept-alive connection is idle; only the wait for the answer gets a task, so a cancel never waits
        behind a slow placement. Otherwise the task sends too, through :meth:`ExchangeLink.rest`. Nothing
        here waits on the exchange: writing a small request on an idle connection does not block.
        """
        try:
            order, command, instrument = await self._prepare(ctx, command)
        except LocalProtocolError as exc:
            request.fail(exc)
            raise  # our bug: crash, as _answer does
        except ClobactorsError as exc:
            request.fail(exc)
            return
        settled = self._settling(order)
        pending: PendingRest | None = None
        try:
            spec = self.link.dialect.place_order_request(command, instrument, self.link.credentials, self.link.now_ms())
            pending = await self.link.try_send(ctx, spec, Priority.ORDER)
        except ClobactorsError:
            pass  # nothing was sent: the task's regular path meets the same error and reports it
        except BaseException:
            self._settled(order, settled)
            raise
        nursery.start_soon(self._answer, request, lambda: self._send_place(ctx, order, command, instrument, pending))

    async def _place(self, ctx: Context, command: PlaceOrder) -> OrderUpdate:
        order, command, instrument = await self._prepare(ctx, command)
        self._settling(order)
        return await self._send_place(ctx, order, command, instrument, None)

    async def _prepare(self, ctx: Context, command: PlaceOrder) -> tuple[TrackedOrder, PlaceOrder, Instrument]:
        """Assign the client order id, check the rules locally and track the order (published pending)."""
        self._check_exchange(command)
        rules = self.link.rules(command.instrument)
        assert self._ids is not None
        client_order_id = command.client_order_id
        if client_order_id:
            self._ids.spec.check(client_order_id)
            if client_order_id in self._book.tracker:
                raise ConfigError(f"client order id {client_order_id!r} is already in use")
        else:
            client_order_id = self._ids.next_id()
        command = msgspec.structs.replace(command, client_order_id=client_order_id)
        violation: TradingRuleViolation | None = None
        try:
            rules.check(
                side=command.side,
                order_type=command.order_type,
                size=command.size,
                price=command.price,
                client_order_id=client_order_id,
            )
        except TradingRuleViolation as exc:
            violation = exc
        try:
            order = TrackedOrder.from_command(command)
        except ConfigError:
            if violation is not None:
                raise violation from None  # untrackable (size <= 0): nothing to publish
            raise
        if violation is not None:
            self._rejected_locally += 1
            await self._book.track(ctx, order, publish=False)
            await self._book.publish(ctx, [order.reject_locally(str(violation))])
            raise violation
        await self._book.track(ctx, order)
        self._placed += 1
        return order, command, rules.instrument

    def _settling(self, order: TrackedOrder) -> trio.Event:
        """Mark ``order``'s create as in flight: cancels of it wait for its answer."""
        settled = self._creating[order.client_order_id] = trio.Event()
        return settled

    def _settled(self, order: TrackedOrder, settled: trio.Event) -> None:
        settled.set()
        del self._creating[order.client_order_id]

    async def _send_place(
        self,
        ctx: Context,
        order: TrackedOrder,
        command: PlaceOrder,
        instrument: Instrument,
        pending: PendingRest | None,
    ) -> OrderUpdate:
        try:
            await self._submit(ctx, order, command, instrument, pending)
        finally:
            self._settled(order, self._creating[order.client_order_id])
        return order.to_update()

    async def _submit(
        self,
        ctx: Context,
        order: TrackedOrder,
        command: PlaceOrder,
        instrument: Instrument,
        pending: PendingRest | None,
    ) -> None:
        """Send the create (unless ``pending`` already did); merge the answer, or record why there is none."""
        for attempt in range(2):
            try:
                if pending is not None:
                    sent, pending = pending, None
                    result = await sent.receive()
                else:
                    spec = self.link.dialect.place_order_request(
                        command, instrument, self.link.credentials, self.link.now_ms()
                    )
                    result = await self.link.rest(ctx, spec, Priority.ORDER)
                events = self.link.dialect.decode_place_order(result, command, ctx.wall_ns())
            except _NOT_SENT as exc:
                await self._book.publish(ctx, [order.reject_locally(f"not sent: {exc}")])
                raise
            except _OUTCOME_UNKNOWN as exc:
                await self._outcome_unknown(ctx, order, order.submit_outcome_unknown(), exc)
                return
            except AuthenticationFailed as exc:
                if attempt == 0 and await self._sync_clock(ctx):
                    continue  # a skewed timestamp is the usual cause: the exchange refused, so resend
                await self._book.publish(ctx, [order.submit_rejected(str(exc))])
                raise
            except ExchangeError as exc:
                await self._book.publish(ctx, [order.submit_rejected(str(exc))])
                raise
            await self._book.apply(ctx, events)
            return

    # -- perpetuals ----------------------------------------------------------------------------------------

    async def _set_leverage(self, ctx: Context, command: SetLeverage) -> int:
        self._check_exchange(command)
        return await set_leverage(ctx, self.link, command)

    async def _set_position_mode(self, ctx: Context, command: SetPositionMode) -> object:
        self._check_exchange(command)
        return await set_position_mode(ctx, self.link, command)

    async def _close_position(self, ctx: Context, command: ClosePosition) -> OrderUpdate:
        require_perp(self.link, "ClosePosition")
        position = self._book.position(command.instrument, command.position_side)
        order = close_order(self.link.name, position, command.instrument, command.position_side)
        return await self._place(ctx, order)

    # -- cancelling ----------------------------------------------------------------------------------------

    async def _cancel(self, ctx: Context, command: CancelOrder) -> OrderUpdate:
        self._check_exchange(command)
        self._cancels += 1
        tracker = self._book.tracker
        order = None
        if command.client_order_id:
            order = tracker.get(command.client_order_id)
        elif command.exchange_order_id:
            order = tracker.by_exchange_id(command.exchange_order_id)
        if order is None:
            return await self._cancel_foreign(ctx, command)
        settled = self._creating.get(order.client_order_id)
        if settled is not None:
            await settled.wait()  # cancel what the create produced, not a request still in flight
        if order.is_terminal:
            return order.to_update()
        await self._book.publish(ctx, [order.request_cancel()])
        command = CancelOrder(
            exchange=self.link.name,
            instrument=order.instrument,
            client_order_id=order.client_order_id,
            exchange_order_id=order.exchange_order_id,
        )
        instrument = self.link.instrument(order.instrument)
        for attempt in range(2):
            spec = self.link.dialect.cancel_order_request(
                command, instrument, self.link.credentials, self.link.now_ms()
            )
            try:
                result = await self.link.rest(ctx, spec, Priority.CANCEL)
                events = self.link.dialect.decode_cancel_order(result, ctx.wall_ns())
            except _NOT_SENT:
                await self._book.publish(ctx, [order.cancel_rejected()])
                raise
            except _OUTCOME_UNKNOWN as exc:
                await self._outcome_unknown(ctx, order, order.cancel_outcome_unknown(), exc)
                return order.to_update()
            except UnknownOrder as exc:
                await self._outcome_unknown(ctx, order, order.cancel_unknown_order(), exc)
                return order.to_update()
            except AuthenticationFailed:
                if attempt == 0 and await self._sync_clock(ctx):
                    continue
                await self._book.publish(ctx, [order.cancel_rejected()])
                raise
            except ExchangeError:
                await self._book.publish(ctx, [order.cancel_rejected()])
                raise
            await self._book.apply(ctx, events)
            if order.status is OrderStatus.PENDING_CANCEL:
                await self._book.publish(ctx, [order.cancel_acknowledged()])
            break
        return order.to_update()

    async def _cancel_foreign(self, ctx: Context, command: CancelOrder) -> OrderUpdate:
        """Cancel an order we do not track (placed elsewhere, or forgotten): the exchange decides."""
        instrument = self.link.instrument(command.instrument)
        spec = self.link.dialect.cancel_order_request(command, instrument, self.link.credentials, self.link.now_ms())
        result = await self.link.rest(ctx, spec, Priority.CANCEL)
        events = self.link.dialect.decode_cancel_order(result, ctx.wall_ns())
        await self._book.apply(ctx, events)
        updates = [e for e in events if isinstance(e, OrderUpdate)]
        if not updates:
            raise RemoteProtocolError(f"{self.link.name}: cancel answer carried no order state")
        return updates[-1]

    async def _cancel_all(self, ctx: Context, command: CancelAll) -> tuple[OrderUpdate, ...]:
        self._check_exchange(command)
        if command.instrument:
            names = [command.instrument]
        else:
            names = sorted({o.instrument for o in self._book.tracker.open_orders()} | set(self.instruments))
        touched: list[TrackedOrder] = []
        for name in names:
            instrument = self.link.instrument(name)
            mine = [o for o in self._book.tracker.open_orders(name) if o.status in _LIVE_ON_EXCHANGE]
            for order in mine:
                await self._book.publish(ctx, [order.request_cancel()])
            touched += mine
            spec = self.link.dialect.cancel_all_request(
                CancelAll(exchange=self.link.name, instrument=name),
                instrument,
                self.link.credentials,
                self.link.now_ms(),
            )
            try:
                result = await self.link.rest(ctx, spec, Priority.CANCEL)
                events = self.link.dialect.decode_cancel_all(result, ctx.wall_ns())
            except UnknownOrder:
                events = ()  # nothing open there, as far as the exchange knows
            except _OUTCOME_UNKNOWN as exc:
                for order in mine:
                    await self._outcome_unknown(ctx, order, order.cancel_outcome_unknown(), exc)
                continue
            except (ExchangeError, *_NOT_SENT):
                for order in mine:
                    await self._book.publish(ctx, [order.cancel_rejected()])
                raise
            await self._book.apply(ctx, events)
            for order in mine:
                if order.status is OrderStatus.PENDING_CANCEL:  # not in the answer: ask about it
                    reason = "not listed in the cancel-all answer"
                    await self._outcome_unknown(ctx, order, order.cancel_outcome_unknown(), reason)
        return tuple(o.to_update() for o in touched)

    async def _cancel_all_on_shutdown(self, ctx: Context) -> None:
        try:
            cancelled = await self._cancel_all(ctx, CancelAll(exchange=self.link.name))
            logger.info("%s: cancelled %d open orders on shutdown", self.name, len(cancelled))
        except (ClobactorsError, trio.Cancelled) as exc:
            logger.error("%s: cancel-all on shutdown failed: %s", self.name, exc)
            if isinstance(exc, trio.Cancelled):
                raise

    # -- unknown outcomes, reconciliation, clock -----------------------------------------------------------

    async def _outcome_unknown(self, ctx: Context, order: TrackedOrder, change: Change, cause: Exception | str) -> None:
        self._unknown += 1
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        await self._book.outcome_unknown(ctx, order, change, reason)
        # During shutdown (no nursery) nobody is left to resolve it; the next start reconciles.
        resolvable = order.status is OrderStatus.UNKNOWN and order.client_order_id not in self._resolving
        if resolvable and self._nursery is not None:
            self._resolving.add(order.client_order_id)
            self._nursery.start_soon(self._resolve, ctx, order)

    async def _resolve(self, ctx: Context, order: TrackedOrder) -> None:
        try:
            await resolve_unknown(ctx, self.link, self._book, order, self.policy, self._rng)
        finally:
            self._resolving.discard(order.client_order_id)

    async def _reconcile(self, ctx: Context, reason: str) -> ReconcileSummary:
        async with self._reconcile_lock:
            summary = await reconcile(ctx, self.link, self._book, self.instruments, self.policy)
        self._reconciliations += 1
        logger.info("%s: reconciled (%s): %s", self.name, reason or "requested", summary)
        return summary

    async def _clock_loop(self, ctx: Context) -> None:
        while True:
            await trio.sleep(self.clock_sync_interval)
            await self._sync_clock(ctx, min_age=0.0)

    async def _sync_clock(self, ctx: Context, *, min_age: float = 1.0) -> bool:
        """Refresh the clock offset unless it was refreshed less than ``min_age`` seconds ago."""
        async with self._clock_lock:
            if trio.current_time() - self._last_clock_sync < min_age:
                return True
            try:
                await self.link.sync_clock(ctx)
            except (TransportError, ExchangeError, RemoteProtocolError, ActorUnavailable) as exc:
                logger.warning("%s: clock sync failed: %s", self.name, exc)
                return False
            self._last_clock_sync = trio.current_time()
            self._clock_syncs += 1
            return True

    def statistics(self) -> OrderManagerStatistics:
        return OrderManagerStatistics(
            orders=self._book.tracker.statistics(),
            placed=self._placed,
            rejected_locally=self._rejected_locally,
            cancels=self._cancels,
            outcome_unknown=self._unknown,
            resolving=len(self._resolving),
            reconciliations=self._reconciliations,
            adopted=self._book.adopted,
            clock_syncs=self._clock_syncs,
            balances=len(self._book.balances()),
            published=self._book.published,
        )
