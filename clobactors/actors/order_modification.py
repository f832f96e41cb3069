"""Modifying orders: :class:`~clobactors.messages.ModifyOrder` as the exchange does it, a cancel-replace or an
amendment in place (the dialect's :attr:`~clobactors.exchanges.standard.SpotDialect.modify_style`).

``new_price`` and ``new_size`` default to the order's own; ``new_size`` is the order's new *total* size,
filled part included (as an amendment and Nautilus's ``ModifyOrder`` read it). Before anything is sent the
order must be ours and live (a create in flight is waited for, as a cancel does; a pending cancel, an
``unknown`` order or another modification in flight is refused), and the result must pass the instrument's
trading rules, checked locally as a placement is.

**Cancel-replace** (Binance spot): the replacement gets a new client order id and is tracked (journaled, not
yet published) before the request leaves; the original is marked ``pending_cancel``. Then, as the answer
tells (:class:`~clobactors.exchanges.standard.ModifyOutcome`):

* ``MODIFIED``: the original ends ``cancelled`` (reason: replaced by the new id), the replacement is live;
  the ask is answered with the replacement's :class:`~clobactors.messages.OrderUpdate`;
* ``REPLACEMENT_REFUSED``: the original ends ``cancelled``, the replacement ``rejected``; the ask fails with
  the replacement's typed error;
* ``REFUSED`` (or any error answer): the replacement was never placed and is forgotten unpublished; the
  original resumes, or turns ``unknown`` and is resolved by query when the answer was "unknown order" (it
  may have filled); the ask fails with the typed error;
* no answer (timeout, dropped connection, 5xx): both ids turn ``unknown`` and are resolved by query; the ask
  is answered with the replacement's ``unknown`` snapshot.

The replacement's size is the new total less what the original filled as far as we know.

**Amendment** (Binance USD-M ``PUT /fapi/v1/order``): same client id, same exchange id, the order goes to
the back of the queue at its (new) price. Nothing is published before the request leaves. Then:

* success: the tracked order takes the answer's price and size (:meth:`AccountBook.publish_amended
  <clobactors.actors.account_book.AccountBook.publish_amended>`: one OrderUpdate, none if the stream's
  ``AMENDMENT`` report came first), the answer's report is merged, and the ask gets the order's update;
* "unknown order" (:class:`~clobactors.errors.UnknownOrder`: it filled or ended meanwhile): one query of the
  order, whose report is merged (its real end is published), then the ask fails with the error;
* no answer (timeout, dropped connection, 5xx): one query of the order, whose report is merged (its terms
  included: :mod:`clobactors.orders` takes a newer report's terms) and answered; if the query fails too, the
  ask fails with the original error and the order keeps its status: the next reconciliation's report heals
  its terms;
* any other refusal (-5027 "No need to modify the order.", filters, margin): nothing changed; the ask fails
  with the typed error.
"""

from __future__ import annotations

import logging
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_clock import ClockKeeper
from clobactors.actors.order_outcomes import LIVE_ON_EXCHANGE, NOT_SENT, OUTCOME_UNKNOWN, Outcomes
from clobactors.actors.order_queries import query_order
from clobactors.client_ids import ClientOrderIdFactory
from clobactors.errors import (
    AuthenticationFailed,
    ConfigError,
    ExchangeError,
    LocalProtocolError,
    OrderRejected,
    UnknownOrder,
)
from clobactors.exchanges.standard import ModifyAnswer, ModifyOutcome, ModifyStyle
from clobactors.messages import ModifyOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus
from clobactors.orders import TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["Modification"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.define
class Modification:
    """The modify path of one order manager (see the module docstring)."""

    name: str
    link: ExchangeLink
    book: AccountBook
    outcomes: Outcomes
    clock: ClockKeeper
    #: The placement's creates in flight (shared): a modification waits for its order's, and registers its
    #: replacement's, so a cancel or modify of the replacement waits for the answer.
    creating: dict[str, trio.Event]
    #: Set by the order manager when it starts (needs the dialect's id spec).
    ids: ClientOrderIdFactory | None = attrs.field(default=None, repr=False)
    _modifying: set[str] = attrs.field(factory=set, init=False)
    _modifies: int = attrs.field(default=0, init=False)

    @property
    def modifies(self) -> int:
        """Modify commands served."""
        return self._modifies

    async def modify(self, ctx: Context, command: ModifyOrder) -> OrderUpdate:
        """Serve one :class:`ModifyOrder` in the caller's task; the order's state once the exchange answered
        (the replacement's, for a cancel-replace)."""
        if command.exchange != self.link.name:
            raise ConfigError(f"{self.name} trades on {self.link.name}, not {command.exchange!r}")
        if command.new_price is None and command.new_size is None:
            raise ConfigError(f"ModifyOrder of {command.client_order_id!r} changes neither price nor size")
        order = self.book.tracker.get(command.client_order_id)
        if order is None:
            raise ConfigError(f"{self.name}: no order of ours with client order id {command.client_order_id!r}")
        self._modifies += 1
        settled = self.creating.get(order.client_order_id)
        if settled is not None:
            await settled.wait()  # modify what the create produced, not a request still in flight
        target = self._target(order, command)
        self._modifying.add(order.client_order_id)
        try:
            if self.link.dialect.modify_style is ModifyStyle.AMEND:
                return await self._amend(ctx, order, target)
            return await self._replace(ctx, order, target)
        finally:
            self._modifying.discard(order.client_order_id)

    def _target(self, order: TrackedOrder, command: ModifyOrder) -> PlaceOrder:
        """The order ``order`` becomes (for a cancel-replace: the replacement, under a new id), rule-checked."""
        oid, exchange = order.client_order_id, self.link.name
        if order.is_terminal:
            raise UnknownOrder(f"order {oid} is {order.status.value}: nothing to modify", exchange, client_order_id=oid)
        if order.status not in LIVE_ON_EXCHANGE or oid in self._modifying:
            why = "has a modification in flight" if oid in self._modifying else f"is {order.status.value}"
            raise OrderRejected(f"order {oid} {why}: cannot modify it now", exchange, client_order_id=oid, local=True)
        if order.price is None:
            raise OrderRejected(f"order {oid} has no price: nothing rests", exchange, client_order_id=oid, local=True)
        total = order.size if command.new_size is None else command.new_size
        price = order.price if command.new_price is None else command.new_price
        if not total > order.filled_size:
            why = f"new size {total} must exceed the {order.filled_size} already filled"
            raise OrderRejected(f"order {oid}: {why}", exchange, client_order_id=oid, local=True)
        replace = self.link.dialect.modify_style is ModifyStyle.CANCEL_REPLACE
        if replace:
            assert self.ids is not None, "the order manager sets ids when it starts"
            new_id, size = self.ids.next_id(), total - order.filled_size
        else:
            new_id, size = oid, total
        target = PlaceOrder(
            exchange=order.exchange,
            instrument=order.instrument,
            side=order.side,
            order_type=order.order_type,
            size=size,
            price=price,
            time_in_force=order.time_in_force,
            client_order_id=new_id,
            reduce_only=order.reduce_only,
            position_side=order.position_side,
        )
        self.link.rules(order.instrument).check(
            side=target.side, order_type=target.order_type, size=size, price=price, client_order_id=oid
        )  # a TradingRuleViolation (local) is the answer; nothing was tracked or published
        return target

    async def _send(self, ctx: Context, order: TrackedOrder, target: PlaceOrder) -> ModifyAnswer:
        """The modify request and its decoded answer; resent once after a clock sync when refused for auth."""
        instrument = self.link.instrument(order.instrument)
        for attempt in range(2):
            try:
                spec = self.link.dialect.modify_order_request(
                    target, order.client_order_id, instrument, self.link.credentials, self.link.now_ms()
                )
                result = await self.link.rest(ctx, spec, Priority.ORDER)
            except AuthenticationFailed:
                if attempt == 0 and await self.clock.sync(ctx):
                    continue  # a skewed timestamp is the usual cause: the exchange refused, so resend
                raise
            return self.link.dialect.decode_modify_order(result, target, order.client_order_id, ctx.wall_ns())
        raise AssertionError("unreachable")  # pragma: no cover

    # -- amendment in place --------------------------------------------------------------------------------

    async def _amend(self, ctx: Context, order: TrackedOrder, target: PlaceOrder) -> OrderUpdate:
        order.expect_amendment(target.price, target.size)
        try:
            answer = await self._send(ctx, order, target)
        except UnknownOrder:
            order.settle_amendment()
            await self._query(ctx, order)  # it filled or ended meanwhile: publish what it became
            raise
        except OUTCOME_UNKNOWN:
            if not await self._query(ctx, order):
                raise  # still unknown: the next reconciliation's report brings the terms, expected still
            order.settle_amendment()  # the exchange's report said which terms hold
            return order.to_update()
        except BaseException:
            order.settle_amendment()  # refused, or never sent
            raise
        order.settle_amendment()
        if answer.outcome is not ModifyOutcome.MODIFIED:
            raise self._error(answer)
        for event in answer.events:
            if (
                isinstance(event, OrderUpdate)
                and event.client_order_id in ("", order.client_order_id)
                and event.status in LIVE_ON_EXCHANGE
                and event.price is not None
                and event.size > order.filled_size
                and not order.is_terminal
            ):
                await self.book.publish_amended(ctx, order, event.price, event.size, event.ts_exchange)
        await self.book.apply(ctx, answer.events)  # status and fills; the terms now match
        return order.to_update()

    async def _query(self, ctx: Context, order: TrackedOrder) -> bool:
        """Ask the exchange about ``order`` once and merge its report; False when that gave no report."""
        try:
            report = await query_order(ctx, self.link, order, clock=self.clock)
        except (*OUTCOME_UNKNOWN, *NOT_SENT, ExchangeError) as exc:
            logger.warning("%s: query of %s after its amendment failed: %s", self.name, order.client_order_id, exc)
            return False
        if report is None:
            return False
        await self.book.apply(ctx, [report])
        return True

    # -- cancel-replace ------------------------------------------------------------------------------------

    async def _replace(self, ctx: Context, order: TrackedOrder, target: PlaceOrder) -> OrderUpdate:
        new = TrackedOrder.from_command(target)
        await self.book.track(ctx, new, publish=False)  # journaled: it may exist once the request left
        settled = self.creating[new.client_order_id] = trio.Event()
        try:
            await self.book.publish(ctx, [order.request_cancel()])
            return await self._replaced(ctx, order, new, target)
        finally:
            settled.set()
            del self.creating[new.client_order_id]

    async def _replaced(self, ctx: Context, order: TrackedOrder, new: TrackedOrder, target: PlaceOrder) -> OrderUpdate:
        try:
            answer = await self._send(ctx, order, target)
        except LocalProtocolError:
            await self._refused(ctx, order, new, None)
            raise
        except NOT_SENT:
            await self._refused(ctx, order, new, None)
            raise
        except OUTCOME_UNKNOWN as exc:
            await self.outcomes.outcome_unknown(ctx, order, order.cancel_outcome_unknown(), exc)
            await self.outcomes.outcome_unknown(ctx, new, new.submit_outcome_unknown(), exc)
            return new.to_update()
        except ExchangeError as exc:
            await self._refused(ctx, order, new, exc)
            raise
        if answer.outcome is ModifyOutcome.REFUSED:
            await self._refused(ctx, order, new, answer.error)
            raise self._error(answer)
        await self.book.apply(ctx, answer.events)
        if order.status is OrderStatus.PENDING_CANCEL:  # the answer carried no report of it
            await self.book.publish(ctx, [order.cancel_acknowledged()])
        if answer.outcome is ModifyOutcome.REPLACEMENT_REFUSED:
            error = self._error(answer)
            await self.book.publish(ctx, [new.submit_rejected(str(error))])
            raise error
        return new.to_update()

    async def _refused(self, ctx: Context, order: TrackedOrder, new: TrackedOrder, error: Exception | None) -> None:
        """Nothing was placed: forget the replacement unpublished; the original resumes, or turns unknown (to
        be resolved by query) when the exchange did not know it."""
        self.book.tracker.forget(new.client_order_id)
        if self.book.journal is not None:
            self.book.journal.record_done(new.client_order_id, ctx.wall_ns())
        if isinstance(error, UnknownOrder):
            await self.outcomes.outcome_unknown(ctx, order, order.cancel_unknown_order(), error)
        elif order.status is OrderStatus.PENDING_CANCEL:
            await self.book.publish(ctx, [order.cancel_rejected()])
            self.outcomes.keep_resolving(ctx, order)

    def _error(self, answer: ModifyAnswer) -> ExchangeError:
        if answer.error is not None:
            return answer.error
        return ExchangeError(f"{self.link.name}: modification {answer.outcome.value} without a reason", self.link.name)
