"""The loopback server's fan-out state: per-connection bounded send buffers, the topic hub, :class:`WsLink`.

Split from :mod:`clobactors.sim.runtime` (which runs the tasks, publishes and counts) because this is the state
that the fan-out and fault injection share: a connection's outgoing buffer (full means its reader is too slow,
and the connection ends rather than stall the publisher), the items that may sit in it (frames, a
:class:`DelayedFrame`, a close), the hub that maps topics to listening connections, and the :class:`WsLink`
handle through which scheduled faults reach one connection. Internal to the simulator; the public names are
re-exported by :mod:`clobactors.sim.runtime`.
"""

from __future__ import annotations

from typing import TypeAlias, final

import attrs
import trio

from clobactors.sim.face_protocol import FaceSession, WantedTopics
from clobactors.sim.ws_server import ServerWsConnection

__all__ = ["DelayedFrame", "FaultFrame", "WsLink"]


@final
@attrs.frozen
class DelayedFrame:
    """A frame the connection's writer sends no earlier than ``at`` (trio time). Frames behind it wait too,
    as on a slow TCP path: latency never reorders a connection."""

    data: bytes | str
    at: float


FaultFrame: TypeAlias = bytes | str | DelayedFrame


@final
@attrs.frozen
class _Close:
    code: int
    reason: str


_Item: TypeAlias = bytes | str | DelayedFrame | _Close


@final
@attrs.define(eq=False)
class _Conn:
    """One WebSocket connection in the fan-out: its face session and its bounded outgoing buffer."""

    session: FaceSession
    send: trio.MemorySendChannel[_Item]
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    topics: frozenset[str] = frozenset()
    closing: _Close | None = None
    #: Set by fault injection: reset instead of a close handshake; or frozen (half-open).
    aborted: bool = False
    stalled: bool = False
    #: True while a frame is being written: a close cancelled into the middle of one must reset the socket,
    #: since a close frame after half a text frame would corrupt the stream.
    sending: bool = False
    link: WsLink | None = None

    def push(self, item: _Item) -> bool:
        """Queue without waiting; a full buffer ends the connection (the reader is too slow)."""
        if self.closing is not None:
            return True
        try:
            self.send.send_nowait(item)
        except trio.WouldBlock:
            self.kill(_Close(1008, "slow consumer: send buffer full"))
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return True

    def kill(self, why: _Close) -> None:
        if self.closing is None:
            self.closing = why
        self.scope.cancel()


@final
@attrs.define(eq=False)
class WsLink:
    """One live WebSocket connection as fault injection reaches it (ids count up from 1 per simulator)."""

    id: int
    path: str
    _conn: _Conn = attrs.field(repr=False)
    _ws: ServerWsConnection = attrs.field(repr=False)

    @property
    def topics(self) -> frozenset[str]:
        """The topics the connection listens to now (its subscriptions)."""
        return self._conn.topics

    @property
    def closed(self) -> bool:
        return self._conn.closing is not None

    @property
    def stalled(self) -> bool:
        return self._conn.stalled

    def frame(self, topic: str, payload: bytes) -> bytes:
        """``payload`` framed as this connection frames ``topic`` (combined-stream envelope, subscription id)."""
        return self._conn.session.frame(topic, payload)

    def send(self, item: FaultFrame) -> None:
        """Queue a frame, past fault injection (a reordered frame released, an injected event)."""
        self._conn.push(item)

    def close(self, code: int = 1001, reason: str = "") -> None:
        """Clean close: a close frame after what is queued."""
        self._conn.push(_Close(code, reason))

    def abort(self) -> None:
        """Abrupt close: TCP reset now, no close frame."""
        self._conn.aborted = True
        self._conn.kill(_Close(1006, "aborted"))

    def stall(self) -> None:
        """Half-open: nothing more is sent or read (pings unanswered); the socket stays open."""
        self._conn.stalled = True
        self._ws.stall()


@final
@attrs.define(eq=False)
class _Hub:
    """Topic -> connections listening to it. Its key set is the ``wanted`` the face sees."""

    topics: WantedTopics[set[_Conn]] = attrs.field(factory=WantedTopics)

    def update(self, conn: _Conn) -> None:
        new = conn.session.topics
        if new == conn.topics:
            return
        for topic in conn.topics - new:
            self._remove(topic, conn)
        for topic in new - conn.topics:
            listeners = self.topics.get(topic)
            if listeners is None:
                listeners = self.topics[topic] = set()
                self.topics.changed()
            listeners.add(conn)
        conn.topics = new

    def remove(self, conn: _Conn) -> None:
        for topic in conn.topics:
            self._remove(topic, conn)
        conn.topics = frozenset()

    def _remove(self, topic: str, conn: _Conn) -> None:
        listeners = self.topics.get(topic)
        if listeners is not None:
            listeners.discard(conn)
            if not listeners:
                del self.topics[topic]
                self.topics.changed()
