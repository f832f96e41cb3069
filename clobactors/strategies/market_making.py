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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.order_messages import GetBalances, GetOpenOrders, GetRules
from clobactors.errors import ActorUnavailable, ClobactorsError, ConfigError
from clobactors.messages import Balance, BestBidAsk, CancelOrder, Fill, OrderUpdate, PlaceOrder, SetLeverage
from clobactors.model import TERMINAL_STATUSES, Instrument, InstrumentKind, OrderType, Side
from clobactors.rules import InstrumentRules

__all__ = ["MarketMaker", "MarketMakerStatistics"]

logger = logging.getLogger(__name__)

_BPS = Decimal("0.0001")


@final
@attrs.frozen
class MarketMakerStatistics:
    quotes_placed: int
    quotes_cancelled: int
    requotes: int
    fills: int
    skipped_for_balance: int
    errors: int


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
    _perp: bool = attrs.field(init=False, default=False)
    _rules: InstrumentRules | None = attrs.field(init=False, default=None)
    _base: str = attrs.field(init=False, default="")
    _quote: str = attrs.field(init=False, default="")
    _mid: Decimal | None = attrs.field(init=False, default=None)
    _quoted_mid: Decimal | None = attrs.field(init=False, default=None)
    _quotes: dict[Side, str] = attrs.field(init=False, factory=dict)
    _free: dict[str, Decimal] = attrs.field(init=False, factory=dict)
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _placed: int = attrs.field(init=False, default=0)
    _cancelled: int = attrs.field(init=False, default=0)
    _requotes: int = attrs.field(init=False, default=0)
    _fills: int = attrs.field(init=False, default=0)
    _skipped: int = attrs.field(init=False, default=0)
    _errors: int = attrs.field(init=False, default=0)

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
        return cls(
            name=name, exchange=exchange, instrument=instrument, size=dec("size", "0.001"),
            half_spread_bps=dec("half_spread_bps", "10"), requote_bps=dec("requote_bps", "2"),
            min_requote_interval=float(interval), leverage=leverage,
        )

    def statistics(self) -> MarketMakerStatistics:
        return MarketMakerStatistics(
            self._placed, self._cancelled, self._requotes, self._fills, self._skipped, self._errors
        )

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
                for cid in list(self._quotes.values()):
                    await self._cancel(ctx, cid)

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
            elif isinstance(event, OrderUpdate) and event.status in TERMINAL_STATUSES:
                for side, cid in list(self._quotes.items()):
                    if cid == event.client_order_id:
                        del self._quotes[side]
                        self._wake.set()

    def _on_balance(self, balance: Balance) -> None:
        self._free[balance.asset] = balance.free

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
        for cid in list(self._quotes.values()):
            await self._cancel(ctx, cid)
        self._quotes.clear()
        offset = mid * self.half_spread_bps * _BPS
        size = self._rules.quantize_size(self.size)
        for side, raw_price in ((Side.BUY, mid - offset), (Side.SELL, mid + offset)):
            price = self._rules.quantize_price(raw_price, side)
            if self._perp:
                need, asset = price * size / self.leverage, self._quote
            else:
                need, asset = (price * size, self._quote) if side is Side.BUY else (size, self._base)
            if self._free.get(asset, Decimal(0)) < need:
                self._skipped += 1
                continue
            await self._place(ctx, side, price, size)
        self._quoted_mid = mid

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
        if update.status not in TERMINAL_STATUSES:
            self._quotes[side] = update.client_order_id

    async def _cancel(self, ctx: Context, client_order_id: str) -> None:
        command = CancelOrder(exchange=self.exchange, instrument=self.instrument, client_order_id=client_order_id)
        try:
            await ctx.ask(self.order_manager, command)
            self._cancelled += 1
        except (ClobactorsError, ActorUnavailable) as exc:
            self._errors += 1
            logger.info("%s: cancel of %s failed: %s", self.name, client_order_id, exc)
