"""What the order manager's paths share: error categories, answering asks, and resolving unknown outcomes.

A request the exchange may or may not have acted on (timeout, dropped connection, 5xx, an undecodable success
answer) leaves its order ``unknown``. :class:`Outcomes` publishes that (the ``unknown`` update, then an
:class:`~clobactors.messages.OrderOutcomeUnknown` alarm) and starts one background task per order that queries
the exchange until it knows (:func:`~clobactors.actors.reconcile.resolve_unknown`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, Request
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_clock import ClockKeeper
from clobactors.actors.reconcile import ResolvePolicy, resolve_unknown
from clobactors.errors import (
    ActorUnavailable,
    ClobactorsError,
    ConfigError,
    ConnectFailed,
    ExchangeUnavailable,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder, SetLeverage, SetPositionMode
from clobactors.model import OrderStatus
from clobactors.orders import Change, TrackedOrder

__all__ = ["LIVE_ON_EXCHANGE", "NOT_SENT", "OUTCOME_UNKNOWN", "Outcomes", "answer", "check_exchange"]

logger: Final = logging.getLogger(__name__)

#: The request may have reached the exchange, but no definite answer came back.
OUTCOME_UNKNOWN: Final = (TransportError, ExchangeUnavailable, RemoteProtocolError)
#: The request never left (or the limiter refused it): nothing happened on the exchange.
NOT_SENT: Final = (ConnectFailed, ActorUnavailable, ConfigError)
LIVE_ON_EXCHANGE: Final = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


async def answer(request: Request, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` and answer ``request`` with its value or typed error; our own bug also crashes the actor."""
    try:
        value = await job()
    except LocalProtocolError as exc:
        request.fail(exc)
        raise  # our bug: crash, and let the supervisor restart us (reconciling on start)
    except ClobactorsError as exc:
        request.fail(exc)
    else:
        request.reply(value)


def check_exchange(
    name: str, link: ExchangeLink, command: PlaceOrder | CancelOrder | CancelAll | SetLeverage | SetPositionMode
) -> None:
    """ConfigError when ``command`` names another exchange than the one ``name`` trades on."""
    if command.exchange != link.name:
        raise ConfigError(f"{name} trades on {link.name}, not {command.exchange!r}")


@final
@attrs.define
class Outcomes:
    """Unknown outcomes of one order manager: published once, each resolved by one background task."""

    link: ExchangeLink
    book: AccountBook
    policy: ResolvePolicy
    clock: ClockKeeper
    rng: random.Random = attrs.field(factory=random.Random, repr=False)
    #: Where resolution tasks run; ``None`` during shutdown (the next start reconciles instead).
    nursery: trio.Nursery | None = attrs.field(default=None, repr=False)
    _resolving: set[str] = attrs.field(factory=set, init=False)
    _unknown: int = attrs.field(default=0, init=False)

    @property
    def unknown(self) -> int:
        """Requests whose outcome was unknown."""
        return self._unknown

    @property
    def resolving(self) -> int:
        """Orders being queried right now."""
        return len(self._resolving)

    async def outcome_unknown(self, ctx: Context, order: TrackedOrder, change: Change, cause: Exception | str) -> None:
        """Publish ``change`` (to ``unknown``) and the alarm; start resolving ``order`` unless already."""
        self._unknown += 1
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        await self.book.outcome_unknown(ctx, order, change, reason)
        self.keep_resolving(ctx, order)

    def keep_resolving(self, ctx: Context, order: TrackedOrder) -> None:
        """Resolve an ``unknown`` order unless a task already does. Also after a refused cancel put ``order``
        back to ``unknown``: the task that was resolving it stopped when it saw it pending cancel."""
        idle = order.status is OrderStatus.UNKNOWN and order.client_order_id not in self._resolving
        if idle and self.nursery is not None:
            self._resolving.add(order.client_order_id)
            self.nursery.start_soon(self._resolve, ctx, order)

    async def _resolve(self, ctx: Context, order: TrackedOrder) -> None:
        try:
            await resolve_unknown(ctx, self.link, self.book, order, self.policy, self.rng, clock=self.clock)
        finally:
            self._resolving.discard(order.client_order_id)
