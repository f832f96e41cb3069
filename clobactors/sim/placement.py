"""A submitted order's way in: which admission rules apply (spot or perpetual), and the order record.

:meth:`Engine.submit <clobactors.sim.engine.Engine.submit>` checks the symbol and account, then asks
:func:`admit_order` (spot rules in ``admission.py``, perpetual rules in ``perp_admission.py``; both lock what
the order needs when they accept it) and builds the accepted order with :func:`accepted_order` before the
executor runs it. Kept apart from the engine so that the engine stays a thin public face over its parts.
"""

from __future__ import annotations

from clobactors.model import PositionSide
from clobactors.sim.admission import OrderRequest, Plan, admit
from clobactors.sim.book import SimOrder
from clobactors.sim.execution import Executor
from clobactors.sim.perp import PerpState
from clobactors.sim.perp_admission import PerpPlan, admit_perp
from clobactors.sim.perp_records import PerpReject
from clobactors.sim.records import Rejection
from clobactors.sim.rules import RejectReason

__all__ = ["accepted_order", "admit_order"]


def admit_order(
    x: Executor,
    perp: PerpState | None,
    request: OrderRequest,
    *,
    reduce_only: bool,
    position_side: PositionSide | None,
) -> Plan | PerpPlan | Rejection:
    """Check ``request`` (symbol and account known) by the engine's kind of market and lock its funds."""
    symbol = request.symbol
    scale, book = x.scales[symbol], x.books[symbol]
    if perp is not None:
        return admit_perp(
            request, reduce_only=reduce_only, position_side=position_side, state=perp, scale=scale, book=book,
            registry=x.orders, stp=x.stp,
        )  # fmt: skip
    if reduce_only or position_side is not None:
        return Rejection(
            reason=RejectReason.INVALID_ORDER, message="reduce-only and position side are for perpetuals",
            perp=PerpReject.NOT_SUPPORTED,
        )  # fmt: skip
    return admit(request, scale, book, x.ledger, x.orders, x.last_price.get(symbol), x.stp)


def accepted_order(order_id: int, request: OrderRequest, admitted: Plan | PerpPlan, now_ns: int) -> SimOrder:
    """The engine's record of an admitted order; an empty client id becomes ``sim-<order id>``."""
    if isinstance(admitted, PerpPlan):
        plan, margin = admitted.plan, admitted.margin
        reduce_only, position_side = admitted.reduce_only, admitted.position_side
    else:
        plan, margin, reduce_only, position_side = admitted, None, False, None
    return SimOrder(
        order_id=order_id,
        account_id=request.account_id,
        symbol=request.symbol,
        client_order_id=request.client_order_id or f"sim-{order_id}",
        side=request.side,
        order_type=request.order_type,
        time_in_force=request.time_in_force,
        post_only=plan.post_only,
        price=plan.price,
        size=plan.size,
        quote_size=plan.quote_size,
        created_ns=now_ns,
        updated_ns=now_ns,
        lock_asset=plan.lock_asset,
        locked=plan.locked,
        reduce_only=reduce_only,
        position_side=position_side,
        margin=margin,
    )
