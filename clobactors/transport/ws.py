"""Client WebSocket connection: frames read in the consumer's own task, heartbeat, idle deadline, typed errors.

``async with open_ws(url, ...) as ws:`` connects (TCP, TLS for ``wss``, handshake) and yields a
:class:`WsConnection`. It speaks WebSocket through wsproto over a trio stream we own, and reads **in the task
that calls** :meth:`WsConnection.receive`: a frame goes from the socket to the consumer with no task hop in
between (a hop through a memory channel costs a scheduler round per frame, which was most of the transport's
share of the market-data latency). Each read stamps its frames with the wall clock passed in (the ``ts_recv``
of canonical events; ``time.time_ns`` by default, the actor system's clock in the book feed) and
``trio.current_time()``.

The socket must still be read while the consumer is busy elsewhere, because pongs ride on it: a *keeper* task
takes over reading once the consumer has stayed away for ``_KEEP_AFTER`` seconds, buffering at most
``message_queue_size`` frames. A consumer that lets that buffer fill has already lost data, so the connection
fails with :class:`ConnectionLost` and the feed resyncs on reconnect rather than silently skipping frames. The
consumer takes the socket back (cancelling the keeper's pending read, which loses nothing) when it returns.

Failures are *reported*, not thrown into the caller's task group: the first failure is recorded, and
:meth:`WsConnection.receive` raises it after the frames that arrived before it (a clean close by the server
delivers everything it sent first). The failure classes:

* peer closed (clean close frame or TCP reset), EOF -> :class:`ConnectionLost` (the close code in the text);
* no pong within ``pong_timeout`` after a ping -> :class:`ConnectionLost`;
* nothing at all (no message, ping or pong) within ``idle_timeout`` -> :class:`TransportTimeout` (mark the
  book stale, reconnect). Control frames count: a quiet market on a live connection (the server's pings
  still arrive) is not a dead connection;
* a message over ``max_message_size`` -> close 1009, :class:`ConnectionLost`;
* consumer too slow (buffer full) -> :class:`ConnectionLost`.

A dead connection is closed at once without a close handshake. Exactly one typed error leaves :func:`open_ws`
(see :func:`clobactors.transport.errors.raise_collapsed`). Plain ``ws://`` is accepted only for loopback hosts
(the simulator), like ``http://`` in the REST transport.

Where each part lives (this module re-exports the public names, so import them from here):

* :mod:`clobactors.transport.ws_connection`: :class:`WsConnection`, :class:`WsFrame`, :class:`WsStatistics`;
  the per-frame path (``receive`` -> ``_read`` -> ``_handle_events``), fragment assembly, the size limit,
  writes under one lock, the close handshake, failure recording;
* :mod:`clobactors.transport.ws_duties`: the background duties beside the consumer (keeper, idle watch,
  heartbeat), under the connection's one cancel scope;
* :mod:`clobactors.transport.ws_open`: :func:`open_ws`, the URL and TLS rules, connecting, the lifetime;
* :mod:`clobactors.transport.ws_handshake`: the HTTP upgrade, and how close codes read in errors.
"""

from __future__ import annotations

from clobactors.transport.ws_connection import WsConnection, WsFrame, WsStatistics
from clobactors.transport.ws_open import open_ws

__all__ = ["WsConnection", "WsFrame", "WsStatistics", "open_ws"]
