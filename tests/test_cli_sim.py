"""``clobactors sim``: the subcommand is registered, its ready line has the documented keys, bad input exits 2."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from clobactors.cli import build_parser, main
from clobactors.cli_sim import ready_line
from clobactors.sim.server import open_simulator


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def test_sim_subcommand_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(["sim", "binance", "--port", "8080", "--seed", "3", "--symbols", "ETHBTC"])
    assert (args.command, args.exchange, args.host, args.port, args.seed, args.symbols) == (
        "sim", "binance", "127.0.0.1", 8080, 3, "ETHBTC",
    )  # fmt: skip
    defaults = build_parser().parse_args(["sim", "binance"])
    assert (defaults.port, defaults.seed, defaults.symbols) == (0, 0, "BTCUSDT,ETHUSDT")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "nasdaq"])


async def test_ready_line_is_one_json_object_with_urls_and_credentials(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_simulator("binance", seed=3) as sim:
        line = ready_line(sim)
    assert "\n" not in line
    parsed = json.loads(line)
    assert list(parsed) == ["exchange", "rest", "ws", "ws_api", "api_key", "api_secret"]
    assert parsed["exchange"] == "binance" and parsed["ws_api"] == f"{parsed['ws']}/ws-api/v3"
    assert parsed["rest"].startswith("http://127.0.0.1:") and parsed["ws"].startswith("ws://127.0.0.1:")
    assert (parsed["api_key"], parsed["api_secret"]) == (sim.api_key, sim.api_secret)


def test_unknown_symbol_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "binance", "--symbols", "NOPEUSDT"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "unknown symbol 'NOPEUSDT'" in err
