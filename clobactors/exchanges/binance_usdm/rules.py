"""Binance USD-M trading rules and rate limits: exchangeInfo into perpetual InstrumentRules and pools.

Sources: USD-M docs § Market Data › Exchange Information; § Public Endpoints Info › Filters and › Rate
limiters; § General Info › LIMITS; each endpoint's **Request Weight** (kept in :mod:`.urls`).

* **Instruments.** Only ``contractType == "PERPETUAL"`` symbols become instruments:
  ``Instrument.perpetual("binance_usdm", baseAsset, quoteAsset, symbol, settle=marginAsset)``, so ``BTCUSDT``
  is ``BTC-USDT-PERP`` (and a USDC-margined ``BTCUSDC`` is ``BTC-USDC-PERP``). Quarterlies
  (``CURRENT_QUARTER``/``NEXT_QUARTER``...) and ``PERPETUAL_DELIVERING`` are skipped and counted.
* **Rules.** PRICE_FILTER → tick and price bounds; LOT_SIZE → lot and size bounds; MARKET_LOT_SIZE → market lot;
  MIN_NOTIONAL ``notional`` → ``min_notional`` (applies to market orders too, at the mark price);
  PERCENT_PRICE needs the mark price and is left to the exchange. ``post_only`` is true when ``GTX`` is among
  the symbol's ``timeInForce`` values (futures have no LIMIT_MAKER type), ``trading`` when status is TRADING.
* **Pools.** Named as :func:`clobactors.ratelimit.pools_from_rate_limits` names them (``REQUEST_WEIGHT_1M``,
  ``ORDERS_10S``, ``ORDERS_1M``), which is also the suffix of the usage headers ``X-MBX-USED-WEIGHT-1M`` and
  ``X-MBX-ORDER-COUNT-10S``/``-1M``; the spot helpers spread costs and read headers unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.rules import cost_for, reported_usage
from clobactors.exchanges.binance_common.exchange_info import collect_rules, param, pools_of
from clobactors.exchanges.binance_usdm import urls
from clobactors.exchanges.binance_usdm import wire as w
from clobactors.exchanges.binance_usdm.convert import EXCHANGE
from clobactors.exchanges.standard import ExchangeInfo
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.model import Instrument
from clobactors.ratelimit import Cost, Pool, pools_from_rate_limits
from clobactors.rules import InstrumentRules

__all__ = [
    "DEFAULT_POOLS",
    "PERPETUAL",
    "decode_exchange_info",
    "instrument_rules",
    "reported_usage",
    "request_cost",
    "route_of",
]

_ZERO: Final = Decimal(0)
#: The only ``contractType`` this dialect trades.
PERPETUAL: Final = "PERPETUAL"

#: USD-M's current limits (exchangeInfo ``rateLimits`` on fapi), used until exchangeInfo has been read: 2400
#: weight per minute per IP, 300 orders per 10 s and 1200 per minute per account.
DEFAULT_POOLS: Final = pools_from_rate_limits(
    [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]
)


def instrument_rules(symbol: w.SymbolInfo) -> InstrumentRules:
    """One perpetual's rules. Raises ConfigError (unusable asset codes) or msgspec errors (malformed filter)."""
    found: dict[str, Decimal] = {}
    for item in symbol.symbol_filters():
        match item:
            case w.PriceFilter():
                found.update(tick_size=item.tick_size, min_price=item.min_price, max_price=item.max_price)
            case w.LotSize():
                found.update(lot_size=item.step_size, min_size=item.min_qty, max_size=item.max_qty)
            case w.MarketLotSize():
                found.update(market_lot_size=item.step_size, market_max_size=item.max_qty)
            case w.MinNotional():
                found.update(min_notional=item.notional)
            case _:
                pass
    instrument = Instrument.perpetual(
        EXCHANGE, symbol.base_asset, symbol.quote_asset, symbol.symbol, settle=symbol.margin_asset
    )
    return InstrumentRules(
        instrument=instrument,
        tick_size=found.get("tick_size", _ZERO),
        lot_size=found.get("lot_size", _ZERO),
        min_size=found.get("min_size", _ZERO),
        max_size=found.get("max_size", _ZERO),
        min_price=found.get("min_price", _ZERO),
        max_price=found.get("max_price", _ZERO),
        market_lot_size=found.get("market_lot_size", _ZERO),
        market_max_size=found.get("market_max_size", _ZERO),
        min_notional=found.get("min_notional", _ZERO),
        min_notional_applies_to_market=True,
        post_only="GTX" in symbol.time_in_force,
        trading=symbol.status == "TRADING",
    )


def decode_exchange_info(result: HttpResult) -> tuple[ExchangeInfo, tuple[str, ...], int]:
    """exchangeInfo into rules by canonical name and pools; also the symbols skipped (with why) and how many
    non-perpetual contracts were left out.

    A perpetual we cannot represent (odd asset codes, a malformed filter, a canonical name already taken) is
    skipped, not fatal: one odd listing must not stop every other market.
    """
    info = w.decode_checked(w.EXCHANGE_INFO_DECODER, result.body, what="GET /fapi/v1/exchangeInfo")
    perpetuals = [(i, s) for i, s in enumerate(info.symbols) if s.contract_type == PERPETUAL]
    not_perpetual = len(info.symbols) - len(perpetuals)
    rules, skipped = collect_rules(perpetuals, instrument_rules, _symbol_name)
    pools = pools_of(info.rate_limits, "Binance USD-M")
    return ExchangeInfo(rules=rules, pools=pools, server_time_ms=info.server_time), tuple(skipped), not_perpetual


def _symbol_name(symbol: w.SymbolInfo) -> str:
    return symbol.symbol


def route_of(spec: HttpRequestSpec) -> urls.RouteCost:
    """Weight and order count of one request (parameter-dependent routes included)."""
    if spec.method == "GET" and spec.path == urls.DEPTH:
        limit = param(spec, "limit")
        return urls.depth_cost(int(limit) if limit is not None and limit.isdigit() else 500)
    return urls.route_cost(spec.method, spec.path, with_symbol=param(spec, "symbol") is not None)


def request_cost(spec: HttpRequestSpec, pools: tuple[Pool, ...] = DEFAULT_POOLS) -> Cost:
    return cost_for(route_of(spec), pools)
