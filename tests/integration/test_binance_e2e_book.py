"""End to end: the connector's book equals the simulator's book after every step of a long seeded run.

A session's book feed syncs BTC-USDT from the Binance simulator over loopback (REST snapshot plus the
``@depth@100ms`` diff stream, Binance's U/u splice). The seeded order flow runs in chunks of random length, so
each pause falls at an arbitrary point inside a 100 ms depth window. At each pause the test waits until the
feed has applied everything the simulator published (the view's sequence reaches the engine's update id,
which takes the face's next depth batch), then compares every level of both sides with the engine's book.

The feed's snapshot depth (1000) covers the whole simulated book, which the test asserts at every step: a
diff stream only updates levels it touches, so beyond a snapshot's depth a local book is incomplete by
construction (Binance documents the same limit) and a comparison there would test nothing but that.
"""

from __future__ import annotations

import random

import trio
import trio.testing

from clobactors.actors.book_view import BookView, GetBook
from clobactors.model import Side
from clobactors.sim.server import open_simulator
from tests.integration.binance_e2e_support import EXCHANGE, INSTRUMENT, SYMBOL, open_e2e_session

STEPS = 50
SNAPSHOT_DEPTH = 1000


async def _wait_caught_up(view: BookView, update_id: int) -> None:
    """Until the feed has applied the engine's update ``update_id`` (the next depth window publishes it)."""
    while view.is_stale or view.sequence != update_id:
        assert view.sequence is None or view.sequence <= update_id, "the feed is ahead of the engine"
        await trio.sleep(0.01)


async def test_book_equals_simulator_book_after_every_step(autojump_clock: trio.testing.MockClock) -> None:
    rng = random.Random(20240101)
    with trio.fail_after(300):
        async with (
            open_simulator("binance", seed=11, symbols=["BTCUSDT"]) as sim,
            open_e2e_session(sim, depth=SNAPSHOT_DEPTH) as (session, recorder),
        ):
            view = await session.ask(session.names(EXCHANGE).books, GetBook(INSTRUMENT))
            assert isinstance(view, BookView)
            await view.wait_synced()
            first_id = sim.engine.update_id(SYMBOL)
            moved = 0
            for step in range(STEPS):
                sim.resume_flow()
                await trio.sleep(rng.uniform(0.05, 1.5))
                sim.pause_flow()
                engine_id = sim.engine.update_id(SYMBOL)
                started = trio.current_time()
                with trio.fail_after(1.0):
                    await _wait_caught_up(view, engine_id)
                # The depth stream batches per 100 ms window: the feed is never more than one window behind.
                assert trio.current_time() - started <= 0.11 + 1e-9
                depth = sim.engine.depth(SYMBOL)
                assert depth.update_id == engine_id
                assert len(depth.bids) < SNAPSHOT_DEPTH and len(depth.asks) < SNAPSHOT_DEPTH
                bid_levels, ask_levels = view.levels()
                assert view.top(Side.BUY, SNAPSHOT_DEPTH) == list(depth.bids), f"bids differ at step {step}"
                assert view.top(Side.SELL, SNAPSHOT_DEPTH) == list(depth.asks), f"asks differ at step {step}"
                assert (bid_levels, ask_levels) == (len(depth.bids), len(depth.asks))
                moved += engine_id != first_id
            # A long run: the book moved through many updates, and both sides always had depth.
            assert sim.engine.update_id(SYMBOL) - first_id > 500
            assert moved >= STEPS - 2
            assert not [e for e in recorder.events if type(e).__name__ in ("FeedStale", "FeedDown")]
