"""Scale: one session following many instruments at a realistic update rate.

The simulator process trades ``N`` symbols: a slow seeded flow (0.2 events a second each) keeps the books
alive and the pump changes each symbol's best bid twice a second, so every instrument sends a book ticker
per change, a diff-depth frame per 100 ms window that saw a change (about two a second), and the odd trade:
about 4-5 frames a second per instrument, all depth windows flushed at the same 100 ms boundaries, as
Binance's ``@depth@100ms`` streams are. One strategy subscribes to every instrument (``market.binance``
prefix) with a market budget of 4 events per instrument (``ctx.subscribe(market_capacity=...)``; the bus's
default of 64 is smaller than the 100 ms burst of 1000 instruments, which would conflate and drop).

Per window: frames sent per second, the lag from a frame's send to the strategy's receipt (p50, p99), the
drift of the median lag within the window (second half minus first half: positive means it grows), the
session's CPU share of one core, what the bus conflated or dropped for the strategy, and connections the
simulator cut for reading too slowly (its send buffer of 1024 frames overflowed) and books that went stale.
Per run: the time until every book is synced (``nan`` if some never did within 60 s), how many connections
the simulator cut while the session was syncing. Lag is split as in ``loopback-market``: *wire* (simulator,
kernel, trio-websocket) and *session* (ours); the simulator's CPU share tells whether it kept up. Rows below
give the memory of one book (book, sync and feed state) by tracemalloc.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Sequence

import trio
from bench_book import _stream, canonical_snapshot
from gen_binance_depth import PRICE_DECIMALS
from loopback import Recorder, Recording, join, measure_window, session_against, sim_process
from registry import Figure, Row, Settings, Table, benchmark, percentile

from clobactors.actors.book_view import InstrumentBook
from clobactors.book import L2Book
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.messages import BookSnapshot
from clobactors.model import Instrument, InstrumentKind

_FLOW_RATE = 0.2
_CHANGES_PER_INSTRUMENT = 2.0
#: Market events the strategy's subscription may hold per instrument: a 100 ms flush is about two a piece.
_BUDGET_PER_INSTRUMENT = 4


def _median_drift(timeline: Sequence[tuple[int, int]]) -> float:
    """Median lag of the window's second half minus its first half, by send time, in µs."""
    if len(timeline) < 4:
        return 0.0
    ordered = sorted(timeline)
    half = len(ordered) // 2
    first = sorted(lag for _, lag in ordered[:half])
    second = sorted(lag for _, lag in ordered[half:])
    return (percentile(second, 0.5) - percentile(first, 0.5)) / 1e3


async def _scale(settings: Settings, count: int) -> Row:
    names = "sent p50 p99 drift wire50 s50 s99 cpu sim conflated dropped slow stale sync cut"
    figures: dict[str, list[float]] = {name: [] for name in names.split()}
    async with sim_process(count, _FLOW_RATE, pump_rate=_CHANGES_PER_INSTRUMENT * count) as sim:
        recording = Recording()
        budget = _BUDGET_PER_INSTRUMENT * count  # the strategy asks the bus for a budget that fits its burst
        strategy = ("recorder", lambda: Recorder("recorder", recording, market_capacity=budget))
        began = time.perf_counter()
        async with session_against(sim, sim.instruments, [strategy]):
            with trio.move_on_after(20 if settings.quick else 60):
                while len(recording.synced) < count:  # noqa: ASYNC110 - polled: the recorder owns no Event
                    await trio.sleep(0.01)
            synced = len(recording.synced) == count
            figures["sync"].append(time.perf_counter() - began if synced else float("nan"))
            await sim.start()  # an empty window, to read the disconnects of the start-up
            slow_before = int(str((await sim.stop()).statistics.get("slow_disconnects", 0)))
            figures["cut"].append(slow_before)
            await trio.sleep(0.2 if settings.quick else 1.0)
            sub = recording.subscriptions[-1]
            for _ in range(settings.windows):
                stale_before = recording.stale
                before = sub.statistics()
                stamps, events, cpu, wall = await measure_window(sim, recording, settings.window)
                after = sub.statistics()
                joined = join(stamps, events)
                every = sorted(v for values in joined.latencies.values() for v in values)
                slow = int(str(stamps.statistics.get("slow_disconnects", 0)))
                figures["sent"].append(joined.frames_sent / wall)
                figures["p50"].append(percentile(every, 0.5) / 1e3)
                figures["p99"].append(percentile(every, 0.99) / 1e3)
                figures["drift"].append(_median_drift(joined.timeline))
                figures["wire50"].append(percentile(sorted(joined.wire), 0.5) / 1e3)
                figures["s50"].append(percentile(sorted(joined.session), 0.5) / 1e3)
                figures["s99"].append(percentile(sorted(joined.session), 0.99) / 1e3)
                figures["cpu"].append(100 * cpu / wall)
                figures["sim"].append(100 * stamps.cpu / wall)
                figures["conflated"].append(after.conflated - before.conflated)
                figures["dropped"].append(after.dropped - before.dropped)
                figures["slow"].append(slow - slow_before)
                figures["stale"].append(recording.stale - stale_before)
                slow_before = slow
    return Row(
        f"{count} instruments, {_CHANGES_PER_INSTRUMENT:g} best-bid changes/s each",
        (
            Figure("frames/s sent", "frames/s", tuple(figures["sent"])),
            Figure("lag p50 µs", "µs", tuple(figures["p50"])),
            Figure("lag p99 µs", "µs", tuple(figures["p99"])),
            Figure("lag p50 drift µs", "µs", tuple(figures["drift"])),
            Figure("wire p50 µs", "µs", tuple(figures["wire50"])),
            Figure("session p50 µs", "µs", tuple(figures["s50"])),
            Figure("session p99 µs", "µs", tuple(figures["s99"])),
            Figure("session CPU %", "%", tuple(figures["cpu"])),
            Figure("simulator CPU %", "%", tuple(figures["sim"])),
            Figure("conflated", "events", tuple(figures["conflated"])),
            Figure("dropped", "events", tuple(figures["dropped"])),
            Figure("slow disconnects", "count", tuple(figures["slow"])),
            Figure("books gone stale", "count", tuple(figures["stale"])),
            Figure("all synced after s", "s", tuple(figures["sync"])),
            Figure("cut while syncing", "count", tuple(figures["cut"])),
        ),
    )


def _book_memory(levels: int, count: int, snapshot: BookSnapshot) -> float:
    """tracemalloc bytes per instrument book (L2Book + Binance sync + feed state) holding ``snapshot``."""
    instruments = [
        Instrument(exchange="binance", kind=InstrumentKind.SPOT, base=f"B{i:04d}", quote="USDT", symbol=f"B{i:04d}USDT")
        for i in range(count)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        books = []
        for instrument in instruments:
            state = InstrumentBook(
                instrument, L2Book(PRICE_DECIMALS, instrument.name), BinanceSpotBookSync(instrument.name)
            )
            state.apply(state.sync.on_snapshot(snapshot), 0.0, 0)
            books.append(state)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert books[-1].book.statistics().bid_levels == levels
    return used / count


def _memory_rows(settings: Settings) -> list[Row]:
    snapshot, _ = _stream(settings)
    full = canonical_snapshot(snapshot)
    small = BookSnapshot(
        exchange="binance", instrument=full.instrument, ts_recv=0, bids=full.bids[:20], asks=full.asks[:20],
        sequence=full.sequence,
    )  # fmt: skip
    count = 20 if settings.quick else 200
    rows = []
    for levels, snap in ((20, small), (len(full.bids), full)):
        samples = tuple(_book_memory(levels, count, snap) / 1024 for _ in range(max(1, settings.repeats // 3)))
        rows.append(
            Row(f"memory per book, {levels} levels a side (tracemalloc)", (Figure("KiB/book", "KiB", samples),))
        )
    return rows


@benchmark("scale", "Scale: one session, many instruments: lag, CPU, memory, conflation")
def scale(settings: Settings) -> Table:
    rows = [trio.run(_scale, settings, count) for count in settings.instruments]
    rows += _memory_rows(settings)
    return Table(
        tuple(rows),
        (
            f"{settings.windows} windows of {settings.window:g} s per size; simulator in its own process; lag = "
            "simulator send stamp to the strategy's receive stamp, over every joined event (time.time_ns)",
            f"one strategy subscribed to all instruments with a market budget of {_BUDGET_PER_INSTRUMENT} events per "
            "instrument (the bus's default of 64 is smaller than the 100 ms depth flush of every instrument at once)",
            f"CPU is this process's (session + strategy) share of one core; Python {sys.version.split()[0]}",
            "target: 1000 instruments without a growing lag (drift near 0, no slow disconnects)",
        ),
    )
