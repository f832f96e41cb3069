"""Seeded synthetic order flow that keeps the simulated books alive: same seed, same market.

Per symbol, a hidden mid price does a random walk in ticks. Two accounts trade around it:

* the **maker** account keeps ``levels`` price levels a side quoted with post-only orders at
  ``mid ± k * level_spacing`` (``k`` skewed toward the touch, so the book is thicker near the mid), quotes
  the level next to the mid first when a sweep left a gap there, and cancels its stalest quotes (the
  farther of two picked at random) to hold about ``2 * levels * orders_per_level`` orders;
* the **taker** account crosses now and then with market or IOC orders, and whenever the mid moves it
  sweeps the quotes left on the wrong side of the new mid, so prices move through trades, as they do.

Events arrive as a Poisson process of ``event_rate`` per second and symbol. Each symbol has its own
``random.Random`` seeded from ``(seed, symbol)``, so adding a symbol leaves the other symbols' prices, sizes
and timing alone (engine-wide order ids do shift). Every event is applied to the engine at its own scheduled
time, whatever the cadence of :meth:`OrderFlow.step` calls, so the engine's event log depends on the seed
alone. The server's actor calls ``step`` from a trio loop: ``next_ns = flow.step(engine, now_ns)``, then
sleeps until ``next_ns``; stepping late stamps events with their (earlier) scheduled times. Like the
engine, the flow is pure: no I/O, no clock.

:meth:`OrderFlow.anchor` ties a symbol's mid to an outside price (another simulator's mid, say: a perpetual
following its spot market), pulling it a share of the gap at each event on top of its own random walk. The
market then depends on that price too, so it is reproducible only as far as the outside price is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import OrderType, Side, TimeInForce
from clobactors.sim.engine import Engine
from clobactors.sim.records import OrderInfo, Rejection, SubmitAccepted

__all__ = ["FlowStatistics", "OrderFlow", "SymbolFlow"]

#: Flow accounts are funded with this many times the size they could ever quote at once.
_FUNDING_MULTIPLE: Final = 1000
#: Forget own orders that filled once every this many events per symbol.
_PRUNE_EVERY: Final = 64
#: Most maker quotes one event may add while the book is below its target.
_MAX_BURST: Final = 8


@final
@attrs.frozen
class SymbolFlow:
    """How the flow trades one symbol. Sizes default to the instrument's minimum, up to ten times it."""

    initial_mid: Decimal
    #: Events per second (Poisson arrivals).
    event_rate: float = 20.0
    #: Standard deviation of the mid's relative change per square-root second.
    volatility: float = 0.0001
    #: Price levels per side the makers keep quoted.
    levels: int = 100
    #: Ticks between two maker levels.
    level_spacing: int = 1
    #: Average maker orders per level; the flow holds ``2 * levels * orders_per_level`` quotes.
    orders_per_level: float = 1.5
    min_size: Decimal | None = None
    max_size: Decimal | None = None
    #: Shares of events that are taker orders and maker cancels; the rest are new maker quotes.
    taker_share: float = 0.1
    cancel_share: float = 0.2
    #: Share of taker orders sent as market orders (the others are IOC limits a little through the mid).
    market_share: float = 0.5

    def __attrs_post_init__(self) -> None:
        if not self.initial_mid.is_finite() or self.initial_mid <= 0:
            raise ConfigError(f"initial_mid must be positive, got {self.initial_mid}")
        if not (self.event_rate > 0 and self.volatility >= 0 and self.orders_per_level > 0):
            raise ConfigError("event_rate and orders_per_level must be > 0, volatility >= 0")
        if self.levels < 1 or self.level_spacing < 1:
            raise ConfigError("levels and level_spacing must be >= 1")
        shares = (self.taker_share, self.cancel_share, self.market_share)
        if not all(0 <= s <= 1 for s in shares) or self.taker_share + self.cancel_share > 1:
            raise ConfigError("shares must be fractions, and taker_share + cancel_share <= 1")


@final
@attrs.frozen
class FlowStatistics:
    """Counters since the flow started."""

    events: int
    maker_orders: int
    taker_orders: int
    sweeps: int
    cancels: int
    rejections: int


@final
@attrs.define
class _OwnOrders:
    """The maker's resting quotes: O(1) add, remove and uniform random pick."""

    _ids: list[int] = attrs.field(factory=list)
    _pos: dict[int, int] = attrs.field(factory=dict)
    _price: dict[int, int] = attrs.field(factory=dict)

    def add(self, order_id: int, price: int) -> None:
        self._pos[order_id] = len(self._ids)
        self._ids.append(order_id)
        self._price[order_id] = price

    def remove(self, order_id: int) -> None:
        index = self._pos.pop(order_id)
        last = self._ids.pop()
        if last != order_id:
            self._ids[index] = last
            self._pos[last] = index
        del self._price[order_id]

    def pick(self, rng: random.Random) -> int:
        return self._ids[rng.randrange(len(self._ids))]

    def price(self, order_id: int) -> int:
        return self._price[order_id]

    def ids(self) -> list[int]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@final
@attrs.define
class _SymbolState:
    symbol: str
    cfg: SymbolFlow
    rng: random.Random
    tick: Decimal
    lot: Decimal
    min_lots: int
    max_lots: int
    #: Lowest mid in ticks: keeps every maker bid above zero.
    floor: int
    mid: int
    last_ns: int
    next_ns: int
    own: _OwnOrders = attrs.field(factory=_OwnOrders)
    since_prune: int = 0

    @property
    def target(self) -> int:
        return round(2 * self.cfg.levels * self.cfg.orders_per_level)


@final
class OrderFlow:
    """Synthetic makers and takers over an :class:`Engine`; see the module docstring."""

    def __init__(
        self,
        seed: int,
        symbols: Mapping[str, SymbolFlow],
        *,
        maker_account: str = "flow-maker",
        taker_account: str = "flow-taker",
    ) -> None:
        if not symbols:
            raise ConfigError("the flow needs at least one symbol")
        if maker_account == taker_account:
            raise ConfigError("maker and taker accounts must differ")
        self._seed = seed
        self._configs = dict(symbols)
        self._maker = maker_account
        self._taker = taker_account
        self._states: list[_SymbolState] = []
        self._anchors: dict[str, tuple[Callable[[], Decimal | None], float]] = {}
        self._events = self._maker_orders = self._taker_orders = 0
        self._sweeps = self._cancels = self._rejections = 0

    @property
    def started(self) -> bool:
        return bool(self._states)

    def start(self, engine: Engine, now_ns: int) -> int:
        """Open and fund the flow accounts (if absent), quote every level, and return the next event time."""
        if self._states:
            raise ConfigError("the flow has already started")
        funding: dict[str, Decimal] = {}
        for symbol, cfg in self._configs.items():
            if not engine.has_symbol(symbol):
                raise ConfigError(f"flow symbol {symbol!r} is not traded by the engine")
            state = self._state(engine, symbol, cfg, now_ns)
            self._states.append(state)
            rules = engine.rules(symbol)
            base = state.lot * state.max_lots * cfg.levels * _FUNDING_MULTIPLE
            funding[rules.base] = funding.get(rules.base, Decimal(0)) + base
            quote = base * state.tick * state.mid * 10
            funding[rules.quote] = funding.get(rules.quote, Decimal(0)) + quote
        for account in (self._maker, self._taker):
            if not engine.has_account(account):
                engine.add_account(account, funding)
        for state in self._states:
            for k in range(1, state.cfg.levels + 1):
                for side in (Side.BUY, Side.SELL):
                    self._quote(engine, state, side, k, now_ns)
        return self.next_event_ns

    @property
    def next_event_ns(self) -> int:
        return min(s.next_ns for s in self._states)

    def step(self, engine: Engine, now_ns: int) -> int:
        """Apply every event due at or before ``now_ns`` (each at its own time); return the next event time.

        Starts the flow at ``now_ns`` on the first call if :meth:`start` was not called.
        """
        if not self._states:
            return self.start(engine, now_ns)
        while True:
            state = min(self._states, key=lambda s: s.next_ns)
            if state.next_ns > now_ns:
                return state.next_ns
            at = state.next_ns
            self._event(engine, state, at)
            state.next_ns = at + _interval(state)

    def anchor(self, symbol: str, source: Callable[[], Decimal | None], *, pull: float = 0.2) -> None:
        """Pull ``symbol``'s mid toward ``source()`` by ``pull`` (0 to 1) of the gap at each of its events
        (not while ``source()`` is ``None``: the outside price is not known yet)."""
        if symbol not in self._configs:
            raise ConfigError(f"flow does not trade {symbol!r}")
        if not 0.0 < pull <= 1.0:
            raise ConfigError(f"anchor pull must be in (0, 1], got {pull}")
        self._anchors[symbol] = (source, pull)

    def mid(self, symbol: str) -> Decimal:
        """The hidden mid the flow quotes around (ConfigError before the flow started)."""
        for state in self._states:
            if state.symbol == symbol:
                return state.tick * state.mid
        raise ConfigError(f"flow has not started {symbol!r}")

    def statistics(self) -> FlowStatistics:
        return FlowStatistics(
            events=self._events,
            maker_orders=self._maker_orders,
            taker_orders=self._taker_orders,
            sweeps=self._sweeps,
            cancels=self._cancels,
            rejections=self._rejections,
        )

    # -- internals -----------------------------------------------------------------------------------------

    def _state(self, engine: Engine, symbol: str, cfg: SymbolFlow, now_ns: int) -> _SymbolState:
        rules = engine.rules(symbol)
        lot, tick = rules.lot_size, rules.tick_size
        min_size = cfg.min_size or rules.min_size or lot
        max_size = cfg.max_size or min_size * 10
        if rules.max_size is not None:
            max_size = min(max_size, rules.max_size)
        if min_size % lot or max_size % lot or not lot <= min_size <= max_size:
            raise ConfigError(f"flow sizes for {symbol!r} must be lot multiples with min <= max")
        floor = cfg.levels * cfg.level_spacing + 1
        rng = random.Random(f"{self._seed}:{symbol}")
        state = _SymbolState(
            symbol=symbol,
            cfg=cfg,
            rng=rng,
            tick=tick,
            lot=lot,
            min_lots=int(min_size / lot),
            max_lots=int(max_size / lot),
            floor=floor,
            mid=max(floor, int((cfg.initial_mid / tick).to_integral_value())),
            last_ns=now_ns,
            next_ns=now_ns,
        )
        state.next_ns = now_ns + _interval(state)
        return state

    def _event(self, engine: Engine, state: _SymbolState, at: int) -> None:
        self._events += 1
        rng, cfg = state.rng, state.cfg
        elapsed = (at - state.last_ns) / 1e9
        state.last_ns = at
        move = round(rng.gauss(0.0, state.mid * cfg.volatility * math.sqrt(elapsed)))
        anchor = self._anchors.get(state.symbol)
        if anchor is not None:
            source, pull = anchor
            outside = source()
            if outside is not None and outside > 0:
                move += round(pull * (int(outside / state.tick) - state.mid))
        if move:
            state.mid = max(state.floor, state.mid + move)
            self._sweep(engine, state, at)
        state.since_prune += 1
        if state.since_prune >= _PRUNE_EVERY:
            state.since_prune = 0
            for order_id in state.own.ids():
                if not engine.is_open(order_id):
                    state.own.remove(order_id)
        roll = rng.random()
        if roll < cfg.taker_share:
            self._take(engine, state, at)
        elif roll < cfg.taker_share + cfg.cancel_share:
            self._cancel_stalest(engine, state, at)
        else:
            self._close_gaps(engine, state, at)
            # Refill quickly after a sweep (several quotes), but one quote at a time in a full book.
            burst = max(1, min(_MAX_BURST, state.target - len(state.own)))
            for _ in range(burst):
                k = 1 + min(cfg.levels - 1, int(cfg.levels * rng.random() ** 2))
                self._quote(engine, state, rng.choice((Side.BUY, Side.SELL)), k, at)
            while len(state.own) > state.target:
                self._cancel_stalest(engine, state, at)

    def _close_gaps(self, engine: Engine, state: _SymbolState, at: int) -> None:
        """Quote the level next to the mid on a side whose best price is farther away (after a sweep)."""
        top = engine.best_bid_ask(state.symbol)
        inner = state.tick * state.cfg.level_spacing
        mid_price = state.tick * state.mid
        if top.bid_price is None or top.bid_price < mid_price - inner:
            self._quote(engine, state, Side.BUY, 1, at)
        if top.ask_price is None or top.ask_price > mid_price + inner:
            self._quote(engine, state, Side.SELL, 1, at)

    def _size(self, state: _SymbolState) -> Decimal:
        return state.lot * state.rng.randint(state.min_lots, state.max_lots)

    def _quote(self, engine: Engine, state: _SymbolState, side: Side, k: int, at: int) -> None:
        offset = k * state.cfg.level_spacing
        ticks = state.mid - offset if side is Side.BUY else state.mid + offset
        result = engine.submit(
            self._maker, state.symbol, side, OrderType.LIMIT_MAKER, size=self._size(state),
            price=state.tick * ticks, now_ns=at,
        )  # fmt: skip
        self._maker_orders += 1
        if isinstance(result, Rejection):
            self._rejections += 1
        elif engine.is_open(result.order.order_id):
            state.own.add(result.order.order_id, ticks)

    def _take(self, engine: Engine, state: _SymbolState, at: int) -> None:
        rng = state.rng
        side = rng.choice((Side.BUY, Side.SELL))
        size = self._size(state)
        if rng.random() < state.cfg.market_share:
            self._send(engine, state.symbol, side, OrderType.MARKET, size, None, at)
        else:
            through = rng.randint(0, max(1, state.cfg.levels // 10)) * state.cfg.level_spacing
            ticks = state.mid + through if side is Side.BUY else max(1, state.mid - through)
            self._send(engine, state.symbol, side, OrderType.LIMIT, size, state.tick * ticks, at)

    def _sweep(self, engine: Engine, state: _SymbolState, at: int) -> None:
        """Take what rests on the wrong side of the new mid (an IOC at the mid, as large as allowed)."""
        mid_price = state.tick * state.mid
        top = engine.best_bid_ask(state.symbol)
        size = state.lot * state.max_lots * state.cfg.levels
        max_size = engine.rules(state.symbol).max_size
        if max_size is not None:
            size = min(size, max_size)
        if top.ask_price is not None and top.ask_price <= mid_price:
            self._sweeps += 1
            self._send(engine, state.symbol, Side.BUY, OrderType.LIMIT, size, mid_price, at)
        if top.bid_price is not None and top.bid_price >= mid_price:
            self._sweeps += 1
            self._send(engine, state.symbol, Side.SELL, OrderType.LIMIT, size, mid_price, at)

    def _send(
        self, engine: Engine, symbol: str, side: Side, order_type: OrderType, size: Decimal,
        price: Decimal | None, at: int,
    ) -> OrderInfo | None:  # fmt: skip
        result = engine.submit(
            self._taker, symbol, side, order_type, size=size, price=price,
            time_in_force=TimeInForce.IOC if order_type is OrderType.LIMIT else TimeInForce.GTC, now_ns=at,
        )  # fmt: skip
        self._taker_orders += 1
        if isinstance(result, SubmitAccepted):
            return result.order
        self._rejections += 1
        return None

    def _cancel_stalest(self, engine: Engine, state: _SymbolState, at: int) -> None:
        """Cancel the farther from the mid of two random quotes (forget it if it already filled)."""
        if not state.own:
            return
        first, second = state.own.pick(state.rng), state.own.pick(state.rng)
        distance = abs(state.own.price(first) - state.mid), abs(state.own.price(second) - state.mid)
        victim = first if distance[0] >= distance[1] else second
        state.own.remove(victim)
        if not isinstance(engine.cancel(self._maker, state.symbol, order_id=victim, now_ns=at), Rejection):
            self._cancels += 1


def _interval(state: _SymbolState) -> int:
    """Nanoseconds to the next Poisson arrival (at least one)."""
    return max(1, int(state.rng.expovariate(state.cfg.event_rate) * 1e9))
