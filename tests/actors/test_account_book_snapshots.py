"""An order's status update is published after a fill only when it says something the last one did not.

The account book alone, on an actor system's bus: an order adopted from a report that already stated its
filled size, then given the fill the report counted, publishes the Fill and no second identical update; a
Hypothesis property over any interleaving of reports and fills of one order checks that nothing else is
suppressed (every Fill once, each before any update it moves, and the last update published always the order's
state).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal as D
from itertools import pairwise

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import Context, open_actor_system
from clobactors.actors.bus import Subscription
from clobactors.messages import Event, Fill, OrderUpdate
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.orders import TrackedOrder
from tests.actors.fake_exchange import start_probe
from tests.integration.test_usdm_session import drain

S = OrderStatus
EX = "ex"
INSTRUMENT = "BTC-USDT"
CID = "adopted-1"
OID = "9001"


def report(status: S, filled: str, avg: str | None, ts: int = 1) -> OrderUpdate:
    return OrderUpdate(
        exchange=EX,
        instrument=INSTRUMENT,
        client_order_id=CID,
        exchange_order_id=OID,
        status=status,
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        price=D("100"),
        size=D("1"),
        filled_size=D(filled),
        avg_fill_price=None if avg is None else D(avg),
        ts_exchange=ts,
    )


def fill(trade_id: int, size: str, price: str = "100", *, named: bool = False) -> Fill:
    """A fill as a REST trade list gives it: by the exchange's order id only (unless ``named``)."""
    return Fill(
        exchange=EX,
        instrument=INSTRUMENT,
        client_order_id=CID if named else "",
        exchange_order_id=OID,
        trade_id=str(trade_id),
        side=Side.SELL,
        price=D(price),
        size=D(size),
        ts_exchange=1_000 + trade_id,
    )


def state(update: OrderUpdate) -> tuple[object, ...]:
    return (update.status, update.filled_size, update.avg_fill_price, update.price, update.size, update.reason)


@asynccontextmanager
async def open_book() -> AsyncIterator[tuple[AccountBook, Context, Subscription]]:
    async with open_actor_system(wall_ns=lambda: 7) as system:
        seen = system.bus.subscribe("", prefix=True, reliable_capacity=10_000, lag_high_water=10_000)
        yield AccountBook(EX), await start_probe(system), seen


def mine(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, Fill | OrderUpdate)]


async def test_an_adopted_order_given_its_fetched_fill_publishes_one_update(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_book() as (book, ctx, seen):
        await book.apply_update(ctx, report(S.PARTIALLY_FILLED, "0.4", "100"))  # listed open: adopted
        await book.apply(ctx, [fill(1, "0.4")])  # the fetched fill the report already counted
        (update, published) = mine(drain(seen))
        assert isinstance(update, OrderUpdate) and isinstance(published, Fill)
        assert (update.status, update.filled_size, update.avg_fill_price) == (S.PARTIALLY_FILLED, D("0.4"), D(100))
        assert (published.client_order_id, published.trade_id) == (CID, "1")
        # A fill that moves the order still publishes its update, after the Fill.
        await book.apply(ctx, [fill(2, "0.2", "106")])
        second, moved = mine(drain(seen))
        assert isinstance(second, Fill) and isinstance(moved, OrderUpdate)
        assert (moved.filled_size, moved.avg_fill_price) == (D("0.6"), D(102))
        # Its end: the last fill, then ``filled`` once; the order's remembered snapshot is dropped with it.
        await book.apply(ctx, [fill(3, "0.4", "102"), report(S.FILLED, "1", "102", ts=2)])
        last, end = mine(drain(seen))
        assert isinstance(last, Fill) and isinstance(end, OrderUpdate) and end.status is S.FILLED
        assert book._last_published == {}


async def test_a_fill_that_only_refines_the_average_price_publishes_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The report stated the filled size but no average price: the fill's price is news, so it is published."""
    async with open_book() as (book, ctx, seen):
        await book.apply_update(ctx, report(S.PARTIALLY_FILLED, "0.4", None))
        await book.apply(ctx, [fill(1, "0.4", "99")])
        first, published, second = mine(drain(seen))
        assert isinstance(first, OrderUpdate) and isinstance(second, OrderUpdate) and isinstance(published, Fill)
        assert (first.avg_fill_price, second.avg_fill_price) == (None, D(99))
        assert first.filled_size == second.filled_size == D("0.4")


async def test_status_reports_are_published_as_before(autojump_clock: trio.testing.MockClock) -> None:
    """Only a fill's repeat is left out: our own order's pending state, acknowledgement and fills all go out."""
    async with open_book() as (book, ctx, seen):
        order = TrackedOrder(
            exchange=EX, instrument=INSTRUMENT, client_order_id=CID, side=Side.SELL, order_type=OrderType.LIMIT,
            size=D("1"), price=D("100"),
        )  # fmt: skip
        await book.track(ctx, order)
        await book.apply_update(ctx, report(S.OPEN, "0", None))
        await book.apply(ctx, [fill(1, "0.5", named=True)])
        await book.apply_update(ctx, report(S.PARTIALLY_FILLED, "0.5", "100", ts=3))  # the stream's report: no news
        events = mine(drain(seen))
        assert [e.status if isinstance(e, OrderUpdate) else "fill" for e in events] == [
            S.PENDING_CREATE,
            S.OPEN,
            "fill",
            S.PARTIALLY_FILLED,
        ]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[D], int, list[tuple[str, int]]]:
    """Fills of one order (sizes in tenths, at most 0.9 of its 1: it stays live), how many of them the report
    it is adopted from already counts, and the order they land in: each fill optionally reported (the
    cumulative filled size) before or after it, or delivered twice."""
    sizes = [D(n) / 10 for n in draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))]
    counted = draw(st.integers(0, len(sizes)))
    steps: list[tuple[str, int]] = []
    for index in range(len(sizes)):
        kind = draw(st.sampled_from(["fill", "report+fill", "fill+report", "fill+fill"]))
        steps += [(part, index) for part in kind.split("+")]
    return sizes, counted, steps


@settings(max_examples=60, deadline=None)
@given(plan=histories())
def test_no_update_is_lost_nor_repeated_after_a_fill(plan: tuple[list[D], int, list[tuple[str, int]]]) -> None:
    sizes, counted, steps = plan
    prices = [D(100 + 2 * i) for i in range(len(sizes))]

    def reported(upto: int) -> OrderUpdate:
        filled = sum(sizes[:upto], D(0))
        avg = sum((s * p for s, p in zip(sizes[:upto], prices, strict=False)), D(0)) / filled if filled else None
        return report(S.PARTIALLY_FILLED if filled else S.OPEN, str(filled), None if avg is None else str(avg))

    async def run() -> None:
        async with open_book() as (book, ctx, seen):
            events: list[Event] = []
            fill_total = D(0)
            for kind, index in [("report", counted - 1), *steps]:
                if kind == "report":  # what the exchange states: at least what the adoption said
                    await book.apply_update(ctx, reported(max(index + 1, counted)))
                else:
                    await book.apply(ctx, [fill(index + 1, str(sizes[index]), str(prices[index]))])
                new = mine(drain(seen))
                fill_total += sum((e.size for e in new if isinstance(e, Fill)), D(0))
                events += new
                order = book.tracker.get(CID)
                assert order is not None
                last = [e for e in events if isinstance(e, OrderUpdate)][-1]
                # Nothing the order says now went unsaid, and no fill published is missing from its update.
                assert state(last) == state(order.to_update()) and last.filled_size >= fill_total
            assert sorted(e.trade_id for e in events if isinstance(e, Fill)) == [str(i + 1) for i in range(len(sizes))]
            updates = [e for e in events if isinstance(e, OrderUpdate)]
            for earlier, later in pairwise(updates):
                assert state(earlier) != state(later)  # nor anything said twice in a row

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
