"""The pure rate limiter on virtual time: times are plain floats chosen to be exact in binary."""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clobactors.errors import ConfigError
from clobactors.ratelimit import (
    Grant,
    Pool,
    Priority,
    RateLimiter,
    Ticket,
    Wait,
    WindowKind,
    pools_from_rate_limits,
)

FIXED = WindowKind.FIXED
SLIDING = WindowKind.SLIDING

#: As served by Binance spot ``GET /api/v3/exchangeInfo`` (values from its documentation).
BINANCE_SPOT_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def granted_ids(limiter: RateLimiter, now: float) -> list[int]:
    return [t.id for t in limiter.poll(now).granted]


def used(limiter: RateLimiter, pool: str, now: float) -> int:
    return next(p.used for p in limiter.statistics(now).pools if p.name == pool)


# -- pools ---------------------------------------------------------------------------------------------------


def test_pools_from_binance_rate_limits() -> None:
    pools = pools_from_rate_limits(BINANCE_SPOT_RATE_LIMITS)
    assert pools == (
        Pool("REQUEST_WEIGHT_1M", 6000, 60.0, FIXED),
        Pool("ORDERS_10S", 100, 10.0, FIXED),
        Pool("ORDERS_1D", 200000, 86400.0, FIXED),
        Pool("RAW_REQUESTS_5M", 61000, 300.0, FIXED),
    )
    hourly = {"rateLimitType": "X", "interval": "HOUR", "intervalNum": 2, "limit": 5}
    assert pools_from_rate_limits([hourly], SLIDING) == (Pool("X_2H", 5, 7200.0, SLIDING),)


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 5},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 0, "limit": 5},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": "5"},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": True},
        {"rateLimitType": "", "interval": "SECOND", "intervalNum": 1, "limit": 5},
    ],
)
def test_malformed_rate_limit_entry_is_config_error(entry: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        pools_from_rate_limits([entry])


def test_invalid_configuration_is_config_error() -> None:
    with pytest.raises(ConfigError, match="limit"):
        Pool("A", 0, 1.0)
    with pytest.raises(ConfigError, match="window"):
        Pool("A", 1, math.nan)
    with pytest.raises(ConfigError, match="twice"):
        RateLimiter([Pool("A", 1, 1.0), Pool("A", 2, 1.0)])
    with pytest.raises(ConfigError, match="cancel_reserve"):
        RateLimiter([Pool("A", 1, 1.0)], cancel_reserve=1.0)
    with pytest.raises(ConfigError, match="default_ban"):
        RateLimiter([Pool("A", 1, 1.0)], default_ban=0)


def test_bad_requests_are_config_errors_not_deadlocks() -> None:
    limiter = RateLimiter([Pool("W", 10, 1.0)], cancel_reserve=0.1)
    with pytest.raises(ConfigError, match="unknown rate-limit pool 'X'"):
        limiter.enqueue({"X": 1}, Priority.QUERY, 0.0)
    with pytest.raises(ConfigError, match="can never be sent"):
        limiter.enqueue({"W": 10}, Priority.QUERY, 0.0)  # only 9 usable outside cancels
    with pytest.raises(ConfigError, match="can never be sent"):
        limiter.try_acquire({"W": 11}, Priority.CANCEL, 0.0)
    with pytest.raises(ConfigError, match=">= 0"):
        limiter.enqueue({"W": -1}, Priority.QUERY, 0.0)
    with pytest.raises(ConfigError, match="now"):
        limiter.poll(math.inf)
    assert limiter.statistics(0.0).waiting[Priority.QUERY] == 0  # nothing half-queued


# -- windows -------------------------------------------------------------------------------------------------


def test_fixed_window_resets_exactly_at_the_boundary() -> None:
    limiter = RateLimiter([Pool("W", 3, 10.0)], cancel_reserve=0)
    assert [limiter.try_acquire({"W": 1}, Priority.QUERY, t) for t in (1.0, 2.0, 3.0)] == [
        Grant(1.0),
        Grant(2.0),
        Grant(3.0),
    ]
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 4.0) == Wait(10.0)
    ticket = limiter.enqueue({"W": 2}, Priority.QUERY, 4.0)
    assert limiter.poll(4.0).next_wakeup == 10.0
    assert limiter.poll(9.875).granted == ()
    result = limiter.poll(10.0)
    assert result.granted == (ticket,)
    assert result.next_wakeup is None
    assert used(limiter, "W", 10.0) == 2
    assert limiter.statistics(19.5).pools[0].resets_at == 20.0
    assert used(limiter, "W", 20.0) == 0


def test_fixed_window_aligned_to_the_exchange_clock() -> None:
    # The exchange's minute starts when our clock reads 15: server epoch time = now + 45.
    limiter = RateLimiter([Pool("W", 1, 60.0)], cancel_reserve=0, clock_offset=45.0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 0.0) == Grant(0.0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 1.0) == Wait(15.0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 15.0) == Grant(15.0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 20.0) == Wait(75.0)


def test_clock_offset_change_never_shortens_the_current_window() -> None:
    limiter = RateLimiter([Pool("W", 1, 60.0)], cancel_reserve=0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 10.0) == Grant(10.0)
    limiter.set_clock_offset(30.0, 10.0)  # the exchange's minute turns at our 30, before our 60
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 30.0) == Wait(60.0)  # our count survives
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 60.0) == Grant(60.0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 61.0) == Wait(90.0)  # new alignment from here


def test_sliding_window_frees_units_as_they_age_out() -> None:
    limiter = RateLimiter([Pool("R", 2, 2.0, SLIDING)], cancel_reserve=0)
    assert limiter.try_acquire({"R": 1}, Priority.QUERY, 0.0) == Grant(0.0)
    assert limiter.try_acquire({"R": 1}, Priority.QUERY, 0.5) == Grant(0.5)
    first = limiter.enqueue({"R": 1}, Priority.QUERY, 1.0)
    second = limiter.enqueue({"R": 2}, Priority.QUERY, 1.0)
    result = limiter.poll(1.0)
    assert (result.granted, result.next_wakeup) == ((), 2.0)
    result = limiter.poll(2.0)
    assert (result.granted, result.next_wakeup) == ((first,), 4.0)  # second needs both units back
    assert limiter.poll(3.875).granted == ()
    assert limiter.poll(4.0).granted == (second,)
    assert limiter.statistics(4.0).pools[0].resets_at == 6.0


def test_time_never_runs_backwards() -> None:
    limiter = RateLimiter([Pool("W", 1, 10.0)], cancel_reserve=0)
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 12.0) == Grant(12.0)
    # A stale reading is taken as the latest one: the window started at 10 is still counted.
    assert limiter.try_acquire({"W": 1}, Priority.QUERY, 5.0) == Wait(20.0)


# -- several pools -------------------------------------------------------------------------------------------


def test_acquire_is_atomic_across_pools() -> None:
    limiter = RateLimiter(
        [Pool("WEIGHT", 100, 60.0), Pool("ORDERS", 2, 10.0), Pool("DAY", 1000, 86400.0)], cancel_reserve=0
    )
    order = {"WEIGHT": 4, "ORDERS": 1, "DAY": 1}
    assert limiter.try_acquire(order, Priority.ORDER, 0.0) == Grant(0.0)
    assert limiter.try_acquire(order, Priority.ORDER, 1.0) == Grant(1.0)
    assert limiter.try_acquire(order, Priority.ORDER, 2.0) == Wait(10.0)
    stats = {p.name: p.used for p in limiter.statistics(2.0).pools}
    assert stats == {"WEIGHT": 8, "ORDERS": 2, "DAY": 2}  # the refused order took nothing anywhere
    assert limiter.try_acquire({"WEIGHT": 20}, Priority.QUERY, 2.0) == Grant(2.0)  # other pools still open
    assert limiter.try_acquire(order, Priority.ORDER, 10.0) == Grant(10.0)
    assert {p.name: p.used for p in limiter.statistics(10.0).pools} == {"WEIGHT": 32, "ORDERS": 1, "DAY": 3}


def test_zero_and_empty_costs() -> None:
    limiter = RateLimiter([Pool("W", 1, 1.0)], cancel_reserve=0)
    ticket = limiter.enqueue({"W": 0}, Priority.MARKET_DATA, 0.0)
    assert ticket.cost == ()
    assert limiter.poll(0.0).granted == (ticket,)
    assert limiter.try_acquire({}, Priority.QUERY, 0.0) == Grant(0.0)


# -- priorities ----------------------------------------------------------------------------------------------


def test_cancel_jumps_ahead_and_fifo_within_a_priority() -> None:
    limiter = RateLimiter([Pool("W", 2, 10.0)], cancel_reserve=0)
    assert limiter.try_acquire({"W": 2}, Priority.QUERY, 0.0) == Grant(0.0)
    query = limiter.enqueue({"W": 1}, Priority.QUERY, 1.0)
    orders = [limiter.enqueue({"W": 1}, Priority.ORDER, 2.0 + i) for i in range(3)]
    market = limiter.enqueue({"W": 1}, Priority.MARKET_DATA, 5.0)
    cancel = limiter.enqueue({"W": 1}, Priority.CANCEL, 6.0)
    result = limiter.poll(6.0)
    assert (result.granted, result.next_wakeup) == ((), 10.0)
    assert limiter.poll(10.0).granted == (cancel, orders[0])
    assert limiter.poll(20.0).granted == (orders[1], orders[2])
    assert limiter.poll(30.0).granted == (query, market)
    stats = limiter.statistics(30.0)
    assert stats.granted == {
        Priority.MARKET_DATA: 1,
        Priority.QUERY: 2,
        Priority.ORDER: 3,
        Priority.CANCEL: 1,
    }
    assert sum(stats.waiting.values()) == 0


def test_lower_priority_cannot_take_what_a_blocked_waiter_needs() -> None:
    limiter = RateLimiter([Pool("WEIGHT", 10, 60.0), Pool("ORDERS", 1, 10.0)], cancel_reserve=0)
    assert limiter.try_acquire({"ORDERS": 1}, Priority.ORDER, 0.0) == Grant(0.0)
    order = limiter.enqueue({"WEIGHT": 4, "ORDERS": 1}, Priority.ORDER, 1.0)  # blocked on ORDERS
    small = limiter.enqueue({"WEIGHT": 6}, Priority.QUERY, 1.0)  # leaves exactly 4 for the order: may go
    big = limiter.enqueue({"WEIGHT": 1}, Priority.QUERY, 1.0)  # would eat into the order's 4
    result = limiter.poll(1.0)
    assert (result.granted, result.next_wakeup) == ((small,), 10.0)
    assert limiter.try_acquire({"WEIGHT": 1}, Priority.MARKET_DATA, 1.0) == Wait(60.0)  # so would this
    assert limiter.poll(10.0).granted == (order,)
    result = limiter.poll(10.0)
    assert (result.granted, result.next_wakeup) == ((), 60.0)
    assert limiter.poll(60.0).granted == (big,)


def test_cancelling_a_ticket_releases_its_reservation() -> None:
    limiter = RateLimiter([Pool("W", 4, 10.0)], cancel_reserve=0)
    assert limiter.try_acquire({"W": 2}, Priority.QUERY, 0.0) == Grant(0.0)
    head = limiter.enqueue({"W": 3}, Priority.ORDER, 0.0)
    behind = limiter.enqueue({"W": 2}, Priority.QUERY, 0.0)
    assert limiter.poll(0.0).granted == ()
    assert limiter.cancel(head) is True
    assert limiter.cancel(head) is False
    assert limiter.poll(0.0).granted == (behind,)
    assert limiter.cancel(behind) is False  # already granted
    assert limiter.statistics(0.0).cancelled == 1


def test_cancel_reserve() -> None:
    limiter = RateLimiter([Pool("W", 10, 10.0)], cancel_reserve=0.1)
    assert limiter.statistics(0.0).pools[0].usable == 9
    assert limiter.try_acquire({"W": 5}, Priority.QUERY, 0.0) == Grant(0.0)
    assert limiter.try_acquire({"W": 4}, Priority.ORDER, 0.0) == Grant(0.0)
    assert limiter.try_acquire({"W": 1}, Priority.ORDER, 0.0) == Wait(10.0)
    assert limiter.try_acquire({"W": 1}, Priority.CANCEL, 0.0) == Grant(0.0)
    assert limiter.try_acquire({"W": 1}, Priority.CANCEL, 0.0) == Wait(10.0)
    # The reserve is computed from the decimal text: 0.3 of 10 keeps 3, and a limit of 1 keeps nothing.
    exact = RateLimiter([Pool("A", 10, 1.0), Pool("B", 1, 1.0)], cancel_reserve=0.3)
    assert [p.usable for p in exact.statistics(0.0).pools] == [7, 1]


# -- pauses --------------------------------------------------------------------------------------------------


def test_429_pauses_everything_until_retry_after() -> None:
    limiter = RateLimiter([Pool("W", 100, 60.0)], cancel_reserve=0)
    assert limiter.paused_until is None
    assert limiter.on_rate_limited(1.0, 2.5) == 3.5
    assert limiter.try_acquire({"W": 1}, Priority.CANCEL, 2.0) == Wait(3.5)
    ticket = limiter.enqueue({"W": 1}, Priority.ORDER, 2.0)
    result = limiter.poll(2.0)
    assert (result.granted, result.next_wakeup) == ((), 3.5)
    assert limiter.poll(3.375).granted == ()
    assert limiter.poll(3.5).granted == (ticket,)
    assert limiter.try_acquire({}, Priority.QUERY, 3.5) == Grant(3.5)
    # A pause and a full window together: wake at the later of the two.
    limiter.on_rate_limited(4.0, 1.0)
    assert limiter.try_acquire({"W": 100}, Priority.QUERY, 4.0) == Wait(60.0)


def test_pause_defaults_ban_and_never_shortening() -> None:
    limiter = RateLimiter([Pool("W", 1, 1.0)], default_retry_after=5.0, default_ban=120.0)
    assert limiter.on_rate_limited(0.0) == 5.0
    assert limiter.on_rate_limited(1.0, -3.0) == 6.0  # garbage Retry-After: default
    assert limiter.on_rate_limited(2.0, banned=True) == 122.0
    assert limiter.on_rate_limited(3.0, 10.0) == 122.0  # a shorter answer does not lift the ban
    assert limiter.on_rate_limited(4.0, 600.0, banned=True) == 604.0  # an explicit ban length is honoured
    stats = limiter.statistics(4.0)
    assert (stats.pauses, stats.bans, stats.paused_until) == (5, 2, 604.0)
    assert limiter.try_acquire({"W": 1}, Priority.CANCEL, 603.875) == Wait(604.0)
    assert limiter.try_acquire({"W": 1}, Priority.CANCEL, 604.0) == Grant(604.0)


# -- learning from the exchange ------------------------------------------------------------------------------


def test_used_weight_header_raises_but_never_lowers_the_count() -> None:
    limiter = RateLimiter([Pool("REQUEST_WEIGHT_1M", 100, 60.0)], cancel_reserve=0)
    assert limiter.try_acquire({"REQUEST_WEIGHT_1M": 10}, Priority.QUERY, 1.0) == Grant(1.0)
    assert limiter.observe_usage("REQUEST_WEIGHT_1M", 95, 1.25, sent_at=1.0) is True  # another client
    assert used(limiter, "REQUEST_WEIGHT_1M", 1.25) == 95
    assert limiter.observe_usage("REQUEST_WEIGHT_1M", 40, 1.5) is False  # stale figure: keep ours
    assert used(limiter, "REQUEST_WEIGHT_1M", 1.5) == 95
    assert limiter.try_acquire({"REQUEST_WEIGHT_1M": 6}, Priority.QUERY, 2.0) == Wait(60.0)
    # Sent before the boundary, answered after it: the figure may be the old window's, so it is ignored.
    assert limiter.try_acquire({"REQUEST_WEIGHT_1M": 5}, Priority.QUERY, 59.75) == Grant(59.75)
    assert limiter.observe_usage("REQUEST_WEIGHT_1M", 100, 60.125, sent_at=59.75) is False
    assert used(limiter, "REQUEST_WEIGHT_1M", 60.125) == 0
    assert limiter.observe_usage("REQUEST_WEIGHT_1M", 7, 60.25, sent_at=60.125) is True
    assert limiter.observe_usage("UNKNOWN_1M", 7, 60.25) is False
    assert limiter.observe_usage("REQUEST_WEIGHT_1M", -1, 60.25) is False
    stats = limiter.statistics(60.25)
    assert (stats.usage_corrections, stats.observations_ignored) == (2, 3)


def test_sliding_usage_report_counts_the_surplus_from_now() -> None:
    limiter = RateLimiter([Pool("R", 10, 2.0, SLIDING)], cancel_reserve=0)
    assert limiter.try_acquire({"R": 2}, Priority.QUERY, 0.0) == Grant(0.0)
    assert limiter.observe_usage("R", 10, 1.0) is True
    assert limiter.try_acquire({"R": 2}, Priority.QUERY, 1.0) == Wait(2.0)  # our own 2 expire at 2
    assert limiter.try_acquire({"R": 3}, Priority.QUERY, 1.0) == Wait(3.0)  # the surplus 8 at 3
    assert limiter.observe_usage("R", 10, 3.5, sent_at=1.0) is False  # about a window long gone


# -- properties ----------------------------------------------------------------------------------------------

eighths = st.integers(0, 16).map(lambda n: n / 8)


@attrs.frozen
class Scenario:
    """Two pools (A fixed, B sliding) and a script of requests, usage reports and pauses."""

    limits: dict[str, int]
    windows: dict[str, float]
    offset: float
    reserve: float
    operations: list[tuple[str, float, object, object]]

    def limiter(self) -> RateLimiter:
        pools = [
            Pool("A", self.limits["A"], self.windows["A"]),
            Pool("B", self.limits["B"], self.windows["B"], SLIDING),
        ]
        return RateLimiter(pools, cancel_reserve=self.reserve, clock_offset=self.offset)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    limits = {"A": draw(st.integers(1, 8)), "B": draw(st.integers(1, 5))}
    windows = {
        "A": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
        "B": draw(st.sampled_from([0.25, 0.75, 1.5])),
    }
    reserve = draw(st.sampled_from([0.0, 0.25, 0.5]))
    usable = {name: limit - math.floor(limit * Fraction(repr(reserve))) for name, limit in limits.items()}

    def request(priority: Priority) -> st.SearchStrategy[tuple[str, float, object, object]]:
        room = limits if priority is Priority.CANCEL else usable
        cost = st.fixed_dictionaries({name: st.integers(0, room[name]) for name in limits})
        return st.tuples(st.just("request"), eighths, st.just(priority), cost)

    operation = st.one_of(
        st.sampled_from(Priority).flatmap(request),
        st.tuples(st.just("observe"), eighths, st.sampled_from(["A", "B"]), st.integers(0, 10)),
        st.tuples(st.just("pause"), eighths, st.integers(0, 8).map(lambda n: n / 4), st.booleans()),
    )
    return Scenario(limits, windows, draw(eighths), reserve, draw(st.lists(operation, max_size=40)))


@given(scenario=scenarios())
def test_limits_hold_in_every_window_and_every_request_is_granted(scenario: Scenario) -> None:
    limiter = scenario.limiter()
    grants: list[tuple[float, Ticket]] = []
    pauses: list[tuple[int, float]] = []
    tickets: list[Ticket] = []
    now = 0.0
    for kind, delay, arg, value in scenario.operations:
        now += delay
        if kind == "request":
            assert isinstance(arg, Priority) and isinstance(value, dict)
            tickets.append(limiter.enqueue(value, arg, now))
        elif kind == "observe":
            assert isinstance(arg, str) and isinstance(value, int)
            limiter.observe_usage(arg, value, now)
        else:
            assert isinstance(arg, float) and isinstance(value, bool)
            pauses.append((len(grants), limiter.on_rate_limited(now, arg, banned=value)))
        grants.extend((now, t) for t in limiter.poll(now).granted)

    # Drain: every wakeup grants at least one ticket, so this ends within len(tickets) polls.
    wakeup = limiter.poll(now).next_wakeup
    for _ in range(len(tickets) + 1):
        if wakeup is None:
            break
        assert wakeup > now
        now = wakeup
        result = limiter.poll(now)
        assert result.granted
        grants.extend((now, t) for t in result.granted)
        wakeup = result.next_wakeup
    assert wakeup is None
    assert sorted(t.id for _, t in grants) == [t.id for t in tickets]

    for granted_before, end in pauses:  # nothing granted after a pause began, until it ends
        assert all(at >= end for at, _ in grants[granted_before:])
    fixed: defaultdict[int, int] = defaultdict(int)
    for at, ticket in grants:
        fixed[math.floor((at + scenario.offset) / scenario.windows["A"])] += dict(ticket.cost).get("A", 0)
    assert max(fixed.values(), default=0) <= scenario.limits["A"]
    for at, _ in grants:
        window = scenario.windows["B"]
        live = sum(dict(t.cost).get("B", 0) for g, t in grants if g <= at < g + window)
        assert live <= scenario.limits["B"]
    # FIFO within a priority for identical costs.
    order = [t for _, t in grants]
    for a in tickets:
        for b in tickets:
            if a.id < b.id and a.priority == b.priority and a.cost == b.cost:
                assert order.index(a) < order.index(b)
