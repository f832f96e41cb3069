"""Binance spot request signing (HMAC-SHA256): pure functions, with the timestamp passed in, never read.

Sources: Binance spot API, rest-api.md § SIGNED (TRADE and USER_DATA) Endpoint security and § SIGNED
Endpoint Examples for POST /api/v3/order (HMAC Keys); web-socket-api.md § SIGNED request example (HMAC).

REST
    ``signature = hex(HMAC_SHA256(secretKey, totalParams))``, lowercase, where ``totalParams`` is the query
    string concatenated *without separator* with the request body. Both are percent-encoded (UTF-8) before
    signing, as the current docs require: a non-ASCII symbol such as ``１２３４５６`` is signed as
    ``%EF%BC%91...``, which is exactly what goes on the wire. ``signature`` is appended last.

WebSocket API
    All params except ``signature`` (``apiKey`` included), sorted by name, joined as ``k=v`` with ``&``;
    values are raw UTF-8, *not* percent-encoded (they travel inside JSON).

The client signs; the simulator face verifies with :func:`verify_request` / :func:`verify_ws_params` (constant
time) and checks the clock window with :func:`timestamp_in_window`. Only HMAC keys are handled: Ed25519
(required by ``session.logon``) needs the ``cryptography`` package, which is not a dependency yet.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, TypeAlias, final
from urllib.parse import parse_qsl, quote

import attrs

from clobactors.errors import ConfigError, LocalProtocolError

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_RECV_WINDOW",
    "Credentials",
    "ParamValue",
    "Params",
    "SignedRequest",
    "encode_params",
    "format_value",
    "hmac_sha256_hex",
    "parse_params",
    "sign_request",
    "sign_ws_params",
    "signed_query",
    "timestamp_in_window",
    "verify_request",
    "verify_ws_params",
    "ws_signature_payload",
]

#: Header carrying the API key on REST requests (rest-api.md § Endpoint security type).
API_KEY_HEADER: Final = "X-MBX-APIKEY"
#: What Binance assumes when ``recvWindow`` is not sent, in milliseconds (§ Timing security).
DEFAULT_RECV_WINDOW: Final = 5000
#: Largest ``recvWindow`` Binance accepts, in milliseconds.
MAX_RECV_WINDOW: Final = 60_000

#: A request parameter value. Decimals are written in plain notation; binary floats are refused.
ParamValue: TypeAlias = str | int | bool | Decimal
#: Ordered parameters: a mapping (insertion order) or ``(name, value)`` pairs.
Params: TypeAlias = Mapping[str, ParamValue] | Iterable[tuple[str, ParamValue]]

#: RFC 3986 unreserved characters besides letters and digits: never percent-encoded.
_UNRESERVED: Final = "-_.~"
_SIGNATURE: Final = "signature"
_RESERVED_NAMES: Final = frozenset({_SIGNATURE, "timestamp", "recvWindow", "apiKey"})


def _mask(value: str) -> str:
    return f"{value[:4]}…" if len(value) > 8 else "…"


@final
@attrs.frozen
class Credentials:
    """An HMAC API key and its secret. The secret never appears in ``repr`` or ``str``; the key is masked."""

    api_key: str = attrs.field(repr=_mask)
    secret: str = attrs.field(repr=False)
    #: HMAC-SHA256 already keyed with the secret: each signature copies it instead of keying afresh, which
    #: costs ~7 µs on the order path with cold caches (``bench/run.py order-overhead``) against ~1 µs.
    _keyed: hmac.HMAC = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.api_key or not self.secret:
            raise ConfigError("Binance credentials need a non-empty api_key and secret")
        object.__setattr__(self, "_keyed", hmac.new(self.secret.encode(), digestmod=hashlib.sha256))

    def sign(self, payload: str) -> str:
        """Lowercase hex HMAC-SHA256 of ``payload`` (UTF-8) keyed with the secret (= ``hmac_sha256_hex``)."""
        keyed = self._keyed.copy()
        keyed.update(payload.encode())
        return keyed.hexdigest()


@final
@attrs.frozen
class SignedRequest:
    """Where a signed request's parameters go. Signed strings and headers are kept out of ``repr`` (logs)."""

    #: Percent-encoded query string (without ``?``), signature last when the params go in the query.
    query: str = attrs.field(repr=False)
    #: ``application/x-www-form-urlencoded`` body, signature last when the params go in the body.
    body: str = attrs.field(repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)


def format_value(value: object) -> str:
    """Write one parameter value as Binance expects it: ``true``/``false``, plain-notation decimals.

    A float, NaN or any other type is a bug on our side and raises :class:`LocalProtocolError`.
    """
    if type(value) is str:  # the usual parameter first: every order formats about eight
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise LocalProtocolError(f"cannot send non-finite decimal {value!r}")
        return format(value, "f")
    if isinstance(value, str):
        return value
    raise LocalProtocolError(f"unsupported parameter type {type(value).__name__} (use str/int/bool/Decimal)")


def _pairs(params: Params) -> list[tuple[str, ParamValue]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def encode_params(params: Params) -> str:
    """Percent-encode ordered params as ``k=v&k=v`` (UTF-8, RFC 3986 unreserved characters kept)."""
    return "&".join(
        f"{quote(name, safe=_UNRESERVED)}={quote(format_value(value), safe=_UNRESERVED)}"
        for name, value in _pairs(params)
    )


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` (UTF-8) keyed with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _with_timing(params: Params, timestamp: int, recv_window: int | None) -> list[tuple[str, ParamValue]]:
    pairs = _pairs(params)
    clash = _RESERVED_NAMES.intersection(name for name, _ in pairs)
    if clash:
        raise LocalProtocolError(f"parameters {sorted(clash)} are added by the signer, not the caller")
    if recv_window is not None:
        if not 0 < recv_window <= MAX_RECV_WINDOW:
            raise LocalProtocolError(f"recvWindow {recv_window} outside 1..{MAX_RECV_WINDOW} ms")
        pairs.append(("recvWindow", recv_window))
    pairs.append(("timestamp", timestamp))
    return pairs


def signed_query(params: Params, secret: str, *, timestamp: int, recv_window: int | None = None) -> str:
    """``params&recvWindow=..&timestamp=..&signature=..``: the whole signed string, percent-encoded.

    ``timestamp`` is epoch milliseconds from the caller's clock; ``recvWindow`` is sent only when given.
    """
    payload = encode_params(_with_timing(params, timestamp, recv_window))
    return f"{payload}&{_SIGNATURE}={hmac_sha256_hex(secret, payload)}"


def sign_request(
    params: Params,
    credentials: Credentials,
    *,
    timestamp: int,
    recv_window: int | None = None,
    in_body: bool = False,
) -> SignedRequest:
    """Sign a REST request; the params go in the query string, or in the form body when ``in_body``."""
    payload = encode_params(_with_timing(params, timestamp, recv_window))
    signed = f"{payload}&{_SIGNATURE}={credentials.sign(payload)}"
    headers = ((API_KEY_HEADER, credentials.api_key),)
    if in_body:
        return SignedRequest(query="", body=signed, headers=headers)
    return SignedRequest(query=signed, body="", headers=headers)


def _split_signature(encoded: str) -> tuple[str, list[str]]:
    kept: list[str] = []
    found: list[str] = []
    for part in encoded.split("&") if encoded else ():
        name, _, value = part.partition("=")
        (found if name == _SIGNATURE else kept).append(value if name == _SIGNATURE else part)
    return "&".join(kept), found


def verify_request(secret: str, query: str, body: str = "") -> bool:
    """Simulator side: check a REST request's ``signature`` against ``query + body`` without it.

    ``query`` and ``body`` are the raw (still percent-encoded) strings as received. Exactly one
    ``signature`` must be present; the comparison is constant-time and case-insensitive (HMAC signatures are
    not case sensitive, rest-api.md § SIGNED Endpoint security).
    """
    query_rest, in_query = _split_signature(query)
    body_rest, in_body = _split_signature(body)
    signatures = in_query + in_body
    if len(signatures) != 1:
        return False
    expected = hmac_sha256_hex(secret, query_rest + body_rest).encode()
    return hmac.compare_digest(expected, signatures[0].lower().encode("utf-8", "replace"))


def parse_params(encoded: str) -> list[tuple[str, str]]:
    """Simulator side: decode a query string or form body into ordered ``(name, value)`` pairs."""
    return parse_qsl(encoded, keep_blank_values=True)


def timestamp_in_window(timestamp: int, server_time: int, recv_window: int = DEFAULT_RECV_WINDOW) -> bool:
    """Binance's timing rule (§ Timing security): not more than 1 s ahead, not older than ``recvWindow``."""
    return timestamp < server_time + 1000 and server_time - timestamp <= recv_window


def ws_signature_payload(params: Mapping[str, ParamValue]) -> str:
    """WebSocket API signing payload: params except ``signature``, sorted by name, raw UTF-8 ``k=v&...``."""
    return "&".join(f"{k}={format_value(v)}" for k, v in sorted(params.items()) if k != _SIGNATURE)


def sign_ws_params(
    params: Mapping[str, ParamValue],
    credentials: Credentials,
    *,
    timestamp: int,
    recv_window: int | None = None,
) -> dict[str, str | int | bool]:
    """Return ``params`` plus ``apiKey``, ``recvWindow`` (when given), ``timestamp`` and ``signature``.

    Decimals become plain-notation strings so the result drops straight into
    :class:`~clobactors.exchanges.binance.wire.WsApiRequest` ``params``.
    """
    pairs = _with_timing(params, timestamp, recv_window)
    out: dict[str, str | int | bool] = {
        name: format_value(value) if isinstance(value, Decimal) else value for name, value in pairs
    }
    out["apiKey"] = credentials.api_key
    out[_SIGNATURE] = credentials.sign(ws_signature_payload(out))
    return out


def verify_ws_params(secret: str, params: Mapping[str, ParamValue]) -> bool:
    """Simulator side: check a WebSocket API request's ``signature`` param (constant time)."""
    signature = params.get(_SIGNATURE)
    if not isinstance(signature, str):
        return False
    expected = hmac_sha256_hex(secret, ws_signature_payload(params)).encode()
    return hmac.compare_digest(expected, signature.lower().encode("utf-8", "replace"))
