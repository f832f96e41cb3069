"""The one-pass grant (``RateLimiter.grant_now``) decides exactly as the full arithmetic would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.ratelimit import Pool, Priority, RateLimiter, WindowKind

POOLS = (
    Pool("W", 20, 10.0, WindowKind.FIXED),
    Pool("O", 5, 3.0, WindowKind.SLIDING),
)

_step = st.tuples(
    st.sampled_from(["grant_now", "enqueue", "poll", "pause"]),
    st.dictionaries(st.sampled_from(["W", "O"]), st.integers(0, 4), max_size=2),
    st.sampled_from(list(Priority)),
    st.floats(0.0, 2.0),
)


def fits_by_arithmetic(limiter: RateLimiter, cost: dict[str, int], priority: Priority, now: float) -> bool:
    """The full rule on a fresh state: every pool's window used plus the cost within what ``priority`` may use."""
    pools = {p.name: p for p in limiter.statistics(now).pools}
    for name, units in cost.items():
        limit = pools[name].limit
        allowed = limit if priority is Priority.CANCEL else limit - limit // 10
        if pools[name].used + units > allowed:
            return False
    return True


@settings(max_examples=150)
@given(st.lists(_step, max_size=40))
def test_grant_now_grants_exactly_when_nothing_waits_and_the_cost_fits(
    steps: list[tuple[str, dict[str, int], Priority, float]],
) -> None:
    limiter = RateLimiter(POOLS, cancel_reserve=0.1)
    now = 0.0
    for action, cost, priority, dt in steps:
        now += dt
        if action == "enqueue":
            limiter.enqueue(cost, priority, now)
        elif action == "poll":
            limiter.poll(now)
        elif action == "pause":
            limiter.on_rate_limited(now, 0.5)
        else:
            blocked = limiter.has_waiters(priority) or (
                limiter.paused_until is not None and now < limiter.paused_until
            )
            expected = not blocked and fits_by_arithmetic(limiter, cost, priority, now)
            before = {p.name: p.used for p in limiter.statistics(now).pools}
            at = limiter.grant_now(cost, priority, now)
            after = {p.name: p.used for p in limiter.statistics(now).pools}
            assert (at is not None) == expected
            if at is None:
                assert after == before  # a refusal changes nothing
            else:
                assert at == now
                assert after == {name: before[name] + cost.get(name, 0) for name in before}
