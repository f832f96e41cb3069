"""The stream vocabulary of the dialect standard: what market and user WebSocket connections carry.

Channels and subscriptions, the non-data frames a dialect decodes (:class:`Control`), the frame aliases, the
optional :class:`LiveSubscriptions` capability and how a user stream authenticates (:class:`UserStreamAuth`).
Re-exported by :mod:`clobactors.exchanges.standard`, whose dialect protocols use them; split from it so each
module keeps one job.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, TypeAlias, final, runtime_checkable

import attrs

from clobactors.messages import AccountEvent, MarketEvent
from clobactors.model import Instrument

__all__ = [
    "Channel",
    "Control",
    "ControlKind",
    "LiveSubscriptions",
    "MarketFrame",
    "OutgoingFrame",
    "Subscription",
    "UserFrame",
    "UserStreamAuth",
]


class Channel(enum.StrEnum):
    """Market-data channels every dialect maps onto its own stream names."""

    #: Incremental L2 book (diffs), synced with snapshots by :class:`~clobactors.exchanges.standard.BookSync`.
    BOOK = "book"
    #: Public trades.
    TRADES = "trades"
    #: Best bid/ask.
    BBO = "bbo"
    #: Mark price, index price and funding (perpetuals).
    MARK = "mark"


@final
@attrs.frozen
class Subscription:
    """One channel of one instrument."""

    channel: Channel
    instrument: Instrument


class ControlKind(enum.StrEnum):
    """Non-data frames an actor must react to."""

    #: The exchange acknowledged a subscribe/unsubscribe/login request (``request_id`` says which).
    ACK = "ack"
    #: The exchange refused a request (``detail`` says why).
    ERROR = "error"
    #: The exchange will close the connection soon (maintenance, listen key expired): reconnect.
    RECONNECT = "reconnect"
    #: A keep-alive answer; nothing to do beyond noting the connection is alive.
    PONG = "pong"


@final
@attrs.frozen
class Control:
    """A decoded non-data frame."""

    kind: ControlKind
    request_id: int | str | None = None
    detail: str = ""


MarketFrame: TypeAlias = Sequence[MarketEvent | Control]
UserFrame: TypeAlias = Sequence[AccountEvent | Control]
#: A frame a dialect builds to send: ``str`` goes out as a WebSocket text frame, ``bytes`` as a binary one. JSON
#: protocols (Binance's among them: its documentation and clients send JSON text) build ``str``.
OutgoingFrame: TypeAlias = str | bytes


@runtime_checkable
class LiveSubscriptions(Protocol):
    """Optional extension of a dialect whose market connections take (un)subscriptions while open.

    Binance's ``SUBSCRIBE``/``UNSUBSCRIBE`` (§ Live Subscribing/Unsubscribing to streams) is one. The book feed
    uses it to add or remove an instrument's streams on an open connection without touching its siblings; a
    dialect without it (not an instance of this protocol) has the affected connection reopened with its new
    set instead, whose books then resync. Frames carry consecutive request ids from ``request_id`` (one per
    frame), which the exchange's answers name as :attr:`ControlKind.ACK` / :attr:`ControlKind.ERROR`.
    """

    #: Frames we may send per second on one market connection (the sender paces itself below it).
    max_frames_per_second: int

    def live_subscribe_frames(
        self, subscriptions: Sequence[Subscription], request_id: int
    ) -> Sequence[OutgoingFrame]: ...

    def live_unsubscribe_frames(
        self, subscriptions: Sequence[Subscription], request_id: int
    ) -> Sequence[OutgoingFrame]: ...


class UserStreamAuth(enum.StrEnum):
    """How a dialect's private stream authenticates."""

    #: REST creates a listen key, the stream URL carries it, REST keeps it alive.
    LISTEN_KEY = "listen_key"
    #: Connect, then send a signed subscribe/login frame.
    SIGNED_FRAME = "signed_frame"
