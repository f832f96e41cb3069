"""The user stream against a fake venue over loopback, on virtual time: auth, forwarding, reconcile, keepalive."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TypeVar

import pytest
import trio
import trio.testing

from clobactors.actors import ActorSystem, open_actor_system
from clobactors.actors.bus import Subscription
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.user_stream import UserStream
from clobactors.backoff import Backoff
from clobactors.errors import AuthenticationFailed, ConfigError
from clobactors.exchanges.standard import UserStreamAuth
from clobactors.messages import Balance, Event, FeedConnected, FeedDown, FeedSynced, OrderUpdate
from clobactors.model import OrderStatus
from tests.actors.stream_fakes import FakeOrderManager, FakeVenue, open_venue, virtual, wall_ns

EXACT = Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.0)


E = TypeVar("E", bound=Event)


async def next_event(sub: Subscription, kind: type[E]) -> E:
    while True:
        event = await sub.receive()
        if isinstance(event, kind):
            return event


@asynccontextmanager
async def running_stream(
    venue: FakeVenue, auth: UserStreamAuth, *, start_om: bool = True
) -> AsyncIterator[tuple[ActorSystem, UserStream, FakeOrderManager, Subscription, ExchangeLink]]:
    async with open_venue(venue, auth=auth) as link, open_actor_system(seed=3, wall_ns=wall_ns) as system:
        sub = system.bus.subscribe("lifecycle", prefix=True)
        om = FakeOrderManager()
        if start_om:
            await system.start(om)
        stream = UserStream("user", link, "om", backoff=EXACT)
        await system.start(stream)
        yield system, stream, om, sub, link


async def test_listen_key_keepalive_forwarding_and_expiry(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    venue = FakeVenue()
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(20_000):
        async with running_stream(venue, UserStreamAuth.LISTEN_KEY) as (_, stream, om, sub, _link):
            connected = await next_event(sub, FeedConnected)
            assert connected.feed == "user" and virtual(connected.ts_recv) == 0
            assert [k for _, k in venue.listen_keys] == ["key-1"] and venue.connections == [(0.0, "/user/key-1")]
            synced = await next_event(sub, FeedSynced)  # trusted only after the order manager reconciled
            assert synced.feed == "user" and om.reconciles == [0.0] and stream.statistics().trusted
            venue.send_user({"e": "order", "cid": "c1", "status": "open"})
            venue.send_user({"e": "balance", "asset": "USDT", "free": "10.5"})
            await om.wait_for(lambda: len(om.reports) == 2)
            (_, first), (_, second) = om.reports
            assert isinstance(first[0], OrderUpdate) and first[0].status is OrderStatus.OPEN
            assert isinstance(second[0], Balance) and second[0].free == Decimal("10.5")
            # Keepalives exactly every listen_key_interval (1800 s), drift-free.
            await trio.sleep(3 * 1800 + 1)
            assert venue.keepalives == [(1800.0, "key-1"), (3600.0, "key-1"), (5400.0, "key-1")]
            expired_at = trio.current_time()
            venue.expire_listen_key()
            down = await next_event(sub, FeedDown)
            assert "listenKeyExpired" in down.reason
            again = await next_event(sub, FeedConnected)
            assert virtual(again.ts_recv) == expired_at  # it had progressed: a new key at once
            assert venue.listen_keys[-1] == (expired_at, "key-2")
            await next_event(sub, FeedSynced)
            assert om.reconciles == [0.0, expired_at]  # asked again after the reconnect
            await trio.sleep(1800 + 1)
            assert venue.keepalives[-1] == (expired_at + 1800, "key-2")
            stats = stream.statistics()
            assert (stats.connects, stats.reconnects, stats.listen_keys, stats.keepalives) == (2, 1, 2, 4)
            assert stats.events_forwarded == 2 and stats.reconciles == 2
    assert not any(key in record.getMessage() for record in caplog.records for key in ("key-1", "key-2"))


async def test_refused_keepalive_gets_a_new_key(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(5000):
        async with running_stream(venue, UserStreamAuth.LISTEN_KEY) as (_, stream, om, sub, _link):
            await next_event(sub, FeedSynced)
            venue.live_keys.clear()  # the key died silently; the next keepalive is refused
            down = await next_event(sub, FeedDown)
            assert virtual(down.ts_recv) == 1800 and "keepalive refused" in down.reason
            await next_event(sub, FeedSynced)
            assert [k for _, k in venue.listen_keys] == ["key-1", "key-2"] and len(om.reconciles) == 2
            assert stream.statistics().keepalive_failures == 1


async def test_signed_login_abort_reconnects_with_backoff_and_reconciles(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        async with running_stream(venue, UserStreamAuth.SIGNED_FRAME) as (_, stream, om, sub, _link):
            await next_event(sub, FeedSynced)
            assert venue.logins == [(0.0, "secret-key")] and om.reconciles == [0.0]
            venue.send_user({"e": "order", "cid": "c1", "status": "open"})
            await om.wait_for(lambda: len(om.reports) == 1)
            await trio.sleep(10)
            venue.abort(venue.users)
            down = await next_event(sub, FeedDown)
            assert virtual(down.ts_recv) == 10
            connected = await next_event(sub, FeedConnected)
            assert virtual(connected.ts_recv) == 10.5  # backoff.delay(0) after a connection that progressed
            await next_event(sub, FeedSynced)
            assert venue.logins == [(0.0, "secret-key"), (10.5, "secret-key")] and om.reconciles == [0.0, 10.5]
            venue.send_user(b"garbage")  # hint DROP: counted
            venue.send_user({"e": "bad", "hint": "resync"})  # an event may be lost: reconcile again
            await om.wait_for(lambda: len(om.reconciles) == 3)
            venue.send_user({"e": "order", "cid": "c1", "status": "filled"})
            await om.wait_for(lambda: len(om.reports) == 2)
            stats = stream.statistics()
            assert stats.malformed == 2 and stats.reconnects == 1 and stats.trusted


async def test_reconcile_waits_for_the_order_manager(autojump_clock: trio.testing.MockClock) -> None:
    venue = FakeVenue()
    with trio.fail_after(60):
        async with running_stream(venue, UserStreamAuth.SIGNED_FRAME, start_om=False) as (sys, stream, _, sub, _l):
            venue.send_user({"e": "order", "cid": "c1", "status": "open"})
            await trio.sleep(2)
            assert not stream.statistics().trusted and stream.statistics().undelivered == 1
            om = FakeOrderManager()
            await sys.start(om)
            synced = await next_event(sub, FeedSynced)
            # Reconcile retried after 0.5, 1.0 and 2.0 s of backoff: the one at 3.5 s finds the order manager,
            # and one more follows for the event it missed (queued while a reconcile was in flight).
            assert virtual(synced.ts_recv) == 3.5 and om.reconciles == [3.5, 3.5]
            stats = stream.statistics()
            assert stats.reconcile_failures == 3 and stats.reconciles == 2 and stats.trusted


async def test_bad_credentials_crash_the_stream(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        for auth in (UserStreamAuth.SIGNED_FRAME, UserStreamAuth.LISTEN_KEY):
            venue = FakeVenue()
            async with open_venue(venue, auth=auth) as link, open_actor_system(wall_ns=wall_ns) as system:
                await system.start(FakeOrderManager())
                link.credentials = "wrong-key"
                with pytest.raises(AuthenticationFailed):
                    await system.start(UserStream("user", link, "om", backoff=EXACT))
                link.credentials = None
                with pytest.raises(ConfigError):
                    await system.start(UserStream("user2", link, "om"))
