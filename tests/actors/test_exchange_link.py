"""ExchangeLink: reference data, clock offset, and the one REST path (limiter, usage, error mapping)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing

from clobactors.actors import open_actor_system
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.rate_limiter import RateLimiterActor
from clobactors.errors import (
    ConfigError,
    ConnectionLost,
    ExchangeUnavailable,
    RateLimited,
    TransportTimeout,
    UnknownOrder,
)
from clobactors.httpspec import HttpRequestSpec
from clobactors.ratelimit import Priority
from tests.actors.fake_exchange import (
    INSTRUMENT,
    SYMBOL,
    FakeExchange,
    Fault,
    open_fake_link,
    start_probe,
    wall_ns,
)


@pytest.fixture
def exchange() -> FakeExchange:
    return FakeExchange(skew_ms=1500)


QUERY = HttpRequestSpec(method="GET", path="/order", params=(("symbol", SYMBOL), ("cid", "nope")))


async def test_reference_data_and_clock_offset(autojump_clock: trio.testing.MockClock, exchange: FakeExchange) -> None:
    async with open_fake_link(exchange, rate_limiter="") as link, open_actor_system(wall_ns=wall_ns) as system:
        ctx = await start_probe(system)
        with pytest.raises(ConfigError, match="not loaded"):
            link.rules(INSTRUMENT)
        info = await link.load_reference_data(ctx)
        assert link.info is info
        assert link.time_offset_ms == 1500
        assert link.now_ms() == wall_ns() // 1_000_000 + 1500
        assert link.instrument(INSTRUMENT).symbol == SYMBOL
        assert link.rules(INSTRUMENT).tick_size == Decimal("0.01")
        assert [p.name for p in info.pools] == ["W", "O"]
        with pytest.raises(ConfigError, match="ETH-USDT"):
            link.instrument("ETH-USDT")
        # the clock drifts: a resync follows it
        exchange.skew_ms = -250
        assert await link.sync_clock(ctx) == -250


async def test_rest_maps_errors_and_transport_failures(
    autojump_clock: trio.testing.MockClock, exchange: FakeExchange
) -> None:
    async with (
        open_fake_link(exchange, rate_limiter="", read_timeout=2.0) as link,
        open_actor_system(wall_ns=wall_ns) as system,
    ):
        ctx = await start_probe(system)
        await link.load_reference_data(ctx)
        with pytest.raises(UnknownOrder):
            await link.rest(ctx, QUERY, Priority.QUERY)
        exchange.fault("GET", "/order", Fault.UNAVAILABLE)
        with pytest.raises(ExchangeUnavailable):
            await link.rest(ctx, QUERY, Priority.QUERY)
        exchange.fault("GET", "/order", Fault.DROP_BEFORE)
        with pytest.raises(ConnectionLost):
            await link.rest(ctx, QUERY, Priority.QUERY)
        exchange.fault("GET", "/order", Fault.RATE_LIMITED)
        with pytest.raises(RateLimited) as info:
            await link.rest(ctx, QUERY, Priority.QUERY)
        assert info.value.retry_after == 3.0
        exchange.orders.clear()
        exchange.add_order("nope")
        result = await link.rest(ctx, QUERY, Priority.QUERY)
        assert result.status == 200


async def test_rest_timeout_is_exact(autojump_clock: trio.testing.MockClock) -> None:
    exchange = FakeExchange()
    async with (
        open_fake_link(exchange, rate_limiter="", read_timeout=2.0) as link,
        open_actor_system(wall_ns=wall_ns) as system,
    ):
        ctx = await start_probe(system)
        await link.load_reference_data(ctx)
        exchange.fault("GET", "/order", Fault.SILENT)
        start = trio.current_time()
        with pytest.raises(TransportTimeout):
            await link.rest(ctx, QUERY, Priority.QUERY)
        assert trio.current_time() - start == 2.0


async def test_rest_goes_through_the_limiter_and_reports_usage(
    autojump_clock: trio.testing.MockClock,
) -> None:
    exchange = FakeExchange(report_usage=True, pool_limit=100)
    async with open_fake_link(exchange) as link, open_actor_system(wall_ns=wall_ns) as system:
        limiter = RateLimiterActor("limiter", link)
        await system.start(limiter)
        ctx = await start_probe(system)
        assert link.info is not None  # loaded by the limiter on start
        exchange.add_order("nope")
        await link.rest(ctx, QUERY, Priority.QUERY)
        await trio.testing.wait_all_tasks_blocked()
        stats = limiter.statistics()
        assert stats.granted == 1
        assert stats.usage_reports == 1
        assert stats.limiter is not None
        # the exchange counted /info and /time too (unthrottled), so our count was raised to its figure
        assert {p.name: p.used for p in stats.limiter.pools}["W"] == 3
        assert stats.limiter.usage_corrections == 1
        exchange.fault("GET", "/order", Fault.RATE_LIMITED)
        with pytest.raises(RateLimited):
            await link.rest(ctx, QUERY, Priority.QUERY)
        await trio.testing.wait_all_tasks_blocked()
        assert limiter.statistics().rate_limited_notices == 1


async def test_load_reference_data_needs_no_limiter(autojump_clock: trio.testing.MockClock) -> None:
    # the limiter's own first request: it must not ask the (not yet running) limiter
    exchange = FakeExchange()
    async with open_fake_link(exchange, rate_limiter="limiter") as link, open_actor_system() as system:
        ctx = await start_probe(system)
        await link.load_reference_data(ctx)
        assert link.instruments()[0].name == INSTRUMENT


def test_link_repr_hides_credentials() -> None:
    link = ExchangeLink(name="x", dialect=None, http=None, credentials="s3cr3t")  # type: ignore[arg-type]
    assert "s3cr3t" not in repr(link)
