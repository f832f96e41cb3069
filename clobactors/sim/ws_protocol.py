"""The simulator's server side of WebSocket, sans-IO: bytes in, what to do out; on wsproto.

Kept apart from the sockets (:mod:`clobactors.sim.ws_connection`) so that the rules (handshake answers,
message assembly and the size limit, control frames, the close handshake) are plain functions of the bytes,
and so that the I/O shell can encode *many* messages into one buffer: the writer sends what is queued with
one ``send_all`` instead of one write (and one scheduler round) per frame.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Final, final

import attrs
import wsproto
import wsproto.utilities
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason

__all__ = ["Inbound", "ServerProtocol", "frame_message"]

_TOO_BIG: Final = CloseReason.MESSAGE_TOO_BIG
_SHORT: Final = struct.Struct("!BBH")
_LONG: Final = struct.Struct("!BBQ")


def frame_message(message: str | bytes) -> bytes:
    """One whole message as a server's (unmasked, final) WebSocket frame: text for ``str``, binary for bytes."""
    if isinstance(message, str):
        payload, first = message.encode(), 0x81
    else:
        payload, first = message, 0x82
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return _SHORT.pack(first, 126, size) + payload
    return _LONG.pack(first, 127, size) + payload


@final
@attrs.frozen
class Inbound:
    """What one read amounted to: whole messages for the handler, bytes to write back (pongs, the close
    answer, a 1009 close), pong payloads that acknowledge our pings, and whether reading is over."""

    messages: tuple[str | bytes, ...] = ()
    reply: bytes = b""
    pongs: tuple[bytes, ...] = ()
    #: The WebSocket is closed for reading: the peer's close frame came (or ours for a too-big message).
    ended: bool = False


@final
@attrs.define
class ServerProtocol:
    """One server-side WebSocket connection's protocol state: the opening handshake, then frames."""

    _max_message_size: int
    _ws: wsproto.WSConnection = attrs.field(factory=lambda: wsproto.WSConnection(ConnectionType.SERVER))
    _parts: list[str | bytes] = attrs.field(factory=list, init=False)
    _size: int = attrs.field(default=0, init=False)
    #: ``(code, reason)`` once either side closed (sent or received a close frame).
    close_reason: tuple[int, str] | None = attrs.field(default=None, init=False)

    @property
    def open(self) -> bool:
        return self._ws.state is ConnectionState.OPEN

    # -- handshake -------------------------------------------------------------------------------------------

    def receive_request(self, data: bytes | None) -> Request | None:
        """Feed handshake bytes (None at EOF); the upgrade request once complete.

        Raises ``wsproto.utilities.RemoteProtocolError`` for a request that is not a WebSocket upgrade.
        """
        self._ws.receive_data(data)
        for event in self._ws.events():
            if isinstance(event, Request):
                return event
        return None

    def accept(self, subprotocol: str | None, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        return self._ws.send(AcceptConnection(subprotocol=subprotocol, extra_headers=list(headers)))

    def reject(self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> bytes:
        all_headers = list(headers)
        if body:
            all_headers.append((b"content-length", str(len(body)).encode("ascii")))
        out = self._ws.send(RejectConnection(status_code=status, headers=all_headers, has_body=bool(body)))
        if body:
            out += self._ws.send(RejectData(data=body, body_finished=True))
        return out

    # -- frames ----------------------------------------------------------------------------------------------

    def encode(self, messages: Iterable[str | bytes]) -> bytes:
        """Every message framed, in order, as one buffer (one write for a whole batch).

        A server's data frame is a header and the payload, unmasked: framed here in ~0.3 µs instead of
        wsproto's ~3.4 µs a message (warm; several times that in the simulator process of ``loopback-market``,
        where it was a sixth of the writer's cost). wsproto keeps no state for whole unfragmented messages,
        so its state machine stays right; a connection no longer open goes through wsproto, which refuses.
        """
        if not self.open:
            send = self._ws.send
            return b"".join(send(TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m)) for m in messages)
        return b"".join(frame_message(m) for m in messages)

    def ping(self, payload: bytes) -> bytes:
        return self._ws.send(Ping(payload=payload))

    def close(self, code: int, reason: str) -> bytes:
        """Our close frame (empty when the connection is no longer open)."""
        if not self.open:
            return b""
        self.close_reason = (code, reason)
        return self._ws.send(CloseConnection(code=code, reason=reason or None))

    @property
    def closed(self) -> bool:
        """The close handshake is complete (both close frames seen)."""
        return self._ws.state is ConnectionState.CLOSED

    def receive(self, data: bytes | None) -> Inbound:
        """Feed bytes read after the handshake (None at EOF; ``b""`` only processes what is buffered)."""
        if data is None or data:
            self._ws.receive_data(data)
        messages: list[str | bytes] = []
        reply: list[bytes] = []
        pongs: list[bytes] = []
        try:
            for event in self._ws.events():
                if isinstance(event, Message):
                    message = self._assemble(event)
                    if message is None:
                        continue
                    if self._size < 0:  # over the limit: close 1009, read no more
                        reply.append(self.close(_TOO_BIG, f"message over {self._max_message_size} bytes"))
                        return Inbound(tuple(messages), b"".join(reply), tuple(pongs), True)
                    messages.append(message)
                elif isinstance(event, Ping):
                    reply.append(self._ws.send(event.response()))
                elif isinstance(event, Pong):
                    pongs.append(bytes(event.payload))
                elif isinstance(event, CloseConnection):
                    if self.close_reason is None:
                        self.close_reason = (event.code, event.reason or "")
                    if self._ws.state is ConnectionState.REMOTE_CLOSING:
                        reply.append(self._ws.send(event.response()))
                    return Inbound(tuple(messages), b"".join(reply), tuple(pongs), True)
        except wsproto.utilities.RemoteProtocolError as exc:
            # A malformed frame: wsproto says which close code fits (1002 protocol error, 1007 bad UTF-8).
            hint = exc.event_hint
            code = hint.code if isinstance(hint, CloseConnection) else CloseReason.PROTOCOL_ERROR
            reply.append(self.close(code, str(exc)[:120]))
            return Inbound(tuple(messages), b"".join(reply), tuple(pongs), True)
        return Inbound(tuple(messages), b"".join(reply), tuple(pongs), False)

    def _assemble(self, event: Message[str] | Message[bytes | bytearray]) -> str | bytes | None:
        """The whole message once its last fragment came; None before. ``_size`` < 0 marks it too big."""
        data: str | bytes = event.data if isinstance(event.data, str) else bytes(event.data)
        if event.message_finished and not self._parts:
            if len(data) > self._max_message_size:
                self._size = -1
            return data
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._max_message_size:
            self._parts, self._size = [], -1
            return data
        if not event.message_finished:
            return None
        parts, self._parts, self._size = self._parts, [], 0
        if isinstance(data, str):
            return "".join(p for p in parts if isinstance(p, str))
        return b"".join(p for p in parts if isinstance(p, bytes))
