"""The simulated exchange in its own process, stamping every frame it sends: the far end of the loopback
benchmarks (``bench_loopback.py``, ``bench_scale.py``).

A separate process, because a real exchange does not share our CPU: on a 2-core machine the simulator gets
one core and the session under test the other. It serves ``open_simulator`` on loopback with ``--symbols``
synthetic spot markets (``S0000USDT``...) whose seeded order flow runs at ``--event-rate`` events per second
and symbol (Poisson), and Binance's rate limits raised so the benchmark measures us, not the limiter.

Stamps: the ``Faults`` seam of the server sees every frame as it is queued for its connection and every
HTTP request as it arrives; while stamping is on, each gets ``time.time_ns()``. ``CLOCK_REALTIME`` is one
clock for every process of the machine, so the session's receive stamps compare with these directly. A
frame's stamp is taken when the simulator hands it to its connection's writer, so the measured latency also
holds the simulator's own send (an upper bound of ours).

Protocol, one line each way:

* on start it prints one JSON object: URLs, the default account's key and secret, symbol -> canonical name;
* ``start`` (stdin) clears the stamps and starts stamping; answers ``started``;
* ``stop <path>`` stops stamping and writes them to ``<path>`` as JSON (``frames``: ``[stream, id, ns]`` with
  ``id`` the ``u`` of depth and book-ticker frames or the ``t`` of trades; ``http``: ``[method, path, query,
  ns_in, ns_out]``; ``cpu``: seconds of CPU this process used while stamping); answers ``stopped <frames>``;
* ``quit`` or end of input: exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs
import msgspec
import trio

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.model import OrderType, Side
from clobactors.sim.config import SimConfig, SimSymbol
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import (
    FaceSession,
    Output,
    RestRequest,
    RestResponse,
    SimCredentials,
    WsPolicy,
)
from clobactors.sim.http_server import HandlerResult, HttpRequest
from clobactors.sim.records import SubmitAccepted
from clobactors.sim.server import NoFaults, open_simulator

#: Binance's published limits, raised a thousandfold: the client's own limiter learns them from exchangeInfo.
GENEROUS_LIMITS: Final = (
    wire.RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=6_000_000),
    wire.RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=100_000),
    wire.RateLimit(rate_limit_type="ORDERS", interval="DAY", interval_num=1, limit=200_000_000),
    wire.RateLimit(rate_limit_type="RAW_REQUESTS", interval="MINUTE", interval_num=5, limit=61_000_000),
)


def symbol_name(index: int) -> str:
    return f"S{index:04d}USDT"


def sim_symbols(count: int, event_rate: float, levels: int) -> tuple[SimSymbol, ...]:
    return tuple(
        SimSymbol(
            symbol=symbol_name(i),
            base=f"S{i:04d}",
            quote="USDT",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.001"),
            initial_mid=Decimal(100 + i),
            min_size=Decimal("0.001"),
            max_size=Decimal(9000),
            event_rate=event_rate,
            levels=levels,
            flow_min_size=Decimal("0.01"),
            flow_max_size=Decimal("0.1"),
        )
        for i in range(count)
    )


#: Most engine changes one timer call makes when the pump is behind; the rest of the backlog is dropped.
_MAX_PUMP_BATCH: Final = 64
_PUMP_ACCOUNT: Final = "bench-pump"


class PumpFace:
    """A Binance face whose timer also changes the best bid of one symbol after another at ``rate`` per second.

    The synthetic flow makes a frame only now and then (most of its events land below the touch), so it cannot
    drive 10 k frames/s; a change of the best bid makes exactly one book-ticker frame and one more level in the
    next depth window. Changes alternate between resting a small bid at the best price and cancelling it. The
    pump rides on the face's own timer (``next_deadline_ns``/``on_timer``, the ``Face`` protocol), so the
    server publishes its frames exactly as it publishes everything else. The event loop sleeps in whole
    milliseconds, so at high rates frames leave in bursts of ``rate / 1000``.
    """

    def __init__(self, inner: BinanceFace, engine: Engine, symbols: Sequence[SimSymbol], rate: float) -> None:
        self._inner = inner
        self._engine = engine
        self._symbols = [s.symbol for s in symbols]
        self._size = {s.symbol: s.lot_size * 10 for s in symbols}
        self._interval = int(1e9 / rate) if rate > 0 else 0
        self._next: int | None = None
        self._inner_deadline: int | None = None
        self._resting: dict[str, int | None] = dict.fromkeys(self._symbols)
        self._turn = 0
        self.changes = 0
        if self._interval:
            inner.add_account({"USDT": Decimal(10) ** 12}, account_id=_PUMP_ACCOUNT)

    @property
    def ws_policy(self) -> WsPolicy:
        return self._inner.ws_policy

    def handle_rest(self, request: RestRequest, now_ns: int) -> RestResponse:
        return self._inner.handle_rest(request, now_ns)

    def open_session(
        self, path: str, query: str, headers: tuple[tuple[str, str], ...], client_ip: str, now_ns: int
    ) -> FaceSession | RestResponse:
        return self._inner.open_session(path, query, headers, client_ip, now_ns)

    def close_session(self, session: FaceSession, now_ns: int) -> None:
        self._inner.close_session(session, now_ns)

    def drain(self, now_ns: int, wanted: Container[str]) -> list[Output]:
        return self._inner.drain(now_ns, wanted)

    def add_account(
        self,
        balances: Mapping[str, Decimal],
        *,
        account_id: str | None = None,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> SimCredentials:
        return self._inner.add_account(balances, account_id=account_id, api_key=api_key, secret=secret)

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None:
        self._inner.deposit(account_id, asset, amount, now_ns)

    def next_deadline_ns(self, now_ns: int, wanted: Container[str]) -> int | None:
        inner = self._inner_deadline = self._inner.next_deadline_ns(now_ns, wanted)
        if not self._interval:
            return inner
        if self._next is None:
            self._next = now_ns
        return self._next if inner is None else min(inner, self._next)

    def on_timer(self, now_ns: int, wanted: Container[str]) -> None:
        # The inner face flushes its depth windows on every call: call it at its own deadlines only.
        if self._inner_deadline is not None and now_ns >= self._inner_deadline:
            self._inner.on_timer(now_ns, wanted)
            self._inner_deadline = None
        if self._next is None or now_ns < self._next:
            return
        # At most one change per symbol per call: the face sends one book ticker per symbol and drain, so a
        # bid rested and cancelled in one call made no frame at all (5 k asked sent 3.2 k). The runtime calls
        # again at once while the next change is already due, draining after each call.
        due = min(_MAX_PUMP_BATCH, len(self._symbols), (now_ns - self._next) // self._interval + 1)
        for _ in range(due):
            self._change(now_ns)
        self._next += due * self._interval
        if self._next < now_ns - self._interval * _MAX_PUMP_BATCH:
            self._next = now_ns  # too far behind: drop the backlog rather than burst

    def _change(self, now_ns: int) -> None:
        symbol = self._symbols[self._turn % len(self._symbols)]
        self._turn += 1
        resting = self._resting[symbol]
        if resting is not None:
            self._engine.cancel(_PUMP_ACCOUNT, symbol, order_id=resting, now_ns=now_ns)
            self._resting[symbol] = None
            self.changes += 1
            return
        price = self._engine.best_bid_ask(symbol).bid_price
        if price is None:
            return
        result = self._engine.submit(
            _PUMP_ACCOUNT, symbol, Side.BUY, OrderType.LIMIT, size=self._size[symbol], price=price, now_ns=now_ns
        )
        if isinstance(result, SubmitAccepted):
            self._resting[symbol] = result.order.order_id
            self.changes += 1


class _Data(msgspec.Struct):
    u: int | None = None
    t: int | None = None


class _Combined(msgspec.Struct):
    stream: str
    data: _Data


_FRAME: Final = msgspec.json.Decoder(_Combined)


class Stamper:
    """The server's ``Faults``: changes nothing, stamps frames and requests while ``on``.

    Whatever else the ``Faults`` protocol asks for (it grows with the fault injector) is :class:`NoFaults`'s.
    """

    def __init__(self) -> None:
        self.on = False
        self.frames: list[tuple[int, bytes | str]] = []
        self.http_log: list[tuple[str, str, str, int, int]] = []
        self.cpu_start = 0.0
        self._default = NoFaults()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._default, name)

    async def http(
        self, request: HttpRequest, respond: Callable[[HttpRequest], Awaitable[HandlerResult]]
    ) -> HandlerResult:
        arrived = time.time_ns()
        result = await respond(request)
        if self.on:
            self.http_log.append((request.method, request.path, request.query, arrived, time.time_ns()))
        return result

    def ws_frames(self, *args: Any) -> Any:
        """``(link, topic, data)`` (or ``(topic, data)`` in older servers): stamp ``data``, send it as is."""
        if self.on:
            self.frames.append((time.time_ns(), args[-1]))
        return self._default.ws_frames(*args)

    def start(self) -> None:
        self.frames.clear()
        self.http_log.clear()
        self.cpu_start = time.process_time()
        self.on = True

    def dump(self, path: str, statistics: dict[str, object]) -> int:
        self.on = False
        cpu = time.process_time() - self.cpu_start
        frames = []
        for ns, data in self.frames:
            try:
                frame = _FRAME.decode(data)
            except msgspec.DecodeError:
                continue  # user-stream and control frames are not combined-stream frames
            ident = frame.data.u if frame.data.u is not None else frame.data.t
            if ident is not None:
                frames.append((frame.stream, ident, ns))
        with open(path, "w") as out:
            json.dump({"frames": frames, "http": self.http_log, "cpu": cpu, "statistics": statistics}, out)
        return len(frames)


async def _lines(stream: trio.abc.ReceiveStream) -> list[str]:
    """Read until at least one full line is buffered (stdin commands are tiny)."""
    buffer = b""
    while b"\n" not in buffer:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return [buffer.decode().strip()] if buffer.strip() else ["quit"]
        buffer += chunk
    return [line.strip() for line in buffer.decode().splitlines() if line.strip()]


async def serve(args: argparse.Namespace) -> None:
    config = SimConfig(sim_symbols(args.symbols, args.event_rate, args.levels), seed=args.seed)
    stamper = Stamper()

    def face(engine: Engine, cfg: SimConfig) -> PumpFace:
        inner = BinanceFace(engine, seed=cfg.seed, rate_limits=GENEROUS_LIMITS)
        return PumpFace(inner, engine, cfg.symbols, args.pump_rate)

    faults: Any = stamper
    # Frames queued together leave in one write: one write a frame capped this process at ~3 k frames/s.
    async with open_simulator(
        "binance", config=config, face_factory=face, faults=faults, write_batch=args.write_batch
    ) as sim:
        info = {
            "rest": sim.rest_url,
            "ws": sim.ws_url,
            "ws_api": sim.ws_api_url,
            "api_key": sim.api_key,
            "api_secret": sim.api_secret,
            "symbols": {s.symbol: f"{s.base}-{s.quote}" for s in config.symbols},
        }
        print(json.dumps(info), flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        while True:
            for line in await _lines(stdin):
                command, _, rest = line.partition(" ")
                if command == "start":
                    stamper.start()
                    print("started", flush=True)
                elif command == "stop":
                    statistics = attrs.asdict(sim.statistics())
                    print(f"stopped {stamper.dump(rest, statistics)}", flush=True)
                else:
                    return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--symbols", type=int, default=1)
    parser.add_argument("--event-rate", type=float, default=10.0, help="flow events per second and symbol")
    parser.add_argument("--pump-rate", type=float, default=0.0, help="best-bid changes per second (all symbols)")
    parser.add_argument("--levels", type=int, default=20, help="price levels per side the flow quotes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-batch", type=int, default=64, help="most frames one connection write carries")
    parser.add_argument("--profile", help="write a cProfile of the whole run here (to see what limits the rate)")
    args = parser.parse_args()
    if args.profile:
        import cProfile

        cProfile.runctx("trio.run(serve, args)", globals(), {"args": args, "serve": serve}, args.profile)
    else:
        trio.run(serve, args)


if __name__ == "__main__":
    main()
