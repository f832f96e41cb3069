"""Binance face: accounts and API keys, listen keys, and the WebSocket API session.

Sources: user-data-stream.md (listen keys: valid 60 minutes, extended by ``PUT``; ``listenKeyExpired`` on
expiry; ``eventStreamTerminated`` when a WebSocket API subscription ends) and web-socket-api.md (§ Request
format, § Response format, § Event format, § Rate limits, § SIGNED request security, § User Data Stream
requests).

The WebSocket API session answers ``ping``, ``time``, ``session.status``, ``session.subscriptions``,
``userDataStream.subscribe.signature`` (HMAC-signed: any session may subscribe any account it can sign for;
one subscription per account per connection) and ``userDataStream.unsubscribe``; the signed trading and
account requests (``order.place``, ``myTrades``, ...) go to the :class:`SignedMethods` it is given
(:mod:`.face_wsapi_orders`, which runs the REST routes' handlers). ``session.logon`` and the
session-based ``userDataStream.subscribe`` need Ed25519 keys on Binance ("Only Ed25519 keys are supported
for this feature"); the simulator's keys are HMAC, so both answer an error, as Binance would. Events go out
as ``{"subscriptionId": n, "event": {...}}``. The USD-M face reuses the session with its own (smaller) set of
session methods (``session_methods``) and its own signed methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Protocol, final

import attrs
import msgspec

from clobactors.errors import ConfigError
from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import MSG_TIMESTAMP_AHEAD, ErrorCode
from clobactors.exchanges.binance.face_limits import Limits
from clobactors.exchanges.binance.face_params import FaceError, Params, invalid
from clobactors.exchanges.binance.signing import (
    DEFAULT_RECV_WINDOW,
    MAX_RECV_WINDOW,
    format_value,
    timestamp_in_window,
    verify_ws_params,
)
from clobactors.sim.face_protocol import SessionReply, SimCredentials

__all__ = [
    "SPOT_SESSION_METHODS",
    "Accounts",
    "ListenKeys",
    "SignedMethods",
    "WsApiSession",
    "check_timing",
    "user_topic",
]

#: user-data-stream.md: a listen key is valid for 60 minutes after creation or its last keepalive.
LISTEN_KEY_VALIDITY_NS: Final = 60 * 60 * 1_000_000_000
_WS_API_WEIGHTS: Final = {
    "ping": 1,
    "time": 1,
    "session.status": 2,
    "session.subscriptions": 2,
    "session.logon": 2,
    "userDataStream.subscribe": 2,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
}


_SUBSCRIBE_SIGNATURE: Final = "userDataStream.subscribe.signature"
#: The session's own methods on spot's ``/ws-api/v3`` (web-socket-api.md § General requests, § Session
#: Authentication, § User Data Stream requests); other venues pass theirs to :class:`WsApiSession`.
SPOT_SESSION_METHODS: Final = frozenset(_WS_API_WEIGHTS)


def user_topic(account_id: str) -> str:
    return f"user:{account_id}"


def check_timing(params: Params, now_ms: int) -> None:
    """rest-api.md § Timing security: ``recvWindow`` at most 60000 ms; ``timestamp`` within it, not ahead."""
    timestamp = params.integer("timestamp", required=True)
    recv_window = params.integer("recvWindow")
    assert timestamp is not None
    if recv_window is not None and recv_window > MAX_RECV_WINDOW:
        raise FaceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}")
    window = DEFAULT_RECV_WINDOW if recv_window is None else recv_window
    if not timestamp_in_window(timestamp, now_ms, window):
        ahead = timestamp >= now_ms + 1000
        raise FaceError(ErrorCode.INVALID_TIMESTAMP, MSG_TIMESTAMP_AHEAD if ahead else None)


@final
@attrs.define
class Accounts:
    """API keys of the simulated accounts: key -> credentials."""

    _by_key: dict[str, SimCredentials] = attrs.field(factory=dict)

    def add(self, credentials: SimCredentials) -> None:
        if credentials.api_key in self._by_key:
            raise ConfigError("an account with this API key exists already")
        if not credentials.api_key or not credentials.secret:
            raise ConfigError("API key and secret must not be empty")
        self._by_key[credentials.api_key] = credentials

    def by_key(self, api_key: str | None) -> SimCredentials:
        """The key's account, or Binance's -2014 (missing/malformed key) / -2015 (unknown key), HTTP 401."""
        if not api_key or not api_key.isprintable() or " " in api_key:
            raise FaceError(ErrorCode.BAD_API_KEY_FMT, status=401)
        found = self._by_key.get(api_key)
        if found is None:
            raise FaceError(ErrorCode.REJECTED_MBX_KEY, status=401)
        return found

    def by_account(self, account_id: str) -> SimCredentials | None:
        for credentials in self._by_key.values():
            if credentials.account_id == account_id:
                return credentials
        return None


@final
@attrs.define
class ListenKeys:
    """Listen keys per account (one active key per account, as Binance keeps it)."""

    _make_key: Callable[[int], str]
    _expiry: dict[str, tuple[str, int]] = attrs.field(factory=dict)  # key -> (account, expires_ns)
    _of_account: dict[str, str] = attrs.field(factory=dict)
    _made: int = 0

    def create(self, account_id: str, now_ns: int) -> str:
        """user-data-stream.md § Create a listenKey: an active key is returned again and extended."""
        key = self._of_account.get(account_id)
        if key is None:
            self._made += 1
            key = self._make_key(self._made)
            self._of_account[account_id] = key
        self._expiry[key] = (account_id, now_ns + LISTEN_KEY_VALIDITY_NS)
        return key

    def keepalive(self, key: str, account_id: str, now_ns: int) -> None:
        if self.account_of(key) != account_id:
            raise FaceError(ErrorCode.INVALID_LISTEN_KEY)
        self._expiry[key] = (account_id, now_ns + LISTEN_KEY_VALIDITY_NS)

    def close(self, key: str, account_id: str) -> None:
        if self.account_of(key) != account_id:
            raise FaceError(ErrorCode.INVALID_LISTEN_KEY)
        self._drop(key)

    def account_of(self, key: str) -> str | None:
        entry = self._expiry.get(key)
        return None if entry is None else entry[0]

    def expires_ns(self, key: str) -> int | None:
        entry = self._expiry.get(key)
        return None if entry is None else entry[1]

    def expire(self, now_ns: int) -> list[str]:
        """Drop and return every key whose validity ended at or before ``now_ns``."""
        gone = [key for key, (_, until) in self._expiry.items() if until <= now_ns]
        for key in gone:
            self._drop(key)
        return gone

    def next_expiry_ns(self) -> int | None:
        return min((until for _, until in self._expiry.values()), default=None)

    def _drop(self, key: str) -> None:
        account_id, _ = self._expiry.pop(key)
        if self._of_account.get(account_id) == key:
            del self._of_account[account_id]


# -- WebSocket API -------------------------------------------------------------------------------------------

_REQUEST: Final = msgspec.json.Decoder(wire.WsApiRequest)
_RETURN_RATE_LIMITS: Final = "returnRateLimits"


class SignedMethods(Protocol):
    """WebSocket API methods answered outside the session (trading and account requests); sans-IO.

    A Protocol so that this module, which the face core imports, needs no import of the REST route table.
    """

    def weight(self, method: str, params: Mapping[str, str]) -> int | None:
        """The request weight of ``method`` for these (formatted) params; ``None``: not one of these methods."""
        ...

    def call(self, method: str, params: Mapping[str, wire.ParamValue], now_ns: int) -> bytes:
        """Authenticate and answer with the ``result`` JSON, or raise :class:`FaceError`; ``params`` as sent."""
        ...

    def order_usage(
        self, method: str, params: Mapping[str, wire.ParamValue], now_ms: int
    ) -> tuple[wire.RateLimitUsage, ...]:
        """ORDERS entries for ``rateLimits`` (empty unless ``method`` counts orders for a known account)."""
        ...


def _response(
    request_id: int | str | None,
    status: int,
    *,
    result: bytes | None = None,
    error: FaceError | None = None,
    error_data: bytes | None = None,
    rate_limits: tuple[wire.RateLimitUsage, ...] = (),
) -> str:
    body = wire.WsApiResponse(
        id=request_id,
        status=status,
        result=msgspec.Raw(result) if result is not None else wire.NULL,
        error=(
            None
            if error is None
            else wire.ErrorBody(
                code=error.code, msg=error.msg, data=msgspec.Raw(error_data) if error_data else wire.NULL
            )
        ),
        rate_limits=rate_limits,
    )
    return wire.encode(body).decode()


@final
class WsApiSession:
    """One ``/ws-api/v3`` connection, sans-IO; see the module docstring."""

    def __init__(
        self,
        *,
        accounts: Accounts,
        limits: Limits,
        client_ip: str,
        connected_ns: int,
        return_rate_limits: bool = True,
        signed: SignedMethods | None = None,
        session_methods: frozenset[str] = SPOT_SESSION_METHODS,
    ) -> None:
        """``session_methods``: the session's own methods this venue has (others answer -1020, unsupported)."""
        self._accounts = accounts
        self._session_methods = session_methods
        self._limits = limits
        self._signed = signed
        self._ip = client_ip
        self._connected_ms = connected_ns // 1_000_000
        self._return_rate_limits = return_rate_limits
        self._subscriptions: dict[str, int] = {}  # topic -> subscription id
        self._next_subscription = 0
        #: Events to send before the next reply (``eventStreamTerminated``).
        self._terminated: list[bytes] = []

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._subscriptions)

    def frame(self, topic: str, payload: bytes) -> bytes:
        """web-socket-api.md § Event format: ``{"subscriptionId": n, "event": {...}}``."""
        subscription = self._subscriptions.get(topic)
        if subscription is None:
            return b'{"event":' + payload + b"}"
        return b'{"subscriptionId":' + str(subscription).encode() + b',"event":' + payload + b"}"

    def receive(self, message: str | bytes, now_ns: int) -> SessionReply:
        now_ms = now_ns // 1_000_000
        try:
            request = _REQUEST.decode(message)
        except msgspec.DecodeError:
            error = FaceError(ErrorCode.INVALID_JSON)
            return SessionReply(messages=(_response(None, 400, error=error),))
        method = request.method.removeprefix("v3/")
        #: Everything sent, as signed (``returnRateLimits`` included); the methods below read ``params``.
        sent = request.params or {}
        params = {k: v for k, v in sent.items() if k != _RETURN_RATE_LIMITS}
        return_limits = self._return_rate_limits
        if _RETURN_RATE_LIMITS in sent:
            return_limits = sent[_RETURN_RATE_LIMITS] is True
        try:
            signed = self._signed
            weight = None if signed is None else signed.weight(method, {k: format_value(v) for k, v in sent.items()})
            if signed is None or weight is None:
                self._limits.charge_ip(self._ip, _WS_API_WEIGHTS.get(method, 1), now_ms)
                result = self._call(method, params, sent, now_ns)
            else:  # a REST route's weight, charged before authentication as REST charges it
                self._limits.charge_ip(self._ip, weight, now_ms)
                result = signed.call(method, sent, now_ns)
        except FaceError as exc:
            data = exc.data  # cancel-replace's per-side results, as REST's body carries them
            if exc.status in (418, 429):
                retry = next((int(v) for k, v in exc.headers if k == "Retry-After"), 0)
                data = msgspec.json.encode({"serverTime": now_ms, "retryAfter": now_ms + retry * 1000})
            limits = self._rate_limits(method, sent, now_ms) if return_limits else ()
            reply = _response(request.id, exc.status, error=exc, error_data=data, rate_limits=limits)
            return SessionReply(messages=(reply,))
        limits = self._rate_limits(method, sent, now_ms) if return_limits else ()
        events, self._terminated = tuple(self._terminated), []
        return SessionReply(messages=(*events, _response(request.id, 200, result=result, rate_limits=limits)))

    def _rate_limits(
        self, method: str, sent: Mapping[str, wire.ParamValue], now_ms: int
    ) -> tuple[wire.RateLimitUsage, ...]:
        """§ Response format examples: the account's ORDERS usage (order methods) first, then the IP's weight."""
        orders = self._signed.order_usage(method, sent, now_ms) if self._signed is not None else ()
        return (*orders, *self._limits.ip_usage(self._ip, now_ms))

    def _call(
        self, method: str, raw: Mapping[str, wire.ParamValue], sent: Mapping[str, wire.ParamValue], now_ns: int
    ) -> bytes:
        now_ms = now_ns // 1_000_000
        params = Params((k, format_value(v)) for k, v in raw.items())
        if method not in self._session_methods:
            raise FaceError(ErrorCode.UNSUPPORTED_OPERATION)
        if method == "ping":
            params.finish()
            return b"{}"
        if method == "time":
            params.finish()
            return wire.encode(wire.ServerTime(server_time=now_ms))
        if method == "session.status":
            params.finish()
            status = wire.SessionStatus(
                connected_since=self._connected_ms,
                return_rate_limits=self._return_rate_limits,
                server_time=now_ms,
                user_data_stream=(
                    bool(self._subscriptions) if _SUBSCRIBE_SIGNATURE in self._session_methods else None
                ),
            )
            return wire.encode(status)
        if method == "session.subscriptions":
            params.finish()
            subs = [wire.UserDataSubscription(subscription_id=n) for n in self._subscriptions.values()]
            return wire.ENCODER.encode(subs)
        if method in ("session.logon", "userDataStream.subscribe"):
            # Both need an Ed25519-authenticated session; the simulator's keys are HMAC.
            raise FaceError(ErrorCode.UNAUTHORIZED, status=401)
        if method == _SUBSCRIBE_SIGNATURE:
            return self._subscribe(params, sent, now_ms)
        if method == "userDataStream.unsubscribe":
            return self._unsubscribe(params, now_ns)
        raise FaceError(ErrorCode.UNSUPPORTED_OPERATION)

    def _subscribe(self, params: Params, sent: Mapping[str, wire.ParamValue], now_ms: int) -> bytes:
        """web-socket-api.md § Subscribe to User Data Stream through signature subscription (USER_STREAM).

        The signature covers every param sent, ``returnRateLimits`` included (``sent``)."""
        credentials = self._accounts.by_key(params.raw("apiKey", required=True))
        params.raw("signature", required=True)
        if not verify_ws_params(credentials.secret, sent):
            raise FaceError(ErrorCode.INVALID_SIGNATURE)
        check_timing(params, now_ms)
        params.finish()
        topic = user_topic(credentials.account_id)
        if topic in self._subscriptions:
            raise FaceError(ErrorCode.INVALID_MESSAGE, "This account is already subscribed on this connection.")
        self._subscriptions[topic] = self._next_subscription
        self._next_subscription += 1
        return wire.encode(wire.UserDataSubscription(subscription_id=self._subscriptions[topic]))

    def _unsubscribe(self, params: Params, now_ns: int) -> bytes:
        """§ Unsubscribe from User Data Stream: one subscription by id, or all of them."""
        wanted = params.integer("subscriptionId")
        params.finish()
        topics = [t for t, n in self._subscriptions.items() if wanted is None or n == wanted]
        if wanted is not None and not topics:
            raise invalid("subscriptionId")
        for topic in topics:
            self._terminated.append(self.frame(topic, self._terminated_event(now_ns)))
            del self._subscriptions[topic]
        return b"{}"

    @staticmethod
    def _terminated_event(now_ns: int) -> bytes:
        return wire.encode(wire.EventStreamTerminated(event_time=now_ns // 1_000_000))
