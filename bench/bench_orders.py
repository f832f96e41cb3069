"""Our own overhead on an order: from the command to the bytes handed to the HTTP transport.

The exchange tree's order path runs in-process (rate limiter actor and order manager under a supervisor,
exactly as ``session.exchange_tree`` wires them) over an ``httpx.MockTransport`` whose handler *is* the
simulator's Binance face, called in-process: no socket, no server. The handler stamps the moment httpx hands
it the finished request, which is where a real transport would start writing bytes. So

* ``ask -> request at the transport`` is everything of ours: the ask to the order manager, local rules,
  tracking, the rate limiter's grant (another ask), the dialect's encoding and HMAC signature, and httpx
  building the request;
* ``ask -> answered`` adds the face (matching in the simulated engine) and decoding and merging the answer.

A row also times the sans-IO part alone: ``dialect.place_order_request`` (encode + sign), per call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Final, cast

import httpx
import trio
from registry import Case, Figure, Row, Settings, Table, benchmark, percentile, time_cases
from sim_process import GENEROUS_LIMITS

from clobactors.actors.actor import open_actor_system
from clobactors.actors.exchange import ExchangeLink
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
from clobactors.transport.http import HttpTransport

_BASE: Final = "http://127.0.0.1:9"
_INSTRUMENT: Final = "BTC-USDT"
_NAMES: Final = ExchangeNames("binance")


class _FaceTransport:
    """An ``httpx.MockTransport`` handler answering with the simulator's face in-process; stamps arrivals."""

    def __init__(self) -> None:
        config = SimConfig.for_symbols(["BTCUSDT"], seed=1)
        self.face = BinanceFace(Engine(config.engine_rules()), seed=1, rate_limits=GENEROUS_LIMITS)
        self.account = self.face.add_account({"USDT": Decimal(10**9), "BTC": Decimal(10**4)})
        self.arrivals: list[tuple[str, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        arrived = time.perf_counter_ns()
        self.arrivals.append((request.method, arrived))
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


def _tree(link: ExchangeLink) -> Supervisor:
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
        ],
        strategy=Strategy.REST_FOR_ONE,
    )


async def _order_path(count: int) -> dict[str, list[int]]:
    stub = _FaceTransport()
    http = HttpTransport.from_url(_BASE, transport=httpx.MockTransport(stub))
    dialect = BinanceSpotDialect.for_urls(rest=_BASE, ws="ws://127.0.0.1:9", ws_api="ws://127.0.0.1:9/ws-api/v3")
    credentials = get_credentials("binance", {"api_key": stub.account.api_key, "api_secret": stub.account.secret})
    link = ExchangeLink(
        name="binance", dialect=dialect, http=http, credentials=credentials, rate_limiter=_NAMES.rate_limiter
    )
    out: dict[str, list[int]] = {"place_wire": [], "place_done": [], "cancel_wire": [], "cancel_done": []}
    async with http, open_actor_system() as system:
        await system.start(_tree(link))
        for _ in range(count):
            place = PlaceOrder(
                exchange="binance", instrument=_INSTRUMENT, side=Side.BUY, order_type=OrderType.LIMIT,
                size=Decimal("0.01"), price=Decimal("1000.00"),
            )  # fmt: skip
            stub.arrivals.clear()
            start = time.perf_counter_ns()
            update = await system.ask(_NAMES.orders, place)
            done = time.perf_counter_ns()
            assert isinstance(update, OrderUpdate), update
            out["place_wire"].append(stub.arrivals[0][1] - start)
            out["place_done"].append(done - start)
            cancel = CancelOrder(exchange="binance", instrument=_INSTRUMENT, client_order_id=update.client_order_id)
            stub.arrivals.clear()
            start = time.perf_counter_ns()
            await system.ask(_NAMES.orders, cancel)
            done = time.perf_counter_ns()
            out["cancel_wire"].append(stub.arrivals[0][1] - start)
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


@benchmark("order-overhead", "Our overhead on an order, in-process: command -> request at the HTTP transport")
def order_overhead(settings: Settings) -> Table:
    count = 50 if settings.quick else 1000
    runs = [trio.run(_order_path, count) for _ in range(settings.repeats)]
    rows = []
    for key, name in (
        ("place_wire", "PlaceOrder: ask -> request at the transport"),
        ("place_done", "PlaceOrder: ask -> answered (face in-process)"),
        ("cancel_wire", "CancelOrder: ask -> request at the transport"),
        ("cancel_done", "CancelOrder: ask -> answered (face in-process)"),
    ):
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
            "target: our own overhead from an order command to bytes on the wire under 50 µs",
        ),
    )
