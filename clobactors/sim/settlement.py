"""Spot settlement: what one trade moves between two accounts and the exchange, in exact units.

Matching decides who trades how much at what price; this module decides what that means for balances.
Keeping it apart is the seam for perpetuals, whose trades move margin and positions instead of assets.

Spot rules (Binance's defaults without a fee discount asset): the buyer pays quote out of its locked funds
and receives base minus its fee; the seller pays base out of its locked funds and receives quote minus its
fee. Fees are rounded up to the asset's unit and collected by the exchange.
"""

from __future__ import annotations

from typing import final

import attrs

from clobactors.model import Side
from clobactors.sim.accounts import Ledger
from clobactors.sim.book import SimOrder
from clobactors.sim.rules import Scale, fee_units

__all__ = ["SpotTrade", "resting_need", "settle_spot"]


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
