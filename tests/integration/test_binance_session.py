"""End to end over loopback: a session with the market maker against the Binance simulator."""

from __future__ import annotations

from decimal import Decimal

import trio
import trio.testing

from clobactors.actors.bus import Bus
from clobactors.actors.order_messages import GetBalances
from clobactors.actors.session import open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.messages import Fill, OrderUpdate
from clobactors.sim.server import open_simulator
from clobactors.strategies.market_making import MarketMaker


async def test_market_maker_session(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):
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
            bus = Bus()
            seen = bus.subscribe("account.binance", prefix=True, name="test")
            maker = lambda: MarketMaker(  # noqa: E731
                name="mm", exchange="binance", instrument="BTC-USDT", size=Decimal("0.01"),
                half_spread_bps=Decimal("2"),
            )
            async with open_session(config, strategies=[("mm", maker)], credentials={"binance": creds}, bus=bus) as s:
                await trio.sleep(60)
                balances = await s.ask(s.names("binance").orders, GetBalances())
                assert balances
            updates = fills = 0
            while True:
                try:
                    event = seen.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                updates += isinstance(event, OrderUpdate)
                fills += isinstance(event, Fill)
            assert updates > 0
