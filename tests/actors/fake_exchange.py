"""A tiny fake exchange for the exchange-agnostic actors: a JSON REST protocol, its dialect, and its server.

Nothing here resembles a real exchange on purpose: the actors must work from the dialect alone. The server
side (:class:`FakeExchange`) is a handler for :class:`clobactors.sim.http_server.HttpServer`, served on
127.0.0.1 port 0 in the same trio run as the client, so everything runs on the virtual clock. Faults are
scripted per route (:meth:`FakeExchange.fault`): drop the connection before or after processing, answer 503
or 429, or keep a new order invisible to queries for a while.

Routes: ``GET /info``, ``GET /time``, ``POST /order``, ``DELETE /order``, ``DELETE /orders``, ``GET /order``,
``GET /open``, ``GET /fills``, ``GET /balances``. Every request costs 1 on pool ``W``; orders also 1 on ``O``.
Each answer reports ``x-used-w`` (the fake's own count of requests this window, when ``report_usage``).
"""

from __future__ import annotations

import contextlib
import enum
from collections import deque
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, cast

import attrs
import msgspec
import trio

from clobactors.actors import ActorSystem, Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.client_ids import ClientIdSpec
from clobactors.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientBalance,
    OrderRejected,
    RateLimited,
    UnknownOrder,
)
from clobactors.exchanges.standard import ExchangeInfo, SpotDialect, UserStreamAuth
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import (
    AccountEvent,
    Balance,
    CancelAll,
    CancelOrder,
    Fill,
    OrderUpdate,
    PlaceOrder,
)
from clobactors.model import Instrument, OrderStatus, OrderType, Side, TimeInForce
from clobactors.ratelimit import Cost, Pool, WindowKind
from clobactors.rules import InstrumentRules
from clobactors.sim.http_server import DropConnection, HalfOpen, HandlerResult, HttpRequest, HttpResponse, HttpServer
from clobactors.transport.http import HttpTimeouts, HttpTransport

NAME = "fake"
SYMBOL = "BTCUSDT"
INSTRUMENT = "BTC-USDT"


def wall_ns() -> int:
    """Wall clock pinned to trio's virtual clock (epoch 1_700_000_000 s at virtual 0)."""
    return 1_700_000_000 * 10**9 + round(trio.current_time() * 1e9)


def now_ms() -> int:
    return wall_ns() // 1_000_000


# -- the dialect -----------------------------------------------------------------------------------------------


class _Order(msgspec.Struct, kw_only=True):
    cid: str
    oid: str
    symbol: str
    side: str
    type: str
    size: str
    price: str | None = None
    filled: str = "0"
    status: str = "open"
    ts: int = 0
    reason: str = ""


class _Fill(msgspec.Struct, kw_only=True):
    cid: str
    oid: str
    tid: str
    symbol: str
    side: str
    price: str
    size: str
    ts: int


class _Balance(msgspec.Struct):
    asset: str
    free: str
    locked: str


class _Error(msgspec.Struct):
    code: str
    msg: str


@attrs.define
class FakeDialect:
    """The client side of the fake protocol; implements what the order manager and limiter use."""

    name: str = NAME
    max_streams_per_connection: int = 10
    idle_timeout: float = 30.0
    max_message_size: int = 1 << 20
    user_stream_auth: UserStreamAuth = UserStreamAuth.LISTEN_KEY
    listen_key_interval: float = 1800.0
    _by_symbol: dict[str, Instrument] = attrs.field(factory=dict)

    def register_instruments(self, instruments: Sequence[Instrument]) -> None:
        self._by_symbol = {i.symbol: i for i in instruments}

    def rest_base(self) -> str:
        return "http://127.0.0.1"

    def exchange_info_request(self) -> HttpRequestSpec:
        return HttpRequestSpec(method="GET", path="/info")

    def decode_exchange_info(self, result: HttpResult) -> ExchangeInfo:
        raw = msgspec.json.decode(result.body)
        rules = {}
        for item in raw["instruments"]:
            inst = Instrument.spot(NAME, item["base"], item["quote"], item["symbol"])
            rules[inst.name] = InstrumentRules(
                instrument=inst,
                tick_size=Decimal(item["tick"]),
                lot_size=Decimal(item["lot"]),
                min_notional=Decimal(item["min_notional"]),
            )
        pools = tuple(Pool(p["name"], p["limit"], p["window"], WindowKind(p["kind"])) for p in raw["pools"])
        return ExchangeInfo(rules=rules, pools=pools, server_time_ms=raw["time"])

    def server_time_request(self) -> HttpRequestSpec:
        return HttpRequestSpec(method="GET", path="/time")

    def decode_server_time(self, result: HttpResult) -> int:
        return int(msgspec.json.decode(result.body)["time"])

    def _signed(self, method: str, path: str, params: list[tuple[str, str]], key: object, now: int) -> HttpRequestSpec:
        params.append(("ts", str(now)))
        return HttpRequestSpec(method=method, path=path, params=tuple(params), headers=(("x-key", str(key)),))

    def place_order_request(
        self, command: PlaceOrder, instrument: Instrument, credentials: object, now_ms: int
    ) -> HttpRequestSpec:
        params = [
            ("symbol", instrument.symbol),
            ("cid", command.client_order_id),
            ("side", command.side.value),
            ("type", command.order_type.value),
            ("size", str(command.size)),
        ]
        if command.price is not None:
            params.append(("price", str(command.price)))
        return self._signed("POST", "/order", params, credentials, now_ms)

    def _update(self, order: _Order, recv_ns: int) -> OrderUpdate:
        inst = self._by_symbol[order.symbol]
        return OrderUpdate(
            exchange=NAME,
            instrument=inst.name,
            ts_exchange=order.ts * 1_000_000,
            ts_recv=recv_ns,
            client_order_id=order.cid,
            exchange_order_id=order.oid,
            status=OrderStatus(order.status),
            side=Side(order.side),
            order_type=OrderType(order.type),
            time_in_force=TimeInForce.GTC,
            price=None if order.price is None else Decimal(order.price),
            size=Decimal(order.size),
            filled_size=Decimal(order.filled),
            reason=order.reason,
        )

    def _fill(self, fill: _Fill, recv_ns: int) -> Fill:
        return Fill(
            exchange=NAME,
            instrument=self._by_symbol[fill.symbol].name,
            ts_exchange=fill.ts * 1_000_000,
            ts_recv=recv_ns,
            client_order_id=fill.cid,
            exchange_order_id=fill.oid,
            trade_id=fill.tid,
            side=Side(fill.side),
            price=Decimal(fill.price),
            size=Decimal(fill.size),
        )

    def decode_place_order(self, result: HttpResult, command: PlaceOrder, recv_ns: int) -> Sequence[AccountEvent]:
        return [self._update(msgspec.json.decode(result.body, type=_Order), recv_ns)]

    def cancel_order_request(
        self, command: CancelOrder, instrument: Instrument, credentials: object, now_ms: int
    ) -> HttpRequestSpec:
        params = [("symbol", instrument.symbol), ("cid", command.client_order_id)]
        return self._signed("DELETE", "/order", params, credentials, now_ms)

    def decode_cancel_order(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]:
        return [self._update(msgspec.json.decode(result.body, type=_Order), recv_ns)]

    def cancel_all_request(
        self, command: CancelAll, instrument: Instrument, credentials: object, now_ms: int
    ) -> HttpRequestSpec:
        return self._signed("DELETE", "/orders", [("symbol", instrument.symbol)], credentials, now_ms)

    def decode_cancel_all(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]:
        return [self._update(o, recv_ns) for o in msgspec.json.decode(result.body, type=list[_Order])]

    def query_order_request(
        self,
        instrument: Instrument,
        client_order_id: str,
        credentials: object,
        now_ms: int,
        *,
        exchange_order_id: str = "",
    ) -> HttpRequestSpec:
        ref = ("cid", client_order_id) if client_order_id else ("oid", exchange_order_id)
        params = [("symbol", instrument.symbol), ref]
        return self._signed("GET", "/order", params, credentials, now_ms)

    def decode_query_order(self, result: HttpResult, recv_ns: int) -> OrderUpdate:
        return self._update(msgspec.json.decode(result.body, type=_Order), recv_ns)

    def open_orders_request(self, instrument: Instrument | None, credentials: object, now_ms: int) -> HttpRequestSpec:
        params = [] if instrument is None else [("symbol", instrument.symbol)]
        return self._signed("GET", "/open", params, credentials, now_ms)

    def decode_open_orders(self, result: HttpResult, recv_ns: int) -> Sequence[OrderUpdate]:
        return [self._update(o, recv_ns) for o in msgspec.json.decode(result.body, type=list[_Order])]

    def fills_request(self, instrument: Instrument, since_ms: int, credentials: object, now_ms: int) -> HttpRequestSpec:
        params = [("symbol", instrument.symbol), ("since", str(since_ms))]
        return self._signed("GET", "/fills", params, credentials, now_ms)

    def decode_fills(self, result: HttpResult, recv_ns: int) -> Sequence[Fill]:
        return [self._fill(f, recv_ns) for f in msgspec.json.decode(result.body, type=list[_Fill])]

    def balances_request(self, credentials: object, now_ms: int) -> HttpRequestSpec:
        return self._signed("GET", "/balances", [], credentials, now_ms)

    def decode_balances(self, result: HttpResult, recv_ns: int) -> Sequence[Balance]:
        return [
            Balance(exchange=NAME, asset=b.asset, free=Decimal(b.free), locked=Decimal(b.locked), ts_recv=recv_ns)
            for b in msgspec.json.decode(result.body, type=list[_Balance])
        ]

    def is_error(self, result: HttpResult) -> bool:
        return result.status >= 400

    def map_error(self, result: HttpResult) -> Exception:
        try:
            err = msgspec.json.decode(result.body, type=_Error)
        except msgspec.DecodeError:
            err = _Error("", result.body.decode(errors="replace"))
        common: dict[str, Any] = {"exchange": NAME, "code": err.code, "status": result.status}
        if result.status == 429 or result.status == 418:
            retry = result.header("retry-after")
            return RateLimited(
                err.msg, **common, retry_after=None if retry is None else float(retry), banned=result.status == 418
            )
        if result.status >= 500:
            return ExchangeUnavailable(err.msg, **common)
        if result.status == 401:
            return AuthenticationFailed(err.msg, **common)
        if result.status == 404:
            return UnknownOrder(err.msg, **common)
        if err.code == "balance":
            return InsufficientBalance(err.msg, **common)
        if err.code == "rejected":
            return OrderRejected(err.msg, **common)
        return ExchangeError(err.msg, **common)

    def request_cost(self, request: HttpRequestSpec) -> Cost:
        if request.path == "/order" and request.method == "POST":
            return {"W": 1, "O": 1}
        return {"W": 1}

    def reported_usage(self, result: HttpResult) -> Sequence[tuple[str, int]]:
        used = result.header("x-used-w")
        return [] if used is None else [("W", int(used))]

    def client_order_id_spec(self) -> object:
        return ClientIdSpec(name=NAME, max_length=24)


# -- the server ------------------------------------------------------------------------------------------------


class Fault(enum.Enum):
    """What to do instead of (or besides) answering one request."""

    #: Drop the connection without processing the request.
    DROP_BEFORE = "drop_before"
    #: Process the request, then drop the connection (the answer is lost).
    DROP_AFTER = "drop_after"
    #: Answer 503 without processing.
    UNAVAILABLE = "unavailable"
    #: Process, then answer 503.
    UNAVAILABLE_AFTER = "unavailable_after"
    #: Answer 429 with Retry-After: 3.
    RATE_LIMITED = "rate_limited"
    #: Answer 401 (bad timestamp) without processing.
    UNAUTHORIZED = "unauthorized"
    #: Never answer (the socket stays open): the client times out.
    SILENT = "silent"
    #: Process, then never answer.
    SILENT_AFTER = "silent_after"
    #: Process, drop the connection, and keep the new order invisible to queries for 1.2 s.
    DROP_AFTER_HIDDEN = "drop_after_hidden"


@attrs.define
class FakeExchange:
    """Server state of the fake exchange; ``handle`` is the HttpServer handler."""

    pool_limit: int = 1000
    pool_window: float = 60.0
    order_limit: int = 1000
    report_usage: bool = False
    #: Server clock minus our virtual wall clock, ms.
    skew_ms: int = 0
    tick: str = "0.01"
    lot: str = "0.001"
    min_notional: str = "5"
    orders: dict[str, _Order] = attrs.field(factory=dict)
    fills: list[_Fill] = attrs.field(factory=list)
    balances: dict[str, _Balance] = attrs.field(factory=dict)
    faults: dict[tuple[str, str], deque[Fault]] = attrs.field(factory=dict)
    #: ``(virtual time, method, path, params)`` of every request received.
    log: list[tuple[float, str, str, dict[str, str]]] = attrs.field(factory=list)
    hidden_until: dict[str, float] = attrs.field(factory=dict)
    _next_oid: int = 1
    _next_tid: int = 1
    _used: int = 0

    def fault(self, method: str, path: str, *faults: Fault) -> None:
        self.faults.setdefault((method, path), deque()).extend(faults)

    def requests(self, method: str, path: str) -> list[dict[str, str]]:
        return [p for _, m, pa, p in self.log if (m, pa) == (method, path)]

    def server_ms(self) -> int:
        return now_ms() + self.skew_ms

    # -- scripted account activity (what the user stream would report) ------------------------------------------

    def fill(self, cid: str, size: str, price: str) -> tuple[OrderUpdate, Fill]:
        """Execute ``size`` of order ``cid``; returns the canonical events a user stream would decode."""
        order = self.orders[cid]
        filled = Decimal(order.filled) + Decimal(size)
        order.filled = str(filled)
        order.status = "filled" if filled == Decimal(order.size) else "partially_filled"
        order.ts = self.server_ms()
        fill = _Fill(
            cid=cid,
            oid=order.oid,
            tid=str(self._next_tid),
            symbol=order.symbol,
            side=order.side,
            price=price,
            size=size,
            ts=order.ts,
        )
        self._next_tid += 1
        self.fills.append(fill)
        dialect = FakeDialect()
        dialect.register_instruments([Instrument.spot(NAME, "BTC", "USDT", SYMBOL)])
        return dialect._update(order, wall_ns()), dialect._fill(fill, wall_ns())

    def add_order(self, cid: str, side: str = "buy", size: str = "1", price: str = "100") -> _Order:
        """An order placed by someone else (an earlier session)."""
        order = _Order(
            cid=cid,
            oid=str(self._next_oid),
            symbol=SYMBOL,
            side=side,
            type="limit",
            size=size,
            price=price,
            ts=self.server_ms(),
        )
        self._next_oid += 1
        self.orders[cid] = order
        return order

    # -- serving ---------------------------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HandlerResult:
        params = dict(request.params)
        self.log.append((trio.current_time(), request.method, request.path, params))
        self._used += 1
        queue = self.faults.get((request.method, request.path))
        fault = queue.popleft() if queue else None
        if fault is Fault.DROP_BEFORE:
            return DropConnection()
        if fault is Fault.SILENT:
            return HalfOpen()
        if fault is Fault.UNAVAILABLE:
            return self._error(503, "busy", "service unavailable")
        if fault is Fault.RATE_LIMITED:
            return self._error(429, "limit", "too many requests", (("retry-after", "3"),))
        if fault is Fault.UNAUTHORIZED:
            return self._error(401, "timestamp", "timestamp outside recvWindow")
        response = self._route(request.method, request.path, params)
        if fault is Fault.DROP_AFTER_HIDDEN:
            self.hidden_until[params["cid"]] = trio.current_time() + 1.2
            return DropConnection()
        if fault is Fault.DROP_AFTER:
            return DropConnection()
        if fault is Fault.SILENT_AFTER:
            return HalfOpen()
        if fault is Fault.UNAVAILABLE_AFTER:
            return self._error(503, "busy", "service unavailable")
        return response

    def _headers(self) -> tuple[tuple[str, str], ...]:
        return (("x-used-w", str(self._used)),) if self.report_usage else ()

    def _error(self, status: int, code: str, msg: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
        return HttpResponse.json({"code": code, "msg": msg}, status, (*self._headers(), *headers))

    def _ok(self, payload: object) -> HttpResponse:
        return HttpResponse.json(payload, 200, self._headers())

    def _route(self, method: str, path: str, params: dict[str, str]) -> HttpResponse:
        match method, path:
            case "GET", "/info":
                return self._ok(
                    {
                        "instruments": [
                            {
                                "symbol": SYMBOL,
                                "base": "BTC",
                                "quote": "USDT",
                                "tick": self.tick,
                                "lot": self.lot,
                                "min_notional": self.min_notional,
                            }
                        ],
                        "pools": [
                            {"name": "W", "limit": self.pool_limit, "window": self.pool_window, "kind": "fixed"},
                            {"name": "O", "limit": self.order_limit, "window": 10.0, "kind": "fixed"},
                        ],
                        "time": self.server_ms(),
                    }
                )
            case "GET", "/time":
                return self._ok({"time": self.server_ms()})
            case "POST", "/order":
                cid = params["cid"]
                if cid in self.orders:
                    return self._error(400, "duplicate", "duplicate client order id")
                if Decimal(params["size"]) > 100:
                    return self._error(400, "balance", "insufficient balance")
                order = self.add_order(cid, params["side"], params["size"], params.get("price", "0"))
                order.type = params["type"]
                return self._ok(order)
            case "DELETE", "/order":
                visible = self._visible(params["cid"])
                if visible is None or visible.status not in ("open", "partially_filled"):
                    return self._error(404, "unknown", "unknown order")
                visible.status, visible.ts = "cancelled", self.server_ms()
                return self._ok(visible)
            case "DELETE", "/orders":
                live = [o for o in self.orders.values() if o.status in ("open", "partially_filled")]
                if not live:
                    return self._error(404, "unknown", "no open orders")
                for order in live:
                    order.status, order.ts = "cancelled", self.server_ms()
                return self._ok(live)
            case "GET", "/order":
                if "oid" in params:
                    by_oid = next((o for o in self.orders.values() if o.oid == params["oid"]), None)
                    queried = None if by_oid is None else self._visible(by_oid.cid)
                else:
                    queried = self._visible(params["cid"])
                return self._error(404, "unknown", "unknown order") if queried is None else self._ok(queried)
            case "GET", "/open":
                return self._ok([o for o in self.orders.values() if o.status in ("open", "partially_filled")])
            case "GET", "/fills":
                since = int(params["since"])
                return self._ok([f for f in self.fills if f.ts >= since and f.symbol == params["symbol"]])
            case "GET", "/balances":
                return self._ok(list(self.balances.values()))
        return self._error(400, "route", f"no route {method} {path}")

    def _visible(self, cid: str) -> _Order | None:
        if trio.current_time() < self.hidden_until.get(cid, -1.0):
            return None
        return self.orders.get(cid)


@contextlib.asynccontextmanager
async def open_fake_link(
    exchange: FakeExchange, *, rate_limiter: str = "limiter", read_timeout: float = 5.0
) -> AsyncIterator[ExchangeLink]:
    """Serve ``exchange`` on 127.0.0.1:0 and yield a link to it (dialect, transport, fake credentials)."""
    async with trio.open_nursery() as nursery:
        port = await nursery.start(HttpServer(exchange.handle).serve)
        http = HttpTransport.from_url(
            f"http://127.0.0.1:{port}", timeouts=HttpTimeouts(connect=1.0, read=read_timeout, write=1.0, pool=1.0)
        )
        async with http:
            yield ExchangeLink(
                name=NAME,
                dialect=cast("SpotDialect[Any]", FakeDialect()),  # the REST half: no stream is opened here
                http=http,
                credentials="secret-key",
                rate_limiter=rate_limiter,
                wall_ns=wall_ns,
            )
        nursery.cancel_scope.cancel()


@attrs.define
class Probe:
    """An actor that only lends its context to the test body."""

    name: str = "probe"
    ctx: Context | None = None

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.ctx = ctx
        task_status.started()
        await trio.sleep_forever()


async def start_probe(system: ActorSystem) -> Context:
    probe = Probe()
    await system.start(probe)
    assert probe.ctx is not None
    return probe.ctx
