"""Binance spot wire layer, shared base: struct bases, common bodies, the encoder, and decode errors.

See :mod:`clobactors.exchanges.binance.wire` for the rules every wire struct follows; this module holds what
the other ``wire_*`` modules build on: :class:`WireStruct` / :class:`RestStruct`, the bodies every endpoint
family shares (:class:`ErrorBody`, :class:`RateLimit`...), the plain-decimal :data:`ENCODER`, and
:func:`decode_checked`, which turns msgspec errors into :class:`~clobactors.errors.RemoteProtocolError`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final, TypeAlias, TypeVar, final

import msgspec

from clobactors.errors import RecoveryHint, RemoteProtocolError

T = TypeVar("T")

#: union with ``None``), omitted on encode.
NULL: Final = msgspec.Raw(b"null")

#: One book level as Binance sends it: ``["price", "qty"]``.
Level: TypeAlias = tuple[Decimal, Decimal]


class WireStruct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every wire struct: immutable, keyword-only, unset optional fields omitted on encode."""


class RestStruct(WireStruct, frozen=True, kw_only=True, rename="camel"):
    """Base of camelCase JSON objects (REST bodies, WebSocket API results)."""


# -- general endpoints ---------------------------------------------------------------------------------------


@final
class Empty(RestStruct, frozen=True, kw_only=True):
    """``{}``: rest-api.md § Test connectivity (``GET /api/v3/ping``); listenKey PUT/DELETE."""


@final
class ServerTime(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § Check server time (``GET /api/v3/time``)."""

    server_time: int


class RateLimit(RestStruct, frozen=True, kw_only=True):
    """Binance spot API, rest-api.md § ENUM definitions › Rate limiters (rateLimitType)."""

    #: ``REQUEST_WEIGHT``, ``ORDERS`` or ``RAW_REQUESTS``.
    rate_limit_type: str
    #: ``SECOND``, ``MINUTE``, ``HOUR`` or ``DAY``.
    interval: str
    interval_num: int
    limit: int


@final
class RateLimitUsage(RateLimit, frozen=True, kw_only=True):
    """A rate limit with its current ``count``: Binance spot API, web-socket-api.md § Rate limits."""

    count: int


@final
class ErrorBody(RestStruct, frozen=True, kw_only=True):
    """``{"code": -1121, "msg": "Invalid symbol."}``: Binance spot API, rest-api.md § Error Codes (errors.md).

    ``data`` carries extra detail on some errors (cancel-replace results, WebSocket API ``retryAfter``).
    """

    code: int
    msg: str
    data: msgspec.Raw = NULL


# -- the encoder and shared decoders (build once: msgspec docs, perf-tips.rst) -------------------------------


def _plain_decimal(value: Decimal) -> str:
    """Binance writes ``"0.00000000"``, never ``"0E-8"`` (which ``str(Decimal)`` gives): plain notation."""
    return format(value, "f")


#: Encodes wire structs as Binance does; decimals in plain notation (needs msgspec's callable
#: ``decimal_format``, msgspec >= 0.22).
ENCODER: Final = msgspec.json.Encoder(decimal_format=_plain_decimal)

ERROR_DECODER: Final = msgspec.json.Decoder(ErrorBody)
EMPTY_DECODER: Final = msgspec.json.Decoder(Empty)
SERVER_TIME_DECODER: Final = msgspec.json.Decoder(ServerTime)


# -- malformed input -> RemoteProtocolError ------------------------------------------------------------------

_PATH_RE: Final = re.compile(r" - at `(?P<path>[^`]*)`$")


def protocol_error(
    exc: msgspec.DecodeError, *, what: str, hint: RecoveryHint = RecoveryHint.DROP, instrument: str = ""
) -> RemoteProtocolError:
    """Turn a msgspec decode/validation error into a :class:`RemoteProtocolError` with the msgspec path.

    ``what`` names the payload (``"depthUpdate"``, ``"GET /api/v3/depth"``); the caller picks the hint
    (a malformed depth update means resync, a malformed trade can be dropped).
    """
    text = str(exc)
    match = _PATH_RE.search(text)
    # msgspec names no path at the root: a ValidationError there is at "$"; malformed JSON has no path.
    path = match["path"] if match else ("$" if isinstance(exc, msgspec.ValidationError) else "")
    detail = text[: match.start()] if match else text
    return RemoteProtocolError(
        message=f"malformed Binance {what}: {detail}", hint=hint, instrument=instrument, path=path
    )


def decode_checked(
    decoder: msgspec.json.Decoder[T],
    data: msgspec.Raw | bytes,
    *,
    what: str,
    hint: RecoveryHint = RecoveryHint.DROP,
    instrument: str = "",
) -> T:
    """Decode with a prebuilt decoder; malformed bytes raise :class:`RemoteProtocolError` (with the path)."""
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise protocol_error(exc, what=what, hint=hint, instrument=instrument) from exc


def encode(obj: msgspec.Struct | list[msgspec.Struct]) -> bytes:
    """Encode a wire struct (or a list, for array responses) to JSON bytes, as Binance would send them."""
    return ENCODER.encode(obj)
