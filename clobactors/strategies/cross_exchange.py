"""Cross-exchange market making (XEMM): post-only quotes on a *maker* venue, every fill hedged on a *hedge* venue.

The counterpart of Hummingbot's cross-exchange market making. The maker quotes a bid and an ask on
``exchange``/``instrument`` (e.g. Binance spot ``BTC-USDT``) priced off the book of
``hedge_exchange``/``hedge_instrument`` (e.g. Binance USD-M ``BTC-USDT-PERP``), far enough from it that a fill,
hedged at once by taking the hedge book, still earns ``min_profit_bps`` after both venues' fees (the rule and
its exact check live in :mod:`clobactors.strategies.cross_exchange_pricing`). Like
:class:`~clobactors.strategies.market_making.MarketMaker` it sees only canonical events and commands:

* books come from each venue's book feed (``<exchange>.books``, a live :class:`BookView`): the hedge book's
  top ``hedge_depth_levels`` levels price the quote (depth, not just the touch) and cap its size;
* a quote's size is also cut to the free balance (or margin, on a perpetual) on *both* venues and to the room
  left under ``max_unhedged``: a side whose fill would push the net exposure past it is not quoted until the
  hedges catch up;
* every :class:`~clobactors.messages.Fill` of a quote (``account.<exchange>``) is hedged at once with an IOC
  limit order at a protective price (``hedge_slippage_bps`` past the levels it takes) or, with
  ``hedge_order_type="market"``, a MARKET order; sizes are rounded down to the hedge lot and what that leaves
  is carried and netted with the next fill. A hedge refused, or one that fills nothing, is retried with
  backoff and counted in ``hedge_failures``; the exposure stays in :meth:`statistics` meanwhile;
* each hedge is sent under a client order id the maker chose and entered as on its way *before* the order
  manager is asked, so its updates count whatever becomes of the answer. A send that fails without a definite
  refusal (the order manager stopped, a timeout) leaves the hedge *in doubt* (``hedges_in_doubt``): its size
  is not hedged again until an update under its id settles it (the order manager's reconciliation after a
  restart publishes the order if it reached the exchange) or, after ``hedge_doubt_timeout`` with no news, the
  hedge venue's open orders do not hold it and one more timeout passes with no news either;
* a side is requoted when the hedge mid has moved ``requote_bps`` since it was placed, or when it has ended,
  at most once per ``min_requote_interval`` seconds; quotes are pulled at once (no interval) while either
  book is stale (``FeedStale``/``FeedDown`` on ``lifecycle.<exchange>``) or either user stream is down, and
  come back when both are synced.

Fees default to Binance's base rates, 0.1 % (``maker_fee`` and ``hedge_fee``): the spot rates, and above the
USD-M taker rate, so by default the maker overestimates its costs, never underestimates them. Set both to
your account's tier. Fills are attributed to quotes by client order id, so another strategy on the same
instrument is never hedged by this one. Not kept across a restart of the actor: the exposure of the earlier
incarnation (its quotes are cancelled on start, as the market maker does).

This module holds the quoting half; the configuration, the state and the hedging half are the base class,
:class:`~clobactors.strategies.cross_exchange_hedging.CrossExchangeHedging`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.book_view import BookView, GetBook
from clobactors.actors.order_messages import GetBalances, GetOpenOrders, GetRules
from clobactors.errors import (
    ClobactorsError,
)
from clobactors.messages import (
    Balance,
    BestBidAsk,
    CancelOrder,
    FeedDown,
    FeedStale,
    FeedSynced,
    Fill,
    OrderUpdate,
    PlaceOrder,
    SetLeverage,
)
from clobactors.model import TERMINAL_STATUSES, OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.strategies.cross_exchange_hedging import CrossExchangeHedging
from clobactors.strategies.cross_exchange_pricing import (
    exposure_room,
    quote_price,
    quote_size,
)
from clobactors.strategies.cross_exchange_state import CrossExchangeStatistics, Quote, StrategyParams, Venue

__all__ = ["CrossExchangeMaker", "CrossExchangeStatistics"]

logger: Final = logging.getLogger(__name__)

_BPS: Final = Decimal("0.0001")
_ZERO: Final = Decimal(0)


@final
@attrs.define
class CrossExchangeMaker(CrossExchangeHedging):
    """Quotes on ``exchange``/``instrument``, hedges on ``hedge_exchange``/``hedge_instrument`` (see the module)."""

    @classmethod
    def from_params(cls, name: str, exchange: str, instrument: str, params: Mapping[str, object]) -> CrossExchangeMaker:
        """Build from config parameters: ``hedge_exchange`` and ``hedge_instrument`` are required, the rest
        default as the class does (``max_unhedged`` "0" or absent: ``size``)."""
        p = StrategyParams(name, params)
        return cls(
            name=name, exchange=exchange, instrument=instrument, hedge_exchange=p.text("hedge_exchange"),
            hedge_instrument=p.text("hedge_instrument"), size=p.dec("size", "0.001"),
            min_profit_bps=p.dec("min_profit_bps", "10"), maker_fee=p.dec("maker_fee", "0.001"),
            hedge_fee=p.dec("hedge_fee", "0.001"), max_unhedged=p.dec("max_unhedged", "0") or None,
            requote_bps=p.dec("requote_bps", "2"), min_requote_interval=p.seconds("min_requote_interval", 0.5),
            hedge_depth_levels=p.integer("hedge_depth_levels", 5),
            hedge_slippage_bps=p.dec("hedge_slippage_bps", "50"), hedge_order_type=p.order_type("hedge_order_type"),
            leverage=p.integer("leverage", 1), hedge_doubt_timeout=p.seconds("hedge_doubt_timeout", 10.0),
        )  # fmt: skip

    # -- start and run ------------------------------------------------------------------------------------

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        venues = (self._maker, self._hedge)
        markets = [ctx.subscribe(f"market.{v.exchange}.{v.instrument}") for v in venues]
        maker_account = ctx.subscribe(f"account.{self._maker.exchange}")
        hedge_account = ctx.subscribe(f"account.{self._hedge.exchange}")
        exchanges = dict.fromkeys(v.exchange for v in venues)
        health = [ctx.subscribe(f"lifecycle.{exchange}") for exchange in exchanges]
        for venue in venues:
            await self._load(ctx, venue)
        for exchange in exchanges:
            await self._load_balances(ctx, exchange)
        # Orders left by an earlier incarnation are ours to manage: cancel them before quoting afresh.
        leftovers = await ctx.ask(self._maker.orders, GetOpenOrders(instrument=self.instrument))
        assert isinstance(leftovers, tuple)
        for order in leftovers:
            await self._cancel(ctx, order.client_order_id)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                for market in markets:
                    nursery.start_soon(self._read_market, market)
                for sub in health:
                    nursery.start_soon(self._read_health, ctx, sub)
                nursery.start_soon(self._read_maker_account, maker_account)
                nursery.start_soon(self._read_hedge_account, hedge_account)
                nursery.start_soon(self._hedge_loop, ctx)
                self._wake.set()
                await self._quote_loop(ctx)
        finally:
            with ctx.shutdown_scope():
                for quote in list(self._quotes.values()):
                    await self._cancel(ctx, quote.client_order_id)
            if self._ledger.exposure or self._ledger.in_flight:
                logger.warning(
                    "%s: stopping with exposure %s (hedges in flight %s)", self.name, self._ledger.exposure,
                    self._ledger.in_flight,
                )  # fmt: skip

    async def _load(self, ctx: Context, venue: Venue) -> None:
        rules = await ctx.ask(venue.orders, GetRules(instrument=venue.instrument))
        assert isinstance(rules, InstrumentRules)
        venue.rules = rules
        if venue.perpetual:
            await ctx.ask(
                venue.orders, SetLeverage(exchange=venue.exchange, instrument=venue.instrument, leverage=self.leverage)
            )
        await self._refresh_view(ctx, venue)

    async def _load_balances(self, ctx: Context, exchange: str) -> None:
        balances = await ctx.ask(f"{exchange}.orders", GetBalances())
        assert isinstance(balances, Mapping)
        for balance in balances.values():
            self._on_balance(balance)

    async def _refresh_view(self, ctx: Context, venue: Venue) -> None:
        try:
            view = await ctx.ask(venue.books, GetBook(venue.instrument))
        except ClobactorsError as exc:  # the feed is restarting: its FeedSynced brings us back here
            logger.info("%s: no book of %s/%s yet: %s", self.name, venue.exchange, venue.instrument, exc)
            return
        assert isinstance(view, BookView)
        venue.view = view

    # -- readers ----------------------------------------------------------------------------------------

    async def _read_market(self, market: trio.abc.ReceiveChannel[object]) -> None:
        async for event in market:
            if isinstance(event, BestBidAsk):
                self._wake.set()

    async def _read_health(self, ctx: Context, sub: trio.abc.ReceiveChannel[object]) -> None:
        async for event in sub:
            if not isinstance(event, (FeedStale, FeedDown, FeedSynced)):
                continue
            for venue in (self._maker, self._hedge):
                if venue.exchange != event.exchange:
                    continue
                user = event.feed == "user"
                key = f"{venue.exchange}/{'user' if user else venue.instrument}"
                if event.instrument not in ("", venue.instrument) or not (user or event.feed.startswith("book")):
                    continue
                if isinstance(event, FeedSynced):
                    self._unhealthy.discard(key)
                    if not user:
                        await self._refresh_view(ctx, venue)
                elif user or isinstance(event, FeedStale):
                    self._unhealthy.add(key)
                # A book connection's FeedDown follows a FeedStale for each book it carried; the book views
                # say whether ours was one of them.
            self._wake.set()

    async def _read_maker_account(self, account: trio.abc.ReceiveChannel[object]) -> None:
        async for event in account:
            if isinstance(event, Balance):
                self._on_balance(event)
            elif isinstance(event, (Fill, OrderUpdate)) and event.instrument == self.instrument:
                if event.client_order_id in self._own:
                    self._on_maker_event(event)
                else:
                    self._park(event)

    def _on_maker_event(self, event: Fill | OrderUpdate) -> None:
        if isinstance(event, Fill):  # the order manager publishes each trade id once
            self._ledger.maker_fill(event.side, event.size)
            self._count("maker_fills")
            self._hedge_wake.set()
            self._wake.set()
        elif event.status in TERMINAL_STATUSES:
            self._own.discard(event.client_order_id)
            for side, quote in list(self._quotes.items()):
                if quote.client_order_id == event.client_order_id:
                    del self._quotes[side]
                    self._wake.set()

    # -- quoting ----------------------------------------------------------------------------------------

    def _healthy(self) -> bool:
        if self._unhealthy:
            return False
        venues = (self._maker, self._hedge)
        return all(v.rules is not None and v.view is not None and not v.view.is_stale for v in venues)

    async def _quote_loop(self, ctx: Context) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            if not self._healthy():
                if not self._paused:
                    self._paused = True
                    self._count("pauses")
                    logger.info("%s: pausing quotes (%s)", self.name, ", ".join(sorted(self._unhealthy)) or "stale")
                for side in list(self._quotes):
                    await self._cancel(ctx, self._quotes.pop(side).client_order_id)
                continue
            self._paused = False
            due = self._due_sides()
            if not due:
                continue
            delay = self._next_quote_at - trio.current_time()
            if delay > 0:
                with trio.move_on_after(delay):
                    await self._wake.wait()
                self._wake.set()
                continue
            await self._requote(ctx, due)
            self._next_quote_at = trio.current_time() + self.min_requote_interval

    def _hedge_mid(self) -> Decimal | None:
        view = self._hedge.view
        return None if view is None else view.mid()

    def _due_sides(self) -> list[Side]:
        mid = self._hedge_mid()
        if mid is None:
            return []
        due = []
        for side in (Side.BUY, Side.SELL):
            quote = self._quotes.get(side)
            if quote is None or abs(mid - quote.reference) >= quote.reference * self.requote_bps * _BPS:
                due.append(side)
        return due

    async def _requote(self, ctx: Context, sides: list[Side]) -> None:
        for side in sides:
            old = self._quotes.pop(side, None)
            if old is not None:
                self._count("requotes")
                await self._cancel(ctx, old.client_order_id)
            if not self._healthy():
                return
            plan = self._plan(side)
            if plan is not None:
                await self._place(ctx, side, *plan)

    def _plan(self, side: Side) -> tuple[Decimal, Decimal, Decimal] | None:
        """(price, size, hedge mid) of a quote on ``side`` now, or None (counted by why)."""
        maker, hedge = self._maker, self._hedge
        assert maker.rules is not None and hedge.rules is not None and maker.view is not None
        assert hedge.view is not None
        mid = hedge.view.mid()
        levels = hedge.view.top(side, self.hedge_depth_levels)  # a maker bid is hedged into the hedge bids
        if mid is None or not levels:
            self._count("skipped_depth")
            return None
        minimum = max(maker.minimum(mid), hedge.minimum(mid))
        room = exposure_room(side, self._ledger.exposure, self._limit)
        funds = min(
            maker.affordable(side, mid, self.maker_fee, self.leverage),
            hedge.affordable(side.opposite, mid, self.hedge_fee, self.leverage),
        )
        depth = sum((size for _, size in levels), _ZERO)
        lots = (hedge.rules.lot_size, maker.rules.lot_size)
        size = quote_size(self.size, (room, funds, depth), lots=lots, minimum=minimum)
        if not size:
            reason = "exposure" if room < minimum else "balance" if funds < minimum else "depth"
            self._count(f"skipped_{reason}")
            return None
        bid, ask = maker.view.best_bid(), maker.view.best_ask()
        price = quote_price(
            side, levels, size, self._fees, self.min_profit_bps, tick=maker.rules.tick_size,
            maker_best_bid=bid[0] if bid else None, maker_best_ask=ask[0] if ask else None,
        )  # fmt: skip
        if price is None:
            self._count("skipped_depth")
            return None
        return price, size, mid

    async def _place(self, ctx: Context, side: Side, price: Decimal, size: Decimal, mid: Decimal) -> None:
        command = PlaceOrder(
            exchange=self.exchange, instrument=self.instrument, side=side, order_type=OrderType.LIMIT_MAKER,
            size=size, price=price,
        )  # fmt: skip
        try:
            update = await ctx.ask(self._maker.orders, command)
        except ClobactorsError as exc:
            self._count("errors")
            logger.info("%s: %s quote at %s refused: %s", self.name, side.value, price, exc)
            return
        assert isinstance(update, OrderUpdate)
        self._count("placed")
        cid = update.client_order_id
        self._own.add(cid)
        if update.status not in TERMINAL_STATUSES:
            self._quotes[side] = Quote(cid, price, size, mid)
        for event in self._claim(cid):
            if cid in self._own:
                self._on_maker_event(event)

    async def _cancel(self, ctx: Context, client_order_id: str) -> None:
        command = CancelOrder(exchange=self.exchange, instrument=self.instrument, client_order_id=client_order_id)
        try:
            await ctx.ask(self._maker.orders, command)
            self._count("cancelled")
        except ClobactorsError as exc:  # filled meanwhile, or the order manager is restarting
            self._count("errors")
            logger.info("%s: cancel of %s failed: %s", self.name, client_order_id, exc)
