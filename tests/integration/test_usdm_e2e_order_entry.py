"""End to end: Binance USD-M orders over the WebSocket API (``order_entry = "websocket"``) against the simulator.

A session whose order-entry lane is ``/ws-fapi/v1`` places, partially fills, amends in place (``order.modify``),
queries (``order.status``, ``account.position``, ``v2/account.balance``) and cancels an order: the simulator's
REST request counter does not move meanwhile, and what the bus says matches the engine. A refusal over the lane
is the typed error the same request gets over REST. User-stream reports are awaited on the bus recorder, never
assumed to come before the answers (Binance orders neither).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
import trio
import trio.testing

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_lane import OrderLane
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, OrderEntry, SessionConfig
from clobactors.errors import InsufficientBalance
from clobactors.exchanges import get_credentials
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import CancelOrder, ModifyOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.server import Simulator, open_simulator
from tests.integration.binance_e2e_support import Recorder

EX = "binance_usdm"
BTC = "BTC-USDT-PERP"
SYMBOL = "BTCUSDT"
S = OrderStatus


@contextlib.asynccontextmanager
async def ws_session(sim: Simulator) -> AsyncIterator[tuple[Session, Recorder]]:
    """A USD-M session on ``sim``'s default account with orders over the WebSocket API, and its recorder."""
    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EX, instruments=(BTC,), environment=Environment.CUSTOM, rest=sim.rest_url, ws=sim.ws_url,
                ws_api=sim.ws_api_url, order_entry=OrderEntry.WEBSOCKET,
            ),
        ),
        seed=3,
    )  # fmt: skip
    bus, recorder = Bus(), Recorder()
    subscriptions = [bus.subscribe(f"account.{EX}", name="e2e-account"), bus.subscribe("lifecycle", prefix=True)]

    async def record(subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                recorder.add(event)

    creds = get_credentials(EX, {"api_key": sim.api_key, "api_secret": sim.api_secret})
    async with trio.open_nursery() as nursery:
        for subscription in subscriptions:
            nursery.start_soon(record, subscription)
        async with open_session(config, credentials={EX: creds}, bus=bus, wall_ns=sim.now_ns) as session:
            yield session, recorder


def place(size: str, price: str) -> PlaceOrder:
    return PlaceOrder(
        exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.LIMIT, size=D(size), price=D(price)
    )


async def book_synced(sim: Simulator, account_id: str) -> None:
    """A resting ask moves the empty book, so the book feed takes its depth snapshot (REST) now, not later."""
    ask = sim.engine.submit(account_id, SYMBOL, Side.SELL, OrderType.LIMIT, size=D("0.01"), price=D("61000"),
                            now_ns=sim.now_ns())  # fmt: skip
    assert not hasattr(ask, "reason"), ask
    await trio.sleep(1)


def lane_of(session: Session) -> OrderLane:
    """The order-entry actor is ready once its first connection is up, so a started session has its lane."""
    lane = session.links[EX].lane
    assert lane is not None
    return lane


async def over_lane(lane: OrderLane, spec: HttpRequestSpec) -> HttpResult:
    prepared = lane.prepare(spec)
    assert prepared is not None, f"{spec.method} {spec.path} has a WebSocket twin"
    return await (await lane.send(prepared)).receive()


async def test_an_order_lifecycle_over_the_websocket_api(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False) as sim:
            taker = sim.add_account({"USDT": D(1_000_000)}, account_id="taker").account_id
            async with ws_session(sim) as (session, bus):
                lane, link = lane_of(session), session.links[EX]
                assert link.dialect.order_entry_url() == sim.ws_api_url  # type: ignore[attr-defined]
                assert sim.ws_api_url.endswith("/ws-fapi/v1")
                orders = session.names(EX).orders
                await book_synced(sim, taker)
                rest_before = sim.statistics().rest_requests

                placed = await session.ask(orders, place("0.01", "59000"))
                assert isinstance(placed, OrderUpdate) and placed.status is S.OPEN
                cid = placed.client_order_id
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=cid)
                assert engine is not None and str(engine.order_id) == placed.exchange_order_id

                result = sim.engine.submit(taker, SYMBOL, Side.SELL, OrderType.MARKET, size=D("0.004"),
                                           now_ns=sim.now_ns())  # fmt: skip
                assert not hasattr(result, "reason"), result
                await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == cid and u.status is S.PARTIALLY_FILLED)

                moved = await session.ask(
                    orders, ModifyOrder(exchange=EX, instrument=BTC, client_order_id=cid, new_price=D("59010"))
                )
                assert isinstance(moved, OrderUpdate)
                assert (moved.client_order_id, moved.exchange_order_id, moved.price) == (
                    cid, placed.exchange_order_id, D("59010"),
                )  # fmt: skip
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=cid)
                assert engine is not None and engine.price == D("59010") and engine.filled_size == D("0.004")

                queried = await queries_over_the_lane(lane, link, sim, cid)
                assert (queried.status, queried.price, queried.filled_size) == (
                    S.PARTIALLY_FILLED, D("59010"), D("0.004"),
                )  # fmt: skip

                cancelled = await session.ask(orders, CancelOrder(exchange=EX, instrument=BTC, client_order_id=cid))
                assert isinstance(cancelled, OrderUpdate) and cancelled.status is S.CANCELLED
                engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=cid)
                assert engine is not None and engine.status is S.CANCELLED

                assert sim.statistics().rest_requests == rest_before  # everything above went over the lane
                await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == cid and u.status is S.CANCELLED)
                stats = lane.statistics()
                assert stats.answered >= 6 and stats.failed == 0  # place, amend, 3 queries, cancel
                statuses = bus.statuses(cid)
                assert statuses[:3] == [S.PENDING_CREATE, S.OPEN, S.PARTIALLY_FILLED]
                assert statuses[-2:] == [S.PENDING_CANCEL, S.CANCELLED]
                assert sim.engine.balance(sim.account_id, "USDT").locked == 0


async def queries_over_the_lane(lane: OrderLane, link: ExchangeLink, sim: Simulator, cid: str) -> OrderUpdate:
    """``order.status``, ``account.position`` and ``v2/account.balance``: the engine's truth, decoded as REST."""
    dialect, instrument, recv = link.dialect, link.instrument(BTC), sim.now_ns()
    result = await over_lane(lane, dialect.query_order_request(instrument, cid, link.credentials, link.now_ms()))
    queried = dialect.decode_query_order(result, recv)
    positions = await over_lane(lane, dialect.positions_request(link.credentials, link.now_ms()))  # type: ignore[attr-defined]
    (position,) = dialect.decode_positions(positions, recv)  # type: ignore[attr-defined]
    assert position.size == sim.engine.perps.position(sim.account_id, SYMBOL).size == D("0.004")  # type: ignore[union-attr]
    balances = await over_lane(lane, dialect.balances_request(link.credentials, link.now_ms()))
    (usdt,) = [b for b in dialect.decode_balances(balances, recv) if b.asset == "USDT"]
    engine = sim.engine.balance(sim.account_id, "USDT")
    assert usdt.free + usdt.locked == engine.free + engine.locked
    return queried


async def test_a_refusal_over_the_websocket_api_is_the_rest_refusal(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance-usdm", seed=4, symbols=[SYMBOL], flow=False, funding={"USDT": D(1000)}) as sim,
            ws_session(sim) as (session, bus),
        ):
            lane, link = lane_of(session), session.links[EX]
            await book_synced(sim, sim.add_account({"USDT": D(1_000_000)}, account_id="maker").account_id)
            rest_before = sim.statistics().rest_requests
            with pytest.raises(InsufficientBalance) as over_ws:
                await session.ask(session.names(EX).orders, place("1", "59000"))  # 59000 notional on 1000 USDT
            assert over_ws.value.code == "-2019"
            refused = await bus.wait_for(OrderUpdate, lambda u: u.status is S.REJECTED)
            assert refused.reason
            assert not sim.engine.open_orders(sim.account_id, SYMBOL)
            assert sim.statistics().rest_requests == rest_before and lane.statistics().answered >= 1

            # The very same request over REST: the same typed error, code and text.
            spec = link.dialect.place_order_request(place("1", "59000"), link.instrument(BTC), link.credentials,
                                                    link.now_ms())  # fmt: skip
            over_rest = link.dialect.map_error(await link.http.request(spec))
            assert sim.statistics().rest_requests == rest_before + 1
            assert type(over_rest) is type(over_ws.value) and str(over_rest) == str(over_ws.value)
