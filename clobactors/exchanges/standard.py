"""The dialect standard: what every exchange folder provides, sans-IO, for the exchange-agnostic actors.

A dialect turns typed commands into request descriptions (:class:`~clobactors.httpspec.HttpRequestSpec`,
WebSocket frames) and bytes back into canonical messages. It never does I/O and never reads a clock: the
actors pass ``now_ms`` (exchange-aligned milliseconds) and ``recv_ns`` (our wall-clock receive time) in.

The actors drive a dialect in four roles:

* **reference data** - :meth:`SpotDialect.exchange_info_request` / :meth:`SpotDialect.decode_exchange_info`:
  instruments, :class:`~clobactors.rules.InstrumentRules`, rate-limit pools, server time.
* **book feed** - market stream URLs and subscribe frames, frame decoding into
  :data:`~clobactors.messages.MarketEvent`, REST snapshots, and one :class:`BookSync` per instrument that
  applies the exchange's documented sequencing rule; optionally :class:`LiveSubscriptions` to change an
  open connection's streams.
* **user stream** - how to authenticate (:class:`UserStreamAuth`), and frame decoding into account events.
* **orders** - place / cancel / cancel-all / modify / query / open orders / fills / balances requests and
  their decoding, the route cost for the rate limiter, and error mapping into :mod:`clobactors.errors`.

:class:`PerpDialect` adds positions, leverage, position mode and funding for perpetual venues.

Frames that are not data (subscription acks, pongs, server notices) decode to :class:`Control` items, so the
actor can act on them (e.g. reconnect on ``serverShutdown``) without knowing the exchange.

The stream vocabulary (channels, subscriptions, control frames, :class:`LiveSubscriptions`) lives in
:mod:`clobactors.exchanges.streams` and the modification vocabulary in :mod:`clobactors.exchanges.modify`;
both are re-exported here, so dialects and actors import everything from this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar, final

import attrs
import msgspec

from clobactors.exchanges.modify import ModifyAnswer, ModifyOutcome, ModifyStyle
from clobactors.exchanges.streams import (
    Channel,
    Control,
    ControlKind,
    LiveSubscriptions,
    MarketFrame,
    OutgoingFrame,
    Subscription,
    UserFrame,
    UserStreamAuth,
)
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import (
    AccountEvent,
    Balance,
    BookDelta,
    BookSnapshot,
    CancelAll,
    CancelOrder,
    Fill,
    FundingPayment,
    OrderUpdate,
    PlaceOrder,
    Position,
    SetLeverage,
    SetPositionMode,
)
from clobactors.model import Instrument, MarginType
from clobactors.ratelimit import Cost, Pool
from clobactors.rules import InstrumentRules

__all__ = [
    "BookSync",
    "Channel",
    "Control",
    "ControlKind",
    "ExchangeInfo",
    "LiveSubscriptions",
    "MarketFrame",
    "ModifyAnswer",
    "ModifyOutcome",
    "ModifyStyle",
    "OutgoingFrame",
    "PerpDialect",
    "SpotDialect",
    "Subscription",
    "SyncResult",
    "UserFrame",
    "UserStreamAuth",
]


@final
@attrs.frozen
class ExchangeInfo:
    """Reference data decoded from the exchange: rules by canonical name, rate-limit pools, server time."""

    rules: Mapping[str, InstrumentRules]
    pools: tuple[Pool, ...]
    server_time_ms: int | None = None

    def by_symbol(self) -> dict[str, InstrumentRules]:
        """Rules keyed by the exchange's own symbol (for decoding frames that name symbols)."""
        return {r.instrument.symbol: r for r in self.rules.values()}


@final
class SyncResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a :class:`BookSync` says to do with a delta or a snapshot.

    ``apply`` lists what to apply to the book, in order (a snapshot first when the book is being rebuilt).
    ``synced`` is true once the book is known to match the exchange.

    A frozen msgspec Struct rather than ``attrs.frozen``: one is built for every delta, and a frozen attrs
    instance cost ~0.45 µs against ~0.06 µs (bench/run.py book-pipeline).
    """

    apply: tuple[BookSnapshot | BookDelta, ...] = ()
    synced: bool = False


class BookSync(Protocol):
    """The exchange's documented sequencing rule for one instrument's book (sans-IO state machine).

    Raises :class:`~clobactors.errors.SequenceGap` when an update does not follow the last applied one; the
    actor then marks the book stale and calls :meth:`reset` and resyncs.
    """

    #: True when the snapshot comes from REST (Binance); False when the stream sends it (OKX, Bybit).
    needs_rest_snapshot: bool

    def on_delta(self, delta: BookDelta) -> SyncResult:
        """Buffer the delta while unsynced; otherwise check it follows the last one and pass it through."""
        ...

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Splice a snapshot with the buffered deltas per the exchange's rule."""
        ...

    def reset(self) -> None:
        """Forget everything (after a gap or a reconnect)."""
        ...

    def verify(self, checksum: int | None, computed: int) -> bool:
        """Whether a book checksum the exchange sent matches ours (True when it sends none)."""
        ...


C = TypeVar("C", contravariant=True)


class SpotDialect(Protocol[C]):
    """Everything exchange-specific a spot connector needs. ``C`` is the dialect's credentials type."""

    #: Registry name, e.g. ``"binance"``.
    name: str
    #: How many streams one market-data connection may carry.
    max_streams_per_connection: int
    #: Seconds without any frame after which the feed is stale and the connection is reopened.
    idle_timeout: float
    #: Largest frame accepted from this exchange, bytes.
    max_message_size: int
    user_stream_auth: UserStreamAuth

    def register_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Tell the decoder which symbols exist (from :meth:`decode_exchange_info` or config).

        Frames name exchange symbols; this map turns them into canonical names. Unknown symbols are dropped
        and counted.
        """
        ...

    def rest_base(self) -> str:
        """REST base URL (``https://api.binance.com`` or the simulator's)."""
        ...

    # -- reference data ------------------------------------------------------------------------------
    def exchange_info_request(self) -> HttpRequestSpec: ...

    def decode_exchange_info(self, result: HttpResult) -> ExchangeInfo: ...

    def server_time_request(self) -> HttpRequestSpec: ...

    def decode_server_time(self, result: HttpResult) -> int:
        """Exchange time in milliseconds."""
        ...

    # -- market data ---------------------------------------------------------------------------------
    def market_stream_url(self, subscriptions: Sequence[Subscription]) -> str:
        """URL for one market connection carrying ``subscriptions`` (subscribe frames may be empty)."""
        ...

    def connection_group(self, subscription: Subscription) -> str:
        """Which connections may carry ``subscription``: subscriptions of different groups never share one.

        ``""`` for every subscription where any connection carries any stream. An exchange serving streams
        on separate endpoints (Binance USD-M's /public and /market routes) names the endpoint, and the book
        feed opens a connection per group, so one instrument's channels may span connections.
        """
        ...

    def book_price_decimals(self, instrument: Instrument) -> int | None:
        """Decimals the exchange writes in book prices when fixed (Binance spot: 8), else ``None``.

        The book's price grid then matches the wire spelling, so levels take the book's fast path (no
        Decimal); ``None`` means the book uses the instrument's tick.
        """
        ...

    def subscribe_frames(self, subscriptions: Sequence[Subscription], request_id: int) -> Sequence[OutgoingFrame]:
        """Frames to send after connecting (empty when the URL carries the subscriptions)."""
        ...

    def decode_market(self, frame: bytes | str, recv_ns: int) -> MarketFrame:
        """One frame into canonical events. Malformed frames raise RemoteProtocolError with a hint."""
        ...

    def book_snapshot_request(self, instrument: Instrument, depth: int) -> HttpRequestSpec: ...

    def decode_book_snapshot(
        self, result: HttpResult, instrument: Instrument, recv_ns: int
    ) -> BookSnapshot: ...

    def new_book_sync(self, instrument: Instrument) -> BookSync: ...

    # -- user stream ---------------------------------------------------------------------------------
    def user_stream_url(self, listen_key: str = "") -> str: ...

    def listen_key_request(self, credentials: C) -> HttpRequestSpec:
        """Create a listen key (LISTEN_KEY auth only)."""
        ...

    def decode_listen_key(self, result: HttpResult) -> str: ...

    def listen_key_keepalive_request(self, credentials: C, listen_key: str) -> HttpRequestSpec: ...

    #: Seconds between listen-key keepalives.
    listen_key_interval: float

    def user_stream_login_frames(self, credentials: C, now_ms: int, request_id: int) -> Sequence[OutgoingFrame]:
        """Signed frames that authenticate and subscribe the user stream (SIGNED_FRAME auth only)."""
        ...

    def decode_user(self, frame: bytes | str, recv_ns: int) -> UserFrame: ...

    # -- orders and account --------------------------------------------------------------------------
    def place_order_request(
        self, command: PlaceOrder, instrument: Instrument, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def decode_place_order(
        self, result: HttpResult, command: PlaceOrder, recv_ns: int
    ) -> Sequence[AccountEvent]:
        """The order's state (and fills, where the answer carries them) after a successful placement."""
        ...

    def cancel_order_request(
        self, command: CancelOrder, instrument: Instrument, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def decode_cancel_order(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]: ...

    def cancel_all_request(
        self, command: CancelAll, instrument: Instrument, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    #: Whether :meth:`modify_order_request` replaces the order (new client order id) or amends it in place.
    modify_style: ModifyStyle

    def modify_order_request(
        self, command: PlaceOrder, original: str, instrument: Instrument, credentials: C, now_ms: int
    ) -> HttpRequestSpec:
        """Change order ``original`` (our client order id) into ``command``: the full order it becomes, with
        unchanged fields copied from the original; its ``client_order_id`` is the replacement's new id
        (:attr:`ModifyStyle.CANCEL_REPLACE`) or ``original`` itself (:attr:`ModifyStyle.AMEND`)."""
        ...

    def decode_modify_order(
        self, result: HttpResult, command: PlaceOrder, original: str, recv_ns: int
    ) -> ModifyAnswer: ...

    def decode_cancel_all(self, result: HttpResult, recv_ns: int) -> Sequence[AccountEvent]: ...

    def query_order_request(
        self, instrument: Instrument, client_order_id: str, credentials: C, now_ms: int, *, exchange_order_id: str = ""
    ) -> HttpRequestSpec:
        """Ask for one order by our id, or by the exchange's when ours is empty (a trade of an order we never
        tracked names only the exchange's)."""
        ...

    def decode_query_order(self, result: HttpResult, recv_ns: int) -> OrderUpdate: ...

    def open_orders_request(
        self, instrument: Instrument | None, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def decode_open_orders(self, result: HttpResult, recv_ns: int) -> Sequence[OrderUpdate]: ...

    def fills_request(
        self, instrument: Instrument, since_ms: int, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def decode_fills(self, result: HttpResult, recv_ns: int) -> Sequence[Fill]: ...

    def balances_request(self, credentials: C, now_ms: int) -> HttpRequestSpec: ...

    def decode_balances(self, result: HttpResult, recv_ns: int) -> Sequence[Balance]: ...

    # -- errors and limits ---------------------------------------------------------------------------
    def is_error(self, result: HttpResult) -> bool: ...

    def map_error(self, result: HttpResult) -> Exception:
        """The :mod:`clobactors.errors` exception for a failed answer (never raises itself)."""
        ...

    def request_cost(self, request: HttpRequestSpec) -> Cost:
        """Units this request takes from each rate-limit pool."""
        ...

    def reported_usage(self, result: HttpResult) -> Sequence[tuple[str, int]]:
        """``(pool name, used)`` pairs the exchange reported in headers (Binance X-MBX-USED-WEIGHT-1M)."""
        ...

    def client_order_id_spec(self) -> object:
        """The exchange's client order id limits (a :class:`clobactors.client_ids.ClientIdSpec`)."""
        ...


class PerpDialect(SpotDialect[C], Protocol[C]):
    """A perpetual venue: positions, leverage, margin type, position mode, funding.

    Setters have no decoder: a 2xx answer (or one :meth:`SpotDialect.is_error` does not count as an error,
    such as an exchange's "already so") means the account is as asked; the position and account streams
    report the effect.
    """

    def set_leverage_request(
        self, command: SetLeverage, instrument: Instrument, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def set_margin_type_request(
        self, instrument: Instrument, margin_type: MarginType, credentials: C, now_ms: int
    ) -> HttpRequestSpec:
        """Cross or isolated margin for one instrument (a separate call where the exchange has one)."""
        ...

    def set_position_mode_request(
        self, command: SetPositionMode, credentials: C, now_ms: int
    ) -> HttpRequestSpec: ...

    def positions_request(self, credentials: C, now_ms: int) -> HttpRequestSpec: ...

    def decode_positions(self, result: HttpResult, recv_ns: int) -> Sequence[Position]: ...

    def funding_payments_request(
        self, instrument: Instrument | None, since_ms: int, credentials: C, now_ms: int
    ) -> HttpRequestSpec:
        """Funding settlements since ``since_ms`` (all instruments when ``None``), to reconcile them."""
        ...

    def decode_funding_payments(self, result: HttpResult, recv_ns: int) -> Sequence[FundingPayment]: ...

    def funding_next_page(self, result: HttpResult, since_ms: int) -> int | None:
        """Where the funding history goes on after this answer to a request from ``since_ms`` (the next
        request's ``since_ms``), or ``None`` when it was the last page: the exchange's paging rule, applied to the
        rows it sent, whatever the decoder kept (a full page may decode to fewer payments)."""
        ...
