"""The simulated exchange's matching engine: pure, deterministic, exchange-neutral.

One :class:`Engine` trades several symbols for several accounts (API keys). It does no I/O and reads no
clock: every mutating call takes ``now_ns`` (integer nanoseconds), order ids and trade ids are sequential
integers from 1 for the whole engine, so the same calls always give the same answers and the same events.
Faces (``exchanges/<x>/face.py``) translate requests into calls and the event log into wire formats.

Calls and their answers:

* :meth:`Engine.submit` returns :class:`SubmitAccepted` (the order after matching, with its fills) or a
  :class:`Rejection` with a :class:`RejectReason`; a rejection changes nothing and emits nothing.
* :meth:`Engine.cancel` / :meth:`Engine.cancel_all` return the cancelled order(s) or a :class:`Rejection`.
* :meth:`Engine.amend` changes a resting limit order's price and total size in place (same ids, back of the
  queue) as Binance USD-M's Modify Order does: a crossing new price trades at once like a new order's taker
  part. It returns :class:`~clobactors.sim.amend.AmendAccepted` or a :class:`Rejection` that changed nothing
  (rules in ``amend.py``). It emits no event for the amendment itself (a face announces it in its own words,
  e.g. Binance USD-M's ``AMENDMENT``), only what followed: fills, a cancellation, book diff and balances.
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

Inside: ``placement.py`` (which admission rules apply), ``admission.py`` (every rejection rule, then the
lock), ``amend.py`` (amendments), ``execution.py`` (matching steps, order state, events), ``matching.py``
(price-time priority as a plan of steps), ``book.py`` (levels in ticks and lots), ``settlement.py`` (what a
trade moves), ``wallets.py`` (account calls over either ledger), ``accounts.py`` (the spot ledger in integer
units), ``orders.py`` (lookups and closed-order history).

Perpetuals: ``Engine(rules, perp=PerpSettings())`` trades every symbol as a linear perpetual margined in its
quote asset. Orders then take ``reduce_only`` and ``position_side``, lock margin instead of assets, and
trades move positions; ``engine.perps`` (:class:`~clobactors.sim.perp_api.Perps`) sets leverage, margin type
and position mode, values positions, keeps income and settles funding on schedule. The rules are in
``perp.py`` (margin, valuation, settlement), ``perp_admission.py`` (order checks), ``funding.py`` (mark,
index, funding formulas) and ``perp_api.py`` (the clock); ``balances`` then report each wallet as
``free = wallet - order margin`` and ``locked = order margin``; :meth:`Engine.asset_totals` is ``Perps.totals``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import OrderType, PositionSide, Side, TimeInForce
from clobactors.sim.accounts import Ledger
from clobactors.sim.admission import OrderRequest
from clobactors.sim.amend import MAX_AMENDMENTS, AmendAccepted, Amender, AmendResult
from clobactors.sim.execution import Executor
from clobactors.sim.margin import MarginLedger
from clobactors.sim.orders import levels
from clobactors.sim.perp import PerpSettlement, PerpState
from clobactors.sim.perp_api import Perps
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.placement import accepted_order, admit_order
from clobactors.sim.records import (
    AssetBalance,
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
from clobactors.sim.wallets import PerpWallets, Wallets

__all__ = ["AmendAccepted", "AmendResult", "Engine", "EngineStatistics"]


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
    #: Amendments carried out (including those that cancelled their order).
    orders_amended: int = 0


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
        amend_limit: int = MAX_AMENDMENTS,
    ) -> None:
        if not rules:
            raise ConfigError("an engine needs at least one symbol")
        if closed_order_limit < 0 or trade_history_limit < 1 or amend_limit < 0:
            raise ConfigError("closed_order_limit and amend_limit must be >= 0 and trade_history_limit >= 1")
        decimals = resolve_asset_decimals(rules, asset_decimals or {})
        scales = {symbol: Scale.build(r, decimals[r.base], decimals[r.quote]) for symbol, r in rules.items()}
        self._rules = dict(rules)
        ledger = Ledger(decimals)
        margin = MarginLedger(decimals)
        self._perp_state = state = None if perp is None else PerpState(scales, margin, perp)
        settlement: Settlement = SpotSettlement(ledger) if state is None else PerpSettlement(state)
        self._x = Executor(scales, ledger, stp, closed_order_limit, trade_history_limit, settlement)
        self._perps: Perps | None = None
        self._wallets = Wallets(ledger)
        if self._perp_state is not None:
            self._perp_state.books = self._x.books
            self._perp_state.last_price = self._x.last_price
            self._perp_state.open_orders = self._x.orders.open_for
            self._perps = Perps(self._perp_state, self._x)
            self._wallets = Wallets(ledger, PerpWallets(margin, self._perp_state, self._perps))
        self._amender = Amender(self._x, self._perp_state, amend_limit)
        self._next_order_id = 1
        self._accepted = self._rejected = 0

    # -- accounts ------------------------------------------------------------------------------------------

    @property
    def perps(self) -> Perps | None:
        """The perpetuals API (``None`` on a spot engine)."""
        return self._perps

    def add_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        """Open an account (one API key) funded with ``balances``; ConfigError if it exists."""
        self._wallets.add_account(account_id, balances)

    def deposit(self, account_id: str, asset: str, amount: Decimal, *, now_ns: int) -> None:
        """Credit free balance (emits a :class:`BalanceEvent`; an ACCOUNT_UPDATE-like event on perpetuals)."""
        self._wallets.deposit(account_id, asset, amount, now_ns)
        self._x.flush(now_ns)

    def has_account(self, account_id: str) -> bool:
        return self._wallets.has_account(account_id)

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
        if (known := self._known(account_id, symbol)) is not None:
            self._rejected += 1
            return known
        if self._perps is not None:
            self._perps.advance(now_ns)
        result = admit_order(x, self._perp_state, request, reduce_only=reduce_only, position_side=position_side)
        if isinstance(result, Rejection):
            self._rejected += 1
            return result
        order = accepted_order(self._next_order_id, request, result, now_ns)
        self._next_order_id += 1
        self._accepted += 1
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
    ) -> AmendResult:
        """Amend one open limit order in place: new limit ``price`` and new *total* ``size`` (filled part
        included), same order id and client id, at the back of the queue at its new price.

        Binance USD-M § Trade › Modify Order (``PUT /fapi/v1/order``), rules in :mod:`clobactors.sim.amend`:
        an order that is not open is ``UNKNOWN_ORDER``; a new price that crosses the book trades at once (a
        GTX order is cancelled instead), so does a size not above the filled size; a rejection changes nothing.
        """
        if (rejection := self._known(account_id, symbol)) is not None:
            return rejection
        if self._perps is not None:
            self._perps.advance(now_ns)
        order = self._x.orders.find_open(account_id, symbol, order_id, client_order_id)
        if order is None:
            return Rejection(reason=RejectReason.UNKNOWN_ORDER, message="order is not open")
        return self._amender.amend(order, price, size, now_ns)

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
        return self._wallets.balances(account_id)

    def balance(self, account_id: str, asset: str) -> AssetBalance:
        return self._wallets.balance(account_id, asset)

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
        return self._wallets.fees()

    def asset_totals(self) -> dict[str, Decimal]:
        """Per asset, all accounts' free + locked plus collected fees: changes only by deposits.

        Perpetuals: wallets minus position cost bases, plus fees and funding residue (see ``margin.py``).
        """
        return self._wallets.totals()

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
            orders_amended=self._amender.amended,
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
