"""A simple two-sided market maker: one bid and one ask around the mid, requoted as the mid moves.

It is an example of the strategy API, and the demo's default. It sees only canonical events and commands:

* it subscribes to ``market.<exchange>.<instrument>`` (best bid/ask) and ``account.<exchange>`` (its orders,
  fills and balances);
* it asks the exchange's order manager (``<exchange>.orders``) for the instrument's trading rules, for
  balances, and to place and cancel orders.

Quotes are post-only (``LIMIT_MAKER``) so they never take; prices are rounded away from the mid to the tick and
sizes down to the lot, so every order passes the rules. A side is quoted only when the free balance covers it
(quote asset for the bid, base asset for the ask), so the maker never asks the exchange for money it lacks.
On a perpetual (``...-PERP``) the margin asset is the quote: the maker sets ``leverage`` on start and quotes
a side when the free quote balance covers that side's initial margin, ``price * size / leverage`` (each side
checked alone, as either may fill first; the exchange's own margin check stays the final word).
Requotes happen when the mid has moved by ``requote_bps`` or a quote has ended (filled, cancelled), at most
once per ``min_requote_interval`` seconds.

A requote moves a resting quote as :class:`RequoteMode` says: ``CANCEL_PLACE`` cancels and places anew;
``AMEND`` sends one :class:`~clobactors.messages.ModifyOrder` (in place on Binance USD-M, same ids; where the
order manager cancel-replaces, Binance spot, the maker follows the replacement's id) for a total size of what
filled plus ``size``, so the quote rests with ``size`` again. A refused amendment falls back: the same terms
(-5027) leave the quote; an ended order (unknown) is placed anew; any other refusal, or no answer, is cancelled
and placed anew. An amendment answered with an ended order (a post-only price that would cross cancels it)
drops the quote and wakes the loop to quote that side afresh. Nothing a strategy may ask the order manager
names the venue's modification style, so the mode is the caller's choice. The requote vocabulary (the mode, the
resting-quote record) lives in :mod:`clobactors.strategies.market_making_requote`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.order_messages import GetBalances, GetOpenOrders, GetRules
from clobactors.errors import ActorUnavailable, ClobactorsError, ConfigError, OrderRejected, UnknownOrder
from clobactors.messages import (
    Balance,
    BestBidAsk,
    CancelOrder,
    Fill,
    ModifyOrder,
    OrderUpdate,
    PlaceOrder,
    SetLeverage,
)
from clobactors.model import TERMINAL_STATUSES, Instrument, InstrumentKind, OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.strategies.market_making_requote import SAME_TERMS_CODES, RequoteMode, Resting, resting_quote

__all__ = ["MarketMaker", "MarketMakerStatistics", "RequoteMode"]

logger = logging.getLogger(__name__)

_BPS = Decimal("0.0001")
_ZERO = Decimal(0)
#: How many ended client order ids are remembered, so an answer arriving after the order's end on the bus does
#: not bring a dead quote back.
_ENDED_MEMORY: Final = 256


@final
@attrs.frozen
class MarketMakerStatistics:
    quotes_placed: int
    quotes_cancelled: int
    requotes: int
    fills: int
    skipped_for_balance: int
    errors: int
    #: Quotes moved by a ModifyOrder the order manager answered (``RequoteMode.AMEND``).
    amends: int = 0
    #: Amendments refused and handled otherwise: left as they were (same terms), placed anew (the order had
    #: ended) or cancelled and placed anew (any other refusal, or no answer).
    amend_fallbacks: int = 0


@final
@attrs.define
class MarketMaker:
    """Quotes ``size`` on both sides of ``instrument`` at ``half_spread_bps`` from the mid."""

    name: str
    exchange: str
    instrument: str
    size: Decimal
    half_spread_bps: Decimal = Decimal(10)
    requote_bps: Decimal = Decimal(2)
    min_requote_interval: float = 0.5
    #: Actor name of the exchange's order manager (``<exchange>.orders`` in a session).
    order_manager: str = ""
    #: Perpetuals only: the leverage set on start, and assumed by the margin check.
    leverage: int = 1
    #: How a requote moves a resting quote (see the module docstring).
    requote: RequoteMode = RequoteMode.CANCEL_PLACE
    _perp: bool = attrs.field(init=False, default=False)
    _rules: InstrumentRules | None = attrs.field(init=False, default=None)
    _base: str = attrs.field(init=False, default="")
    _quote: str = attrs.field(init=False, default="")
    _mid: Decimal | None = attrs.field(init=False, default=None)
    _quoted_mid: Decimal | None = attrs.field(init=False, default=None)
    _quotes: dict[Side, Resting] = attrs.field(init=False, factory=dict)
    _ended: dict[str, None] = attrs.field(init=False, factory=dict)
    _free: dict[str, Decimal] = attrs.field(init=False, factory=dict)
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _placed: int = attrs.field(init=False, default=0)
    _cancelled: int = attrs.field(init=False, default=0)
    _requotes: int = attrs.field(init=False, default=0)
    _fills: int = attrs.field(init=False, default=0)
    _skipped: int = attrs.field(init=False, default=0)
    _errors: int = attrs.field(init=False, default=0)
    _amends: int = attrs.field(init=False, default=0)
    _amend_fallbacks: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.size <= 0 or self.half_spread_bps <= 0:
            raise ConfigError(f"{self.name}: size and half_spread_bps must be positive")
        kind, self._base, self._quote, _ = Instrument.parse_name(self.instrument)
        self._perp = kind is InstrumentKind.PERPETUAL
        if self.leverage < 1:
            raise ConfigError(f"{self.name}: leverage must be >= 1, got {self.leverage}")
        if not self.order_manager:
            self.order_manager = f"{self.exchange}.orders"

    @classmethod
    def from_params(cls, name: str, exchange: str, instrument: str, params: Mapping[str, object]) -> MarketMaker:
        """Build from config parameters (decimals as strings, so they stay exact)."""

        def dec(key: str, default: str) -> Decimal:
            value = params.get(key, default)
            if not isinstance(value, (str, int)):
                raise ConfigError(f"{name}: parameter {key!r} must be a decimal string")
            return Decimal(value)

        interval = params.get("min_requote_interval", 0.5)
        if not isinstance(interval, (int, float, str)):
            raise ConfigError(f"{name}: min_requote_interval must be a number of seconds")
        leverage = params.get("leverage", 1)
        if not isinstance(leverage, int) or isinstance(leverage, bool):
            raise ConfigError(f"{name}: leverage must be an integer")
        requote = params.get("requote", RequoteMode.CANCEL_PLACE.value)
        try:
            mode = RequoteMode(str(requote))
        except ValueError:
            known = ", ".join(m.value for m in RequoteMode)
            raise ConfigError(f"{name}: requote must be one of {known}, got {requote!r}") from None
        return cls(
            name=name, exchange=exchange, instrument=instrument, size=dec("size", "0.001"),
            half_spread_bps=dec("half_spread_bps", "10"), requote_bps=dec("requote_bps", "2"),
            min_requote_interval=float(interval), leverage=leverage, requote=mode,
        )

    def statistics(self) -> MarketMakerStatistics:
        return MarketMakerStatistics(
            self._placed, self._cancelled, self._requotes, self._fills, self._skipped, self._errors,
            self._amends, self._amend_fallbacks,
        )  # fmt: skip

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        market = ctx.subscribe(f"market.{self.exchange}.{self.instrument}")
        account = ctx.subscribe(f"account.{self.exchange}")
        rules = await ctx.ask(self.order_manager, GetRules(instrument=self.instrument))
        assert isinstance(rules, InstrumentRules)
        self._rules = rules
        if self._perp:
            await ctx.ask(
                self.order_manager,
                SetLeverage(exchange=self.exchange, instrument=self.instrument, leverage=self.leverage),
            )
        balances = await ctx.ask(self.order_manager, GetBalances())
        assert isinstance(balances, Mapping)
        for balance in balances.values():
            self._on_balance(balance)
        # Orders left by an earlier incarnation are ours to manage: cancel them before quoting afresh.
        leftovers = await ctx.ask(self.order_manager, GetOpenOrders(instrument=self.instrument))
        assert isinstance(leftovers, tuple)
        for order in leftovers:
            await self._cancel(ctx, order.client_order_id)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_market, market)
                nursery.start_soon(self._read_account, account)
                await self._quote_loop(ctx)
        finally:
            with ctx.shutdown_scope():
                for resting in list(self._quotes.values()):
                    await self._cancel(ctx, resting.client_order_id)

    async def _read_market(self, market: trio.abc.ReceiveChannel[object]) -> None:
        async for event in market:
            if isinstance(event, BestBidAsk) and event.bid_price is not None and event.ask_price is not None:
                self._mid = (event.bid_price + event.ask_price) / 2
                if self._needs_requote():
                    self._wake.set()

    async def _read_account(self, account: trio.abc.ReceiveChannel[object]) -> None:
        async for event in account:
            if isinstance(event, Balance):
                self._on_balance(event)
            elif isinstance(event, Fill) and event.instrument == self.instrument:
                self._fills += 1
            elif isinstance(event, OrderUpdate) and event.instrument == self.instrument:
                self._on_order(event)

    def _on_balance(self, balance: Balance) -> None:
        self._free[balance.asset] = balance.free

    def _on_order(self, update: OrderUpdate) -> None:
        """Follow our quotes: an end drops the quote and wakes the loop; a live report refreshes its terms (an
        amendment healed by a report, fills)."""
        cid = update.client_order_id
        if update.status in TERMINAL_STATUSES:
            self._ended[cid] = None
            if len(self._ended) > _ENDED_MEMORY:
                del self._ended[next(iter(self._ended))]
        for side, resting in list(self._quotes.items()):
            if resting.client_order_id != cid:
                continue
            if update.status in TERMINAL_STATUSES:
                del self._quotes[side]
                self._wake.set()
            else:
                self._quotes[side] = resting_quote(update, resting.price)

    def _needs_requote(self) -> bool:
        if self._mid is None:
            return False
        if self._quoted_mid is None or len(self._quotes) < 2:
            return True
        moved = abs(self._mid - self._quoted_mid) / self._quoted_mid
        return moved >= self.requote_bps * _BPS

    async def _quote_loop(self, ctx: Context) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            if self._needs_requote():
                await self._requote(ctx)
            await trio.sleep(self.min_requote_interval)

    async def _requote(self, ctx: Context) -> None:
        assert self._rules is not None and self._mid is not None
        mid = self._mid
        self._requotes += 1
        if self.requote is RequoteMode.CANCEL_PLACE:
            for resting in list(self._quotes.values()):
                await self._cancel(ctx, resting.client_order_id)
            self._quotes.clear()
        offset = mid * self.half_spread_bps * _BPS
        size = self._rules.quantize_size(self.size)
        for side, raw_price in ((Side.BUY, mid - offset), (Side.SELL, mid + offset)):
            price = self._rules.quantize_price(raw_price, side)
            current = self._quotes.get(side)
            if not self._affordable(side, price, size, current):
                self._skipped += 1
                if current is not None:  # it cannot move to the new terms: off the book, as cancel+place does
                    await self._retire(ctx, side, current)
                continue
            if current is None:
                await self._place(ctx, side, price, size)
            else:
                await self._amend(ctx, side, current, price, size)
        self._quoted_mid = mid

    def _affordable(self, side: Side, price: Decimal, size: Decimal, current: Resting | None) -> bool:
        """Whether the free balance covers a quote of ``size`` at ``price``. On spot, amending ``current``
        frees what it holds first, so only the difference must be free; a perpetual's free balance is the
        wallet, which resting orders do not reduce, so each side's whole margin is checked as for a placement."""
        if self._perp:
            need, asset = price * size / self.leverage, self._quote
        else:
            need, asset = (price * size, self._quote) if side is Side.BUY else (size, self._base)
            if current is not None:
                need -= current.price * current.remaining if side is Side.BUY else current.remaining
        return self._free.get(asset, _ZERO) >= need

    async def _place(self, ctx: Context, side: Side, price: Decimal, size: Decimal) -> None:
        command = PlaceOrder(
            exchange=self.exchange, instrument=self.instrument, side=side, order_type=OrderType.LIMIT_MAKER,
            size=size, price=price,
        )
        try:
            update = await ctx.ask(self.order_manager, command)
        except (ClobactorsError, ActorUnavailable) as exc:
            self._errors += 1
            logger.info("%s: %s quote at %s refused: %s", self.name, side.value, price, exc)
            return
        assert isinstance(update, OrderUpdate)
        self._placed += 1
        self._follow(side, "", update, price)

    async def _amend(self, ctx: Context, side: Side, quote: Resting, price: Decimal, size: Decimal) -> None:
        """Move ``quote`` to ``price`` with ``size`` left to trade (total: what filled plus ``size``)."""
        total = quote.filled + size
        if (price, total) == (quote.price, quote.size):
            return  # already there
        cid = quote.client_order_id
        command = ModifyOrder(
            exchange=self.exchange, instrument=self.instrument, client_order_id=cid, new_price=price, new_size=total
        )
        try:
            update = await ctx.ask(self.order_manager, command)
        except OrderRejected as exc:
            self._amend_fallbacks += 1
            if exc.code in SAME_TERMS_CODES:
                logger.info("%s: %s quote %s already at %s", self.name, side.value, cid, price)
                if self._quotes.get(side) is quote:
                    quote.price, quote.size = price, total
                return
            await self._replace(ctx, side, quote, price, size, exc)
            return
        except UnknownOrder as exc:
            self._amend_fallbacks += 1
            logger.info("%s: %s quote %s ended before its amendment: %s", self.name, side.value, cid, exc)
            self._drop(side, cid)  # its real end comes on the bus; quote the side afresh
            await self._place(ctx, side, price, size)
            return
        except (ClobactorsError, ActorUnavailable) as exc:
            self._amend_fallbacks += 1
            await self._replace(ctx, side, quote, price, size, exc)
            return
        assert isinstance(update, OrderUpdate)
        self._amends += 1
        self._follow(side, cid, update, price)

    async def _replace(
        self, ctx: Context, side: Side, quote: Resting, price: Decimal, size: Decimal, why: Exception
    ) -> None:
        """The fallback of a refused (or unanswered) amendment: cancel the quote, place a new one."""
        logger.info("%s: amendment of %s refused (%s): cancel and place", self.name, quote.client_order_id, why)
        await self._retire(ctx, side, quote)
        await self._place(ctx, side, price, size)

    async def _retire(self, ctx: Context, side: Side, quote: Resting) -> None:
        """Cancel ``quote`` and stop following it (a failed cancel leaves it to the order manager)."""
        await self._cancel(ctx, quote.client_order_id)
        self._drop(side, quote.client_order_id)

    def _drop(self, side: Side, client_order_id: str) -> None:
        current = self._quotes.get(side)
        if current is not None and current.client_order_id == client_order_id:
            del self._quotes[side]

    def _follow(self, side: Side, previous: str, update: OrderUpdate, price: Decimal) -> None:
        """Record the order ``update`` answers for ``side`` (a placement's, or an amendment's: ``previous`` is
        the quote amended) as its quote, unless it has ended, here or already on the bus. An amended quote that
        ended (a post-only price that would cross cancels it) wakes the loop to quote the side afresh."""
        if previous and previous != update.client_order_id:
            self._drop(side, previous)  # cancel-replaced: the original is gone, the replacement follows
        if update.status in TERMINAL_STATUSES or update.client_order_id in self._ended:
            self._drop(side, update.client_order_id)
            if previous:
                logger.info("%s: %s quote %s %s when amended", self.name, side.value, previous, update.status.value)
                self._wake.set()
            return
        self._quotes[side] = resting_quote(update, price)

    async def _cancel(self, ctx: Context, client_order_id: str) -> None:
        command = CancelOrder(exchange=self.exchange, instrument=self.instrument, client_order_id=client_order_id)
        try:
            await ctx.ask(self.order_manager, command)
            self._cancelled += 1
        except (ClobactorsError, ActorUnavailable) as exc:
            self._errors += 1
            logger.info("%s: cancel of %s failed: %s", self.name, client_order_id, exc)
