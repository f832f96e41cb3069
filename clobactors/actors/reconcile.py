"""Asking the exchange what is true: reconciliation of an account, and resolution of unknown outcomes.

Both are driven by the dialect only, through :meth:`ExchangeLink.rest` at ``QUERY`` priority, and merge what
they learn through :class:`~clobactors.actors.account_book.AccountBook`, so a report seen twice (REST here,
the user stream there) changes nothing the second time.

**Reconciliation** (on start and after every user-stream reconnect, before the stream is trusted again):

1. balances: the snapshot replaces the view (assets no longer listed drop to zero); on a perpetual venue
   (:func:`~clobactors.actors.perp.as_perp`) positions too (legs no longer listed drop to zero), then the
   funding payments since the last one fetched, published unless the stream brought them
   (:mod:`clobactors.actors.funding_recovery`);
2. open orders: each is merged; one we do not know is adopted;
3. fills of every instrument we trade, since the last fill we saw minus a margin (or a look-back window on a
   fresh start), deduplicated by trade id;
4. fills of orders we do not track (they ended while no session ran, so no open-order list names them) wait
   as orphans; each such order is queried by the exchange's id and adopted with its reported state, which
   lets its fills through, then its final status. With a journal, the fetch of step 3 resumes at the latest
   fill it recorded, and an order whose waiting fills the journal all records as published by an earlier
   process is not queried: that process published its fills and saw its end (had it not, the order is still
   journaled open, and step 5 adopts it, merging those fills without publishing them again);
5. with an :class:`~clobactors.order_journal.OrderJournal`: each order an earlier process journaled that is
   still unaccounted for is queried by client order id and its end published
   (:mod:`clobactors.actors.journal_recovery`);
6. orders we believe live that the exchange no longer lists are queried one by one to learn their terminal
   state; one the exchange no longer knows at all is concluded ``expired`` with the reason.

**Periodic light reconciliation** (:func:`light_reconcile`, every ``reconcile_interval`` seconds of the order
manager): user-stream frames lost while the connection stayed up would otherwise heal only at the next
reconnect. Balances, positions, funding payments and open orders are fetched; fills only where an order changed.

What no reconciliation can learn *without a journal*: an order of an earlier process that ended without a
fill while no session ran (cancelled, expired). No open-order list, trade list or stream names it, so only
the journal (step 5) knows to ask about it.

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
from collections.abc import Callable, Iterable, Sequence
from typing import Final, final

import attrs
import trio

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.funding_recovery import reconcile_funding
from clobactors.actors.journal_recovery import journaled_instruments, resolve_journaled
from clobactors.actors.order_clock import ClockKeeper, signed_rest
from clobactors.actors.order_queries import query_order, query_report
from clobactors.actors.perp import as_perp
from clobactors.backoff import Backoff
from clobactors.errors import (
    ActorUnavailable,
    ConfigError,
    ExchangeError,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import Instrument, OrderStatus
from clobactors.orders import InFlight, TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["ReconcileSummary", "ResolvePolicy", "light_reconcile", "query_order", "reconcile", "resolve_unknown"]

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
    #: Orders an earlier process journaled that nothing else accounted for, queried by client order id.
    journaled: int = 0
    #: Funding payments fetched that had not been published (perpetual venues).
    funding: int = 0


async def _query(
    ctx: Context, link: ExchangeLink, clock: ClockKeeper | None, build: Callable[[], HttpRequestSpec]
) -> HttpResult:
    """A signed query at QUERY priority, resent once after a clock sync if refused for its timestamp."""
    return await signed_rest(ctx, link, clock, build, Priority.QUERY)


async def resolve_unknown(
    ctx: Context,
    link: ExchangeLink,
    book: AccountBook,
    order: TrackedOrder,
    policy: ResolvePolicy,
    rng: random.Random,
    *,
    clock: ClockKeeper | None = None,
) -> None:
    """Query ``order`` until the exchange states its status (see the module docstring)."""
    not_found = 0
    attempt = 0
    while _unknown(order):
        request = order.in_flight
        try:
            update = await query_order(ctx, link, order, clock=clock)
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
    *,
    clock: ClockKeeper | None = None,
) -> ReconcileSummary:
    """Bring ``book`` in line with the exchange (see the module docstring); errors propagate to the caller.

    With a ``clock``, a query refused for its timestamp re-measures the clock offset and is sent once more.
    """
    balances, positions = await _balances_and_positions(ctx, link, book, clock)
    funding = await reconcile_funding(ctx, link, book, policy, clock=clock)
    adopted_before = book.adopted
    listed = await _open_orders(ctx, link, clock)
    seen: set[str] = set()
    for update in listed:
        order = await book.apply_update(ctx, update)
        if order is not None:
            seen.add(order.client_order_id)

    names = set(instruments) | {u.instrument for u in listed} | {o.instrument for o in book.tracker.open_orders()}
    names |= journaled_instruments(link, book)
    fills = 0
    for name in sorted(names):
        found = await _fills(ctx, link, clock, name, _fills_since(link, book, policy, name))
        fills += len(found)
        await book.apply(ctx, found)

    resolved = await _resolve_orphan_fills(ctx, link, book, clock)
    journaled = await resolve_journaled(ctx, link, book, clock)

    vanished = 0
    settled = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    for order in book.tracker.open_orders():
        if order.client_order_id in seen or order.status not in settled:
            continue
        vanished += 1
        report = await query_order(ctx, link, order, clock=clock)
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
        journaled=journaled,
        funding=funding,
    )


async def light_reconcile(
    ctx: Context,
    link: ExchangeLink,
    book: AccountBook,
    policy: ResolvePolicy,
    *,
    clock: ClockKeeper | None = None,
) -> ReconcileSummary:
    """The periodic check: heal what the user stream dropped, at a fraction of a full reconciliation's cost.

    Balances (and positions) are replaced and open orders listed, as in :func:`reconcile`; fills are fetched
    only on instruments where an order changed: listed with more filled than we know, adopted, or gone from
    the list while we held it live. Fills are merged before the listed states, so a ``Fill`` still precedes
    the update it causes. Orders that were live before the list was fetched and are missing from it are
    queried one by one. Orphan fills are left to the full reconciliation.
    """
    settled = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    balances, positions = await _balances_and_positions(ctx, link, book, clock)
    funding = await reconcile_funding(ctx, link, book, policy, clock=clock)
    live_before = {o.client_order_id for o in book.tracker.open_orders() if o.status in settled}
    adopted_before = book.adopted
    listed = await _open_orders(ctx, link, clock)
    changed: set[str] = set()
    seen: set[str] = set()
    for update in listed:
        order = book.tracker.get(update.client_order_id) if update.client_order_id else None
        if order is None and update.exchange_order_id:
            order = book.tracker.by_exchange_id(update.exchange_order_id)
        if order is None or update.filled_size > order.filled_size:
            changed.add(update.instrument)
        if order is not None:
            seen.add(order.client_order_id)
    gone = [o for o in book.tracker.open_orders() if o.client_order_id in live_before - seen]
    changed |= {o.instrument for o in gone}
    fills = 0
    for name in sorted(changed):
        found = await _fills(ctx, link, clock, name, _fills_since(link, book, policy, name))
        fills += len(found)
        await book.apply(ctx, found)
    for update in listed:
        await book.apply_update(ctx, update)
    vanished = 0
    for order in gone:
        if order.status not in settled:
            continue  # a fill or a report of the user stream ended it meanwhile, or a command of ours runs
        vanished += 1
        report = await query_order(ctx, link, order, clock=clock)
        if report is None:
            await book.conclude(ctx, order, OrderStatus.EXPIRED, "no longer listed nor known by the exchange")
        else:
            await book.apply_update(ctx, report)
    return ReconcileSummary(
        balances=balances,
        open_orders=len(listed),
        adopted=book.adopted - adopted_before,
        fills=fills,
        vanished=vanished,
        positions=positions,
        funding=funding,
    )


def _fills_since(link: ExchangeLink, book: AccountBook, policy: ResolvePolicy, name: str) -> int:
    """Where to resume fetching fills of ``name``: the last fill seen (or the look-back window) minus a margin."""
    last = book.last_fill_ms(name)
    since = link.now_ms() - int(policy.fill_lookback * 1000) if last is None else last
    return max(since - int(policy.fill_margin * 1000), 0)


async def _balances_and_positions(
    ctx: Context, link: ExchangeLink, book: AccountBook, clock: ClockKeeper | None
) -> tuple[int, int]:
    """Replace the balance view (and, on a perpetual venue, the position view); the counts listed."""
    dialect, credentials = link.dialect, link.credentials
    result = await _query(ctx, link, clock, lambda: dialect.balances_request(credentials, link.now_ms()))
    recv_ns = ctx.wall_ns()
    balances = await book.replace_balances(ctx, dialect.decode_balances(result, recv_ns), recv_ns)
    positions = 0
    perp = as_perp(dialect)
    if perp is not None:
        result = await _query(ctx, link, clock, lambda: perp.positions_request(credentials, link.now_ms()))
        recv_ns = ctx.wall_ns()
        positions = await book.replace_positions(ctx, perp.decode_positions(result, recv_ns), recv_ns)
    return balances, positions


async def _open_orders(ctx: Context, link: ExchangeLink, clock: ClockKeeper | None) -> Sequence[OrderUpdate]:
    dialect = link.dialect
    result = await _query(ctx, link, clock, lambda: dialect.open_orders_request(None, link.credentials, link.now_ms()))
    return dialect.decode_open_orders(result, ctx.wall_ns())


async def _fills(
    ctx: Context, link: ExchangeLink, clock: ClockKeeper | None, name: str, since_ms: int
) -> Sequence[Fill]:
    instrument = link.instrument(name)
    result = await _query(
        ctx, link, clock, lambda: link.dialect.fills_request(instrument, since_ms, link.credentials, link.now_ms())
    )
    return link.dialect.decode_fills(result, ctx.wall_ns())


async def _resolve_orphan_fills(
    ctx: Context, link: ExchangeLink, book: AccountBook, clock: ClockKeeper | None
) -> int:
    """Query and adopt each untracked order that orphan fills name by exchange id; returns orders adopted."""
    wanted: dict[str, str] = {}  # exchange order id -> instrument, in the order the fills came
    fresh: set[str] = set()  # exchange ids with a fill not yet published by any process
    for orphan in book.tracker.orphans:
        eid = orphan.exchange_order_id
        if isinstance(orphan, Fill) and eid and book.tracker.by_exchange_id(eid) is None:
            wanted.setdefault(eid, orphan.instrument)
            if not book.already_published(orphan):
                fresh.add(eid)
    for eid in [e for e in wanted if e not in fresh]:
        logger.debug("%s: order %s not queried: an earlier process published all its fills", link.name, eid)
        del wanted[eid]
    resolved = 0
    for eid, name in wanted.items():
        instrument = link.instrument(name)

        def build(eid: str = eid, instrument: Instrument = instrument) -> HttpRequestSpec:
            return link.dialect.query_order_request(
                instrument, "", link.credentials, link.now_ms(), exchange_order_id=eid
            )

        try:
            build()
        except LocalProtocolError as exc:  # an id this dialect cannot query by
            logger.warning("%s: fills of order %s left unattached: %s", link.name, eid, exc)
            continue
        report = await query_report(ctx, link, clock, build)
        if report is None or report.exchange_order_id != eid:
            logger.warning("%s: fills of order %s left unattached: the exchange does not know it", link.name, eid)
            continue
        if await book.apply_update(ctx, report, adopt_ended=True) is not None:
            resolved += 1
    return resolved
