"""REST transport: URL safety rules, redaction, error mapping, and real requests to the loopback server.

Real-socket tests run the h11 server in the same trio run on 127.0.0.1 port 0 under the autojump clock.
httpx's timeouts are implemented by httpcore's trio backend with ``trio.fail_after``, so they run on the
virtual clock: the read timeout below fires at exactly the configured second.
"""

from __future__ import annotations

import functools
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import h11
import httpx
import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import given
from hypothesis import strategies as st

from clobactors.errors import (
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
)
from clobactors.httpspec import (
    REDACTED,
    HttpRequestSpec,
    encode_query,
    is_secret_name,
    redact_headers,
    redact_query,
    redact_url,
)
from clobactors.sim.http_server import (
    DropConnection,
    HalfOpen,
    HandlerResult,
    HttpHandler,
    HttpRequest,
    HttpResponse,
    HttpServer,
)
from clobactors.transport.errors import collapse_exception_group, map_transport_errors
from clobactors.transport.http import Engine, HttpTimeouts, HttpTransport, create_http_client, is_loopback_host


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def deadline(seconds: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Fail the test if it takes more than ``seconds`` on the trio clock."""

    def decorate(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def wrapper(*args: object, **kwargs: object) -> None:
            with trio.fail_after(seconds):
                await fn(*args, **kwargs)

        return wrapper

    return decorate


@asynccontextmanager
async def serving(handler: HttpHandler) -> AsyncIterator[int]:
    server = HttpServer(handler)
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(server.serve)
        yield port
        nursery.cancel_scope.cancel()


# -- redaction -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "X-MBX-APIKEY",
        "OK-ACCESS-KEY",
        "OK-ACCESS-SIGN",
        "OK-ACCESS-PASSPHRASE",
        "X-BAPI-API-KEY",
        "X-BAPI-SIGN",
        "Authorization",
        "signature",
        "listenKey",
        "api_secret",
        "x-auth-token",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["symbol", "timestamp", "recvWindow", "OK-ACCESS-TIMESTAMP", "content-type"])
def test_plain_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_headers_masks_values_keeps_order() -> None:
    headers = [("X-MBX-APIKEY", "abc"), ("Content-Type", "application/json"), ("ok-access-sign", "zz")]
    assert redact_headers(headers) == [
        ("X-MBX-APIKEY", REDACTED),
        ("Content-Type", "application/json"),
        ("ok-access-sign", REDACTED),
    ]


def test_redact_query_and_url() -> None:
    query = "symbol=BTCUSDT&timestamp=1&signature=deadbeef&listenKey=k1&flag"
    assert redact_query(query) == f"symbol=BTCUSDT&timestamp=1&signature={REDACTED}&listenKey={REDACTED}&flag"
    assert redact_url(f"https://api.example.com/api/v3/order?{query}#frag") == (
        f"https://api.example.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature={REDACTED}"
        f"&listenKey={REDACTED}&flag"
    )
    assert redact_url("https://api.example.com/api/v3/time") == "https://api.example.com/api/v3/time"


def test_spec_redacted_hides_the_signature() -> None:
    spec = HttpRequestSpec(method="GET", path="/o", params=(("a", "1"), ("signature", "s3cr3t")))
    assert "s3cr3t" not in spec.redacted()
    assert spec.redacted() == f"GET /o?a=1&signature={REDACTED}"


# -- the spec ------------------------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6))
def test_encode_query_round_trips_through_the_server_parser(pairs: list[tuple[str, str]]) -> None:
    encoded = encode_query(pairs)
    assert all(c.isascii() and c not in " +#" for c in encoded)
    assert parse_qsl(encoded, keep_blank_values=True, errors="strict") == pairs


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "api/v3/time"),
        ("GET", "/a?b=1"),
        ("FETCH", "/a"),
        ("GET", "/a#x"),
        ("GET", "/é"),
        ("GET", "/a b"),
    ],
)
def test_malformed_spec_is_a_local_protocol_error(method: str, path: str) -> None:
    with pytest.raises(LocalProtocolError):
        HttpRequestSpec(method=method, path=path)


def test_spec_module_is_sans_io() -> None:
    """Dialects import the spec; it must not pull in trio or httpx (style lesson 1)."""
    code = (
        "import sys, clobactors.httpspec; sys.exit(any(m in sys.modules for m in ('trio', 'httpx', 'anyio')))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- client factory rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "api.binance.com", "localhost.evil.com", "0.0.0.0"])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    ("url", "verify"),
    [
        ("http://api.binance.com", True),  # plaintext to the internet
        ("https://api.binance.com", False),  # unverified TLS to the internet
        ("ftp://127.0.0.1", True),
        ("https://api.binance.com/?x=1", True),
        ("not a url", True),
    ],
)
def test_unsafe_client_configs_are_refused(url: str, verify: bool) -> None:
    with pytest.raises(ConfigError):
        create_http_client(url, verify=verify)


async def test_safe_client_configs_are_built() -> None:
    for url, verify in [
        ("https://api.binance.com", True),
        ("http://127.0.0.1:1", False),
        ("https://[::1]", False),
    ]:
        async with create_http_client(url, verify=verify) as client:
            assert client.follow_redirects is False


# -- HttpTransport over a mock transport (lesson 12: fakes at the seams) -------------------------------------


def mock_transport(respond: Callable[[httpx.Request], httpx.Response]) -> HttpTransport:
    return HttpTransport.from_url("https://api.example.com/base", transport=httpx.MockTransport(respond))


async def test_request_sends_the_signed_query_byte_for_byte() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            429, headers=[("Retry-After", "7"), ("X-MBX-USED-WEIGHT-1M", "1200")], content=b"{}"
        )

    spec = HttpRequestSpec(
        method="POST",
        path="/api/v3/order",
        params=(("symbol", "BTCUSDT"), ("note", "a b+c/~é"), ("symbol", "dup"), ("signature", "ab12")),
        headers=(("X-MBX-APIKEY", "key"),),
        body=b"x=1",
    )
    async with mock_transport(respond) as http:
        result = await http.request(spec)
    (request,) = seen
    assert request.url.raw_path == b"/base/api/v3/order?" + spec.query_string().encode()
    assert request.url.query == spec.query_string().encode()
    assert request.headers["x-mbx-apikey"] == "key"
    assert request.content == b"x=1"
    assert result.status == 429
    assert result.header("retry-after") == "7"
    assert result.header("X-MBX-Used-Weight-1m") == "1200"
    assert result.header("missing") is None
    assert http.statistics().requests == 1


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectError("refused"), ConnectFailed),
        (httpx.ConnectTimeout("slow"), ConnectFailed),
        (httpx.ReadTimeout("slow"), TransportTimeout),
        (httpx.WriteTimeout("slow"), TransportTimeout),
        (httpx.ReadError("reset"), ConnectionLost),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ConnectionLost),
    ],
)
async def test_mock_transport_failures_are_mapped(raised: httpx.HTTPError, expected: type[Exception]) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise raised

    async with mock_transport(respond) as http:
        with pytest.raises(expected) as info:
            await http.request(
                HttpRequestSpec(method="GET", path="/api/v3/time", params=(("signature", "s"),))
            )
    assert info.value.__cause__ is raised
    assert "signature" not in str(info.value)
    assert str(info.value).endswith("(GET https://api.example.com/base/api/v3/time)")
    assert http.statistics().failed == 1


async def test_httpx_info_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    async with mock_transport(lambda request: httpx.Response(200)) as http:
        with caplog.at_level(logging.INFO, logger="httpx"):
            await http.request(HttpRequestSpec(method="GET", path="/p", params=(("signature", "topsecret"),)))
    messages = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert messages, "httpx logs every request at INFO"
    assert all("topsecret" not in m for m in messages)
    assert any(REDACTED in m for m in messages)


# -- real sockets: HttpTransport against the loopback h11 server ---------------------------------------------


@deadline(30)
async def test_round_trip_over_loopback(autojump_clock: trio.testing.MockClock) -> None:
    requests: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HandlerResult:
        requests.append(request)
        await trio.sleep(1.5)  # latency, on the virtual clock
        return HttpResponse.json({"ok": True, "n": len(requests)}, headers=[("x-mbx-used-weight-1m", "3")])

    async with serving(handler) as port:
        transport = HttpTransport.from_url(f"http://127.0.0.1:{port}/", timeouts=HttpTimeouts(read=5))
        async with transport as http:
            spec = HttpRequestSpec(
                method="GET",
                path="/api/v3/depth",
                params=(("symbol", "BTCUSDT"), ("x", "a b&c"), ("x", "")),
                headers=(("X-MBX-APIKEY", "k"),),
            )
            first = await http.request(spec)
            second = await http.request(HttpRequestSpec(method="POST", path="/api/v3/order", body=b"q=1"))
    assert (first.status, first.body, first.elapsed) == (200, b'{"ok":true,"n":1}', 1.5)
    assert first.header("x-mbx-used-weight-1m") == "3"
    assert second.body == b'{"ok":true,"n":2}'
    got = requests[0]
    assert (got.method, got.path, got.query) == ("GET", "/api/v3/depth", spec.query_string())
    assert got.params == (("symbol", "BTCUSDT"), ("x", "a b&c"), ("x", ""))
    assert got.header("x-mbx-apikey") == "k"
    assert (requests[1].method, requests[1].body) == ("POST", b"q=1")
    assert requests[0].client == requests[1].client  # keep-alive: one connection


@deadline(30)
async def test_dropped_connection_is_connection_lost(autojump_clock: trio.testing.MockClock) -> None:
    async def handler(request: HttpRequest) -> HandlerResult:
        return DropConnection()

    async with serving(handler) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(ConnectionLost) as info:
            await http.request(HttpRequestSpec(method="POST", path="/api/v3/order"))
    assert isinstance(info.value.__cause__, h11.RemoteProtocolError)
    assert str(info.value).endswith(f"(POST http://127.0.0.1:{port}/api/v3/order)")


@deadline(30)
async def test_half_open_is_a_transport_timeout_at_the_read_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def handler(request: HttpRequest) -> HandlerResult:
        return HalfOpen()

    async with serving(handler) as port:
        async with HttpTransport.from_url(
            f"http://127.0.0.1:{port}", timeouts=HttpTimeouts(read=4.0)
        ) as http:
            start = trio.current_time()
            with pytest.raises(TransportTimeout):
                await http.request(HttpRequestSpec(method="POST", path="/api/v3/order"))
            assert trio.current_time() - start == 4.0


@deadline(30)
async def test_callers_deadline_stays_too_slow_error(autojump_clock: trio.testing.MockClock) -> None:
    async def handler(request: HttpRequest) -> HandlerResult:
        return HalfOpen()

    async with serving(handler) as port, HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(2.5):
                await http.request(HttpRequestSpec(method="GET", path="/x"))


@deadline(30)
async def test_refused_connection_is_connect_failed(autojump_clock: trio.testing.MockClock) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()  # nobody listens there now
    async with HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(ConnectFailed):
            await http.request(HttpRequestSpec(method="GET", path="/api/v3/time"))


# -- map_transport_errors: the one translation point ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "connecting", "expected"),
    [
        (trio_websocket.ConnectionClosed(trio_websocket.CloseReason(1000, "bye")), False, ConnectionLost),
        (trio_websocket.ConnectionClosed(trio_websocket.CloseReason(1006, None)), True, ConnectFailed),
        (trio_websocket.ConnectionRejected(404, (), None), False, ConnectFailed),
        (trio_websocket.ConnectionTimeout(), False, ConnectFailed),
        (trio_websocket.DisconnectionTimeout(), False, ConnectionLost),
        (trio.BrokenResourceError("reset"), False, ConnectionLost),
        (trio.ClosedResourceError(), True, ConnectFailed),
        (ConnectionResetError(104, "reset"), False, ConnectionLost),
        (ConnectionRefusedError(111, "refused"), True, ConnectFailed),
        (ssl.SSLCertVerificationError("bad cert"), False, ConnectFailed),
        (httpx.PoolTimeout("busy"), False, ConnectFailed),
        (httpx.UnsupportedProtocol("gopher"), False, ConfigError),
        (httpx.LocalProtocolError("bad header"), False, LocalProtocolError),
        (httpx.DecodingError("gzip"), False, RemoteProtocolError),
    ],
)
def test_mapping_table(raised: BaseException, connecting: bool, expected: type[Exception]) -> None:
    with pytest.raises(expected) as info, map_transport_errors("wss://x/ws", connecting=connecting):
        raise raised
    assert info.value.__cause__ is raised
    if isinstance(info.value, TransportError):
        assert info.value.endpoint == "wss://x/ws"


@pytest.mark.parametrize("raised", [ValueError("mine"), trio.TooSlowError(), ConnectionLost("already ours")])
def test_mapping_passes_other_errors_through_untouched(raised: Exception) -> None:
    with pytest.raises(type(raised)) as info, map_transport_errors("e"):
        raise raised
    assert info.value is raised


def test_close_reason_is_in_the_message() -> None:
    with pytest.raises(ConnectionLost, match=r"code 1001 \(GOING_AWAY\): restart"), map_transport_errors("e"):
        raise trio_websocket.ConnectionClosed(trio_websocket.CloseReason(1001, "restart"))


def test_group_of_one_transport_error_becomes_one_typed_error() -> None:
    inner = trio.BrokenResourceError()
    with pytest.raises(ConnectionLost) as info, map_transport_errors("e"):
        raise ExceptionGroup("nursery", [ExceptionGroup("inner", [inner])])
    assert info.value.__cause__ is inner


def test_group_prefers_the_callers_bug_and_notes_the_rest() -> None:
    mine = KeyError("mine")
    mine.__context__ = ZeroDivisionError("its own context")
    with pytest.raises(KeyError) as info, map_transport_errors("e"):
        raise ExceptionGroup("nursery", [trio.BrokenResourceError(), mine])
    assert info.value is mine
    assert isinstance(mine.__context__, ZeroDivisionError)  # not chained to the group
    assert any("BrokenResourceError" in note for note in mine.__notes__)


def test_collapse_ranks_keyboard_interrupt_first() -> None:
    interrupt = KeyboardInterrupt()
    group = BaseExceptionGroup("g", [ValueError(), interrupt, trio.BrokenResourceError()])
    assert collapse_exception_group(group) is interrupt
    plain = ValueError()
    assert collapse_exception_group(plain) is plain


# -- the h11 engine: keep-alive, dead connections, header validation, TLS defaults ---------------------------


@deadline(30)
async def test_idle_connection_closed_by_the_server_is_not_used(autojump_clock: trio.testing.MockClock) -> None:
    async def handler(request: HttpRequest) -> HandlerResult:
        return HttpResponse(200, body=request.path.encode())

    server = HttpServer(handler, idle_timeout=2.0)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        async with HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
            assert (await http.request(HttpRequestSpec(method="GET", path="/a"))).body == b"/a"
            assert (await http.request(HttpRequestSpec(method="GET", path="/b"))).body == b"/b"
            await trio.sleep(3.0)  # the server closes the idle connection
            await trio.testing.wait_all_tasks_blocked()
            assert (await http.request(HttpRequestSpec(method="POST", path="/c"))).body == b"/c"
            stats = http.statistics()
        nursery.cancel_scope.cancel()
    assert (stats.requests, stats.connections, stats.reused, stats.failed) == (3, 2, 1, 0)
    assert server.statistics().requests == 3


class BrokenWrites(trio.abc.Stream):
    """A stream whose peer reset it while idle: every write fails."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        raise trio.BrokenResourceError("connection reset by peer")

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


@deadline(30)
async def test_a_reused_connection_whose_write_fails_is_retried_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failed write means the request never left complete: resending on a fresh connection is safe."""
    async def handler(request: HttpRequest) -> HandlerResult:
        return HttpResponse(204)

    async with serving(handler) as port:
        async with HttpTransport.from_url(f"http://127.0.0.1:{port}") as http:
            await http.request(HttpRequestSpec(method="GET", path="/a"))
            pool = http._h1
            assert pool is not None
            (conn,) = pool._idle
            conn.stream = BrokenWrites(conn.stream)  # the write fails before anything leaves
            result = await http.request(HttpRequestSpec(method="POST", path="/order", body=b"x=1"))
            stats = http.statistics()
    assert result.status == 204
    assert (stats.connections, stats.retried, stats.failed) == (2, 1, 0)


@pytest.mark.parametrize(
    "header",
    [("X-Bad", "a\r\nInjected: 1"), ("Bad Name", "v"), ("Content-Length", "5"), ("Host", "evil"), ("X", "é")],
)
async def test_illegal_headers_are_a_local_protocol_error(header: tuple[str, str]) -> None:
    async with HttpTransport.from_url("http://127.0.0.1:9") as http:
        with pytest.raises(LocalProtocolError):
            await http.request(HttpRequestSpec(method="GET", path="/x", headers=(header,)))


async def test_h11_engine_defaults_verify_tls_and_hide_headers() -> None:
    async with HttpTransport.from_url("https://api.example.com/v1", headers=[("X-MBX-APIKEY", "s3cr3t")]) as http:
        pool = http._h1
        assert pool is not None and pool.tls is not None
        assert pool.tls.check_hostname and pool.tls.verify_mode is ssl.CERT_REQUIRED
        assert "s3cr3t" not in repr(http)
        assert http.base_url == "https://api.example.com/v1/"
        assert http.engine == "h11"
    async with HttpTransport.from_url("https://api.example.com", engine="httpx") as other:
        assert other.engine == "httpx"


@deadline(30)
async def test_both_engines_send_the_same_request(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HandlerResult:
        seen.append(request)
        return HttpResponse.json({"ok": True}, headers=[("X-MBX-USED-WEIGHT-1M", "7")])

    spec = HttpRequestSpec(
        method="POST",
        path="/api/v3/order",
        params=(("symbol", "BTCUSDT"), ("note", "a b+c/~é"), ("signature", "ab12")),
        headers=(("X-MBX-APIKEY", "key"),),
        body=b"x=1",
    )
    results = []
    async with serving(handler) as port:
        engines: tuple[Engine, ...] = ("h11", "httpx")
        for engine in engines:
            async with HttpTransport.from_url(f"http://127.0.0.1:{port}/", engine=engine) as http:
                results.append(await http.request(spec))
    assert len(seen) == 2
    for got in seen:
        assert (got.method, got.path, got.query, got.body) == ("POST", "/api/v3/order", spec.query_string(), b"x=1")
        assert got.header("x-mbx-apikey") == "key"
    assert [(r.status, r.body, r.header("x-mbx-used-weight-1m")) for r in results] == [(200, b'{"ok":true}', "7")] * 2
