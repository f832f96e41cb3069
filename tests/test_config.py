"""Session configuration from TOML: shapes, canonical names, and secrets kept out of files."""

from __future__ import annotations

from pathlib import Path

import pytest

from clobactors.config import Environment, OrderEntry, SessionConfig
from clobactors.errors import ConfigError

GOOD = """
[session]
seed = 7

[[exchanges]]
name = "binance"
environment = "testnet"
instruments = ["BTC-USDT", "ETH-USDT"]
api_key_env = "BINANCE_API_KEY"
api_secret_env = "BINANCE_API_SECRET"

[[strategies]]
kind = "market_maker"
exchange = "binance"
instrument = "BTC-USDT"
[strategies.params]
half_spread_bps = "5"
size = "0.001"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "session.toml"
    path.write_text(text)
    return path


def test_reads_a_session(tmp_path: Path) -> None:
    config = SessionConfig.from_toml(write(tmp_path, GOOD))
    assert config.seed == 7
    binance = config.exchange("binance")
    assert binance.environment is Environment.TESTNET
    assert binance.instruments == ("BTC-USDT", "ETH-USDT")
    assert binance.credential_env == {"api_key": "BINANCE_API_KEY", "api_secret": "BINANCE_API_SECRET"}
    assert config.strategies[0].params == {"half_spread_bps": "5", "size": "0.001"}
    assert binance.max_concurrent_snapshots == 8
    text = GOOD.replace('environment = "testnet"', 'environment = "testnet"\nmax_concurrent_snapshots = 32')
    assert SessionConfig.from_toml(write(tmp_path, text)).exchange("binance").max_concurrent_snapshots == 32
    assert binance.order_journal == ""
    text = GOOD.replace('environment = "testnet"', 'environment = "testnet"\norder_journal = "state/b.jsonl"')
    assert SessionConfig.from_toml(write(tmp_path, text)).exchange("binance").order_journal == "state/b.jsonl"
    assert binance.order_entry is OrderEntry.REST
    text = GOOD.replace('environment = "testnet"', 'environment = "testnet"\norder_entry = "websocket"')
    assert SessionConfig.from_toml(write(tmp_path, text)).exchange("binance").order_entry is OrderEntry.WEBSOCKET


def test_credentials_come_from_the_environment(tmp_path: Path) -> None:
    binance = SessionConfig.from_toml(write(tmp_path, GOOD)).exchange("binance")
    values = binance.credential_values({"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"})
    assert values == {"api_key": "k", "api_secret": "s"}
    with pytest.raises(ConfigError, match="BINANCE_API_SECRET"):
        binance.credential_values({"BINANCE_API_KEY": "k"})


def test_a_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace('api_secret_env = "BINANCE_API_SECRET"', 'api_secret = "hunter2"')
    with pytest.raises(ConfigError, match="looks like a secret") as info:
        SessionConfig.from_toml(write(tmp_path, text))
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('"BTC-USDT", "ETH-USDT"', '"BTCUSDT"', "canonical instrument name"),
        ('environment = "testnet"', 'environment = "moon"', "environment must be one of"),
        ('environment = "testnet"', 'environment = "custom"', "needs at least a 'rest' URL"),
        ('size = "0.001"', "size = 0.001", "not floats"),
        ('exchange = "binance"\ninstrument', 'exchange = "okx"\ninstrument', "unknown exchange"),
        ("seed = 7", 'seed = "x"', "seed must be an integer"),
        ("seed = 7", "seed = 7\n[[exchanges]]\nname = 'x'\nmax_concurrent_snapshots = 0", "max_concurrent_snap"),
        ('environment = "testnet"', 'environment = "testnet"\norder_journal = 1', "'order_journal' must be a str"),
        ('environment = "testnet"', 'environment = "testnet"\norder_journal = " "', "must be a file path"),
        ('environment = "testnet"', 'environment = "testnet"\norder_entry = "fax"', "order_entry must be one of"),
        (
            'environment = "testnet"',
            'environment = "custom"\nrest = "http://127.0.0.1:1"\norder_entry = "websocket"',
            "needs 'ws_api'",
        ),
        (
            'environment = "testnet"',
            'environment = "testnet"\norder_journal = "j"\n[[exchanges]]\nname = "x"\norder_journal = "./j"',
            "its own 'order_journal'",
        ),
    ],
)
def test_bad_configs_are_config_errors(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=match):
        SessionConfig.from_toml(write(tmp_path, GOOD.replace(old, new, 1)))


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        SessionConfig.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        SessionConfig.from_toml(write(tmp_path, "[[exchanges]\n"))
