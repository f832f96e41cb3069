"""Cancelling orders: one by client or exchange id, all of an instrument, all on shutdown.

Cancels go out at ``CANCEL`` priority, so the rate limiter serves them before placements and queries and keeps
its cancel reserve for them. A cancel of an order whose create is still in flight waits for that create's
answer (or non-answer) and cancels what it produced. A cancel that gets no definite answer, or an "unknown
order" answer (the order may have filled meanwhile), leaves the order ``unknown`` to be resolved by query.

Like a placement, a cancel of an order of ours is written from the order manager's own task when nothing has
to wait (:meth:`Cancellation.cancel_now`); only the wait for its answer runs in a task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, Request
from clobactors.actors.exchange import ExchangeLink, PendingRest
from clobactors.actors.order_clock import ClockKeeper, signed_rest
from clobactors.actors.order_outcomes import (
    LIVE_ON_EXCHANGE,
    NOT_SENT,
    OUTCOME_UNKNOWN,
    Outcomes,
    answer,
    check_exchange,
)
from clobactors.errors import (
    AuthenticationFailed,
    ClobactorsError,
    ConfigError,
    ExchangeError,
    RemoteProtocolError,
    UnknownOrder,
)
from clobactors.httpspec import HttpResult
from clobactors.messages import CancelAll, CancelOrder, OrderUpdate
from clobactors.model import Instrument, OrderStatus
from clobactors.orders import TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["Cancellation"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.define
class Cancellation:
    """The cancel paths of one order manager (see the module docstring)."""

    name: str
    link: ExchangeLink
    book: AccountBook
    outcomes: Outcomes
    clock: ClockKeeper
    #: The placement's creates in flight (shared, not copied): client order id -> set when answered.
    creating: dict[str, trio.Event]
    #: Instruments cancel-all covers even when no order of ours is open on them.
    instruments: Sequence[str] = ()
    _cancels: int = attrs.field(default=0, init=False)
    _inline: int = attrs.field(default=0, init=False)

    @property
    def cancels(self) -> int:
        """Cancel commands served."""
        return self._cancels

    def _find(self, command: CancelOrder) -> TrackedOrder | None:
        tracker = self.book.tracker
        if command.client_order_id:
            return tracker.get(command.client_order_id)
        if command.exchange_order_id:
            return tracker.by_exchange_id(command.exchange_order_id)
        return None

    @property
    def inline(self) -> int:
        """Cancels written from the order manager's own task (the rest were sent by a task of their own)."""
        return self._inline

    async def cancel_now(self, ctx: Context, nursery: trio.Nursery, request: Request, command: CancelOrder) -> None:
        """Serve a cancel from the caller's task; only the wait for the exchange's answer gets a task.

        When the order is ours, no create of it is in flight, the rate gate grants at once (at CANCEL
        priority, so behind no queued cancel and with the cancel reserve) and a kept-alive connection is idle,
        the request is written here, before the inbox is read again. Otherwise, as before, a task does it all.
        Nothing here waits on the exchange.
        """
        try:
            check_exchange(self.name, self.link, command)
        except ConfigError as exc:
            request.fail(exc)
            return
        order = self._find(command)
        if order is None or order.client_order_id in self.creating:
            nursery.start_soon(answer, request, lambda: self.cancel(ctx, command))
            return
        self._cancels += 1
        if order.is_terminal:
            request.reply(order.to_update())
            return
        held = await self.book.publish_held(ctx, [order.request_cancel()])  # published once the request left
        pending: PendingRest | None = None
        try:
            try:
                spec = self.link.dialect.cancel_order_request(
                    self._request(order),
                    self.link.instrument(order.instrument),
                    self.link.credentials,
                    self.link.now_ms(),
                )
                pending = await self.link.try_send(ctx, spec, Priority.CANCEL)
            except ClobactorsError:
                pass  # nothing was sent: the task's regular path meets the same error and reports it
            finally:
                await held.release(ctx)
        except BaseException:
            if pending is not None:  # the request left: its answer (and its slot) is owed to a task
                nursery.start_soon(answer, request, lambda: self._cancel_tracked(ctx, order, pending))
            raise
        if pending is not None:
            self._inline += 1
        nursery.start_soon(answer, request, lambda: self._cancel_tracked(ctx, order, pending))

    async def cancel(self, ctx: Context, command: CancelOrder) -> OrderUpdate:
        """Cancel one order in the caller's task; the order's state once the exchange answered."""
        check_exchange(self.name, self.link, command)
        self._cancels += 1
        order = self._find(command)
        if order is None:
            return await self._cancel_foreign(ctx, command)
        settled = self.creating.get(order.client_order_id)
        if settled is not None:
            await settled.wait()  # cancel what the create produced, not a request still in flight
        if order.is_terminal:
            return order.to_update()
        await self.book.publish(ctx, [order.request_cancel()])
        return await self._cancel_tracked(ctx, order, None)

    def _request(self, order: TrackedOrder) -> CancelOrder:
        return CancelOrder(
            exchange=self.link.name,
            instrument=order.instrument,
            client_order_id=order.client_order_id,
            exchange_order_id=order.exchange_order_id,
        )

    async def _cancel_tracked(self, ctx: Context, order: TrackedOrder, pending: PendingRest | None) -> OrderUpdate:
        """Send the cancel of ``order`` (marked pending cancel; unless ``pending`` already sent it) and merge
        the answer, or record why there is none."""
        command = self._request(order)
        instrument = self.link.instrument(order.instrument)
        for attempt in range(2):
            try:
                if pending is not None:
                    sent, pending = pending, None
                    result = await sent.receive()
                else:
                    spec = self.link.dialect.cancel_order_request(
                        command, instrument, self.link.credentials, self.link.now_ms()
                    )
                    result = await self.link.rest(ctx, spec, Priority.CANCEL)
                events = self.link.dialect.decode_cancel_order(result, ctx.wall_ns())
            except NOT_SENT:
                await self.book.publish(ctx, [order.cancel_rejected()])
                self.outcomes.keep_resolving(ctx, order)
                raise
            except OUTCOME_UNKNOWN as exc:
                await self.outcomes.outcome_unknown(ctx, order, order.cancel_outcome_unknown(), exc)
                return order.to_update()
            except UnknownOrder as exc:
                await self.outcomes.outcome_unknown(ctx, order, order.cancel_unknown_order(), exc)
                return order.to_update()
            except AuthenticationFailed:
                if attempt == 0 and await self.clock.sync(ctx):
                    continue
                await self.book.publish(ctx, [order.cancel_rejected()])
                self.outcomes.keep_resolving(ctx, order)
                raise
            except ExchangeError:
                await self.book.publish(ctx, [order.cancel_rejected()])
                self.outcomes.keep_resolving(ctx, order)
                raise
            await self.book.apply(ctx, events)
            if order.status is OrderStatus.PENDING_CANCEL:
                await self.book.publish(ctx, [order.cancel_acknowledged()])
            break
        return order.to_update()

    async def _cancel_foreign(self, ctx: Context, command: CancelOrder) -> OrderUpdate:
        """Cancel an order we do not track (placed elsewhere, or forgotten): the exchange decides."""
        instrument = self.link.instrument(command.instrument)
        result = await signed_rest(
            ctx,
            self.link,
            self.clock,
            lambda: self.link.dialect.cancel_order_request(
                command, instrument, self.link.credentials, self.link.now_ms()
            ),
            Priority.CANCEL,
        )
        events = self.link.dialect.decode_cancel_order(result, ctx.wall_ns())
        await self.book.apply(ctx, events)
        updates = [e for e in events if isinstance(e, OrderUpdate)]
        if not updates:
            raise RemoteProtocolError(f"{self.link.name}: cancel answer carried no order state")
        return updates[-1]

    async def cancel_all(self, ctx: Context, command: CancelAll) -> tuple[OrderUpdate, ...]:
        """Cancel every live order of ours on one instrument (or on every instrument we trade)."""
        check_exchange(self.name, self.link, command)
        if command.instrument:
            names = [command.instrument]
        else:
            names = sorted({o.instrument for o in self.book.tracker.open_orders()} | set(self.instruments))
        touched: list[TrackedOrder] = []
        for name in names:
            instrument = self.link.instrument(name)
            mine = [o for o in self.book.tracker.open_orders(name) if o.status in LIVE_ON_EXCHANGE]
            for order in mine:
                await self.book.publish(ctx, [order.request_cancel()])
            touched += mine
            try:
                result = await self._send_cancel_all(ctx, name, instrument)
                events = self.link.dialect.decode_cancel_all(result, ctx.wall_ns())
            except UnknownOrder:
                events = ()  # nothing open there, as far as the exchange knows
            except OUTCOME_UNKNOWN as exc:
                for order in mine:
                    await self.outcomes.outcome_unknown(ctx, order, order.cancel_outcome_unknown(), exc)
                continue
            except (ExchangeError, *NOT_SENT):
                for order in mine:
                    await self.book.publish(ctx, [order.cancel_rejected()])
                raise
            await self.book.apply(ctx, events)
            for order in mine:
                if order.status is OrderStatus.PENDING_CANCEL:  # not in the answer: ask about it
                    reason = "not listed in the cancel-all answer"
                    await self.outcomes.outcome_unknown(ctx, order, order.cancel_outcome_unknown(), reason)
        return tuple(o.to_update() for o in touched)

    async def _send_cancel_all(self, ctx: Context, name: str, instrument: Instrument) -> HttpResult:
        request = CancelAll(exchange=self.link.name, instrument=name)
        link = self.link
        return await signed_rest(
            ctx,
            link,
            self.clock,
            lambda: link.dialect.cancel_all_request(request, instrument, link.credentials, link.now_ms()),
            Priority.CANCEL,
        )

    async def cancel_all_on_shutdown(self, ctx: Context) -> None:
        """Cancel-all at shutdown: logged, never raised (a cancellation still propagates)."""
        try:
            cancelled = await self.cancel_all(ctx, CancelAll(exchange=self.link.name))
            logger.info("%s: cancelled %d open orders on shutdown", self.name, len(cancelled))
        except (ClobactorsError, trio.Cancelled) as exc:
            logger.error("%s: cancel-all on shutdown failed: %s", self.name, exc)
            if isinstance(exc, trio.Cancelled):
                raise
