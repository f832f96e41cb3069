"""The demo runs end to end (embedded simulator, session, market maker) and ends with a summary."""

from __future__ import annotations

import io

import trio
import trio.testing

from clobactors.config import OrderEntry
from clobactors.demo import run_demo


async def test_demo_plain_output_and_summary(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    with trio.fail_after(300):
        summary = await run_demo(seconds=20, seed=3, out=out, live=False)
    text = out.getvalue()
    assert "simulator: REST http://127.0.0.1:" in text
    assert "summary" in text
    assert summary.orders_placed >= 2
    assert summary.escalations == 0
    lines = [line for line in text.splitlines() if line.startswith("t=")]
    assert len(lines) >= 15  # one plain line a second when not a terminal


async def test_demo_live_screen(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    with trio.fail_after(300):
        await run_demo(seconds=3, seed=4, out=out, live=True, refresh=1.0)
    screens = out.getvalue().split("\x1b[H\x1b[2J")
    assert len(screens) >= 3
    assert "TOP OF BOOK" in screens[-1]
    assert "FEEDS" in screens[-1]


async def test_demo_with_orders_over_the_websocket_api(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    with trio.fail_after(300):
        summary = await run_demo(seconds=10, seed=3, out=out, live=False, order_entry=OrderEntry.WEBSOCKET)
    assert summary.orders_placed >= 2
    assert (summary.escalations, summary.outcome_unknown) == (0, 0)
