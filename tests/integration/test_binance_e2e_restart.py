"""End to end: a restarted session reconciles the orders an earlier session left open on the simulator.

Session 1 places four resting orders and stops without cancelling them. While no session runs, the
simulator moves on: a counterparty fills one order (A) and part of another (C), and one (B) is cancelled on
the engine directly. Session 2, a fresh process as far as the connector knows, must list the two orders
still open with their exchange state (adopted: it never placed them), publish the fill of the partially
filled one, match the engine's balances, and be able to cancel what it adopted.

A and B ended while nobody listened and are no longer open. A's trade is still in the exchange's recent fills,
which name A by the exchange's order id: reconciliation queries A by that id, adopts it as filled and
publishes its fill and final status. B ended without a fill, so no list or stream names it: only the order
journal (both sessions given the same file) tells session 2 to ask about it. Without a journal its
cancellation is never learned (the documented limitation, kept as a test below).
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import trio
import trio.testing

from clobactors.actors.session import open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.errors import ConfigError
from clobactors.exchanges import get_credentials
from clobactors.messages import CancelAll, Fill, OrderOutcomeUnknown, OrderUpdate
from clobactors.model import OrderStatus, Side
from clobactors.order_journal import replay
from clobactors.sim.records import OrderInfo
from clobactors.sim.server import Simulator, open_simulator
from tests.integration.binance_e2e_support import (
    EXCHANGE,
    INSTRUMENT,
    SYMBOL,
    Counterparty,
    assert_balances_converge,
    open_counterparty,
    open_e2e_session,
    open_orders,
)
from tests.integration.test_binance_e2e_orders import place

S = OrderStatus


def _journaled(path: str) -> list[str]:
    """Client order ids the journal file holds open."""
    return list(replay(Path(path).read_bytes(), EXCHANGE).open)


async def _leave_orders_and_move_on(sim: Simulator, other: Counterparty, order_journal: str = "") -> dict[str, str]:
    """Session 1 places A..D and stops without cancel-all; then A fills, B is cancelled, C half fills."""
    ids: dict[str, str] = {}
    async with open_e2e_session(sim, cancel_all_on_stop=False, order_journal=order_journal) as (session, _):
        for name, side, price in (("A", Side.BUY, "59990"), ("B", Side.BUY, "59980"),
                                  ("C", Side.SELL, "60100"), ("D", Side.SELL, "60200")):  # fmt: skip
            update = await session.ask(session.names(EXCHANGE).orders, place(side, "0.01", price))
            assert isinstance(update, OrderUpdate) and update.status is S.OPEN
            ids[name] = update.client_order_id
    assert {o.client_order_id for o in sim.engine.open_orders(sim.account_id)} == set(ids.values())
    await trio.sleep(5)  # nobody is connected now
    await other.order("SELL", "LIMIT", D("0.01"), D("59990"), tif="IOC")  # fills A
    cancelled = sim.engine.cancel(sim.account_id, SYMBOL, client_order_id=ids["B"], now_ns=sim.now_ns())
    assert isinstance(cancelled, OrderInfo) and cancelled.status is S.CANCELLED
    await other.order("BUY", "LIMIT", D("0.004"), D("60100"), tif="IOC")  # fills 0.004 of C
    await trio.sleep(5)
    return ids


async def test_restarted_session_reconciles_orders_left_open(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            ids = await _leave_orders_and_move_on(sim, other)
            c_trade = next(t for t in sim.engine.trades_for(sim.account_id, SYMBOL) if t.client_order_id == ids["C"])

            async with open_e2e_session(sim) as (session, bus):
                still_open = {o.client_order_id: o for o in await open_orders(session)}
                assert set(still_open) == {ids["C"], ids["D"]}
                for name, status, filled in (("C", S.PARTIALLY_FILLED, D("0.004")), ("D", S.OPEN, D(0))):
                    order = still_open[ids[name]]
                    engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=ids[name])
                    assert engine is not None
                    assert (order.status, order.filled_size, order.side, order.price, order.size) == (
                        status,
                        filled,
                        Side.SELL,
                        engine.price,
                        D("0.01"),
                    )
                    assert order.exchange_order_id == str(engine.order_id) and order.instrument == INSTRUMENT
                # The adopted orders were announced, and C's fill (recent fills) published once, exactly.
                assert bus.statuses(ids["D"]) == [S.OPEN]
                (fill,) = bus.fills(ids["C"])  # from the trade list, which names no client id: ours is added
                assert (fill.trade_id, fill.exchange_order_id, fill.price, fill.size, fill.fee, fill.fee_asset) == (
                    str(c_trade.trade_id),
                    still_open[ids["C"]].exchange_order_id,
                    D("60100"),
                    D("0.004"),
                    c_trade.fee,
                    "USDT",
                )
                assert [f for f in bus.of(Fill) if f.client_order_id != ids["A"]] == [fill]  # A's: test below
                await assert_balances_converge(session, sim)

                # What was adopted can be managed like our own orders.
                cancelled = await session.ask(session.names(EXCHANGE).orders, CancelAll(exchange=EXCHANGE))
                assert isinstance(cancelled, tuple)
                assert {u.client_order_id: u.status for u in cancelled} == {
                    ids["C"]: S.CANCELLED,
                    ids["D"]: S.CANCELLED,
                }
                assert sim.engine.open_orders(sim.account_id) == ()
                assert await open_orders(session) == ()
                await assert_balances_converge(session, sim)


async def test_restarted_session_publishes_fills_of_orders_that_ended_meanwhile(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            ids = await _leave_orders_and_move_on(sim, other)
            a_trade = next(t for t in sim.engine.trades_for(sim.account_id, SYMBOL) if t.client_order_id == ids["A"])
            engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=ids["A"])
            assert engine is not None and engine.status is S.FILLED
            async with open_e2e_session(sim) as (session, bus):
                # A is adopted as filled: its fill first (named by both ids), then its final status once.
                (fill,) = bus.fills(ids["A"])
                assert (fill.trade_id, fill.exchange_order_id, fill.price, fill.size, fill.fee) == (
                    str(a_trade.trade_id),
                    str(engine.order_id),
                    D("59990"),
                    D("0.01"),
                    a_trade.fee,
                )
                assert bus.statuses(ids["A"]) == [S.FILLED]
                (update,) = [u for u in bus.of(OrderUpdate) if u.client_order_id == ids["A"]]
                assert (update.filled_size, update.avg_fill_price, update.side) == (D("0.01"), D("59990"), Side.BUY)
                assert [e for e in bus.events if e in (fill, update)] == [fill, update]
                assert ids["A"] not in {o.client_order_id for o in await open_orders(session)}
                await assert_balances_converge(session, sim)


async def test_restarted_session_learns_cancellations_of_orders_without_fills(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    journal = str(tmp_path / "binance-orders.jsonl")
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            ids = await _leave_orders_and_move_on(sim, other, journal)
            assert _journaled(journal) == [ids[name] for name in "ABCD"]  # session 1 saw none of them end
            engine = sim.engine.order(sim.account_id, SYMBOL, client_order_id=ids["B"])
            assert engine is not None
            async with open_e2e_session(sim, order_journal=journal) as (session, bus):
                # Known when the session is ready: the start reconciliation asked the exchange about B by its
                # client order id, because the journal said session 1 placed it and never saw it end.
                (update,) = bus.updates(ids["B"])
                assert (update.status, update.filled_size, update.exchange_order_id, update.price, update.size) == (
                    S.CANCELLED,
                    D(0),
                    str(engine.order_id),
                    D("59980"),
                    D("0.01"),
                )
                assert bus.statuses(ids["A"]) == [S.FILLED] and len(bus.fills(ids["A"])) == 1  # as without
                assert bus.of(OrderOutcomeUnknown) == []
                still_open = {o.client_order_id for o in await open_orders(session)}
                assert still_open == {ids["C"], ids["D"]}
                await session.ask(session.names(EXCHANGE).orders, CancelAll(exchange=EXCHANGE))
            # Everything session 2 saw end is done in the journal: a third session asks about none of it (A
            # and C reappear only through their fills, which the exchange's trade list still holds).
            assert _journaled(journal) == []
            async with open_e2e_session(sim, order_journal=journal) as (session, bus):
                assert bus.statuses(ids["B"]) == bus.statuses(ids["D"]) == []
                # Nor are A's and C's fills published again, nor A and C queried: session 2 published them.
                assert bus.fills() == [] and bus.statuses(ids["A"]) == bus.statuses(ids["C"]) == []
                assert await open_orders(session) == ()


async def test_a_restart_does_not_publish_again_fills_an_earlier_session_published(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """E fills while session 1 runs, which publishes it; F part fills while no session runs. The exchange's
    recent trades hold both: session 2 publishes F's fill only, and says nothing of E (journaled as done)."""
    journal = str(tmp_path / "binance-orders.jsonl")
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            async with open_e2e_session(sim, order_journal=journal) as (session, bus):
                placed = [
                    await session.ask(session.names(EXCHANGE).orders, place(side, "0.01", price))
                    for side, price in ((Side.BUY, "59990"), (Side.SELL, "60100"))
                ]
                e, f = (u.client_order_id for u in placed if isinstance(u, OrderUpdate))
                await other.order("SELL", "LIMIT", D("0.01"), D("59990"), tif="IOC")  # fills E, session 1 sees it
                e_fill = await bus.wait_for(Fill, lambda x: x.client_order_id == e)
                await bus.wait_for(OrderUpdate, lambda u: u.client_order_id == e and u.status is S.FILLED)
            assert _journaled(journal) == [f]
            await trio.sleep(5)  # nobody is connected now
            await other.order("BUY", "LIMIT", D("0.004"), D("60100"), tif="IOC")  # fills 0.004 of F
            f_trade = next(t for t in sim.engine.trades_for(sim.account_id, SYMBOL) if t.client_order_id == f)
            assert str(f_trade.trade_id) != e_fill.trade_id
            await trio.sleep(5)
            async with open_e2e_session(sim, order_journal=journal) as (session, bus):
                assert bus.fills(e) == [] and bus.statuses(e) == []  # published by session 1: not again
                (f_fill,) = bus.of(Fill)  # the one fill no session published yet
                assert (f_fill.client_order_id, f_fill.trade_id, f_fill.size) == (f, str(f_trade.trade_id), D("0.004"))
                # Adopted from the open-order list, then its fill merged (each publishes its state, as for C).
                assert set(bus.statuses(f)) == {S.PARTIALLY_FILLED} and bus.updates(f)[-1].filled_size == D("0.004")
                assert {o.client_order_id for o in await open_orders(session)} == {f}
                await assert_balances_converge(session, sim)


async def test_without_a_journal_a_cancellation_without_fills_is_not_learned(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The documented limitation without ``order_journal``: nothing names B, so nothing is said about it."""
    with trio.fail_after(120):
        async with (
            open_simulator("binance", seed=8, symbols=["BTCUSDT"], flow=False) as sim,
            open_counterparty(sim) as other,
        ):
            ids = await _leave_orders_and_move_on(sim, other)
            async with open_e2e_session(sim) as (_, bus):
                await trio.sleep(1)
                assert bus.statuses(ids["B"]) == []


async def test_an_unusable_journal_path_fails_the_session_at_start(tmp_path: Path) -> None:
    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EXCHANGE, instruments=(INSTRUMENT,), environment=Environment.CUSTOM, rest="http://127.0.0.1:9",
                order_journal=str(tmp_path / "no-such-dir" / "orders.jsonl"),
            ),
        ),
    )  # fmt: skip
    creds = get_credentials(EXCHANGE, {"api_key": "k", "api_secret": "s"})
    with pytest.raises(ConfigError, match=r"order journal .*no-such-dir.* cannot be used"):
        async with open_session(config, credentials={EXCHANGE: creds}):
            raise AssertionError("the session must not start")
