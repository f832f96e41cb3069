"""The dialect registry: names to factories, options passed through, typed errors."""

from __future__ import annotations

import pytest

from clobactors.errors import ConfigError
from clobactors.exchanges import DIALECTS, dialect_names, get_dialect
from clobactors.exchanges.binance import BinanceSpotDialect


def test_binance_is_registered() -> None:
    assert "binance" in DIALECTS and dialect_names() == tuple(sorted(DIALECTS))
    dialect = get_dialect("binance")
    assert isinstance(dialect, BinanceSpotDialect) and dialect.rest_base() == "https://api.binance.com"


def test_urls_and_environment_pass_through() -> None:
    dialect = get_dialect(
        "binance", rest="http://127.0.0.1:9", ws="ws://127.0.0.1:9", ws_api="ws://127.0.0.1:9/ws-api/v3"
    )
    assert isinstance(dialect, BinanceSpotDialect)
    assert (dialect.rest_base(), dialect.user_stream_url()) == ("http://127.0.0.1:9", "ws://127.0.0.1:9/ws-api/v3")
    testnet = get_dialect("binance", environment="testnet")
    assert isinstance(testnet, BinanceSpotDialect) and "testnet" in testnet.rest_base()


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("kraken", {}, "unknown exchange"),
        ("binance", {"environment": "moon"}, "bad options"),
        ("binance", {"colour": "red"}, "bad options"),
    ],
)
def test_errors_are_config_errors(name: str, options: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        get_dialect(name, **options)
