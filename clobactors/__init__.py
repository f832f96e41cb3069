"""clobactors: connect trading programs to central-limit-order-book exchanges.

Three layers (see ``docs/architecture.md``): sans-IO exchange dialects, a supervised Trio actor runtime,
and strategies that are actors too. A simulated exchange speaks each dialect's protocol on loopback.

The names here are the everyday API; the runtime lives in :mod:`clobactors.actors`, the simulator in
:mod:`clobactors.sim`, exchange dialects in :mod:`clobactors.exchanges`.
"""

from __future__ import annotations

from clobactors.config import ExchangeConfig, SessionConfig, StrategyConfig
from clobactors.errors import ClobactorsError
from clobactors.model import (
    Instrument,
    InstrumentKind,
    OrderStatus,
    OrderType,
    PositionAction,
    PositionSide,
    Side,
    TimeInForce,
)

__version__ = "0.1.0"

__all__ = [
    "ClobactorsError",
    "ExchangeConfig",
    "Instrument",
    "InstrumentKind",
    "OrderStatus",
    "OrderType",
    "PositionAction",
    "PositionSide",
    "SessionConfig",
    "Side",
    "StrategyConfig",
    "TimeInForce",
    "__version__",
]
