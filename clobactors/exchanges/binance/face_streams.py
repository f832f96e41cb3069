"""Binance face: market streams. Stream names, the stream connection's control frames, and depth windows.

Source: Binance spot API, web-socket-streams.md (§ General WSS information, § Websocket Limits, § Live
Subscribing/Unsubscribing to streams, § Error Messages, and one section per stream).

* A connection is raw (``/ws/<stream>``: payloads as they are) or combined (``/stream?streams=a/b``: each
  payload wrapped as ``{"stream": name, "data": payload}``); ``SET_PROPERTY combined`` switches.
* ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` / ``GET_PROPERTY`` answer
  ``{"result": ..., "id": ...}``; malformed requests answer ``{"code", "msg"[, "id"]}`` with the documented
  codes (0 unknown property, 1 bad value type, 2 invalid request, 3 invalid JSON).
* Limits: more than 5 incoming messages in a second closes the connection (1008); at most 1024 streams.
* Streams served: ``<s>@trade``, ``<s>@aggTrade`` (one trade per aggregate), ``<s>@bookTicker``,
  ``<s>@depth[@100ms]`` (diffs, batched per 1000 / 100 ms window, ``U``/``u`` the first and last engine
  update id of the window) and ``<s>@depth<5|10|20>[@100ms]`` (top of book every window). A name with no
  ``@`` is a listen key (user-data-stream.md: ``/ws/<listenKey>`` or ``/stream?streams=<listenKey>``).
  Names that parse but name no symbol are accepted and stay silent, as on Binance.

A session's *topics* tell the server what to route to it: ``m:<stream>`` for market streams, and for a
listen key ``user:<account>`` (events) plus ``lk:<listenKey>`` (its expiry). Sans-IO: times are passed in.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, final

import attrs
import msgspec

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.urls import MAX_STREAMS_PER_CONNECTION, MAX_WS_MESSAGES_PER_SECOND
from clobactors.exchanges.binance_common.depth_window import DepthChanges
from clobactors.sim.face_protocol import SessionReply

__all__ = [
    "DepthWindow",
    "StreamSession",
    "StreamSpec",
    "market_topic",
    "parse_stream",
]

_STREAM_RE: Final = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?:(?P<kind>trade|aggTrade|bookTicker)|"
    r"depth(?P<levels>5|10|20)?(?P<fast>@100ms)?)$"
)
_LISTEN_KEY_RE: Final = re.compile(r"^[A-Za-z0-9]{1,128}$")
_METHODS: Final = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_ID_STRING_MAX: Final = 36


@final
@attrs.frozen
class StreamSpec:
    """A parsed market stream name. ``kind``: ``trade``, ``aggTrade``, ``bookTicker``, ``depth``, ``partial``."""

    name: str
    symbol: str
    kind: str
    levels: int = 0
    speed_ms: int = 1000


def parse_stream(name: str) -> StreamSpec | None:
    """The stream behind ``name``, or ``None`` if it is not a market stream name Binance documents."""
    match = _STREAM_RE.match(name)
    if match is None:
        return None
    symbol = match["symbol"].upper()
    if match["kind"]:
        return StreamSpec(name, symbol, match["kind"])
    speed = 100 if match["fast"] else 1000
    if match["levels"]:
        return StreamSpec(name, symbol, "partial", int(match["levels"]), speed)
    return StreamSpec(name, symbol, "depth", 0, speed)


def market_topic(stream: str) -> str:
    return f"m:{stream}"


def depth_stream_name(symbol: str, speed_ms: int) -> str:
    return f"{symbol.lower()}@depth{'@100ms' if speed_ms == 100 else ''}"


def partial_stream_name(symbol: str, levels: int, speed_ms: int) -> str:
    return f"{symbol.lower()}@depth{levels}{'@100ms' if speed_ms == 100 else ''}"


# -- depth diff windows --------------------------------------------------------------------------------------


@final
@attrs.define
class DepthWindow(DepthChanges):
    """A symbol's diff-depth window: the shared :class:`DepthChanges` plus this venue's ``depthUpdate``."""

    def flush(self, symbol: str, event_ms: int) -> wire.DepthUpdate | None:
        """The window as one ``depthUpdate`` (web-socket-streams.md § Diff. Depth Stream), then empty it."""
        diff = self.take()
        if diff is None:
            return None
        return wire.DepthUpdate(
            event_time=event_ms,
            symbol=symbol,
            first_update_id=diff.first_id,
            final_update_id=diff.last_id,
            bids=diff.bids,
            asks=diff.asks,
        )


# -- the stream connection ---------------------------------------------------------------------------------


def _error(code: int, msg: str, request_id: int | str | None = None) -> str:
    return wire.encode(wire.StreamError(code=code, msg=msg, id=request_id)).decode()


def _result(result: tuple[str, ...] | bool | None, request_id: int | str | None) -> str:
    return wire.encode(wire.StreamResponse(result=result, id=request_id)).decode()


class _Probe(msgspec.Struct):
    method: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))
    params: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))
    id: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))


_PROBE: Final = msgspec.json.Decoder(_Probe)
_ANY: Final = msgspec.json.Decoder()


@final
class StreamSession:
    """One market-stream connection (``/ws/...`` or ``/stream?...``), sans-IO.

    ``resolve_listen_key`` maps a listen key to its account (``None``: unknown key, which stays silent).
    ``is_market_stream`` and ``max_messages_per_second`` let another Binance market (USD-M futures) reuse
    the session with its own stream names and limit.
    """

    def __init__(
        self,
        streams: Iterable[str],
        *,
        combined: bool,
        resolve_listen_key: Callable[[str], str | None],
        is_market_stream: Callable[[str], bool] | None = None,
        max_messages_per_second: int = MAX_WS_MESSAGES_PER_SECOND,
    ) -> None:
        self._combined = combined
        self._resolve = resolve_listen_key
        self._is_market = is_market_stream or (lambda name: parse_stream(name) is not None)
        self._max_messages = max_messages_per_second
        #: stream name -> topics it routes, in subscription order.
        self._streams: dict[str, tuple[str, ...]] = {}
        #: topic -> the combined-stream envelope ``(head, tail)`` of its first stream; rebuilt after changes.
        self._envelopes: dict[str, tuple[bytes, bytes]] | None = None
        self._recent: deque[int] = deque()
        for name in streams:
            topics = self._topics_for(name)
            if topics is None:
                raise ValueError(name)
            self._streams[name] = topics
        if len(self._streams) > MAX_STREAMS_PER_CONNECTION:
            raise ValueError("too many streams")

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(t for topics in self._streams.values() for t in topics)

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self._streams)

    def _topics_for(self, name: str) -> tuple[str, ...] | None:
        if self._is_market(name):
            return (market_topic(name),)
        if _LISTEN_KEY_RE.match(name):
            account = self._resolve(name)
            return (f"lk:{name}",) if account is None else (f"user:{account}", f"lk:{name}")
        return None

    def frame(self, topic: str, payload: bytes) -> bytes:
        """What this connection sends for ``payload`` published on ``topic`` (wrapped when combined)."""
        if not self._combined:
            return payload
        envelopes = self._envelopes
        if envelopes is None:
            envelopes = self._envelopes = {}
            for name, topics in self._streams.items():  # the first stream of a topic names it
                for each in topics:
                    envelopes.setdefault(each, (b'{"stream":' + msgspec.json.encode(name) + b',"data":', b"}"))
        envelope = envelopes.get(topic)
        return payload if envelope is None else envelope[0] + payload + envelope[1]

    def receive(self, message: str | bytes, now_ns: int) -> SessionReply:
        """Answer one control frame (web-socket-streams.md § Live Subscribing/Unsubscribing to streams)."""
        now_ms = now_ns // 1_000_000
        self._recent.append(now_ms)
        while self._recent and self._recent[0] <= now_ms - 1000:
            self._recent.popleft()
        if len(self._recent) > self._max_messages:
            return SessionReply(close=(1008, "Too many requests"))
        self._envelopes = None  # the request may change the streams or the combined property
        return SessionReply(messages=(self._answer(message),))

    def _answer(self, message: str | bytes) -> str:
        try:
            probe = _PROBE.decode(message)
        except msgspec.DecodeError as exc:
            return _error(3, f"Invalid JSON: {exc}")
        request_id: int | str | None = None
        if bytes(probe.id) and bytes(probe.id) != b"null":
            raw_id = _ANY.decode(probe.id)
            if (isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id < 2**63) or (
                isinstance(raw_id, str) and 0 < len(raw_id) <= _ID_STRING_MAX
            ):
                request_id = raw_id
            else:
                return _error(2, "Invalid request: request ID must be an unsigned integer")
        if not bytes(probe.method):
            return _error(2, "Invalid request: missing field `method`", request_id)
        method = _ANY.decode(probe.method)
        if method not in _METHODS:
            expected = ", ".join(f"`{m}`" for m in _METHODS)
            return _error(2, f"Invalid request: unknown variant `{method}`, expected one of {expected}", request_id)
        params = _ANY.decode(probe.params) if bytes(probe.params) else []
        if not isinstance(params, list):
            return _error(2, "Invalid request: params must be an array", request_id)
        if method == "LIST_SUBSCRIPTIONS":
            return _result(tuple(self._streams), request_id)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params, request_id)
        names: list[str] = []
        for name in params:
            if not isinstance(name, str) or self._topics_for(name) is None:
                return _error(2, f"Invalid request: invalid stream name {name!r}", request_id)
            names.append(name)
        if method == "SUBSCRIBE":
            fresh = [n for n in dict.fromkeys(names) if n not in self._streams]
            if len(self._streams) + len(fresh) > MAX_STREAMS_PER_CONNECTION:
                return _error(
                    2, f"Invalid request: too many streams (at most {MAX_STREAMS_PER_CONNECTION})", request_id
                )
            for name in fresh:
                topics = self._topics_for(name)
                assert topics is not None
                self._streams[name] = topics
        else:
            for name in names:
                self._streams.pop(name, None)
        return _result(None, request_id)

    def _property(self, method: str, params: list[object], request_id: int | str | None) -> str:
        if not params or not isinstance(params[0], str):
            return _error(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return _error(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            if len(params) != 1:
                return _error(2, "Invalid request: too many parameters", request_id)
            return _result(self._combined, request_id)
        if len(params) != 2:
            return _error(2, "Invalid request: too many parameters", request_id)
        if not isinstance(params[1], bool):
            return _error(1, "Invalid value type: expected Boolean", request_id)
        self._combined = params[1]
        return _result(None, request_id)
