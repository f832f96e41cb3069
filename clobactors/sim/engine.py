"""The simulated exchange's matching engine: pure, deterministic, exchange-neutral.

One :class:`Engine` trades several symbols for several accounts (API keys). It does no I/O and reads no
clock: every mutating call takes ``now_ns`` (integer nanoseconds), order ids and trade ids are sequential
integers from 1 for the whole engine, so the same calls always give the same answers and the same events.
Faces (``exchanges/<x>/face.py``) translate requests into calls and the event log into wire formats.

Calls and their answers:

* :meth:`Engine.submit` returns :class:`SubmitAccepted` (the order after matching, with its fills) or a
  :class:`Rejection` with a :class:`RejectReason`; a rejection changes nothing and emits nothing.
* :meth:`Engine.cancel` / :meth:`Engine.cancel_all` return the cancelled order(s) or a :class:`Rejection`.
* :meth:`Engine.amend` changes a resting limit order's price and total size in place (same ids) and returns
  it, or a :class:`Rejection` that changed nothing. It emits no order event (a face announces the amendment
  in its own words, e.g. Binance USD-M's ``AMENDMENT``), only the book diff and balance changes.
* Queries (:meth:`order`, :meth:`open_orders`, :meth:`trades_for`, :meth:`balances`, :meth:`depth`,
  :meth:`best_bid_ask`, :meth:`recent_trades`) raise :class:`~clobactors.errors.ConfigError` for an unknown
  symbol or account: a face checks :meth:`has_symbol` / :meth:`has_account` first and answers in its own
  dialect. Closed orders stay queryable until ``closed_order_limit`` newer ones have closed.

Every call that changes state appends events to a log, drained with :meth:`Engine.drain_events`, in this
order: order events and public trades as matching proceeds (NEW, then per fill the trade and the maker's
update, then the taker's fills, then its final expiry if any), then one :class:`BookEvent` per changed
book, then one :class:`BalanceEvent` per account whose balances changed.

Exchange behaviour chosen (documented for faces):

* Locking: a limit buy locks ``price * size`` quote, a sell locks ``size`` base; a fill cheaper than the
  limit releases the difference when the order comes to rest. A market buy sized in base locks exactly
  what walking the book costs now (the engine is atomic, so the estimate is exact) and is rejected with
  ``INSUFFICIENT_BALANCE`` if free quote does not cover it; a market sell sized in quote locks the base the
  walk needs. Fees are taken from what a fill delivers (buyer pays base, seller pays quote), so they never
  need locking.
* Market orders: what cannot fill against the book expires (``EXPIRED``, ``NO_LIQUIDITY``), as Binance
  does. Their ``min_notional`` check uses the last trade price (Binance's average price stands in), else
  the best opposite price, else it is skipped; a quote-sized order checks its quote amount.
* FOK that cannot fill completely is accepted, then expired (``FOK_UNFILLABLE``), like Binance. Post-only
  that would cross is rejected (``WOULD_TAKE``). Market orders ignore time in force except FOK.
* Client order ids must be unique among the open orders of one account and symbol (Binance's rule); an
  empty one is replaced by ``sim-<order id>``.
* Self-trade prevention: :class:`StpMode`, engine-wide, ``EXPIRE_MAKER`` by default.
* A quote-sized market order learns it is done only at the end of matching, so its TRADE events are sent
  after the makers' updates of that call, and the last one carries the final ``FILLED`` status.

Inside: ``admission.py`` (every rejection rule, then the lock), ``execution.py`` (matching steps, order
state, events), ``matching.py`` (price-time priority as a plan of steps), ``book.py`` (levels in ticks and
lots), ``settlement.py`` (what a spot trade moves: the seam where perpetuals will settle margin instead),
``accounts.py`` (the ledger in integer units), ``orders.py`` (lookups and closed-order history).

Perpetuals: ``Engine(rules, perp=PerpSettings())`` trades every symbol as a linear perpetual margined in its
quote asset. Orders then take ``reduce_only`` and ``position_side``, lock margin instead of assets, and
trades move positions; ``engine.perps`` (:class:`~clobactors.sim.perp_api.Perps`) sets leverage, margin type
and position mode, values positions, keeps income and settles funding on schedule. The rules are in
``perp.py`` (margin, valuation, settlement), ``perp_admission.py`` (order checks), ``funding.py`` (mark,
index, funding formulas) and ``perp_api.py`` (the clock); ``balances`` then report each wallet as
``free = wallet - order margin`` and ``locked = order margin``, and :meth:`Engine.asset_totals` is the
perpetual conservation sum (``Perps.totals``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import OrderType, PositionSide, Side, TimeInForce
from clobactors.sim.accounts import Ledger
from clobactors.sim.admission import OrderRequest, Plan, admit
from clobactors.sim.book import SimOrder
from clobactors.sim.execution import Executor
from clobactors.sim.margin import MarginLedger
from clobactors.sim.orders import levels
from clobactors.sim.perp import PerpSettlement, PerpState, closes, lock_check, margin_need
from clobactors.sim.perp_admission import PerpPlan, admit_perp
from clobactors.sim.perp_api import Perps
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.perp_records import PerpReject, UpdateReason
from clobactors.sim.positions import OrderMargin
from clobactors.sim.records import (
    AssetBalance,
    BookEvent,
    Depth,
    EngineEvent,
    Execution,
    OrderInfo,
    Rejection,
    SubmitAccepted,
    SubmitResult,
    TopOfBook,
    TradeEvent,
)
from clobactors.sim.rules import InstrumentRules, RejectReason, Scale, StpMode, resolve_asset_decimals
from clobactors.sim.settlement import Settlement, SpotSettlement

__all__ = ["Engine", "EngineStatistics"]


@final
@attrs.frozen
class EngineStatistics:
    """Counters since the engine was built."""

    orders_accepted: int
    orders_rejected: int
    trades: int
    open_orders: int
    closed_orders_kept: int
    pending_events: int


@final
class Engine:
    """Matching engine and ledger for several spot symbols and accounts; see the module docstring."""

    def __init__(
        self,
        rules: Mapping[str, InstrumentRules],
        *,
        stp: StpMode = StpMode.EXPIRE_MAKER,
        asset_decimals: Mapping[str, int] | None = None,
        closed_order_limit: int = 10_000,
        trade_history_limit: int = 1_000,
        perp: PerpSettings | None = None,
    ) -> None:
        if not rules:
            raise ConfigError("an engine needs at least one symbol")
        if closed_order_limit < 0 or trade_history_limit < 1:
            raise ConfigError("closed_order_limit must be >= 0 and trade_history_limit >= 1")
        decimals = resolve_asset_decimals(rules, asset_decimals or {})
        scales = {symbol: Scale.build(r, decimals[r.base], decimals[r.quote]) for symbol, r in rules.items()}
        self._rules = dict(rules)
        ledger = Ledger(decimals)
        self._margin: MarginLedger | None = None
        self._perp_state: PerpState | None = None
        settlement: Settlement = SpotSettlement(ledger)
        if perp is not None:
            self._margin = MarginLedger(decimals)
            self._perp_state = PerpState(scales, self._margin, perp)
            settlement = PerpSettlement(self._perp_state)
        self._x = Executor(scales, ledger, stp, closed_order_limit, trade_history_limit, settlement)
        self._perps: Perps | None = None
        if self._perp_state is not None:
            self._perp_state.books = self._x.books
            self._perp_state.last_price = self._x.last_price
            self._perp_state.open_orders = self._x.orders.open_for
            self._perps = Perps(self._perp_state, self._x)
        self._next_order_id = 1
        self._accepted = self._rejected = 0

    # -- accounts ------------------------------------------------------------------------------------------

    @property
    def perps(self) -> Perps | None:
        """The perpetuals API (``None`` on a spot engine)."""
        return self._perps

    def add_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        """Open an account (one API key) funded with ``balances``; ConfigError if it exists."""
        if self._margin is not None:
            self._margin.add_account(account_id, balances)
        else:
            self._x.ledger.add_account(account_id, balances)

    def deposit(self, account_id: str, asset: str, amount: Decimal, *, now_ns: int) -> None:
        """Credit free balance (emits a :class:`BalanceEvent`; an ACCOUNT_UPDATE-like event on perpetuals)."""
        if self._margin is not None and self._perps is not None and self._perp_state is not None:
            self._perps.advance(now_ns)
            self._margin.account(account_id)
            self._margin.deposit(account_id, asset, amount, now_ns)
            self._perp_state.reason = UpdateReason.DEPOSIT
        else:
            self._x.ledger.deposit(account_id, asset, amount)
        self._x.flush(now_ns)

    def has_account(self, account_id: str) -> bool:
        if self._margin is not None:
            return account_id in self._margin.accounts
        return self._x.ledger.has_account(account_id)

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._x.books

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._x.books)

    def rules(self, symbol: str) -> InstrumentRules:
        return self._rules[self._symbol(symbol)]

    # -- orders --------------------------------------------------------------------------------------------

    def submit(
        self,
        account_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        *,
        size: Decimal | None = None,
        price: Decimal | None = None,
        quote_size: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        client_order_id: str = "",
        reduce_only: bool = False,
        position_side: PositionSide | None = None,
        now_ns: int,
    ) -> SubmitResult:
        """Check, lock, match and (GTC limit) rest one order. ``LIMIT_MAKER`` implies ``post_only``.

        ``reduce_only`` and ``position_side`` are for perpetual engines (a spot engine rejects them).
        """
        x = self._x
        request = OrderRequest(
            account_id, symbol, side, order_type, size, price, quote_size, time_in_force, post_only,
            client_order_id,
        )  # fmt: skip
        known = self._known(account_id, symbol)
        result: Plan | PerpPlan | Rejection
        if known is not None:
            result = known
        elif self._perp_state is not None and self._perps is not None:
            self._perps.advance(now_ns)
            result = admit_perp(
                request, reduce_only=reduce_only, position_side=position_side, state=self._perp_state,
                scale=x.scales[symbol], book=x.books[symbol], registry=x.orders, stp=x.stp,
            )  # fmt: skip
        elif reduce_only or position_side is not None:
            result = Rejection(
                reason=RejectReason.INVALID_ORDER, message="reduce-only and position side are for perpetuals",
                perp=PerpReject.NOT_SUPPORTED,
            )  # fmt: skip
        else:
            result = admit(
                request, x.scales[symbol], x.books[symbol], x.ledger, x.orders, x.last_price.get(symbol), x.stp
            )
        if isinstance(result, Rejection):
            self._rejected += 1
            return result
        margin: OrderMargin | None = None
        if isinstance(result, PerpPlan):
            plan, margin = result.plan, result.margin
            reduce_only, position_side = result.reduce_only, result.position_side
        else:
            plan = result
        order_id = self._next_order_id
        self._next_order_id += 1
        self._accepted += 1
        order = SimOrder(
            order_id=order_id,
            account_id=account_id,
            symbol=symbol,
            client_order_id=client_order_id or f"sim-{order_id}",
            side=side,
            order_type=order_type,
            time_in_force=time_in_force,
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
        executions = x.execute(order, now_ns)
        x.flush(now_ns)
        return SubmitAccepted(order=x.info(order), executions=tuple(executions))

    def cancel(
        self,
        account_id: str,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str = "",
        now_ns: int,
    ) -> OrderInfo | Rejection:
        """Cancel one open order by exchange id or client id; ``UNKNOWN_ORDER`` if it is not open."""
        if (rejection := self._known(account_id, symbol)) is not None:
            return rejection
        if self._perps is not None:
            self._perps.advance(now_ns)
        order = self._x.orders.find_open(account_id, symbol, order_id, client_order_id)
        if order is None:
            return Rejection(reason=RejectReason.UNKNOWN_ORDER, message="order is not open")
        self._x.cancel(order, now_ns)
        self._x.flush(now_ns)
        return self._x.info(order)

    def cancel_all(
        self, account_id: str, symbol: str | None = None, *, now_ns: int
    ) -> tuple[OrderInfo, ...] | Rejection:
        """Cancel every open order of the account, on one symbol or all; oldest first."""
        if symbol is not None and (rejection := self._known(account_id, symbol)) is not None:
            return rejection
        if not self.has_account(account_id):
            return Rejection(reason=RejectReason.UNKNOWN_ACCOUNT, message="unknown account")
        if self._perps is not None:
            self._perps.advance(now_ns)
        symbols = self.symbols if symbol is None else (symbol,)
        cancelled: list[OrderInfo] = []
        for sym in symbols:
            for order in self._x.orders.open_for(account_id, sym):
                self._x.cancel(order, now_ns)
                cancelled.append(self._x.info(order))
        self._x.flush(now_ns)
        return tuple(cancelled)

    def amend(
        self,
        account_id: str,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str = "",
        price: Decimal,
        size: Decimal,
        now_ns: int,
    ) -> OrderInfo | Rejection:
        """Amend one resting limit order in place: new limit ``price`` and new *total* ``size`` (filled part
        included), same order id and client id; it goes to the back of the queue at its (new) price.

        Rules (Binance USD-M § Modify Order, simplified): only a resting LIMIT order (``UNKNOWN_ORDER``
        otherwise); price and lot filters and the minimum notional as for a new order; terms equal to the
        order's are ``INVALID_ORDER`` with ``PerpReject.NO_CHANGE``; a new price that would meet the book is
        ``WOULD_TAKE`` (the simulator does not match on an amendment); the lock (margin on perpetuals) follows
        the new remainder, ``INSUFFICIENT_BALANCE`` when free funds do not cover the increase; a size not
        above the filled size cancels the order, as Binance does. Perpetual position limits (max notional,
        reduce-only room) are not re-checked. A rejection changes nothing.
        """
        if (rejection := self._known(account_id, symbol)) is not None:
            return rejection
        if self._perps is not None:
            self._perps.advance(now_ns)
        x = self._x
        order = x.orders.find_open(account_id, symbol, order_id, client_order_id)
        if order is None or order.price is None or order.size is None or order.order_type is OrderType.MARKET:
            return Rejection(reason=RejectReason.UNKNOWN_ORDER, message="order is not resting")
        scale = x.scales[symbol]
        ticks, lots = scale.ticks(price), scale.lots(size)
        if ticks is None:
            return Rejection(reason=RejectReason.FILTER_PRICE, message=f"price {price} is not a positive tick multiple")
        if lots is None or lots < scale.min_lots or (scale.max_lots is not None and lots > scale.max_lots):
            return Rejection(reason=RejectReason.FILTER_LOT_SIZE, message=f"size {size} breaks the lot size rule")
        if (ticks, lots) == (order.price, order.size):
            return Rejection(reason=RejectReason.INVALID_ORDER, message="no need to modify", perp=PerpReject.NO_CHANGE)
        if lots <= order.filled:  # Binance cancels a partially filled order amended to at most its filled size
            x.cancel(order, now_ns)
            x.flush(now_ns)
            return x.info(order)
        exempt = self._perp_state is not None and closes(order)
        if not exempt and scale.notional(ticks, lots) < scale.min_notional_units:
            why = f"notional below {scale.rules.min_notional}"
            return Rejection(reason=RejectReason.FILTER_MIN_NOTIONAL, message=why)
        book = x.books[symbol]
        if book.would_cross(order.side, ticks):
            return Rejection(reason=RejectReason.WOULD_TAKE, message="the amended price would take liquidity")
        remaining = lots - order.filled
        margin = order.margin
        if self._perp_state is not None:
            assert margin is not None
            mark = self._perp_state.marks.get(symbol)
            buy = order.side is Side.BUY
            loss = 0 if mark is None else max(0, ticks - mark if buy else mark - ticks)
            margin = OrderMargin(margin.leverage, margin.opens, loss * scale.quote_per_tick_lot)
            need = margin_need(scale, ticks, remaining, margin)
            extra = need - order.locked
            if extra > 0 and not lock_check(self._perp_state, account_id, order.lock_asset, extra):
                return Rejection(reason=RejectReason.INSUFFICIENT_BALANCE, message="margin is insufficient")
        else:
            buy = order.side is Side.BUY
            need = scale.notional(ticks, remaining) if buy else remaining * scale.base_per_lot
            extra = need - order.locked
            if extra > 0 and not x.ledger.try_lock(account_id, order.lock_asset, extra):
                return Rejection(reason=RejectReason.INSUFFICIENT_BALANCE, message=f"insufficient {order.lock_asset}")
        if extra < 0:
            x.settlement.release(order, -extra)
        book.remove(order)
        order.price, order.size, order.locked, order.margin, order.updated_ns = ticks, lots, need, margin, now_ns
        book.rest(order)  # the back of its level's queue
        changes = book.take_changes()
        if changes is not None:
            x.events.append(
                BookEvent(
                    ts_ns=now_ns, symbol=symbol, first_update_id=changes.first_update_id,
                    last_update_id=changes.last_update_id, bids=levels(scale, changes.bids),
                    asks=levels(scale, changes.asks),
                )
            )  # fmt: skip
        x.flush(now_ns)
        return x.info(order)

    # -- queries -------------------------------------------------------------------------------------------

    def order(
        self, account_id: str, symbol: str, *, order_id: int | None = None, client_order_id: str = ""
    ) -> OrderInfo | None:
        """An open or recently closed order of the account, by exchange id or client id."""
        self._require(account_id, symbol)
        order = self._x.orders.find(account_id, symbol, order_id, client_order_id)
        return None if order is None else self._x.info(order)

    def is_open(self, order_id: int) -> bool:
        """Whether the order rests in a book (cheap; the flow uses it to forget filled orders)."""
        return self._x.orders.is_open(order_id)

    def open_orders(self, account_id: str, symbol: str | None = None) -> tuple[OrderInfo, ...]:
        if symbol is not None:
            self._require(account_id, symbol)
        elif not self.has_account(account_id):
            raise ConfigError(f"unknown account {account_id!r}")
        symbols = self.symbols if symbol is None else (symbol,)
        return tuple(self._x.info(o) for s in symbols for o in self._x.orders.open_for(account_id, s))

    def trades_for(self, account_id: str, symbol: str) -> tuple[Execution, ...]:
        """The account's most recent fills on ``symbol``, oldest first."""
        self._require(account_id, symbol)
        return tuple(self._x.account_trades.get((account_id, symbol), ()))

    def balances(self, account_id: str) -> tuple[AssetBalance, ...]:
        if self._margin is not None:
            wallet = self._margin.account(account_id).wallet
            return tuple(self.balance(account_id, asset) for asset in sorted(wallet))
        return self._x.ledger.balances(account_id)

    def balance(self, account_id: str, asset: str) -> AssetBalance:
        if not self.has_account(account_id):
            raise ConfigError(f"unknown account {account_id!r}")
        if self._margin is not None:
            account = self._margin.account(account_id)
            locked = account.order_margin.get(asset, 0)
            free = account.wallet.get(asset, 0) - locked
            amount = self._margin.amount
            return AssetBalance(asset=asset, free=amount(asset, free), locked=amount(asset, locked))
        return self._x.ledger.balance(account_id, asset)

    def depth(self, symbol: str, limit: int | None = None) -> Depth:
        book, scale = self._x.books[self._symbol(symbol)], self._x.scales[symbol]
        bids = levels(scale, book.depth(Side.BUY, limit))
        asks = levels(scale, book.depth(Side.SELL, limit))
        return Depth(symbol=symbol, update_id=book.update_id, bids=bids, asks=asks)

    def best_bid_ask(self, symbol: str) -> TopOfBook:
        book, scale = self._x.books[self._symbol(symbol)], self._x.scales[symbol]
        bid, ask = book.best(Side.BUY), book.best(Side.SELL)
        return TopOfBook(
            symbol=symbol,
            update_id=book.update_id,
            bid_price=None if bid is None else scale.price(bid.price),
            bid_size=scale.size(0 if bid is None else bid.lots),
            ask_price=None if ask is None else scale.price(ask.price),
            ask_size=scale.size(0 if ask is None else ask.lots),
        )

    def update_id(self, symbol: str) -> int:
        return self._x.books[self._symbol(symbol)].update_id

    def recent_trades(self, symbol: str, limit: int | None = None) -> tuple[TradeEvent, ...]:
        """Public trades, oldest first (at most ``trade_history_limit`` are kept)."""
        trades = tuple(self._x.public_trades[self._symbol(symbol)])
        return trades if limit is None else trades[max(0, len(trades) - limit) :]

    def fees_collected(self) -> dict[str, Decimal]:
        """Fees kept by the exchange per asset (net of maker rebates)."""
        if self._margin is not None:
            margin = self._margin
            return {asset: margin.amount(asset, units) for asset, units in sorted(margin.fees.items())}
        return self._x.ledger.fees()

    def asset_totals(self) -> dict[str, Decimal]:
        """Per asset, all accounts' free + locked plus collected fees: changes only by deposits.

        Perpetuals: wallets minus position cost bases, plus fees and funding residue (see ``margin.py``).
        """
        if self._perps is not None:
            return self._perps.totals()
        return self._x.ledger.totals()

    def drain_events(self) -> list[EngineEvent]:
        """Events since the last drain, oldest first."""
        events, self._x.events = self._x.events, []
        return events

    def statistics(self) -> EngineStatistics:
        return EngineStatistics(
            orders_accepted=self._accepted,
            orders_rejected=self._rejected,
            trades=self._x.trades,
            open_orders=self._x.orders.open_count(),
            closed_orders_kept=self._x.orders.closed_count(),
            pending_events=len(self._x.events),
        )

    # -- checks --------------------------------------------------------------------------------------------

    def _symbol(self, symbol: str) -> str:
        if symbol not in self._x.books:
            raise ConfigError(f"unknown symbol {symbol!r}")
        return symbol

    def _require(self, account_id: str, symbol: str) -> None:
        self._symbol(symbol)
        if not self.has_account(account_id):
            raise ConfigError(f"unknown account {account_id!r}")

    def _known(self, account_id: str, symbol: str) -> Rejection | None:
        if symbol not in self._x.books:
            return Rejection(reason=RejectReason.UNKNOWN_SYMBOL, message=f"unknown symbol {symbol!r}")
        if not self.has_account(account_id):
            return Rejection(reason=RejectReason.UNKNOWN_ACCOUNT, message="unknown account")
        return None
