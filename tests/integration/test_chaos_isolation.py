"""Fault isolation: a crashing strategy never resets a connection; a failing exchange never stops a strategy
on another exchange (two simulators, two exchanges of one session speaking the same dialect)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs
import trio
import trio.testing

from clobactors.actors.actor import Actor, Context
from clobactors.actors.bus import Bus
from clobactors.actors.session import open_session
from clobactors.chaos_harness import StrategyFactories, market_makers, open_chaos, quiet_point
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.invariants import SessionObserver, user_key
from clobactors.messages import ActorRestarted, FeedDown, OrderUpdate
from clobactors.monitor import Monitor
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import Simulator, open_simulator
from clobactors.strategies.market_making import MarketMaker


@attrs.define
class Crasher:
    """A strategy with a bug: it crashes shortly after every start while ``budget[0]`` lasts."""

    name: str
    budget: list[int]

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(0.2)
        if self.budget[0] > 0:
            self.budget[0] -= 1
            raise RuntimeError("strategy bug")
        await trio.sleep_forever()


async def test_crashing_strategy_restarts_escalates_and_never_touches_a_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = [11]  # one more than the strategies supervisor's intensity (10 restarts in 60 s)

    def strategies(exchange: str, instruments: Mapping[str, str]) -> StrategyFactories:
        crasher: tuple[str, Callable[[], Actor]] = ("crasher", lambda: Crasher("crasher", budget))
        return [*market_makers(exchange, instruments), crasher]

    with trio.fail_after(600):
        async with open_chaos(FaultPlan(), strategies=strategies) as chaos:
            await trio.sleep(1.0)
            connections = chaos.sim.statistics().ws_connections
            orders_before = len(chaos.observer.orders)
            await trio.sleep(120.0)
            summary = chaos.monitor.summary()
            assert budget == [0] and summary.escalations == 1 and summary.restarts >= 11
            assert chaos.sim.statistics().ws_connections == connections  # no feed was reset
            assert all(health.downs == 0 for health in chaos.monitor.feeds.values())
            assert len(chaos.observer.orders) > orders_before  # the market maker kept quoting
            point = await chaos.quiet_point(settle=5.0)
            assert point.violations == ()


def exchange_config(name: str, sim: Simulator) -> ExchangeConfig:
    return ExchangeConfig(
        name=name, dialect="binance", instruments=("BTC-USDT",), environment=Environment.CUSTOM,
        rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url,
    )  # fmt: skip


async def test_failing_exchange_never_stops_a_strategy_on_another(autojump_clock: trio.testing.MockClock) -> None:
    storm = FaultPlan(
        rules=(
            FaultRule(kind=FaultKind.WS_ABORT, target="*", at=10.0, every=4.0, until=50.0, count=2),
            FaultRule(kind=FaultKind.HTTP_418, at=20.0, retry_after=20.0),
            FaultRule(kind=FaultKind.HTTP_5XX, target="*", probability=0.3, at=10.0, until=50.0),
        ),
        seed=2,
    )
    observer, monitor = SessionObserver(), Monitor()
    with trio.fail_after(600):
        async with (
            open_simulator("binance", seed=1, symbols=["BTCUSDT"]) as calm,
            open_simulator("binance", seed=2, symbols=["BTCUSDT"], faults=storm) as stormy,
        ):
            injector = stormy.faults
            assert isinstance(injector, FaultInjector)
            observer.t0 = injector.t0
            config = SessionConfig(exchanges=(exchange_config("binance", calm), exchange_config("binance-b", stormy)))
            credentials = {
                name: get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
                for name, sim in (("binance", calm), ("binance-b", stormy))
            }

            def maker(exchange: str) -> tuple[str, Callable[[], Actor]]:
                return f"mm.{exchange}", lambda: MarketMaker(
                    name=f"mm.{exchange}", exchange=exchange, instrument="BTC-USDT", size=Decimal("0.01"),
                    half_spread_bps=Decimal("2"),
                )  # fmt: skip

            base = calm.now_ns() - round(trio.current_time() * 1e9)
            bus = Bus()
            events = bus.subscribe("", prefix=True, name="test", market_capacity=64)
            seen: list[tuple[float, object]] = []
            async with trio.open_nursery() as nursery:

                async def fold() -> None:
                    async for event in events:
                        observer.observe(event)
                        monitor.observe(event)
                        if isinstance(event, OrderUpdate | FeedDown | ActorRestarted):
                            seen.append((trio.current_time() - observer.t0, event))

                nursery.start_soon(fold)
                async with open_session(
                    config,
                    strategies=[maker("binance"), maker("binance-b")],
                    credentials=credentials,
                    bus=bus,
                    wall_ns=lambda: base + round(trio.current_time() * 1e9),
                ) as session:
                    await trio.sleep_until(injector.t0 + 55.0)
                    downs = [e for _, e in seen if isinstance(e, FeedDown)]
                    assert downs and {e.exchange for e in downs} == {"binance-b"}  # events keep their exchange
                    calm_orders = [t for t, e in seen if isinstance(e, OrderUpdate) and e.exchange == "binance"]
                    for start in range(10, 50, 10):  # binance kept trading through every part of the storm
                        assert any(start <= t < start + 10 for t in calm_orders), start
                    restarted = {e.actor for _, e in seen if isinstance(e, ActorRestarted)}
                    assert "mm.binance" not in restarted and "binance" not in restarted
                    for exchange, sim, faults in (("binance", calm, None), ("binance-b", stormy, injector)):
                        symbols = {"BTC-USDT": "BTCUSDT"}
                        point = await quiet_point(session, sim, faults, observer, exchange, symbols, settle=15.0)
                        assert point.violations == (), [str(v) for v in point.violations]
                    assert observer.healthy(user_key("binance-b"))
                nursery.cancel_scope.cancel()


def test_two_exchanges_may_share_a_dialect_in_config() -> None:
    table = {"name": "binance-b", "dialect": "binance", "instruments": ["BTC-USDT"], "environment": "testnet"}
    config = ExchangeConfig.from_mapping(table)
    assert (config.name, config.dialect_name) == ("binance-b", "binance")
    assert ExchangeConfig(name="binance", instruments=()).dialect_name == "binance"
