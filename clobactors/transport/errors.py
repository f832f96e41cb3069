"""The one place where trio, httpx and trio-websocket exceptions become :mod:`clobactors.errors`.

Every transport call runs inside :func:`map_transport_errors`, which picks the most specific class and raises
it ``from`` the original (after httpx's ``map_httpcore_exceptions``). The rule for which class:

* nothing was sent yet (DNS, refused, TLS, handshake, connect or pool timeout) -> :class:`ConnectFailed`,
  so a retry is always safe;
* an open connection broke or the peer closed it (including "server disconnected without a response")
  -> :class:`ConnectionLost`; for an order the outcome is unknown;
* a read or write deadline of the transport expired -> :class:`TransportTimeout`; outcome unknown too.

``trio.TooSlowError`` is *not* mapped: a caller's ``fail_after`` is the caller's business. Errors that are
already a :class:`ClobactorsError` pass through untouched.

Nurseries wrap failures in exception groups (strict groups are the default since trio 0.25). Public context
managers must raise one typed error, so :func:`collapse_exception_group` is the single unwrapping rule.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import httpx
import trio
import trio_websocket

from clobactors.errors import (
    ClobactorsError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    LocalProtocolError,
    RecoveryHint,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
)

__all__ = ["collapse_exception_group", "map_transport_errors", "raise_collapsed", "translate_exception"]


def _close_text(reason: trio_websocket.CloseReason | None) -> str:
    if reason is None:
        return "connection closed"
    text = f"closed with code {reason.code} ({reason.name})"
    return f"{text}: {reason.reason}" if reason.reason else text


def _translate_httpx(exc: httpx.HTTPError, endpoint: str) -> ClobactorsError | None:
    # Order matters: httpx's tree nests ConnectError under NetworkError and ConnectTimeout under
    # TimeoutException, and the nothing-was-sent cases must win.
    match exc:
        case httpx.ConnectTimeout():
            return ConnectFailed(f"connect timed out: {exc}", endpoint)
        case httpx.PoolTimeout():
            return ConnectFailed(f"no pooled connection available in time: {exc}", endpoint)
        case httpx.ConnectError() | httpx.ProxyError():
            return ConnectFailed(f"connect failed: {exc}", endpoint)
        case httpx.TimeoutException():
            return TransportTimeout(f"{type(exc).__name__}: no answer in time", endpoint)
        case httpx.RemoteProtocolError() | httpx.NetworkError():
            return ConnectionLost(f"{type(exc).__name__}: {exc}", endpoint)
        case httpx.LocalProtocolError():
            return LocalProtocolError(f"illegal request to {endpoint}: {exc}")
        case httpx.UnsupportedProtocol():
            return ConfigError(f"unsupported URL scheme for {endpoint}: {exc}")
        case httpx.DecodingError():
            return RemoteProtocolError(f"undecodable response from {endpoint}: {exc}", RecoveryHint.DROP)
        case httpx.TransportError():
            return ConnectionLost(f"{type(exc).__name__}: {exc}", endpoint)
        case _:
            return None


def translate_exception(
    exc: BaseException, endpoint: str, *, connecting: bool = False
) -> BaseException | None:
    """The clobactors error for ``exc``, or None when it is not a transport failure (re-raise it as is).

    ``connecting`` says the connection was not established yet, so broken sockets and closed WebSockets
    mean :class:`ConnectFailed` rather than :class:`ConnectionLost`.
    """
    lost: type[TransportError] = ConnectFailed if connecting else ConnectionLost
    match exc:
        case ClobactorsError() | trio.Cancelled() | trio.TooSlowError():
            return None
        case httpx.HTTPError():
            return _translate_httpx(exc, endpoint)
        case httpx.InvalidURL():
            return ConfigError(f"invalid URL for {endpoint}: {exc}")
        case trio_websocket.ConnectionRejected():
            return ConnectFailed(f"WebSocket handshake rejected with HTTP {exc.status_code}", endpoint)
        case trio_websocket.ConnectionTimeout():
            return ConnectFailed("WebSocket handshake timed out", endpoint)
        case trio_websocket.DisconnectionTimeout():
            return ConnectionLost("WebSocket close handshake timed out", endpoint)
        case trio_websocket.HandshakeError():
            return ConnectFailed(f"WebSocket handshake failed: {exc.__cause__ or exc!r}", endpoint)
        case trio_websocket.ConnectionClosed():
            return lost(_close_text(exc.reason), endpoint)
        case trio.BrokenResourceError() | trio.ClosedResourceError():
            return lost(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, endpoint)
        case ssl.SSLError() | ssl.CertificateError():
            return ConnectFailed(f"TLS failed: {exc}", endpoint)
        case OSError():
            return lost(f"{type(exc).__name__}: {exc}", endpoint)
        case _:
            return None


def collapse_exception_group(exc: BaseException) -> BaseException:
    """One exception out of a (nested) group: the rule every public context manager follows.

    ``Cancelled`` leaves are dropped when anything else failed (the cancel scope will fire again at the next
    checkpoint). Among several real failures, non-``Exception`` ones (KeyboardInterrupt) come first, then
    errors that are not transport failures (a caller's bug outranks the socket that broke because of it),
    then the rest; the others are attached to the chosen one as notes, never as a group.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = _leaves(exc)
    real = [leaf for leaf in leaves if not isinstance(leaf, trio.Cancelled)]
    if not real:
        return leaves[0]

    def rank(leaf: BaseException) -> int:
        if not isinstance(leaf, Exception):
            return 0
        return 2 if isinstance(leaf, TransportError) or translate_exception(leaf, "") is not None else 1

    chosen = min(real, key=rank)
    for other in real:
        if other is not chosen:
            chosen.add_note(f"also raised in the same task group: {other!r}")
    return chosen


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for sub in group.exceptions:
        if isinstance(sub, BaseExceptionGroup):
            out.extend(_leaves(sub))
        else:
            out.append(sub)
    return out


def raise_collapsed(
    group: BaseExceptionGroup[BaseException], endpoint: str, *, connecting: bool = False
) -> NoReturn:
    """Raise the collapsed, translated form of ``group`` from inside its ``except`` block.

    A leaf that needs no translation is re-raised itself with its original ``__context__`` (so a caller's
    own exception comes out exactly as raised, not chained to the group that carried it).
    """
    chosen = collapse_exception_group(group)
    mapped = translate_exception(chosen, endpoint, connecting=connecting)
    if mapped is not None:
        raise mapped from chosen
    context = chosen.__context__
    try:
        raise chosen
    finally:
        chosen.__context__ = context
        del chosen, context


@contextmanager
def map_transport_errors(endpoint: str, *, connecting: bool = False) -> Iterator[None]:
    """Translate transport exceptions raised inside the block; everything else passes through.

    ``endpoint`` names where it happened for the error message; it must not contain a query string.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        raise_collapsed(group, endpoint, connecting=connecting)
    except BaseException as exc:
        mapped = translate_exception(exc, endpoint, connecting=connecting)
        if mapped is None:
            raise
        raise mapped from exc
