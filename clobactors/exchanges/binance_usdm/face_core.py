"""Binance USD-M face: the state its handlers share, its errors, and ``exchangeInfo`` built from the engine.

Source for the published shape: USD-M docs § Market Data › Exchange Information and § Public Endpoints Info ›
Filters. Every symbol is a ``PERPETUAL`` contract margined in its quote asset; only the order types the
engine trades are published (``LIMIT``, ``MARKET``) with ``GTC``, ``IOC``, ``FOK`` and ``GTX``. The face
enforces the filters it publishes: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL (by the engine),
PERCENT_PRICE against the mark price and MAX_NUM_ORDERS (here). Sans-IO.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.exchanges.binance.face_limits import Limits
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_user import Accounts, ListenKeys
from clobactors.exchanges.binance.wire_base import RateLimit
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.errors import ERROR_MESSAGES
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import Output
from clobactors.sim.perp_api import Perps
from clobactors.sim.rules import StpMode

__all__ = ["MAX_OPEN_ORDERS", "PERCENT_DOWN", "PERCENT_UP", "USDM_RATE_LIMITS", "UsdmCore", "fail"]

#: USD-M's published limits (exchangeInfo on fapi): 2400 weight a minute per IP; 300 orders per 10 s and
#: 1200 per minute per account (§ General Info › LIMITS).
USDM_RATE_LIMITS: Final = (
    RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=2400),
    RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=300),
    RateLimit(rate_limit_type="ORDERS", interval="MINUTE", interval_num=1, limit=1200),
)
#: MAX_NUM_ORDERS of BTCUSDT: open orders per account and symbol.
MAX_OPEN_ORDERS: Final = 200
#: PERCENT_PRICE of BTCUSDT: BUY at most mark * 1.05, SELL at least mark * 0.95.
PERCENT_UP: Final = Decimal("1.0500")
PERCENT_DOWN: Final = Decimal("0.9500")
_MAX_PRICE: Final = Decimal(4_529_764)
_MAX_QTY: Final = Decimal(1000)
_MARKET_MAX_QTY: Final = Decimal(120)
#: Codes the face answers beyond :data:`~clobactors.exchanges.binance_usdm.errors.ERROR_MESSAGES` (§ Error Codes).
_MORE_MESSAGES: Final = {
    -1106: "Parameter '%s' sent when not required.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1130: "Data sent for parameter '%s' is not valid.",
    -2028: "Leverage is smaller than permitted: insufficient margin balance.",
    -4003: "Quantity less than or equal to zero.",
    -4004: "Quantity less than min quantity.",
    -4005: "Quantity greater than max quantity.",
}
_JSON_ERROR_STATUS: Final = 400


def fail(code: int, *args: object, status: int = _JSON_ERROR_STATUS) -> FaceError:
    """A futures error answer with the documented message (``%s`` filled from ``args``)."""
    text = ERROR_MESSAGES.get(code) or _MORE_MESSAGES[code]
    return FaceError(code, text % args if args else text, status=status)


@final
@attrs.define
class UsdmCore:
    """What every handler of the face reads or changes."""

    engine: Engine
    perps: Perps
    accounts: Accounts
    listen_keys: ListenKeys
    limits: Limits
    stp: StpMode
    #: Outputs made outside the engine (listen-key closes and expiries, depth windows, mark prices).
    pending: list[Output] = attrs.field(factory=list)
    #: account -> its listen key (futures keepalive and close name no key).
    key_of: dict[str, str] = attrs.field(factory=dict)

    def symbol(self, params: Params, name: str = "symbol", *, required: bool = True) -> str | None:
        """A traded symbol, or -1121 Invalid symbol."""
        symbol = params.symbol(name, required=required)
        if symbol is not None and not self.engine.has_symbol(symbol):
            raise fail(-1121)
        return symbol

    def margin_asset(self, symbol: str) -> str:
        return self.engine.rules(symbol).quote

    def symbol_info(self, symbol: str) -> wire.SymbolInfo:
        rules = self.engine.rules(symbol)
        min_qty = rules.min_size or rules.lot_size
        filters: tuple[wire.SymbolFilter, ...] = (
            wire.PriceFilter(min_price=rules.tick_size, max_price=_MAX_PRICE, tick_size=rules.tick_size),
            wire.LotSize(min_qty=min_qty, max_qty=rules.max_size or _MAX_QTY, step_size=rules.lot_size),
            wire.MarketLotSize(min_qty=min_qty, max_qty=rules.max_size or _MARKET_MAX_QTY, step_size=rules.lot_size),
            wire.MaxNumOrders(limit=MAX_OPEN_ORDERS),
            wire.MaxNumAlgoOrders(limit=10),
            wire.MinNotional(notional=rules.min_notional),
            wire.PercentPrice(multiplier_up=PERCENT_UP, multiplier_down=PERCENT_DOWN, multiplier_decimal="4"),
        )
        tick_exp = rules.tick_size.normalize().as_tuple().exponent
        lot_exp = rules.lot_size.normalize().as_tuple().exponent
        return wire.SymbolInfo(
            symbol=symbol,
            pair=symbol,
            contract_type="PERPETUAL",
            delivery_date=4_133_404_800_000,
            onboard_date=1_569_398_400_000,
            status="TRADING",
            maint_margin_percent=Decimal("2.5000"),
            required_margin_percent=Decimal("5.0000"),
            base_asset=rules.base,
            quote_asset=rules.quote,
            margin_asset=rules.quote,
            price_precision=max(0, -tick_exp) if isinstance(tick_exp, int) else 8,
            quantity_precision=max(0, -lot_exp) if isinstance(lot_exp, int) else 8,
            base_asset_precision=8,
            quote_precision=8,
            underlying_type="COIN",
            underlying_sub_type=("PoW",),
            settle_plan=0,
            trigger_protect=Decimal("0.0500"),
            filters=wire.encode_filters(filters),
            order_types=("LIMIT", "MARKET"),
            time_in_force=("GTC", "IOC", "FOK", "GTX"),
            liquidation_fee=Decimal("0.012500"),
            market_take_bound=Decimal("0.05"),
        )

    def exchange_info(self, now_ms: int) -> wire.ExchangeInfo:
        """§ Market Data › Exchange Information: every symbol, the rate limits, the margin assets."""
        margin_assets = sorted({self.margin_asset(s) for s in self.engine.symbols})
        return wire.ExchangeInfo(
            timezone="UTC",
            server_time=now_ms,
            rate_limits=self.limits.rate_limits,
            exchange_filters=(),
            symbols=tuple(self.symbol_info(s) for s in self.engine.symbols),
            assets=tuple(
                wire.AssetInfo(asset=a, margin_available=True, auto_asset_exchange=Decimal(0)) for a in margin_assets
            ),
        )
