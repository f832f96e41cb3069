"""The simulated exchange on loopback: engine + order flow on the trio clock, served through an exchange face.

``async with open_simulator("binance", seed=1) as sim:`` builds the engine and the seeded flow from a
:class:`~clobactors.sim.config.SimConfig`, opens a funded default account, and serves the exchange's face
(``FACES["binance"]`` is :class:`~clobactors.exchanges.binance.face.BinanceFace`) over real sockets: REST on
one port (:class:`~clobactors.sim.http_server.HttpServer`), market streams, user streams and the WebSocket API
on another (:class:`~clobactors.sim.ws_server.WsServer`). ``sim`` carries the base URLs, the default
account's key and secret, and the engine for tests. ``open_simulator("binance-usdm")`` serves Binance USD-M
futures (:class:`~clobactors.exchanges.binance_usdm.face.BinanceUsdmFace`) over a perpetual engine: the
exchanges in :data:`PERPETUAL_FACES` pick their symbols from the perpetual catalogue.

The clock. The face and engine read epoch nanoseconds: ``start_time_ms`` plus the trio time elapsed since
start. Without ``start_time_ms`` the server picks :data:`MOCK_START_MS` under trio's ``MockClock`` (runs are
then deterministic: same seed, same timestamps) and the wall clock otherwise (real clients sign with
``time.time()``, and Binance's ``recvWindow`` check needs the two to agree).

Tasks, all in one nursery:

* the flow task steps :class:`~clobactors.sim.flow.OrderFlow` at its scheduled times (``sleep_until``);
* the timer task wakes at the face's deadlines (depth windows every 100 ms / 1 s when someone listens,
  listen-key expiry);
* one task per HTTP request and two per WebSocket (reader, writer).

After every call into the face or the engine the server drains the face (:meth:`Face.drain`) and fans the
outputs out by topic to the sessions that listen, each through its own bounded buffer with ``send_nowait``:
a reader too slow to keep up is disconnected (1008), the engine is never held up. Faults: the HTTP handler,
the fan-out, each connection's life and the clock pass through a :class:`Faults` object whose default changes
nothing; pass a :class:`~clobactors.sim.faults.FaultPlan` to inject faults (``docs/fault-injection.md``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Final, TypeAlias, final

import attrs
import trio
import trio.testing

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance_usdm.face import BinanceUsdmFace
from clobactors.sim.config import DEFAULT_SYMBOLS, SimConfig, SimSymbol
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import Face, SimCredentials
from clobactors.sim.fault_injector import FaultInjector
from clobactors.sim.fault_vocab import vocabulary_for
from clobactors.sim.faults import FaultPlan
from clobactors.sim.flow import OrderFlow
from clobactors.sim.http_server import HttpServer
from clobactors.sim.runtime import Faults, NoFaults, SimRuntime, SimulatorStatistics
from clobactors.sim.ws_server import WsHeartbeat, WsServer
from clobactors.transport.errors import raise_collapsed

__all__ = [
    "FACES",
    "MOCK_START_MS",
    "PERPETUAL_FACES",
    "FaceFactory",
    "Faults",
    "NoFaults",
    "Simulator",
    "SimulatorStatistics",
    "open_simulator",
]

logger: Final = logging.getLogger(__name__)

#: Epoch base under MockClock when none is given: 2024-01-01T00:00:00Z.
MOCK_START_MS: Final = 1_704_067_200_000
DEFAULT_ACCOUNT: Final = "default"

FaceFactory: TypeAlias = Callable[[Engine, SimConfig], Face]

#: Exchange name -> face. More faces (okx...) register here.
FACES: Final[dict[str, FaceFactory]] = {
    "binance": lambda engine, config: BinanceFace(engine, seed=config.seed),
    "binance-usdm": lambda engine, config: BinanceUsdmFace(engine, seed=config.seed),
    "binance_usdm": lambda engine, config: BinanceUsdmFace(engine, seed=config.seed),
}
#: Faces whose engine trades perpetuals (symbols from :data:`~clobactors.sim.config.PERP_CATALOGUE`).
PERPETUAL_FACES: Final = frozenset({"binance-usdm", "binance_usdm"})
#: The WebSocket API's path on the WebSocket port (Binance spot's ``/ws-api/v3`` unless listed).
WS_API_PATHS: Final = {"binance-usdm": "/ws-fapi/v1", "binance_usdm": "/ws-fapi/v1"}


@final
@attrs.define(eq=False)
class Simulator:
    """A running simulator: URLs, the default account's credentials, and the engine. See the module docstring."""

    exchange: str
    rest_url: str
    ws_url: str
    ws_api_url: str
    account_id: str
    api_key: str
    api_secret: str = attrs.field(repr=False)
    engine: Engine = attrs.field(repr=False)
    flow: OrderFlow | None = attrs.field(repr=False)
    face: Face = attrs.field(repr=False)
    #: Every account opened so far (the default one, configured ones, and :meth:`add_account`'s), by id.
    accounts: dict[str, SimCredentials] = attrs.field(repr=False)
    _runtime: SimRuntime = attrs.field(repr=False)

    @property
    def faults(self) -> Faults:
        """The fault seam in use (a :class:`~clobactors.sim.fault_injector.FaultInjector` when given a plan)."""
        return self._runtime.faults

    def now_ns(self) -> int:
        """The simulator's clock, epoch nanoseconds."""
        return self._runtime.now_ns()

    def now_ms(self) -> int:
        return self._runtime.now_ns() // 1_000_000

    def add_account(
        self,
        balances: Mapping[str, Decimal],
        *,
        account_id: str | None = None,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> SimCredentials:
        """Open another funded account; key and secret are derived from the seed unless given."""
        credentials = self.face.add_account(balances, account_id=account_id, api_key=api_key, secret=secret)
        self.accounts[credentials.account_id] = credentials
        return credentials

    def deposit(self, account_id: str, asset: str, amount: Decimal) -> None:
        """Credit an account now (its user streams see the balance update)."""
        self.face.deposit(account_id, asset, amount, self.now_ns())
        self._runtime.after_call()

    def pause_flow(self) -> None:
        """Stop the synthetic order flow (books then move only by your orders) until :meth:`resume_flow`."""
        self._runtime.flow_paused = True

    def resume_flow(self) -> None:
        self._runtime.flow_paused = False
        self._runtime.resume.set()

    def statistics(self) -> SimulatorStatistics:
        return self._runtime.statistics()


def _start_ms(start_time_ms: int | None) -> int:
    if start_time_ms is not None:
        return start_time_ms
    if isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
        return MOCK_START_MS
    return time.time_ns() // 1_000_000


@asynccontextmanager
async def open_simulator(
    exchange: str = "binance",
    *,
    seed: int = 0,
    symbols: Iterable[str | SimSymbol] = DEFAULT_SYMBOLS,
    host: str = "127.0.0.1",
    rest_port: int = 0,
    ws_port: int = 0,
    start_time_ms: int | None = None,
    flow: bool = True,
    funding: Mapping[str, Decimal] | None = None,
    accounts: Mapping[str, Mapping[str, Decimal]] | None = None,
    config: SimConfig | None = None,
    face_factory: FaceFactory | None = None,
    faults: Faults | FaultPlan | None = None,
    write_batch: int = 1,
) -> AsyncIterator[Simulator]:
    """Run a simulated exchange on ``host`` (ports 0: free ports) and yield a :class:`Simulator`.

    ``funding`` funds the default account (a generous default otherwise), ``accounts`` opens more
    (id -> funding). ``config`` replaces all of ``seed``, ``symbols``, ``start_time_ms``, ``flow``,
    ``funding`` and ``accounts``. ``face_factory`` overrides the registry (e.g. a face with smaller rate
    limits for a test). ``faults`` is a :class:`~clobactors.sim.faults.FaultPlan` (applied by a
    :class:`~clobactors.sim.fault_injector.FaultInjector`, reachable as ``sim.faults``) or any
    :class:`Faults`. ``write_batch`` > 1 lets a connection send up to that many queued frames in one write (the
    loopback benchmarks; see ``SimRuntime._write``). Use a literal address: the URLs carry it as given.
    Leaving the block stops everything.
    """
    if config is None:
        config = SimConfig.for_symbols(
            symbols, seed=seed, start_time_ms=start_time_ms, funding=funding, flow=flow, accounts=accounts,
            perpetual=exchange in PERPETUAL_FACES,
        )  # fmt: skip
    factory = face_factory or FACES.get(exchange)
    if factory is None:
        raise ConfigError(f"no simulator face for exchange {exchange!r}; known: {', '.join(sorted(FACES))}")
    if isinstance(faults, FaultPlan):
        faults = FaultInjector(faults, vocabulary_for(exchange))
    engine = Engine(config.engine_rules(), perp=config.perp_settings())
    face = factory(engine, config)
    runtime = SimRuntime(
        face=face,
        engine=engine,
        flow=OrderFlow(config.seed, config.flows()) if config.flow else None,
        faults=faults or NoFaults(),
        start_ns=_start_ms(config.start_time_ms) * 1_000_000,
        t0=trio.current_time(),
        write_batch=max(1, write_batch),
    )
    default = face.add_account(config.default_funding(), account_id=DEFAULT_ACCOUNT)
    opened = {DEFAULT_ACCOUNT: default}
    for account_id, balances in config.accounts.items():
        opened[account_id] = face.add_account(balances, account_id=account_id)
    first_flow_ns = runtime.flow.start(engine, runtime.now_ns()) if runtime.flow is not None else None
    runtime.after_call()
    policy = face.ws_policy
    heartbeat = WsHeartbeat(policy.ping_interval, policy.pong_timeout) if policy.ping_interval is not None else None
    http = HttpServer(runtime.handle_http)
    ws = WsServer(runtime.handle_ws, heartbeat=heartbeat)
    try:
        async with trio.open_nursery() as nursery:
            http_port: int = await nursery.start(functools.partial(http.serve, host=host, port=rest_port))
            ws_bound: int = await nursery.start(functools.partial(ws.serve, host=host, port=ws_port))
            nursery.start_soon(runtime.run_timer)
            if isinstance(runtime.faults, FaultInjector):
                runtime.faults.attach(runtime.now_ns)
            nursery.start_soon(runtime.faults.run)
            if first_flow_ns is not None:
                nursery.start_soon(runtime.run_flow, first_flow_ns)
            netloc = f"[{host}]" if ":" in host else host
            sim = Simulator(
                exchange=exchange,
                rest_url=f"http://{netloc}:{http_port}",
                ws_url=f"ws://{netloc}:{ws_bound}",
                ws_api_url=f"ws://{netloc}:{ws_bound}{WS_API_PATHS.get(exchange, '/ws-api/v3')}",
                account_id=default.account_id,
                api_key=default.api_key,
                api_secret=default.secret,
                engine=engine,
                flow=runtime.flow,
                face=face,
                accounts=opened,
                runtime=runtime,
            )
            logger.info("%s simulator serving REST %s and WebSocket %s", exchange, sim.rest_url, sim.ws_url)
            try:
                yield sim
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise_collapsed(group, f"{exchange} simulator")
