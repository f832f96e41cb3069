"""Our own overhead on an order: from the command to the first byte of its request written to a socket.

The exchange tree's order path runs in-process (rate limiter actor and order manager under a supervisor,
exactly as ``session.exchange_tree`` wires them). The REST transport is the production one
(:class:`~clobactors.transport.http.HttpTransport`, its h11 client) over a real loopback TCP connection to an
HTTP server in the same trio run (``clobactors.sim.http_server.HttpServer``) whose handler is the
simulator's Binance face. The client's connection is opened by a seam of the transport (``connect``) that
writes through the raw socket and stamps ``perf_counter_ns`` as soon as the ``send`` syscall has returned
with the request's first bytes in the kernel: nothing of ours can come later. So

* ``ask -> first request byte written`` is everything of ours: the ask to the order manager, local rules,
  tracking and publishing, the rate limiter's grant, the dialect's encoding and HMAC signature, serializing
  the request and the ``send`` syscall;
* ``ask -> answered`` adds the loopback, the server (h11 parsing, matching in the simulated engine),
  reading and decoding the answer and merging it.

Reference rows: the same path with the httpx engine over an ``httpx.MockTransport`` whose handler is the face,
stamped when httpx hands it the finished request (no socket: what the figure was before the h11 client),
and the sans-IO part alone: ``dialect.place_order_request`` (encode + sign), per call.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Final, cast

import httpx
import trio
from registry import Case, Figure, Row, Settings, Table, benchmark, percentile, time_cases
from sim_process import GENEROUS_LIMITS

from clobactors.actors.actor import ActorSystem, open_actor_system
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_entry import OrderEntry
from clobactors.actors.order_manager import OrderManager
from clobactors.actors.rate_limiter import RateLimiterActor
from clobactors.actors.session import ExchangeNames
from clobactors.actors.supervisor import ChildSpec, Strategy, Supervisor
from clobactors.exchanges import get_credentials
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance.signing import Credentials
from clobactors.messages import CancelOrder, OrderUpdate, PlaceOrder
from clobactors.model import Instrument, InstrumentKind, OrderType, Side
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestRequest
from clobactors.sim.http_server import HandlerResult, HttpRequest, HttpResponse, HttpServer
from clobactors.sim.server import open_simulator
from clobactors.transport.http import HttpTransport

_BASE: Final = "http://127.0.0.1:9"
_INSTRUMENT: Final = "BTC-USDT"
_NAMES: Final = ExchangeNames("binance")


class _Face:
    """The simulator's Binance face with one funded account; answers in-process, stamps arrivals."""

    def __init__(self) -> None:
        config = SimConfig.for_symbols(["BTCUSDT"], seed=1)
        self.face = BinanceFace(Engine(config.engine_rules()), seed=1, rate_limits=GENEROUS_LIMITS)
        self.account = self.face.add_account({"USDT": Decimal(10**9), "BTC": Decimal(10**4)})
        self.arrivals: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """``httpx.MockTransport`` handler: stamps when httpx hands over the finished request."""
        self.arrivals.append(time.perf_counter_ns())
        answer = self.face.handle_rest(
            RestRequest(
                method=request.method,
                path=request.url.path,
                query=request.url.query.decode(),
                body=request.content.decode(),
                headers=tuple((k.decode().lower(), v.decode()) for k, v in request.headers.raw),
                client_ip="127.0.0.1",
            ),
            time.time_ns(),
        )
        return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)

    async def serve(self, request: HttpRequest) -> HandlerResult:
        """``HttpServer`` handler over the loopback socket."""
        answer = self.face.handle_rest(
            RestRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                body=request.body.decode(),
                headers=request.headers,
                client_ip="127.0.0.1",
            ),
            time.time_ns(),
        )
        return HttpResponse(answer.status, tuple(answer.headers), answer.body)


class _StampingStream(trio.abc.Stream):
    """A loopback TCP stream that writes through the raw socket and stamps right after the ``send`` syscall."""

    def __init__(self, sock: socket.socket, arrivals: list[int]) -> None:
        self._sock = sock
        self._inner = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self._arrivals = arrivals

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        self._arrivals.append(time.perf_counter_ns())
        if sent < len(data):
            await self._inner.send_all(memoryview(data)[sent:])
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()

    @property
    def socket(self) -> trio.socket.SocketType:
        """Exposed as ``trio.SocketStream`` does, so the pool polls it (dead or writable) as in production."""
        return self._inner.socket

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _tree(link: ExchangeLink, *extra: ChildSpec) -> Supervisor:
    return Supervisor(
        name="binance",
        children=[
            ChildSpec(name=_NAMES.rate_limiter, factory=lambda: RateLimiterActor(name=_NAMES.rate_limiter, link=link)),
            ChildSpec(
                name=_NAMES.orders,
                factory=lambda: OrderManager(
                    name=_NAMES.orders, link=link, instruments=(_INSTRUMENT,), id_rng=random.Random(1)
                ),
            ),
            *extra,
        ],
        strategy=Strategy.REST_FOR_ONE,
    )


async def loopback_transport(nursery: trio.Nursery, face: _Face) -> tuple[HttpTransport, str]:
    """The production transport to ``face`` served over a loopback socket, stamped after each send (and its
    base URL)."""
    port = await nursery.start(HttpServer(face.serve).serve)
    base = f"http://127.0.0.1:{port}"

    async def connect() -> trio.abc.Stream:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _StampingStream(sock, face.arrivals)

    return HttpTransport.from_url(base, connect=connect), base


def order_link(face: _Face, http: HttpTransport, base: str) -> ExchangeLink:
    """The exchange link of the tree under test: the Binance dialect on ``base``, the face's funded account."""
    dialect = BinanceSpotDialect.for_urls(rest=base, ws="ws://127.0.0.1:9", ws_api="ws://127.0.0.1:9/ws-api/v3")
    credentials = get_credentials("binance", {"api_key": face.account.api_key, "api_secret": face.account.secret})
    return ExchangeLink(
        name="binance", dialect=dialect, http=http, credentials=credentials, rate_limiter=_NAMES.rate_limiter
    )


async def _order_path(count: int, engine: str) -> dict[str, list[int]]:
    if engine == "ws-api":
        return await _ws_order_path(count)
    face = _Face()
    async with trio.open_nursery() as nursery:
        if engine == "h11":
            http, base = await loopback_transport(nursery, face)
        else:
            base = _BASE
            http = HttpTransport.from_url(base, transport=httpx.MockTransport(face))
        link = order_link(face, http, base)
        async with http, open_actor_system() as system:
            await system.start(_tree(link))
            out = await _orders(count, system, face.arrivals)
        nursery.cancel_scope.cancel()
    return out


async def _ws_order_path(count: int) -> dict[str, list[int]]:
    """The same orders over Binance's WebSocket API: the simulator in this trio run, its ``/ws-api/v3`` over a
    loopback socket stamped after each ``send`` as above (REST only for the reference data)."""
    arrivals: list[int] = []

    def face(engine: Engine, config: SimConfig) -> BinanceFace:
        return BinanceFace(engine, seed=config.seed, rate_limits=GENEROUS_LIMITS)

    async def connect(host: str, port: int) -> trio.abc.Stream:
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _StampingStream(sock, arrivals)

    async with open_simulator("binance", seed=1, symbols=["BTCUSDT"], flow=False, face_factory=face) as sim:
        dialect = BinanceSpotDialect.for_urls(rest=sim.rest_url, ws=sim.ws_url, ws_api=sim.ws_api_url)
        credentials = get_credentials("binance", {"api_key": sim.api_key, "api_secret": sim.api_secret})
        http = HttpTransport.from_url(sim.rest_url)
        link = ExchangeLink(
            name="binance", dialect=dialect, http=http, credentials=credentials, rate_limiter=_NAMES.rate_limiter
        )
        entry = ChildSpec(
            name="binance.order_entry", factory=lambda: OrderEntry("binance.order_entry", link, connect=connect)
        )
        async with http, open_actor_system() as system:
            await system.start(_tree(link, entry))
            assert link.lane is not None, "the order-entry actor is ready once its first connection is up"
            return await _orders(count, system, arrivals)


async def _orders(count: int, system: ActorSystem, arrivals: list[int]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"place_wire": [], "place_done": [], "cancel_wire": [], "cancel_done": []}
    for _ in range(count):
        place = PlaceOrder(
            exchange="binance", instrument=_INSTRUMENT, side=Side.BUY, order_type=OrderType.LIMIT,
            size=Decimal("0.01"), price=Decimal("1000.00"),
        )  # fmt: skip
        arrivals.clear()
        start = time.perf_counter_ns()
        update = await system.ask(_NAMES.orders, place)
        done = time.perf_counter_ns()
        assert isinstance(update, OrderUpdate), update
        out["place_wire"].append(arrivals[0] - start)
        out["place_done"].append(done - start)
        cancel = CancelOrder(exchange="binance", instrument=_INSTRUMENT, client_order_id=update.client_order_id)
        arrivals.clear()
        start = time.perf_counter_ns()
        await system.ask(_NAMES.orders, cancel)
        done = time.perf_counter_ns()
        out["cancel_wire"].append(arrivals[0] - start)
        out["cancel_done"].append(done - start)
    return out


def _encode_case(count: int) -> Case:
    dialect = BinanceSpotDialect.for_environment()
    instrument = Instrument(exchange="binance", kind=InstrumentKind.SPOT, base="BTC", quote="USDT", symbol="BTCUSDT")
    credentials = cast(Credentials, get_credentials("binance", {"api_key": "k" * 64, "api_secret": "s" * 64}))
    command = PlaceOrder(
        exchange="binance", instrument=_INSTRUMENT, side=Side.BUY, order_type=OrderType.LIMIT,
        size=Decimal("0.01"), price=Decimal("27000.01"), client_order_id="x-bench-0000000001",
    )  # fmt: skip

    def prepare() -> Callable[[], None]:
        def run() -> None:
            build = dialect.place_order_request
            for now in range(1_700_000_000_000, 1_700_000_000_000 + count):
                build(command, instrument, credentials, now)

        return run

    return Case("sans-IO: dialect.place_order_request (encode + HMAC sign)", count, "call", prepare)


@benchmark("order-overhead", "Our overhead on an order: command -> first request byte written to a loopback socket")
def order_overhead(settings: Settings) -> Table:
    count = 50 if settings.quick else 1000
    rows = []
    for engine, count_here, labels in (
        (
            "h11",
            count,
            (
                ("place_wire", "PlaceOrder: ask -> first request byte written (loopback socket)"),
                ("place_done", "PlaceOrder: ask -> answered (loopback, face in-process)"),
                ("cancel_wire", "CancelOrder: ask -> first request byte written (loopback socket)"),
                ("cancel_done", "CancelOrder: ask -> answered (loopback, face in-process)"),
            ),
        ),
        (
            "ws-api",
            count,
            (
                ("place_wire", "WebSocket API: PlaceOrder ask -> first frame byte written (loopback socket)"),
                ("place_done", "WebSocket API: PlaceOrder ask -> answered (simulator in-process)"),
                ("cancel_wire", "WebSocket API: CancelOrder ask -> first frame byte written (loopback socket)"),
                ("cancel_done", "WebSocket API: CancelOrder ask -> answered (simulator in-process)"),
            ),
        ),
        (
            "httpx",
            max(count // 4, 20),
            (
                ("place_wire", "reference, httpx engine: PlaceOrder ask -> request at httpx's transport"),
                ("place_done", "reference, httpx engine: PlaceOrder ask -> answered (no socket)"),
            ),
        ),
    ):
        runs = [trio.run(_order_path, count_here, engine) for _ in range(settings.repeats)]
        for key, name in labels:
            samples = [sorted(run[key]) for run in runs]
            rows.append(
                Row(
                    name,
                    (
                        Figure("p50 µs", "µs", tuple(percentile(s, 0.5) / 1e3 for s in samples)),
                        Figure("p99 µs", "µs", tuple(percentile(s, 0.99) / 1e3 for s in samples)),
                    ),
                )
            )
    encode = time_cases(settings, [_encode_case(200 if settings.quick else 5000)])[0]
    rows.append(Row(encode.name, encode.figures[:2]))
    return Table(
        tuple(rows),
        (
            f"{count} orders placed then cancelled per run, one at a time; one trio.run per run; perf_counter_ns",
            "the wire stamp is taken right after the send syscall returned (bench_orders._StampingStream)",
            "target: our own overhead from an order command to bytes on the wire under 50 µs",
        ),
    )
