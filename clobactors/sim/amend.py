"""Amending a resting order in place, as Binance USD-M's Modify Order does (``PUT /fapi/v1/order``).

Source: USDⓈ-M Futures § Trade › Modify Order (TRADE) (REST ``PUT /fapi/v1/order``; the WebSocket API's
``order.modify`` states the same rules). What it says, in short, and how the engine follows it:

* only LIMIT orders can be modified: another resting type is refused (``PerpReject.LIMIT_ONLY``, Binance
  -5025); a modified order is re-queued: it keeps its ids and goes to the back of the queue at its new price;
* a new quantity or price that fails PRICE_FILTER, PERCENT_PRICE or LOT_SIZE is rejected and the order
  stays as it is: price and lot filters here (PERCENT_PRICE is checked by the face, which knows the mark
  multipliers); terms equal to the order's are refused (``PerpReject.NO_CHANGE``, -5027);
* the amendment cancels the order when it was partially filled and the new quantity is at most its
  executedQty, and when it is GTX and the new price would execute immediately (a CANCELLED order event; the
  answer's status says so);
* one order can be modified at most 10000 times: :data:`MAX_AMENDMENTS`, then ``PerpReject.MODIFY_LIMIT``
  (-5026).

Otherwise the amended order meets the book again through the executor's taker path, the one a new order's
taker part takes: a new price that crosses trades at once (the same fills, settlement, margin, positions,
self-trade prevention and order events: public trade and maker update per fill, then the order's TRADE
events), and what remains rests at the new price. The documentation lists no further rule, so an amendment
may not do what the same order placed anew may not (each refusal changes nothing and emits nothing):

* the minimum notional on the new terms (-5029 "Order's notional must be no smaller than ..." at the face);
  closing orders are exempt, as new ones are;
* perpetual closing orders (reduce-only, or the side that closes a hedge leg) may not rest for more than the
  position leaves after the account's other closing orders on it: ``PerpReject.REDUCE_ONLY`` (-2022). A new
  order would be trimmed to that room instead; an amendment names an exact total size, so it is refused
  rather than changed into terms the caller did not ask for;
* an opening order whose new notional is larger must keep the position plus open orders within the
  leverage's maximum notional: ``PerpReject.MAX_NOTIONAL`` (-2027);
* the lock (margin on perpetuals) follows the new remainder at the new price like a new order's, so a
  crossing amendment holds its worst case while it trades; ``INSUFFICIENT_BALANCE`` when free funds do not
  cover an increase.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, TypeAlias, final

import attrs
import msgspec

from clobactors.model import OrderType, Side
from clobactors.sim.book import SimOrder
from clobactors.sim.execution import Executor
from clobactors.sim.perp import PerpState, closes, lock_check, margin_need, position_side_of
from clobactors.sim.perp_records import PerpReject
from clobactors.sim.positions import OrderMargin
from clobactors.sim.records import Execution, OrderInfo, Rejection
from clobactors.sim.rules import RejectReason, Scale

__all__ = ["MAX_AMENDMENTS", "AmendAccepted", "AmendResult", "Amender"]

#: Modifications allowed per order (§ Modify Order: "at most 10000 times").
MAX_AMENDMENTS: Final = 10_000


@final
class AmendAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An amendment carried out.

    ``amended`` is the order with its new terms before it met the book (what Binance's ``AMENDMENT`` report
    shows), ``None`` when the amendment cancelled the order; ``order`` is its state after the call (the
    Modify Order answer) and ``executions`` the fills it took as a taker on the way.
    """

    amended: OrderInfo | None
    order: OrderInfo
    executions: tuple[Execution, ...]


AmendResult: TypeAlias = AmendAccepted | Rejection


def _reject(reason: RejectReason, message: str, perp: PerpReject | None = None) -> Rejection:
    return Rejection(reason=reason, message=message, perp=perp)


@final
@attrs.define
class Amender:
    """Carries out amendments on the executor's state (module docstring) and counts them per order."""

    _x: Executor
    _perp: PerpState | None
    _limit: int = MAX_AMENDMENTS
    #: Modifications per open order; entries of closed orders are pruned as the table grows.
    _counts: dict[int, int] = attrs.field(factory=dict)
    _amended: int = 0

    @property
    def amended(self) -> int:
        """Amendments carried out (cancelling ones included)."""
        return self._amended

    def amend(self, order: SimOrder, price: Decimal, size: Decimal, now_ns: int) -> AmendResult:
        """Amend the open ``order`` to limit ``price`` and total ``size`` (filled part included)."""
        x = self._x
        if order.order_type is not OrderType.LIMIT or order.price is None or order.size is None:
            return _reject(RejectReason.INVALID_ORDER, "only limit orders can be modified", PerpReject.LIMIT_ONLY)
        count = self._counts.get(order.order_id, 0)
        if count >= self._limit:
            why = "exceeded the maximum modify order limit"
            return _reject(RejectReason.INVALID_ORDER, why, PerpReject.MODIFY_LIMIT)
        scale, book = x.scales[order.symbol], x.books[order.symbol]
        ticks, lots = scale.ticks(price), scale.lots(size)
        if ticks is None:
            return _reject(RejectReason.FILTER_PRICE, f"price {price} is not a positive tick multiple")
        if lots is None or lots < scale.min_lots or (scale.max_lots is not None and lots > scale.max_lots):
            return _reject(RejectReason.FILTER_LOT_SIZE, f"size {size} breaks the lot size rule")
        if (ticks, lots) == (order.price, order.size):
            return _reject(RejectReason.INVALID_ORDER, "no need to modify the order", PerpReject.NO_CHANGE)
        if lots <= order.filled or (order.post_only and book.would_cross(order.side, ticks)):
            x.cancel(order, now_ns)
            x.flush(now_ns)
            self._amended += 1
            self._counts.pop(order.order_id, None)
            return AmendAccepted(amended=None, order=x.info(order), executions=())
        remaining = lots - order.filled
        if (refused := self._position_rules(order, scale, ticks, lots)) is not None:
            return refused
        locked = self._lock(order, scale, ticks, remaining)
        if isinstance(locked, Rejection):
            return locked
        need, margin = locked
        if need < order.locked:
            x.settlement.release(order, order.locked - need)
        book.remove(order)
        order.price, order.size, order.locked, order.margin, order.updated_ns = ticks, lots, need, margin, now_ns
        amended = x.info(order)
        # The taker path of Executor.execute without its NEW and FOK check: trade what crosses, then rest or
        # close (execution.py names it privately; amendments are its one other caller).
        executions = x.match(order, now_ns)
        x.flush(now_ns)
        self._amended += 1
        self._count(order, count + 1)
        return AmendAccepted(amended=amended, order=x.info(order), executions=tuple(executions))

    # -- rules ---------------------------------------------------------------------------------------------

    def _position_rules(self, order: SimOrder, scale: Scale, ticks: int, lots: int) -> Rejection | None:
        """Minimum notional, then (perpetuals) reduce-only room and maximum notional; see the module docstring."""
        perp = self._perp
        closing = perp is not None and closes(order)
        if not closing and scale.notional(ticks, lots) < scale.min_notional_units:
            return _reject(RejectReason.FILTER_MIN_NOTIONAL, f"notional below {scale.rules.min_notional}")
        if perp is None:
            return None
        assert order.price is not None
        account = perp.ledger.accounts[order.account_id]
        leg = position_side_of(order)
        pos = account.positions.get((order.symbol, leg))
        held = 0 if pos is None else (max(0, pos.lots) if order.side is Side.BUY else max(0, -pos.lots))
        others = [
            o for o in self._x.orders.open_for(order.account_id, order.symbol)
            if o is not order and closes(o) == closing and o.side is order.side and position_side_of(o) is leg
        ]  # fmt: skip
        pending = sum(o.remaining for o in others)
        remaining = lots - order.filled
        if closing:
            closable = 0 if pos is None else (max(0, pos.lots) if order.side is Side.SELL else max(0, -pos.lots))
            if remaining > closable - pending:
                return _reject(RejectReason.INVALID_ORDER, "reduce-only order would not reduce", PerpReject.REDUCE_ONLY)
            return None
        if remaining * ticks <= order.remaining * order.price:
            return None  # a smaller order never breaks a limit the bigger one kept
        leverage = perp.leverage(account, order.symbol)
        exposure = scale.quote((held + pending + remaining) * ticks * scale.quote_per_tick_lot)
        if exposure > perp.settings.max_notional(leverage):
            why = "exceeded the maximum allowable position at current leverage"
            return _reject(RejectReason.INVALID_ORDER, why, PerpReject.MAX_NOTIONAL)
        return None

    def _lock(
        self, order: SimOrder, scale: Scale, ticks: int, remaining: int
    ) -> tuple[int, OrderMargin | None] | Rejection:
        """Lock what the new remainder needs beyond the order's lock; its need and margin terms, or why not."""
        x, perp, buy = self._x, self._perp, order.side is Side.BUY
        if perp is not None:
            assert order.margin is not None
            mark = perp.marks.get(order.symbol)
            loss = 0 if mark is None else max(0, ticks - mark if buy else mark - ticks)
            margin = OrderMargin(order.margin.leverage, order.margin.opens, loss * scale.quote_per_tick_lot)
            need = margin_need(scale, ticks, remaining, margin)
            extra = need - order.locked
            if extra > 0 and not lock_check(perp, order.account_id, order.lock_asset, extra):
                return _reject(RejectReason.INSUFFICIENT_BALANCE, "margin is insufficient")
            return need, margin
        need = scale.notional(ticks, remaining) if buy else remaining * scale.base_per_lot
        extra = need - order.locked
        if extra > 0 and not x.ledger.try_lock(order.account_id, order.lock_asset, extra):
            return _reject(RejectReason.INSUFFICIENT_BALANCE, f"insufficient {order.lock_asset}")
        return need, order.margin

    def _count(self, order: SimOrder, count: int) -> None:
        """Remember the order's modifications while it is open; prune closed orders' counts now and then."""
        orders = self._x.orders
        if orders.is_open(order.order_id):
            self._counts[order.order_id] = count
        else:
            self._counts.pop(order.order_id, None)
        if len(self._counts) > 2 * orders.open_count() + 64:
            self._counts = {oid: n for oid, n in self._counts.items() if orders.is_open(oid)}
