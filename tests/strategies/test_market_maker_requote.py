"""The market maker's requote decision against a fake order manager: with ``RequoteMode.AMEND`` a moved mid is one
ModifyOrder per side (same client order ids), and each refusal falls back as documented: -5027 leaves the quote,
an unknown order is placed anew, any other refusal (or no answer) is cancelled and placed anew; an amendment
answered ``cancelled`` (a crossing post-only price) is noticed and the side quoted afresh; a cancel-replace's
answer (a new client order id) is followed. ``CANCEL_PLACE`` keeps today's cancel + place.

Everything runs on the virtual clock; the fake answers at once, so every duration is exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal as D

import attrs
import msgspec
import pytest
import trio
import trio.testing

from clobactors.actors import Context, open_actor_system
from clobactors.actors.actor import Request
from clobactors.actors.bus import Bus
from clobactors.actors.order_messages import GetBalances, GetOpenOrders, GetRules
from clobactors.errors import (
    ConfigError,
    ExchangeUnavailable,
    InsufficientBalance,
    OrderRejected,
    TransportTimeout,
    UnknownOrder,
)
from clobactors.messages import Balance, BestBidAsk, CancelOrder, ModifyOrder, OrderUpdate, PlaceOrder
from clobactors.model import Instrument, OrderStatus
from clobactors.rules import InstrumentRules
from clobactors.strategies.market_making import MarketMaker, MarketMakerStatistics, RequoteMode

EX = "ex"
BTC = "BTC-USDT"
S = OrderStatus
RULES = InstrumentRules(
    instrument=Instrument.spot(EX, "BTC", "USDT", "BTCUSDT"), tick_size=D("0.1"), lot_size=D("0.001")
)
#: What the fake answers a ModifyOrder with: an exception to raise, or the update (built from the order).
ModifyAnswer = Callable[[OrderUpdate, ModifyOrder], OrderUpdate | Exception]


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def amended(order: OrderUpdate, command: ModifyOrder) -> OrderUpdate:
    """The exchange amends in place (Binance USD-M): same ids, new terms."""
    assert command.new_price is not None and command.new_size is not None
    return _evolve(order, price=command.new_price, size=command.new_size)


def _evolve(order: OrderUpdate, **changes: object) -> OrderUpdate:
    return msgspec.structs.replace(order, **changes)


@attrs.define
class FakeOrderManager:
    """Answers the maker's asks from memory and records every command; ModifyOrder answers are scripted."""

    name: str = f"{EX}.orders"
    modify_answers: list[ModifyAnswer] = attrs.field(factory=list)
    commands: list[object] = attrs.field(factory=list)
    orders: dict[str, OrderUpdate] = attrs.field(factory=dict)
    _next_id: int = 0

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for message in ctx.inbox:
            assert isinstance(message, Request)
            payload = message.payload
            if not isinstance(payload, (GetRules, GetBalances, GetOpenOrders)):
                self.commands.append(payload)
            match payload:
                case GetRules():
                    message.reply(RULES)
                case GetBalances():
                    free = D(10**6)
                    message.reply({a: Balance(exchange=EX, asset=a, free=free, locked=D(0)) for a in ("BTC", "USDT")})
                case GetOpenOrders():
                    message.reply(())
                case PlaceOrder():
                    message.reply(self._place(payload))
                case CancelOrder(client_order_id=cid):
                    self.orders[cid] = _evolve(self.orders[cid], status=S.CANCELLED)
                    message.reply(self.orders[cid])
                case ModifyOrder(client_order_id=cid):
                    answer = (self.modify_answers.pop(0) if self.modify_answers else amended)(self.orders[cid], payload)
                    if isinstance(answer, Exception):
                        message.fail(answer)
                    else:
                        self.orders[answer.client_order_id] = answer
                        message.reply(answer)
                case _:
                    message.fail(ConfigError(f"unexpected {payload!r}"))

    def _place(self, command: PlaceOrder) -> OrderUpdate:
        self._next_id += 1
        cid = f"c{self._next_id}"
        self.orders[cid] = OrderUpdate(
            exchange=EX, instrument=BTC, client_order_id=cid, exchange_order_id=str(100 + self._next_id),
            status=S.OPEN, side=command.side, order_type=command.order_type, price=command.price, size=command.size,
        )  # fmt: skip
        return self.orders[cid]

    def new_id(self) -> str:
        self._next_id += 1
        return f"c{self._next_id}"

    def take(self) -> list[tuple[str, str, D | None, D | None]]:
        """The commands since the last call, as (kind, client order id or side, price, size)."""
        out: list[tuple[str, str, D | None, D | None]] = []
        for c in self.commands:
            match c:
                case PlaceOrder():
                    out.append(("place", c.side.value, c.price, c.size))
                case ModifyOrder():
                    out.append(("modify", c.client_order_id, c.new_price, c.new_size))
                case CancelOrder():
                    out.append(("cancel", c.client_order_id, None, None))
                case _:
                    out.append((type(c).__name__, "", None, None))
        self.commands.clear()
        return out


@attrs.define
class Rig:
    bus: Bus
    fake: FakeOrderManager
    maker: MarketMaker

    async def mid(self, mid: str) -> None:
        """Publish a top of book around ``mid`` and give the maker one requote interval to act on it."""
        m = D(mid)
        event = BestBidAsk(
            exchange=EX, instrument=BTC, bid_price=m - D("0.5"), bid_size=D(1), ask_price=m + D("0.5"), ask_size=D(1)
        )
        await self.bus.publish(event)
        await trio.sleep(1)

    async def report(self, update: OrderUpdate) -> None:
        """An order report on the account topic, as the order manager publishes it."""
        await self.bus.publish(update)
        await trio.sleep(0.01)

    def stats(self) -> MarketMakerStatistics:
        return self.maker.statistics()


@asynccontextmanager
async def rig(requote: RequoteMode = RequoteMode.AMEND) -> AsyncIterator[Rig]:
    bus = Bus()
    fake = FakeOrderManager()
    maker = MarketMaker(name="mm", exchange=EX, instrument=BTC, size=D("0.01"), requote=requote)
    async with open_actor_system(bus=bus) as system:
        await system.start(fake)
        await system.start(maker)
        yield Rig(bus, fake, maker)


# At mid 60000 with 10 bps each side: 59940 / 60060; at 60030 (5 bps away): 59969.9 / 60090.1 (away from the mid).
FIRST = [("place", "buy", D("59940.0"), D("0.010")), ("place", "sell", D("60060.0"), D("0.010"))]
MOVED = [("modify", "c1", D("59969.9"), D("0.010")), ("modify", "c2", D("60090.1"), D("0.010"))]


async def test_a_moved_mid_amends_both_quotes_in_place(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        start = trio.current_time()
        await r.mid("60000")
        assert r.fake.take() == FIRST
        await r.mid("60030")
        assert r.fake.take() == MOVED
        await r.mid("60030.5")  # under requote_bps: nothing
        assert r.fake.take() == []
        assert trio.current_time() - start == 3
        stats = r.stats()
        assert (stats.amends, stats.amend_fallbacks, stats.quotes_placed, stats.requotes) == (2, 0, 2, 2)
        assert {o.client_order_id: o.price for o in r.fake.orders.values()} == {"c1": D("59969.9"), "c2": D("60090.1")}


async def test_cancel_place_mode_is_unchanged(autojump_clock: trio.testing.MockClock) -> None:
    async with rig(RequoteMode.CANCEL_PLACE) as r:
        await r.mid("60000")
        await r.mid("60030")
        assert r.fake.take() == [
            *FIRST,
            ("cancel", "c1", None, None),
            ("cancel", "c2", None, None),
            ("place", "buy", D("59969.9"), D("0.010")),
            ("place", "sell", D("60090.1"), D("0.010")),
        ]
        assert (r.stats().amends, r.stats().quotes_cancelled) == (0, 2)


async def test_same_terms_refusal_leaves_the_quote(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        same = OrderRejected("No need to modify the order.", EX, code="-5027", client_order_id="c1")
        r.fake.modify_answers.append(lambda order, command: same)
        await r.mid("60030")
        assert r.fake.take() == MOVED  # no cancel, no placement
        await r.mid("60060")
        assert [(kind, cid) for kind, cid, _, _ in r.fake.take()] == [("modify", "c1"), ("modify", "c2")]
        assert (r.stats().amends, r.stats().amend_fallbacks, r.stats().quotes_placed) == (3, 1, 2)


async def test_an_order_that_ended_is_placed_anew(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        gone = UnknownOrder("Order does not exist.", EX, code="-2013")
        r.fake.modify_answers.append(lambda order, command: gone)
        await r.mid("60030")
        assert r.fake.take() == [MOVED[0], ("place", "buy", D("59969.9"), D("0.010")), MOVED[1]]  # no cancel
        assert (r.stats().amends, r.stats().amend_fallbacks, r.stats().quotes_cancelled) == (1, 1, 0)
        await r.mid("60060")
        assert [(kind, cid) for kind, cid, _, _ in r.fake.take()] == [("modify", "c3"), ("modify", "c2")]


@pytest.mark.parametrize(
    "refusal",
    [
        InsufficientBalance("Margin is insufficient.", EX, code="-2019"),
        OrderRejected("order c1 is unknown: cannot modify it now", EX, client_order_id="c1", local=True),
        ExchangeUnavailable("Internal error", EX, code="-1001", status=503),
        TransportTimeout("no answer", "PUT /fapi/v1/order"),
    ],
    ids=["refused", "refused-locally", "5xx", "timeout"],
)
async def test_other_refusals_cancel_and_place(autojump_clock: trio.testing.MockClock, refusal: Exception) -> None:
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        r.fake.modify_answers.append(lambda order, command: refusal)
        await r.mid("60030")
        assert r.fake.take() == [
            MOVED[0],
            ("cancel", "c1", None, None),
            ("place", "buy", D("59969.9"), D("0.010")),
            MOVED[1],
        ]
        assert (r.stats().amends, r.stats().amend_fallbacks, r.stats().quotes_cancelled) == (1, 1, 1)


async def test_a_crossing_post_only_amendment_cancels_and_the_side_is_requoted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The exchange cancels a GTX order whose new price would take; the maker quotes that side afresh one
    requote interval later, and leaves the other quote (same terms) alone."""
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        r.fake.modify_answers.append(lambda order, command: _evolve(order, status=S.CANCELLED))
        await r.bus.publish(
            BestBidAsk(exchange=EX, instrument=BTC, bid_price=D("60029.5"), bid_size=D(1), ask_price=D("60030.5"),
                       ask_size=D(1)),
        )  # fmt: skip
        await trio.sleep(0.25)
        assert r.fake.take() == MOVED
        assert r.fake.orders["c1"].status is S.CANCELLED
        await trio.sleep(0.5)  # one min_requote_interval later: the bid is placed again
        assert r.fake.take() == [("place", "buy", D("59969.9"), D("0.010"))]
        assert (r.stats().amends, r.stats().requotes) == (2, 3)


async def test_a_cancel_replace_answer_is_followed(autojump_clock: trio.testing.MockClock) -> None:
    """Where the order manager cancel-replaces (Binance spot), the answer is the replacement: the quote
    follows its new client order id, and the original's cancelled report is not taken for the quote's end."""
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()

        def replaced(order: OrderUpdate, command: ModifyOrder) -> OrderUpdate:
            assert command.new_price is not None
            return _evolve(order, client_order_id=r.fake.new_id(), price=command.new_price, exchange_order_id="9")

        r.fake.modify_answers.append(replaced)
        await r.mid("60030")
        assert r.fake.take() == MOVED
        await r.report(_evolve(r.fake.orders["c1"], status=S.CANCELLED, reason="replaced by c3"))
        await r.mid("60060")
        assert [(kind, cid) for kind, cid, _, _ in r.fake.take()] == [("modify", "c3"), ("modify", "c2")]
        assert r.stats().quotes_placed == 2


async def test_a_partly_filled_quote_is_topped_up_to_its_size(autojump_clock: trio.testing.MockClock) -> None:
    """The new total size is what filled plus ``size``: the quote rests with ``size`` again."""
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        await r.report(_evolve(r.fake.orders["c1"], status=S.PARTIALLY_FILLED, filled_size=D("0.004")))
        await r.mid("60030")
        assert r.fake.take() == [("modify", "c1", D("59969.9"), D("0.014")), MOVED[1]]


async def test_a_quote_that_filled_is_placed_and_the_other_left_alone(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        await r.mid("60000")
        r.fake.take()
        await r.report(_evolve(r.fake.orders["c2"], status=S.FILLED, filled_size=D("0.010")))
        await trio.sleep(1)
        assert r.fake.take() == [("place", "sell", D("60060.0"), D("0.010"))]  # the bid is where it should be
        assert r.stats().amends == 0


def test_requote_parameter() -> None:
    assert MarketMaker.from_params("mm", EX, BTC, {"requote": "amend"}).requote is RequoteMode.AMEND
    assert MarketMaker.from_params("mm", EX, BTC, {}).requote is RequoteMode.CANCEL_PLACE
    with pytest.raises(ConfigError, match="requote must be one of"):
        MarketMaker.from_params("mm", EX, BTC, {"requote": "replace"})
