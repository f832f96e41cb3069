"""The order journal's records and their replay: what :mod:`clobactors.order_journal` writes, sans-IO.

File format: one msgspec-JSON record per line, appended::

    {"op":"open","exchange":"binance","instrument":"BTC-USDT","client_order_id":"x-1","side":"buy",...}
    {"op":"done","exchange":"binance","client_order_id":"x-1","ts":1700000000000000000}
    {"op":"fill","exchange":"binance","instrument":"BTC-USDT","trade_id":"42","ts":1700000000000000000}
    {"op":"funding","exchange":"binance_usdm","asset":"USDT","instrument":"","ts":1704096000000000000,...}

**Published fills.** A ``fill`` record (its exchange time, ns) is appended when the account book publishes a
Fill, so the next process does not publish it again when the exchange's recent trade list still holds it: it
resumes fetching fills at the latest journaled fill time minus a margin, and drops fills it finds journaled.
Per instrument, the latest fill time and the trade ids at or after it minus :attr:`OrderJournal.fill_margin`
are kept (the boundary the next fetch overlaps); older ids are dropped at compaction.

**Published funding payments.** A ``funding`` record (asset, instrument or ``""`` for the user stream's
cross-margin total, exchange time, amount, and whether it was fetched over REST) is appended when the account
book publishes a :class:`~clobactors.messages.FundingPayment`, so the next process's
:class:`~clobactors.actors.funding_recovery.FundingLedger` knows it (and where its funding fetch resumes) and
does not publish it again. Those within :attr:`OrderJournal.funding_retention` (24 h, the ledger's own memory)
of the newest are kept; older ones are dropped at compaction. A journal written before funding records existed
has none, and loads as it always did.

``replay`` turns a file's bytes into the open orders, the kept fill marks and the funding payments, skipping
(and counting) a line torn by a crash or one that does not decode; it does no I/O, so it is tested on any bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, final

import attrs
import msgspec

from clobactors.model import OrderType, PositionSide, Side, TimeInForce
from clobactors.orders import TrackedOrder

__all__ = [
    "DEFAULT_FILL_MARGIN",
    "DEFAULT_FUNDING_RETENTION",
    "FillMarks",
    "FundingKey",
    "JournalReplay",
    "JournaledDone",
    "JournaledFill",
    "JournaledFunding",
    "JournaledOrder",
    "encode_kept",
    "encode_record",
    "prune_fills",
    "prune_funding",
    "replay",
]

logger: Final = logging.getLogger(__name__)


@final
class JournaledOrder(msgspec.Struct, frozen=True, kw_only=True, tag="open", tag_field="op"):
    """The ``open`` record: enough to query the order, and to report it if the exchange no longer can."""

    exchange: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    size: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    #: Wall-clock time (ns) the record was written.
    ts: int = 0

    @classmethod
    def of(cls, order: TrackedOrder, ts: int) -> JournaledOrder:
        return cls(
            exchange=order.exchange,
            instrument=order.instrument,
            client_order_id=order.client_order_id,
            side=order.side,
            order_type=order.order_type,
            size=order.size,
            price=order.price,
            time_in_force=order.time_in_force,
            reduce_only=order.reduce_only,
            position_side=order.position_side,
            ts=ts,
        )


@final
class JournaledDone(msgspec.Struct, frozen=True, kw_only=True, tag="done", tag_field="op"):
    exchange: str
    client_order_id: str
    ts: int = 0


@final
class JournaledFill(msgspec.Struct, frozen=True, kw_only=True, tag="fill", tag_field="op"):
    """The ``fill`` record: a fill published on the bus, named by its instrument and trade id."""

    exchange: str
    instrument: str
    trade_id: str
    #: The fill's exchange time (ns): where the next process resumes fetching fills.
    ts: int = 0


@final
class JournaledFunding(msgspec.Struct, frozen=True, kw_only=True, tag="funding", tag_field="op"):
    """The ``funding`` record: a funding payment published on the bus, with what the ledger matches it by."""

    exchange: str
    asset: str
    #: The position's instrument; ``""`` for the user stream's cross-margin total of the asset.
    instrument: str = ""
    #: The payment's exchange time (ns).
    ts: int
    amount: Decimal
    #: Fetched over REST (the funding history), not brought by the user stream: where the next fetch resumes.
    fetched: bool = False
    #: The exchange's id of the payment, where it gives one (journals written before it have none).
    payment_id: str = ""

    @property
    def key(self) -> FundingKey:
        return (self.asset, self.instrument, self.ts, self.fetched, self.payment_id)


#: Seconds of fills kept behind each instrument's latest one (the reconciliation's default ``fill_margin``).
DEFAULT_FILL_MARGIN: Final = 60.0

#: Seconds of funding payments kept behind the newest one (the funding ledger's default retention).
DEFAULT_FUNDING_RETENTION: Final = 86_400.0

_ENCODER: Final = msgspec.json.Encoder()
#: A record as one JSON line (without the newline).
encode_record: Final = _ENCODER.encode
_DECODER: Final = msgspec.json.Decoder(JournaledOrder | JournaledDone | JournaledFill | JournaledFunding)

#: Per instrument: trade id -> exchange time (ns) of the fills remembered as published.
FillMarks = dict[str, dict[str, int]]
#: A funding record's identity: asset, instrument (or ``""``), exchange time (ns), fetched.
FundingKey = tuple[str, str, int, bool, str]


def encode_kept(
    exchange: str, live: Iterable[JournaledOrder], fills: FillMarks, funding: Iterable[JournaledFunding]
) -> bytes:
    """The lines of a compacted journal: the open orders, the kept fill marks, the kept funding payments."""
    marks = (
        JournaledFill(exchange=exchange, instrument=name, trade_id=trade_id, ts=ts)
        for name, by_id in fills.items()
        for trade_id, ts in by_id.items()
    )
    return b"".join(encode_record(entry) + b"\n" for entry in (*live, *marks, *funding))


def prune_fills(fills: FillMarks, margin_ns: int) -> None:
    """Keep, per instrument, the fills at or after its latest fill time minus ``margin_ns`` (the latest kept)."""
    for marks in fills.values():
        if not marks:
            continue
        floor = max(marks.values()) - margin_ns
        for trade_id in [t for t, ts in marks.items() if ts < floor]:
            del marks[trade_id]


def prune_funding(funding: dict[FundingKey, JournaledFunding], retention_ns: int) -> None:
    """Keep the funding payments at or after the newest one's time minus ``retention_ns``."""
    if not funding:
        return
    floor = max(key[2] for key in funding) - retention_ns
    for key in [k for k in funding if k[2] < floor]:
        del funding[key]


@final
@attrs.frozen
class JournalReplay:
    """What a journal's bytes say: the open orders in the order they were journaled, and what was skipped."""

    open: Mapping[str, JournaledOrder]
    #: Per instrument, the published fills read (trade id -> exchange time, ns), in the order journaled.
    fills: Mapping[str, Mapping[str, int]]
    #: Complete lines holding a record.
    records: int
    #: Lines skipped: torn (no newline at the end of the file), undecodable, or of another exchange.
    dropped: int
    #: The published funding payments read, once each, in the order journaled.
    funding: tuple[JournaledFunding, ...] = ()


def replay(data: bytes, exchange: str) -> JournalReplay:
    """Fold a journal's bytes into its open set (pure: the file I/O is :class:`OrderJournal`'s)."""
    lines = data.split(b"\n")
    torn = lines.pop()  # the bytes after the last newline: empty unless a write was cut short
    dropped = 1 if torn.strip() else 0
    records = 0
    live: dict[str, JournaledOrder] = {}
    fills: FillMarks = {}
    funding: dict[FundingKey, JournaledFunding] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            record = _DECODER.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            dropped += 1
            continue
        if record.exchange != exchange:
            dropped += 1
            continue
        records += 1
        if isinstance(record, JournaledOrder):
            live.setdefault(record.client_order_id, record)
        elif isinstance(record, JournaledFill):
            fills.setdefault(record.instrument, {})[record.trade_id] = record.ts
        elif isinstance(record, JournaledFunding):
            funding.setdefault(record.key, record)
        else:
            live.pop(record.client_order_id, None)
    return JournalReplay(open=live, fills=fills, records=records, dropped=dropped, funding=tuple(funding.values()))
