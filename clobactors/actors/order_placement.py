"""Placing orders: client order id, local rule check, tracking, then the create request and its answer.

The order is tracked before its request leaves, so a lost answer can still be resolved by its client order
id; on the inline path its ``pending_create`` is published just after the request left, in its place in the
account's publishing order (:meth:`AccountBook.track_held`), so nothing of the exchange's about it can be
published first. :meth:`Placement.place_now` runs in the order manager's own task:
when the rate gate grants at once and a kept-alive connection is idle the request is written there (no task
switch before the wire, ``bench/run.py order-overhead``) and only the wait for its answer gets a task, so a
cancel never waits behind a slow placement. Otherwise the task sends too, through :meth:`ExchangeLink.rest`.

While a create is in flight its order is listed in :attr:`Placement.creating`; a cancel of it waits for the
create's answer (or non-answer), so it cancels what the create produced rather than racing it.
"""

from __future__ import annotations

from typing import final

import attrs
import msgspec
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, Request
from clobactors.actors.exchange import ExchangeLink, PendingRest
from clobactors.actors.order_clock import ClockKeeper
from clobactors.actors.order_outcomes import NOT_SENT, OUTCOME_UNKNOWN, Outcomes, answer, check_exchange
from clobactors.client_ids import ClientOrderIdFactory
from clobactors.errors import (
    AuthenticationFailed,
    ClobactorsError,
    ConfigError,
    ExchangeError,
    LocalProtocolError,
    TradingRuleViolation,
)
from clobactors.messages import OrderUpdate, PlaceOrder
from clobactors.model import Instrument
from clobactors.orders import TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["Placement"]


@final
@attrs.define
class Placement:
    """The create path of one order manager (see the module docstring)."""

    name: str
    link: ExchangeLink
    book: AccountBook
    outcomes: Outcomes
    clock: ClockKeeper
    #: Set by the order manager when it starts (needs the dialect's id spec).
    ids: ClientOrderIdFactory | None = attrs.field(default=None, repr=False)
    #: Client order id -> set when its create request has its answer (or non-answer).
    creating: dict[str, trio.Event] = attrs.field(factory=dict, init=False)
    _placed: int = attrs.field(default=0, init=False)
    _rejected_locally: int = attrs.field(default=0, init=False)
    _inline: int = attrs.field(default=0, init=False)

    @property
    def placed(self) -> int:
        return self._placed

    @property
    def rejected_locally(self) -> int:
        return self._rejected_locally

    @property
    def inline(self) -> int:
        """Creates written from the order manager's own task (the rest were sent by a task of their own)."""
        return self._inline

    async def place_now(self, ctx: Context, nursery: trio.Nursery, request: Request, command: PlaceOrder) -> None:
        """Check, track and (when nothing has to wait) send a placement in the caller's task; answer later.

        Nothing here waits on the exchange: writing a small request on an idle connection does not block.
        """
        try:
            order, command, instrument = await self._prepare(ctx, command)
            held = await self.book.track_held(ctx, order)
        except LocalProtocolError as exc:
            request.fail(exc)
            raise  # our bug: crash, as answer() does
        except ClobactorsError as exc:
            request.fail(exc)
            return
        self._placed += 1
        settled = self._settling(order)
        pending: PendingRest | None = None
        try:
            try:
                spec = self.link.dialect.place_order_request(
                    command, instrument, self.link.credentials, self.link.now_ms()
                )
                pending = await self.link.try_send(ctx, spec, Priority.ORDER)
            except ClobactorsError:
                pass  # nothing was sent: the task's regular path meets the same error and reports it
            finally:
                await held.release(ctx)  # pending_create, published once the request has left
        except BaseException:
            if pending is None:
                self._settled(order, settled)
                raise
            # The request left: its answer (and the slot it holds) is still owed to the task below.
            nursery.start_soon(answer, request, lambda: self._send(ctx, order, command, instrument, pending))
            raise
        if pending is not None:
            self._inline += 1
        nursery.start_soon(answer, request, lambda: self._send(ctx, order, command, instrument, pending))

    async def place(self, ctx: Context, command: PlaceOrder) -> OrderUpdate:
        """Place ``command`` entirely in the caller's task; the order's state once the exchange answered."""
        order, command, instrument = await self._prepare(ctx, command)
        await self.book.track(ctx, order)
        self._placed += 1
        self._settling(order)
        return await self._send(ctx, order, command, instrument, None)

    async def _prepare(self, ctx: Context, command: PlaceOrder) -> tuple[TrackedOrder, PlaceOrder, Instrument]:
        """Assign the client order id and check the rules locally; the caller tracks the order (pending).

        An order the rules refuse is tracked and published rejected here, and its violation raised."""
        check_exchange(self.name, self.link, command)
        rules = self.link.rules(command.instrument)
        assert self.ids is not None, "the order manager sets ids when it starts"
        client_order_id = command.client_order_id
        if client_order_id:
            self.ids.spec.check(client_order_id)
            if client_order_id in self.book.tracker:
                raise ConfigError(f"client order id {client_order_id!r} is already in use")
        else:
            client_order_id = self.ids.next_id()
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
            await self.book.track(ctx, order, publish=False, persist=False)  # never sent: not journaled
            await self.book.publish(ctx, [order.reject_locally(str(violation))])
            raise violation
        return order, command, rules.instrument

    def _settling(self, order: TrackedOrder) -> trio.Event:
        """Mark ``order``'s create as in flight: cancels of it wait for its answer."""
        settled = self.creating[order.client_order_id] = trio.Event()
        return settled

    def _settled(self, order: TrackedOrder, settled: trio.Event) -> None:
        settled.set()
        del self.creating[order.client_order_id]

    async def _send(
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
            self._settled(order, self.creating[order.client_order_id])
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
            except NOT_SENT as exc:
                await self.book.publish(ctx, [order.reject_locally(f"not sent: {exc}")])
                raise
            except OUTCOME_UNKNOWN as exc:
                await self.outcomes.outcome_unknown(ctx, order, order.submit_outcome_unknown(), exc)
                return
            except AuthenticationFailed as exc:
                if attempt == 0 and await self.clock.sync(ctx):
                    continue  # a skewed timestamp is the usual cause: the exchange refused, so resend
                await self.book.publish(ctx, [order.submit_rejected(str(exc))])
                raise
            except ExchangeError as exc:
                await self.book.publish(ctx, [order.submit_rejected(str(exc))])
                raise
            await self.book.apply(ctx, events)
            return
