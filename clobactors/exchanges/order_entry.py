"""Order entry over a WebSocket API: the optional dialect capability behind :mod:`clobactors.actors.order_lane`.

Several venues take orders on a persistent WebSocket as well as over REST (Binance's WebSocket API, OKX,
Bybit, Kraken, Gate.io): no HTTP head to build or parse, no connection to pick from a pool, and the venues
document a lower latency for it. A dialect that speaks such an API implements :class:`OrderEntryDialect`,
sans-IO like everything else in a dialect:

* :meth:`~OrderEntryDialect.order_entry_frame` turns a REST request the dialect built (the one contract every
  order actor already uses) into the venue's WebSocket request for the same operation, signed the venue's
  WebSocket way; ``None`` for a request the WebSocket API has no twin for, which then goes over REST.
* :meth:`~OrderEntryDialect.decode_order_entry_answer` turns the venue's answer back into the
  :class:`~clobactors.httpspec.HttpResult` the REST request would have had (status, rate-limit usage, body),
  so decoding, error mapping and rate-limit accounting stay one code path whichever way the order went.

Translating from the REST request keeps a single builder per operation (and its tests and documented
parameter order) instead of a second one per transport.
"""

from __future__ import annotations

from typing import Protocol, final, runtime_checkable

import msgspec

from clobactors.httpspec import HttpRequestSpec, HttpResult

__all__ = ["OrderEntryAnswer", "OrderEntryDialect"]


@final
class OrderEntryAnswer(msgspec.Struct, frozen=True):
    """One answer of the WebSocket order entry: the id of the request it answers, as the REST result."""

    request_id: int | str | None
    result: HttpResult


@runtime_checkable
class OrderEntryDialect(Protocol):
    """A dialect that can send (some of) its REST requests over the venue's WebSocket API."""

    def order_entry_url(self) -> str:
        """The WebSocket API endpoint for orders."""
        ...

    def order_entry_frame(self, spec: HttpRequestSpec, credentials: object, request_id: int) -> str | None:
        """The WebSocket request doing what ``spec`` does, as a text frame; ``None`` if the API has no twin."""
        ...

    def decode_order_entry_answer(self, message: str | bytes, elapsed: float, now_ms: int) -> OrderEntryAnswer:
        """An answer frame as the REST result it stands for; RemoteProtocolError when it is not an answer.

        ``now_ms`` (exchange-aligned) turns an absolute retry time into the seconds REST would have said.
        """
        ...
