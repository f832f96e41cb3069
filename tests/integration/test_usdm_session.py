"""End to end over loopback: a session's perpetual commands, positions and the demo against the USD-M simulator.

The actors are the spot ones; only the dialect (``binance_usdm``) and the simulator face differ. Fills come
from crossing the synthetic flow with MARKET orders; positions published on the bus must equal the engine's.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.order_messages import ClosePosition, GetPositions
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.demo import run_demo
from clobactors.errors import ConfigError, ExchangeError
from clobactors.exchanges import get_credentials
from clobactors.messages import (
    Event,
    MarkPrice,
    ModifyOrder,
    OrderUpdate,
    PlaceOrder,
    Position,
    SetLeverage,
    SetPositionMode,
)
from clobactors.model import MarginType, OrderType, PositionMode, PositionSide, Side
from clobactors.sim.server import Simulator, open_simulator

EX = "binance_usdm"
BTC = "BTC-USDT-PERP"


@asynccontextmanager
async def usdm_session(sim: Simulator, bus: Bus) -> AsyncIterator[Session]:
    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EX, instruments=(BTC,), environment=Environment.CUSTOM, rest=sim.rest_url, ws=sim.ws_url,
            ),
        ),
        seed=3,
    )
    creds = get_credentials(EX, {"api_key": sim.api_key, "api_secret": sim.api_secret})
    wall = lambda: sim.now_ns()  # noqa: E731  # signing time follows the simulator's (virtual) clock
    async with open_session(config, credentials={EX: creds}, bus=bus, wall_ns=wall) as session:
        yield session


def drain(sub: Subscription) -> list[Event]:
    out: list[Event] = []
    while True:
        try:
            out.append(sub.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out


async def test_perp_commands_positions_and_reduce_only(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=5, symbols=["BTCUSDT"]) as sim:
            bus = Bus()
            seen = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            market = bus.subscribe(f"market.{EX}.{BTC}", name="market", market_capacity=100_000)
            async with usdm_session(sim, bus) as s:
                orders = s.names(EX).orders
                perps = sim.engine.perps
                assert perps is not None  # a USD-M simulator always has its perpetual engine
                leverage = SetLeverage(exchange=EX, instrument=BTC, leverage=5, margin_type=MarginType.ISOLATED)
                assert await s.ask(orders, leverage) == 5
                info = perps.position(sim.account_id, "BTCUSDT")
                assert info.leverage == 5 and info.margin_type is MarginType.ISOLATED
                for mode in (PositionMode.HEDGE, PositionMode.ONE_WAY):
                    assert await s.ask(orders, SetPositionMode(exchange=EX, mode=mode)) is mode
                with pytest.raises(ExchangeError):  # nothing to reduce: the exchange refuses it
                    await s.ask(orders, PlaceOrder(
                        exchange=EX, instrument=BTC, side=Side.SELL, order_type=OrderType.MARKET, size=D("0.01"),
                        reduce_only=True,
                    ))  # fmt: skip
                buy = PlaceOrder(
                    exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.MARKET, size=D("0.05")
                )
                update = await s.ask(orders, buy)
                assert isinstance(update, OrderUpdate)
                await trio.sleep(1)
                engine = perps.position(sim.account_id, "BTCUSDT")
                assert engine.size == D("0.05")
                positions = await s.ask(orders, GetPositions(instrument=BTC))
                assert isinstance(positions, tuple)
                (view,) = positions
                assert isinstance(view, Position)
                assert (view.size, view.entry_price) == (engine.size, engine.entry_price)
                published = [e for e in drain(seen) if isinstance(e, Position)]
                assert published and published[-1].size == engine.size
                assert published[-1].entry_price == engine.entry_price
                # A MARKET close may take only the liquidity the book has: close again until flat, never
                # flipping the position (reduce-only).
                for _ in range(10):
                    if perps.position(sim.account_id, "BTCUSDT").size == 0:
                        break
                    closed = await s.ask(orders, ClosePosition(instrument=BTC))
                    assert isinstance(closed, OrderUpdate) and closed.reduce_only and closed.side is Side.SELL
                    await trio.sleep(2)
                    assert perps.position(sim.account_id, "BTCUSDT").size >= 0
                assert perps.position(sim.account_id, "BTCUSDT").size == 0
                assert await s.ask(orders, GetPositions()) == ()
                published = [e for e in drain(seen) if isinstance(e, Position)]
                assert published and published[-1].size == 0
                with pytest.raises(ConfigError):
                    await s.ask(orders, ClosePosition(instrument=BTC))
                # Amending in place (PUT /fapi/v1/order): same ids, the new price (tests/integration/
                # test_usdm_amend.py covers it in depth).
                resting = await s.ask(orders, PlaceOrder(
                    exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
                    size=D("0.1"), price=D("2000"),
                ))  # fmt: skip
                assert isinstance(resting, OrderUpdate)
                modify = ModifyOrder(exchange=EX, client_order_id=resting.client_order_id, new_price=D("2001"))
                amended = await s.ask(orders, modify)
                assert isinstance(amended, OrderUpdate)
                assert (amended.client_order_id, amended.exchange_order_id, amended.price) == (
                    resting.client_order_id, resting.exchange_order_id, D("2001"),
                )  # fmt: skip
            assert any(isinstance(e, MarkPrice) and e.mark_price > 0 for e in drain(market))  # MARK subscribed


async def test_perp_commands_refused_on_spot(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with open_simulator("binance", seed=1, symbols=["BTCUSDT"]) as sim:
            config = SessionConfig(
                exchanges=(
                    ExchangeConfig(
                        name="binance", instruments=("BTC-USDT",), environment=Environment.CUSTOM,
                        rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url,
                    ),
                ),
                seed=1,
            )
            creds = get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
            async with open_session(config, credentials={"binance": creds}, wall_ns=sim.now_ns) as s:
                orders = s.names("binance").orders
                for payload in (
                    SetLeverage(exchange="binance", instrument="BTC-USDT", leverage=2),
                    SetPositionMode(exchange="binance", mode=PositionMode.HEDGE),
                    GetPositions(),
                    ClosePosition(instrument="BTC-USDT", position_side=PositionSide.LONG),
                ):
                    with pytest.raises(ConfigError):
                        await s.ask(orders, payload)


async def test_demo_on_binance_usdm(autojump_clock: trio.testing.MockClock) -> None:
    started = time.monotonic()
    out = io.StringIO()
    with trio.fail_after(120):
        summary = await run_demo(seconds=20, seed=2, out=out, live=False, exchange="binance-usdm")
    assert "summary" in out.getvalue()
    assert summary.orders_placed > 0
    assert time.monotonic() - started < 30
