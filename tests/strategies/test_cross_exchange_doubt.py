"""Hedges in doubt: a hedge whose send failed without a definite answer is never hedged twice.

The ledger is checked with Hypothesis against a model of the hedge venue (each hedge either reached the
exchange, with some fill, or did not); the maker's hedging is checked against a fake hedge order manager that
"places" the order and then stops before answering, on the virtual clock so every duration is exact.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.actors import Context, open_actor_system
from clobactors.actors.actor import Request
from clobactors.actors.bus import Bus
from clobactors.actors.order_messages import GetOpenOrders
from clobactors.client_ids import BINANCE
from clobactors.errors import ActorUnavailable, ConfigError, OrderRejected
from clobactors.messages import OrderUpdate, PlaceOrder
from clobactors.model import Instrument, OrderStatus, OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.strategies.cross_exchange import CrossExchangeMaker
from clobactors.strategies.cross_exchange_pricing import HedgeLedger

LOT = D("0.001")
HEDGE, HEDGE_INSTRUMENT = "hx", "BTC-USDT-PERP"
RULES = InstrumentRules(
    instrument=Instrument.perpetual(HEDGE, "BTC", "USDT", "BTCUSDT"), tick_size=D("0.1"), lot_size=LOT
)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


# -- the ledger, against a model of the venue -------------------------------------------------------------------


@attrs.define
class _Truth:
    """What really happened to one hedge on the venue."""

    side: Side
    size: D
    exists: bool
    fill: D
    reported: bool = False
    released: bool = False


Action = tuple[str, int, int]
actions = st.lists(
    st.tuples(
        st.sampled_from(["maker", "send_ok", "send_refused", "send_doubt", "late", "timeout", "late_after"]),
        st.integers(0, 30),
        st.integers(0, 100),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(actions, st.booleans())
def test_hedge_fills_plus_residual_equal_maker_fills_and_no_doubt_is_hedged_twice(
    steps: list[Action], one_way: bool
) -> None:
    ledger = HedgeLedger()
    truths: dict[str, _Truth] = {}
    maker_signed = hedged_signed = D(0)
    late_after_release = False
    for n, (kind, amount, pick) in enumerate(steps):
        size = LOT * (amount + 1)
        if kind == "maker":
            side = Side.BUY if one_way or pick % 2 else Side.SELL
            ledger.maker_fill(side, size)
            maker_signed += size if side is Side.BUY else -size
        elif kind.startswith("send"):
            plan = ledger.next_hedge(lot=LOT)
            if plan is None:
                continue
            cid = f"h{n}"
            ledger.hedge_sent(cid, plan.side, plan.size)
            fill = (plan.size * pick / 100).quantize(LOT)
            truth = truths[cid] = _Truth(plan.side, plan.size, exists=kind != "send_refused", fill=fill)
            if kind == "send_ok":  # the answer: the IOC order ended with its fill
                truth.reported = True
                ledger.hedge_update(cid, fill, ended=True)
            elif kind == "send_refused":
                ledger.hedge_refused(cid)
            else:  # no answer: it may or may not have reached the exchange
                truth.exists = pick % 3 != 0
                assert ledger.hedge_in_doubt(cid)
        else:
            doubtful = [c for c, t in truths.items() if not t.reported and t.exists and not t.released]
            if kind in ("late", "late_after") and doubtful:  # the venue's report arrives, late
                cid = doubtful[pick % len(doubtful)]
                truth = truths[cid]
                truth.reported = True
                ledger.hedge_update(cid, truth.fill, ended=True)
            elif kind == "timeout" and ledger.in_doubt():
                cid = ledger.in_doubt()[pick % len(ledger.in_doubt())]
                truths[cid].released = True
                assert ledger.release(cid)
            if kind == "late_after" and not doubtful:
                released = [c for c, t in truths.items() if t.released and t.exists and not t.reported]
                if released:
                    cid = released[pick % len(released)]
                    late_after_release = truths[cid].reported = True
                    ledger.hedge_update(cid, truths[cid].fill, ended=True)
        hedged_signed = sum(
            ((t.fill if t.side is Side.BUY else -t.fill) for t in truths.values() if t.reported and t.exists), D(0)
        )
        # Every hedge fill counted, and the residual is what they have not flattened.
        assert ledger.exposure == maker_signed + hedged_signed
        assert ledger.hedge_volume == sum((t.fill for t in truths.values() if t.reported and t.exists), D(0))
        # A hedge in doubt keeps its size on its way: if every hedge not known to have failed filled in whole,
        # the maker's one-way fills would never be over-hedged (until a release met a late fill).
        if one_way and not late_after_release:
            worst = sum(
                (t.size for c, t in truths.items() if ledger.tracks(c) and not t.reported and not t.released),
                sum((t.fill for t in truths.values() if t.reported and t.exists), D(0)),
            )
            assert worst <= maker_signed
        for cid in ledger.in_doubt():
            assert not truths[cid].reported


def test_a_report_before_the_failed_answer_means_no_doubt() -> None:
    ledger = HedgeLedger()
    ledger.maker_fill(Side.BUY, D("0.01"))
    ledger.hedge_sent("h1", Side.SELL, D("0.01"))
    ledger.hedge_update("h1", D("0.004"), ended=False)
    assert not ledger.hedge_in_doubt("h1")
    assert not ledger.release("h1")
    assert ledger.next_hedge(lot=LOT) is None
    ledger.hedge_update("h1", D("0.01"), ended=True)
    assert (ledger.exposure, ledger.in_flight, ledger.hedge_volume) == (D(0), D(0), D("0.01"))


def test_a_released_hedge_still_counts_its_late_fill() -> None:
    ledger = HedgeLedger()
    ledger.maker_fill(Side.BUY, D("0.01"))
    ledger.hedge_sent("h1", Side.SELL, D("0.01"))
    assert ledger.hedge_in_doubt("h1")
    assert ledger.next_hedge(lot=LOT) is None  # in doubt: not hedged again
    assert ledger.in_doubt() == ("h1",)
    assert ledger.release("h1")
    plan = ledger.next_hedge(lot=LOT)
    assert plan is not None and (plan.side, plan.size) == (Side.SELL, D("0.010"))
    ledger.hedge_update("h1", D("0.01"), ended=True)  # it existed after all
    assert (ledger.exposure, ledger.hedge_volume) == (D(0), D("0.01"))
    with pytest.raises(ConfigError):
        ledger.hedge_sent("h1", Side.SELL, D("0.01"))


# -- the maker against a hedge order manager that stops before answering ----------------------------------------


@attrs.define
class FakeHedgeOrderManager:
    """Takes the first hedge, then "stops" (fails the ask with ActorUnavailable); publishes its fill only when
    ``publish_after`` is set; answers later hedges at once, filled."""

    bus: Bus
    publish_after: float | None
    name: str = f"{HEDGE}.orders"
    placed: list[tuple[float, PlaceOrder]] = attrs.field(factory=list)
    open_order_checks: list[float] = attrs.field(factory=list)

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with trio.open_nursery() as nursery:
            async for message in ctx.inbox:
                assert isinstance(message, Request)
                match message.payload:
                    case PlaceOrder() as place:
                        self.placed.append((trio.current_time(), place))
                        if len(self.placed) > 1:
                            message.reply(self._update(place, OrderStatus.FILLED))
                            continue
                        message.fail(ActorUnavailable(self.name))
                        if self.publish_after is not None:
                            nursery.start_soon(self._publish_later, place, self.publish_after)
                    case GetOpenOrders():
                        self.open_order_checks.append(trio.current_time())
                        message.reply(())
                    case _:
                        message.fail(OrderRejected("unexpected"))

    async def _publish_later(self, place: PlaceOrder, delay: float) -> None:
        await trio.sleep(delay)  # the restarted order manager's reconciliation adopts and publishes it
        await self.bus.publish(self._update(place, OrderStatus.FILLED))

    @staticmethod
    def _update(place: PlaceOrder, status: OrderStatus) -> OrderUpdate:
        return OrderUpdate(
            exchange=HEDGE, instrument=HEDGE_INSTRUMENT, client_order_id=place.client_order_id, status=status,
            side=place.side, order_type=place.order_type, size=place.size, filled_size=place.size,
        )  # fmt: skip


@attrs.define
class HedgeOnly:
    """Runs only the maker's hedging (its account reader and hedge loop) with the hedge rules loaded."""

    maker: CrossExchangeMaker
    name: str = "xemm"

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        account = ctx.subscribe(f"account.{HEDGE}")
        self.maker._hedge.rules = RULES
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.maker._read_hedge_account, account)
            await self.maker._hedge_loop(ctx)


def make_maker() -> CrossExchangeMaker:
    return CrossExchangeMaker(
        name="xemm-doubt test", exchange="mx", instrument="BTC-USDT", hedge_exchange=HEDGE,
        hedge_instrument=HEDGE_INSTRUMENT, size=D("0.01"), hedge_order_type=OrderType.MARKET,
    )  # fmt: skip


@asynccontextmanager
async def hedging(publish_after: float | None) -> AsyncIterator[tuple[FakeHedgeOrderManager, CrossExchangeMaker]]:
    bus = Bus()
    fake = FakeHedgeOrderManager(bus, publish_after)
    maker = make_maker()
    async with open_actor_system(bus=bus) as system:
        await system.start(fake)
        await system.start(HedgeOnly(maker))
        maker._ledger.maker_fill(Side.BUY, D("0.01"))
        maker._hedge_wake.set()
        yield fake, maker


async def test_a_hedge_whose_order_manager_stopped_is_not_sent_twice(autojump_clock: trio.testing.MockClock) -> None:
    async with hedging(publish_after=3) as (fake, maker):
        start = trio.current_time()
        await trio.sleep(60)
        assert len(fake.placed) == 1
        at, place = fake.placed[0]
        assert at == start and (place.side, place.size) == (Side.SELL, D("0.010"))
        assert BINANCE.check(place.client_order_id) and re.fullmatch(r"hxemmdou[0-9a-z]{7}1", place.client_order_id)
        assert fake.open_order_checks == []  # the fill came before the doubt timeout
        stats = maker.statistics()
        assert (stats.hedges_in_doubt, stats.hedge_fills, stats.hedge_failures) == (1, 1, 0)
        assert (stats.exposure, stats.in_flight, stats.hedge_volume) == (D(0), D(0), D("0.01"))


async def test_a_hedge_never_heard_of_is_released_after_the_open_orders_check(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with hedging(publish_after=None) as (fake, maker):
        start = trio.current_time()
        await trio.sleep(60)
        assert [at - start for at, _ in fake.placed] == [0, 20]  # released after two doubt timeouts
        assert [at - start for at in fake.open_order_checks] == [10]
        first, second = (place.client_order_id for _, place in fake.placed)
        assert first != second and first[:-1] == second[:-1]
        stats = maker.statistics()
        assert (stats.hedges_in_doubt, stats.hedges_placed, stats.exposure, stats.in_flight) == (1, 1, D(0), D(0))
