"""Binance face: the state its handlers share, and ``exchangeInfo`` built from the engine's rules.

Source for the published shape: rest-api.md § Exchange information and filters.md (PRICE_FILTER, LOT_SIZE,
MARKET_LOT_SIZE, NOTIONAL). Only the order types the engine trades are published (LIMIT, LIMIT_MAKER,
MARKET), and the one self-trade-prevention mode it applies. Sans-IO.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import ErrorCode
from clobactors.exchanges.binance.face_convert import d8, stp_name
from clobactors.exchanges.binance.face_limits import Limits
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_ticker import TickerStats
from clobactors.exchanges.binance.face_user import Accounts, ListenKeys
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import Output
from clobactors.sim.rules import StpMode

__all__ = ["ORDER_TYPES", "FaceCore"]

ORDER_TYPES: Final = ("LIMIT", "LIMIT_MAKER", "MARKET")
#: Binance reports balances and amounts with 8 decimals.
PRECISION: Final = 8
#: Upper bounds published where the engine has none (Binance publishes large finite values, not zero).
_MAX_PRICE: Final = Decimal(1_000_000)
_MAX_QTY: Final = Decimal(9_000_000)
_MAX_NOTIONAL: Final = Decimal(9_000_000)


@final
@attrs.define
class FaceCore:
    """What every handler of the face reads or changes."""

    engine: Engine
    accounts: Accounts
    listen_keys: ListenKeys
    limits: Limits
    stp: StpMode
    #: Order id -> the client id of the cancel request being processed (``c`` of its executionReport).
    cancel_ids: dict[int, str] = attrs.field(factory=dict)
    tickers: dict[str, TickerStats] = attrs.field(factory=dict)
    #: Outputs made outside the engine (listen-key closes, balance updates, depth windows).
    pending: list[Output] = attrs.field(factory=list)
    _cancels: int = 0

    def next_cancel_id(self) -> str:
        self._cancels += 1
        return f"sim-cancel-{self._cancels}"

    def ticker(self, symbol: str) -> TickerStats:
        stats = self.tickers.get(symbol)
        if stats is None:
            stats = self.tickers[symbol] = TickerStats()
        return stats

    def symbol(self, params: Params, name: str = "symbol", *, required: bool = True) -> str | None:
        """A traded symbol, or -1121 Invalid symbol."""
        symbol = params.symbol(name, required=required)
        if symbol is not None and not self.engine.has_symbol(symbol):
            raise FaceError(ErrorCode.BAD_SYMBOL)
        return symbol

    def symbol_info(self, symbol: str) -> wire.SymbolInfo:
        rules = self.engine.rules(symbol)
        min_qty = rules.min_size or rules.lot_size
        max_qty = rules.max_size or _MAX_QTY
        filters: tuple[wire.SymbolFilter, ...] = (
            wire.PriceFilter(min_price=d8(rules.tick_size), max_price=d8(_MAX_PRICE), tick_size=d8(rules.tick_size)),
            wire.LotSize(min_qty=d8(min_qty), max_qty=d8(max_qty), step_size=d8(rules.lot_size)),
            wire.MarketLotSize(min_qty=d8(min_qty), max_qty=d8(max_qty), step_size=d8(rules.lot_size)),
            wire.Notional(
                min_notional=d8(rules.min_notional),
                apply_min_to_market=True,
                max_notional=d8(_MAX_NOTIONAL),
                apply_max_to_market=False,
                avg_price_mins=5,
            ),
        )
        mode = stp_name(self.stp)
        return wire.SymbolInfo(
            symbol=symbol,
            status="TRADING",
            base_asset=rules.base,
            base_asset_precision=PRECISION,
            quote_asset=rules.quote,
            quote_precision=PRECISION,
            quote_asset_precision=PRECISION,
            base_commission_precision=PRECISION,
            quote_commission_precision=PRECISION,
            order_types=ORDER_TYPES,
            iceberg_allowed=False,
            oco_allowed=False,
            oto_allowed=False,
            quote_order_qty_market_allowed=True,
            allow_trailing_stop=False,
            cancel_replace_allowed=False,
            amend_allowed=False,
            is_spot_trading_allowed=True,
            is_margin_trading_allowed=False,
            filters=wire.encode_filters(filters),
            permissions=(),
            permission_sets=(("SPOT",),),
            default_self_trade_prevention_mode=mode,
            allowed_self_trade_prevention_modes=(mode,),
        )

    def exchange_info(self, symbols: tuple[str, ...], now_ms: int) -> wire.ExchangeInfo:
        """rest-api.md § Exchange information: the given symbols (all when empty)."""
        return wire.ExchangeInfo(
            timezone="UTC",
            server_time=now_ms,
            rate_limits=self.limits.rate_limits,
            exchange_filters=(),
            symbols=tuple(self.symbol_info(s) for s in (symbols or self.engine.symbols)),
        )
