"""Shared helpers for the Binance USD-M dialect tests: payload files, golden files, instruments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from clobactors.httpspec import HttpResult
from clobactors.model import Instrument

PAYLOADS = Path(__file__).parent / "payloads"
GOLDEN_ROOT = Path(__file__).resolve().parents[4] / "shared" / "golden"
RECV = 1_700_000_000_123_456_789
BTC = Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT")
BNB = Instrument.perpetual("binance_usdm", "BNB", "USDT", "BNBUSDT")
ETH = Instrument.perpetual("binance_usdm", "ETH", "USDT", "ETHUSDT")
ADA = Instrument.perpetual("binance_usdm", "ADA", "USDT", "ADAUSDT")
INSTRUMENTS = [BTC, BNB, ETH, ADA]


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())["payload"]


def raw(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def ok(body: object, status: int = 200) -> HttpResult:
    return HttpResult(status=status, headers=(), body=raw(body), elapsed=0.0)


def golden(name: str) -> dict[str, Any]:
    """Samples of ``shared/golden/binance_usdm/<name>`` by name (skips when the folder is absent)."""
    path = GOLDEN_ROOT / "binance_usdm" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return {s["name"]: s["json"] for s in json.loads(path.read_text())["samples"]}


def registered() -> BinanceUsdmDialect:
    """A live dialect with the test instruments registered."""
    d = BinanceUsdmDialect.for_environment()
    d.register_instruments(INSTRUMENTS)
    return d
