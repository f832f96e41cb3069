"""The simulated exchange's pure core: a matching engine with accounts, and seeded synthetic order flow.

Nothing here does I/O or reads a clock; callers pass ``now_ns``. Exchange faces and the loopback server
build on :class:`Engine` and :class:`OrderFlow` (see ``engine.py`` for the exchange behaviour chosen).
``Engine(rules, perp=PerpSettings())`` trades linear perpetuals instead; ``engine.perps`` is :class:`Perps`.
"""

from __future__ import annotations

from clobactors.sim.engine import Engine, EngineStatistics
from clobactors.sim.flow import FlowStatistics, OrderFlow, SymbolFlow
from clobactors.sim.perp_api import Perps
from clobactors.sim.perp_config import LeverageBracket, PerpSettings
from clobactors.sim.perp_records import (
    AccountConfigEvent,
    AccountUpdateEvent,
    BalanceChange,
    FundingEvent,
    Income,
    IncomeType,
    MarginBalance,
    MarginCallEvent,
    PerpReject,
    PositionInfo,
    PremiumInfo,
    UpdateReason,
)
from clobactors.sim.records import (
    AssetBalance,
    BalanceEvent,
    BookEvent,
    Depth,
    EngineEvent,
    ExecType,
    Execution,
    OrderEvent,
    OrderInfo,
    PriceLevel,
    Rejection,
    SubmitAccepted,
    SubmitResult,
    TopOfBook,
    TradeEvent,
)
from clobactors.sim.rules import ExpireReason, InstrumentRules, RejectReason, StpMode

__all__ = [
    "AccountConfigEvent",
    "AccountUpdateEvent",
    "AssetBalance",
    "BalanceChange",
    "BalanceEvent",
    "BookEvent",
    "Depth",
    "Engine",
    "EngineEvent",
    "EngineStatistics",
    "ExecType",
    "Execution",
    "ExpireReason",
    "FlowStatistics",
    "FundingEvent",
    "Income",
    "IncomeType",
    "InstrumentRules",
    "LeverageBracket",
    "MarginBalance",
    "MarginCallEvent",
    "OrderEvent",
    "OrderFlow",
    "OrderInfo",
    "PerpReject",
    "PerpSettings",
    "Perps",
    "PositionInfo",
    "PremiumInfo",
    "PriceLevel",
    "RejectReason",
    "Rejection",
    "StpMode",
    "SubmitAccepted",
    "SubmitResult",
    "SymbolFlow",
    "TopOfBook",
    "TradeEvent",
    "UpdateReason",
]
