"""Wire structs mirror the documented JSON both ways: every payload decodes and re-encodes to the same object.

The simulator face encodes these structs, so a field the docs always send must survive the round trip
(decimals digit for digit, nothing dropped); ``null`` values (absent-or-null in Binance's answers) are the one
thing encoding leaves out.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from clobactors.exchanges.binance_usdm import wire as w
from tests.exchanges.binance_usdm.helpers import payload

CASES: list[tuple[str, Any]] = [
    ("ws_depthUpdate.json", w.MarketEvent),
    ("ws_aggTrade.json", w.MarketEvent),
    ("ws_bookTicker.json", w.MarketEvent),
    ("ws_markPriceUpdate.json", w.MarketEvent),
    ("ws_ORDER_TRADE_UPDATE.json", w.UserDataEvent),
    ("ws_ACCOUNT_UPDATE.json", w.UserDataEvent),
    ("ws_MARGIN_CALL.json", w.UserDataEvent),
    ("ws_listenKeyExpired.json", w.UserDataEvent),
    ("ws_TRADE_LITE.json", w.UserDataEvent),
    ("ws_ACCOUNT_CONFIG_UPDATE.json", w.UserDataEvent),
    ("ws_subscribe_request.json", w.StreamRequest),
    ("http_post_order.json", w.Order),
    ("http_delete_order.json", w.Order),
    ("http_get_order.json", w.Order),
    ("http_get_openOrders.json", list[w.Order]),
    ("http_delete_allOpenOrders.json", w.CodeMessage),
    ("http_get_userTrades.json", list[w.UserTrade]),
    ("http_get_balance.json", list[w.AccountBalance]),
    ("http_get_positionRisk_oneway.json", list[w.PositionRisk]),
    ("http_get_positionRisk_hedge.json", list[w.PositionRisk]),
    ("http_get_positionRisk_v3.json", list[w.PositionRisk]),
    ("http_post_leverage.json", w.LeverageResult),
    ("http_post_marginType.json", w.CodeMessage),
    ("http_get_income.json", list[w.Income]),
    ("http_get_exchangeInfo.json", w.ExchangeInfo),
    ("http_get_depth.json", w.OrderBook),
    ("http_get_premiumIndex.json", w.PremiumIndex),
    ("http_post_listenKey.json", w.ListenKey),
    ("http_error.json", w.ErrorBody),
]


def _without_nulls(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_nulls(v) for v in obj]
    return obj


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[name for name, _ in CASES])
def test_documented_payloads_round_trip(name: str, kind: Any) -> None:
    original = payload(name)
    decoded = msgspec.json.decode(json.dumps(original).encode(), type=kind)
    assert json.loads(w.ENCODER.encode(decoded)) == _without_nulls(original)


def test_filters_decode_by_type_and_keep_unknown_ones() -> None:
    body = json.dumps(payload("http_get_exchangeInfo.json")).encode()
    (symbol,) = msgspec.json.decode(body, type=w.ExchangeInfo).symbols
    kinds = [type(f).__name__ for f in symbol.symbol_filters()]
    assert kinds == ["PriceFilter", "LotSize", "MarketLotSize", "MaxNumOrders", "MinNotional", "PercentPrice"]
    unknown = w.decode_filter(b'{"filterType":"POSITION_RISK_CONTROL","positionControlSide":"NONE"}')
    assert isinstance(unknown, w.UnknownFilter) and unknown.filter_type == "POSITION_RISK_CONTROL"
    assert w.encode_filters([unknown]) == (unknown.raw,)
