"""Helpers of the loopback benchmarks: the simulator process, a session against it, a recording strategy,
and joining the simulator's send stamps with the strategy's receive stamps.

Method (README.md, "How the loopback figures are measured"): the simulator runs in its own process
(``sim_process.py``) and stamps each frame with ``time.time_ns()`` when it queues it for the socket; the
session runs here, in one trio run on the real clock, with exactly the production wiring (``open_session``:
book feed, sync, bus); a strategy actor stamps each market event when ``receive`` hands it over, and our
transport's ``ts_recv`` splits the way in two. ``CLOCK_REALTIME`` is one clock for every process. Frames and
events are joined by (symbol, stream kind, update id): a diff-depth frame's ``u`` is the BookDelta's
``sequence``, a book ticker's ``u`` the BestBidAsk's ``sequence``, a trade's ``t`` the Trade's ``trade_id``.
An event conflated on the bus carries the newest frame's id, so it is timed from that frame.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs
import trio

from clobactors.actors.actor import Actor, Context
from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.session import Session, open_session
from clobactors.config import Environment, ExchangeConfig, OrderEntry, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.messages import BestBidAsk, BookDelta, FeedStale, FeedSynced, Trade

SIM_SCRIPT: Final = Path(__file__).resolve().parent / "sim_process.py"
#: Kinds of joined events, as their streams name them.
KINDS: Final[dict[type, str]] = {BookDelta: "depth", BestBidAsk: "bookTicker", Trade: "trade"}


class _Lines:
    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def readline(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise RuntimeError(f"simulator process ended; last output {self._buffer[-500:]!r}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


@attrs.frozen
class Stamps:
    """What the simulator stamped during one window."""

    #: (symbol lower-case, kind, id) -> send ns.
    frames: Mapping[tuple[str, str, int], int]
    #: (method, path, query, arrived ns, answered ns).
    http: tuple[tuple[str, str, str, int, int], ...]
    cpu: float
    #: The simulator's counters (``SimulatorStatistics``) at the end of the window.
    statistics: Mapping[str, object]


@attrs.define
class SimProcess:
    """A running ``sim_process.py``; see its docstring for the protocol."""

    process: trio.Process
    lines: _Lines
    info: dict[str, object]
    workdir: Path

    @property
    def instruments(self) -> tuple[str, ...]:
        symbols = self.info["symbols"]
        assert isinstance(symbols, dict)
        return tuple(str(v) for v in symbols.values())

    async def _command(self, line: str) -> str:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(line.encode() + b"\n")
        return await self.lines.readline()

    async def start(self) -> None:
        await self._command("start")

    async def stop(self) -> Stamps:
        path = self.workdir / "stamps.json"
        await self._command(f"stop {path}")
        data = json.loads(path.read_text())
        frames: dict[tuple[str, str, int], int] = {}
        for stream, ident, ns in data["frames"]:
            symbol, _, kind = stream.partition("@")
            frames[(symbol, kind.partition("@")[0], ident)] = ns
        return Stamps(frames, tuple(tuple(h) for h in data["http"]), data["cpu"], data["statistics"])


@contextlib.asynccontextmanager
async def sim_process(
    symbols: int,
    event_rate: float,
    *,
    pump_rate: float = 0.0,
    levels: int = 20,
    seed: int = 1,
    profile: str | None = None,
) -> AsyncIterator[SimProcess]:
    """Start the simulator process and wait until it serves."""
    command = [
        sys.executable, str(SIM_SCRIPT), "--symbols", str(symbols), "--event-rate", str(event_rate),
        "--levels", str(levels), "--seed", str(seed), "--pump-rate", str(pump_rate),
        *(["--profile", profile] if profile else []),
    ]  # fmt: skip
    process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines = _Lines(process.stdout)
        with trio.fail_after(60):
            info = json.loads(await lines.readline())
        with tempfile.TemporaryDirectory(prefix="clobactors-bench-") as workdir:
            yield SimProcess(process, lines, info, Path(workdir))
    finally:
        with trio.CancelScope(shield=True):
            if process.stdin is not None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await process.stdin.send_all(b"quit\n")
            with trio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


@attrs.define(eq=False)
class Recording:
    """What the recording strategy saw: (receive ns, event) while ``on``; shared with the benchmark."""

    on: bool = False
    events: list[tuple[int, object]] = attrs.field(factory=list)
    subscriptions: list[Subscription] = attrs.field(factory=list)
    #: Instruments whose book is synced now (FeedSynced, less FeedStale), recorded whether ``on`` or not.
    synced: set[str] = attrs.field(factory=set)
    #: FeedStale events seen (a book lost sync: gap, malformed frame, reconnect).
    stale: int = 0


@attrs.define(eq=False)
class Recorder:
    """A strategy actor that stamps every market event of the exchange as ``receive`` hands it over."""

    name: str
    recording: Recording
    market_capacity: int = 64

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sub = ctx.subscribe("market.binance", prefix=True, market_capacity=self.market_capacity)
        lifecycle = ctx.subscribe("lifecycle", prefix=True)
        self.recording.subscriptions.append(sub)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._lifecycle, lifecycle)
            task_status.started()
            clock, events, recording = time.time_ns, self.recording.events, self.recording
            async for event in sub:
                if recording.on:
                    events.append((clock(), event))

    async def _lifecycle(self, sub: Subscription) -> None:
        """Books synced and gone stale (never dropped, unlike market data)."""
        async for event in sub:
            if isinstance(event, FeedSynced):
                self.recording.synced.add(event.instrument)
            elif isinstance(event, FeedStale):
                self.recording.synced.discard(event.instrument)
                self.recording.stale += 1


def session_config(
    sim: SimProcess, instruments: Sequence[str], *, depth: int = 100, order_entry: OrderEntry = OrderEntry.REST
) -> SessionConfig:
    return SessionConfig(
        exchanges=(
            ExchangeConfig(
                name="binance", instruments=tuple(instruments), environment=Environment.CUSTOM,
                rest=str(sim.info["rest"]), ws=str(sim.info["ws"]), ws_api=str(sim.info["ws_api"]), depth=depth,
                order_entry=order_entry,
            ),
        ),
        seed=1,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def session_against(
    sim: SimProcess,
    instruments: Sequence[str],
    strategies: Sequence[tuple[str, Callable[[], Actor]]],
    *,
    credentials: bool = False,
    bus: Bus | None = None,
    order_entry: OrderEntry = OrderEntry.REST,
) -> AsyncIterator[Session]:
    creds = None
    if credentials:
        creds = {
            "binance": get_credentials(
                "binance", {"api_key": str(sim.info["api_key"]), "api_secret": str(sim.info["api_secret"])}
            )
        }
    config = session_config(sim, instruments, order_entry=order_entry)
    async with open_session(config, strategies=strategies, credentials=creds, bus=bus) as session:
        yield session


def event_key(event: object) -> tuple[str, str, int] | None:
    """The (symbol, kind, id) a market event joins on, or None for events not joined (snapshots)."""
    kind = KINDS.get(type(event))
    if kind is None:
        return None
    assert isinstance(event, BookDelta | BestBidAsk | Trade)
    symbol = event.instrument.replace("-", "").lower()
    if isinstance(event, Trade):
        return (symbol, kind, int(event.trade_id))
    if event.sequence is None:
        return None
    return (symbol, kind, event.sequence)


@attrs.frozen
class Joined:
    """Latencies (ns) by kind, split at our transport's receive stamp, with the counts of what did not join."""

    #: kind -> total latencies (simulator send -> strategy receive).
    latencies: Mapping[str, list[int]]
    #: Simulator send -> our transport's receive stamp (``ts_recv``): the simulator, the kernel, trio-websocket.
    wire: list[int]
    #: ``ts_recv`` -> strategy receive: our channel hop, decode, sync, book, bus, the strategy's wake-up.
    session: list[int]
    #: (send ns, total latency ns) of every joined event, in receive order (for lag over time).
    timeline: list[tuple[int, int]]
    unmatched_events: int
    frames_sent: int


def join(stamps: Stamps, events: Sequence[tuple[int, object]]) -> Joined:
    latencies: dict[str, list[int]] = {kind: [] for kind in KINDS.values()}
    wire: list[int] = []
    session: list[int] = []
    timeline: list[tuple[int, int]] = []
    unmatched = 0
    for received, event in events:
        key = event_key(event)
        if key is None:
            continue
        sent = stamps.frames.get(key)
        if sent is None:
            unmatched += 1
            continue
        assert isinstance(event, BookDelta | BestBidAsk | Trade)
        latencies[key[1]].append(received - sent)
        wire.append(event.ts_recv - sent)
        session.append(received - event.ts_recv)
        timeline.append((sent, received - sent))
    return Joined(latencies, wire, session, timeline, unmatched, len(stamps.frames))


async def measure_window(
    sim: SimProcess, recording: Recording, seconds: float
) -> tuple[Stamps, list[tuple[int, object]], float, float]:
    """One window: stamp on both sides for ``seconds``; returns stamps, events, client CPU s, wall s."""
    recording.events.clear()  # the recorder holds this very list
    recording.on = True
    await sim.start()
    cpu, wall = time.process_time(), time.perf_counter()
    await trio.sleep(seconds)
    stamps = await sim.stop()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await trio.sleep(0.05)  # frames sent just before the stop are still on their way
    recording.on = False
    events = list(recording.events)
    recording.events.clear()
    return stamps, events, cpu, wall
