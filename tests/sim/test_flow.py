"""Seeded order flow: same seed, same market; books stay deep and sane; it runs on trio's MockClock."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest
import trio
import trio.testing

from clobactors.errors import ConfigError
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim import Engine, InstrumentRules, OrderFlow, SubmitAccepted, SymbolFlow, TradeEvent

SECOND = 1_000_000_000
RULES = {
    "BTC-USDT": InstrumentRules(
        base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_notional=D("5"),
        maker_fee=D("0.001"), taker_fee=D("0.001"),
    ),
    "ETH-USDT": InstrumentRules(
        base="ETH", quote="USDT", tick_size=D("0.01"), lot_size=D("0.0001"), min_notional=D("5"),
    ),
}  # fmt: skip
FLOWS = {
    "BTC-USDT": SymbolFlow(
        initial_mid=D("50000"), event_rate=40, levels=60, level_spacing=50, min_size=D("0.001"),
        max_size=D("0.05"),
    ),
    "ETH-USDT": SymbolFlow(
        initial_mid=D("3000"), event_rate=25, levels=40, level_spacing=5, min_size=D("0.01")
    ),
}  # fmt: skip


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def run(seed: int, until_ns: int, cadence_ns: int | None = None) -> tuple[Engine, OrderFlow, bytes]:
    """Drive a fresh engine with the flow up to ``until_ns``: at each event time, or every ``cadence_ns``."""
    engine = Engine(RULES)
    flow = OrderFlow(seed, FLOWS)
    if cadence_ns is None:
        next_ns = flow.step(engine, 0)
        while next_ns <= until_ns:
            next_ns = flow.step(engine, next_ns)
    else:
        for now in range(0, until_ns + 1, cadence_ns):
            flow.step(engine, now)
    return engine, flow, msgspec.json.encode(engine.drain_events())


def test_same_seed_same_market() -> None:
    _, _, first = run(7, 10 * SECOND)
    _, _, second = run(7, 10 * SECOND)
    _, _, other = run(8, 10 * SECOND)
    assert first == second
    assert first != other


def test_events_do_not_depend_on_the_step_cadence() -> None:
    _, _, per_event = run(3, 8 * SECOND)
    _, _, per_second = run(3, 8 * SECOND, cadence_ns=SECOND)
    _, _, once = run(3, 8 * SECOND, cadence_ns=8 * SECOND)
    assert per_event == per_second == once


def test_books_stay_deep_and_sane() -> None:
    engine, flow, log = run(11, 20 * SECOND)
    stats = flow.statistics()
    assert stats.taker_orders > 0 and stats.sweeps > 0 and stats.cancels > 0 and stats.maker_orders > 0
    assert engine.statistics().trades > 100
    for symbol, cfg in FLOWS.items():
        depth = engine.depth(symbol)
        assert len(depth.bids) >= cfg.levels // 2 and len(depth.asks) >= cfg.levels // 2
        assert depth.bids[0][0] < depth.asks[0][0]
        spread = depth.asks[0][0] - depth.bids[0][0]
        assert spread <= 10 * cfg.level_spacing * RULES[symbol].tick_size
        assert depth.bids[0][0] <= flow.mid(symbol) + RULES[symbol].tick_size * cfg.level_spacing
    events = msgspec.json.decode(log)
    assert any(e["type"] == "tradeevent" for e in events)
    # conservation: what the flow accounts hold (plus fees) is what they were funded with
    funded = Engine(RULES)
    OrderFlow(11, FLOWS).start(funded, 0)
    assert engine.asset_totals() == funded.asset_totals()


def test_a_user_trades_against_the_flow() -> None:
    engine, flow, _ = run(5, 5 * SECOND)
    engine.add_account("user", {"USDT": D("100000")})
    result = engine.submit("user", "BTC-USDT", Side.BUY, OrderType.MARKET, size=D("0.1"), now_ns=5 * SECOND)
    assert isinstance(result, SubmitAccepted) and result.order.status is OrderStatus.FILLED
    assert engine.balance("user", "BTC").free == D("0.1") - D("0.0001")
    trades = [e for e in engine.drain_events() if isinstance(e, TradeEvent)]
    assert trades and all(t.taker_side is Side.BUY for t in trades)
    next_ns = flow.step(engine, 5 * SECOND)
    assert next_ns > 5 * SECOND


async def test_flow_on_the_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    """The server's loop: sleep until the next event, step, repeat; exact virtual times, same market."""
    engine, flow = Engine(RULES), OrderFlow(9, FLOWS)
    horizon = 6 * SECOND
    next_ns = flow.step(engine, 0)
    last_ns = 0
    while next_ns <= horizon:
        await trio.sleep_until(next_ns / SECOND)
        now_ns = round(trio.current_time() * SECOND)
        assert now_ns == next_ns
        last_ns = now_ns
        next_ns = flow.step(engine, now_ns)
    assert trio.current_time() == last_ns / SECOND
    _, _, expected = run(9, horizon)
    assert msgspec.json.encode(engine.drain_events()) == expected


def test_flow_config_errors() -> None:
    with pytest.raises(ConfigError):
        SymbolFlow(initial_mid=D(0))
    with pytest.raises(ConfigError):
        SymbolFlow(initial_mid=D(1), event_rate=0)
    with pytest.raises(ConfigError):
        SymbolFlow(initial_mid=D(1), levels=0)
    with pytest.raises(ConfigError):
        SymbolFlow(initial_mid=D(1), taker_share=0.7, cancel_share=0.5)
    with pytest.raises(ConfigError):
        OrderFlow(1, {})
    with pytest.raises(ConfigError):
        OrderFlow(1, FLOWS, maker_account="x", taker_account="x")
    with pytest.raises(ConfigError):
        OrderFlow(1, {"DOGE-USDT": SymbolFlow(initial_mid=D(1))}).start(Engine(RULES), 0)
    with pytest.raises(ConfigError):
        OrderFlow(1, {"BTC-USDT": SymbolFlow(initial_mid=D(1), min_size=D("0.000001"))}).start(
            Engine(RULES), 0
        )
    flow = OrderFlow(1, FLOWS)
    engine = Engine(RULES)
    flow.start(engine, 0)
    with pytest.raises(ConfigError):
        flow.start(engine, 0)
    with pytest.raises(ConfigError):
        flow.mid("DOGE-USDT")
