"""Binance spot trading rules and rate limits: exchangeInfo into InstrumentRules and pools, route costs.

Sources: rest-api.md § Exchange information and § LIMITS; filters.md (PRICE_FILTER, LOT_SIZE,
MARKET_LOT_SIZE, MIN_NOTIONAL, NOTIONAL); each endpoint's **Weight** (kept in :mod:`.urls`).

Pools are named as :func:`clobactors.ratelimit.pools_from_rate_limits` names them
(``REQUEST_WEIGHT_1M``, ``ORDERS_10S``, ``ORDERS_1D``, ``RAW_REQUESTS_5M``), which is also the suffix of
Binance's usage headers (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``), so :func:`reported_usage`
maps headers to pools by text. A request's cost names every pool of the matching type, whatever intervals
the exchange currently defines: weight on each ``REQUEST_WEIGHT_*``, orders on each ``ORDERS_*``, one on each
``RAW_REQUESTS_*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance import urls
from clobactors.exchanges.binance import wire as w
from clobactors.exchanges.binance.convert import EXCHANGE
from clobactors.exchanges.binance_common.exchange_info import collect_rules, param, pools_of
from clobactors.exchanges.standard import ExchangeInfo
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.model import Instrument
from clobactors.ratelimit import Cost, Pool, pools_from_rate_limits
from clobactors.rules import InstrumentRules

__all__ = [
    "DEFAULT_POOLS",
    "cost_for",
    "decode_exchange_info",
    "instrument_rules",
    "reported_usage",
    "request_cost",
    "route_of",
]

_ZERO: Final = Decimal(0)

#: Binance's current spot limits (exchangeInfo ``rateLimits``), used until exchangeInfo has been read.
DEFAULT_POOLS: Final = pools_from_rate_limits(
    [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200_000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61_000},
    ]
)

_WEIGHT: Final = "REQUEST_WEIGHT_"
_ORDERS: Final = "ORDERS_"
_RAW: Final = "RAW_REQUESTS_"
_HEADER_POOLS: Final = (("x-mbx-used-weight-", _WEIGHT), ("x-mbx-order-count-", _ORDERS))


def instrument_rules(symbol: w.SymbolInfo) -> InstrumentRules:
    """One symbol's rules. Raises ConfigError (unusable asset codes) or msgspec errors (malformed filter)."""
    rules: dict[str, object] = {}
    min_notional: Decimal | None = None
    applies_to_market = True
    for item in symbol.symbol_filters():
        match item:
            case w.PriceFilter():
                rules.update(tick_size=item.tick_size, min_price=item.min_price, max_price=item.max_price)
            case w.LotSize():
                rules.update(lot_size=item.step_size, min_size=item.min_qty, max_size=item.max_qty)
            case w.MarketLotSize():
                rules.update(market_lot_size=item.step_size, market_max_size=item.max_qty)
            case w.Notional():
                # NOTIONAL replaced MIN_NOTIONAL; when a symbol still lists both, NOTIONAL wins.
                min_notional, applies_to_market = item.min_notional, item.apply_min_to_market
            case w.MinNotional() if min_notional is None:
                min_notional, applies_to_market = item.min_notional, item.apply_to_market
            case _:
                pass
    instrument = Instrument.spot(EXCHANGE, symbol.base_asset, symbol.quote_asset, symbol.symbol)
    return InstrumentRules(
        instrument=instrument,
        tick_size=_decimal(rules.get("tick_size")),
        lot_size=_decimal(rules.get("lot_size")),
        min_size=_decimal(rules.get("min_size")),
        max_size=_decimal(rules.get("max_size")),
        min_price=_decimal(rules.get("min_price")),
        max_price=_decimal(rules.get("max_price")),
        market_lot_size=_decimal(rules.get("market_lot_size")),
        market_max_size=_decimal(rules.get("market_max_size")),
        min_notional=min_notional if min_notional is not None else _ZERO,
        min_notional_applies_to_market=applies_to_market,
        post_only="LIMIT_MAKER" in symbol.order_types,
        trading=symbol.status == "TRADING" and symbol.is_spot_trading_allowed is not False,
    )


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else _ZERO


def decode_exchange_info(result: HttpResult) -> tuple[ExchangeInfo, tuple[str, ...]]:
    """exchangeInfo into rules by canonical name and pools; also the symbols skipped, with why.

    A symbol we cannot represent (asset codes outside ``[A-Z0-9]``, a malformed filter, a canonical name
    taken by another symbol) is skipped, not fatal: one odd listing must not stop every other market.
    """
    info = w.decode_checked(w.EXCHANGE_INFO_DECODER, result.body, what="GET /api/v3/exchangeInfo")
    rules, skipped = collect_rules(enumerate(info.symbols), instrument_rules, _symbol_name)
    pools = pools_of(info.rate_limits, "Binance")
    return ExchangeInfo(rules=rules, pools=pools, server_time_ms=info.server_time), tuple(skipped)


# -- route costs ---------------------------------------------------------------------------------------------


def _symbol_name(symbol: w.SymbolInfo) -> str:
    return symbol.symbol


def route_of(spec: HttpRequestSpec) -> urls.RouteCost:
    """Weight and order count of one request, from :mod:`.urls` (parameter-dependent routes included)."""
    if spec.method == "GET" and spec.path == urls.DEPTH:
        limit = param(spec, "limit")
        return urls.depth_cost(int(limit) if limit is not None and limit.isdigit() else 100)
    if spec.method == "GET" and spec.path == urls.OPEN_ORDERS:
        return urls.open_orders_cost(with_symbol=param(spec, "symbol") is not None)
    return urls.route_cost(spec.method, spec.path)


def cost_for(route: urls.RouteCost, pools: Iterable[Pool]) -> Cost:
    """Spread a route's weight and order count over the pools the exchange defines."""
    cost: dict[str, int] = {}
    for pool in pools:
        if pool.name.startswith(_WEIGHT):
            cost[pool.name] = route.weight
        elif pool.name.startswith(_ORDERS) and route.orders:
            cost[pool.name] = route.orders
        elif pool.name.startswith(_RAW):
            cost[pool.name] = 1
    return cost


def request_cost(spec: HttpRequestSpec, pools: Iterable[Pool] = DEFAULT_POOLS) -> Cost:
    return cost_for(route_of(spec), pools)


def reported_usage(result: HttpResult) -> Sequence[tuple[str, int]]:
    """``X-MBX-USED-WEIGHT-<n><unit>`` and ``X-MBX-ORDER-COUNT-<n><unit>`` as ``(pool name, used)`` pairs.

    Header names arrive lower case (:class:`~clobactors.httpspec.HttpResult`); a value that is not a
    non-negative integer is skipped (it came from the exchange, so it is not worth failing the answer for).
    """
    usage: list[tuple[str, int]] = []
    for name, value in result.headers:
        for prefix, pool in _HEADER_POOLS:
            if name.startswith(prefix) and value.strip().isdigit():
                usage.append((f"{pool}{name[len(prefix) :].upper()}", int(value)))
    return usage
