"""Settlement: what one trade moves between two accounts and the exchange, in exact units.

Matching decides who trades how much at what price; a :class:`Settlement` decides what that means for money.
The executor (``execution.py``) calls it for each trade, for what a resting order keeps locked, to release
locks, for resting orders a trade made invalid (perpetual reduce-only orders beyond their position) and to
close each engine call with balance events. :class:`SpotSettlement` moves assets through the
:class:`~clobactors.sim.accounts.Ledger`; :class:`clobactors.sim.perp.PerpSettlement` moves margin and
positions instead.

Spot rules (Binance's defaults without a fee discount asset): the buyer pays quote out of its locked funds
and receives base minus its fee; the seller pays base out of its locked funds and receives quote minus its
fee. Fees are rounded up to the asset's unit and collected by the exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, final

import attrs

from clobactors.model import Side
from clobactors.sim.accounts import Ledger
from clobactors.sim.book import SimOrder
from clobactors.sim.records import BalanceEvent, EngineEvent
from clobactors.sim.rules import Scale, fee_units

__all__ = ["PartyFill", "Settlement", "SpotSettlement", "SpotTrade", "Traded", "resting_need", "settle_spot"]

#: ``(account, symbol) -> open orders`` (oldest first), as the order registry answers it.
OpenOrders = Callable[[str, str], list[SimOrder]]


@final
@attrs.frozen
class PartyFill:
    """One side of a settled trade: its fee (in ``fee_asset``) and, on perpetuals, the PnL it realized."""

    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal | None = None


@final
@attrs.frozen
class Traded:
    quote_units: int
    buyer: PartyFill
    seller: PartyFill


class Settlement(Protocol):
    """How trades and locks move money; see the module docstring."""

    def trade(
        self, scale: Scale, buyer: SimOrder, seller: SimOrder, maker: SimOrder, price: int, lots: int,
        trade_id: int, now_ns: int,
    ) -> Traded:  # fmt: skip
        """Settle one trade; ``filled`` is not yet updated on the orders. Keeps each order's lock right."""
        ...

    def resting_need(self, order: SimOrder, scale: Scale) -> int:
        """Units a resting order must keep locked for its remaining size."""
        ...

    def release(self, order: SimOrder, units: int) -> None:
        """Give back ``units`` of what ``order`` locked (the caller updates ``order.locked``)."""
        ...

    def invalidated(self, accounts: tuple[str, ...], symbol: str, open_orders: OpenOrders) -> list[SimOrder]:
        """Resting orders of ``accounts`` that the last trade made invalid; the executor expires them."""
        ...

    def flush(self, now_ns: int) -> list[EngineEvent]:
        """Close one engine call: the balance events of accounts it changed."""
        ...


@final
@attrs.frozen
class SpotTrade:
    """Units moved by one trade; ``buyer_fee`` is in base, ``seller_fee`` in quote."""

    base_units: int
    quote_units: int
    buyer_fee: int
    seller_fee: int


def settle_spot(
    ledger: Ledger, scale: Scale, buyer: SimOrder, seller: SimOrder, maker: SimOrder, price: int, lots: int
) -> SpotTrade:
    """Move the money of one trade of ``lots`` at ``price``, taking each payment from its order's lock."""
    rules = scale.rules
    base_units, quote_units = lots * scale.base_per_lot, scale.notional(price, lots)
    ledger.debit_locked(buyer.account_id, rules.quote, quote_units)
    buyer.locked -= quote_units
    ledger.debit_locked(seller.account_id, rules.base, base_units)
    seller.locked -= base_units
    buyer_fee = fee_units(base_units, scale.maker_fee if buyer is maker else scale.taker_fee)
    seller_fee = fee_units(quote_units, scale.maker_fee if seller is maker else scale.taker_fee)
    ledger.credit(buyer.account_id, rules.base, base_units - buyer_fee)
    ledger.collect_fee(rules.base, buyer_fee)
    ledger.credit(seller.account_id, rules.quote, quote_units - seller_fee)
    ledger.collect_fee(rules.quote, seller_fee)
    return SpotTrade(base_units, quote_units, buyer_fee, seller_fee)


def resting_need(order: SimOrder, scale: Scale) -> int:
    """Units a resting limit order must hold locked: quote at its price for a buy, base for a sell."""
    assert order.price is not None
    if order.side is Side.BUY:
        return scale.notional(order.price, order.remaining)
    return order.remaining * scale.base_per_lot


@final
@attrs.define
class SpotSettlement:
    """Spot rules over the ledger (module docstring of :func:`settle_spot`)."""

    _ledger: Ledger

    def trade(
        self, scale: Scale, buyer: SimOrder, seller: SimOrder, maker: SimOrder, price: int, lots: int,
        trade_id: int, now_ns: int,
    ) -> Traded:  # fmt: skip
        moved = settle_spot(self._ledger, scale, buyer, seller, maker, price, lots)
        rules = scale.rules
        return Traded(
            quote_units=moved.quote_units,
            buyer=PartyFill(fee=scale.base(moved.buyer_fee), fee_asset=rules.base),
            seller=PartyFill(fee=scale.quote(moved.seller_fee), fee_asset=rules.quote),
        )

    def resting_need(self, order: SimOrder, scale: Scale) -> int:
        return resting_need(order, scale)

    def release(self, order: SimOrder, units: int) -> None:
        self._ledger.release(order.account_id, order.lock_asset, units)

    def invalidated(self, accounts: tuple[str, ...], symbol: str, open_orders: OpenOrders) -> list[SimOrder]:
        return []

    def flush(self, now_ns: int) -> list[EngineEvent]:
        return [
            BalanceEvent(ts_ns=now_ns, account_id=account_id, balances=balances)
            for account_id, balances in self._ledger.take_changes()
        ]
