"""Recovering what an earlier process journaled: step 5 of :func:`~clobactors.actors.reconcile.reconcile`.

With an :class:`~clobactors.order_journal.OrderJournal`, each order an earlier process journaled and that is
still unaccounted for (not listed open, not adopted through its fills) is queried by client order id and
adopted with its reported state, published once (``cancelled``, ``expired``, ``filled`` after its fills,
which reconciliation fetched for the journaled instruments too, :func:`journaled_instruments`), and marked
done in the journal. One the exchange does not know (Binance -2013: never placed, or ended without a fill so
long ago that the exchange archived it) is published ``expired`` with nothing filled and a reason saying so,
then an :class:`~clobactors.messages.OrderOutcomeUnknown` alarm, because that end is inferred: either way it is
not live and, as far as the exchange can tell, never traded. It is then done, so it is not asked about again.
"""

from __future__ import annotations

import logging
from typing import Final

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_clock import ClockKeeper
from clobactors.actors.order_queries import query_report
from clobactors.errors import ConfigError
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import OrderUpdate
from clobactors.model import Instrument, OrderStatus
from clobactors.order_journal import JournaledOrder

__all__ = ["journaled_instruments", "resolve_journaled", "unaccounted"]

logger: Final = logging.getLogger(__name__)


def journaled_instruments(link: ExchangeLink, book: AccountBook) -> set[str]:
    """Instruments of unaccounted journaled orders that the exchange still lists (their fills are fetched)."""
    return {e.instrument for e in unaccounted(book) if _listed(link, e.instrument)}


def unaccounted(book: AccountBook) -> list[JournaledOrder]:
    """Journaled orders the book does not track: of an earlier process, and not yet listed nor adopted."""
    if book.journal is None:
        return []
    return [e for e in book.journal.open_orders() if e.client_order_id not in book.tracker]


def _listed(link: ExchangeLink, name: str) -> bool:
    try:
        link.instrument(name)
    except ConfigError:
        return False
    return True


async def resolve_journaled(ctx: Context, link: ExchangeLink, book: AccountBook, clock: ClockKeeper | None) -> int:
    """Query each unaccounted journaled order by client order id; publish its end (see the module docstring)."""
    entries = unaccounted(book)
    for entry in entries:
        report: OrderUpdate | None = None
        if _listed(link, entry.instrument):
            instrument, cid = link.instrument(entry.instrument), entry.client_order_id

            def build(instrument: Instrument = instrument, cid: str = cid) -> HttpRequestSpec:
                return link.dialect.query_order_request(instrument, cid, link.credentials, link.now_ms())

            report = await query_report(ctx, link, clock, build)
            why = "journaled by an earlier process and unknown to the exchange (never placed, or archived)"
        else:
            why = f"journaled by an earlier process on {entry.instrument}, which the exchange no longer lists"
        if report is not None:
            await book.apply_update(ctx, report, adopt_ended=True)
        if book.tracker.get(entry.client_order_id) is None:  # unknown, or a report we could not adopt
            logger.warning("%s: journaled order %s concluded expired: %s", link.name, entry.client_order_id, why)
            await book.conclude_journaled(ctx, _expired(entry, why, ctx.wall_ns()))
        # A report of a live order (placed after the open-order list was fetched) leaves it tracked and
        # journaled open, like any order of ours; a terminal one retired it, which marked it done.
    return len(entries)


def _expired(entry: JournaledOrder, reason: str, recv_ns: int) -> OrderUpdate:
    return OrderUpdate(
        exchange=entry.exchange,
        instrument=entry.instrument,
        client_order_id=entry.client_order_id,
        status=OrderStatus.EXPIRED,
        side=entry.side,
        order_type=entry.order_type,
        time_in_force=entry.time_in_force,
        price=entry.price,
        size=entry.size,
        reduce_only=entry.reduce_only,
        position_side=entry.position_side,
        reason=reason,
        ts_recv=recv_ns,
    )
