"""The contract between the loopback server (``sim/server.py``) and an exchange's simulator face. Sans-IO.

A face (``exchanges/<x>/face.py``) knows one exchange's protocol; the server knows sockets, tasks and the
trio clock. They meet here, in plain values and two protocols:

* REST: the server turns each HTTP request into a :class:`RestRequest` and sends back the face's
  :class:`RestResponse`.
* WebSocket: for each handshake the face opens a :class:`FaceSession` (or answers a :class:`RestResponse`
  to refuse it). The server feeds the session the client's messages and sends its replies.
* Fan-out by *topic*: after every call into the face (and after every step of the order flow) the server
  calls :meth:`Face.drain`, which turns the engine's new events into :class:`Output` records, each
  published on one topic (``m:btcusdt@trade``, ``user:<account>``...). The server routes an output to every
  session whose :attr:`FaceSession.topics` contains its topic, in the session's framing
  (:meth:`FaceSession.frame`). ``wanted`` (the topics someone listens to) lets the face skip the rest.
* Time: every call takes ``now_ns``, epoch nanoseconds on the simulator's clock. A face that needs timers
  (depth windows, listen-key expiry) says when with :meth:`Face.next_deadline_ns`, and the server calls
  :meth:`Face.on_timer` then. The server passes ``wanted`` as a :class:`WantedTopics`, whose
  :meth:`~WantedTopics.derived` caches what a face computes from the set until the set changes: the server
  asks for the next deadline after every call, and a face with a thousand symbols must not rescan them each
  time.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Mapping
from decimal import Decimal
from typing import Protocol, TypeVar, cast, final

import attrs

__all__ = [
    "Face",
    "FaceSession",
    "Output",
    "RestRequest",
    "RestResponse",
    "SessionReply",
    "SimCredentials",
    "WantedTopics",
    "WsPolicy",
]

_V = TypeVar("_V")
_T = TypeVar("_T")


@final
class WantedTopics(dict[str, _V]):
    """Topic -> its listeners, as the server keeps them: a plain dict for membership tests (``topic in
    wanted`` stays a C lookup), plus a memo of values derived from the key set.

    Whoever adds or removes a key calls :meth:`changed`, which empties the memo.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[Hashable, object] = {}

    def changed(self) -> None:
        """The key set changed: forget everything derived from it."""
        self._memo.clear()

    def derived(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """``compute()``, computed once per key set and ``key`` (a face passes a key of its own)."""
        try:
            return cast(_T, self._memo[key])
        except KeyError:
            value = self._memo[key] = compute()
            return value


@final
@attrs.frozen
class RestRequest:
    """One HTTP request. ``query`` and ``body`` are raw (still percent-encoded); headers lower-case."""

    method: str
    path: str
    query: str
    body: str
    headers: tuple[tuple[str, str], ...]
    client_ip: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


@final
@attrs.frozen
class RestResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@final
@attrs.frozen
class SessionReply:
    """Messages to send back, in order; then close with ``(code, reason)`` if set."""

    messages: tuple[str | bytes, ...] = ()
    close: tuple[int, str] | None = None


@final
@attrs.frozen
class Output:
    """A payload published on ``topic``; ``close`` ends the sessions listening to it after sending.

    ``payload`` ``None`` sends nothing (only ``close`` matters).
    """

    topic: str
    payload: bytes | None
    close: tuple[int, str] | None = None


@final
@attrs.frozen
class WsPolicy:
    """Connection rules the server enforces for the face: server pings, pong deadline, lifetime."""

    ping_interval: float | None
    pong_timeout: float
    max_lifetime: float | None
    #: Messages buffered per connection before a slow reader is disconnected.
    send_buffer: int = 1024


@final
@attrs.frozen
class SimCredentials:
    """An account's API key and secret on the simulator (the secret stays out of ``repr``)."""

    account_id: str
    api_key: str
    secret: str = attrs.field(repr=False)


class FaceSession(Protocol):
    """One WebSocket connection as the face sees it."""

    @property
    def topics(self) -> frozenset[str]: ...

    def receive(self, message: str | bytes, now_ns: int) -> SessionReply: ...

    def frame(self, topic: str, payload: bytes) -> bytes: ...


class Face(Protocol):
    """An exchange's protocol over a simulated engine; see the module docstring."""

    @property
    def ws_policy(self) -> WsPolicy: ...

    def handle_rest(self, request: RestRequest, now_ns: int) -> RestResponse: ...

    def open_session(
        self, path: str, query: str, headers: tuple[tuple[str, str], ...], client_ip: str, now_ns: int
    ) -> FaceSession | RestResponse: ...

    def close_session(self, session: FaceSession, now_ns: int) -> None: ...

    def drain(self, now_ns: int, wanted: Container[str]) -> list[Output]: ...

    def next_deadline_ns(self, now_ns: int, wanted: Container[str]) -> int | None: ...

    def on_timer(self, now_ns: int, wanted: Container[str]) -> None: ...

    def add_account(
        self,
        balances: Mapping[str, Decimal],
        *,
        account_id: str | None = None,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> SimCredentials: ...

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None: ...
