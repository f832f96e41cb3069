"""REST transport: an ``httpx.AsyncClient`` built safely, and :class:`HttpTransport` that sends specs.

Safety rules enforced by :func:`create_http_client` (they raise :class:`ConfigError` before any I/O):

* TLS is verified. ``verify=False`` and plain ``http://`` are accepted only for loopback hosts, which is
  where the simulator listens; a real exchange is always ``https://`` with verification.
* No redirects are followed (an exchange never redirects an order), and the environment (proxies, netrc)
  is ignored unless ``trust_env=True`` is asked for, so tests and production behave the same.
* httpx's own INFO log line carries the full URL, signature included; a filter on the ``httpx`` logger
  masks it with :func:`clobactors.httpspec.redact_url`.

Timeouts: httpx's connect/read/write/pool timeouts run on the Trio clock (httpcore's trio backend uses
``trio.fail_after``), so they are exact under ``MockClock``. A read or write timeout becomes
:class:`TransportTimeout` (outcome unknown); a connect or pool timeout :class:`ConnectFailed` (nothing sent).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Sequence
from typing import Final, final

import attrs
import httpx
import trio

from clobactors.errors import ConfigError, TransportError
from clobactors.httpspec import HttpRequestSpec, HttpResult, redact_headers, redact_url
from clobactors.transport.errors import map_transport_errors

__all__ = [
    "HttpTimeouts",
    "HttpTransport",
    "HttpTransportStatistics",
    "create_http_client",
    "is_loopback_host",
]

logger: Final = logging.getLogger(__name__)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@final
@attrs.frozen
class HttpTimeouts:
    """Per-phase limits in seconds. ``read`` bounds the wait for the answer to one request."""

    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class _RedactHttpxLog(logging.Filter):
    """Masks signatures in httpx's ``HTTP Request: GET <url> ...`` INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2:
            args = list(record.args)
            args[1] = redact_url(str(args[1]))
            record.args = tuple(args)
        return True


_HTTPX_FILTER: Final = _RedactHttpxLog()


def _install_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if _HTTPX_FILTER not in httpx_logger.filters:
        httpx_logger.addFilter(_HTTPX_FILTER)


def create_http_client(
    base_url: str,
    *,
    verify: bool | ssl.SSLContext = True,
    timeouts: HttpTimeouts = HttpTimeouts(),
    headers: Sequence[tuple[str, str]] = (),
    max_connections: int = 16,
    trust_env: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for one exchange base URL, with the safety rules of this module.

    ``transport`` is the test seam (``httpx.MockTransport``); the URL rules apply regardless.
    """
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid base URL {base_url!r}: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"base URL must be http(s)://host[:port][/path], got {base_url!r}")
    if url.query or url.fragment:
        raise ConfigError(f"base URL must not carry a query or fragment: {redact_url(base_url)!r}")
    loopback = is_loopback_host(url.host)
    if url.scheme == "http" and not loopback:
        raise ConfigError(f"plain http is only allowed to loopback hosts, not {url.host!r}")
    if verify is False and not loopback:
        raise ConfigError(f"TLS verification cannot be turned off for non-loopback host {url.host!r}")
    _install_log_redaction()
    return httpx.AsyncClient(
        base_url=url,
        verify=verify,
        timeout=timeouts.to_httpx(),
        headers=list(headers),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        follow_redirects=False,
        trust_env=trust_env,
        transport=transport,
    )


@final
@attrs.frozen
class HttpTransportStatistics:
    """Counters since creation; ``failed`` counts requests that raised a transport error."""

    requests: int
    failed: int
    bytes_sent: int
    bytes_received: int


@final
@attrs.define
class HttpTransport(trio.abc.AsyncResource):
    """Sends :class:`HttpRequestSpec` over one ``httpx.AsyncClient`` and returns :class:`HttpResult`.

    HTTP error statuses are results, not exceptions: mapping 4xx/5xx bodies to exchange errors is the
    dialect's job. Only transport failures raise, always as :mod:`clobactors.errors` classes.
    """

    _client: httpx.AsyncClient
    _requests: int = 0
    _failed: int = 0
    _bytes_sent: int = 0
    _bytes_received: int = 0

    @classmethod
    def from_url(
        cls,
        base_url: str,
        *,
        verify: bool | ssl.SSLContext = True,
        timeouts: HttpTimeouts = HttpTimeouts(),
        headers: Sequence[tuple[str, str]] = (),
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> HttpTransport:
        """Build the client with :func:`create_http_client` and wrap it."""
        client = create_http_client(
            base_url,
            verify=verify,
            timeouts=timeouts,
            headers=headers,
            max_connections=max_connections,
            transport=transport,
        )
        return cls(client)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def _url(self, spec: HttpRequestSpec) -> httpx.URL:
        # Same merge as httpx's client, but with our pre-encoded query kept byte for byte (it was signed).
        base = self._client.base_url
        query = spec.query_string()
        raw = base.raw_path + spec.path.lstrip("/").encode("ascii")
        if query:
            raw += b"?" + query.encode("ascii")
        return base.copy_with(raw_path=raw)

    async def request(self, spec: HttpRequestSpec) -> HttpResult:
        """Send ``spec`` and read the whole answer; raise a transport error, never an httpx one."""
        url = self._url(spec)
        endpoint = f"{spec.method} {str(url).partition('?')[0]}"
        self._requests += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s headers=%s", redact_url(f"{endpoint}?{spec.query_string()}"), redact_headers(spec.headers)
            )
        request = self._client.build_request(
            spec.method, url, headers=list(spec.headers), content=spec.body or None
        )
        start = trio.current_time()
        try:
            with map_transport_errors(endpoint):
                response = await self._client.send(request)
        except TransportError:
            self._failed += 1
            raise
        self._bytes_sent += len(spec.body)
        self._bytes_received += len(response.content)
        return HttpResult(
            status=response.status_code,
            headers=tuple(
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw
            ),
            body=response.content,
            elapsed=trio.current_time() - start,
        )

    def statistics(self) -> HttpTransportStatistics:
        return HttpTransportStatistics(
            requests=self._requests,
            failed=self._failed,
            bytes_sent=self._bytes_sent,
            bytes_received=self._bytes_received,
        )

    async def aclose(self) -> None:
        """Close pooled connections; safe to call twice and when cancelled."""
        with trio.CancelScope(shield=True), trio.move_on_after(5.0):
            await self._client.aclose()
