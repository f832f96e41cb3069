"""Opening a client WebSocket: URL and TLS rules, TCP/TLS connect, handshake, and the connection's lifetime.

Part of :mod:`clobactors.transport.ws` (whose docstring has the overview). :func:`open_ws` checks the URL
(``wss`` anywhere, plain ``ws`` only to loopback hosts, like ``http://`` in the REST transport), connects within
``connect_timeout``, runs the handshake (:mod:`clobactors.transport.ws_handshake`), then owns the
:class:`~clobactors.transport.ws_connection.WsConnection` and its background duties
(:mod:`clobactors.transport.ws_duties`) until the ``async with`` exits. Exactly one typed error leaves it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import trio

from clobactors.errors import ConfigError, ConnectFailed
from clobactors.transport.errors import map_transport_errors, raise_collapsed
from clobactors.transport.http import is_loopback_host
from clobactors.transport.ws_connection import WsConnection
from clobactors.transport.ws_duties import run_duties
from clobactors.transport.ws_handshake import client_handshake

__all__ = ["open_ws"]


def _target(url: str) -> tuple[str, int, str, bool, str]:
    """``(host, port, resource, tls, endpoint)``; the endpoint has no query (it may carry a key)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"WebSocket URL must be ws(s)://host[:port]/path, got scheme {parts.scheme!r}")
    tls = parts.scheme == "wss"
    if not tls and not is_loopback_host(parts.hostname):
        raise ConfigError(f"plain ws:// is only allowed to loopback hosts, not {parts.hostname!r}")
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError as exc:
        raise ConfigError(f"bad port in WebSocket URL: {exc}") from exc
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return parts.hostname, port, resource, tls, endpoint


@asynccontextmanager
async def open_ws(
    url: str,
    *,
    max_message_size: int = 1 << 22,
    message_queue_size: int = 1024,
    ping_interval: float | None = None,
    pong_timeout: float = 10.0,
    idle_timeout: float | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
    extra_headers: Sequence[tuple[str, str]] = (),
    ssl_context: ssl.SSLContext | None = None,
    endpoint: str | None = None,
    wall_ns: Callable[[], int] = time.time_ns,
    connect: Callable[[str, int], Awaitable[trio.abc.Stream]] | None = None,
) -> AsyncIterator[WsConnection]:
    """Connect to ``url`` and yield a :class:`WsConnection`; close it on exit, even when cancelled.

    ``max_message_size`` and ``message_queue_size`` are per exchange (a full depth snapshot can be
    megabytes). ``ping_interval`` enables client pings, each of which must be answered within
    ``pong_timeout``; ``idle_timeout`` fails the connection when no message arrives for that long.
    ``endpoint`` overrides the name used in errors, for URLs whose *path* carries a secret (listen keys).
    ``wall_ns`` stamps ``received_ns`` (inject the actor system's clock so tests control it).
    ``connect(host, port)`` opens the plain TCP stream instead of trio (a seam for benchmarks; not with TLS).
    Raises :class:`ConfigError` for a bad URL and :class:`ConnectFailed` when no connection could be made
    within ``connect_timeout``.
    """
    host, port, resource, tls, default_endpoint = _target(url)
    where = endpoint or default_endpoint
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
    host_header = host if port == (443 if tls else 80) else f"{host}:{port}"
    try:
        async with trio.open_nursery() as nursery:
            with map_transport_errors(where, connecting=True):
                with trio.move_on_after(connect_timeout) as connecting:
                    stream: trio.abc.Stream
                    if connect is not None and not tls:
                        stream = await connect(host, port)
                    elif tls:
                        context = ssl_context or ssl.create_default_context()
                        stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=context)
                    else:
                        stream = await trio.open_tcp_stream(host, port)
                    try:
                        proto, first = await client_handshake(stream, host_header, resource, headers, where)
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
                if connecting.cancelled_caught:
                    raise ConnectFailed(f"no connection within {connect_timeout:g}s", where)
            conn = WsConnection(
                proto,
                stream,
                where,
                max_message_size,
                message_queue_size,
                ping_interval,
                pong_timeout,
                idle_timeout,
                close_timeout,
                wall_ns,
            )
            # First frames that came with the handshake's answer.
            if first:
                await conn._ingest(first, trio.current_time(), wall_ns(), True)
            nursery.start_soon(run_duties, conn)
            try:
                yield conn
            finally:
                await conn.aclose()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise_collapsed(group, where)
