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
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.book_view import BookView, GetBook
from clobactors.actors.order_messages import GetBalances, GetOpenOrders, GetRules
from clobactors.backoff import Backoff
from clobactors.errors import (
    AuthenticationFailed,
    ClobactorsError,
    ConfigError,
    OrderRejected,
    RateLimited,
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
from clobactors.model import TERMINAL_STATUSES, OrderType, Side, TimeInForce
from clobactors.rules import InstrumentRules
from clobactors.strategies.cross_exchange_pricing import (
    Fees,
    HedgeLedger,
    HedgePlan,
    exposure_room,
    protective_price,
    quote_price,
    quote_size,
)
from clobactors.strategies.cross_exchange_state import CrossExchangeStatistics, Quote, StrategyParams, Venue

__all__ = ["CrossExchangeMaker", "CrossExchangeStatistics"]

logger: Final = logging.getLogger(__name__)

_BPS: Final = Decimal("0.0001")
_ZERO: Final = Decimal(0)
#: Events of orders not (yet) known as ours, kept for this many client ids: an order's first fill may be
#: published before the answer that names it reaches us.
_PARKED_IDS: Final = 256
#: Retries of a failed hedge: 0.25 s doubling to 5 s, up to 10 % shorter at random.
_HEDGE_BACKOFF: Final = Backoff(initial=0.25, factor=2.0, max=5.0, jitter=0.1)
#: Answers that say a hedge was not placed (nothing reached the exchange, or it refused the order): the size is
#: hedged again after backoff. Every other failure leaves the hedge in doubt.
_DEFINITE_REFUSALS: Final = (OrderRejected, RateLimited, AuthenticationFailed, ConfigError)
#: Hedge client ids: ``h`` + up to 7 characters of the strategy name + a 7-character nonce + a base-36 counter,
#: alphanumeric and at most 22 characters, within every Binance venue's ``^[.A-Z:/a-z0-9_-]{1,36}$``.
_ID_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_NAME: Final = 7
_ID_NONCE: Final = 7


@final
@attrs.define
class CrossExchangeMaker:
    """Quotes on ``exchange``/``instrument``, hedges on ``hedge_exchange``/``hedge_instrument`` (see the module)."""

    name: str
    exchange: str
    instrument: str
    hedge_exchange: str
    hedge_instrument: str
    size: Decimal
    min_profit_bps: Decimal = Decimal(10)
    maker_fee: Decimal = Decimal("0.001")
    hedge_fee: Decimal = Decimal("0.001")
    #: Net exposure (base units) past which the side that would grow it is not quoted; ``None``: ``size``.
    max_unhedged: Decimal | None = None
    requote_bps: Decimal = Decimal(2)
    min_requote_interval: float = 0.5
    hedge_depth_levels: int = 5
    hedge_slippage_bps: Decimal = Decimal(50)
    #: ``OrderType.LIMIT`` (IOC at a protective price) or ``OrderType.MARKET``.
    hedge_order_type: OrderType = OrderType.LIMIT
    hedge_backoff: Backoff = _HEDGE_BACKOFF
    #: Seconds a hedge sent without a definite answer waits for news before the open orders are checked.
    hedge_doubt_timeout: float = 10.0
    #: Perpetual venues only: the leverage set on start and assumed by the margin checks.
    leverage: int = 1
    _maker: Venue = attrs.field(init=False)
    _hedge: Venue = attrs.field(init=False)
    _fees: Fees = attrs.field(init=False)
    _limit: Decimal = attrs.field(init=False)
    _ledger: HedgeLedger = attrs.field(init=False, factory=HedgeLedger)
    _quotes: dict[Side, Quote] = attrs.field(init=False, factory=dict)
    #: Our maker orders not known to have ended (quotes, and quotes being cancelled): their fills are hedged.
    _own: set[str] = attrs.field(init=False, factory=set)
    _parked: OrderedDict[str, list[Fill | OrderUpdate]] = attrs.field(init=False, factory=OrderedDict)
    #: Why quoting is paused now: ``"<exchange>/<instrument>"`` (a stale book) or ``"<exchange>/user"``.
    _unhealthy: set[str] = attrs.field(init=False, factory=set)
    #: Not quoting for want of a healthy book or stream (true until both books are first synced).
    _paused: bool = attrs.field(init=False, default=True)
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _hedge_wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _next_quote_at: float = attrs.field(init=False, default=float("-inf"))
    _counts: dict[str, int] = attrs.field(init=False, factory=dict)
    #: Hedge client ids: the fixed part (prefix and this incarnation's nonce) and the next counter.
    _id_stem: str = attrs.field(init=False, default="")
    _id_counter: int = attrs.field(init=False, default=0)
    #: Set by the first update of a hedge in doubt (its watcher waits on it).
    _doubts: dict[str, trio.Event] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.size <= 0 or self.min_profit_bps < 0 or self.requote_bps < 0:
            raise ConfigError(f"{self.name}: size must be positive, min_profit_bps and requote_bps >= 0")
        if self.hedge_depth_levels < 1 or self.hedge_slippage_bps < 0 or self.leverage < 1:
            raise ConfigError(f"{self.name}: hedge_depth_levels and leverage must be >= 1, slippage >= 0")
        if not self.hedge_doubt_timeout > 0:
            raise ConfigError(f"{self.name}: hedge_doubt_timeout must be positive")
        if self.hedge_order_type is OrderType.LIMIT_MAKER:
            raise ConfigError(f"{self.name}: a hedge takes liquidity: hedge_order_type is limit (IOC) or market")
        self._limit = self.size if self.max_unhedged is None else self.max_unhedged
        if self._limit <= 0:
            raise ConfigError(f"{self.name}: max_unhedged must be positive")
        self._fees = Fees(maker=self.maker_fee, hedge=self.hedge_fee)
        self._maker = Venue.of(self.exchange, self.instrument)
        self._hedge = Venue.of(self.hedge_exchange, self.hedge_instrument)
        if (self._maker.exchange, self._maker.instrument) == (self._hedge.exchange, self._hedge.instrument):
            raise ConfigError(f"{self.name}: the maker and hedge markets must differ")

    @classmethod
    def from_params(
        cls, name: str, exchange: str, instrument: str, params: Mapping[str, object]
    ) -> CrossExchangeMaker:
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

    def statistics(self) -> CrossExchangeStatistics:
        c = self._counts.get
        return CrossExchangeStatistics(
            quotes_placed=c("placed", 0), quotes_cancelled=c("cancelled", 0), requotes=c("requotes", 0),
            maker_fills=c("maker_fills", 0), hedges_placed=c("hedges", 0), hedge_fills=c("hedge_fills", 0),
            hedge_failures=c("hedge_failures", 0), hedges_in_doubt=c("hedges_in_doubt", 0),
            maker_volume=self._ledger.maker_volume, hedge_volume=self._ledger.hedge_volume,
            exposure=self._ledger.exposure, in_flight=self._ledger.in_flight, paused=self._paused,
            pauses=c("pauses", 0),
            skipped_for_balance=c("skipped_balance", 0), skipped_for_exposure=c("skipped_exposure", 0),
            skipped_for_depth=c("skipped_depth", 0), errors=c("errors", 0),
        )  # fmt: skip

    def _count(self, key: str) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

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

    def _on_balance(self, balance: Balance) -> None:
        for venue in (self._maker, self._hedge):
            if venue.exchange == balance.exchange:
                venue.free[balance.asset] = balance.free

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

    async def _read_hedge_account(self, account: trio.abc.ReceiveChannel[object]) -> None:
        async for event in account:
            if isinstance(event, Balance):
                self._on_balance(event)
            elif isinstance(event, OrderUpdate) and event.instrument == self.hedge_instrument:
                if self._ledger.tracks(event.client_order_id):
                    self._on_hedge_update(event)
                else:
                    self._park(event)

    def _on_hedge_update(self, update: OrderUpdate) -> None:
        if self._ledger.hedge_update(update.client_order_id, update.filled_size, update.status in TERMINAL_STATUSES):
            self._count("hedge_fills")
        doubt = self._doubts.get(update.client_order_id)
        if doubt is not None:
            doubt.set()
        self._hedge_wake.set()
        self._wake.set()

    def _park(self, event: Fill | OrderUpdate) -> None:
        self._parked.setdefault(event.client_order_id, []).append(event)
        self._parked.move_to_end(event.client_order_id)
        while len(self._parked) > _PARKED_IDS:
            self._parked.popitem(last=False)

    def _claim(self, client_order_id: str) -> list[Fill | OrderUpdate]:
        return self._parked.pop(client_order_id, [])

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

    # -- hedging ----------------------------------------------------------------------------------------

    async def _hedge_loop(self, ctx: Context) -> None:
        rng = ctx.system.rng_for(self.name)
        # The wall clock salts the seeded nonce: a restarted incarnation replays the same rng, not the same ids.
        nonce = (rng.getrandbits(64) ^ ctx.wall_ns()) % len(_ID_DIGITS) ** _ID_NONCE
        name = re.sub(r"[^A-Za-z0-9]", "", self.name)[:_ID_NAME]
        self._id_stem = f"h{name}{_base36(nonce).rjust(_ID_NONCE, '0')}"
        attempt = 0
        async with trio.open_nursery() as nursery:
            while True:
                await self._hedge_wake.wait()
                self._hedge_wake = trio.Event()
                while (plan := self._hedge_plan()) is not None:
                    if await self._send_hedge(ctx, plan, nursery):
                        attempt = 0
                        continue
                    self._count("hedge_failures")
                    await trio.sleep(self.hedge_backoff.delay(attempt, rng))
                    attempt += 1

    def _next_hedge_id(self) -> str:
        """A fresh client order id for a hedge: this maker's stem, then a counter (unique in the incarnation)."""
        self._id_counter += 1
        return f"{self._id_stem}{_base36(self._id_counter)}"

    def _hedge_plan(self) -> HedgePlan | None:
        rules, view = self._hedge.rules, self._hedge.view
        assert rules is not None
        reference = None if view is None else view.mid()
        lot = rules.market_lot_size or rules.lot_size if self.hedge_order_type is OrderType.MARKET else rules.lot_size
        # The notional minimum at the protective price, the lowest a hedge may be priced at.
        lowest = None if reference is None else reference * (1 - self.hedge_slippage_bps * _BPS)
        minimum = self._hedge.minimum(lowest) if lowest is not None else rules.min_size
        return self._ledger.next_hedge(lot=lot, min_size=minimum)

    async def _send_hedge(self, ctx: Context, plan: HedgePlan, nursery: trio.Nursery) -> bool:
        """Place one hedge; True when it filled something or is still on its way (in doubt included)."""
        hedge = self._hedge
        assert hedge.rules is not None
        price: Decimal | None = None
        tif = TimeInForce.GTC
        if self.hedge_order_type is OrderType.LIMIT:
            view = hedge.view
            levels = [] if view is None else view.top(plan.side.opposite, self.hedge_depth_levels)
            price = protective_price(plan.side, levels, plan.size, self.hedge_slippage_bps, hedge.rules.tick_size)
            if price is None:
                logger.warning("%s: no %s book to price a hedge of %s", self.name, self.hedge_instrument, plan.size)
                return False
            tif = TimeInForce.IOC
        cid = self._next_hedge_id()
        command = PlaceOrder(
            exchange=self.hedge_exchange, instrument=self.hedge_instrument, side=plan.side,
            order_type=self.hedge_order_type, size=plan.size, price=price, time_in_force=tif, client_order_id=cid,
        )  # fmt: skip
        # On its way from now on: updates under ``cid`` count even if the answer never comes.
        self._ledger.hedge_sent(cid, plan.side, plan.size)
        update: object = None
        try:
            with trio.move_on_after(self.hedge_doubt_timeout):
                update = await ctx.ask(hedge.orders, command)
        except _DEFINITE_REFUSALS as exc:
            self._ledger.hedge_refused(cid)
            logger.warning("%s: hedge %s %s refused: %s", self.name, plan.side.value, plan.size, exc)
            return False
        except ClobactorsError as exc:
            self._doubt(ctx, nursery, cid, plan, exc)
            return True
        if update is None:  # no answer in time: the order manager may still place it
            self._doubt(ctx, nursery, cid, plan, "no answer")
            return True
        assert isinstance(update, OrderUpdate)
        self._count("hedges")
        self._on_hedge_update(update)
        if update.status not in TERMINAL_STATUSES:
            return True
        return update.filled_size > 0

    def _doubt(self, ctx: Context, nursery: trio.Nursery, cid: str, plan: HedgePlan, why: object) -> None:
        if not self._ledger.hedge_in_doubt(cid):
            return  # an update under its id arrived meanwhile: it exists, and is tracked as any other
        self._count("hedges_in_doubt")
        logger.warning("%s: hedge %s %s %s in doubt: %s", self.name, cid, plan.side.value, plan.size, why)
        self._doubts[cid] = trio.Event()
        nursery.start_soon(self._watch_doubt, ctx, cid)

    async def _watch_doubt(self, ctx: Context, cid: str) -> None:
        """Settle a hedge in doubt: wait for news; then check the hedge venue's open orders (retrying while
        its order manager cannot answer); then wait one more timeout (an IOC order that ended is no longer
        open, and the order manager's reconciliation publishes it) before releasing its size."""
        news = self._doubts[cid]
        try:
            checked = False
            while not checked:
                with trio.move_on_after(self.hedge_doubt_timeout):
                    await news.wait()
                if not self._ledger.is_in_doubt(cid):
                    return
                checked = await self._check_open(ctx, cid)
            with trio.move_on_after(self.hedge_doubt_timeout):
                await news.wait()
            if self._ledger.release(cid):
                logger.warning("%s: hedge %s not found after %ss: hedging its size again", self.name, cid,
                               2 * self.hedge_doubt_timeout)  # fmt: skip
                self._hedge_wake.set()
                self._wake.set()
        finally:
            del self._doubts[cid]

    async def _check_open(self, ctx: Context, cid: str) -> bool:
        """Look for ``cid`` among the hedge venue's open orders (applied as an update when found); False when
        the order manager could not answer."""
        try:
            with trio.fail_after(self.hedge_doubt_timeout):
                orders = await ctx.ask(self._hedge.orders, GetOpenOrders(instrument=self.hedge_instrument))
        except (ClobactorsError, trio.TooSlowError) as exc:
            logger.info("%s: cannot check hedge %s yet: %s", self.name, cid, exc)
            return False
        assert isinstance(orders, tuple)
        for order in orders:
            if isinstance(order, OrderUpdate) and order.client_order_id == cid:
                self._on_hedge_update(order)
        return True


def _base36(value: int) -> str:
    digits = ""
    while True:
        value, digit = divmod(value, len(_ID_DIGITS))
        digits = _ID_DIGITS[digit] + digits
        if not value:
            return digits
