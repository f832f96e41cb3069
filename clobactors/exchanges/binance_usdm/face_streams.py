"""Binance USD-M face: market stream names, depth windows with ``pu``, and the stream connection.

Source: USD-M docs § Websocket Market Streams (general information: paths ``/ws/<stream>`` and
``/stream?streams=``, at most 1024 streams and 10 incoming messages a second per connection, a ping every 3
minutes and a 10-minute pong deadline, 24-hour connections) and one page per stream:

* ``<s>@depth`` (250 ms), ``<s>@depth@500ms``, ``<s>@depth@100ms``: § Diff. Book Depth Streams. A window's
  changes go out as one ``depthUpdate`` with ``U``/``u`` its first and last engine update id and ``pu`` the
  ``u`` of the previous event: the engine's ids are contiguous, so ``pu == U - 1`` always.
* ``<s>@markPrice`` (3 s) and ``<s>@markPrice@1s``: § Mark Price Stream.
* ``<s>@bookTicker`` (on every change of the best levels) and ``<s>@aggTrade`` (one trade per aggregate).

The control frames (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY ``combined``) are
spot's, so the session is spot's :class:`~clobactors.exchanges.binance.face_streams.StreamSession` with these
stream names and limit. The routed paths Binance introduced (``/public``, ``/market``, ``/private``) are
served as aliases of the plain ones: any stream on any path (the route split is not enforced).
"""

from __future__ import annotations

import re
from typing import Final, final

import attrs

from clobactors.exchanges.binance_common.depth_window import DepthChanges
from clobactors.exchanges.binance_usdm import wire

__all__ = [
    "DEPTH_SPEEDS",
    "MARK_SPEEDS",
    "DepthWindow",
    "UsdmStream",
    "depth_stream_name",
    "is_market_stream",
    "mark_stream_name",
    "parse_stream",
]

_STREAM_RE: Final = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?:(?P<kind>aggTrade|bookTicker)|depth(?P<depth>@100ms|@500ms)?|"
    r"markPrice(?P<mark>@1s)?)$"
)
#: Diff depth windows: stream suffix -> milliseconds.
DEPTH_SPEEDS: Final = {"@100ms": 100, "": 250, "@500ms": 500}
#: Mark price pushes: stream suffix -> milliseconds.
MARK_SPEEDS: Final = {"@1s": 1000, "": 3000}
#: Incoming messages allowed per second and connection (§ Websocket Market Streams).
MAX_MESSAGES_PER_SECOND: Final = 10


@final
@attrs.frozen
class UsdmStream:
    """A parsed stream name: ``kind`` is ``depth``, ``markPrice``, ``aggTrade`` or ``bookTicker``."""

    name: str
    symbol: str
    kind: str
    speed_ms: int = 0


def parse_stream(name: str) -> UsdmStream | None:
    match = _STREAM_RE.match(name)
    if match is None:
        return None
    symbol = match["symbol"].upper()
    if match["kind"]:
        return UsdmStream(name, symbol, match["kind"])
    if name.split("@", 1)[1].startswith("depth"):
        return UsdmStream(name, symbol, "depth", DEPTH_SPEEDS[match["depth"] or ""])
    return UsdmStream(name, symbol, "markPrice", MARK_SPEEDS[match["mark"] or ""])


def is_market_stream(name: str) -> bool:
    return parse_stream(name) is not None


def depth_stream_name(symbol: str, speed_ms: int) -> str:
    suffix = next(k for k, v in DEPTH_SPEEDS.items() if v == speed_ms)
    return f"{symbol.lower()}@depth{suffix}"


def mark_stream_name(symbol: str, speed_ms: int) -> str:
    suffix = next(k for k, v in MARK_SPEEDS.items() if v == speed_ms)
    return f"{symbol.lower()}@markPrice{suffix}"


@final
@attrs.define
class DepthWindow(DepthChanges):
    """A symbol's diff-depth window: the shared :class:`DepthChanges` plus this venue's ``depthUpdate``."""

    def flush(self, symbol: str, event_ms: int) -> wire.DepthUpdate | None:
        """The window as one ``depthUpdate`` (module docstring), then empty it; ``None`` if nothing changed."""
        diff = self.take()
        if diff is None:
            return None
        return wire.DepthUpdate(
            event_time=event_ms,
            symbol=symbol,
            transaction_time=diff.last_ts_ns // 1_000_000,
            first_update_id=diff.first_id,
            final_update_id=diff.last_id,
            previous_final_update_id=diff.first_id - 1,
            bids=diff.bids,
            asks=diff.asks,
        )
