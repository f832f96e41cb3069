"""One exception tree for the whole library, mapped once at each boundary.

::

    ClobactorsError
    ├── ConfigError                      bad configuration or arguments from the user (fix the config)
    ├── TransportError                   the socket failed; retry/reconnect is safe for reads
    │   ├── ConnectFailed                could not open a connection
    │   ├── ConnectionLost               an open connection dropped
    │   └── TransportTimeout             no answer in time (for orders: outcome unknown, never "failed")
    ├── ProtocolError                    bytes that do not follow the protocol
    │   ├── LocalProtocolError           we built something illegal: a bug; crash the actor, supervisor sees
    │   └── RemoteProtocolError          the exchange sent something malformed or out of order; ``hint`` says
    │       │                            what to do (drop the frame, resync the book, reconnect)
    │       └── SequenceGap              a missed or out-of-order book update: resync that instrument
    ├── ExchangeError                    the exchange answered with an error (``code``, ``message``)
    │   ├── AuthenticationFailed         bad key, bad signature, clock skew on the timestamp
    │   ├── RateLimited                  429/418 and friends; ``retry_after`` seconds, ``banned`` for 418
    │   ├── ExchangeUnavailable          5xx, maintenance: for orders the outcome is unknown
    │   ├── OrderRejected                the exchange (or our local rules, ``local=True``) refused an order
    │   │   ├── InsufficientBalance
    │   │   └── TradingRuleViolation     price/size/notional off the instrument's rules
    │   └── UnknownOrder                 cancel/query of an order the exchange does not know
    ├── ActorUnavailable                 ``ask`` to an actor that has stopped
    └── SupervisorEscalated              restarts exceeded the intensity limit; the tree under it is stopped

Every class is an attrs exception with typed fields so handlers can branch on data, not on message text.
Secrets never go into any field: dialects map exchange answers into these classes and must not copy request
headers or signed query strings into ``message``.
"""

from __future__ import annotations

import enum

import attrs

__all__ = [
    "ActorUnavailable",
    "AuthenticationFailed",
    "ClobactorsError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionLost",
    "ExchangeError",
    "ExchangeUnavailable",
    "InsufficientBalance",
    "LocalProtocolError",
    "OrderRejected",
    "ProtocolError",
    "RateLimited",
    "RecoveryHint",
    "RemoteProtocolError",
    "SequenceGap",
    "SupervisorEscalated",
    "TradingRuleViolation",
    "TransportError",
    "TransportTimeout",
    "UnknownOrder",
]


class ClobactorsError(Exception):
    """Base of every error raised by clobactors."""


@attrs.define(auto_exc=True, str=False)
class ConfigError(ClobactorsError):
    """A configuration value or user argument is invalid; nothing was sent anywhere."""

    message: str

    def __str__(self) -> str:
        return self.message


# -- transport -----------------------------------------------------------------------------------------------


@attrs.define(auto_exc=True, str=False)
class TransportError(ClobactorsError):
    """The network failed underneath a request or a stream."""

    message: str
    #: Where it happened, without query strings (they may carry signatures).
    endpoint: str = ""

    def __str__(self) -> str:
        return f"{self.message} ({self.endpoint})" if self.endpoint else self.message


class ConnectFailed(TransportError):
    """A connection could not be opened (refused, DNS, TLS handshake)."""


class ConnectionLost(TransportError):
    """An established connection closed or broke."""


class TransportTimeout(TransportError):
    """No answer within the caller's deadline; for order requests the outcome is unknown."""


# -- protocol ------------------------------------------------------------------------------------------------


class RecoveryHint(enum.StrEnum):
    """What the receiver of a :class:`RemoteProtocolError` should do (after h11's ``error_status_hint``)."""

    #: Log and count the frame, keep the connection and the book.
    DROP = "drop"
    #: The book for this instrument is no longer trustworthy: mark it stale and resync it.
    RESYNC = "resync"
    #: The connection is unusable: reconnect (and resync everything it carried).
    RECONNECT = "reconnect"


@attrs.define(auto_exc=True, str=False)
class ProtocolError(ClobactorsError):
    """Bytes on the wire that do not follow the exchange's protocol."""

    message: str

    def __str__(self) -> str:
        return self.message


class LocalProtocolError(ProtocolError):
    """We were about to send something illegal. A bug: the actor crashes and its supervisor restarts it."""


@attrs.define(auto_exc=True, str=False)
class RemoteProtocolError(ProtocolError):
    """The exchange sent something malformed or out of order.

    ``path`` is the location inside the payload (msgspec's error path) when known; ``hint`` tells the actor
    whether to drop the frame, resync the instrument or reconnect.
    """

    hint: RecoveryHint = RecoveryHint.DROP
    instrument: str = ""
    path: str = ""

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        inst = f" [{self.instrument}]" if self.instrument else ""
        return f"{self.message}{where}{inst} (hint: {self.hint.value})"


@attrs.define(auto_exc=True, str=False)
class SequenceGap(RemoteProtocolError):
    """A book update does not follow the last applied one; the instrument must be resynced."""

    expected: int | None = None
    received: int | None = None


# -- exchange answers ----------------------------------------------------------------------------------------


@attrs.define(auto_exc=True, str=False)
class ExchangeError(ClobactorsError):
    """The exchange answered a request with an error."""

    message: str
    exchange: str = ""
    #: The exchange's own error code (``-2010``, ``51008``...) as a string, empty if it gave none.
    code: str = ""
    #: HTTP status, 0 for WebSocket answers.
    status: int = 0

    def __str__(self) -> str:
        bits = [b for b in (self.exchange, f"code {self.code}" if self.code else "") if b]
        prefix = f"[{', '.join(bits)}] " if bits else ""
        return f"{prefix}{self.message}"


class AuthenticationFailed(ExchangeError):
    """Key, signature or timestamp refused."""


@attrs.define(auto_exc=True, str=False)
class RateLimited(ExchangeError):
    """The exchange says we sent too much. Wait ``retry_after`` seconds; ``banned`` means an IP ban (418)."""

    retry_after: float | None = None
    banned: bool = False


class ExchangeUnavailable(ExchangeError):
    """5xx or maintenance. For an order request the outcome is unknown until the exchange is asked."""


@attrs.define(auto_exc=True, str=False)
class OrderRejected(ExchangeError):
    """An order was refused. ``local`` is true when our trading rules refused it before it left."""

    client_order_id: str = ""
    local: bool = False


class InsufficientBalance(OrderRejected):
    """Not enough free balance or margin for the order."""


class TradingRuleViolation(OrderRejected):
    """Price, size or notional does not fit the instrument's tick, lot or minimum."""


@attrs.define(auto_exc=True, str=False)
class UnknownOrder(ExchangeError):
    """The exchange does not know the order (already gone, or never arrived)."""

    client_order_id: str = ""


# -- runtime -------------------------------------------------------------------------------------------------


@attrs.define(auto_exc=True, str=False)
class ActorUnavailable(ClobactorsError):
    """An ``ask`` went to an actor whose inbox is closed (it stopped or is restarting)."""

    actor: str

    def __str__(self) -> str:
        return f"actor {self.actor!r} is not running"


@attrs.define(auto_exc=True, str=False)
class SupervisorEscalated(ClobactorsError):
    """A supervisor saw more than ``max_restarts`` restarts within ``window`` seconds and gave up.

    It has stopped its children in order; its parent decides what happens next.
    """

    supervisor: str
    restarts: int
    window: float
    last_error: str = ""

    def __str__(self) -> str:
        return (
            f"supervisor {self.supervisor!r} escalated after {self.restarts} restarts in "
            f"{self.window:g}s (last error: {self.last_error or 'n/a'})"
        )
