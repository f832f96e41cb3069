"""``clobactors demo --strategy xemm``: both simulators, one session, the cross-exchange maker, watched live."""

from __future__ import annotations

import io

import pytest
import trio
import trio.testing

from clobactors.cli import build_parser
from clobactors.demo import run_demo
from clobactors.errors import ConfigError


async def test_xemm_demo_plain_lines_show_exposure_and_hedges(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    with trio.fail_after(300):
        summary = await run_demo(seconds=20, seed=1, out=out, live=False, strategy="xemm")
    text = out.getvalue()
    assert text.count("simulator: REST http://127.0.0.1:") == 2  # spot and USD-M
    lines = [line for line in text.splitlines() if line.startswith("t=")]
    assert len(lines) >= 15
    assert all("BTC-USDT-PERP" in line and "xemm BTC-USDT: exposure=" in line for line in lines[5:])
    assert "hedge_failures=" in lines[-1]
    tail = text.split("summary", 1)[1]
    assert "xemm BTC-USDT: exposure=" in tail
    assert summary.orders_placed >= 2 and summary.escalations == 0


async def test_xemm_demo_live_screen(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    with trio.fail_after(300):
        await run_demo(seconds=3, seed=2, out=out, live=True, refresh=1.0, strategy="xemm")
    screen = out.getvalue().split("\x1b[H\x1b[2J")[-1]
    assert "TOP OF BOOK" in screen and "xemm BTC-USDT: exposure=" in screen


async def test_xemm_demo_refuses_another_maker_venue_and_unknown_strategies() -> None:
    with pytest.raises(ConfigError, match="binance-usdm"):
        await run_demo(seconds=1, exchange="binance-usdm", strategy="xemm")
    with pytest.raises(ConfigError, match="strategy"):
        await run_demo(seconds=1, strategy="grid")


def test_cli_takes_the_strategy_and_keeps_the_market_maker_default() -> None:
    parser = build_parser()
    assert parser.parse_args(["demo"]).strategy == "market_maker"
    assert parser.parse_args(["demo", "--strategy", "xemm", "--seconds", "5"]).strategy == "xemm"
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--strategy", "nope"])
