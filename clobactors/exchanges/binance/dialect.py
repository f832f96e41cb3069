"""The Binance spot dialect: one object satisfying :class:`~clobactors.exchanges.standard.SpotDialect`.

It joins the sans-IO pieces of this folder: :mod:`.commands` (requests and frames), :mod:`.codec` and
:mod:`.codec_rest` (decoding), :mod:`.sequencing` (book sync), :mod:`.rules` (trading rules, pools,
costs), :mod:`.errors` (error mapping) and :mod:`.signing`. Its only state is the symbol table (with the
drop counters behind :meth:`BinanceSpotDialect.statistics`) and the rate-limit pools last read from
exchangeInfo.

The delegations USD-M answers the same way (cancel, query, open orders, depth snapshot, server time, listen
key, stream decoding, error mapping, costs) come from
:class:`~clobactors.exchanges.binance_common.dialect_base.BinanceDialectMixin` over this folder's modules;
this class keeps spot's own: stream names and live (un)subscribe frames, the WebSocket-API user stream,
FULL order answers, ``myTrades``, ``account`` balances, cancel-all's answer and the 8-decimal price grid.

Choices, and why:

* **Market streams**: one combined-stream URL per connection (``<ws>/stream?streams=a/b/c``, at most 1024
  streams), so :meth:`~BinanceSpotDialect.subscribe_frames` is empty and a reconnect needs no message of
  ours. Streams added to a live connection use :meth:`~BinanceSpotDialect.live_subscribe_frames`
  (``SUBSCRIBE`` frames; Binance accepts 5 incoming messages per second per connection,
  :data:`MAX_FRAMES_PER_SECOND`, which the sender must pace). Books use ``@depth@100ms`` diffs.
* **User stream**: Binance deprecated the REST listen key for spot in favour of the WebSocket API, so the
  default is ``SIGNED_FRAME``: connect to ``ws_api`` (``/ws-api/v3``) and send
  ``userDataStream.subscribe.signature`` (works with HMAC keys, no session logon). ``LISTEN_KEY`` keeps
  the old way (``POST``/``PUT /api/v3/userDataStream``, stream ``<ws>/ws/<listenKey>``) for deployments
  that still serve it, the simulator among them. Both decode through :func:`.codec.decode_user`.
* **Orders** ask for FULL answers (see :mod:`.commands`), and ``recvWindow`` defaults to Binance's own
  5000 ms, sent explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import codec, codec_rest, commands, urls, wsapi_orders
from clobactors.exchanges.binance import errors as binance_errors
from clobactors.exchanges.binance import rules as binance_rules
from clobactors.exchanges.binance.commands import OrderResponse
from clobactors.exchanges.binance.convert import EXCHANGE
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.exchanges.binance.signing import MAX_RECV_WINDOW, Credentials
from clobactors.exchanges.binance.symbols import CodecStatistics, SymbolTable
from clobactors.exchanges.binance.urls import Endpoints, Environment
from clobactors.exchanges.binance_common.dialect_base import (
    BinanceDialectMixin,
    VenueCodec,
    VenueCodecRest,
    VenueCommands,
    VenueErrors,
    VenueRules,
)
from clobactors.exchanges.order_entry import OrderEntryAnswer, OrderEntryDialect
from clobactors.exchanges.standard import (
    ExchangeInfo,
    ModifyAnswer,
    ModifyStyle,
    Subscription,
    UserStreamAuth,
)
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import (
    AccountEvent,
    PlaceOrder,
)
from clobactors.model import Instrument
from clobactors.ratelimit import Pool

if TYPE_CHECKING:
    from clobactors.exchanges.standard import LiveSubscriptions, SpotDialect

__all__ = ["MAX_FRAMES_PER_SECOND", "BinanceSpotDialect"]

#: Frames (pings, pongs, JSON requests) Binance accepts from us per second on one stream connection.
MAX_FRAMES_PER_SECOND: Final = urls.MAX_WS_MESSAGES_PER_SECOND
#: The server pings every 20 s and drops a connection silent for a minute; a quiet symbol can go that long
#: without data, so a feed is stale only after a full minute without any frame.
IDLE_TIMEOUT: Final = 60.0
#: Largest frame accepted. Stream frames are a few KB; WebSocket API answers can be far larger.
MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
#: A listen key lives 60 minutes; Binance advises a keepalive every 30.
LISTEN_KEY_INTERVAL: Final = 30 * 60.0
#: Decimals in every price Binance spot writes (``"27000.01000000"``), whatever the tick.
PRICE_DECIMALS: Final = 8


@final
@attrs.define
class BinanceSpotDialect(BinanceDialectMixin):
    """Binance spot, sans-IO. Build it with :meth:`for_environment` or, for the simulator, :meth:`for_urls`."""

    _venue_commands: ClassVar[VenueCommands] = commands
    _venue_codec: ClassVar[VenueCodec] = codec
    _venue_codec_rest: ClassVar[VenueCodecRest] = codec_rest
    _venue_rules: ClassVar[VenueRules] = binance_rules
    _venue_errors: ClassVar[VenueErrors] = binance_errors

    endpoints: Endpoints
    user_stream_auth: UserStreamAuth = UserStreamAuth.SIGNED_FRAME
    #: ``recvWindow`` in ms sent with signed requests (``None``: not sent, Binance assumes 5000).
    recv_window: int | None = 5000
    order_response: OrderResponse = OrderResponse.FULL
    #: Diff depth stream speed: 100 or 1000 ms.
    depth_speed_ms: int = 100
    name: str = attrs.field(default=EXCHANGE, init=False)
    max_streams_per_connection: int = attrs.field(default=urls.MAX_STREAMS_PER_CONNECTION, init=False)
    #: Live (un)subscribe frames we may send per second and connection (:class:`LiveSubscriptions`).
    max_frames_per_second: int = attrs.field(default=MAX_FRAMES_PER_SECOND, init=False)
    idle_timeout: float = IDLE_TIMEOUT
    max_message_size: int = MAX_MESSAGE_SIZE
    listen_key_interval: float = LISTEN_KEY_INTERVAL
    #: ``POST /api/v3/order/cancelReplace``: a modification is a replacement under a new client order id.
    modify_style: ModifyStyle = attrs.field(default=ModifyStyle.CANCEL_REPLACE, init=False)
    _symbols: SymbolTable = attrs.field(factory=SymbolTable, init=False)
    _pools: tuple[Pool, ...] = attrs.field(default=binance_rules.DEFAULT_POOLS, init=False)

    def __attrs_post_init__(self) -> None:
        self._check_recv_window(self.recv_window, MAX_RECV_WINDOW)
        if self.depth_speed_ms not in (100, 1000):
            raise ConfigError(f"depth stream speed must be 100 or 1000 ms, not {self.depth_speed_ms}")

    @classmethod
    def for_environment(
        cls,
        environment: Environment = Environment.LIVE,
        *,
        user_stream_auth: UserStreamAuth = UserStreamAuth.SIGNED_FRAME,
        recv_window: int | None = 5000,
    ) -> BinanceSpotDialect:
        return cls(Endpoints.for_environment(environment), user_stream_auth=user_stream_auth, recv_window=recv_window)

    @classmethod
    def for_urls(
        cls,
        *,
        rest: str,
        ws: str,
        ws_api: str,
        user_stream_auth: UserStreamAuth = UserStreamAuth.SIGNED_FRAME,
        recv_window: int | None = 5000,
    ) -> BinanceSpotDialect:
        """Point every URL elsewhere (the simulator on loopback): ``ws_api`` ends in ``/ws-api/v3``."""
        endpoints = Endpoints.for_environment(Environment.LIVE).override(rest=rest, ws=ws, ws_api=ws_api)
        return cls(endpoints, user_stream_auth=user_stream_auth, recv_window=recv_window)

    def register_instruments(self, instruments: Sequence[Instrument]) -> None:
        for instrument in instruments:
            if instrument.exchange != EXCHANGE:
                raise ConfigError(f"{instrument.name} is a {instrument.exchange} instrument, not {EXCHANGE}")
        self._symbols.register(instruments)

    def statistics(self) -> CodecStatistics:
        return self._symbols.statistics()

    # -- reference data ------------------------------------------------------------------------------

    def decode_exchange_info(self, result: HttpResult) -> ExchangeInfo:
        """Rules and pools; the pools also become the ones :meth:`request_cost` charges from now on."""
        with self._symbols.counting():
            info, skipped = binance_rules.decode_exchange_info(result)
        self._symbols.note_skipped_symbols(len(skipped))
        if info.pools:
            self._pools = info.pools
        return info

    # -- market data ---------------------------------------------------------------------------------

    def market_stream_url(self, subscriptions: Sequence[Subscription]) -> str:
        names = commands.stream_names(subscriptions, depth_speed_ms=self.depth_speed_ms)
        return self.endpoints.combined_stream_url(names)

    def live_subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> list[str]:
        """``SUBSCRIBE`` frames adding streams to an open connection (ids from ``request_id`` upwards)."""
        names = commands.stream_names(subscriptions, depth_speed_ms=self.depth_speed_ms)
        return commands.stream_frames("SUBSCRIBE", names, request_id)

    def live_unsubscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> list[str]:
        names = commands.stream_names(subscriptions, depth_speed_ms=self.depth_speed_ms)
        return commands.stream_frames("UNSUBSCRIBE", names, request_id)

    def connection_group(self, subscription: Subscription) -> str:
        """``""``: one combined-stream connection carries any mix of streams."""
        return ""

    def book_price_decimals(self, instrument: Instrument) -> int:
        """8: Binance spot writes every price with 8 decimals whatever the tick (``"4.00000200"`` in the REST
        depth snapshot and ``"25.35190000"`` in bookTicker, per the API docs), so books keyed on 8 decimals
        take the fast path on the wire strings."""
        return PRICE_DECIMALS

    def new_book_sync(self, instrument: Instrument) -> BinanceSpotBookSync:
        return BinanceSpotBookSync(instrument.name)

    # -- user stream ---------------------------------------------------------------------------------

    def user_stream_url(self, listen_key: str = "") -> str:
        """The WebSocket API URL (SIGNED_FRAME), or ``<ws>/ws/<listenKey>`` (LISTEN_KEY)."""
        if self.user_stream_auth is UserStreamAuth.SIGNED_FRAME:
            return self.endpoints.ws_api
        if not listen_key:
            raise ConfigError("the listen-key user stream needs a listen key")
        return self.endpoints.raw_stream_url(listen_key)

    def listen_key_keepalive_request(self, credentials: Credentials, listen_key: str) -> HttpRequestSpec:
        return commands.listen_key_keepalive(credentials, listen_key)

    def user_stream_login_frames(self, credentials: Credentials, now_ms: int, request_id: int) -> Sequence[str]:
        """One signed ``userDataStream.subscribe.signature`` frame (SIGNED_FRAME); none for LISTEN_KEY."""
        if self.user_stream_auth is not UserStreamAuth.SIGNED_FRAME:
            return ()
        return (
            commands.user_subscribe_frame(
                credentials, now_ms=now_ms, request_id=request_id, recv_window=self.recv_window
            ),
        )

    # -- orders and account --------------------------------------------------------------------------

    def place_order_request(
        self, command: PlaceOrder, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.place_order(
            command,
            instrument,
            credentials,
            now_ms=now_ms,
            recv_window=self.recv_window,
            response=self.order_response,
        )

    def decode_place_order(self, result: HttpResult, command: PlaceOrder, recv_ns: int) -> Sequence[AccountEvent]:
        with self._symbols.counting():
            return codec_rest.decode_place_order(
                result, command, recv_ns, self._symbols, full=self.order_response is OrderResponse.FULL
            )

    def decode_cancel_all(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]:
        with self._symbols.counting():
            return codec_rest.decode_cancel_all(result, recv_ns, self._symbols)

    def modify_order_request(
        self, command: PlaceOrder, original: str, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        """``POST /api/v3/order/cancelReplace`` with ``STOP_ON_FAILURE`` (see :func:`.commands.cancel_replace`)."""
        return commands.cancel_replace(
            command,
            original,
            instrument,
            credentials,
            now_ms=now_ms,
            recv_window=self.recv_window,
            response=self.order_response,
        )

    def decode_modify_order(
        self, result: HttpResult, command: PlaceOrder, original: str, recv_ns: int
    ) -> ModifyAnswer:
        with self._symbols.counting():
            return codec_rest.decode_cancel_replace(
                result, command, original, recv_ns, self._symbols, full=self.order_response is OrderResponse.FULL
            )

    def fills_request(
        self, instrument: Instrument, since_ms: int, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.my_trades(instrument, since_ms, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def balances_request(self, credentials: Credentials, now_ms: int) -> HttpRequestSpec:
        return commands.account(credentials, now_ms=now_ms, recv_window=self.recv_window)

    # -- order entry over the WebSocket API (clobactors.exchanges.order_entry) ------------------------

    def order_entry_url(self) -> str:
        """``/ws-api/v3``: the same endpoint as the user stream's (web-socket-api.md § General API Information)."""
        return self.endpoints.ws_api

    def order_entry_frame(self, spec: HttpRequestSpec, credentials: object, request_id: int) -> str | None:
        if not isinstance(credentials, Credentials):
            raise ConfigError("Binance order entry needs Binance credentials")
        return wsapi_orders.order_entry_frame(spec, credentials, request_id)

    def decode_order_entry_answer(self, message: str | bytes, elapsed: float, now_ms: int) -> OrderEntryAnswer:
        return wsapi_orders.decode_answer(message, elapsed, now_ms)

    # -- errors and limits ---------------------------------------------------------------------------

    def is_error(self, result: HttpResult) -> bool:
        """Non-2xx, except a cancel-replace's per-side outcome (HTTP 409 -2021 / 400 -2022 with ``data``),
        which :meth:`decode_modify_order` reads: it says what became of each order, not just a refusal."""
        if 200 <= result.status < 300:
            return False
        return not codec_rest.is_cancel_replace_outcome(result)

if TYPE_CHECKING:

    def _conforms(dialect: BinanceSpotDialect) -> SpotDialect[Credentials]:
        """mypy proves here, in every ``mypy --strict clobactors`` run, that the class fits the protocol."""
        return dialect

    def _live(dialect: BinanceSpotDialect) -> LiveSubscriptions:
        return dialect

    def _order_entry(dialect: BinanceSpotDialect) -> OrderEntryDialect:
        return dialect
