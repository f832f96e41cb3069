"""Whether a perpetual order is accepted, and the margin it locks: the perpetual rules in one place.

Order of checks (as Binance applies them, simplified): quote-sized orders are spot only; the position side
must fit the account's mode (one-way: ``BOTH``; hedge: ``LONG``/``SHORT``, and ``reduce_only`` is not
accepted there, as Binance answers -1106); a closing order (reduce-only, or SELL on LONG / BUY on SHORT)
needs a position to close, and is trimmed to what that position minus the account's other closing orders on
it leaves (nothing left: rejected, Binance -2022); then the spot rules of :func:`~.admission.check`
(closing orders are exempt from the minimum notional, "unless you choose reduce only"); then an opening
order must keep the position plus open orders within the leverage's maximum notional (Binance -2027); last
the margin check, which locks (see :mod:`.perp`).
"""

from __future__ import annotations

from typing import final

import attrs

from clobactors.model import PositionMode, PositionSide, Side
from clobactors.sim.admission import OrderRequest, Plan, check
from clobactors.sim.book import Book
from clobactors.sim.matching import fillable
from clobactors.sim.orders import OrderRegistry
from clobactors.sim.perp import PerpState, closes, lock_check, margin_need, position_side_of
from clobactors.sim.perp_records import PerpReject
from clobactors.sim.positions import OrderMargin
from clobactors.sim.records import Rejection
from clobactors.sim.rules import RejectReason, Scale, StpMode, fee_units

__all__ = ["PerpPlan", "admit_perp"]


@final
@attrs.frozen
class PerpPlan:
    """An accepted perpetual order: the spot plan (with its margin lock) and the position it trades."""

    plan: Plan
    reduce_only: bool
    position_side: PositionSide
    margin: OrderMargin


def _reject(perp: PerpReject, message: str, reason: RejectReason = RejectReason.INVALID_ORDER) -> Rejection:
    return Rejection(reason=reason, message=message, perp=perp)


def _leg(mode: PositionMode, side: PositionSide | None, reduce_only: bool) -> PositionSide | Rejection:
    if mode is PositionMode.ONE_WAY:
        if side not in (None, PositionSide.BOTH):
            return _reject(PerpReject.POSITION_SIDE, "position side does not match the one-way position mode")
        return PositionSide.BOTH
    if side in (None, PositionSide.BOTH):
        return _reject(PerpReject.POSITION_SIDE, "hedge mode needs position side LONG or SHORT")
    if reduce_only:
        return _reject(PerpReject.REDUCE_ONLY_IN_HEDGE, "reduce-only is not accepted in hedge mode")
    assert side is not None
    return side


def admit_perp(
    req: OrderRequest,
    *,
    reduce_only: bool,
    position_side: PositionSide | None,
    state: PerpState,
    scale: Scale,
    book: Book,
    registry: OrderRegistry,
    stp: StpMode,
) -> PerpPlan | Rejection:
    """Check ``req`` as a perpetual order (module docstring) and, if it passes, lock its margin."""
    if req.quote_size is not None:
        return _reject(PerpReject.NOT_SUPPORTED, "perpetual orders are sized in contracts, not quote")
    account = state.ledger.accounts[req.account_id]
    leg = _leg(account.mode, position_side, reduce_only)
    if isinstance(leg, Rejection):
        return leg
    hedge_close = (leg is PositionSide.LONG and req.side is Side.SELL) or (
        leg is PositionSide.SHORT and req.side is Side.BUY
    )
    closing = reduce_only or hedge_close
    room = None
    if closing:
        pos = account.positions.get((req.symbol, leg))
        lots = 0 if pos is None else pos.lots
        room = max(0, lots) if req.side is Side.SELL else max(0, -lots)
        for other in registry.open_for(req.account_id, req.symbol):
            if closes(other) and other.side is req.side and position_side_of(other) is leg:
                room -= other.remaining
        if room <= 0:
            return _reject(PerpReject.REDUCE_ONLY, "reduce-only order would not reduce a position")
    plan = check(req, scale, book, registry, state.last_price.get(req.symbol), min_notional=not closing)
    if isinstance(plan, Rejection):
        return plan
    assert plan.size is not None
    lots = plan.size if room is None else min(plan.size, room)
    leverage = state.leverage(account, req.symbol)
    mark = state.marks.get(req.symbol)
    best = book.best(req.side.opposite)
    reference = plan.price or mark or (best.price if best is not None else None)
    if not closing and reference is not None:
        pos = account.positions.get((req.symbol, leg))
        held = 0 if pos is None else (max(0, pos.lots) if req.side is Side.BUY else max(0, -pos.lots))
        pending = sum(
            o.remaining for o in registry.open_for(req.account_id, req.symbol)
            if not closes(o) and o.side is req.side and position_side_of(o) is leg
        )  # fmt: skip
        exposure = scale.quote((held + pending + lots) * reference * scale.quote_per_tick_lot)
        if exposure > state.settings.max_notional(leverage):
            return _reject(PerpReject.MAX_NOTIONAL, "exceeded the maximum allowable position at current leverage")
    buy = req.side is Side.BUY
    if plan.price is not None:
        loss = 0 if mark is None else max(0, plan.price - mark if buy else mark - plan.price)
        margin = OrderMargin(leverage, not closing, loss * scale.quote_per_tick_lot)
        need = margin_need(scale, plan.price, lots, margin)
    else:
        margin = OrderMargin(leverage, not closing, 0)
        walked_lots, walked = fillable(book, req.side, req.account_id, None, lots, None, scale.quote_per_tick_lot, stp)
        at_mark = walked if mark is None else walked_lots * mark * scale.quote_per_tick_lot
        initial = -(-walked // leverage) if margin.opens else 0
        need = initial + max(0, walked - at_mark if buy else at_mark - walked)
        need += fee_units(walked, scale.taker_fee) + 2 * lots
    asset = scale.rules.quote
    if not lock_check(state, req.account_id, asset, need):
        return Rejection(reason=RejectReason.INSUFFICIENT_BALANCE, message="margin is insufficient")
    accepted = attrs.evolve(plan, size=lots, lock_asset=asset, locked=need)
    return PerpPlan(accepted, reduce_only, leg, margin)
