"""A tiny fake venue for the stream actors: a JSON WebSocket/REST protocol, its dialect, and its server.

Nothing resembles a real exchange on purpose: the book feed and user stream must work from the dialect alone.

Wire protocol (JSON objects, one per WebSocket message):

* client -> market socket ``/market``: ``{"op": "sub", "id": 1, "args": ["BTCUSDT@book", ...]}``, acked with
  ``{"e": "ack", "id": 1}`` (or ``{"e": "error", ...}`` for a refused stream);
* market data: ``{"e": "depth", "s": sym, "U": first, "u": last, "b": [[p, q]], "a": [[p, q]], "c": crc?}``,
  ``{"e": "trade", "s": sym, "id": "7", "p": "100", "q": "1"}``; controls ``ack``/``error``/``reconnect``;
  ``{"e": "bad", "hint": "drop|resync|reconnect", "s": sym}`` makes the dialect raise RemoteProtocolError;
* REST: ``GET /depth?symbol=&limit=`` (``{"lastUpdateId", "bids", "asks"}``), ``POST /listenKey``,
  ``PUT /listenKey?listenKey=``;
* user socket ``/user/<listenKey>`` (LISTEN_KEY) or ``/user`` plus ``{"op": "login", "id", "key"}``
  (SIGNED_FRAME); events ``{"e": "order", "cid", "status", ...}``, ``{"e": "balance", "asset", "free"}``.

The sync rule (:class:`FakeSync`) is Binance's, shortened: buffer until a snapshot, drop ``u <= L``, the first
kept delta must have ``U <= L + 1``; once synced ``U`` must be ``last + 1``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal

import attrs
import msgspec
import trio

from clobactors.actors import Context, Request
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_messages import OrderReport, Reconcile
from clobactors.book import L2Book
from clobactors.checksum import okx_checksum
from clobactors.errors import (
    AuthenticationFailed,
    ExchangeError,
    RecoveryHint,
    RemoteProtocolError,
    SequenceGap,
    TransportError,
)
from clobactors.exchanges.standard import (
    Channel,
    Control,
    ControlKind,
    ExchangeInfo,
    MarketFrame,
    Subscription,
    SyncResult,
    UserFrame,
    UserStreamAuth,
)
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import AccountEvent, Balance, BookDelta, BookSnapshot, OrderUpdate, Trade
from clobactors.model import Instrument, OrderStatus, OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.sim.http_server import HandlerResult, HttpRequest, HttpResponse, HttpServer
from clobactors.sim.ws_server import ServerWsConnection, WsServer
from clobactors.transport.http import HttpTransport

NAME = "fakex"
SYMBOLS = {"BTC-USDT": "BTCUSDT", "ETH-USDT": "ETHUSDT", "SOL-USDT": "SOLUSDT"}
CHANNEL_NAMES = {"book": "book", "trades": "trade", "bbo": "bbo", "mark": "mark"}


def wall_ns() -> int:
    """Wall clock pinned to trio's virtual clock (epoch 1_700_000_000 s at virtual 0)."""
    return 1_700_000_000 * 10**9 + round(trio.current_time() * 1e9)


def virtual(ts_ns: int) -> float:
    """The virtual time of a ``ts_recv`` stamped with :func:`wall_ns`."""
    return (ts_ns - 1_700_000_000 * 10**9) / 1e9


def instrument(name: str) -> Instrument:
    base, quote = name.split("-")
    return Instrument.spot(NAME, base, quote, SYMBOLS[name])


# -- the client side ----------------------------------------------------------------------------------------


@attrs.define
class FakeSync:
    """Binance's rule, shortened (see the module docstring). ``checksums`` adds OKX-style verification."""

    instrument: str
    checksums: bool = False
    needs_rest_snapshot: bool = True
    _buffer: list[BookDelta] = attrs.field(factory=list)
    _last: int | None = None

    def on_delta(self, delta: BookDelta) -> SyncResult:
        assert delta.first_sequence is not None and delta.sequence is not None
        if self._last is None:
            self._buffer.append(delta)
            return SyncResult()
        if delta.sequence <= self._last:
            return SyncResult(synced=True)
        if delta.first_sequence != self._last + 1:
            expected, self._last = self._last + 1, None
            raise SequenceGap(
                "gap",
                hint=RecoveryHint.RESYNC,
                instrument=self.instrument,
                expected=expected,
                received=delta.first_sequence,
            )
        self._last = delta.sequence
        return SyncResult(apply=(delta,), synced=True)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        assert snapshot.sequence is not None
        last = snapshot.sequence
        kept = [d for d in self._buffer if d.sequence is not None and d.sequence > last]
        if kept and kept[0].first_sequence is not None and kept[0].first_sequence > last + 1:
            raise SequenceGap("snapshot too old", hint=RecoveryHint.RESYNC, instrument=self.instrument)
        self._buffer.clear()
        self._last = kept[-1].sequence if kept else last
        return SyncResult(apply=(snapshot, *kept), synced=True)

    def reset(self) -> None:
        self._buffer.clear()
        self._last = None

    def verify(self, checksum: int | None, computed: int) -> bool:
        return checksum is None or checksum == computed


@attrs.define
class ChecksumSync:
    """A FakeSync whose exchange sends OKX-style checksums (implements the BookChecksum extension)."""

    inner: FakeSync
    needs_rest_snapshot: bool = True

    def on_delta(self, delta: BookDelta) -> SyncResult:
        return self.inner.on_delta(delta)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        return self.inner.on_snapshot(snapshot)

    def reset(self) -> None:
        self.inner.reset()

    def verify(self, checksum: int | None, computed: int) -> bool:
        return self.inner.verify(checksum, computed)

    def compute_checksum(self, book: L2Book) -> int:
        return book.okx_checksum()


class _Frame(msgspec.Struct, kw_only=True):
    e: str
    s: str = ""
    id: int | str | None = None
    U: int | None = None
    u: int | None = None
    b: list[tuple[str, str]] = []
    a: list[tuple[str, str]] = []
    c: int | None = None
    p: Decimal | None = None
    q: Decimal | None = None
    hint: str = ""
    detail: str = ""
    cid: str = ""
    status: str = ""
    asset: str = ""
    free: Decimal | None = None


_decoder = msgspec.json.Decoder(_Frame)


class _Depth(msgspec.Struct):
    lastUpdateId: int
    bids: tuple[tuple[str, str], ...]
    asks: tuple[tuple[str, str], ...]


@attrs.define
class StreamDialect:
    """The client side of the fake protocol: market data, snapshots, user stream (nothing about orders)."""

    ws_port: int
    name: str = NAME
    max_streams_per_connection: int = 12
    idle_timeout: float = 5.0
    max_message_size: int = 1 << 20
    user_stream_auth: UserStreamAuth = UserStreamAuth.LISTEN_KEY
    listen_key_interval: float = 1800.0
    checksums: bool = False
    #: Connection group per channel (``connection_group``); unlisted channels are in group ``""``.
    groups: Mapping[Channel, str] = attrs.field(factory=dict)
    _by_symbol: dict[str, str] = attrs.field(factory=lambda: {s: n for n, s in SYMBOLS.items()})

    def register_instruments(self, instruments: Sequence[Instrument]) -> None:
        self._by_symbol = {i.symbol: i.name for i in instruments}

    def market_stream_url(self, subscriptions: Sequence[Subscription]) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/market"

    def connection_group(self, subscription: Subscription) -> str:
        return self.groups.get(subscription.channel, "")

    def book_price_decimals(self, instrument: Instrument) -> int | None:
        return None

    def subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> Sequence[bytes]:
        args = [f"{s.instrument.symbol}@{CHANNEL_NAMES[s.channel.value]}" for s in subscriptions]
        return [msgspec.json.encode({"op": "sub", "id": request_id, "args": args})]

    def _decode(self, frame: bytes | str) -> _Frame:
        try:
            return _decoder.decode(frame)
        except msgspec.DecodeError as exc:
            raise RemoteProtocolError(f"undecodable frame: {exc}", hint=RecoveryHint.DROP) from exc

    def _control(self, msg: _Frame) -> Control | None:
        kinds = {"ack": ControlKind.ACK, "error": ControlKind.ERROR, "reconnect": ControlKind.RECONNECT}
        kind = kinds.get(msg.e)
        return None if kind is None else Control(kind, msg.id, msg.detail)

    def decode_market(self, frame: bytes | str, recv_ns: int) -> MarketFrame:
        msg = self._decode(frame)
        control = self._control(msg)
        if control is not None:
            return [control]
        name = self._by_symbol.get(msg.s, "")
        if msg.e == "bad":
            raise RemoteProtocolError("scripted bad frame", hint=RecoveryHint(msg.hint), instrument=name)
        if msg.e == "depth":
            return [
                BookDelta(
                    exchange=NAME,
                    instrument=name,
                    ts_recv=recv_ns,
                    bids=tuple(msg.b),
                    asks=tuple(msg.a),
                    first_sequence=msg.U,
                    sequence=msg.u,
                    checksum=msg.c,
                )
            ]
        if msg.e == "trade":
            assert msg.p is not None and msg.q is not None
            return [
                Trade(exchange=NAME, instrument=name, ts_recv=recv_ns, trade_id=str(msg.id), price=msg.p, size=msg.q)
            ]
        raise RemoteProtocolError(f"unknown event {msg.e!r}", hint=RecoveryHint.DROP)

    def book_snapshot_request(self, instrument: Instrument, depth: int) -> HttpRequestSpec:
        return HttpRequestSpec(
            method="GET", path="/depth", params=(("symbol", instrument.symbol), ("limit", str(depth)))
        )

    def decode_book_snapshot(self, result: HttpResult, instrument: Instrument, recv_ns: int) -> BookSnapshot:
        raw = msgspec.json.decode(result.body, type=_Depth)
        return BookSnapshot(
            exchange=NAME,
            instrument=instrument.name,
            ts_recv=recv_ns,
            bids=raw.bids,
            asks=raw.asks,
            sequence=raw.lastUpdateId,
        )

    def new_book_sync(self, instrument: Instrument) -> FakeSync | ChecksumSync:
        sync = FakeSync(instrument.name)
        return ChecksumSync(sync) if self.checksums else sync

    # -- user stream --

    def user_stream_url(self, listen_key: str = "") -> str:
        return f"ws://127.0.0.1:{self.ws_port}/user" + (f"/{listen_key}" if listen_key else "")

    def listen_key_request(self, credentials: object) -> HttpRequestSpec:
        return HttpRequestSpec(method="POST", path="/listenKey", headers=(("x-key", str(credentials)),))

    def decode_listen_key(self, result: HttpResult) -> str:
        return str(msgspec.json.decode(result.body, type=dict[str, str])["listenKey"])

    def listen_key_keepalive_request(self, credentials: object, listen_key: str) -> HttpRequestSpec:
        return HttpRequestSpec(method="PUT", path="/listenKey", params=(("listenKey", listen_key),))

    def user_stream_login_frames(self, credentials: object, now_ms: int, request_id: int) -> Sequence[bytes]:
        return [msgspec.json.encode({"op": "login", "id": request_id, "key": str(credentials), "ts": now_ms})]

    def decode_user(self, frame: bytes | str, recv_ns: int) -> UserFrame:
        msg = self._decode(frame)
        control = self._control(msg)
        if control is not None:
            return [control]
        if msg.e == "bad":
            raise RemoteProtocolError("scripted bad frame", hint=RecoveryHint(msg.hint))
        events: list[AccountEvent | Control] = []
        if msg.e == "order":
            events.append(
                OrderUpdate(
                    exchange=NAME,
                    instrument="BTC-USDT",
                    ts_recv=recv_ns,
                    client_order_id=msg.cid,
                    status=OrderStatus(msg.status),
                    side=Side.BUY,
                    order_type=OrderType.LIMIT,
                    price=Decimal(100),
                    size=Decimal(1),
                )
            )
        elif msg.e == "balance":
            assert msg.free is not None
            events.append(Balance(exchange=NAME, ts_recv=recv_ns, asset=msg.asset, free=msg.free, locked=Decimal(0)))
        else:
            raise RemoteProtocolError(f"unknown event {msg.e!r}", hint=RecoveryHint.DROP)
        return events

    # -- errors and limits (the link needs them) --

    def is_error(self, result: HttpResult) -> bool:
        return result.status >= 400

    def map_error(self, result: HttpResult) -> Exception:
        if result.status == 401:
            return AuthenticationFailed("bad key", exchange=NAME, status=401)
        return ExchangeError(result.body.decode(), exchange=NAME, status=result.status)

    def request_cost(self, request: HttpRequestSpec) -> dict[str, int]:
        return {}

    def reported_usage(self, result: HttpResult) -> Sequence[tuple[str, int]]:
        return ()


# -- the server side ----------------------------------------------------------------------------------------


@attrs.define(eq=False)
class _Client:
    conn: ServerWsConnection
    outbox: trio.MemorySendChannel[bytes | None]
    streams: set[str] = attrs.field(factory=set)
    listen_key: str = ""


@attrs.define
class _ServerBook:
    seq: int = 10
    bids: dict[Decimal, Decimal] = attrs.field(factory=lambda: {Decimal("100.00"): Decimal(1)})
    asks: dict[Decimal, Decimal] = attrs.field(factory=lambda: {Decimal("101.00"): Decimal(1)})

    def apply(self, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> None:
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for price, size in changes:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(size)

    def levels(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())


@attrs.define
class FakeVenue:
    """Server state and scripting hooks. Pushes are synchronous: frames queue in each client's outbox."""

    #: Seconds the depth endpoint sleeps *after* capturing the book (deltas keep flowing meanwhile).
    snapshot_delay: float = 0.0
    #: Streams the server refuses (answered with an error control).
    refused: set[str] = attrs.field(factory=set)
    good_key: str = "secret-key"
    books: dict[str, _ServerBook] = attrs.field(factory=lambda: {s: _ServerBook() for s in SYMBOLS.values()})
    market: list[_Client] = attrs.field(factory=list)
    users: list[_Client] = attrs.field(factory=list)
    #: ``(virtual time, symbol)`` of each depth request; ``(time, key)`` of listen-key creations/keepalives.
    snapshots: list[tuple[float, str]] = attrs.field(factory=list)
    listen_keys: list[tuple[float, str]] = attrs.field(factory=list)
    keepalives: list[tuple[float, str]] = attrs.field(factory=list)
    #: ``(virtual time, path)`` of every accepted WebSocket.
    connections: list[tuple[float, str]] = attrs.field(factory=list)
    logins: list[tuple[float, str]] = attrs.field(factory=list)
    live_keys: set[str] = attrs.field(factory=set)
    changed: trio.Event = attrs.field(factory=trio.Event)

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait (on virtual time) until ``predicate()`` holds; re-checked whenever the venue changes."""
        while not predicate():
            await self.changed.wait()

    def snapshot_count(self, symbol: str) -> int:
        return sum(1 for _, s in self.snapshots if s == symbol)

    # -- scripting --

    def send_market(self, payload: object, stream: str | None = None) -> None:
        data = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
        for client in self.market:
            if stream is None or stream in client.streams:
                client.outbox.send_nowait(data)

    def depth(
        self,
        symbol: str,
        bids: Sequence[tuple[str, str]] = (),
        asks: Sequence[tuple[str, str]] = (),
        *,
        skip: int = 0,
        checksum: int | None = None,
    ) -> int:
        """Apply one update to the server book and send it; ``skip`` update ids are lost on the way."""
        book = self.books[symbol]
        book.seq += 1 + skip
        book.apply(bids, asks)
        frame: dict[str, object] = {
            "e": "depth",
            "s": symbol,
            "U": book.seq,
            "u": book.seq,
            "b": [list(x) for x in bids],
            "a": [list(x) for x in asks],
        }
        if checksum is not None:
            frame["c"] = checksum
        self.send_market(frame, f"{symbol}@book")
        return book.seq

    def okx_checksum(self, symbol: str) -> int:
        bids, asks = self.books[symbol].levels()
        return okx_checksum(
            [(format(p, "f"), format(q, "f")) for p, q in bids][:25],
            [(format(p, "f"), format(q, "f")) for p, q in asks][:25],
        )

    def abort(self, clients: list[_Client]) -> None:
        for client in clients:
            client.outbox.send_nowait(None)

    def send_user(self, payload: object) -> None:
        for client in self.users:
            client.outbox.send_nowait(msgspec.json.encode(payload))

    def expire_listen_key(self) -> None:
        """The key dies: the server says so on its stream (Binance ``listenKeyExpired``)."""
        for client in self.users:
            self.live_keys.discard(client.listen_key)
        self.send_user({"e": "reconnect", "detail": "listenKeyExpired"})

    # -- REST --

    async def handle_http(self, request: HttpRequest) -> HandlerResult:
        params = dict(request.params)
        now = trio.current_time()
        if (request.method, request.path) == ("GET", "/depth"):
            symbol = params["symbol"]
            self.snapshots.append((now, symbol))
            book = self.books[symbol]
            bids, asks = book.levels()
            body = {
                "lastUpdateId": book.seq,
                "bids": [[str(p), str(q)] for p, q in bids],
                "asks": [[str(p), str(q)] for p, q in asks],
            }
            self._notify()
            await trio.sleep(self.snapshot_delay)
            return HttpResponse.json(body)
        if (request.method, request.path) == ("POST", "/listenKey"):
            if request.header("x-key") != self.good_key:
                return HttpResponse.json({"msg": "bad key"}, status=401)
            key = f"key-{len(self.listen_keys) + 1}"
            self.listen_keys.append((now, key))
            self.live_keys.add(key)
            self._notify()
            return HttpResponse.json({"listenKey": key})
        if (request.method, request.path) == ("PUT", "/listenKey"):
            key = params["listenKey"]
            self.keepalives.append((now, key))
            self._notify()
            if key not in self.live_keys:
                return HttpResponse.json({"msg": "listen key does not exist"}, status=400)
            return HttpResponse.json({})
        return HttpResponse.json({"msg": "no route"}, status=404)

    # -- WebSocket --

    async def handle_ws(self, conn: ServerWsConnection) -> None:
        if conn.path == "/market":
            await self._serve(conn, self.market, self._market_request)
        elif conn.path == "/user" or conn.path.startswith("/user/"):
            key = conn.path.removeprefix("/user").removeprefix("/")
            if key and key not in self.live_keys:
                await conn.reject(401)
                return
            await self._serve(conn, self.users, self._user_request, key)
        else:
            await conn.reject(404)

    async def _serve(
        self,
        conn: ServerWsConnection,
        clients: list[_Client],
        on_request: Callable[[_Client, dict[str, object]], None],
        key: str = "",
    ) -> None:
        send, receive = trio.open_memory_channel[bytes | None](math.inf)
        client = _Client(conn, send, listen_key=key)
        await conn.accept()
        clients.append(client)
        self.connections.append((trio.current_time(), conn.path))
        self._notify()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._requests, client, on_request)
                async for data in receive:
                    if data is None:
                        await conn.abort()
                        break
                    await conn.send(data)
                nursery.cancel_scope.cancel()
        except* TransportError:
            pass  # the client went away
        finally:
            clients.remove(client)
            self._notify()

    async def _requests(self, client: _Client, on_request: Callable[[_Client, dict[str, object]], None]) -> None:
        while True:
            message = msgspec.json.decode(await client.conn.receive(), type=dict[str, object])
            on_request(client, message)
            self._notify()

    def _market_request(self, client: _Client, message: dict[str, object]) -> None:
        args = msgspec.convert(message["args"], type=list[str])
        refused = [a for a in args if a in self.refused]
        client.streams.update(a for a in args if a not in refused)
        if refused:
            client.outbox.send_nowait(msgspec.json.encode({"e": "error", "id": message["id"], "detail": "refused"}))
        else:
            client.outbox.send_nowait(msgspec.json.encode({"e": "ack", "id": message["id"]}))

    def _user_request(self, client: _Client, message: dict[str, object]) -> None:
        key = str(message.get("key"))
        self.logins.append((trio.current_time(), key))
        if key != self.good_key:
            client.outbox.send_nowait(msgspec.json.encode({"e": "error", "id": message["id"], "detail": "bad key"}))
        else:
            client.outbox.send_nowait(msgspec.json.encode({"e": "ack", "id": message["id"]}))


@contextlib.asynccontextmanager
async def open_venue(
    venue: FakeVenue,
    *,
    auth: UserStreamAuth = UserStreamAuth.LISTEN_KEY,
    checksums: bool = False,
    max_streams: int = 12,
    groups: Mapping[Channel, str] | None = None,
) -> AsyncIterator[ExchangeLink]:
    """Serve ``venue`` (REST and WebSocket) on 127.0.0.1 port 0 and yield a link to it."""
    async with trio.open_nursery() as nursery:
        http_port = await nursery.start(HttpServer(venue.handle_http).serve)
        ws_port = await nursery.start(WsServer(venue.handle_ws).serve)
        dialect = StreamDialect(
            ws_port,
            user_stream_auth=auth,
            checksums=checksums,
            max_streams_per_connection=max_streams,
            groups=dict(groups or {}),
        )
        rules = {
            name: InstrumentRules(instrument=instrument(name), tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))
            for name in SYMBOLS
        }
        async with HttpTransport.from_url(f"http://127.0.0.1:{http_port}") as http:
            yield ExchangeLink(
                name=NAME,
                dialect=dialect,  # type: ignore[arg-type]  # only what the stream actors use
                http=http,
                credentials=venue.good_key,
                info=ExchangeInfo(rules=rules, pools=()),
                wall_ns=wall_ns,
            )
        nursery.cancel_scope.cancel()


@attrs.define
class FakeOrderManager:
    """Stands in for the order manager: records reports and reconcile asks (with their virtual times)."""

    name: str = "om"
    reports: list[tuple[float, tuple[AccountEvent, ...]]] = attrs.field(factory=list)
    reconciles: list[float] = attrs.field(factory=list)
    changed: trio.Event = attrs.field(factory=trio.Event)

    async def run(self, ctx: Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for message in ctx.inbox:
            if isinstance(message, OrderReport):
                self.reports.append((trio.current_time(), message.events))
            elif isinstance(message, Request) and isinstance(message.payload, Reconcile):
                self.reconciles.append(trio.current_time())
                message.reply("ok")
            self.changed.set()
            self.changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self.changed.wait()
