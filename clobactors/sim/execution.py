"""Carrying out accepted orders and cancels: matching steps, settlement, order state, and the event log.

:class:`Executor` owns the engine's mutable state (books, ledger, order registry, trade histories, pending
events) and the bookkeeping of one engine call: it marks which books changed and, in :meth:`Executor.flush`,
closes the call with one book diff per changed book and the changed balances per account. The engine in
``engine.py`` is the public face over it: it validates requests (``admission.py``) and answers queries.
What trades and locks mean for money is the :class:`~clobactors.sim.settlement.Settlement`'s (spot or
perpetual); after each trade it may name resting orders the trade invalidated, which are expired here.
"""

from __future__ import annotations

from collections import deque
from typing import final

import msgspec

from clobactors.model import OrderStatus, OrderType, Side, TimeInForce
from clobactors.sim.accounts import Ledger
from clobactors.sim.book import Book, SimOrder
from clobactors.sim.matching import MakerExpire, MakerFill, Stop, StopKind, fillable, take
from clobactors.sim.orders import OrderRegistry, levels, order_info
from clobactors.sim.records import (
    BookEvent,
    EngineEvent,
    ExecType,
    Execution,
    OrderEvent,
    OrderInfo,
    TradeEvent,
)
from clobactors.sim.rules import ExpireReason, Scale, StpMode
from clobactors.sim.settlement import Settlement

__all__ = ["Executor"]


@final
class Executor:
    """The engine's state and how one accepted order or cancel changes it. Attributes are shared with it."""

    def __init__(
        self,
        scales: dict[str, Scale],
        ledger: Ledger,
        stp: StpMode,
        closed_limit: int,
        trade_limit: int,
        settlement: Settlement,
    ) -> None:
        self.scales = scales
        self.settlement = settlement
        self.books = {symbol: Book() for symbol in scales}
        self.ledger = ledger
        self.orders = OrderRegistry(closed_limit)
        self.stp = stp
        self.public_trades: dict[str, deque[TradeEvent]] = {s: deque(maxlen=trade_limit) for s in scales}
        self.account_trades: dict[tuple[str, str], deque[Execution]] = {}
        self.last_price: dict[str, int] = {}
        self.events: list[EngineEvent] = []
        self.trades = 0
        self._trade_limit = trade_limit
        self._touched: dict[str, None] = {}
        self._next_trade_id = 1

    def execute(self, order: SimOrder, now_ns: int) -> list[Execution]:
        """Run a just-accepted order: NEW, FOK check, matching, then rest or close. Returns its fills."""
        self.emit_order(order, ExecType.NEW, now_ns)
        if order.time_in_force is TimeInForce.FOK and not self._fok_fillable(order):
            self._close(order, OrderStatus.EXPIRED, ExpireReason.FOK_UNFILLABLE, now_ns)
            return []
        return self.match(order, now_ns)

    def cancel(self, order: SimOrder, now_ns: int) -> None:
        self.books[order.symbol].remove(order)
        self._touched[order.symbol] = None
        self._close(order, OrderStatus.CANCELLED, None, now_ns)

    def info(self, order: SimOrder) -> OrderInfo:
        return order_info(order, self.scales[order.symbol])

    def _fok_fillable(self, order: SimOrder) -> bool:
        scale = self.scales[order.symbol]
        lots, _ = fillable(
            self.books[order.symbol], order.side, order.account_id, order.price, order.size, None,
            scale.quote_per_tick_lot, self.stp,
        )  # fmt: skip
        return lots == order.size

    # -- matching and settlement ---------------------------------------------------------------------------

    def match(self, order: SimOrder, now_ns: int) -> list[Execution]:
        """Trade ``order`` as a taker against its book and rest what is left: a new order's path, and an
        amendment's whose new price crosses (:mod:`clobactors.sim.amend`)."""
        scale, book = self.scales[order.symbol], self.books[order.symbol]
        taker_fills: list[tuple[OrderInfo, Execution]] = []
        stop = StopKind.NO_MATCH
        for step in take(book, order, scale.quote_per_tick_lot, self.stp):
            match step:
                case MakerFill(maker=maker, price=price, lots=lots):
                    taker_fills.append(self._fill(order, maker, price, lots, now_ns))
                case MakerExpire(maker=maker):
                    self._touched[maker.symbol] = None
                    book.remove(maker)
                    self._close(maker, OrderStatus.EXPIRED, ExpireReason.SELF_TRADE_PREVENTION, now_ns)
                case Stop(kind=kind):
                    stop = kind
        if order.remaining == 0 and (order.size is not None or (stop is StopKind.DONE and order.filled)):
            order.status = OrderStatus.FILLED
        for i, (info, execution) in enumerate(taker_fills):
            if i == len(taker_fills) - 1 and order.status is OrderStatus.FILLED:
                # A quote-sized order learns it is done only after its last fill.
                info = msgspec.structs.replace(info, status=OrderStatus.FILLED)
            self.events.append(
                OrderEvent(ts_ns=now_ns, account_id=order.account_id, symbol=order.symbol,
                           exec_type=ExecType.TRADE, order=info, execution=execution)
            )  # fmt: skip
        if order.status is OrderStatus.FILLED:
            self._close(order, OrderStatus.FILLED, None, now_ns)
        elif stop is StopKind.SELF_TRADE:
            self._close(order, OrderStatus.EXPIRED, ExpireReason.SELF_TRADE_PREVENTION, now_ns)
        elif order.order_type is OrderType.MARKET:
            self._close(order, OrderStatus.EXPIRED, ExpireReason.NO_LIQUIDITY, now_ns)
        elif order.time_in_force is not TimeInForce.GTC:
            self._close(order, OrderStatus.EXPIRED, ExpireReason.IOC_REMAINDER, now_ns)
        else:
            self._rest(order)
        return [execution for _, execution in taker_fills]

    def _rest(self, order: SimOrder) -> None:
        """Put a GTC remainder in the book; release what a cheaper fill left locked beyond its need."""
        need = self.settlement.resting_need(order, self.scales[order.symbol])
        self.settlement.release(order, order.locked - need)
        order.locked = need
        self.books[order.symbol].rest(order)
        self._touched[order.symbol] = None
        self.orders.add_open(order)

    def _fill(
        self, taker: SimOrder, maker: SimOrder, price: int, lots: int, now_ns: int
    ) -> tuple[OrderInfo, Execution]:
        """Settle one trade; emit the public trade and the maker's update; return the taker's side of it."""
        symbol, scale = taker.symbol, self.scales[taker.symbol]
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        self.trades += 1
        buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        moved = self.settlement.trade(scale, buyer, seller, maker, price, lots, trade_id, now_ns)
        for party in (maker, taker):
            party.filled += lots
            party.filled_quote += moved.quote_units
            party.updated_ns = now_ns
            full = party.size is not None and party.remaining == 0
            party.status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
        self.books[symbol].reduce(maker, lots)
        self._touched[symbol] = None
        self.last_price[symbol] = price
        trade = TradeEvent(
            ts_ns=now_ns, symbol=symbol, trade_id=trade_id, price=scale.price(price), size=scale.size(lots),
            quote_size=scale.quote(moved.quote_units), taker_side=taker.side, buyer_order_id=buyer.order_id,
            seller_order_id=seller.order_id,
        )  # fmt: skip
        self.public_trades[symbol].append(trade)
        self.events.append(trade)
        maker_exec, taker_exec = (
            Execution(
                symbol=symbol,
                trade_id=trade_id,
                order_id=party.order_id,
                client_order_id=party.client_order_id,
                account_id=party.account_id,
                side=party.side,
                price=trade.price,
                size=trade.size,
                quote_size=trade.quote_size,
                fee=paid.fee,
                fee_asset=paid.fee_asset,
                is_maker=party is maker,
                ts_ns=now_ns,
                realized_pnl=paid.realized_pnl,
                position_side=party.position_side,
            )
            for party, paid in ((maker, moved.buyer if maker is buyer else moved.seller),
                                (taker, moved.buyer if taker is buyer else moved.seller))
        )
        for execution in (maker_exec, taker_exec):
            key = (execution.account_id, symbol)
            history = self.account_trades.get(key)
            if history is None:
                history = self.account_trades[key] = deque(maxlen=self._trade_limit)
            history.append(execution)
        self.emit_order(maker, ExecType.TRADE, now_ns, maker_exec)
        if maker.status is OrderStatus.FILLED:
            assert maker.locked == 0
            self.orders.close(maker)
        accounts = (buyer.account_id, seller.account_id)
        for stale in self.settlement.invalidated(accounts, symbol, self.orders.open_for):
            self.books[symbol].remove(stale)
            self._close(stale, OrderStatus.EXPIRED, ExpireReason.REDUCE_ONLY, now_ns)
        return self.info(taker), taker_exec

    def _close(self, order: SimOrder, status: OrderStatus, reason: ExpireReason | None, now_ns: int) -> None:
        """End an order that is no longer in a book: release its lock, keep it queryable, tell its owner."""
        order.status, order.expire_reason, order.updated_ns = status, reason, now_ns
        self.settlement.release(order, order.locked)
        order.locked = 0
        self.orders.close(order)
        if status is OrderStatus.CANCELLED:
            self.emit_order(order, ExecType.CANCELLED, now_ns)
        elif status is OrderStatus.EXPIRED:
            self.emit_order(order, ExecType.EXPIRED, now_ns)

    # -- events --------------------------------------------------------------------------------------------

    def emit_order(
        self, order: SimOrder, exec_type: ExecType, now_ns: int, execution: Execution | None = None
    ) -> None:
        self.events.append(
            OrderEvent(ts_ns=now_ns, account_id=order.account_id, symbol=order.symbol, exec_type=exec_type,
                       order=self.info(order), execution=execution)
        )  # fmt: skip

    def flush(self, now_ns: int) -> None:
        """Close one engine call: one diff per changed book, then the changed balances per account."""
        for symbol in self._touched:
            changes = self.books[symbol].take_changes()
            if changes is not None:
                scale = self.scales[symbol]
                self.events.append(
                    BookEvent(
                        ts_ns=now_ns, symbol=symbol, first_update_id=changes.first_update_id,
                        last_update_id=changes.last_update_id,
                        bids=levels(scale, changes.bids),
                        asks=levels(scale, changes.asks),
                    )
                )  # fmt: skip
        self._touched = {}
        self.events.extend(self.settlement.flush(now_ns))
