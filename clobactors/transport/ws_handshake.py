"""The client side of the WebSocket opening handshake on wsproto, and how close codes read in errors.

Part of :mod:`clobactors.transport.ws`, split from the open connection (:mod:`~clobactors.transport.ws_connection`):
the HTTP upgrade happens once per connection and has its own failure classes, all
:class:`~clobactors.errors.ConnectFailed` because nothing was exchanged yet, so a retry is always safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import trio
import wsproto
import wsproto.utilities
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.frame_protocol import CloseReason

from clobactors.errors import ConnectFailed

__all__ = ["RECEIVE_CHUNK", "close_text", "client_handshake"]

#: Bytes asked of the stream per read; trio's own default for socket streams.
RECEIVE_CHUNK: Final = 65536
#: A refused upgrade's body is read up to this much, then ignored (only the status goes into the error).
_MAX_REJECT_BODY: Final = 1 << 16


def close_text(code: int, reason: str | None) -> str:
    """``closed with code 1000 (NORMAL_CLOSURE): bye``: the code, its RFC 6455 name, the peer's reason."""
    try:
        name = CloseReason(code).name
    except ValueError:
        name = "UNKNOWN" if code < 4000 else "PRIVATE"
    text = f"closed with code {code} ({name})"
    return f"{text}: {reason}" if reason else text


async def client_handshake(
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    headers: Sequence[tuple[bytes, bytes]],
    endpoint: str,
) -> tuple[wsproto.WSConnection, bytes]:
    """Send the upgrade request on ``stream`` and read the answer; the open connection on success, with the
    bytes that followed the answer's head in the same read (the start of the first frames).

    Those bytes are *returned*, not left buffered in wsproto: the open connection parses plain data frames
    itself and hands wsproto only whole frames, so wsproto's own buffer must start empty. Raises
    :class:`ConnectFailed` when refused or cut short; socket errors are the caller's to map (it runs this under
    ``map_transport_errors(connecting=True)``).
    """
    proto = wsproto.WSConnection(ConnectionType.CLIENT)
    await stream.send_all(proto.send(Request(host=host, target=resource, extra_headers=list(headers))))
    status: int | None = None
    body, refused = 0, False
    head: bytes | None = b""  # the answer's head so far; None once it is complete
    while not refused:
        data = await stream.receive_some(RECEIVE_CHUNK)
        chunks: list[bytes | None] = [bytes(data) if data else None]
        if data and head is not None:
            head += data
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                rest = len(head) - (end + 4)
                chunks = [bytes(data[: len(data) - rest]), bytes(data[len(data) - rest :])] if rest else chunks
                head = None
        try:
            for index, chunk in enumerate(chunks):
                proto.receive_data(chunk)
                for event in proto.events():
                    if isinstance(event, AcceptConnection):
                        return proto, b"".join(c for c in chunks[index + 1 :] if c)
                    if isinstance(event, RejectConnection):
                        status, refused = event.status_code, not event.has_body
                    elif isinstance(event, RejectData):
                        body += len(event.data)
                        refused = event.body_finished or body > _MAX_REJECT_BODY
        except wsproto.utilities.RemoteProtocolError as exc:
            raise ConnectFailed(f"WebSocket handshake failed: {exc}", endpoint) from exc
        if not data and status is None:
            raise ConnectFailed("connection closed during the WebSocket handshake", endpoint)
        refused = refused or not data  # a server hanging up mid-body still refused us
    raise ConnectFailed(f"WebSocket handshake rejected with HTTP {status}", endpoint)
