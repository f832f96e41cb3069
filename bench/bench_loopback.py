"""End to end on loopback, real clock, real sockets: simulator frame -> strategy, and order -> ack.

Market (``loopback-market``): the simulator process (``sim_process.py``: 4 symbols, a slow seeded flow to
keep the books alive, and the pump changing a best bid ``rate`` times a second) against a session opened
with ``open_session`` exactly as in production (book feed on the combined stream, sync, books, bus) and a
strategy actor recording what it receives. Each window joins the simulator's send stamps with the
strategy's receive stamps (see ``loopback.py``); latencies are split at our transport's receive stamp
(``ts_recv``): *wire* (simulator writer, kernel, trio-websocket) and *session* (our channel hop, decode,
sync, book, bus, the strategy's wake-up). A row per rate; two *floor* rows per rate at the same pacing,
nothing of ours in them: plain trio-websocket between two processes, and blocking sockets with no event loop
(what the machine itself allows).

Orders (``loopback-order``): the same session with credentials; ``ask(PlaceOrder)`` of a limit bid far
from the touch, then ``ask(CancelOrder)``, one after the other. The simulator stamps each request as it
arrives; joined by client order id: command -> request at the simulator, and request -> the ask's answer
(the exchange's acknowledgement decoded and merged).
"""

from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import parse_qsl

import trio
import ws_floor
from loopback import Recorder, Recording, join, measure_window, session_against, sim_process
from registry import Figure, Row, Settings, Table, benchmark, percentile

from clobactors.actors.session import ExchangeNames
from clobactors.config import OrderEntry
from clobactors.messages import CancelOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderType, Side

_SYMBOLS = 4
_FLOW_RATE = 2.0


def _us(values: list[int], fraction: float) -> float:
    return percentile(sorted(values), fraction) / 1e3


async def _market_rate(settings: Settings, rate: int) -> Row:
    totals: dict[str, list[float]] = {
        k: [] for k in ("sent", "p50", "p99", "p99.9", "wire50", "wire99", "s50", "s99", "cpu", "sim", "slow")
    }
    async with sim_process(_SYMBOLS, _FLOW_RATE, pump_rate=rate) as sim:
        recording = Recording()
        strategy = ("recorder", lambda: Recorder("recorder", recording))
        async with session_against(sim, sim.instruments, [strategy]):
            await trio.sleep(0.3 if settings.quick else 1.0)  # books synced, connection warm
            slow_before = 0
            for _ in range(settings.windows):
                stamps, events, cpu, wall = await measure_window(sim, recording, settings.window)
                joined = join(stamps, events)
                every = [v for values in joined.latencies.values() for v in values]
                if not every:
                    continue
                slow = int(str(stamps.statistics.get("slow_disconnects", 0)))
                totals["sent"].append(joined.frames_sent / wall)
                totals["p50"].append(_us(every, 0.5))
                totals["p99"].append(_us(every, 0.99))
                totals["p99.9"].append(_us(every, 0.999))
                totals["wire50"].append(_us(joined.wire, 0.5))
                totals["wire99"].append(_us(joined.wire, 0.99))
                totals["s50"].append(_us(joined.session, 0.5))
                totals["s99"].append(_us(joined.session, 0.99))
                totals["cpu"].append(100 * cpu / wall)
                totals["sim"].append(100 * stamps.cpu / wall)
                totals["slow"].append(slow - slow_before)
                slow_before = slow
    figures = (
        Figure("frames/s sent", "frames/s", tuple(totals["sent"])),
        Figure("p50 µs", "µs", tuple(totals["p50"])),
        Figure("p99 µs", "µs", tuple(totals["p99"])),
        Figure("p99.9 µs", "µs", tuple(totals["p99.9"])),
        Figure("wire p50 µs", "µs", tuple(totals["wire50"])),
        Figure("wire p99 µs", "µs", tuple(totals["wire99"])),
        Figure("session p50 µs", "µs", tuple(totals["s50"])),
        Figure("session p99 µs", "µs", tuple(totals["s99"])),
        Figure("client CPU %", "%", tuple(totals["cpu"])),
        Figure("simulator CPU %", "%", tuple(totals["sim"])),
        Figure("slow disconnects", "count", tuple(totals["slow"])),
    )
    return Row(f"{rate:,} best-bid changes/s, {_SYMBOLS} symbols", figures)


def _floor_rows(settings: Settings, rate: int) -> list[Row]:
    """The trio-websocket floor, and the machine's (blocking sockets, no event loop), at ``rate``."""
    rows = []
    for name, measure in (
        ("bare trio-websocket", lambda: trio.run(ws_floor.measure_floor, rate, settings.window)),
        ("blocking sockets", lambda: ws_floor.measure_raw_floor(rate, settings.window)),
    ):
        p50: list[float] = []
        p99: list[float] = []
        p999: list[float] = []
        for _ in range(settings.windows):
            latencies = measure()
            p50.append(_us(latencies, 0.5))
            p99.append(_us(latencies, 0.99))
            p999.append(_us(latencies, 0.999))
        figures = (Figure("p50 µs", "µs", tuple(p50)), Figure("p99 µs", "µs", tuple(p99)))
        rows.append(Row(f"floor: {name}, {rate:,} frames/s", (*figures, Figure("p99.9 µs", "µs", tuple(p999)))))
    return rows


@benchmark("loopback-market", "Loopback: simulator frame sent -> strategy receives the event (real sockets)")
def loopback_market(settings: Settings) -> Table:
    rows: list[Row] = []
    for rate in settings.rates:
        rows.append(trio.run(_market_rate, settings, rate))
        rows.extend(_floor_rows(settings, rate))
    return Table(
        tuple(rows),
        (
            f"{settings.windows} windows of {settings.window:g} s per rate; the simulator runs in its own process "
            "(sim_process.py); frames: book ticker per change, trades, and diff depth every 100 ms",
            "stamps: time.time_ns() at the simulator's send queue and at the strategy's receive; wire = up to our "
            "transport's ts_recv, session = ts_recv to the strategy",
            "the pump sleeps in whole milliseconds: at high rates frames leave in bursts of rate/1000",
            "the simulator sends up to 64 queued frames in one write (sim_process.py --write-batch)",
            "target: p99 under 200 µs at 10 k frames/s; compare with the floor rows (no code of ours)",
        ),
    )


# -- orders --------------------------------------------------------------------------------------------------


async def _orders(settings: Settings, count: int, entry: OrderEntry) -> list[Row]:
    place_wire: list[list[float]] = [[], [], []]
    place_ack: list[list[float]] = [[], [], []]
    cancel_wire: list[list[float]] = [[], [], []]
    cancel_ack: list[list[float]] = [[], [], []]
    place_trip: list[list[float]] = [[], [], []]
    cancel_trip: list[list[float]] = [[], [], []]
    async with sim_process(1, _FLOW_RATE) as sim:
        instrument = sim.instruments[0]
        orders = ExchangeNames("binance").orders
        async with session_against(sim, [instrument], [], credentials=True, order_entry=entry) as session:
            await trio.sleep(0.2)
            if entry is OrderEntry.WEBSOCKET:
                assert session.links["binance"].lane is not None, "the order-entry lane is not up"
            for _ in range(settings.windows):
                sent: dict[str, tuple[int, int]] = {}  # client id -> (place command ns, place answered ns)
                cancels: dict[str, tuple[int, int]] = {}
                await sim.start()
                for _ in range(count):
                    command = PlaceOrder(
                        exchange="binance", instrument=instrument, side=Side.BUY, order_type=OrderType.LIMIT,
                        size=Decimal("0.1"), price=Decimal("50.00"),
                    )  # fmt: skip
                    start = time.time_ns()
                    update = await session.ask(orders, command)
                    answered = time.time_ns()
                    assert isinstance(update, OrderUpdate), update
                    sent[update.client_order_id] = (start, answered)
                    cancel = CancelOrder(
                        exchange="binance", instrument=instrument, client_order_id=update.client_order_id
                    )
                    start = time.time_ns()
                    await session.ask(orders, cancel)
                    cancels[update.client_order_id] = (start, time.time_ns())
                stamps = await sim.stop()
                pw, pa, cw, ca = [], [], [], []
                for method, path, query, arrived, _ in stamps.http:
                    if path != "/api/v3/order":
                        continue
                    params = dict(parse_qsl(query))
                    if method == "POST" and params.get("newClientOrderId") in sent:
                        begin, end = sent[params["newClientOrderId"]]
                        pw.append(arrived - begin)
                        pa.append(end - arrived)
                    elif method == "DELETE" and params.get("origClientOrderId") in cancels:
                        begin, end = cancels[params["origClientOrderId"]]
                        cw.append(arrived - begin)
                        ca.append(end - arrived)
                pt = [end - begin for begin, end in sent.values()]
                ct = [end - begin for begin, end in cancels.values()]
                for samples, values in (
                    (place_wire, pw), (place_ack, pa), (cancel_wire, cw), (cancel_ack, ca),
                    (place_trip, pt), (cancel_trip, ct),
                ):  # fmt: skip
                    if values:
                        samples[0].append(_us(values, 0.5))
                        samples[1].append(_us(values, 0.99))
                        samples[2].append(len(values))
    if entry is OrderEntry.WEBSOCKET:  # no HTTP request to stamp at the simulator: round trips only
        named = (
            ("WebSocket API: PlaceOrder ask -> answered (round trip)", place_trip),
            ("WebSocket API: CancelOrder ask -> answered (round trip)", cancel_trip),
        )
    else:
        named = (
            ("PlaceOrder: ask -> request at the simulator", place_wire),
            ("PlaceOrder: request at the simulator -> ask answered", place_ack),
            ("PlaceOrder: ask -> answered (round trip)", place_trip),
            ("CancelOrder: ask -> request at the simulator", cancel_wire),
            ("CancelOrder: request at the simulator -> ask answered", cancel_ack),
            ("CancelOrder: ask -> answered (round trip)", cancel_trip),
        )
    return [
        Row(name, (Figure("p50 µs", "µs", tuple(samples[0])), Figure("p99 µs", "µs", tuple(samples[1]))))
        for name, samples in named
    ]


@benchmark("loopback-order", "Loopback: order command -> request on the wire -> acknowledgement (real sockets)")
def loopback_order(settings: Settings) -> Table:
    count = 10 if settings.quick else 200
    rows = [row for entry in OrderEntry for row in trio.run(_orders, settings, count, entry)]
    return Table(
        tuple(rows),
        (
            f"{settings.windows} windows of {count} limit bids placed then cancelled, one at a time, through "
            "session.ask to the order manager (rate gate, REST over our h11 client or Binance's WebSocket API, "
            "simulator in its own process)",
            "request stamps: time.time_ns() as the simulator's HTTP server hands the request over (the Faults seam)",
        ),
    )
