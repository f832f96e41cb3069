"""What Binance spot and USD-M document the same way, tested once over both venues.

Each case runs on both dialects, so a venue that drifts from the shared rule fails under its own id
(``[binance]`` / ``[binance_usdm]``). Venue-only behaviour stays in ``tests/exchanges/<venue>/``. The expected
values per venue come from each venue's documented payloads (``payloads/``) and doc text (the shared golden
``_common/sequence_rules.json``, read in place).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance import BinanceSpotDialect
from clobactors.exchanges.binance.sequencing import BinanceSpotBookSync
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from clobactors.exchanges.binance_usdm.dialect import DialectStatistics
from clobactors.exchanges.binance_usdm.sequencing import BinanceUsdmBookSync
from clobactors.exchanges.standard import Control, ControlKind
from clobactors.httpspec import HttpResult
from clobactors.messages import Fill
from clobactors.model import Instrument, Liquidity, Side

TESTS = Path(__file__).resolve().parents[1]
RULES = Path(__file__).resolve().parents[4] / "shared" / "golden" / "_common" / "sequence_rules.json"
RECV = 1_700_000_000_123_456_789
MS = 1_000_000


@dataclass(frozen=True)
class Venue:
    """One venue's dialect, payload folder, sync class and documented sequencing clauses."""

    name: str
    make: Callable[[], BinanceSpotDialect | BinanceUsdmDialect]
    new_sync: Callable[[], BinanceSpotBookSync | BinanceUsdmBookSync]
    #: Key in ``_common/sequence_rules.json`` and the clauses of its verbatim doc text our sync implements.
    rule_key: str
    clauses: tuple[str, ...]
    #: (payload file of the fills endpoint, the Fill its documented example decodes to).
    fills: tuple[str, Fill]

    def payload(self, name: str) -> Any:
        return json.loads((TESTS / self.name / "payloads" / name).read_text())["payload"]

    def malformed(self, dialect: BinanceSpotDialect | BinanceUsdmDialect) -> int:
        stats = dialect.statistics()
        return stats.codec.malformed if isinstance(stats, DialectStatistics) else stats.malformed


def _spot() -> BinanceSpotDialect:
    d = BinanceSpotDialect.for_environment()
    d.register_instruments([Instrument.spot("binance", "BNB", "BTC", "BNBBTC")])
    return d


def _usdm() -> BinanceUsdmDialect:
    d = BinanceUsdmDialect.for_environment()
    d.register_instruments([Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT")])
    return d


SPOT = Venue(
    name="binance",
    make=_spot,
    new_sync=lambda: BinanceSpotBookSync("BNB-BTC"),
    rule_key="binance_spot",
    clauses=(
        "Buffer the events received from the stream",
        "If the `lastUpdateId` from the snapshot is strictly less than the `U` from step 2, go back to step 3.",
        "discard any event where `u` is <= `lastUpdateId` of the snapshot",
        "The first buffered event should now have `lastUpdateId` within its `[U;u]` range.",
        "is less than the update ID of your local order book,\n      ignore the event.",
        "is greater than the update ID of your local order book + 1,\n      you have missed some events.",
        "Normally, `U` of the next event is equal to `u + 1` of the previous event.",
        "Set the order book update ID to the last update ID (`u`) in the processed event.",
    ),
    fills=(
        "http_get_myTrades.json",
        Fill(
            exchange="binance", instrument="BNB-BTC", ts_exchange=1499865549590 * MS, ts_recv=RECV,
            client_order_id="", exchange_order_id="100234", trade_id="28457", side=Side.BUY,
            price=Decimal("4.00000100"), size=Decimal("12.00000000"), fee=Decimal("10.10000000"), fee_asset="BNB",
            liquidity=Liquidity.TAKER,
        ),
    ),
)  # fmt: skip
USDM = Venue(
    name="binance_usdm",
    make=_usdm,
    new_sync=lambda: BinanceUsdmBookSync("BTC-USDT-PERP"),
    rule_key="binance_usdm",
    clauses=(
        "Buffer the events you receive from the stream.",
        "Drop any event where u is < lastUpdateId in the snapshot.",
        "The first processed event should have U <= lastUpdateId AND u >= lastUpdateId",
        "each new event's pu should be equal to the previous event's u, otherwise initialize the process from "
        "step 3.",
    ),
    fills=(
        "http_get_userTrades.json",
        Fill(
            exchange="binance_usdm", instrument="BTC-USDT-PERP", ts_exchange=1569514978020 * MS, ts_recv=RECV,
            client_order_id="", exchange_order_id="25851813", trade_id="698759", side=Side.SELL,
            price=Decimal("7819.01"), size=Decimal("0.002"), fee=Decimal("0.07819010"), fee_asset="USDT",
            liquidity=Liquidity.TAKER,
        ),
    ),
)  # fmt: skip


@pytest.fixture(params=[SPOT, USDM], ids=lambda v: v.name)
def venue(request: pytest.FixtureRequest) -> Venue:
    v: Venue = request.param
    return v


def ok(body: object) -> HttpResult:
    return HttpResult(status=200, headers=(), body=json.dumps(body).encode(), elapsed=0.0)


# -- the stream envelope (binance_common/envelope.py) ---------------------------------------------------------

#: Answers on a market connection: § Live Subscribing/Unsubscribing and § Error Messages on both venues.
CONTROL_FRAMES = [
    (b'{"result":null,"id":3}', Control(ControlKind.ACK, 3, "")),
    (b'{"result":["a"],"id":"x"}', Control(ControlKind.ACK, "x", '["a"]')),
    (b'{"result":null,"id":null}', Control(ControlKind.ACK, None, "")),
    (b'{"code":1,"msg":"Unknown property"}', Control(ControlKind.ERROR, None, "1: Unknown property")),
    (b'{"code":2,"msg":"Invalid request","id":7}', Control(ControlKind.ERROR, 7, "2: Invalid request")),
]

#: (frame, hint, msgspec path): a frame that is not a JSON object breaks the connection; an object that is
#: none of the documented shapes drops one frame.
BAD_ENVELOPES = [
    (b"", RecoveryHint.RECONNECT, ""),
    (b"not json", RecoveryHint.RECONNECT, ""),
    (b"\xff\xfe", RecoveryHint.RECONNECT, ""),
    (b'{"stream":"x@trade","data":{"e":"trade"', RecoveryHint.RECONNECT, ""),
    (b"[1,2]", RecoveryHint.RECONNECT, "$"),
    (b"null", RecoveryHint.RECONNECT, "$"),
    (b'{"stream":5,"data":{}}', RecoveryHint.RECONNECT, "$.stream"),
    (b"{}", RecoveryHint.DROP, "$"),
]


@pytest.mark.parametrize(("frame", "control"), CONTROL_FRAMES)
def test_control_frames_on_a_market_connection(venue: Venue, frame: bytes, control: Control) -> None:
    dialect = venue.make()
    assert dialect.decode_market(frame, RECV) == [control]
    assert venue.malformed(dialect) == 0


@pytest.mark.parametrize(("frame", "hint", "path"), BAD_ENVELOPES)
def test_bad_envelopes_are_typed_and_counted(venue: Venue, frame: bytes, hint: RecoveryHint, path: str) -> None:
    dialect = venue.make()
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_market(frame, RECV)
    assert (info.value.hint, info.value.path) == (hint, path)
    assert venue.malformed(dialect) == 1


# -- sequencing ---------------------------------------------------------------------------------------------


def test_no_checksums(venue: Venue) -> None:
    """Neither venue sends a book checksum: ``verify`` compares update ids only."""
    sync = venue.new_sync()
    assert sync.verify(None, 123) and sync.verify(5, 5) and not sync.verify(5, 6)


def test_rule_matches_the_documented_text(venue: Venue) -> None:
    """The cited doc text states each clause the venue's sync implements (golden file read in place)."""
    if not RULES.exists():
        pytest.skip(f"{RULES} not present")
    rule = json.loads(RULES.read_text())["exchanges"][venue.rule_key]
    assert rule["verbatim"] is True
    for clause in venue.clauses:
        assert clause in rule["text"], clause


# -- REST answers -------------------------------------------------------------------------------------------


def test_fills_endpoint_example(venue: Venue) -> None:
    """Spot ``GET /api/v3/myTrades`` and USD-M ``GET /fapi/v1/userTrades``: the documented example, exactly."""
    name, expected = venue.fills
    (fill,) = venue.make().decode_fills(ok(venue.payload(name)), RECV)
    assert fill == expected
