"""Strategies: actors that read canonical events and send commands; they never see a dialect.

:data:`STRATEGIES` maps a config ``kind`` to a builder ``(name, exchange, instrument, params) -> actor``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from clobactors.actors.actor import Actor
from clobactors.strategies.cross_exchange import CrossExchangeMaker
from clobactors.strategies.market_making import MarketMaker

__all__ = ["STRATEGIES", "CrossExchangeMaker", "MarketMaker"]

#: Config ``kind`` -> builder of a fresh strategy actor.
STRATEGIES: Final[Mapping[str, Callable[[str, str, str, Mapping[str, object]], Actor]]] = {
    "market_maker": MarketMaker.from_params,
    #: Quotes on ``exchange``/``instrument``, hedges on params ``hedge_exchange``/``hedge_instrument``.
    "cross_exchange": CrossExchangeMaker.from_params,
}
