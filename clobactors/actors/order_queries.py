"""Asking the exchange about one order: the signed query, its "unknown order" answer, the decoded report.

Shared by reconciliation (:mod:`clobactors.actors.reconcile`) and the journal's recovery
(:mod:`clobactors.actors.journal_recovery`): a query at ``QUERY`` priority, resent once after a clock sync when
refused for its timestamp (:func:`~clobactors.actors.order_clock.signed_rest`).
"""

from __future__ import annotations

from collections.abc import Callable

from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_clock import ClockKeeper, signed_rest
from clobactors.errors import UnknownOrder
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import OrderUpdate
from clobactors.orders import TrackedOrder
from clobactors.ratelimit import Priority

__all__ = ["query_order", "query_report"]


async def query_order(
    ctx: Context, link: ExchangeLink, order: TrackedOrder, *, clock: ClockKeeper | None = None
) -> OrderUpdate | None:
    """The exchange's report on ``order``, or ``None`` when it answers "unknown order"."""
    instrument = link.instrument(order.instrument)
    return await query_report(
        ctx,
        link,
        clock,
        lambda: link.dialect.query_order_request(instrument, order.client_order_id, link.credentials, link.now_ms()),
    )


async def query_report(
    ctx: Context, link: ExchangeLink, clock: ClockKeeper | None, build: Callable[[], HttpRequestSpec]
) -> OrderUpdate | None:
    """Send the order query ``build`` makes (again after a clock sync if needed); ``None`` for "unknown order"."""
    try:
        result = await signed_rest(ctx, link, clock, build, Priority.QUERY)
    except UnknownOrder:
        return None
    return link.dialect.decode_query_order(result, ctx.wall_ns())
