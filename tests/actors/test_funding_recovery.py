"""Funding payments fetched over REST and from the user stream are published once each.

The ledger alone (sans-IO, and a Hypothesis property over any interleaving of the two sources); paging of
:func:`reconcile_funding` against a stub that answers like ``GET /fapi/v1/income``; and end to end over
loopback with the USD-M simulator, whose funding settles at 08:00 UTC of its virtual clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal as D
from typing import Any, cast

import attrs
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import open_actor_system
from clobactors.actors.bus import Bus
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.funding_recovery import FundingLedger, reconcile_funding
from clobactors.actors.order_messages import Reconcile
from clobactors.actors.reconcile import ReconcileSummary, ResolvePolicy
from clobactors.actors.session import Session
from clobactors.errors import ConfigError
from clobactors.exchanges.binance_usdm import wire
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import FundingPayment, OrderUpdate, PlaceOrder
from clobactors.model import OrderType, Side
from clobactors.ratelimit import Priority
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule
from clobactors.sim.server import Simulator, open_simulator
from tests.actors.fake_exchange import start_probe
from tests.integration.binance_sim_support import client, order, signed
from tests.integration.test_sim_binance_usdm import BEFORE_FUNDING_MS, FUNDING_MS
from tests.integration.test_usdm_session import BTC, EX, drain, usdm_session

HOUR_NS = 3600 * 1_000_000_000
T0 = FUNDING_MS * 1_000_000


#: Rows a page of the stub's funding history holds at most (Binance USD-M's ``limit`` maximum, as asked).
PAGE_ROWS = 1000


def pay(instrument: str, amount: str, ts: int = T0, asset: str = "USDT") -> FundingPayment:
    return FundingPayment(exchange=EX, instrument=instrument, ts_exchange=ts, asset=asset, amount=D(amount))


# -- the ledger ------------------------------------------------------------------------------------------------


def test_stream_then_rest_publishes_once() -> None:
    ledger = FundingLedger()
    assert ledger.admit(pay("", "-1.5", T0 + 3_000_000))  # the stream's cross total, stamped 3 ms later
    assert not ledger.admit(pay(BTC, "-1.5"), fetched=True)
    assert not ledger.admit(pay("", "-1.5", T0 + 3_000_000))  # the stream's frame again
    stats = ledger.statistics()
    assert (stats.published, stats.duplicates, stats.settlements) == (1, 2, 1)


def test_rest_then_stream_publishes_once() -> None:
    ledger = FundingLedger()
    assert ledger.admit(pay(BTC, "-1"), fetched=True)
    assert ledger.admit(pay("ETH-USDT-PERP", "0.5"), fetched=True)  # one row per instrument, same instant
    assert not ledger.admit(pay("", "-0.5", T0 + 1_000_000_000))  # the stream's total of both, 1 s later
    assert not ledger.admit(pay(BTC, "-1"), fetched=True)  # the next fetch lists it again
    assert ledger.statistics().published == 2


def test_isolated_positions_are_named_on_the_stream() -> None:
    ledger = FundingLedger()
    assert ledger.admit(pay(BTC, "-1"))  # an isolated position: its own event
    assert ledger.admit(pay("", "-2"))  # the cross-margin total of the same instant: another payment
    assert not ledger.admit(pay(BTC, "-1"), fetched=True)
    assert not ledger.admit(pay("ETH-USDT-PERP", "-2"), fetched=True)  # part of the cross total


def test_same_amount_at_different_times_is_two_payments() -> None:
    ledger = FundingLedger()
    assert ledger.admit(pay("", "-1", T0))
    assert ledger.admit(pay("", "-1", T0 + 8 * HOUR_NS))
    assert ledger.admit(pay(BTC, "-1", T0 + 16 * HOUR_NS), fetched=True)
    assert ledger.admit(pay(BTC, "-1", T0, asset="USDC"), fetched=True)  # another asset settles apart
    assert ledger.statistics().published == 4


def test_memory_is_bounded_by_exchange_time() -> None:
    ledger = FundingLedger(retention=24 * 3600.0)
    for hour in range(0, 72, 8):
        assert ledger.admit(pay("", "-1", T0 + hour * HOUR_NS))
    # Newest at +64 h: what is older than +40 h is forgotten, and refused rather than published again.
    assert ledger.statistics().settlements == 4
    assert not ledger.admit(pay(BTC, "-1", T0), fetched=True)
    assert not ledger.admit(pay("", "-1", T0 + 48 * HOUR_NS))  # still remembered
    stats = ledger.statistics()
    assert (stats.published, stats.expired, stats.duplicates) == (9, 1, 1)
    with pytest.raises(ConfigError):
        FundingLedger(retention=10.0, match_window=60.0)


def test_resume_point() -> None:
    ledger = FundingLedger()
    now_ms = FUNDING_MS + 30_000
    assert ledger.resume_ms(now_ms, 3600.0, 60.0) == now_ms - 3_660_000  # a fresh start: the look-back window
    ledger.admit(pay("", "-1"))
    assert ledger.resume_ms(now_ms, 3600.0, 60.0) == now_ms - 3_660_000  # the stream does not move it
    ledger.admit(pay(BTC, "-1"), fetched=True)
    assert ledger.resume_ms(now_ms, 3600.0, 60.0) == FUNDING_MS - 60_000
    ledger.admit(pay("", "-1", T0 + 30 * HOUR_NS))
    # Never before what the ledger still remembers (24 h before the newest payment, whatever its source).
    assert ledger.resume_ms(now_ms + 30 * 3_600_000, 3600.0, 60.0) == FUNDING_MS + 6 * 3_600_000


def test_untimed_payments_are_published() -> None:
    ledger = FundingLedger()
    assert ledger.admit(pay("", "-1", 0)) and ledger.admit(pay("", "-1", 0))
    assert ledger.statistics().untimed == 2


@attrs.frozen
class Settlement:
    """One asset's funding at one instant: per instrument an amount, each cross (in the stream's total) or not."""

    ts: int
    rows: tuple[tuple[str, D, bool], ...]
    stream_jitter: int
    rest_jitter: int

    def stream(self) -> list[FundingPayment]:
        """The user stream's view: one event per isolated position, then the cross-margin total."""
        ts = self.ts + self.stream_jitter
        out = [pay(name, str(amount), ts) for name, amount, cross in self.rows if not cross]
        cross = [amount for _, amount, is_cross in self.rows if is_cross]
        return out + ([pay("", str(sum(cross, D(0))), ts)] if cross else [])

    def rest(self) -> list[FundingPayment]:
        return [pay(name, str(amount), self.ts + self.rest_jitter) for name, amount, _ in self.rows]

    def total(self) -> D:
        return sum((amount for _, amount, _ in self.rows), D(0))


@st.composite
def settlements(draw: st.DrawFn) -> list[Settlement]:
    names = ["BTC-USDT-PERP", "ETH-USDT-PERP", "SOL-USDT-PERP"]
    out = []
    ts = T0
    for index in range(draw(st.integers(1, 4))):
        # An asset settles at most once an hour; the plan spans less than the ledger's 24 h memory.
        ts += draw(st.sampled_from([1, 4, 6])) * HOUR_NS if index else 0
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        rows = tuple(
            (name, draw(st.sampled_from([D("-1.5"), D("0.25"), D("2")])), draw(st.booleans())) for name in chosen
        )
        out.append(
            Settlement(
                ts=ts,
                rows=rows,
                stream_jitter=draw(st.integers(0, 5_000)) * 1_000_000,
                rest_jitter=draw(st.integers(0, 5_000)) * 1_000_000,
            )
        )
    return out


@settings(max_examples=150)
@given(data=st.data(), plan=settlements())
def test_any_interleaving_publishes_each_payment_once(data: st.DataObject, plan: list[Settlement]) -> None:
    """Each settlement reaches the ledger from the stream, REST or both, each copy any number of times, in any
    order (a fetch's rows of one settlement come together): what is published adds up to each total once."""
    deliveries: list[tuple[int, bool, list[FundingPayment]]] = []  # settlement, fetched, payments
    for index, settlement in enumerate(plan):
        mode = data.draw(st.sampled_from(["stream", "rest", "both"]))
        if mode in ("stream", "both"):
            for frame in settlement.stream():
                deliveries += [(index, False, [frame])] * data.draw(st.integers(1, 3))
        if mode in ("rest", "both"):
            deliveries += [(index, True, settlement.rest())] * data.draw(st.integers(1, 3))
    ledger = FundingLedger()
    published: dict[int, list[FundingPayment]] = {i: [] for i in range(len(plan))}
    for index, fetched, payments in data.draw(st.permutations(deliveries)):
        published[index] += [p for p in payments if ledger.admit(p, fetched=fetched)]
    for index, settlement in enumerate(plan):
        assert sum((p.amount for p in published[index]), D(0)) == settlement.total()
        names = [p.instrument for p in published[index]]
        assert len(names) == len(set(names))


# -- paging ----------------------------------------------------------------------------------------------------


@attrs.define
class IncomeStub:
    """A perpetual dialect's funding half and a link's REST at once, answering ``rows`` as Binance pages
    ``GET /fapi/v1/income``: from ``startTime`` inclusive, oldest first, at most :data:`PAGE_ROWS` rows."""

    rows: list[FundingPayment]
    name: str = "stub"
    credentials: object = None
    starts: list[int] = attrs.field(factory=list)
    priorities: list[Priority] = attrs.field(factory=list)

    @property
    def dialect(self) -> IncomeStub:
        return self

    def now_ms(self) -> int:
        return FUNDING_MS + 24 * 3_600_000

    def funding_payments_request(
        self, instrument: object, since_ms: int, credentials: object, now_ms: int
    ) -> HttpRequestSpec:
        assert instrument is None
        return HttpRequestSpec(method="GET", path="/income", params=(("startTime", str(since_ms)),))

    def decode_funding_payments(self, result: HttpResult, recv_ns: int) -> list[FundingPayment]:
        return msgspec.json.decode(result.body, type=list[FundingPayment])

    def funding_next_page(self, result: HttpResult, since_ms: int) -> int | None:
        """Binance's rule (``codec_rest.income_next_page``) on the rows this stub sent."""
        rows = msgspec.json.decode(result.body, type=list[FundingPayment])
        if len(rows) < PAGE_ROWS:
            return None
        newest = max(r.ts_exchange // 1_000_000 for r in rows)
        return newest if newest > since_ms else since_ms + 1

    async def rest(self, ctx: object, spec: HttpRequestSpec, priority: Priority) -> HttpResult:
        start = int(dict(spec.params)["startTime"])
        self.starts.append(start)
        self.priorities.append(priority)
        page = [r for r in self.rows if r.ts_exchange // 1_000_000 >= start][:PAGE_ROWS]
        return HttpResult(status=200, headers=(), body=msgspec.json.encode(page), elapsed=0.0)

    # The rest of a perpetual dialect, so that ``as_perp`` takes it for one; never called here.
    def positions_request(self, *args: object) -> None:
        raise AssertionError("not called")

    decode_positions = set_leverage_request = set_margin_type_request = set_position_mode_request = positions_request


def as_link(stub: object) -> ExchangeLink:
    return cast("ExchangeLink", stub)


async def published_by(stub: IncomeStub, book: AccountBook, policy: ResolvePolicy) -> tuple[int, list[FundingPayment]]:
    async with open_actor_system(wall_ns=lambda: T0) as system:
        seen = system.bus.subscribe("", prefix=True, reliable_capacity=10_000, lag_high_water=10_000)
        ctx = await start_probe(system)
        new = await reconcile_funding(ctx, as_link(stub), book, policy)
        return new, [e for e in drain(seen) if isinstance(e, FundingPayment)]


async def test_pages_forward_from_the_last_row(autojump_clock: trio.testing.MockClock) -> None:
    """Three settlements of 600 instruments: a page ends inside a settlement, the next starts at its time."""
    times = [T0, T0 + 8 * HOUR_NS, T0 + 16 * HOUR_NS]
    rows = [pay(f"P{i:03d}", "-1", ts) for ts in times for i in range(600)]
    stub = IncomeStub(rows)
    book = AccountBook(EX)
    new, events = await published_by(stub, book, ResolvePolicy(fill_lookback=30 * 3600.0, fill_margin=60.0))
    since = stub.now_ms() - 30 * 3_600_000 - 60_000
    assert stub.starts == [since, times[1] // 1_000_000, times[2] // 1_000_000]
    assert set(stub.priorities) == {Priority.QUERY}
    assert new == len(events) == 1800 and events == sorted(events, key=lambda e: e.ts_exchange)
    assert {(e.instrument, e.ts_exchange) for e in events} == {(r.instrument, r.ts_exchange) for r in rows}
    # Again: from the newest row minus the margin, nothing new.
    new, events = await published_by(stub, book, ResolvePolicy())
    assert (new, events, stub.starts[-1]) == (0, [], times[2] // 1_000_000 - 60_000)


async def test_a_full_page_at_one_instant_steps_past_it(autojump_clock: trio.testing.MockClock) -> None:
    rows = [pay(f"P{i:04d}", "-1") for i in range(PAGE_ROWS)] + [pay(BTC, "-1", T0 + HOUR_NS)]
    stub = IncomeStub(rows)
    new, events = await published_by(stub, AccountBook(EX), ResolvePolicy(fill_lookback=86_400.0))
    assert stub.starts[1:] == [FUNDING_MS, FUNDING_MS + 1]
    assert new == len(events) == PAGE_ROWS + 1


async def test_spot_venues_ask_nothing(autojump_clock: trio.testing.MockClock) -> None:
    @attrs.define
    class Spot:
        name: str = "spot"
        dialect: object = attrs.field(factory=object)

        async def rest(self, *args: Any) -> HttpResult:
            raise AssertionError("no request on a spot venue")

    async with open_actor_system() as system:
        ctx = await start_probe(system)
        assert await reconcile_funding(ctx, as_link(Spot()), AccountBook("spot"), ResolvePolicy()) == 0


# -- end to end: the USD-M simulator over loopback -------------------------------------------------------------


def funding_events(events: Sequence[object]) -> list[FundingPayment]:
    return [e for e in events if isinstance(e, FundingPayment)]


async def income(sim: Simulator) -> list[tuple[int, D]]:
    async with client(sim) as http:
        answer = await signed(http, sim, "GET", "/fapi/v1/income", [("incomeType", "FUNDING_FEE")])
    return [(row.time, row.income) for row in wire.INCOME_DECODER.decode(answer.content)]


async def buy(s: Session, orders: str) -> None:
    placed = await s.ask(
        orders, PlaceOrder(exchange=EX, instrument=BTC, side=Side.BUY, order_type=OrderType.MARKET, size=D("0.1"))
    )
    assert isinstance(placed, OrderUpdate)


async def test_settled_before_the_session_started(autojump_clock: trio.testing.MockClock) -> None:
    """A restart: the 08:00 settlement happened while no session ran; the start reconciliation publishes it,
    and neither a full nor a light reconciliation publishes it again."""
    with trio.fail_after(300):
        async with open_simulator("binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS) as sim:
            async with client(sim) as http:
                answer = await signed(http, sim, "POST", "/fapi/v1/order", order("BUY", "MARKET", quantity="0.1"))
                assert answer.status_code == 200
            await trio.sleep(15)
            ((ts_ms, amount),) = await income(sim)
            assert ts_ms == FUNDING_MS and amount != 0
            bus = Bus()
            seen = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            async with usdm_session(sim, bus) as s:
                orders = s.names(EX).orders
                (payment,) = funding_events(drain(seen))
                assert (payment.instrument, payment.asset, payment.amount) == (BTC, "USDT", amount)
                assert payment.ts_exchange == FUNDING_MS * 1_000_000
                summary = await s.ask(orders, Reconcile(reason="test"))
                assert isinstance(summary, ReconcileSummary) and summary.funding == 0
                await trio.sleep(70)  # a light reconciliation ran
                assert funding_events(drain(seen)) == []


async def test_seen_on_the_stream_is_not_published_again(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(300):
        async with open_simulator("binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS) as sim:
            bus = Bus()
            seen = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            async with usdm_session(sim, bus) as s:
                orders = s.names(EX).orders
                await buy(s, orders)
                await trio.sleep(15)
                (payment,) = funding_events(drain(seen))
                assert payment.instrument == ""  # cross margin: the stream's total, no instrument
                assert [(FUNDING_MS, payment.amount)] == await income(sim)
                await trio.sleep(70)  # a light reconciliation fetched the settlement's row
                summary = await s.ask(orders, Reconcile(reason="test"))
                assert isinstance(summary, ReconcileSummary) and summary.funding == 0
                assert funding_events(drain(seen)) == []


async def test_lost_on_the_stream_is_published_by_the_light_reconciliation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The ACCOUNT_UPDATE of the 08:00 settlement is dropped (the next user frame after 8 s); the periodic
    light reconciliation (every 60 s from the order manager's start) publishes the payment, once."""
    plan = FaultPlan(rules=(FaultRule(kind=FaultKind.DROP_FRAMES, target="user:*", at=8.0),))
    with trio.fail_after(300):
        async with open_simulator(
            "binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS, faults=plan
        ) as sim:
            bus = Bus()
            seen = bus.subscribe(f"account.{EX}", prefix=True, name="test")
            started = trio.current_time()
            async with usdm_session(sim, bus) as s:
                await buy(s, s.names(EX).orders)
                await trio.sleep_until(started + 15)
                assert funding_events(drain(seen)) == []
                ((_, amount),) = await income(sim)
                await trio.sleep_until(started + 65)
                (payment,) = funding_events(drain(seen))
                assert (payment.instrument, payment.amount) == (BTC, amount)
                await trio.sleep(60)
                assert funding_events(drain(seen)) == []
            assert isinstance(sim.faults, FaultInjector) and sim.faults.log.counts() == {FaultKind.DROP_FRAMES: 1}
