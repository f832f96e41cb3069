"""The simulator's Binance spot face: Binance's protocol over a simulated engine, sans-IO.

:class:`BinanceFace` implements :class:`clobactors.sim.face_protocol.Face` for Binance spot as documented at
developers.binance.com (binance/binance-spot-api-docs). ``sim/server.py`` serves it on loopback:

* REST (``/api/v3/...``): routes in :mod:`.face_rest` and :mod:`.face_orders`, with Binance's endpoint
  security (``X-MBX-APIKEY``; HMAC-SHA256 ``signature`` over query + body, checked with
  :func:`~clobactors.exchanges.binance.signing.verify_request`; ``timestamp`` within ``recvWindow`` of the
  server clock), request weights and limits (:mod:`.face_limits`), and error codes (:mod:`.errors`).
* Market streams (``/ws/<stream>``, ``/stream?streams=a/b``): :mod:`.face_streams`.
* User data: listen-key streams (``/ws/<listenKey>``) and the WebSocket API (``/ws-api/v3``) with
  ``userDataStream.subscribe.signature``: :mod:`.face_user`; its order entry and account requests
  (``order.place``, ``account.status``, ...) run the REST handlers: :mod:`.face_wsapi_orders`; ``executionReport``,
  ``outboundAccountPosition``, ``balanceUpdate``, ``listenKeyExpired``, ``eventStreamTerminated``.

Engine events become wire payloads in :meth:`BinanceFace.drain`, on these topics: ``m:<stream>`` for market
streams and ``user:<account>`` for user data. Time is always passed in (epoch nanoseconds of the
simulator's clock), so a test can set the clock to a documented timestamp and replay a documented request.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from decimal import Decimal
from typing import Final, assert_never, final
from urllib.parse import parse_qsl

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import ErrorCode, error_body
from clobactors.exchanges.binance.face_convert import d8, execution_report
from clobactors.exchanges.binance.face_core import FaceCore
from clobactors.exchanges.binance.face_limits import DEFAULT_RATE_LIMITS, Limits
from clobactors.exchanges.binance.face_params import FaceError
from clobactors.exchanges.binance.face_rest import ROUTES
from clobactors.exchanges.binance.face_streams import (
    DepthWindow,
    StreamSession,
    depth_stream_name,
    market_topic,
    partial_stream_name,
)
from clobactors.exchanges.binance.face_user import Accounts, ListenKeys, WsApiSession, user_topic
from clobactors.exchanges.binance.face_wsapi_orders import WS_API_METHODS, WsApiOrders
from clobactors.exchanges.binance.urls import WS_API_CONNECT_WEIGHT
from clobactors.exchanges.binance_common.face_http import FaceAccounts, answer_rest, stream_request
from clobactors.sim.config import derive_secret_text
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import (
    FaceSession,
    Output,
    RestRequest,
    RestResponse,
    WantedTopics,
    WsPolicy,
)
from clobactors.sim.perp_records import AccountConfigEvent, AccountUpdateEvent, FundingEvent, MarginCallEvent
from clobactors.sim.records import BalanceEvent, BookEvent, ExecType, OrderEvent, TradeEvent
from clobactors.sim.rules import StpMode

__all__ = ["BINANCE_WS_POLICY", "BinanceFace"]

#: web-socket-streams.md § General WSS information: a ping every 20 s, disconnect after a minute without
#: a pong, connections valid for 24 hours.
BINANCE_WS_POLICY: Final = WsPolicy(ping_interval=20.0, pong_timeout=60.0, max_lifetime=86_400.0)
_JSON: Final = (("Content-Type", "application/json;charset=UTF-8"),)
_SPEEDS: Final = (100, 1000)
_LEVELS: Final = (5, 10, 20)
_WS_API_PATH: Final = "/ws-api/v3"


@final
class BinanceFace(FaceAccounts[FaceCore]):
    """Binance spot over an :class:`Engine`; see the module docstring.

    ``seed`` makes generated API keys and listen keys reproducible; ``rate_limits`` are published in
    ``exchangeInfo`` and enforced; ``stp`` must be the engine's self-trade-prevention mode (it is reported).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        seed: int = 0,
        rate_limits: Iterable[wire.RateLimit] = DEFAULT_RATE_LIMITS,
        ban_after_strikes: int = 3,
        stp: StpMode = StpMode.EXPIRE_MAKER,
        ws_policy: WsPolicy = BINANCE_WS_POLICY,
    ) -> None:
        self._seed = seed
        self._ws_policy = ws_policy
        self._core = FaceCore(
            engine=engine,
            accounts=Accounts(),
            listen_keys=ListenKeys(lambda n: derive_secret_text(seed, f"listen-key:{n}", 60)),
            limits=Limits(tuple(rate_limits), ban_after_strikes),
            stp=stp,
        )
        self._windows: dict[tuple[str, int], DepthWindow] = {}
        self._last_top: dict[str, tuple[object, ...]] = {}
        self._execution_id = 0
        self._accounts_made = 0
        self._last_second = -1

    # -- accounts ------------------------------------------------------------------------------------------

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None:
        """Credit an account; its user streams get ``balanceUpdate`` (user-data-stream.md § Balance Update)."""
        self._core.engine.deposit(account_id, asset, amount, now_ns=now_ns)
        event = wire.BalanceUpdate(
            event_time=now_ns // 1_000_000, asset=asset, delta=d8(amount), clear_time=now_ns // 1_000_000
        )
        self._core.pending.append(Output(user_topic(account_id), wire.encode(event)))

    # -- REST ----------------------------------------------------------------------------------------------

    def handle_rest(self, request: RestRequest, now_ns: int) -> RestResponse:
        """Answer one REST request as Binance would (status, JSON body, usage headers)."""
        return answer_rest(
            self._core, ROUTES, request, now_ns, json_headers=_JSON,
            unsupported=error_body(ErrorCode.UNSUPPORTED_OPERATION),
            bad_signature=lambda: FaceError(ErrorCode.INVALID_SIGNATURE),
        )  # fmt: skip

    # -- WebSocket -----------------------------------------------------------------------------------------

    def open_session(
        self, path: str, query: str, headers: tuple[tuple[str, str], ...], client_ip: str, now_ns: int
    ) -> FaceSession | RestResponse:
        """A session for ``/ws[/<stream>]``, ``/stream?streams=...`` or ``/ws-api/v3``; else an HTTP refusal."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        if path == _WS_API_PATH:
            try:
                self._core.limits.charge_ip(client_ip, WS_API_CONNECT_WEIGHT, now_ns // 1_000_000)
            except FaceError as exc:
                return RestResponse(exc.status, exc.body(), (*_JSON, *exc.headers))
            return WsApiSession(
                accounts=self._core.accounts,
                limits=self._core.limits,
                client_ip=client_ip,
                connected_ns=now_ns,
                return_rate_limits=params.get("returnRateLimits", "true").lower() != "false",
                signed=WsApiOrders(self._core, WS_API_METHODS),  # trading/account methods on the REST handlers
            )
        request = stream_request(path, query)
        if request is None:
            return RestResponse(404, error_body(ErrorCode.UNSUPPORTED_OPERATION), _JSON)
        names, combined = request
        try:
            return StreamSession(names, combined=combined, resolve_listen_key=self._core.listen_keys.account_of)
        except ValueError as exc:
            body = error_body(ErrorCode.ILLEGAL_CHARS, f"Invalid stream name or too many streams: {exc}")
            return RestResponse(400, body, _JSON)

    def close_session(self, session: FaceSession, now_ns: int) -> None:
        """Nothing to release: subscriptions live in the session itself."""

    # -- engine events -> payloads -------------------------------------------------------------------------

    def drain(self, now_ns: int, wanted: Container[str]) -> list[Output]:
        """Translate what happened since the last drain into payloads for the topics someone listens to."""
        core, event_ms = self._core, now_ns // 1_000_000
        out = [o for o in core.pending if o.close is not None or o.topic in wanted]
        core.pending.clear()
        books: dict[str, None] = {}
        for event in core.engine.drain_events():
            match event:
                case TradeEvent():
                    self._trade(event, event_ms, wanted, out)
                case BookEvent():
                    books[event.symbol] = None
                    for speed in _SPEEDS:
                        key = (event.symbol, speed)
                        if market_topic(depth_stream_name(event.symbol, speed)) in wanted:
                            self._windows.setdefault(key, DepthWindow()).add(event)
                        else:
                            self._windows.pop(key, None)
                case OrderEvent():
                    cancel_id = None
                    if event.exec_type is ExecType.CANCELLED:
                        cancel_id = core.cancel_ids.pop(event.order.order_id, None)
                    topic = user_topic(event.account_id)
                    if topic in wanted:
                        self._execution_id += 1
                        report = execution_report(
                            event, execution_id=self._execution_id, event_ms=event_ms, stp=core.stp,
                            cancel_client_id=cancel_id,
                        )  # fmt: skip
                        out.append(Output(topic, wire.encode(report)))
                case BalanceEvent():
                    topic = user_topic(event.account_id)
                    if topic in wanted:
                        position = wire.OutboundAccountPosition(
                            event_time=event_ms,
                            last_update_time=event.ts_ns // 1_000_000,
                            balances=tuple(
                                wire.PositionBalance(asset=b.asset, free=d8(b.free), locked=d8(b.locked))
                                for b in event.balances
                            ),
                        )
                        out.append(Output(topic, wire.encode(position)))
                case AccountUpdateEvent() | MarginCallEvent() | AccountConfigEvent() | FundingEvent():
                    pass  # perpetual events: a spot engine never emits them
                case _:
                    assert_never(event)
        for symbol in books:
            self._book_ticker(symbol, wanted, out)
        return out

    def _trade(self, event: TradeEvent, event_ms: int, wanted: Container[str], out: list[Output]) -> None:
        """web-socket-streams.md § Trade Streams and § Aggregate Trade Streams (one trade per aggregate)."""
        self._core.ticker(event.symbol).add(event)
        stream = event.symbol.lower()
        buyer_is_maker = event.taker_side.value == "sell"
        if (topic := market_topic(f"{stream}@trade")) in wanted:
            trade = wire.TradeEvent(
                event_time=event_ms, symbol=event.symbol, trade_id=event.trade_id, price=d8(event.price),
                quantity=d8(event.size), trade_time=event.ts_ns // 1_000_000, buyer_is_maker=buyer_is_maker,
                ignore=True,
            )  # fmt: skip
            out.append(Output(topic, wire.encode(trade)))
        if (topic := market_topic(f"{stream}@aggTrade")) in wanted:
            agg = wire.AggTradeEvent(
                event_time=event_ms, symbol=event.symbol, agg_trade_id=event.trade_id, price=d8(event.price),
                quantity=d8(event.size), first_trade_id=event.trade_id, last_trade_id=event.trade_id,
                trade_time=event.ts_ns // 1_000_000, buyer_is_maker=buyer_is_maker, ignore=True,
            )  # fmt: skip
            out.append(Output(topic, wire.encode(agg)))

    def _book_ticker(self, symbol: str, wanted: Container[str], out: list[Output]) -> None:
        """web-socket-streams.md § Individual Symbol Book Ticker Streams: on every change of the best levels."""
        topic = market_topic(f"{symbol.lower()}@bookTicker")
        if topic not in wanted:
            self._last_top.pop(symbol, None)
            return
        top = self._core.engine.best_bid_ask(symbol)
        key = (top.bid_price, top.bid_size, top.ask_price, top.ask_size)
        if self._last_top.get(symbol) == key:
            return
        self._last_top[symbol] = key
        zero = Decimal(0)
        ticker = wire.BookTickerEvent(
            update_id=top.update_id, symbol=symbol, bid_price=d8(top.bid_price or zero), bid_qty=d8(top.bid_size),
            ask_price=d8(top.ask_price or zero), ask_qty=d8(top.ask_size),
        )  # fmt: skip
        out.append(Output(topic, wire.encode(ticker)))

    # -- timers ---------------------------------------------------------------------------------------------

    def _depth_speeds(self, wanted: Container[str]) -> set[int]:
        speeds: set[int] = set()
        for symbol in self._core.engine.symbols:
            for speed in _SPEEDS:
                names = [depth_stream_name(symbol, speed), *(partial_stream_name(symbol, n, speed) for n in _LEVELS)]
                if any(market_topic(n) in wanted for n in names):
                    speeds.add(speed)
        return speeds

    def next_deadline_ns(self, now_ns: int, wanted: Container[str]) -> int | None:
        """The next depth window boundary (100 ms or 1 s, on the epoch grid) or listen-key expiry."""
        deadlines: list[int] = []
        if isinstance(wanted, WantedTopics):  # the server's set: scan the symbols once per change of it
            speeds = wanted.derived((self, "depth speeds"), lambda: self._depth_speeds(wanted))
        else:
            speeds = self._depth_speeds(wanted)
        if speeds:
            step = min(speeds) * 1_000_000
            deadlines.append((now_ns // step + 1) * step)
        expiry = self._core.listen_keys.next_expiry_ns()
        if expiry is not None:
            deadlines.append(expiry)
        return min(deadlines, default=None)

    def on_timer(self, now_ns: int, wanted: Container[str]) -> None:
        """Expire listen keys (``listenKeyExpired``, then close) and flush the depth windows that ended."""
        core, now_ms = self._core, now_ns // 1_000_000
        for key in core.listen_keys.expire(now_ns):
            expired = wire.encode(wire.ListenKeyExpired(event_time=now_ms, listen_key=key))
            core.pending.append(Output(f"lk:{key}", expired, close=(1000, "listenKey expired")))
        second = now_ms // 1000
        speeds = [100] + ([1000] if second != self._last_second else [])
        self._last_second = second
        for symbol in core.engine.symbols:
            for speed in speeds:
                window = self._windows.get((symbol, speed))
                topic = market_topic(depth_stream_name(symbol, speed))
                if window is not None and topic in wanted:
                    update = window.flush(symbol, now_ms)
                    if update is not None:
                        core.pending.append(Output(topic, wire.encode(update)))
                for levels in _LEVELS:
                    topic = market_topic(partial_stream_name(symbol, levels, speed))
                    if topic in wanted:
                        depth = core.engine.depth(symbol, levels)
                        book = wire.PartialBookDepth(
                            last_update_id=depth.update_id,
                            bids=tuple((d8(p), d8(q)) for p, q in depth.bids),
                            asks=tuple((d8(p), d8(q)) for p, q in depth.asks),
                        )
                        core.pending.append(Output(topic, wire.encode(book)))
