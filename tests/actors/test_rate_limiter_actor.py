"""RateLimiterActor: priorities, 429 pauses and withdrawn tickets, with exact virtual durations.

Fixed windows are aligned to the exchange's clock; the fake wall clock is epoch 1_700_000_000 s at virtual
time 0, so windows of the fake's pool ``W`` roll over at whole virtual seconds.
"""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from clobactors.actors import open_actor_system
from clobactors.actors.rate_limiter import (
    Acquire,
    RateLimitedNotice,
    RateLimiterActor,
    UsageReport,
)
from clobactors.errors import ConfigError, RateLimited
from clobactors.httpspec import HttpRequestSpec
from clobactors.ratelimit import Priority
from tests.actors.fake_exchange import FakeExchange, Fault, open_fake_link, start_probe, wall_ns

TIME = HttpRequestSpec(method="GET", path="/time")


async def sleep_to_fraction(fraction: float) -> float:
    """Sleep to ``fraction`` past the next whole virtual second; return that second."""
    second = math.floor(trio.current_time()) + 1
    await trio.sleep_until(second + fraction)
    return float(second)


async def test_cancel_overtakes_query_when_saturated(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange(pool_limit=2, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link, cancel_reserve=0.0)
        await system.start(limiter)
        ctx = await start_probe(system)
        second = await sleep_to_fraction(0.25)
        assert await ctx.ask("limiter", Acquire(cost={"W": 2}, priority=Priority.QUERY)) == second + 0.25
        granted: dict[Priority, float] = {}

        async def wait(priority: Priority) -> None:
            at = await ctx.ask("limiter", Acquire(cost={"W": 2}, priority=priority))
            assert isinstance(at, float)
            granted[priority] = at

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait, Priority.QUERY)  # queued first...
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(wait, Priority.CANCEL)  # ...but the cancel goes first
        assert granted == {Priority.CANCEL: second + 1, Priority.QUERY: second + 2}
        stats = limiter.statistics()
        assert stats.granted == 3
        assert stats.waiting == 0


async def test_429_pauses_everyone_for_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link)
        await system.start(limiter)
        ctx = await start_probe(system)
        await trio.sleep(0.5)
        exchange.fault("GET", "/time", Fault.RATE_LIMITED)
        with pytest.raises(RateLimited):
            await link.rest(ctx, TIME, Priority.QUERY)
        paused_at = trio.current_time()
        await link.rest(ctx, TIME, Priority.CANCEL)  # even a cancel waits out Retry-After
        assert trio.current_time() - paused_at == 3.0
        assert [t for t, *_ in exchange.log[-2:]] == [paused_at, paused_at + 3.0]
        stats = limiter.statistics()
        assert stats.rate_limited_notices == 1
        assert stats.limiter is not None and stats.limiter.pauses == 1


async def test_ban_uses_the_default_when_no_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        await system.start(RateLimiterActor("limiter", link))
        ctx = await start_probe(system)
        start = trio.current_time()
        await ctx.tell("limiter", RateLimitedNotice(retry_after=None, banned=True))
        await ctx.ask("limiter", Acquire(cost={"W": 1}, priority=Priority.CANCEL))
        assert trio.current_time() - start == 120.0


async def test_abandoned_ticket_is_withdrawn(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange(pool_limit=2, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link, cancel_reserve=0.0)
        await system.start(limiter)
        ctx = await start_probe(system)
        second = await sleep_to_fraction(0.25)
        await ctx.ask("limiter", Acquire(cost={"W": 2}, priority=Priority.QUERY))
        granted: list[float] = []

        async def impatient() -> None:
            with trio.move_on_after(0.3):
                await ctx.ask("limiter", Acquire(cost={"W": 2}, priority=Priority.ORDER))
                raise AssertionError("granted although the window is full")

        async def patient() -> None:
            at = await ctx.ask("limiter", Acquire(cost={"W": 2}, priority=Priority.QUERY))
            assert isinstance(at, float)
            granted.append(at)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(impatient)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(patient)
        # Had the impatient ORDER ticket stayed, it would have taken the next window and pushed this to +2.
        assert granted == [second + 1]
        stats = limiter.statistics()
        assert stats.abandoned == 1
        assert stats.limiter is not None and stats.limiter.cancelled == 1


async def test_impossible_cost_fails_the_ask(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange(pool_limit=2, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        await system.start(RateLimiterActor("limiter", link))
        ctx = await start_probe(system)
        with pytest.raises(ConfigError, match="can never be sent"):
            await ctx.ask("limiter", Acquire(cost={"W": 5}, priority=Priority.QUERY))
        with pytest.raises(ConfigError, match="unknown rate-limit pool"):
            await ctx.ask("limiter", Acquire(cost={"X": 1}, priority=Priority.QUERY))
        with pytest.raises(ConfigError, match="does not serve"):
            await ctx.ask("limiter", "hello")


async def test_usage_report_raises_the_count(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange(pool_limit=10, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link, cancel_reserve=0.0)
        await system.start(limiter)
        ctx = await start_probe(system)
        second = await sleep_to_fraction(0.5)
        await ctx.tell("limiter", UsageReport(usage=(("W", 9),), sent_at=None))
        await ctx.ask("limiter", Acquire(cost={"W": 1}, priority=Priority.QUERY))
        assert trio.current_time() == second + 0.5
        await ctx.ask("limiter", Acquire(cost={"W": 1}, priority=Priority.QUERY))
        assert trio.current_time() == second + 1  # the exchange's figure filled the window


async def test_uncontended_requests_are_granted_in_the_callers_task(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange(pool_limit=2, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link, cancel_reserve=0.0)
        await system.start(limiter)
        assert link.gate is not None
        ctx = await start_probe(system)
        second = await sleep_to_fraction(0.25)
        await link.rest(ctx, TIME, Priority.QUERY)
        await link.rest(ctx, TIME, Priority.QUERY)
        assert limiter.statistics().immediate == 2
        await link.rest(ctx, TIME, Priority.QUERY)  # the window is full: queued at the actor
        assert trio.current_time() == second + 1
        stats = limiter.statistics()
        assert (stats.granted, stats.immediate) == (3, 2)


async def test_a_queued_ask_holds_back_newcomers_of_its_priority_or_lower(
    autojump_clock: trio.testing.MockClock,
) -> None:
    exchange = FakeExchange(pool_limit=2, pool_window=1.0)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        await system.start(RateLimiterActor("limiter", link, cancel_reserve=0.0))
        gate = link.gate
        assert gate is not None
        await start_probe(system)
        await sleep_to_fraction(0.25)
        gate.contend(Priority.ORDER)  # an ORDER ask on its way to the actor
        assert gate.try_grant({"W": 1}, Priority.ORDER) is None  # FIFO within a priority
        assert gate.try_grant({"W": 1}, Priority.QUERY) is None  # and nothing lower overtakes it
        assert gate.try_grant({"W": 1}, Priority.CANCEL) == trio.current_time()  # strict priority
        gate.settled(Priority.ORDER)
        assert gate.try_grant({"W": 1}, Priority.QUERY) == trio.current_time()
        assert gate.try_grant({"W": 1}, Priority.QUERY) is None  # full until the window rolls
        with pytest.raises(ConfigError, match="can never be sent"):
            gate.try_grant({"W": 5}, Priority.QUERY)


async def test_the_gate_goes_with_the_limiter(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with open_fake_link(exchange) as link:
        async with open_actor_system(wall_ns=wall_ns) as system:
            await system.start(RateLimiterActor("limiter", link))
            assert link.gate is not None
        assert link.gate is None  # a stopped limiter grants nothing: asks fail with ActorUnavailable
