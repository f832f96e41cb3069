"""The first decoding stage of a Binance stream frame, the same on spot and USD-M (sans-IO).

Both venues document one set of frame shapes on a stream connection: the combined-stream wrapper
``{"stream", "data"}`` (spot web-socket-streams.md § General WSS information; USD-M § Websocket Market
Streams › Combined streams), a raw event carrying ``e`` on ``/ws``, the ``{"result", "id"}`` answer to a
SUBSCRIBE and the ``{"code", "msg", "id"}`` error (spot § Live Subscribing/Unsubscribing to streams and
§ Error Messages; USD-M § Live Subscribing/Unsubscribing to streams). :class:`StreamEnvelope` says which one
a frame is without decoding the payload (lesson 5: a small envelope, then the payload's prebuilt decoder);
each venue's ``codec`` decodes the payload with its own wire structs.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from clobactors.exchanges.binance.wire_base import NULL
from clobactors.exchanges.standard import Control, ControlKind

__all__ = ["STREAM_ENVELOPE_DECODER", "StreamEnvelope", "as_bytes", "control_of", "raw_detail"]


class StreamEnvelope(msgspec.Struct, frozen=True):
    """What a stream-connection frame is: combined event, subscribe answer, error, or raw event."""

    stream: str | None = None
    data: msgspec.Raw = NULL
    e: str | None = None
    #: UNSET when the frame has no ``id``: an answer may carry ``"id": null``.
    id: int | str | UnsetType | None = UNSET
    code: int | None = None
    msg: str | None = None
    result: msgspec.Raw = NULL


STREAM_ENVELOPE_DECODER: Final = msgspec.json.Decoder(StreamEnvelope)


def as_bytes(frame: bytes | str) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


def raw_detail(raw: msgspec.Raw) -> str:
    """A raw JSON value as text for a Control's detail (``""`` for null)."""
    return "" if raw == NULL else bytes(raw).decode("utf-8", "replace")


def control_of(env: StreamEnvelope) -> list[Control] | None:
    """A subscribe answer (ACK) or an error (ERROR), or None when the frame is neither.

    An answer is any frame with an ``id`` key, ``"id": null`` included (spot documents a null id; USD-M
    does not send one, and reading it as an answer there beats dropping it as unrecognised).
    """
    if env.code is not None:
        request_id = None if isinstance(env.id, UnsetType) else env.id
        return [Control(ControlKind.ERROR, request_id, f"{env.code}: {env.msg or ''}")]
    if not isinstance(env.id, UnsetType):
        return [Control(ControlKind.ACK, env.id, raw_detail(env.result))]
    return None
