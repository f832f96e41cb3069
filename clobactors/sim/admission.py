"""Whether an incoming order is accepted, and what it locks: every rejection rule in one place.

Checks run in the order exchanges apply them: unknown symbol or account, malformed parameters, duplicate
client id, price filter, lot filter, notional filter, post-only crossing, then balance. The balance check is
last because it is the only step with an effect: it locks the funds the order needs (see ``engine.py`` for
the locking rules), so an accepted order always owns its lock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import final

import attrs

from clobactors.model import OrderType, Side, TimeInForce
from clobactors.sim.accounts import Ledger
from clobactors.sim.book import Book
from clobactors.sim.matching import fillable
from clobactors.sim.orders import OrderRegistry
from clobactors.sim.records import Rejection
from clobactors.sim.rules import RejectReason, Scale, StpMode, to_units

__all__ = ["OrderRequest", "Plan", "admit", "check"]


@final
@attrs.frozen
class OrderRequest:
    """The parameters of :meth:`Engine.submit`, as given."""

    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    size: Decimal | None
    price: Decimal | None
    quote_size: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    client_order_id: str


@final
@attrs.frozen
class Plan:
    """An accepted order in integer terms, and the funds already locked for it."""

    price: int | None
    size: int | None
    quote_size: int | None
    post_only: bool
    lock_asset: str
    locked: int


def _reject(reason: RejectReason, message: str) -> Rejection:
    return Rejection(reason=reason, message=message)


def admit(
    req: OrderRequest,
    scale: Scale,
    book: Book,
    ledger: Ledger,
    registry: OrderRegistry,
    last_price: int | None,
    stp: StpMode,
) -> Plan | Rejection:
    """Check ``req`` against the rules and, if it passes, lock its funds in ``ledger``."""
    plan = check(req, scale, book, registry, last_price)
    if isinstance(plan, Rejection):
        return plan
    asset, need = _need(req, scale, book, plan.price, plan.size, plan.quote_size, stp)
    if not ledger.try_lock(req.account_id, asset, need):
        return _reject(RejectReason.INSUFFICIENT_BALANCE, f"insufficient {asset} balance")
    return attrs.evolve(plan, lock_asset=asset, locked=need)


def check(
    req: OrderRequest,
    scale: Scale,
    book: Book,
    registry: OrderRegistry,
    last_price: int | None,
    *,
    min_notional: bool = True,
) -> Plan | Rejection:
    """Every rule but the balance check; the plan locks nothing yet (perpetuals lock margin instead)."""
    post_only = req.post_only or req.order_type is OrderType.LIMIT_MAKER
    if (problem := _shape_problem(req, post_only)) is not None:
        return _reject(RejectReason.INVALID_ORDER, problem)
    if req.client_order_id and registry.cid_open(req.account_id, req.symbol, req.client_order_id):
        return _reject(RejectReason.DUPLICATE_CLIENT_ID, f"client order id {req.client_order_id!r} is in use")
    ticks = lots = quote_units = None
    if req.price is not None and (ticks := scale.ticks(req.price)) is None:
        return _reject(RejectReason.FILTER_PRICE, f"price {req.price} is not a positive tick multiple")
    if req.size is not None:
        lots = scale.lots(req.size)
        if lots is None or lots < scale.min_lots or (scale.max_lots is not None and lots > scale.max_lots):
            return _reject(RejectReason.FILTER_LOT_SIZE, f"size {req.size} breaks the lot size rule")
    if req.quote_size is not None:
        quote_units = to_units(req.quote_size, scale.quote_decimals)
        if quote_units is None or quote_units <= 0:
            return _reject(RejectReason.INVALID_ORDER, f"quote size {req.quote_size} is not a valid amount")
    if quote_units is not None:
        notional: int | None = quote_units
    else:
        assert lots is not None
        if ticks is None:  # market order: Binance checks against its average price; the last trade stands in
            best = book.best(req.side.opposite)
            reference = last_price if last_price is not None else None if best is None else best.price
        else:
            reference = ticks
        notional = None if reference is None else scale.notional(reference, lots)
    if min_notional and notional is not None and notional < scale.min_notional_units:
        return _reject(RejectReason.FILTER_MIN_NOTIONAL, f"notional below {scale.rules.min_notional}")
    if post_only and ticks is not None and book.would_cross(req.side, ticks):
        return _reject(RejectReason.WOULD_TAKE, "post-only order would immediately match and take")
    return Plan(ticks, lots, quote_units, post_only, "", 0)


def _need(
    req: OrderRequest,
    scale: Scale,
    book: Book,
    ticks: int | None,
    lots: int | None,
    quote_units: int | None,
    stp: StpMode,
) -> tuple[str, int]:
    """The asset and units an order locks: a limit its worst case, a market order what the walk costs now."""
    buy = req.side is Side.BUY
    asset = scale.rules.quote if buy else scale.rules.base
    if ticks is not None:
        assert lots is not None
        return asset, scale.notional(ticks, lots) if buy else lots * scale.base_per_lot
    if buy and quote_units is not None:
        return asset, quote_units
    if not buy and lots is not None:
        return asset, lots * scale.base_per_lot
    walked_lots, walked_quote = fillable(
        book, req.side, req.account_id, None, lots, quote_units, scale.quote_per_tick_lot, stp
    )
    return asset, walked_quote if buy else walked_lots * scale.base_per_lot


def _shape_problem(req: OrderRequest, post_only: bool) -> str | None:
    """What makes these parameters not an order at all, or ``None``."""
    if req.order_type is OrderType.MARKET:
        if req.price is not None:
            return "market orders take no price"
        if post_only:
            return "market orders cannot be post-only"
        if (req.size is None) == (req.quote_size is None):
            return "market orders need exactly one of size and quote size"
        if req.quote_size is not None and req.time_in_force is TimeInForce.FOK:
            return "FOK market orders need a base size"
        return None
    if req.price is None or req.size is None:
        return "limit orders need a price and a size"
    if req.quote_size is not None:
        return "limit orders take no quote size"
    if post_only and req.time_in_force is not TimeInForce.GTC:
        return "post-only orders are GTC"
    return None
