"""The hedging half of :class:`~clobactors.strategies.cross_exchange.CrossExchangeMaker`, and the state both
halves share: :class:`CrossExchangeHedging` holds the configuration and state, reads the hedge venue's account
and hedges every maker fill (sizes from :class:`~clobactors.strategies.cross_exchange_pricing.HedgeLedger`);
a hedge sent without a definite answer stays in doubt under the client order id the strategy chose, and its
size is hedged again only once an open-order check and one more timeout found nothing. The maker subclasses it
with the quoting half. Split from the actor's module by job; the behaviour is described there.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from decimal import Decimal
from typing import Final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.order_messages import GetOpenOrders
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
    Fill,
    OrderUpdate,
    PlaceOrder,
)
from clobactors.model import TERMINAL_STATUSES, OrderType, Side, TimeInForce
from clobactors.strategies.cross_exchange_pricing import (
    Fees,
    HedgeLedger,
    HedgePlan,
    protective_price,
)
from clobactors.strategies.cross_exchange_state import CrossExchangeStatistics, Quote, Venue

__all__ = ["CrossExchangeHedging"]

logger: Final = logging.getLogger(__name__)

_BPS: Final = Decimal("0.0001")
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


@attrs.define
class CrossExchangeHedging:
    """A cross-exchange maker's configuration and state, and its hedging half: every maker fill hedged on the
    hedge venue, hedges in doubt watched (see :mod:`clobactors.strategies.cross_exchange`)."""

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

    def _on_balance(self, balance: Balance) -> None:
        for venue in (self._maker, self._hedge):
            if venue.exchange == balance.exchange:
                venue.free[balance.asset] = balance.free

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

    # -- hedging ----------------------------------------------------------------------------------------
