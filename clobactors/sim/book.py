"""One instrument's order book in ticks and lots: price levels in time priority, and change tracking.

Each level keeps its orders in a dict, which preserves insertion order (time priority) and removes any order
in O(1). Each side keeps a sorted list of level keys (the price for asks, minus the price for bids), so the
best level is always at index 0. Every change to a level's total increments the book's update id; the
changed levels are gathered until :meth:`Book.take_changes` turns them into one diff.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import final

import attrs

from clobactors.model import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from clobactors.sim.positions import OrderMargin
from clobactors.sim.rules import ExpireReason

__all__ = ["Book", "BookChanges", "Level", "SimOrder"]


@final
@attrs.define(eq=False)
class SimOrder:
    """The engine's mutable record of one order; prices in ticks, sizes in lots, amounts in units."""

    order_id: int
    account_id: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    #: Limit price in ticks; ``None`` for market orders.
    price: int | None
    #: Requested lots; ``None`` for a market order sized in quote.
    size: int | None
    #: Quote budget in units for a market order sized in quote, else ``None``.
    quote_size: int | None
    created_ns: int
    updated_ns: int
    filled: int = 0
    filled_quote: int = 0
    status: OrderStatus = OrderStatus.OPEN
    expire_reason: ExpireReason | None = None
    #: The asset this order locks (quote for buys, base for sells) and how many units it holds now.
    lock_asset: str = ""
    locked: int = 0
    #: Perpetuals only: reduce-only flag, the position (leg) traded, and what the order locks per lot.
    reduce_only: bool = False
    position_side: PositionSide | None = None
    margin: OrderMargin | None = None

    @property
    def remaining(self) -> int:
        """Lots still to fill (0 for quote-sized orders, whose limit is their budget)."""
        return 0 if self.size is None else self.size - self.filled


@final
@attrs.define(eq=False)
class Level:
    """Orders resting at one price, oldest first, and their total remaining lots."""

    price: int
    orders: dict[int, SimOrder] = attrs.field(factory=dict)
    lots: int = 0

    def front(self) -> SimOrder:
        return next(iter(self.orders.values()))


@final
@attrs.define
class _BookSide:
    #: +1 for asks (lowest price first), -1 for bids (highest price first).
    _sign: int
    _levels: dict[int, Level] = attrs.field(factory=dict)
    _keys: list[int] = attrs.field(factory=list)

    def best(self) -> Level | None:
        return self._levels[self._sign * self._keys[0]] if self._keys else None

    def get(self, price: int) -> Level | None:
        return self._levels.get(price)

    def level(self, price: int) -> Level:
        level = self._levels.get(price)
        if level is None:
            level = self._levels[price] = Level(price)
            bisect.insort(self._keys, self._sign * price)
        return level

    def drop(self, price: int) -> None:
        del self._levels[price]
        key = self._sign * price
        del self._keys[bisect.bisect_left(self._keys, key)]

    def __iter__(self) -> Iterator[Level]:
        """Levels best first. Do not mutate the side while iterating."""
        for key in self._keys:
            yield self._levels[self._sign * key]

    def __len__(self) -> int:
        return len(self._keys)


@final
@attrs.frozen
class BookChanges:
    """Levels changed since the last take, with their current total lots (0: level gone)."""

    first_update_id: int
    last_update_id: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@final
@attrs.define
class Book:
    """Resting orders of one symbol."""

    update_id: int = 0
    _bids: _BookSide = attrs.field(factory=lambda: _BookSide(-1))
    _asks: _BookSide = attrs.field(factory=lambda: _BookSide(1))
    _changed: dict[tuple[Side, int], None] = attrs.field(factory=dict)
    _first_pending: int = 0

    def side(self, side: Side) -> _BookSide:
        return self._bids if side is Side.BUY else self._asks

    def best(self, side: Side) -> Level | None:
        return self.side(side).best()

    def would_cross(self, side: Side, price: int) -> bool:
        """Whether an order of ``side`` at ``price`` meets the best opposite level."""
        best = self.best(side.opposite)
        if best is None:
            return False
        return price >= best.price if side is Side.BUY else price <= best.price

    def rest(self, order: SimOrder) -> None:
        assert order.price is not None and order.remaining > 0
        level = self.side(order.side).level(order.price)
        level.orders[order.order_id] = order
        level.lots += order.remaining
        self._touch(order.side, order.price)

    def remove(self, order: SimOrder) -> None:
        assert order.price is not None
        side = self.side(order.side)
        level = side.get(order.price)
        assert level is not None and order.order_id in level.orders
        del level.orders[order.order_id]
        level.lots -= order.remaining
        if not level.orders:
            side.drop(order.price)
        self._touch(order.side, order.price)

    def reduce(self, order: SimOrder, lots: int) -> None:
        """A resting order filled ``lots`` (its ``filled`` already updated); drop it once fully filled."""
        assert order.price is not None
        side = self.side(order.side)
        level = side.get(order.price)
        assert level is not None
        level.lots -= lots
        if order.remaining == 0:
            del level.orders[order.order_id]
            if not level.orders:
                side.drop(order.price)
        self._touch(order.side, order.price)

    def _touch(self, side: Side, price: int) -> None:
        self.update_id += 1
        if not self._changed:
            self._first_pending = self.update_id
        self._changed[(side, price)] = None

    def take_changes(self) -> BookChanges | None:
        """The diff since the last call, levels best first per side; ``None`` if nothing changed."""
        if not self._changed:
            return None
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for side, price in self._changed:
            level = self.side(side).get(price)
            (bids if side is Side.BUY else asks).append((price, level.lots if level else 0))
        bids.sort(reverse=True)
        asks.sort()
        self._changed = {}
        return BookChanges(self._first_pending, self.update_id, tuple(bids), tuple(asks))

    def depth(self, side: Side, limit: int | None) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for level in self.side(side):
            if limit is not None and len(out) >= limit:
                break
            out.append((level.price, level.lots))
        return out

    def level_count(self, side: Side) -> int:
        return len(self.side(side))
