"""Faults over real loopback sockets: what a client of the simulator sees for each seam."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing

from clobactors.errors import ConnectionLost, TransportError
from clobactors.exchanges import get_credentials, get_dialect
from clobactors.exchanges.binance import Credentials
from clobactors.messages import PlaceOrder
from clobactors.model import Instrument, OrderType, Side
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import open_simulator
from clobactors.transport.http import HttpTransport
from clobactors.transport.ws import open_ws

BTC = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def plan(*rules: FaultRule) -> FaultPlan:
    return FaultPlan(rules=rules, seed=1)


async def test_half_open_socket_is_silent_and_answers_no_ping(autojump_clock: trio.testing.MockClock) -> None:
    rule = FaultRule(kind=FaultKind.WS_HALF_OPEN, target="m:btcusdt@trade", at=10.0)
    with trio.fail_after(300):
        async with open_simulator("binance", seed=1, faults=plan(rule)) as sim:
            injector = sim.faults
            assert isinstance(injector, FaultInjector)
            url = f"{sim.ws_url}/stream?streams=btcusdt@trade"
            async with open_ws(url, ping_interval=30.0, pong_timeout=5.0) as ws:
                last = 0.0

                async def read_until_lost() -> None:
                    nonlocal last
                    while True:
                        await ws.receive()
                        last = trio.current_time()

                with pytest.raises(ConnectionLost, match="no pong"):
                    await read_until_lost()
                assert 0.0 < last < injector.t0 + 10.0  # trades flowed, then nothing
                assert trio.current_time() == pytest.approx(30.0 + 5.0, abs=0.01)  # the first unanswered ping
            # A local, not ``assert injector.disturbed``: mypy would keep the property narrowed to True across
            # the sleep and call the assertion after it unreachable.
            disturbed = injector.disturbed
            assert disturbed  # the server has not noticed yet: its own pong deadline is 60 s
            await trio.sleep(60.0)
            assert not injector.disturbed  # the server's heartbeat gave up on the silent peer and reset it
            (fault,) = injector.log.faults
            assert (fault.kind, fault.at, fault.symbols) == (FaultKind.WS_HALF_OPEN, 10.0, ("BTCUSDT",))


@pytest.mark.parametrize(("kind", "reason"), [(FaultKind.WS_CLOSE, "1001"), (FaultKind.WS_ABORT, "1006")])
async def test_close_and_abort(autojump_clock: trio.testing.MockClock, kind: FaultKind, reason: str) -> None:
    rule = FaultRule(kind=kind, target="m:*", at=5.0)
    with trio.fail_after(60):
        async with open_simulator("binance", seed=1, faults=plan(rule)) as sim:
            async with open_ws(f"{sim.ws_url}/stream?streams=btcusdt@trade") as ws:

                async def read_forever() -> None:
                    while True:
                        await ws.receive()

                with pytest.raises(ConnectionLost, match=reason):
                    await read_forever()
                assert trio.current_time() == pytest.approx(5.0, abs=0.01)


async def test_clock_skew_moves_the_server_clock(autojump_clock: trio.testing.MockClock) -> None:
    rule = FaultRule(kind=FaultKind.CLOCK_SKEW, at=1.0, skew=8.0, duration=10.0)
    dialect = get_dialect("binance", environment="testnet")
    with trio.fail_after(60):
        async with open_simulator("binance", seed=1, faults=plan(rule)) as sim:
            http = HttpTransport.from_url(sim.rest_url)
            try:

                async def server_ms() -> int:
                    return dialect.decode_server_time(await http.request(dialect.server_time_request()))

                before = await server_ms()
                await trio.sleep(2.0)
                assert await server_ms() - before == 10_000  # 2 s later, plus the 8 s step
                await trio.sleep(10.0)
                assert await server_ms() - before == 12_000  # the step reverted after its duration
            finally:
                await http.aclose()


async def test_lost_ack_executes_then_drops_the_answer(autojump_clock: trio.testing.MockClock) -> None:
    rule = FaultRule(kind=FaultKind.LOST_ACK, at=0.0)
    with trio.fail_after(60):
        async with open_simulator("binance", seed=1, flow=False, faults=plan(rule)) as sim:
            dialect = get_dialect("binance", environment="testnet")
            dialect.register_instruments([BTC])
            creds = get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
            assert isinstance(creds, Credentials)  # the registry returns ``object``: the spot dialect signs with these
            command = PlaceOrder(
                exchange="binance", instrument="BTC-USDT", side=Side.BUY, order_type=OrderType.LIMIT_MAKER,
                size=Decimal("0.01"), price=Decimal("50000"), client_order_id="lost-1",
            )  # fmt: skip
            http = HttpTransport.from_url(sim.rest_url)
            try:
                await trio.sleep(0.1)
                spec = dialect.place_order_request(command, BTC, creds, sim.now_ms())
                with pytest.raises(TransportError):
                    await http.request(spec)
            finally:
                await http.aclose()
            order = sim.engine.order(sim.account_id, "BTCUSDT", client_order_id="lost-1")
            assert order is not None and order.status.value == "open"
            injector = sim.faults
            assert isinstance(injector, FaultInjector)
            assert [(f.kind, f.client_order_id) for f in injector.log.faults] == [(FaultKind.LOST_ACK, "lost-1")]
