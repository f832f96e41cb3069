"""Sans-IO description of a REST exchange: the request a dialect builds and the result a transport returns.

Dialects import this module to *describe* a request (method, path, ordered params, headers, body) without
importing trio or httpx; :mod:`clobactors.transport.http` sends it. The query string is encoded once, here,
by :func:`encode_query`: a dialect signs exactly ``spec.query_string()`` and the transport sends exactly the
same bytes, so a signature can never be computed over a different encoding than the one on the wire.

Redaction also lives here, because dialects, the simulator and the transport all log requests: names that
look secret-bearing (``key``, ``sign``, ``secret``, ``passphrase``, ``token``, ``authorization``, ``cookie``)
are masked in headers and query strings alike. httpx hides only ``authorization`` on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, final
from urllib.parse import quote

import msgspec

from clobactors.errors import LocalProtocolError

__all__ = [
    "REDACTED",
    "HttpRequestSpec",
    "HttpResult",
    "encode_query",
    "is_secret_name",
    "redact_headers",
    "redact_query",
    "redact_url",
    "remember_query",
]

#: What a secret value is replaced with in logs.
REDACTED: Final = "<redacted>"

_SECRET_NAME: Final = re.compile(r"key|sign|secret|passphrase|token|authorization|cookie", re.IGNORECASE)
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """The one query-string encoding: pairs in order, duplicates kept, RFC 3986 percent-encoding.

    Only unreserved characters stay literal (space becomes ``%20``, never ``+``), so httpx passes the string
    through untouched and the simulator decodes it back to the same pairs.
    """
    pairs = params if isinstance(params, list | tuple) else list(params)
    joined = "&".join(map("=".join, pairs))
    # One C-speed check of the whole string instead of two per pair (3.9 -> ~1 µs for a signed order,
    # bench/run.py order-overhead): every name and value is unreserved exactly when the joined string holds
    # only unreserved characters and the one ``=`` and ``&`` each pair adds (a pair that is not two strings
    # makes the join raise or miscount, and takes the careful path too).
    if (
        _UNRESERVED_JOINED.fullmatch(joined)
        and joined.count("=") == len(pairs)
        and joined.count("&") == len(pairs) - 1
    ):
        return joined
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


#: The params tuple last passed to :func:`remember_query` and its encoding (one entry: the request just built).
_remembered: tuple[tuple[tuple[str, str], ...], str] = ((), "")


def remember_query(params: tuple[tuple[str, str], ...], query: str) -> None:
    """Record that ``params`` encodes to ``query`` (``== encode_query(params)``, the caller's promise).

    A signed request is encoded once to be signed; the signer hands that encoding, plus its signature, to
    :meth:`HttpRequestSpec.query_string` here so the transport does not encode it again (~4 µs per order,
    ``bench/run.py order-overhead``). The entry is matched by the tuple's identity and holds a reference to
    it, so an equal-looking tuple, or another one at a reused address, can never pick up a stale string.
    """
    global _remembered
    _remembered = (params, query)


#: Exactly the characters ``urllib.parse.quote`` never escapes (its ``_ALWAYS_SAFE``), ASCII only.
_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]*")
#: A request path: ``/``, then printable ASCII without space, ``?`` or ``#`` (one regex, not a loop per
#: character: every order builds a spec).
_VALID_PATH: Final = re.compile(r"/[!-\"$->@-~]*")
#: The same plus the separators :func:`encode_query` writes.
_UNRESERVED_JOINED: Final = re.compile(r"[A-Za-z0-9_.~=&-]*")


def _quote(text: str) -> str:
    """``quote(text, safe="")``, skipped for the usual parameter made of unreserved characters only.

    Every signed request encodes its query here (and the transport again); ``quote`` is ~1 µs a call, so
    this halves the cost of building a signed order (bench/run.py order-overhead).
    """
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


@final
class HttpRequestSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What to send: built by a dialect (sans-IO), sent by :class:`clobactors.transport.http.HttpTransport`.

    ``path`` is relative to the transport's base URL and carries no query: parameters go in ``params`` so the
    signed string and the sent string are the same object. Header names keep the caller's spelling.
    """

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        # A malformed spec is our bug (a dialect built it), so it fails where it is made.
        if self.method not in _METHODS:
            raise LocalProtocolError(f"unsupported HTTP method {self.method!r}")
        if _VALID_PATH.fullmatch(self.path) is None:
            if not self.path.startswith("/") or "?" in self.path or "#" in self.path:
                raise LocalProtocolError(f"path must start with '/' and carry no query: {self.path!r}")
            raise LocalProtocolError(f"path must be percent-encoded ASCII without spaces: {self.path!r}")

    def query_string(self) -> str:
        """The exact query string that goes on the wire (what a dialect signs)."""
        params, query = _remembered
        return query if params is self.params else encode_query(self.params)

    def target(self) -> str:
        """Path plus query, as sent in the request line."""
        query = self.query_string()
        return f"{self.path}?{query}" if query else self.path

    def redacted(self) -> str:
        """``METHOD /path?query`` with secrets masked, for logs and error messages."""
        return redact_url(f"{self.method} {self.target()}")


@final
class HttpResult(msgspec.Struct, frozen=True, kw_only=True):
    """What came back: status, headers (lower-case names, wire order), body, and the elapsed seconds.

    ``elapsed`` is measured on the Trio clock, so it is exact under a mock clock in tests.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None; rate-limit headers are read so."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


def is_secret_name(name: str) -> bool:
    """True when a header or parameter name looks like it carries a key, signature or token."""
    return _SECRET_NAME.search(name) is not None


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with secret-bearing values replaced by :data:`REDACTED` (names kept, order kept)."""
    return [(k, REDACTED if is_secret_name(k) else v) for k, v in headers]


def redact_query(query: str) -> str:
    """A raw query string with secret-bearing values (``signature=``, ``listenKey=``, ...) masked.

    Works on the raw string so the rest stays byte-identical to what was sent.
    """
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}={REDACTED}" if sep and is_secret_name(name) else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """A URL (or ``METHOD target`` line) with its query's secret values masked; the fragment is dropped."""
    head, sep, query = url.partition("?")
    if not sep:
        return url
    return f"{head}?{redact_query(query.partition('#')[0])}"
