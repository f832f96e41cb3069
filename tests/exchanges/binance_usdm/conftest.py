"""Fixtures for the Binance USD-M dialect tests."""

from __future__ import annotations

import pytest

from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from tests.exchanges.binance_usdm.helpers import registered


@pytest.fixture
def dialect() -> BinanceUsdmDialect:
    return registered()
