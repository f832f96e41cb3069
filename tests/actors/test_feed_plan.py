"""The book feed's connection plan: where an added instrument goes, when a connection opens or closes.

Pure tests (no sockets): :class:`~clobactors.actors.feed_plan.ConnectionPlan` decides placement, and the feed
follows it. A Hypothesis property drives random add/remove sequences and checks after every step
that the plan's connections carry exactly the subscribed set, one group each, within the per-connection limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.actors.feed_plan import ConnectionPlan
from clobactors.errors import ConfigError
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.model import Instrument

#: Channel -> connection group, as Binance USD-M's routed endpoints split them.
ROUTES = {Channel.BOOK: "public", Channel.BBO: "public", Channel.TRADES: "market", Channel.MARK: "market"}
NAMES = [f"C{i}-USDT" for i in range(12)]


def inst(name: str) -> Instrument:
    base, quote = name.split("-")
    return Instrument.spot("x", base, quote, base + quote)


def by_group(
    name: str, channels: Sequence[Channel], groups: dict[Channel, str] | None = None
) -> dict[str, list[Subscription]]:
    out: dict[str, list[Subscription]] = {}
    for channel in channels:
        out.setdefault((groups or {}).get(channel, ""), []).append(Subscription(channel, inst(name)))
    return out


def layout(plan: ConnectionPlan) -> dict[int, list[str]]:
    return {i: [f"{s.instrument.symbol}@{s.channel.value}" for s in plan.subscriptions(i)] for i in plan.indices}


TWO = (Channel.BOOK, Channel.TRADES)


def test_initial_layout_fills_connections_in_order_per_group() -> None:
    groups = {"": {n: by_group(n, TWO)[""] for n in NAMES[:5]}}
    plan = ConnectionPlan.initial(4, groups)
    assert layout(plan) == {
        0: ["C0USDT@book", "C0USDT@trades", "C1USDT@book", "C1USDT@trades"],
        1: ["C2USDT@book", "C2USDT@trades", "C3USDT@book", "C3USDT@trades"],
        2: ["C4USDT@book", "C4USDT@trades"],
    }
    assert plan.instruments(2) == {"C4-USDT"} and plan.group(0) == ""


def test_an_added_instrument_goes_to_the_first_connection_of_its_group_with_room() -> None:
    plan = ConnectionPlan.initial(4, {"": {n: by_group(n, TWO)[""] for n in NAMES[:3]}})
    # Connection 1 has room for one instrument (2 of 4 streams): the new one joins it.
    (change,) = plan.add("C3-USDT", by_group("C3-USDT", TWO))
    assert (change.connection, change.opened, change.group) == (1, False, "")
    assert [s.channel for s in change.subscriptions] == list(TWO)
    assert plan.stream_count(1) == 4
    # Now every connection is full: the next one opens connection 2.
    (change,) = plan.add("C4-USDT", by_group("C4-USDT", TWO))
    assert (change.connection, change.opened) == (2, True)
    # A removal frees room on connection 0; the next instrument fills the lowest connection with room.
    (gone,) = plan.remove("C0-USDT")
    assert (gone.connection, gone.emptied) == (0, False)
    (change,) = plan.add("C5-USDT", by_group("C5-USDT", TWO))
    assert (change.connection, change.opened) == (0, False)


def test_removing_the_last_instrument_of_a_connection_empties_it_and_its_index_is_never_reused() -> None:
    plan = ConnectionPlan.initial(2, {"": {n: by_group(n, TWO)[""] for n in NAMES[:2]}})
    assert list(plan.indices) == [0, 1]
    (gone,) = plan.remove("C1-USDT")
    assert (gone.connection, gone.emptied) == (1, True)
    assert list(plan.indices) == [0]
    assert plan.remove("C1-USDT") == []  # not carried: nothing to do
    (change,) = plan.add("C1-USDT", by_group("C1-USDT", TWO))
    assert (change.connection, change.opened) == (2, True)  # a fresh index: events never name two connections


def test_groups_never_share_a_connection() -> None:
    channels = (Channel.BOOK, Channel.TRADES, Channel.BBO, Channel.MARK)
    plan = ConnectionPlan.initial(10, {})
    changes = plan.add("C0-USDT", by_group("C0-USDT", channels, ROUTES))
    assert {(c.connection, c.group, c.opened) for c in changes} == {(0, "public", True), (1, "market", True)}
    changes = plan.add("C1-USDT", by_group("C1-USDT", channels, ROUTES))
    assert {(c.connection, c.group, c.opened) for c in changes} == {(0, "public", False), (1, "market", False)}
    assert layout(plan)[0] == ["C0USDT@book", "C0USDT@bbo", "C1USDT@book", "C1USDT@bbo"]
    gone = plan.remove("C0-USDT")
    assert sorted(c.connection for c in gone) == [0, 1] and not any(c.emptied for c in gone)


def test_an_instrument_whose_streams_exceed_the_limit_is_refused_before_anything_changes() -> None:
    plan = ConnectionPlan.initial(1, {"": {"C0-USDT": by_group("C0-USDT", (Channel.BOOK,))[""]}})
    with pytest.raises(ConfigError, match="2 channels per instrument exceed"):
        plan.add("C1-USDT", by_group("C1-USDT", TWO))
    assert layout(plan) == {0: ["C0USDT@book"]}
    with pytest.raises(ConfigError, match="already planned"):
        plan.add("C0-USDT", by_group("C0-USDT", (Channel.BOOK,)))
    with pytest.raises(ConfigError):
        ConnectionPlan(0)


_CHANNEL_SETS = st.sampled_from(
    [(Channel.BOOK,), TWO, (Channel.BOOK, Channel.TRADES, Channel.BBO), tuple(ROUTES)]
)
_OPS = st.lists(st.tuples(st.booleans(), st.sampled_from(NAMES), _CHANNEL_SETS), max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    max_streams=st.integers(min_value=4, max_value=9),
    routed=st.booleans(),
    start=st.lists(st.sampled_from(NAMES), unique=True, max_size=6),
    ops=_OPS,
)
def test_planned_connections_always_carry_exactly_the_subscribed_set_within_the_limit(
    max_streams: int, routed: bool, start: list[str], ops: list[tuple[bool, str, tuple[Channel, ...]]]
) -> None:
    groups_of = ROUTES if routed else {}
    initial: dict[str, dict[str, list[Subscription]]] = {}
    model: dict[str, set[Subscription]] = {}
    for name in start:
        for group, subs in by_group(name, TWO, groups_of).items():
            initial.setdefault(group, {})[name] = subs
        model[name] = {s for subs in by_group(name, TWO, groups_of).values() for s in subs}
    plan = ConnectionPlan.initial(max_streams, initial)
    for add, name, channels in ops:
        before = set(plan.indices)
        if add:
            if name in model:
                continue
            wanted = by_group(name, channels, groups_of)
            changes = plan.add(name, wanted)
            model[name] = {s for subs in wanted.values() for s in subs}
            assert {c.connection for c in changes if c.opened} == set(plan.indices) - before
            assert len(changes) == len(wanted)  # one connection per group
        else:
            changes = plan.remove(name)
            assert bool(changes) == (name in model)
            model.pop(name, None)
            assert {c.connection for c in changes if c.emptied} == before - set(plan.indices)
        # Exactly the subscribed set, each stream once, one group per connection, never over the limit.
        carried: list[Subscription] = []
        for index in plan.indices:
            on_it = plan.subscriptions(index)
            assert 0 < len(on_it) == plan.stream_count(index) <= max_streams
            assert {groups_of.get(s.channel, "") for s in on_it} == {plan.group(index)}
            assert plan.instruments(index) == {s.instrument.name for s in on_it}
            carried.extend(on_it)
        assert len(carried) == len(set(carried))
        assert set(carried) == {s for subs in model.values() for s in subs}
        # One instrument's streams of one group share one connection.
        homes = {(s.instrument.name, groups_of.get(s.channel, "")) for s in carried}
        assert len(homes) == len(
            {(s.instrument.name, groups_of.get(s.channel, ""), i) for i in plan.indices for s in plan.subscriptions(i)}
        )
