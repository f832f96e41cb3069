"""Canonical instrument naming and the error tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clobactors import errors
from clobactors.model import Instrument, InstrumentKind, format_name

assets = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=10)


def test_spot_and_perp_names() -> None:
    assert Instrument.spot("binance", "BTC", "USDT", "BTCUSDT").name == "BTC-USDT"
    assert Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT").name == "BTC-USDT-PERP"
    inverse = Instrument.perpetual("binance_coinm", "BTC", "USD", "BTCUSD_PERP", settle="BTC")
    assert inverse.name == "BTC-USD-PERP:BTC"
    assert inverse.symbol == "BTCUSD_PERP"


@given(st.sampled_from(list(InstrumentKind)), assets, assets, assets)
def test_name_round_trip(kind: InstrumentKind, base: str, quote: str, settle: str) -> None:
    settle = settle if kind is InstrumentKind.PERPETUAL else ""
    name = format_name(kind, base, quote, settle)
    parsed = Instrument.parse_name(name)
    assert parsed == (kind, base, quote, settle or ("" if kind is InstrumentKind.SPOT else quote))


@pytest.mark.parametrize("bad", ["BTCUSDT", "btc-usdt", "BTC-USDT-SWAP", "BTC--USDT", "", "BTC-USDT-PERP:"])
def test_bad_names_are_config_errors(bad: str) -> None:
    with pytest.raises(errors.ConfigError, match="canonical instrument name"):
        Instrument.parse_name(bad)


def test_bad_asset_is_config_error() -> None:
    with pytest.raises(errors.ConfigError):
        Instrument.spot("x", "btc", "USDT", "btcusdt")


def test_error_tree_and_messages() -> None:
    rejected = errors.InsufficientBalance(
        "Account has insufficient balance", exchange="binance", code="-2010", status=400,
        client_order_id="abc",
    )
    assert isinstance(rejected, errors.OrderRejected)
    assert isinstance(rejected, errors.ExchangeError)
    assert str(rejected) == "[binance, code -2010] Account has insufficient balance"
    limited = errors.RateLimited("Too many requests", status=429, retry_after=3.0)
    assert limited.retry_after == 3.0 and not limited.banned
    gap = errors.SequenceGap("gap", hint=errors.RecoveryHint.RESYNC, instrument="BTC-USDT", expected=5,
                             received=7)
    assert isinstance(gap, errors.RemoteProtocolError)
    assert "resync" in str(gap)
    assert "3 restarts" in str(errors.SupervisorEscalated("ex", 3, 10.0, "boom"))
    with pytest.raises(errors.TransportError, match="refused"):
        raise errors.ConnectFailed("refused", endpoint="https://api.binance.com/api/v3/ping")
