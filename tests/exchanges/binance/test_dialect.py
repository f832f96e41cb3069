"""The Binance dialect object: constructors, protocol attributes, registration, sans-IO imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clobactors.client_ids import BINANCE
from clobactors.errors import ConfigError
from clobactors.exchanges.binance import DIALECT_FACTORY, BinanceSpotDialect, Environment
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.exchanges.standard import Channel, Subscription, UserStreamAuth
from clobactors.model import Instrument


def test_for_environment() -> None:
    live = BinanceSpotDialect.for_environment(Environment.LIVE)
    assert (live.name, live.rest_base(), live.max_streams_per_connection) == (
        "binance",
        "https://api.binance.com",
        1024,
    )
    assert live.user_stream_auth is UserStreamAuth.SIGNED_FRAME
    assert (live.idle_timeout, live.max_message_size, live.recv_window) == (60.0, 4 * 1024 * 1024, 5000)
    testnet = BinanceSpotDialect.for_environment(Environment.TESTNET)
    assert testnet.rest_base() == "https://testnet.binance.vision"
    assert testnet.user_stream_url() == "wss://ws-api.testnet.binance.vision/ws-api/v3"


def test_for_urls_points_everything_at_the_simulator() -> None:
    sim = BinanceSpotDialect.for_urls(
        rest="http://127.0.0.1:8080/", ws="ws://127.0.0.1:8081", ws_api="ws://127.0.0.1:8081/ws-api/v3",
        user_stream_auth=UserStreamAuth.LISTEN_KEY,
    )  # fmt: skip
    assert sim.rest_base() == "http://127.0.0.1:8080"
    assert sim.user_stream_url("k") == "ws://127.0.0.1:8081/ws/k"
    btc = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")
    assert (
        sim.market_stream_url([Subscription(Channel.TRADES, btc)]) == "ws://127.0.0.1:8081/stream?streams=btcusdt@trade"
    )


def test_factory_and_options() -> None:
    dialect = DIALECT_FACTORY(environment="testnet", rest="http://127.0.0.1:1")
    assert dialect.rest_base() == "http://127.0.0.1:1"
    assert dialect.endpoints.ws == "wss://stream.testnet.binance.vision"
    with pytest.raises(ConfigError):
        BinanceSpotDialect.for_environment(recv_window=0)
    with pytest.raises(ConfigError):
        BinanceSpotDialect(dialect.endpoints, depth_speed_ms=250)


def test_book_sync_and_client_ids() -> None:
    dialect = BinanceSpotDialect.for_environment()
    sync = dialect.new_book_sync(Instrument.spot("binance", "BTC", "USDT", "BTCUSDT"))
    assert isinstance(sync, BinanceSpotBookSync) and sync.instrument == "BTC-USDT" and sync.needs_rest_snapshot
    assert dialect.client_order_id_spec() is BINANCE


def test_register_refuses_other_exchanges() -> None:
    with pytest.raises(ConfigError, match="okx"):
        BinanceSpotDialect.for_environment().register_instruments([Instrument.spot("okx", "BTC", "USDT", "BTC-USDT")])


def test_statistics_start_at_zero() -> None:
    stats = BinanceSpotDialect.for_environment().statistics()
    assert (stats.unknown_symbols, stats.malformed, stats.foreign_orders, stats.ignored_events) == (0, 0, 0, 0)


def test_dialect_package_imports_without_trio_or_httpx() -> None:
    code = (
        "import sys\n"
        "import clobactors.exchanges\n"
        "from clobactors.exchanges import get_dialect\n"
        "get_dialect('binance')\n"
        "from clobactors.exchanges.binance import codec, codec_rest, commands, dialect, rules, sequencing\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'trio', 'httpx', 'httpcore', 'trio_websocket', 'anyio', 'h11', 'wsproto'})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
