"""Canonical messages survive JSON and msgpack round trips exactly, through the family unions."""

from __future__ import annotations

import enum
import types
import typing
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clobactors import messages as m
from clobactors.model import OrderStatus, OrderType, Side

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12)
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=0, max_size=16)

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """Values for one annotated field type (kept local: registering globally would leak into other tests)."""
    if tp is Decimal:
        return decimals
    if tp is str:
        return names
    if tp is bool:
        return st.booleans()
    if tp is int:
        return ints
    if tp is float:
        return floats
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return st.one_of([strategy_for(a) for a in args])
    if tp is type(None):
        return st.none()
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
    if origin is tuple:
        return st.tuples(*(strategy_for(a) for a in args))
    raise NotImplementedError(tp)


def structs(cls: type[Any]) -> st.SearchStrategy[Any]:
    fields = msgspec.structs.fields(cls)
    return st.builds(cls, **{f.name: strategy_for(f.type) for f in fields})

EVENT_TYPES: list[type[Any]] = [
    *m.MARKET_TYPES,
    *m.ACCOUNT_TYPES,
    m.FeedConnected,
    m.FeedSynced,
    m.FeedStale,
    m.FeedDown,
    m.ActorRestarted,
    m.SupervisorEscalatedEvent,
    m.OrderOutcomeUnknown,
    m.SubscriberLagging,
]
COMMAND_TYPES: list[type[Any]] = [
    m.PlaceOrder,
    m.CancelOrder,
    m.CancelAll,
    m.ModifyOrder,
    m.SetLeverage,
    m.SetPositionMode,
]

events = st.one_of([structs(t) for t in EVENT_TYPES])
commands = st.one_of([structs(t) for t in COMMAND_TYPES])

JSON_EVENT = msgspec.json.Decoder(m.Event)
JSON_MESSAGE = msgspec.json.Decoder(m.Message)
MSGPACK_MESSAGE = msgspec.msgpack.Decoder(m.Message)
ENC_JSON = msgspec.json.Encoder()
ENC_MSGPACK = msgspec.msgpack.Encoder()


@given(events)
def test_event_json_round_trip(event: m.Event) -> None:
    assert JSON_EVENT.decode(ENC_JSON.encode(event)) == event
    assert JSON_MESSAGE.decode(ENC_JSON.encode(event)) == event


@given(st.one_of(events, commands))
def test_message_msgpack_round_trip(message: m.Message) -> None:
    assert MSGPACK_MESSAGE.decode(ENC_MSGPACK.encode(message)) == message


@given(commands)
def test_command_json_round_trip(command: m.Command) -> None:
    assert msgspec.json.decode(ENC_JSON.encode(command), type=m.Command) == command


def test_decimals_stay_exact_on_the_wire() -> None:
    trade = m.Trade(exchange="binance", instrument="BTC-USDT", trade_id="1", price=Decimal("0.10000000"),
                    size=Decimal("1E-8"))
    raw = ENC_JSON.encode(trade)
    assert b'"0.10000000"' in raw
    back = JSON_EVENT.decode(raw)
    assert isinstance(back, m.Trade)
    assert back.price == Decimal("0.1") and str(back.price) == "0.10000000"


def test_tags_are_readable_and_unique() -> None:
    tags = [t.__struct_config__.tag for t in EVENT_TYPES + COMMAND_TYPES]
    assert len(tags) == len(set(tags))
    assert ENC_JSON.encode(m.CancelAll(exchange="binance")).startswith(b'{"type":"cancelall"')


def test_unknown_fields_are_refused_on_canonical_messages() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        JSON_EVENT.decode(b'{"type":"feedconnected","exchange":"x","feed":"book","surprise":1}')


def test_messages_are_frozen() -> None:
    update = m.OrderUpdate(exchange="x", client_order_id="a", status=OrderStatus.OPEN, side=Side.BUY,
                           order_type=OrderType.LIMIT, size=Decimal(1))
    with pytest.raises(AttributeError):
        update.size = Decimal(2)  # type: ignore[misc]


def spelled(numbers: st.SearchStrategy[Decimal]) -> st.SearchStrategy[str]:
    """Decimal strings as an exchange writes them, one number sometimes spelled two ways (``"1.5"``, ``"1.50"``)."""
    return st.tuples(numbers, st.booleans()).map(lambda t: format(t[0].normalize() if t[1] else t[0], "f"))


# Few distinct prices, so that deltas (and levels within one delta) keep changing the same ones.
level_lists = st.lists(
    st.tuples(spelled(st.decimals(min_value=1, max_value=3, places=1)),
              spelled(st.decimals(min_value=0, max_value=5, places=3))),
    max_size=6,
).map(tuple)  # fmt: skip


@given(st.lists(st.tuples(level_lists, level_lists), min_size=1, max_size=6))
def test_merged_deltas_leave_the_book_as_applying_each(
    deltas: list[tuple[tuple[m.Level, ...], tuple[m.Level, ...]]],
) -> None:
    def apply(book: dict[str, dict[Decimal, Decimal]], delta: m.BookDelta) -> None:
        # Keyed by number, as the book keys levels: "1.5" and "1.50" are one price.
        for side, levels in (("bids", delta.decimal_bids()), ("asks", delta.decimal_asks())):
            for price, size in levels:
                if size == 0:
                    book[side].pop(price, None)
                else:
                    book[side][price] = size

    events = [
        m.BookDelta(exchange="x", instrument="A-B", bids=b, asks=a, first_sequence=i, sequence=i)
        for i, (b, a) in enumerate(deltas)
    ]
    stepwise: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    for event in events:
        apply(stepwise, event)
    merged: m.MarketEvent = events[0]
    for event in events[1:]:
        merged = m.merge_market(merged, event)
    assert isinstance(merged, m.BookDelta)
    assert merged.first_sequence == 0 and merged.sequence == len(events) - 1
    at_once: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    apply(at_once, merged)
    assert at_once == stepwise


def test_conflation_keys() -> None:
    bba = m.BestBidAsk(exchange="x", instrument="A-B", bid_price=None, bid_size=Decimal(0), ask_price=None,
                       ask_size=Decimal(0))
    t1 = m.Trade(exchange="x", instrument="A-B", trade_id="1", price=Decimal(1), size=Decimal(1))
    t2 = m.Trade(exchange="x", instrument="A-B", trade_id="2", price=Decimal(1), size=Decimal(1))
    assert m.conflation_key(bba) == m.conflation_key(bba)
    assert m.conflation_key(t1) != m.conflation_key(t2)


def test_merge_keeps_the_last_change_of_a_price_spelled_two_ways_within_one_delta() -> None:
    # Found by Hypothesis: "1.0" set and then "1" removed *inside one delta*; the merge must end removed.
    older = m.BookDelta(exchange="x", instrument="A-B", bids=(("1", "0"),), first_sequence=1, sequence=1)
    newer = m.BookDelta(
        exchange="x", instrument="A-B", bids=(("1", "0"), ("1.0", "1"), ("1", "0")), first_sequence=2, sequence=2
    )
    merged = m.merge_market(older, newer)
    assert isinstance(merged, m.BookDelta)
    assert merged.bids == (("1.0", "1"), ("1", "0"))
    assert (merged.first_sequence, merged.sequence) == (1, 2)
