"""How the market maker moves and follows its quotes: the requote mode and the resting-quote record.

Split from :mod:`clobactors.strategies.market_making` (which re-exports :class:`RequoteMode`) so each module keeps
one job: that one decides when and where to quote, this one names how a quote moves and what is known of it.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.messages import OrderUpdate

__all__ = ["SAME_TERMS_CODES", "RequoteMode", "Resting", "resting_quote"]

_ZERO = Decimal(0)
#: Refusals of an amendment that say the order already has the terms asked (Binance USD-M -5027 "No need to
#: modify the order."): our view of the quote was stale, and nothing needs doing.
SAME_TERMS_CODES: Final = frozenset({"-5027"})


class RequoteMode(enum.StrEnum):
    """How a requote moves a resting quote to its new price and size."""

    #: Cancel the quote, then place a new one: two requests, a new client order id each time.
    CANCEL_PLACE = "cancel_place"
    #: Amend the quote with ModifyOrder: one request; in place (same ids) where the venue amends, Binance USD-M.
    AMEND = "amend"


@final
@attrs.define
class Resting:
    """One resting quote as the maker last learned it: total ``size`` includes the ``filled`` part."""

    client_order_id: str
    price: Decimal
    size: Decimal
    filled: Decimal = _ZERO

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled


def resting_quote(update: OrderUpdate, price: Decimal) -> Resting:
    """The quote ``update`` reports (``price`` where it states none)."""
    terms = price if update.price is None else update.price
    return Resting(update.client_order_id, terms, update.size, update.filled_size)
