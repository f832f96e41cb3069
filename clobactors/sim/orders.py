"""Where the engine finds orders: open ones by id, by account and symbol, by client id; recent closed ones.

Exchanges let clients query an order for a while after it closed (a fill, a cancel); the registry keeps the
last ``closed_limit`` closed orders so that queries work without memory growing with the flow's churn.
When both an exchange id and a client id are given, the exchange id wins (as on Binance).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import final

import attrs

from clobactors.sim.book import SimOrder
from clobactors.sim.records import OrderInfo
from clobactors.sim.rules import Scale

__all__ = ["OrderRegistry", "levels", "order_info"]


@final
@attrs.define
class OrderRegistry:
    """Indexes over the engine's orders; it never changes an order itself."""

    _closed_limit: int
    _open: dict[int, SimOrder] = attrs.field(factory=dict)
    _open_by: dict[tuple[str, str], dict[int, SimOrder]] = attrs.field(factory=dict)
    _open_cids: dict[tuple[str, str, str], SimOrder] = attrs.field(factory=dict)
    _closed: dict[int, SimOrder] = attrs.field(factory=dict)
    #: (account, symbol, client id) -> the latest closed order that used it.
    _closed_cids: dict[tuple[str, str, str], SimOrder] = attrs.field(factory=dict)

    def add_open(self, order: SimOrder) -> None:
        self._open[order.order_id] = order
        self._open_by.setdefault((order.account_id, order.symbol), {})[order.order_id] = order
        self._open_cids[(order.account_id, order.symbol, order.client_order_id)] = order

    def close(self, order: SimOrder) -> None:
        """Record that ``order`` reached a terminal status (whether or not it ever rested)."""
        if self._open.pop(order.order_id, None) is not None:
            del self._open_by[(order.account_id, order.symbol)][order.order_id]
            del self._open_cids[(order.account_id, order.symbol, order.client_order_id)]
        if self._closed_limit == 0:
            return
        self._closed[order.order_id] = order
        self._closed_cids[(order.account_id, order.symbol, order.client_order_id)] = order
        if len(self._closed) > self._closed_limit:
            old = self._closed.pop(next(iter(self._closed)))
            key = (old.account_id, old.symbol, old.client_order_id)
            if self._closed_cids.get(key) is old:
                del self._closed_cids[key]

    def is_open(self, order_id: int) -> bool:
        return order_id in self._open

    def cid_open(self, account_id: str, symbol: str, client_order_id: str) -> bool:
        return (account_id, symbol, client_order_id) in self._open_cids

    def open_for(self, account_id: str, symbol: str) -> list[SimOrder]:
        """Open orders of one account on one symbol, oldest first (a copy: safe to cancel while iterating)."""
        return list(self._open_by.get((account_id, symbol), {}).values())

    def find_open(
        self, account_id: str, symbol: str, order_id: int | None, client_order_id: str
    ) -> SimOrder | None:
        if order_id is not None:
            order = self._open.get(order_id)
        else:
            order = self._open_cids.get((account_id, symbol, client_order_id))
        return order if order is not None and _owned(order, account_id, symbol) else None

    def find(
        self, account_id: str, symbol: str, order_id: int | None, client_order_id: str
    ) -> SimOrder | None:
        """An open order, else the latest closed one still kept."""
        order = self.find_open(account_id, symbol, order_id, client_order_id)
        if order is not None:
            return order
        if order_id is not None:
            order = self._closed.get(order_id)
        else:
            order = self._closed_cids.get((account_id, symbol, client_order_id))
        return order if order is not None and _owned(order, account_id, symbol) else None

    def open_count(self) -> int:
        return len(self._open)

    def closed_count(self) -> int:
        return len(self._closed)


def _owned(order: SimOrder, account_id: str, symbol: str) -> bool:
    return order.account_id == account_id and order.symbol == symbol


def order_info(o: SimOrder, s: Scale) -> OrderInfo:
    """The public snapshot of an order, in Decimals."""
    return OrderInfo(
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        account_id=o.account_id,
        symbol=o.symbol,
        side=o.side,
        order_type=o.order_type,
        time_in_force=o.time_in_force,
        post_only=o.post_only,
        price=None if o.price is None else s.price(o.price),
        size=s.size(o.filled if o.size is None else o.size),
        quote_size=None if o.quote_size is None else s.quote(o.quote_size),
        filled_size=s.size(o.filled),
        filled_quote=s.quote(o.filled_quote),
        status=o.status,
        expire_reason=o.expire_reason,
        created_ns=o.created_ns,
        updated_ns=o.updated_ns,
        reduce_only=o.reduce_only,
        position_side=o.position_side,
    )


def levels(scale: Scale, raw: Sequence[tuple[int, int]]) -> tuple[tuple[Decimal, Decimal], ...]:
    """``(ticks, lots)`` pairs as ``(price, size)``."""
    return tuple((scale.price(p), scale.size(q)) for p, q in raw)
