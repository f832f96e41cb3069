"""The simulator faces' HTTP side, the same on Binance spot and USD-M: routes, endpoint security, usage headers.

Sources (identical rules): spot rest-api.md § Endpoint security type, § SIGNED (TRADE and USER_DATA) Endpoint
security and § Timing security; USD-M § General Info › Endpoint Security Type, › SIGNED (TRADE and USER_DATA)
Endpoint Security and › Timing Security. Each request is charged its weight against the client IP first
(429/418 from :class:`~clobactors.exchanges.binance.face_limits.Limits`), then the API key is looked up and,
for SIGNED routes, ``timestamp`` + ``signature`` are checked. Answers carry ``X-MBX-USED-WEIGHT-*`` and, for
order routes, ``X-MBX-ORDER-COUNT-*``. What differs per venue is passed in: the route table, the JSON
content type, the "unsupported operation" body and the invalid-signature error (spot's
``ErrorCode.INVALID_SIGNATURE``, USD-M's ``-1022`` with its own text).

Market-stream paths are the same too: ``/ws`` (subscribe later), ``/ws/<stream or listenKey>`` and
``/stream?streams=a/b`` (combined), see :func:`stream_request`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Generic, Protocol, TypeVar, final
from urllib.parse import parse_qsl

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.face_limits import Limits
from clobactors.exchanges.binance.face_params import FaceError, Params
from clobactors.exchanges.binance.face_user import Accounts, check_timing
from clobactors.exchanges.binance.signing import API_KEY_HEADER, verify_request
from clobactors.sim.config import derive_secret_text
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import RestRequest, RestResponse, SimCredentials, WsPolicy

__all__ = [
    "FaceAccounts",
    "FaceCoreLike",
    "Headers",
    "Route",
    "Security",
    "Weight",
    "answer_rest",
    "open_account",
    "stream_request",
]

Headers = tuple[tuple[str, str], ...]
Weight = Callable[[Mapping[str, str]], int]


class Security(enum.Enum):
    """Endpoint security type (spot rest-api.md § Endpoint security type; USD-M § Endpoint Security Type)."""

    #: Public market data.
    NONE = "NONE"
    #: API key in ``X-MBX-APIKEY``, no signature (listen keys).
    USER_STREAM = "USER_STREAM"
    #: API key, ``timestamp`` and HMAC ``signature`` (TRADE, USER_DATA).
    SIGNED = "SIGNED"


class FaceCoreLike(Protocol):
    """What :func:`answer_rest` and :func:`open_account` read of a face's core (spot and USD-M both have it)."""

    @property
    def engine(self) -> Engine: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def limits(self) -> Limits: ...


CoreT = TypeVar("CoreT", bound=FaceCoreLike)


@final
@attrs.frozen
class Route(Generic[CoreT]):
    """One REST route of a face: its handler, security, request weight (from the parameters)."""

    handler: Callable[[CoreT, SimCredentials | None, Params, int], bytes]
    security: Security
    weight: Weight
    #: Counts against the account's ORDERS limits (new orders).
    orders: bool = False


def answer_rest(
    core: CoreT,
    routes: Mapping[tuple[str, str], Route[CoreT]],
    request: RestRequest,
    now_ns: int,
    *,
    json_headers: Headers,
    unsupported: bytes,
    bad_signature: Callable[[], FaceError],
) -> RestResponse:
    """Answer one REST request: 404/405 for unknown routes, weight, security, the handler, usage headers."""
    now_ms = now_ns // 1_000_000
    route = routes.get((request.method.upper(), request.path))
    if route is None:
        known_path = any(path == request.path for _, path in routes)
        return RestResponse(405 if known_path else 404, unsupported, json_headers)
    account: SimCredentials | None = None
    try:
        pairs = parse_qsl(request.query, keep_blank_values=True)
        if request.body:
            pairs += parse_qsl(request.body, keep_blank_values=True)
        first: dict[str, str] = {}
        for name, value in pairs:
            first.setdefault(name, value)
        core.limits.charge_ip(request.client_ip, route.weight(first), now_ms)
        params = Params(pairs)
        if route.security is not Security.NONE:
            account = core.accounts.by_key(request.header(API_KEY_HEADER))
            if route.security is Security.SIGNED:
                _verify(request, params, account, now_ms, bad_signature)
        body = route.handler(core, account, params, now_ns)
    except FaceError as exc:
        headers = dict(exc.headers)
        for name, value in _usage_headers(core.limits, request, account if route.orders else None, now_ms):
            headers.setdefault(name, value)
        return RestResponse(exc.status, exc.body(), (*json_headers, *headers.items()))
    usage = _usage_headers(core.limits, request, account if route.orders else None, now_ms)
    return RestResponse(200, body, (*json_headers, *usage))


def _usage_headers(limits: Limits, request: RestRequest, account: SimCredentials | None, now_ms: int) -> Headers:
    headers = limits.ip_headers(request.client_ip, now_ms)
    if account is not None:
        headers += limits.order_headers(account.account_id, now_ms)
    return headers


def _verify(
    request: RestRequest,
    params: Params,
    account: SimCredentials,
    now_ms: int,
    bad_signature: Callable[[], FaceError],
) -> None:
    """SIGNED endpoint security (``timestamp`` and ``signature`` present, HMAC over query + body), then timing."""
    params.integer("timestamp", required=True)
    params.raw("signature", required=True)
    if not verify_request(account.secret, request.query, request.body):
        raise bad_signature()
    check_timing(params, now_ms)


def open_account(
    core: FaceCoreLike,
    seed: int,
    number: int,
    balances: Mapping[str, Decimal],
    *,
    account_id: str | None,
    api_key: str | None,
    secret: str | None,
) -> SimCredentials:
    """Open the ``number``-th funded account; missing ids and keys are derived from the seed."""
    account_id = account_id or f"account-{number}"
    credentials = SimCredentials(
        account_id=account_id,
        api_key=api_key or derive_secret_text(seed, f"api-key:{account_id}"),
        secret=secret or derive_secret_text(seed, f"secret:{account_id}"),
    )
    if core.engine.has_account(account_id):
        raise ConfigError(f"account {account_id!r} exists already")
    core.accounts.add(credentials)
    core.engine.add_account(account_id, balances)
    return credentials


class FaceAccounts(Generic[CoreT]):
    """What both Binance faces expose of their core the same way: engine, limits, WebSocket policy, accounts.

    A base of the face classes (not a face on its own): they set ``_core``, ``_seed``, ``_ws_policy`` and
    ``_accounts_made`` in ``__init__``.
    """

    _core: CoreT
    _seed: int
    _ws_policy: WsPolicy
    _accounts_made: int

    @property
    def engine(self) -> Engine:
        return self._core.engine

    @property
    def limits(self) -> Limits:
        return self._core.limits

    @property
    def ws_policy(self) -> WsPolicy:
        return self._ws_policy

    def add_account(
        self,
        balances: Mapping[str, Decimal],
        *,
        account_id: str | None = None,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> SimCredentials:
        """Open a funded account; missing ids and keys are derived from the seed and a counter."""
        self._accounts_made += 1
        return open_account(
            self._core, self._seed, self._accounts_made, balances,
            account_id=account_id, api_key=api_key, secret=secret,
        )  # fmt: skip


def stream_request(path: str, query: str) -> tuple[list[str], bool] | None:
    """``(stream names, combined)`` for a market-stream path, or ``None`` when the path is not one.

    ``/ws`` opens an empty raw connection (``SUBSCRIBE`` later), ``/ws/<name>`` a raw one on one stream or
    listen key, ``/stream?streams=a/b`` a combined one (spot web-socket-streams.md § General WSS information;
    USD-M § Websocket Market Streams).
    """
    if path in ("/ws", "/ws/"):
        return [], False
    if path.startswith("/ws/"):
        return [path.removeprefix("/ws/")], False
    if path in ("/stream", "/stream/"):
        params = dict(parse_qsl(query, keep_blank_values=True))
        return [n for n in params.get("streams", "").split("/") if n], True
    return None
