"""Funding payments survive restarts with the order journal: published once across sessions.

End to end over loopback with the USD-M simulator (its funding settles at 08:00 UTC of its virtual clock),
each session a fresh process as far as the connector knows, all given the same ``order_journal`` file; and the
order manager's statistics showing the ledger's counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D
from pathlib import Path

import trio
import trio.testing

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.order_messages import Reconcile
from clobactors.actors.reconcile import ReconcileSummary
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.messages import FundingPayment
from clobactors.order_journal import OrderJournal, replay
from clobactors.sim.server import Simulator, open_simulator
from tests.actors.fake_exchange import NAME, FakeExchange
from tests.actors.test_funding_recovery import buy, funding_events, income
from tests.actors.test_order_manager import open_manager
from tests.integration.test_sim_binance_usdm import BEFORE_FUNDING_MS, FUNDING_MS
from tests.integration.test_usdm_session import BTC, EX, drain

FUNDING_NS = FUNDING_MS * 1_000_000


@asynccontextmanager
async def journaled_session(sim: Simulator, journal: Path) -> AsyncIterator[tuple[Session, Subscription]]:
    """A USD-M session on ``sim`` journaling into ``journal``, and a subscription to its account events."""
    bus = Bus()
    seen = bus.subscribe(f"account.{EX}", prefix=True, name="test")
    config = SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EX, instruments=(BTC,), environment=Environment.CUSTOM, rest=sim.rest_url, ws=sim.ws_url,
                order_journal=str(journal),
            ),
        ),
        seed=3,
    )  # fmt: skip
    creds = get_credentials(EX, {"api_key": sim.api_key, "api_secret": sim.api_secret})
    async with open_session(config, credentials={EX: creds}, bus=bus, wall_ns=sim.now_ns) as session:
        yield session, seen


def journaled_funding(path: Path) -> list[tuple[str, int, bool]]:
    return [(f.instrument, f.ts, f.fetched) for f in replay(path.read_bytes(), EX).funding]


async def reconcile_publishes_nothing(session: Session, seen: Subscription) -> None:
    summary = await session.ask(session.names(EX).orders, Reconcile(reason="test"))
    assert isinstance(summary, ReconcileSummary) and summary.funding == 0
    assert funding_events(drain(seen)) == []


async def test_a_payment_published_by_one_session_is_not_published_by_the_next(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Session 1 sees the 08:00 settlement on the user stream and publishes it; session 2's start
    reconciliation fetches it over REST (inside its 1 h look-back) and, knowing it from the journal, stays quiet."""
    journal = tmp_path / "usdm-orders.jsonl"
    with trio.fail_after(300):
        async with open_simulator("binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS) as sim:
            async with journaled_session(sim, journal) as (s, seen):
                await buy(s, s.names(EX).orders)
                await trio.sleep(15)
                (payment,) = funding_events(drain(seen))
                assert (payment.instrument, payment.ts_exchange) == ("", FUNDING_NS)  # the stream's cross total
            assert journaled_funding(journal) == [("", FUNDING_NS, False)]
            assert [(FUNDING_MS, payment.amount)] == await income(sim)
            await trio.sleep(30)  # no session runs; the exchange's history still lists the payment
            async with journaled_session(sim, journal) as (s, seen):
                assert funding_events(drain(seen)) == []
                await reconcile_publishes_nothing(s, seen)
            assert journaled_funding(journal) == [("", FUNDING_NS, False)]  # nothing new to remember


async def test_a_payment_settled_while_no_session_ran_is_published_once(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """Session 1 opens a position and stops before 08:00; the settlement happens while no session runs.
    Session 2 publishes it once (fetched at its start), and session 3, resuming from the journal, not again."""
    journal = tmp_path / "usdm-orders.jsonl"
    with trio.fail_after(300):
        async with open_simulator("binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS) as sim:
            async with journaled_session(sim, journal) as (s, seen):
                await buy(s, s.names(EX).orders)
                assert funding_events(drain(seen)) == []
            assert sim.now_ms() < FUNDING_MS and journaled_funding(journal) == []
            await trio.sleep(15)
            ((ts_ms, amount),) = await income(sim)
            assert ts_ms == FUNDING_MS and amount != 0
            async with journaled_session(sim, journal) as (s, seen):
                (payment,) = funding_events(drain(seen))
                assert (payment.instrument, payment.asset, payment.amount, payment.ts_exchange) == (
                    BTC,
                    "USDT",
                    amount,
                    FUNDING_NS,
                )
                await reconcile_publishes_nothing(s, seen)
            assert journaled_funding(journal) == [(BTC, FUNDING_NS, True)]
            async with journaled_session(sim, journal) as (s, seen):
                assert funding_events(drain(seen)) == []
                await reconcile_publishes_nothing(s, seen)


async def test_the_order_managers_statistics_show_the_funding_ledger(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "orders.jsonl"
    with OrderJournal.open(path, exchange=NAME) as journal:
        for hours in (0, 8):
            payment = FundingPayment(
                exchange=NAME, instrument="", ts_exchange=FUNDING_NS + hours * 3600 * 10**9, asset="USDT", amount=D(1)
            )
            journal.record_funding(payment, fetched=False)
    with OrderJournal.open(path, exchange=NAME) as journal:
        async with open_manager(FakeExchange(), journal=journal) as h:  # a spot venue: no funding fetched
            stats = h.manager.statistics()
            assert stats.funding is not None and stats.journal is not None
            assert (stats.funding.restored, stats.funding.settlements, stats.funding.published) == (2, 2, 0)
            assert stats.journal.funding == 2
