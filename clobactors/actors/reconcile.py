"""Asking the exchange what is true: reconciliation of an account, and resolution of unknown outcomes.

Both are driven by the dialect only, through :meth:`ExchangeLink.rest` at ``QUERY`` priority, and merge what
they learn through :class:`~clobactors.actors.account_book.AccountBook`, so a report seen twice (REST here,
the user stream there) changes nothing the second time.

**Reconciliation** (on start and after every user-stream reconnect, before the stream is trusted again):

1. balances: the snapshot replaces the view (assets no longer listed drop to zero); on a perpetual venue
   (:func:`~clobactors.actors.perp.as_perp`) positions too (legs no longer listed drop to zero);
2. open orders: each is merged; one we do not know is adopted;
3. fills of every instrument we trade, since the last fill we saw minus a margin (or a look-back window on a
   fresh start), deduplicated by trade id;
4. fills of orders we do not track (they ended while no session ran, so no open-order list names them) wait
   as orphans; each such order is queried by the exchange's id and adopted with its reported state, which
   lets its fills through, then its final status;
5. orders we believe live that the exchange no longer lists are queried one by one to learn their terminal
   state; one the exchange no longer knows at all is concluded ``expired`` with the reason.

What no reconciliation can learn: an order of an earlier process that ended *without a fill* while no session
ran (cancelled, expired). No open-order list, trade list or stream names it, and the connector keeps no state
across processes, so nothing here knows to ask about it.

Orders whose own request is still in flight (pending create/cancel) or already being resolved (unknown) are
left to the task that owns them.

**Resolution** of an unknown outcome (timeout, dropped connection, 5xx on a create or cancel): query the order
by client order id with backoff until the exchange states its status. "Unknown order" for a create is retried
``not_found_retries`` times, since a just-accepted order may not be visible yet, and only then is the order
concluded ``rejected`` (never placed); the same holds for a cancel of an order the exchange never
acknowledged (its create's outcome was unknown too). For a cancel of an acknowledged order it means the
order is gone and is concluded ``expired``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.perp import as_perp
from clobactors.backoff import Backoff
from clobactors.errors import (
    ActorUnavailable,
    ConfigError,
    ExchangeError,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
    UnknownOrder,
)
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.orders import InFlight, TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["ReconcileSummary", "ResolvePolicy", "query_order", "reconcile", "resolve_unknown"]

logger: Final = logging.getLogger(__name__)

#: Errors after which asking again may succeed (the network, the exchange's health, our limiter restarting).
RETRYABLE: Final = (TransportError, ExchangeError, RemoteProtocolError, ActorUnavailable)


_QUERY_BACKOFF: Final = Backoff(initial=0.5, factor=2.0, max=10.0, jitter=0.0)


def _unknown(order: TrackedOrder) -> bool:
    return order.status is OrderStatus.UNKNOWN


@final
@attrs.frozen
class ResolvePolicy:
    """How hard to look for the truth about an order."""

    #: Delay between queries of an unknown order (attempt 0 is the delay after the first query).
    backoff: Backoff = _QUERY_BACKOFF
    #: "Unknown order" answers to a create of unknown outcome before concluding it was never placed.
    not_found_retries: int = 3
    #: Fill history fetched on a fresh start, when no earlier fill is known (seconds).
    fill_lookback: float = 3600.0
    #: Overlap with the last fill seen when fetching fills again (seconds): clocks and late trades.
    fill_margin: float = 60.0

    def __attrs_post_init__(self) -> None:
        if self.not_found_retries < 1:
            raise ConfigError(f"not_found_retries must be >= 1, got {self.not_found_retries}")
        if not (self.fill_lookback >= 0 and self.fill_margin >= 0):
            raise ConfigError("fill_lookback and fill_margin must be >= 0")


@final
@attrs.frozen
class ReconcileSummary:
    """What one reconciliation found (the reply to a ``Reconcile`` ask)."""

    balances: int
    open_orders: int
    adopted: int
    fills: int
    #: Live orders of ours the exchange no longer listed, queried one by one.
    vanished: int
    #: Position legs listed (perpetual venues; 0 on spot).
    positions: int = 0
    #: Untracked orders that fills named, queried by exchange id and adopted with their reported state.
    resolved: int = 0


async def query_order(ctx: Context, link: ExchangeLink, order: TrackedOrder) -> OrderUpdate | None:
    """The exchange's report on ``order``, or ``None`` when it answers "unknown order"."""
    spec = link.dialect.query_order_request(
        link.instrument(order.instrument), order.client_order_id, link.credentials, link.now_ms()
    )
    return await _ask(ctx, link, spec)


async def _ask(ctx: Context, link: ExchangeLink, spec: HttpRequestSpec) -> OrderUpdate | None:
    try:
        result = await link.rest(ctx, spec, Priority.QUERY)
    except UnknownOrder:
        return None
    return link.dialect.decode_query_order(result, ctx.wall_ns())


async def resolve_unknown(
    ctx: Context,
    link: ExchangeLink,
    book: AccountBook,
    order: TrackedOrder,
    policy: ResolvePolicy,
    rng: random.Random,
) -> None:
    """Query ``order`` until the exchange states its status (see the module docstring)."""
    not_found = 0
    attempt = 0
    while _unknown(order):
        request = order.in_flight
        try:
            update = await query_order(ctx, link, order)
        except RETRYABLE as exc:
            logger.info("%s: query of %s failed (%s); retrying", link.name, order.client_order_id, exc)
        else:
            if update is not None:
                await book.apply_update(ctx, update)
            elif request is InFlight.CREATE or not order.exchange_order_id:
                # Never acknowledged by the exchange (even if a cancel is now in flight too): not knowing
                # it means it was never placed, not that it ended.
                not_found += 1
                if not_found >= policy.not_found_retries:
                    await book.conclude(
                        ctx,
                        order,
                        OrderStatus.REJECTED,
                        f"create outcome unknown and the exchange did not know the order after "
                        f"{not_found} queries: never placed",
                    )
            else:
                await book.conclude(
                    ctx,
                    order,
                    OrderStatus.EXPIRED,
                    "cancel outcome unknown and the exchange no longer knows the order",
                )
        if not _unknown(order):
            return
        await trio.sleep(policy.backoff.delay(attempt, rng))
        attempt += 1


async def reconcile(
    ctx: Context,
    link: ExchangeLink,
    book: AccountBook,
    instruments: Iterable[str],
    policy: ResolvePolicy,
) -> ReconcileSummary:
    """Bring ``book`` in line with the exchange (see the module docstring); errors propagate to the caller."""
    dialect, credentials = link.dialect, link.credentials
    result = await link.rest(ctx, dialect.balances_request(credentials, link.now_ms()), Priority.QUERY)
    recv_ns = ctx.wall_ns()
    balances = await book.replace_balances(ctx, dialect.decode_balances(result, recv_ns), recv_ns)
    positions = 0
    perp = as_perp(dialect)
    if perp is not None:
        result = await link.rest(ctx, perp.positions_request(credentials, link.now_ms()), Priority.QUERY)
        recv_ns = ctx.wall_ns()
        positions = await book.replace_positions(ctx, perp.decode_positions(result, recv_ns), recv_ns)

    adopted_before = book.adopted
    result = await link.rest(ctx, dialect.open_orders_request(None, credentials, link.now_ms()), Priority.QUERY)
    listed = dialect.decode_open_orders(result, ctx.wall_ns())
    seen: set[str] = set()
    for update in listed:
        order = await book.apply_update(ctx, update)
        if order is not None:
            seen.add(order.client_order_id)

    names = set(instruments) | {u.instrument for u in listed} | {o.instrument for o in book.tracker.open_orders()}
    fills = 0
    for name in sorted(names):
        last = book.last_fill_ms(name)
        now_ms = link.now_ms()
        since = now_ms - int(policy.fill_lookback * 1000) if last is None else last
        since -= int(policy.fill_margin * 1000)
        spec = dialect.fills_request(link.instrument(name), max(since, 0), credentials, now_ms)
        found = dialect.decode_fills(await link.rest(ctx, spec, Priority.QUERY), ctx.wall_ns())
        fills += len(found)
        await book.apply(ctx, found)

    resolved = await _resolve_orphan_fills(ctx, link, book)

    vanished = 0
    settled = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    for order in book.tracker.open_orders():
        if order.client_order_id in seen or order.status not in settled:
            continue
        vanished += 1
        report = await query_order(ctx, link, order)
        if report is None:
            await book.conclude(
                ctx, order, OrderStatus.EXPIRED, "no longer listed nor known by the exchange at reconciliation"
            )
        else:
            await book.apply_update(ctx, report)
    return ReconcileSummary(
        balances=balances,
        open_orders=len(listed),
        adopted=book.adopted - adopted_before,
        fills=fills,
        vanished=vanished,
        positions=positions,
        resolved=resolved,
    )


async def _resolve_orphan_fills(ctx: Context, link: ExchangeLink, book: AccountBook) -> int:
    """Query and adopt each untracked order that orphan fills name by exchange id; returns orders adopted."""
    wanted: dict[str, str] = {}  # exchange order id -> instrument, in the order the fills came
    for orphan in book.tracker.orphans:
        eid = orphan.exchange_order_id
        if isinstance(orphan, Fill) and eid and book.tracker.by_exchange_id(eid) is None:
            wanted.setdefault(eid, orphan.instrument)
    resolved = 0
    for eid, name in wanted.items():
        try:
            spec = link.dialect.query_order_request(
                link.instrument(name), "", link.credentials, link.now_ms(), exchange_order_id=eid
            )
        except LocalProtocolError as exc:  # an id this dialect cannot query by
            logger.warning("%s: fills of order %s left unattached: %s", link.name, eid, exc)
            continue
        report = await _ask(ctx, link, spec)
        if report is None or report.exchange_order_id != eid:
            logger.warning("%s: fills of order %s left unattached: the exchange does not know it", link.name, eid)
            continue
        if await book.apply_update(ctx, report, adopt_ended=True) is not None:
            resolved += 1
    return resolved
