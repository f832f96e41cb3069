"""The order-entry actor against the simulator's WebSocket API: the lane handed to the link, retired before the
exchange's 24-hour cut with the requests in flight answered, and REST carrying orders while it is down."""

from __future__ import annotations

import trio
import trio.testing

from clobactors.actors.actor import open_actor_system
from clobactors.actors.bus import Bus
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_entry import OrderEntry
from clobactors.exchanges import get_credentials
from clobactors.exchanges.binance import BinanceSpotDialect
from clobactors.messages import FeedConnected, FeedDown
from clobactors.sim.server import Simulator, open_simulator
from clobactors.transport.http import HttpTransport


def _link(sim: Simulator) -> ExchangeLink:
    dialect = BinanceSpotDialect.for_urls(rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url)
    credentials = get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
    http = HttpTransport.from_url(sim.rest_url)
    return ExchangeLink(name="binance", dialect=dialect, http=http, credentials=credentials)


async def test_a_connection_is_retired_before_it_gets_old(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(7200):
        async with open_simulator("binance", seed=1, symbols=["BTCUSDT"], flow=False) as sim:
            link = _link(sim)
            bus = Bus()
            lifecycle = bus.subscribe("lifecycle", prefix=True, name="test")
            actor = OrderEntry("binance.order_entry", link, max_age=3600.0)
            async with link.http, open_actor_system(bus=bus) as system:
                await system.start(actor)
                first = link.lane
                assert first is not None and first.is_open
                await trio.sleep(3599)
                assert link.lane is first
                await trio.sleep(2)
                second = link.lane
                assert second is not None and second is not first and second.is_open
                assert first.retired and first.error is not None  # closed, after its answers
                stats = actor.statistics()
                assert (stats.connects, stats.reconnects, stats.connected) == (2, 1, True)
            events = []
            while True:
                try:
                    events.append(lifecycle.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            assert [type(e) for e in events if isinstance(e, FeedConnected | FeedDown)] == [FeedConnected] * 2


async def test_without_the_websocket_api_orders_stay_on_rest(autojump_clock: trio.testing.MockClock) -> None:
    """A refused connection leaves the link without a lane (REST carries every order) and is retried."""
    with trio.fail_after(600):
        async with open_simulator("binance", seed=1, symbols=["BTCUSDT"], flow=False) as sim:
            dialect = BinanceSpotDialect.for_urls(
                rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url.replace("/ws-api/v3", "/ws-api/nope")
            )
            credentials = get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
            link = ExchangeLink(
                name="binance", dialect=dialect, http=HttpTransport.from_url(sim.rest_url), credentials=credentials
            )
            actor = OrderEntry("binance.order_entry", link)
            async with link.http, open_actor_system() as system:
                await system.start(actor)  # ready after the first attempt, failed or not
                assert link.lane is None
                await trio.sleep(10)
                stats = actor.statistics()
                assert stats.connects == 0 and stats.reconnects >= 3 and not stats.connected
