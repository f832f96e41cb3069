"""Core vocabulary shared by every layer: instruments, sides, order types, statuses.

Canonical instrument naming (one scheme for every exchange; the exchange's own symbol is kept beside it):

=====================  ============================  =======================================
kind                   canonical name                example (exchange symbol)
=====================  ============================  =======================================
spot                   ``BASE-QUOTE``                ``BTC-USDT``  (Binance ``BTCUSDT``)
linear perpetual       ``BASE-QUOTE-PERP``           ``BTC-USDT-PERP`` (Binance USD-M ``BTCUSDT``)
inverse / other settle ``BASE-QUOTE-PERP:SETTLE``    ``BTC-USD-PERP:BTC`` (Binance COIN-M ``BTCUSD_PERP``)
=====================  ============================  =======================================

Assets are upper case exchange-neutral codes (``BTC``, ``USDT``). A perpetual whose settlement asset is its
quote asset omits the ``:SETTLE`` suffix, as nearly all USDT-margined perpetuals do. Names are parsed with
:meth:`Instrument.parse_name`, so a typo is a :class:`~clobactors.errors.ConfigError`, not a silent miss.

Enums are ``str`` valued so that they encode as readable lowercase strings in JSON and msgpack.
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import Final, final

import msgspec

from clobactors.errors import ConfigError

__all__ = [
    "Instrument",
    "InstrumentKind",
    "Liquidity",
    "MarginType",
    "OrderStatus",
    "OrderType",
    "PositionAction",
    "PositionMode",
    "PositionSide",
    "Side",
    "TimeInForce",
    "TERMINAL_STATUSES",
]


class Side(enum.StrEnum):
    """Which side of the book an order rests on or takes from."""

    #: Buy: rests on the bid side, takes from asks.
    BUY = "buy"
    #: Sell: rests on the ask side, takes from bids.
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    """Order types every connector supports; exotic ones stay in dialects."""

    #: Limit order: rests at its price unless its time in force says otherwise.
    LIMIT = "limit"
    #: Market order: takes liquidity at any price up to its size.
    MARKET = "market"
    #: Post-only limit order: rejected (never filled as taker) if it would cross the book on entry.
    LIMIT_MAKER = "limit_maker"


class TimeInForce(enum.StrEnum):
    """How long an order may live."""

    #: Good till cancelled.
    GTC = "gtc"
    #: Immediate or cancel: fill what crosses now, cancel the rest.
    IOC = "ioc"
    #: Fill or kill: fill entirely now or not at all.
    FOK = "fok"


class OrderStatus(enum.StrEnum):
    """Lifecycle state of one order; the transition table lives in :mod:`clobactors.orders`."""

    #: Tracked locally, request sent or about to be sent, no answer yet.
    PENDING_CREATE = "pending_create"
    #: Accepted by the exchange and resting, nothing filled.
    OPEN = "open"
    #: Resting with part of its size filled.
    PARTIALLY_FILLED = "partially_filled"
    #: Completely filled (terminal).
    FILLED = "filled"
    #: Cancel requested, no answer yet.
    PENDING_CANCEL = "pending_cancel"
    #: Cancelled, possibly after partial fills (terminal).
    CANCELLED = "cancelled"
    #: Refused by the exchange or by local trading rules (terminal).
    REJECTED = "rejected"
    #: Ended by the exchange: IOC/FOK remainder, expiry, self-trade prevention (terminal).
    EXPIRED = "expired"
    #: The outcome of a request is not known (timeout, dropped connection, 5xx). Never treated as failed
    #: until the exchange says so.
    UNKNOWN = "unknown"


#: Statuses an order never leaves.
TERMINAL_STATUSES: Final = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class Liquidity(enum.StrEnum):
    """Whether a fill added liquidity (maker) or removed it (taker)."""

    #: The order was resting in the book.
    MAKER = "maker"
    #: The order crossed the book.
    TAKER = "taker"


class InstrumentKind(enum.StrEnum):
    """Spot or perpetual; dated futures and options are out of scope for now."""

    #: Spot market: trades exchange one asset for another.
    SPOT = "spot"
    #: Perpetual swap: no expiry, funding payments keep it near the index.
    PERPETUAL = "perpetual"


class PositionSide(enum.StrEnum):
    """Position side for perpetuals; ``BOTH`` in one-way mode, ``LONG``/``SHORT`` in hedge mode."""

    #: One-way mode: a single net position per instrument.
    BOTH = "both"
    #: Hedge mode: the long leg.
    LONG = "long"
    #: Hedge mode: the short leg.
    SHORT = "short"


class PositionAction(enum.StrEnum):
    """Whether a perpetual order opens (adds to) or closes (reduces) a position."""

    #: Adds to or opens a position.
    OPEN = "open"
    #: Reduces or closes a position (reduce-only in one-way mode).
    CLOSE = "close"


class PositionMode(enum.StrEnum):
    """Account-wide position mode on a perpetual exchange."""

    #: One net position per instrument.
    ONE_WAY = "one_way"
    #: Separate long and short positions per instrument.
    HEDGE = "hedge"


class MarginType(enum.StrEnum):
    """How margin is shared between positions."""

    #: Margin shared across positions.
    CROSS = "cross"
    #: Margin isolated per position.
    ISOLATED = "isolated"


_ASSET_RE: Final = re.compile(r"^[A-Z0-9]{1,20}$")
_NAME_RE: Final = re.compile(
    r"^(?P<base>[A-Z0-9]{1,20})-(?P<quote>[A-Z0-9]{1,20})(?P<perp>-PERP(?::(?P<settle>[A-Z0-9]{1,20}))?)?$"
)


@final
class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One tradable market on one exchange: its canonical identity plus the exchange's own symbol.

    Events carry only the canonical :attr:`name` (a short string is cheaper to route and compare); the full
    record lives in the connector's trading rules and is looked up by name.
    """

    exchange: str
    kind: InstrumentKind
    base: str
    quote: str
    #: The exchange's own symbol, exactly as sent on the wire (``BTCUSDT``, ``BTC-USDT-SWAP``...).
    symbol: str
    #: Settlement asset for perpetuals; empty for spot.
    settle: str = ""

    def __post_init__(self) -> None:
        for asset in (self.base, self.quote) + ((self.settle,) if self.settle else ()):
            if not _ASSET_RE.match(asset):
                raise ConfigError(f"invalid asset code {asset!r} in instrument {self.symbol!r}")
        if self.kind is InstrumentKind.SPOT and self.settle:
            raise ConfigError(f"spot instrument {self.symbol!r} cannot have a settlement asset")

    @property
    def name(self) -> str:
        """The canonical name, e.g. ``BTC-USDT`` or ``BTC-USDT-PERP``."""
        return format_name(self.kind, self.base, self.quote, self.settle)

    @classmethod
    def spot(cls, exchange: str, base: str, quote: str, symbol: str) -> Instrument:
        return cls(exchange=exchange, kind=InstrumentKind.SPOT, base=base, quote=quote, symbol=symbol)

    @classmethod
    def perpetual(
        cls, exchange: str, base: str, quote: str, symbol: str, settle: str | None = None
    ) -> Instrument:
        return cls(
            exchange=exchange,
            kind=InstrumentKind.PERPETUAL,
            base=base,
            quote=quote,
            symbol=symbol,
            settle=settle or quote,
        )

    @staticmethod
    def parse_name(name: str) -> tuple[InstrumentKind, str, str, str]:
        """Split a canonical name into ``(kind, base, quote, settle)``; raise ConfigError if malformed."""
        match = _NAME_RE.match(name)
        if match is None:
            raise ConfigError(
                f"{name!r} is not a canonical instrument name (BASE-QUOTE, BASE-QUOTE-PERP[:SETTLE])"
            )
        base, quote = match["base"], match["quote"]
        if match["perp"]:
            return InstrumentKind.PERPETUAL, base, quote, match["settle"] or quote
        return InstrumentKind.SPOT, base, quote, ""


def format_name(kind: InstrumentKind, base: str, quote: str, settle: str = "") -> str:
    """Build a canonical name; inverse of :meth:`Instrument.parse_name`."""
    if kind is InstrumentKind.SPOT:
        return f"{base}-{quote}"
    if not settle or settle == quote:
        return f"{base}-{quote}-PERP"
    return f"{base}-{quote}-PERP:{settle}"


ZERO: Final = Decimal(0)
