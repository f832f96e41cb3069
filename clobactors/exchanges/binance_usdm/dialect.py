"""The Binance USD-M futures dialect: one object satisfying :class:`~clobactors.exchanges.standard.PerpDialect`.

It joins this folder's sans-IO pieces: :mod:`.commands` (requests), :mod:`.codec` / :mod:`.codec_rest`
(decoding), :mod:`.sequencing` (the ``pu`` book rule), :mod:`.rules` (perpetual rules, pools, costs),
:mod:`.errors` and the spot HMAC signing. Its state is the symbol table (with the drop counters behind
:meth:`BinanceUsdmDialect.statistics`) and the pools last read from exchangeInfo.

The delegations spot answers the same way come from
:class:`~clobactors.exchanges.binance_common.dialect_base.BinanceDialectMixin` over this folder's modules;
this class keeps the futures differences: stream routes, RESULT order answers, ``userTrades``,
``/fapi/v3/balance``, the empty cancel-all answer, no-op setter answers (:meth:`is_error`), mark prices and
the perpetual methods.

Choices, and why:

* **Market streams**: one combined-stream URL per connection, so :meth:`~BinanceUsdmDialect.subscribe_frames`
  is empty and a reconnect sends nothing. Under :attr:`~.urls.StreamRouting.ROUTED` (live) a connection is
  on one route: BOOK and BBO on ``/public``, TRADES and MARK on ``/market`` (:meth:`stream_route` tells the
  route of a subscription; a mixed connection is a ConfigError naming the split). Books use
  ``@depth@100ms``, mark prices ``@markPrice@1s``.
* **User stream**: ``LISTEN_KEY`` (the futures way): ``POST /fapi/v1/listenKey``, stream
  ``<ws>[/private]/ws/<listenKey>``, ``PUT`` every 30 minutes (a key lives 60).
* **Orders** ask for RESULT answers; ``recvWindow`` is Binance's 5000 ms, sent explicitly. Positions come
  from ``positionRisk`` V2 (leverage and margin type included), balances from ``/fapi/v3/balance``.
* **Modify**: ``AMEND`` (``PUT /fapi/v1/order``): the order keeps its ids and loses its queue place; -5027
  "No need to modify the order." is an :class:`~clobactors.errors.OrderRejected` (:mod:`.errors` says why).
* **Setters**: "No need to change margin type / position side" (-4046/-4059) are not errors
  (:meth:`is_error`), so repeating a setter is harmless.
* **Order entry over the WebSocket API** (:class:`~clobactors.exchanges.order_entry.OrderEntryDialect`,
  ``order_entry = "websocket"``): ``/ws-fapi/v1`` takes new, amended, cancelled and queried orders, positions
  (``account.position``) and balances (``v2/account.balance``), translated from the REST requests
  (:mod:`.wsapi_orders`); the rest stays on REST.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.symbols import CodecStatistics, SymbolTable
from clobactors.exchanges.binance_common.dialect_base import (
    BinanceDialectMixin,
    VenueCodec,
    VenueCodecRest,
    VenueCommands,
    VenueErrors,
    VenueRules,
)
from clobactors.exchanges.binance_usdm import codec, codec_rest, commands, urls, wsapi_orders
from clobactors.exchanges.binance_usdm import errors as usdm_errors
from clobactors.exchanges.binance_usdm import rules as usdm_rules
from clobactors.exchanges.binance_usdm.commands import OrderResponse
from clobactors.exchanges.binance_usdm.convert import EXCHANGE
from clobactors.exchanges.binance_usdm.sequencing import BinanceUsdmBookSync
from clobactors.exchanges.binance_usdm.signing import MAX_RECV_WINDOW, Credentials
from clobactors.exchanges.binance_usdm.urls import Endpoints, Environment, StreamRoute, StreamRouting
from clobactors.exchanges.order_entry import OrderEntryAnswer, OrderEntryDialect
from clobactors.exchanges.standard import ExchangeInfo, ModifyAnswer, ModifyStyle, Subscription, UserStreamAuth
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import (
    AccountEvent,
    FundingPayment,
    MarkPrice,
    PlaceOrder,
    Position,
    SetLeverage,
    SetPositionMode,
)
from clobactors.model import Instrument, InstrumentKind, MarginType
from clobactors.ratelimit import Pool

if TYPE_CHECKING:
    from clobactors.exchanges.standard import LiveSubscriptions, PerpDialect

__all__ = ["IDLE_TIMEOUT", "LISTEN_KEY_INTERVAL", "MAX_MESSAGE_SIZE", "BinanceUsdmDialect", "DialectStatistics"]

#: Frames (pings, pongs, JSON requests) Binance accepts from us per second on one stream connection.
MAX_FRAMES_PER_SECOND: Final = urls.MAX_WS_MESSAGES_PER_SECOND
#: The server pings every 3 minutes; a quiet symbol's book can go long without a diff, so a feed is stale
#: only after a full minute without any frame (mark prices tick every second when subscribed).
IDLE_TIMEOUT: Final = 60.0
#: Largest frame accepted; stream frames are a few KB.
MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
#: A listen key lives 60 minutes; a keepalive every 30 leaves room for a failed one.
LISTEN_KEY_INTERVAL: Final = 30 * 60.0


@final
@attrs.frozen
class DialectStatistics:
    """What the dialect dropped or ignored since it was built."""

    codec: CodecStatistics
    #: exchangeInfo contracts left out because they are not perpetual (quarterlies, delivering).
    non_perpetual_contracts: int


@final
@attrs.define
class BinanceUsdmDialect(BinanceDialectMixin):
    """Binance USD-M futures, sans-IO. Build it with :meth:`for_environment` or, for the simulator, :meth:`for_urls`."""

    _venue_commands: ClassVar[VenueCommands] = commands
    _venue_codec: ClassVar[VenueCodec] = codec
    _venue_codec_rest: ClassVar[VenueCodecRest] = codec_rest
    _venue_rules: ClassVar[VenueRules] = usdm_rules
    _venue_errors: ClassVar[VenueErrors] = usdm_errors

    endpoints: Endpoints
    #: ``recvWindow`` in ms sent with signed requests (``None``: not sent, Binance assumes 5000).
    recv_window: int | None = 5000
    order_response: OrderResponse = OrderResponse.RESULT
    #: Diff depth stream speed: 100, 250 or 500 ms.
    depth_speed_ms: int = 100
    #: Mark price stream speed: 1000 or 3000 ms.
    mark_speed_ms: int = 1000
    user_stream_auth: UserStreamAuth = attrs.field(default=UserStreamAuth.LISTEN_KEY, init=False)
    name: str = attrs.field(default=EXCHANGE, init=False)
    max_streams_per_connection: int = attrs.field(default=urls.MAX_STREAMS_PER_CONNECTION, init=False)
    #: Live (un)subscribe frames we may send per second and connection (:class:`LiveSubscriptions`).
    max_frames_per_second: int = attrs.field(default=MAX_FRAMES_PER_SECOND, init=False)
    idle_timeout: float = IDLE_TIMEOUT
    max_message_size: int = MAX_MESSAGE_SIZE
    listen_key_interval: float = LISTEN_KEY_INTERVAL
    #: ``PUT /fapi/v1/order`` amends in place (same ids, back of the queue), see :meth:`modify_order_request`.
    modify_style: ModifyStyle = attrs.field(default=ModifyStyle.AMEND, init=False)
    _symbols: SymbolTable = attrs.field(factory=SymbolTable, init=False)
    _pools: tuple[Pool, ...] = attrs.field(default=usdm_rules.DEFAULT_POOLS, init=False)
    _non_perpetual: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._check_recv_window(self.recv_window, MAX_RECV_WINDOW)
        urls.depth_stream("X", speed_ms=self.depth_speed_ms)  # ConfigError on a bad speed
        urls.mark_price_stream("X", speed_ms=self.mark_speed_ms)

    @classmethod
    def for_environment(
        cls,
        environment: Environment = Environment.LIVE,
        *,
        routing: StreamRouting | None = None,
        recv_window: int | None = 5000,
    ) -> BinanceUsdmDialect:
        endpoints = Endpoints.for_environment(environment).override(routing=routing)
        return cls(endpoints, recv_window=recv_window)

    @classmethod
    def for_urls(
        cls,
        *,
        rest: str,
        ws: str,
        ws_api: str = "",
        routing: StreamRouting = StreamRouting.COMBINED,
        recv_window: int | None = 5000,
    ) -> BinanceUsdmDialect:
        """Point every URL elsewhere (the simulator on loopback); streams default to the combined layout."""
        endpoints = Endpoints.for_environment(Environment.LIVE).override(
            rest=rest, ws=ws, ws_api=ws_api or ws, routing=routing
        )
        return cls(endpoints, recv_window=recv_window)

    def register_instruments(self, instruments: Sequence[Instrument]) -> None:
        for instrument in instruments:
            if instrument.exchange != EXCHANGE:
                raise ConfigError(f"{instrument.name} is a {instrument.exchange} instrument, not {EXCHANGE}")
            if instrument.kind is not InstrumentKind.PERPETUAL:
                raise ConfigError(f"{instrument.name}: Binance USD-M trades perpetuals only")
        self._symbols.register(instruments)

    def statistics(self) -> DialectStatistics:
        return DialectStatistics(codec=self._symbols.statistics(), non_perpetual_contracts=self._non_perpetual)

    # -- reference data ------------------------------------------------------------------------------

    def decode_exchange_info(self, result: HttpResult) -> ExchangeInfo:
        """Perpetual rules and pools; the pools also become the ones :meth:`request_cost` charges from now on."""
        with self._symbols.counting():
            info, skipped, not_perpetual = usdm_rules.decode_exchange_info(result)
        self._symbols.note_skipped_symbols(len(skipped))
        self._non_perpetual += not_perpetual
        if info.pools:
            self._pools = info.pools
        return info

    # -- market data ---------------------------------------------------------------------------------

    @staticmethod
    def stream_route(subscription: Subscription) -> StreamRoute:
        """The route a subscription's stream is served on (connections under ROUTED carry one route)."""
        return urls.stream_route(subscription.channel)

    def connection_group(self, subscription: Subscription) -> str:
        """The stream's route under ROUTED (a connection serves one route), ``""`` under COMBINED."""
        if self.endpoints.routing is StreamRouting.ROUTED:
            return self.stream_route(subscription).value
        return ""

    def book_price_decimals(self, instrument: Instrument) -> int | None:
        """``None``: USD-M writes prices without fixed width (``"45266.16"``, ``"9.91"``); the tick sets the grid."""
        return None

    def market_stream_url(self, subscriptions: Sequence[Subscription]) -> str:
        routes = sorted({self.stream_route(s) for s in subscriptions})
        if self.endpoints.routing is StreamRouting.ROUTED and len(routes) > 1:
            raise ConfigError(
                "Binance USD-M serves book/BBO streams on /public and trades/mark price on /market: "
                "subscribe them on separate connections (or use StreamRouting.COMBINED where it is served)"
            )
        names = self._stream_names(subscriptions)
        return self.endpoints.combined_stream_url(names, routes[0] if routes else StreamRoute.PUBLIC)

    def _stream_names(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return commands.stream_names(
            subscriptions, depth_speed_ms=self.depth_speed_ms, mark_speed_ms=self.mark_speed_ms
        )

    def live_subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> list[str]:
        """``SUBSCRIBE`` frames adding streams to an open connection (§ Live Subscribing/Unsubscribing)."""
        names = self._stream_names(subscriptions)
        return commands.stream_frames("SUBSCRIBE", names, request_id)

    def live_unsubscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> list[str]:
        """``UNSUBSCRIBE`` frames taking streams off an open connection (same section)."""
        names = self._stream_names(subscriptions)
        return commands.stream_frames("UNSUBSCRIBE", names, request_id)

    def new_book_sync(self, instrument: Instrument) -> BinanceUsdmBookSync:
        return BinanceUsdmBookSync(instrument.name)

    def mark_price_request(self, instrument: Instrument) -> HttpRequestSpec:
        """``GET /fapi/v1/premiumIndex``: a mark price before the stream's first tick."""
        return commands.premium_index(instrument)

    def decode_mark_price(self, result: HttpResult, instrument: Instrument, recv_ns: int) -> MarkPrice:
        with self._symbols.counting():
            return codec_rest.decode_mark_price(result, instrument, recv_ns)

    # -- user stream ---------------------------------------------------------------------------------

    def user_stream_url(self, listen_key: str = "") -> str:
        return self.endpoints.user_stream_url(listen_key)

    def listen_key_keepalive_request(self, credentials: Credentials, listen_key: str) -> HttpRequestSpec:
        """``PUT /fapi/v1/listenKey``: futures keep the account's key alive; ``listen_key`` is not sent."""
        return commands.listen_key_keepalive(credentials)

    def listen_key_close_request(self, credentials: Credentials) -> HttpRequestSpec:
        return commands.listen_key_close(credentials)

    def user_stream_login_frames(self, credentials: Credentials, now_ms: int, request_id: int) -> Sequence[str]:
        """None: the listen key in the URL authenticates the stream."""
        return ()

    # -- orders and account --------------------------------------------------------------------------

    def place_order_request(
        self, command: PlaceOrder, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.place_order(
            command, instrument, credentials, now_ms=now_ms, recv_window=self.recv_window, response=self.order_response
        )

    def decode_place_order(self, result: HttpResult, command: PlaceOrder, recv_ns: int) -> Sequence[AccountEvent]:
        with self._symbols.counting():
            return codec_rest.decode_place_order(result, command, recv_ns, self._symbols)

    def modify_order_request(
        self, command: PlaceOrder, original: str, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        """``PUT /fapi/v1/order`` amending ``original`` in place (see :func:`.commands.modify_order`)."""
        return commands.modify_order(
            command, original, instrument, credentials, now_ms=now_ms, recv_window=self.recv_window
        )

    def decode_modify_order(
        self, result: HttpResult, command: PlaceOrder, original: str, recv_ns: int
    ) -> ModifyAnswer:
        """The amended order's report, outcome MODIFIED; refusals are error answers (:mod:`.errors`)."""
        with self._symbols.counting():
            return codec_rest.decode_modify_order(result, command, recv_ns, self._symbols)

    def decode_cancel_all(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]:
        """Nothing: the answer is ``{"code": 200, "msg"}``; cancellations arrive on the user stream."""
        with self._symbols.counting():
            return codec_rest.decode_cancel_all(result)

    def fills_request(
        self, instrument: Instrument, since_ms: int, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.user_trades(instrument, since_ms, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def balances_request(self, credentials: Credentials, now_ms: int) -> HttpRequestSpec:
        return commands.balances(credentials, now_ms=now_ms, recv_window=self.recv_window)

    # -- perpetual -----------------------------------------------------------------------------------

    def set_leverage_request(
        self, command: SetLeverage, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        """``POST /fapi/v1/leverage``; a ``margin_type`` in the command needs :meth:`set_margin_type_request`."""
        return commands.set_leverage(command, instrument, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def set_margin_type_request(
        self, instrument: Instrument, margin_type: MarginType, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.set_margin_type(
            instrument, margin_type, credentials, now_ms=now_ms, recv_window=self.recv_window
        )

    def set_position_mode_request(
        self, command: SetPositionMode, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return commands.set_position_mode(command, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def positions_request(self, credentials: Credentials, now_ms: int) -> HttpRequestSpec:
        return commands.position_risk(None, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def decode_positions(self, result: HttpResult, recv_ns: int) -> Sequence[Position]:
        with self._symbols.counting():
            return codec_rest.decode_positions(result, recv_ns, self._symbols)

    def funding_payments_request(
        self, instrument: Instrument | None, since_ms: int, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        """``GET /fapi/v1/income?incomeType=FUNDING_FEE`` (weight 30)."""
        return commands.income(instrument, since_ms, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def decode_funding_payments(self, result: HttpResult, recv_ns: int) -> Sequence[FundingPayment]:
        with self._symbols.counting():
            return codec_rest.decode_funding_payments(result, recv_ns, self._symbols)

    def funding_next_page(self, result: HttpResult, since_ms: int) -> int | None:
        return codec_rest.income_next_page(result, since_ms)

    # -- order entry over the WebSocket API (clobactors.exchanges.order_entry) ------------------------

    def order_entry_url(self) -> str:
        """``/ws-fapi/v1`` (§ Websocket API General Info); the user stream stays on its listen key."""
        return self.endpoints.ws_api

    def order_entry_frame(self, spec: HttpRequestSpec, credentials: object, request_id: int) -> str | None:
        if not isinstance(credentials, Credentials):
            raise ConfigError("Binance USD-M order entry needs Binance credentials")
        return wsapi_orders.order_entry_frame(spec, credentials, request_id)

    def decode_order_entry_answer(self, message: str | bytes, elapsed: float, now_ms: int) -> OrderEntryAnswer:
        return wsapi_orders.decode_answer(message, elapsed, now_ms)

    # -- errors and limits ---------------------------------------------------------------------------

    def is_error(self, result: HttpResult) -> bool:
        """Non-2xx, except "no need to change" answers to setters (the account is already as asked)."""
        if 200 <= result.status < 300:
            return False
        return not usdm_errors.is_noop(result.status, result.body)

if TYPE_CHECKING:

    def _conforms(dialect: BinanceUsdmDialect) -> PerpDialect[Credentials]:
        """mypy proves here, in every ``mypy --strict clobactors`` run, that the class fits the protocol."""
        return dialect

    def _live(dialect: BinanceUsdmDialect) -> LiveSubscriptions:
        return dialect

    def _order_entry(dialect: BinanceUsdmDialect) -> OrderEntryDialect:
        return dialect
