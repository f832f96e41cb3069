"""The dialect methods Binance spot and USD-M futures answer the same way, written once as a mixin.

Both venues document the same shape for the requests and answers behind these methods: signed
``GET``/``DELETE`` order references with ``timestamp`` and ``recvWindow`` (spot § Trading endpoints ›
Cancel order, Query order, Current open orders; USD-M § Trade › Cancel Order, Query Order, Current All
Open Orders), the depth snapshot ``{"lastUpdateId", "bids", "asks"}`` (spot § Market data › Order book;
USD-M § Market Data › Order Book), ``{"serverTime"}`` and ``{"listenKey"}`` answers, the combined-stream
envelope, the ``{"code", "msg"}`` error body with ``Retry-After`` on 429/418, and the
``X-MBX-USED-WEIGHT-*`` headers (both § General Info › Limits). What differs stays in each venue's
``dialect.py``: routes and weights (in the venue modules the mixin calls), the place-order answer, the
cancel-all answer, exchangeInfo contents, sequencing, and the perpetual-only methods.

The mixin has no state and no fields (``__slots__ = ()``): the attrs class using it owns ``endpoints``,
``recv_window``, ``_symbols`` and ``_pools`` and names its venue's modules in five class attributes, typed
as protocols so that mypy checks each module's functions against the shared signatures. A method here
costs one class-attribute lookup more than a module-global call (not measurable next to the decode, see
``bench/run.py book-pipeline``); the order-encode path, ``place_order_request``, stays in each venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from clobactors.client_ids import BINANCE, ClientIdSpec
from clobactors.errors import ConfigError
from clobactors.exchanges.binance.errors import parse_retry_after

if TYPE_CHECKING:
    from clobactors.exchanges.binance.signing import Credentials
    from clobactors.exchanges.binance.symbols import SymbolTable
    from clobactors.exchanges.standard import MarketFrame, Subscription, UserFrame
    from clobactors.httpspec import HttpRequestSpec, HttpResult
    from clobactors.messages import AccountEvent, Balance, BookSnapshot, CancelAll, CancelOrder, Fill, OrderUpdate
    from clobactors.model import Instrument
    from clobactors.ratelimit import Cost, Pool

__all__ = ["BinanceDialectMixin", "VenueCodec", "VenueCodecRest", "VenueCommands", "VenueErrors", "VenueRules"]


class VenueCommands(Protocol):
    """The request builders both venues' ``commands`` modules define with one signature."""

    def exchange_info(self) -> HttpRequestSpec: ...
    def server_time(self) -> HttpRequestSpec: ...
    def depth(self, instrument: Instrument, levels: int, /) -> HttpRequestSpec: ...
    def listen_key_create(self, credentials: Credentials, /) -> HttpRequestSpec: ...
    def stream_frames(self, method: str, streams: Sequence[str], request_id: int, /) -> list[str]: ...

    def cancel_order(
        self,
        command: CancelOrder,
        instrument: Instrument,
        credentials: Credentials,
        /,
        *,
        now_ms: int,
        recv_window: int | None,
    ) -> HttpRequestSpec: ...

    def cancel_all(
        self,
        command: CancelAll,
        instrument: Instrument,
        credentials: Credentials,
        /,
        *,
        now_ms: int,
        recv_window: int | None,
    ) -> HttpRequestSpec: ...

    def query_order(
        self,
        instrument: Instrument,
        client_order_id: str,
        credentials: Credentials,
        /,
        *,
        now_ms: int,
        recv_window: int | None,
        exchange_order_id: str = "",
    ) -> HttpRequestSpec: ...

    def open_orders(
        self, instrument: Instrument | None, credentials: Credentials, /, *, now_ms: int, recv_window: int | None
    ) -> HttpRequestSpec: ...


class VenueCodec(Protocol):
    """A venue's stream decoders (``codec`` module)."""

    def decode_market(self, table: SymbolTable, frame: bytes | str, recv_ns: int, /) -> MarketFrame: ...
    def decode_user(self, table: SymbolTable, frame: bytes | str, recv_ns: int, /) -> UserFrame: ...


class VenueCodecRest(Protocol):
    """A venue's REST answer decoders (``codec_rest`` module) that take the same arguments on both venues."""

    def decode_server_time(self, result: HttpResult, /) -> int: ...
    def decode_listen_key(self, result: HttpResult, /) -> str: ...
    def decode_book_snapshot(self, result: HttpResult, instrument: Instrument, recv_ns: int, /) -> BookSnapshot: ...
    def decode_cancel_order(self, result: HttpResult, recv_ns: int, table: SymbolTable, /) -> list[AccountEvent]: ...
    def decode_query_order(self, result: HttpResult, recv_ns: int, table: SymbolTable, /) -> OrderUpdate: ...
    def decode_open_orders(self, result: HttpResult, recv_ns: int, table: SymbolTable, /) -> list[OrderUpdate]: ...
    def decode_fills(self, result: HttpResult, recv_ns: int, table: SymbolTable, /) -> list[Fill]: ...
    def decode_balances(self, result: HttpResult, recv_ns: int, /) -> list[Balance]: ...


class VenueRules(Protocol):
    """A venue's request costing and used-weight headers (``rules`` module)."""

    def request_cost(self, spec: HttpRequestSpec, pools: tuple[Pool, ...], /) -> Cost: ...
    def reported_usage(self, result: HttpResult, /) -> Sequence[tuple[str, int]]: ...


class VenueErrors(Protocol):
    """A venue's documented error codes into :mod:`clobactors.errors`."""

    def map_error(self, status: int, body: bytes, /, *, retry_after: float | None = None) -> Exception: ...


class _HasRest(Protocol):
    @property
    def rest(self) -> str: ...


class BinanceDialectMixin:
    """The delegations both Binance dialects share; the venue class sets the ``_venue_*`` modules."""

    __slots__ = ()

    _venue_commands: ClassVar[VenueCommands]
    _venue_codec: ClassVar[VenueCodec]
    _venue_codec_rest: ClassVar[VenueCodecRest]
    _venue_rules: ClassVar[VenueRules]
    _venue_errors: ClassVar[VenueErrors]

    endpoints: _HasRest
    recv_window: int | None
    _symbols: SymbolTable
    _pools: tuple[Pool, ...]

    @staticmethod
    def _check_recv_window(recv_window: int | None, maximum: int) -> None:
        """Both venues: ``recvWindow`` is optional and at most 60000 ms (§ Timing security)."""
        if recv_window is not None and not 0 < recv_window <= maximum:
            raise ConfigError(f"recvWindow must be within 1..{maximum} ms, not {recv_window}")

    def rest_base(self) -> str:
        return self.endpoints.rest

    def client_order_id_spec(self) -> ClientIdSpec:
        """Both venues: ``newClientOrderId`` matches ``^[.A-Z:/a-z0-9_-]{1,36}$``."""
        return BINANCE

    # -- reference data ------------------------------------------------------------------------------

    def exchange_info_request(self) -> HttpRequestSpec:
        return self._venue_commands.exchange_info()

    def server_time_request(self) -> HttpRequestSpec:
        return self._venue_commands.server_time()

    def decode_server_time(self, result: HttpResult) -> int:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_server_time(result)

    # -- market data ---------------------------------------------------------------------------------

    def subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> Sequence[str]:
        """Empty: the combined-stream URL (``market_stream_url``) carries the subscriptions."""
        return ()

    def decode_market(self, frame: bytes | str, recv_ns: int) -> MarketFrame:
        return self._venue_codec.decode_market(self._symbols, frame, recv_ns)

    def book_snapshot_request(self, instrument: Instrument, depth: int) -> HttpRequestSpec:
        """The depth endpoint with the smallest valid limit holding ``depth`` levels."""
        return self._venue_commands.depth(instrument, depth)

    def decode_book_snapshot(self, result: HttpResult, instrument: Instrument, recv_ns: int) -> BookSnapshot:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_book_snapshot(result, instrument, recv_ns)

    # -- user stream ---------------------------------------------------------------------------------

    def listen_key_request(self, credentials: Credentials) -> HttpRequestSpec:
        return self._venue_commands.listen_key_create(credentials)

    def decode_listen_key(self, result: HttpResult) -> str:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_listen_key(result)

    def decode_user(self, frame: bytes | str, recv_ns: int) -> UserFrame:
        return self._venue_codec.decode_user(self._symbols, frame, recv_ns)

    # -- orders and account --------------------------------------------------------------------------

    def cancel_order_request(
        self, command: CancelOrder, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return self._venue_commands.cancel_order(
            command, instrument, credentials, now_ms=now_ms, recv_window=self.recv_window
        )

    def decode_cancel_order(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_cancel_order(result, recv_ns, self._symbols)

    def cancel_all_request(
        self, command: CancelAll, instrument: Instrument, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return self._venue_commands.cancel_all(
            command, instrument, credentials, now_ms=now_ms, recv_window=self.recv_window
        )

    def query_order_request(
        self,
        instrument: Instrument,
        client_order_id: str,
        credentials: Credentials,
        now_ms: int,
        *,
        exchange_order_id: str = "",
    ) -> HttpRequestSpec:
        return self._venue_commands.query_order(
            instrument,
            client_order_id,
            credentials,
            now_ms=now_ms,
            recv_window=self.recv_window,
            exchange_order_id=exchange_order_id,
        )

    def decode_query_order(self, result: HttpResult, recv_ns: int) -> OrderUpdate:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_query_order(result, recv_ns, self._symbols)

    def open_orders_request(
        self, instrument: Instrument | None, credentials: Credentials, now_ms: int
    ) -> HttpRequestSpec:
        return self._venue_commands.open_orders(instrument, credentials, now_ms=now_ms, recv_window=self.recv_window)

    def decode_open_orders(self, result: HttpResult, recv_ns: int) -> Sequence[OrderUpdate]:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_open_orders(result, recv_ns, self._symbols)

    def decode_fills(self, result: HttpResult, recv_ns: int) -> Sequence[Fill]:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_fills(result, recv_ns, self._symbols)

    def decode_balances(self, result: HttpResult, recv_ns: int) -> Sequence[Balance]:
        with self._symbols.counting():
            return self._venue_codec_rest.decode_balances(result, recv_ns)

    # -- errors and limits ---------------------------------------------------------------------------

    def map_error(self, result: HttpResult) -> Exception:
        """The venue's code table; ``Retry-After`` (seconds, on 429/418) is read the same way on both."""
        retry_after = parse_retry_after(result.header("retry-after"))
        return self._venue_errors.map_error(result.status, result.body, retry_after=retry_after)

    def request_cost(self, request: HttpRequestSpec) -> Cost:
        return self._venue_rules.request_cost(request, self._pools)

    def reported_usage(self, result: HttpResult) -> Sequence[tuple[str, int]]:
        return self._venue_rules.reported_usage(result)
