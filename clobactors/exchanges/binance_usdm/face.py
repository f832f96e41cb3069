"""The simulator's Binance USD-M futures face: Binance's futures protocol over a perpetual engine, sans-IO.

:class:`BinanceUsdmFace` implements :class:`clobactors.sim.face_protocol.Face` for USD-M perpetuals as
documented at developers.binance.com/docs/derivatives/usds-margined-futures. ``sim/server.py`` serves it as
``binance-usdm`` (``open_simulator("binance-usdm")``, ``clobactors sim binance-usdm``):

* REST (``/fapi/...``): routes in :mod:`.face_rest` and :mod:`.face_orders`; endpoint security as on spot
  (``X-MBX-APIKEY``; HMAC-SHA256 ``signature`` over query + body; ``timestamp`` within ``recvWindow``), the
  futures request weights, and USD-M's rate limits enforced (REQUEST_WEIGHT 2400/min per IP, ORDERS 300/10 s
  and 1200/min per account: 429 with ``Retry-After``, then 418 bans, as spot's :mod:`face_limits` does),
  with ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S|1M`` headers and the futures error codes.
* Market streams (``/ws/<stream>``, ``/stream?streams=a/b``, also under ``/public`` and ``/market``):
  :mod:`.face_streams` (depth diffs with ``pu``, mark price, book ticker, aggregate trades).
* User data (``/ws/<listenKey>``, also under ``/private``): ORDER_TRADE_UPDATE, ACCOUNT_UPDATE (reasons
  ORDER, FUNDING_FEE, DEPOSIT), ACCOUNT_CONFIG_UPDATE (leverage), MARGIN_CALL and ``listenKeyExpired``
  (then the stream closes).

* WebSocket API (``/ws-fapi/v1``): :mod:`.face_wsapi` (orders, positions, balances and account through the
  REST handlers, with REST's weights and ORDERS usage in ``rateLimits``).

Timers: depth windows (100/250/500 ms) and mark price pushes (1 s/3 s) on the epoch grid while someone
listens, listen-key expiry, and the engine's next funding time, so funding is settled at exactly 00:00,
08:00 and 16:00 UTC of simulated time even when nothing trades.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from decimal import Decimal
from typing import Final, assert_never, final
from urllib.parse import parse_qsl

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.errors import error_body
from clobactors.exchanges.binance.face_limits import Limits
from clobactors.exchanges.binance.face_params import FaceError
from clobactors.exchanges.binance.face_streams import StreamSession, market_topic
from clobactors.exchanges.binance.face_user import Accounts, ListenKeys, user_topic
from clobactors.exchanges.binance.wire_base import RateLimit
from clobactors.exchanges.binance_common.face_http import FaceAccounts, answer_rest, stream_request
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.face_convert import (
    account_update,
    config_update,
    margin_call,
    order_update,
)
from clobactors.exchanges.binance_usdm.face_core import USDM_RATE_LIMITS, UsdmCore, fail
from clobactors.exchanges.binance_usdm.face_rest import ROUTES
from clobactors.exchanges.binance_usdm.face_streams import (
    DEPTH_SPEEDS,
    MARK_SPEEDS,
    MAX_MESSAGES_PER_SECOND,
    DepthWindow,
    depth_stream_name,
    is_market_stream,
    mark_stream_name,
)
from clobactors.exchanges.binance_usdm.face_wsapi import WS_API_PATH, open_ws_api
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
from clobactors.sim.records import BalanceEvent, BookEvent, OrderEvent, TradeEvent
from clobactors.sim.rules import StpMode

__all__ = ["BINANCE_USDM_WS_POLICY", "BinanceUsdmFace"]

#: § Websocket Market Streams: a ping every 3 minutes, disconnect after 10 minutes without a pong,
#: connections valid for 24 hours.
BINANCE_USDM_WS_POLICY: Final = WsPolicy(ping_interval=180.0, pong_timeout=600.0, max_lifetime=86_400.0)
_JSON: Final = (("Content-Type", "application/json"),)
_ROUTE_PREFIXES: Final = ("/public", "/market", "/private")
_ZERO: Final = Decimal(0)


@final
class BinanceUsdmFace(FaceAccounts[UsdmCore]):
    """Binance USD-M over a perpetual :class:`Engine` (``Engine(..., perp=PerpSettings())``).

    ``seed`` makes generated API keys and listen keys reproducible; ``rate_limits`` are published in
    ``exchangeInfo`` and enforced; ``stp`` must be the engine's self-trade-prevention mode (it is reported).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        seed: int = 0,
        rate_limits: Iterable[RateLimit] = USDM_RATE_LIMITS,
        ban_after_strikes: int = 3,
        stp: StpMode = StpMode.EXPIRE_MAKER,
        ws_policy: WsPolicy = BINANCE_USDM_WS_POLICY,
    ) -> None:
        perps = engine.perps
        if perps is None:
            raise ConfigError("the Binance USD-M face needs a perpetual engine (Engine(..., perp=PerpSettings()))")
        self._seed = seed
        self._ws_policy = ws_policy
        self._core = UsdmCore(
            engine=engine,
            perps=perps,
            accounts=Accounts(),
            listen_keys=ListenKeys(lambda n: derive_secret_text(seed, f"usdm-listen-key:{n}", 64)),
            limits=Limits(tuple(rate_limits), ban_after_strikes),
            stp=stp,
        )
        self._windows: dict[tuple[str, int], DepthWindow] = {}
        #: (symbol, speed) -> last grid slot served, for depth windows and mark price pushes.
        self._depth_slots: dict[int, int] = {}
        self._mark_slots: dict[int, int] = {}
        self._last_top: dict[str, tuple[object, ...]] = {}
        self._accounts_made = 0

    # -- accounts ------------------------------------------------------------------------------------------

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None:
        """Credit an account; its user streams get ACCOUNT_UPDATE with reason DEPOSIT."""
        self._core.engine.deposit(account_id, asset, amount, now_ns=now_ns)

    # -- REST ----------------------------------------------------------------------------------------------

    def handle_rest(self, request: RestRequest, now_ns: int) -> RestResponse:
        """Answer one REST request as Binance USD-M would (status, JSON body, usage headers)."""
        return answer_rest(
            self._core, ROUTES, request, now_ns, json_headers=_JSON,
            unsupported=error_body(-1000, "Unsupported operation."),
            bad_signature=lambda: fail(-1022),
        )  # fmt: skip

    # -- WebSocket -----------------------------------------------------------------------------------------

    def open_session(
        self, path: str, query: str, headers: tuple[tuple[str, str], ...], client_ip: str, now_ns: int
    ) -> FaceSession | RestResponse:
        """A session for ``[/public|/market|/private]`` + ``/ws[/<stream>]`` or ``/stream?streams=...``, or the
        WebSocket API (``/ws-fapi/v1[?returnRateLimits=false]``)."""
        if path == WS_API_PATH:
            shown = dict(parse_qsl(query)).get("returnRateLimits", "true").lower() != "false"
            try:
                return open_ws_api(self._core, client_ip, return_rate_limits=shown, now_ns=now_ns)
            except FaceError as exc:
                return RestResponse(exc.status, exc.body(), (*_JSON, *exc.headers))
        for prefix in _ROUTE_PREFIXES:
            if path.startswith(prefix + "/"):
                path = path.removeprefix(prefix)
                break
        request = stream_request(path, query)
        if request is None:
            return RestResponse(404, error_body(-1000, "Unsupported operation."), _JSON)
        names, combined = request
        try:
            return StreamSession(
                names, combined=combined, resolve_listen_key=self._core.listen_keys.account_of,
                is_market_stream=is_market_stream, max_messages_per_second=MAX_MESSAGES_PER_SECOND,
            )  # fmt: skip
        except ValueError as exc:
            body = error_body(-1100, f"Invalid stream name or too many streams: {exc}")
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
                    self._agg_trade(event, event_ms, wanted, out)
                case BookEvent():
                    books[event.symbol] = None
                    for speed in DEPTH_SPEEDS.values():
                        key = (event.symbol, speed)
                        if market_topic(depth_stream_name(event.symbol, speed)) in wanted:
                            self._windows.setdefault(key, DepthWindow()).add(event)
                        else:
                            self._windows.pop(key, None)
                case OrderEvent():
                    if (topic := user_topic(event.account_id)) in wanted:
                        update = order_update(
                            event, event_ms=event_ms, stp=core.stp, margin_asset=core.margin_asset(event.symbol)
                        )
                        out.append(Output(topic, wire.encode(update)))
                case AccountUpdateEvent():
                    if (topic := user_topic(event.account_id)) in wanted:
                        out.append(Output(topic, wire.encode(account_update(event, event_ms=event_ms))))
                case MarginCallEvent():
                    if (topic := user_topic(event.account_id)) in wanted:
                        out.append(Output(topic, wire.encode(margin_call(event, event_ms=event_ms))))
                case AccountConfigEvent():
                    config = config_update(event, event_ms=event_ms)
                    if config is not None and (topic := user_topic(event.account_id)) in wanted:
                        out.append(Output(topic, wire.encode(config)))
                case FundingEvent() | BalanceEvent():
                    pass  # funding reaches accounts as ACCOUNT_UPDATE; a perpetual engine emits no BalanceEvent
                case _:
                    assert_never(event)
        for symbol in books:
            self._book_ticker(symbol, event_ms, wanted, out)
        return out

    def _agg_trade(self, event: TradeEvent, event_ms: int, wanted: Container[str], out: list[Output]) -> None:
        """§ Aggregate Trade Streams: one trade per aggregate (``m``: the buyer was the maker)."""
        if (topic := market_topic(f"{event.symbol.lower()}@aggTrade")) in wanted:
            agg = wire.AggTradeEvent(
                event_time=event_ms, symbol=event.symbol, agg_trade_id=event.trade_id, price=event.price,
                quantity=event.size, first_trade_id=event.trade_id, last_trade_id=event.trade_id,
                trade_time=event.ts_ns // 1_000_000, buyer_is_maker=event.taker_side.value == "sell",
            )  # fmt: skip
            out.append(Output(topic, wire.encode(agg)))

    def _book_ticker(self, symbol: str, event_ms: int, wanted: Container[str], out: list[Output]) -> None:
        """§ Individual Symbol Book Ticker Streams: on every change of the best levels."""
        topic = market_topic(f"{symbol.lower()}@bookTicker")
        if topic not in wanted:
            self._last_top.pop(symbol, None)
            return
        top = self._core.engine.best_bid_ask(symbol)
        key = (top.bid_price, top.bid_size, top.ask_price, top.ask_size)
        if self._last_top.get(symbol) == key:
            return
        self._last_top[symbol] = key
        ticker = wire.BookTickerEvent(
            event_time=event_ms, symbol=symbol, update_id=top.update_id, transaction_time=event_ms,
            bid_price=top.bid_price or _ZERO, bid_qty=top.bid_size, ask_price=top.ask_price or _ZERO,
            ask_qty=top.ask_size,
        )  # fmt: skip
        out.append(Output(topic, wire.encode(ticker)))

    # -- timers ---------------------------------------------------------------------------------------------

    def _speeds(self, wanted: Container[str]) -> tuple[set[int], set[int]]:
        depth: set[int] = set()
        mark: set[int] = set()
        for symbol in self._core.engine.symbols:
            depth.update(s for s in DEPTH_SPEEDS.values() if market_topic(depth_stream_name(symbol, s)) in wanted)
            mark.update(s for s in MARK_SPEEDS.values() if market_topic(mark_stream_name(symbol, s)) in wanted)
        return depth, mark

    def next_deadline_ns(self, now_ns: int, wanted: Container[str]) -> int | None:
        """The next depth window or mark push boundary (epoch grid), listen-key expiry, or funding time."""
        if isinstance(wanted, WantedTopics):  # the server's set: scan the symbols once per change of it
            depth, mark = wanted.derived((self, "speeds"), lambda: self._speeds(wanted))
        else:
            depth, mark = self._speeds(wanted)
        deadlines = [((now_ns // (s * 1_000_000)) + 1) * s * 1_000_000 for s in depth | mark]
        expiry = self._core.listen_keys.next_expiry_ns()
        if expiry is not None:
            deadlines.append(expiry)
        deadlines.append(self._core.perps.next_funding_ns(now_ns))
        return min(deadlines)

    @staticmethod
    def _due(slots: dict[int, int], speed: int, now_ms: int) -> bool:
        """Whether a ``speed`` grid boundary passed since the last push (the first push waits for one)."""
        slot, last = now_ms // speed, slots.get(speed)
        slots[speed] = slot
        if last is None:
            return now_ms % speed == 0
        return slot > last

    def on_timer(self, now_ns: int, wanted: Container[str]) -> None:
        """Settle due funding, expire listen keys, flush depth windows and push mark prices that are due."""
        core, now_ms = self._core, now_ns // 1_000_000
        core.perps.advance(now_ns)
        for key in core.listen_keys.expire(now_ns):
            expired = wire.encode(wire.ListenKeyExpired(event_time=now_ms, listen_key=key))
            core.pending.append(Output(f"lk:{key}", expired, close=(1000, "listenKey expired")))
            for account_id, active in list(core.key_of.items()):
                if active == key:
                    del core.key_of[account_id]
        depth, mark = self._speeds(wanted)
        for speed in depth:
            if not self._due(self._depth_slots, speed, now_ms):
                continue
            for symbol in core.engine.symbols:
                window = self._windows.get((symbol, speed))
                topic = market_topic(depth_stream_name(symbol, speed))
                if window is not None and topic in wanted:
                    update = window.flush(symbol, now_ms)
                    if update is not None:
                        core.pending.append(Output(topic, wire.encode(update)))
        for speed in mark:
            if not self._due(self._mark_slots, speed, now_ms):
                continue
            for symbol in core.engine.symbols:
                topic = market_topic(mark_stream_name(symbol, speed))
                if topic in wanted:
                    info = core.perps.premium(symbol, now_ns=now_ns)
                    push = wire.MarkPriceUpdate(
                        event_time=now_ms, symbol=symbol, mark_price=info.mark_price, index_price=info.index_price,
                        estimated_settle_price=info.index_price, funding_rate=info.funding_rate,
                        next_funding_time=info.next_funding_ns // 1_000_000,
                    )  # fmt: skip
                    core.pending.append(Output(topic, wire.encode(push)))
