"""Transports: real sockets under the dialects. httpx for REST, trio-websocket for streams.

Every exception leaving this package is a :mod:`clobactors.errors` class, translated once by
:func:`~clobactors.transport.errors.map_transport_errors`. The sans-IO request description
(:class:`~clobactors.httpspec.HttpRequestSpec`) and log redaction live in :mod:`clobactors.httpspec` so that
dialects can use them without importing httpx.
"""

from __future__ import annotations

from clobactors.httpspec import HttpRequestSpec, HttpResult, redact_headers, redact_query, redact_url
from clobactors.transport.errors import collapse_exception_group, map_transport_errors
from clobactors.transport.http import HttpTimeouts, HttpTransport, create_http_client, is_loopback_host
from clobactors.transport.ws import WsConnection, WsFrame, open_ws

__all__ = [
    "HttpRequestSpec",
    "HttpResult",
    "HttpTimeouts",
    "HttpTransport",
    "WsConnection",
    "WsFrame",
    "collapse_exception_group",
    "create_http_client",
    "is_loopback_host",
    "map_transport_errors",
    "open_ws",
    "redact_headers",
    "redact_query",
    "redact_url",
]
