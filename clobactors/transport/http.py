"""REST transport: :class:`HttpTransport` sends specs over the h11 client or httpx, built safely.

Safety rules enforced by :func:`checked_base_url` for both engines (they raise :class:`ConfigError`
before any I/O):

* TLS is verified. ``verify=False`` and plain ``http://`` are accepted only for loopback hosts, which is
  where the simulator listens; a real exchange is always ``https://`` with verification.
* No redirects are followed (an exchange never redirects an order), and the environment (proxies, netrc)
  is ignored unless ``trust_env=True`` is asked for, so tests and production behave the same.
* Signatures never reach logs or errors: endpoints in errors carry no query, the debug line is redacted, and
  a filter on the ``httpx`` logger masks httpx's own INFO line with :func:`clobactors.httpspec.redact_url`.

Engines: the default is :class:`~clobactors.transport.h1.Http11Pool`, chosen by measurement (its docstring
says why); httpx (``engine="httpx"``, or an httpx ``transport`` such as ``httpx.MockTransport``) keeps the
same contract and stays the seam for client tests without a server.

Timeouts run on the Trio clock with either engine (cancel scopes; httpcore's trio backend uses
``trio.fail_after``), so they are exact under ``MockClock``. A read or write timeout becomes
:class:`TransportTimeout` (outcome unknown); a connect or pool timeout :class:`ConnectFailed` (nothing sent).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Sequence
from typing import Final, Literal, TypeAlias, final

import attrs
import httpx
import trio

from clobactors.errors import ConfigError, TransportError
from clobactors.httpspec import HttpRequestSpec, HttpResult, redact_headers, redact_url
from clobactors.transport.errors import map_transport_errors
from clobactors.transport.h1 import Connect, Http11Call, Http11Pool

__all__ = [
    "Engine",
    "HttpTimeouts",
    "HttpTransport",
    "HttpTransportStatistics",
    "PendingAnswer",
    "checked_base_url",
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


def checked_base_url(base_url: str, *, verify: bool | ssl.SSLContext = True) -> httpx.URL:
    """``base_url`` parsed, or ConfigError when it breaks a safety rule of this module."""
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
    if not url.raw_path.endswith(b"/"):
        url = url.copy_with(raw_path=url.raw_path + b"/")
    return url


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
    url = checked_base_url(base_url, verify=verify)
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
    """Counters since creation; ``failed`` counts requests that raised a transport error.

    ``connections`` counts connections opened, ``reused`` requests sent on a kept-alive one and ``retried``
    requests resent on a fresh connection because a kept-alive one was dead (the h11 client only).
    """

    requests: int
    failed: int
    bytes_sent: int
    bytes_received: int
    connections: int = 0
    reused: int = 0
    retried: int = 0


#: Which client sends: ``"h11"`` (:mod:`clobactors.transport.h1`, the default) or ``"httpx"``.
Engine: TypeAlias = Literal["h11", "httpx"]
_DEFAULT_HEADERS: Final = (("User-Agent", "clobactors"), ("Accept", "*/*"))


@final
@attrs.define
class HttpTransport(trio.abc.AsyncResource):
    """Sends :class:`HttpRequestSpec` to one base URL and returns :class:`HttpResult`.

    HTTP error statuses are results, not exceptions: mapping 4xx/5xx bodies to exchange errors is the
    dialect's job. Only transport failures raise, always as :mod:`clobactors.errors` classes.

    Two engines behind one contract: the h11 keep-alive client of :mod:`clobactors.transport.h1` (the
    default: the order path's latency, see there) and an ``httpx.AsyncClient`` (``engine="httpx"``, or
    whenever an httpx ``transport`` such as ``httpx.MockTransport`` is given: the test seam).
    """

    #: ``scheme://host[:port]/path/`` (always ending in ``/``), as endpoints in errors show it.
    _base: str
    _base_path: str
    _h1: Http11Pool | None = None
    _client: httpx.AsyncClient | None = None
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
        engine: Engine = "h11",
        connect: Connect | None = None,
    ) -> HttpTransport:
        """Validate ``base_url`` with the rules of :func:`create_http_client` and build the engine.

        ``connect`` (h11 engine) opens the TCP stream instead of ``trio.open_tcp_stream`` (a seam for tests
        and the benchmark); TLS is still layered on top of it for https.
        """
        url = checked_base_url(base_url, verify=verify)
        path = url.raw_path.decode("ascii")
        base = f"{url.scheme}://{url.netloc.decode('ascii')}{path}"
        if transport is not None or engine == "httpx":
            client = create_http_client(
                base_url,
                verify=verify,
                timeouts=timeouts,
                headers=headers,
                max_connections=max_connections,
                transport=transport,
            )
            return cls(base, path, client=client)
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        authority = url.netloc.decode("ascii")
        tls: ssl.SSLContext | None = None
        if url.scheme == "https":
            if isinstance(verify, ssl.SSLContext):
                tls = verify
            else:
                tls = ssl.create_default_context()
                if verify is False:  # loopback only, enforced above
                    tls.check_hostname = False
                    tls.verify_mode = ssl.CERT_NONE
        pool = Http11Pool(
            host=host,
            port=port,
            authority=authority,
            origin=f"{url.scheme}://{authority}",
            tls=tls,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            pool_timeout=timeouts.pool,
            max_connections=max_connections,
            default_headers=(*_DEFAULT_HEADERS, *headers),
            connect=connect,
        )
        return cls(base, path, h1=pool)

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def engine(self) -> Engine:
        return "h11" if self._h1 is not None else "httpx"

    async def request(self, spec: HttpRequestSpec) -> HttpResult:
        """Send ``spec`` and read the whole answer; raise a transport error, never an httpx or h11 one."""
        relative = spec.path.lstrip("/")
        path = self._base_path + relative
        query = spec.query_string()
        endpoint = f"{spec.method} {self._base}{relative}"
        self._requests += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s headers=%s", redact_url(f"{endpoint}?{query}"), redact_headers(spec.headers))
        try:
            if self._h1 is not None:
                result = await self._h1.request(spec, f"{path}?{query}" if query else path, endpoint)
            else:
                result = await self._send_httpx(spec, path, query, endpoint)
        except TransportError:
            self._failed += 1
            raise
        self._count(spec, result)
        return result

    def ready_nowait(self) -> bool:
        """True when :meth:`send_nowait` can write at once on a kept-alive connection (h11 engine only)."""
        return self._h1 is not None and self._h1.ready_nowait()

    async def send_nowait(self, spec: HttpRequestSpec) -> PendingAnswer:
        """The first half of :meth:`request`: write ``spec`` now on a kept-alive connection, answer later.

        For the order path, which must put a request on the wire from the actor's own task (no task switch)
        and wait for the answer in another. Call only right after :meth:`ready_nowait` said True (else
        ``trio.WouldBlock``). Errors raised here mean nothing was sent; later ones come from
        :meth:`PendingAnswer.receive`, which must be awaited exactly once (it frees the connection slot).
        """
        h1 = self._h1
        if h1 is None:
            raise trio.WouldBlock
        relative = spec.path.lstrip("/")
        path = self._base_path + relative
        query = spec.query_string()
        endpoint = f"{spec.method} {self._base}{relative}"
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s headers=%s", redact_url(f"{endpoint}?{query}"), redact_headers(spec.headers))
        call = await h1.send_nowait(spec, f"{path}?{query}" if query else path, endpoint)
        self._requests += 1
        return PendingAnswer(self, spec, call)

    def _count(self, spec: HttpRequestSpec, result: HttpResult) -> None:
        self._bytes_sent += len(spec.body)
        self._bytes_received += len(result.body)

    async def _send_httpx(self, spec: HttpRequestSpec, path: str, query: str, endpoint: str) -> HttpResult:
        client = self._client
        assert client is not None
        # Our pre-encoded query is kept byte for byte (it was signed): httpx gets the raw path.
        raw = (path + "?" + query if query else path).encode("ascii")
        url = client.base_url.copy_with(raw_path=raw)
        request = client.build_request(spec.method, url, headers=list(spec.headers), content=spec.body or None)
        start = trio.current_time()
        with map_transport_errors(endpoint):
            response = await client.send(request)
        return HttpResult(
            status=response.status_code,
            headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw),
            body=response.content,
            elapsed=trio.current_time() - start,
        )

    def statistics(self) -> HttpTransportStatistics:
        h1 = self._h1
        return HttpTransportStatistics(
            requests=self._requests,
            failed=self._failed,
            bytes_sent=self._bytes_sent,
            bytes_received=self._bytes_received,
            connections=0 if h1 is None else h1.opened,
            reused=0 if h1 is None else h1.reused,
            retried=0 if h1 is None else h1.retried,
        )

    async def aclose(self) -> None:
        """Close pooled connections; safe to call twice and when cancelled."""
        with trio.CancelScope(shield=True), trio.move_on_after(5.0):
            if self._h1 is not None:
                await self._h1.aclose()
            if self._client is not None:
                await self._client.aclose()


@final
@attrs.define(eq=False)
class PendingAnswer:
    """A request written by :meth:`HttpTransport.send_nowait` (or about to be, on a fresh connection)."""

    _transport: HttpTransport
    _spec: HttpRequestSpec = attrs.field(repr=False)
    _call: Http11Call = attrs.field(repr=False)

    async def receive(self) -> HttpResult:
        """The whole answer, or a transport error (outcome unknown unless ConnectFailed); await it once."""
        try:
            result = await self._call.answer()
        except TransportError:
            self._transport._failed += 1
            raise
        self._transport._count(self._spec, result)
        return result
