"""Review findings on funding reconciliation, fixed: paging that a decoder's filtering cut short, and two
hedge-mode legs of one instrument settling at one instant (told apart by the exchange's payment id)."""

from __future__ import annotations

import attrs
import msgspec
import trio.testing

from clobactors.actors.account_book import AccountBook
from clobactors.actors.funding_recovery import FundingLedger
from clobactors.actors.reconcile import ResolvePolicy
from clobactors.httpspec import HttpResult
from clobactors.messages import FundingPayment
from tests.actors.test_funding_recovery import HOUR_NS, PAGE_ROWS, T0, IncomeStub, pay, published_by
from tests.integration.test_usdm_session import BTC, EX

#: Rows of instruments the dialect's symbol table does not know (delisted), dropped by its decoder.
DELISTED = "DELISTED-"


@attrs.define
class FilteringIncomeStub(IncomeStub):
    """Decodes like the Binance USD-M codec: rows of unknown symbols are skipped, so a full page of the
    exchange's rows may decode to fewer payments than :data:`PAGE_ROWS`."""

    def decode_funding_payments(self, result: HttpResult, recv_ns: int) -> list[FundingPayment]:
        rows = msgspec.json.decode(result.body, type=list[FundingPayment])
        return [r for r in rows if not r.instrument.startswith(DELISTED)]


async def test_a_full_page_with_rows_the_decoder_drops_is_not_the_last(autojump_clock: trio.testing.MockClock) -> None:
    """A page of 1000 rows of which 400 name delisted instruments decodes to 600 payments: more rows may follow,
    so paging goes on (by the dialect's ``funding_page_extent``); it used to stop there, and the next settlement
    waited for another reconciliation (or, with enough unknown rows past the newest known one, was never
    fetched)."""
    delisted = [pay(f"{DELISTED}{i:03d}", "-1") for i in range(400)]
    known = [pay(f"P{i:03d}", "-1") for i in range(PAGE_ROWS - 400)]
    later = [pay(BTC, "-2", T0 + 8 * HOUR_NS)]
    stub = FilteringIncomeStub([*delisted, *known, *later])
    new, events = await published_by(stub, AccountBook(EX), ResolvePolicy(fill_lookback=86_400.0))
    # From the look-back, then from the full page's newest time (inclusive: the same instant again, a whole
    # page of it), then past that instant: the later settlement is fetched in the same reconciliation.
    assert len(stub.starts) == 3 and stub.starts[2] == stub.starts[1] + 1
    assert new == len(events) == len(known) + 1
    assert (events[-1].instrument, events[-1].ts_exchange) == (BTC, T0 + 8 * HOUR_NS)


def test_two_hedge_mode_legs_of_one_instrument_are_two_payments() -> None:
    """In hedge mode both legs of BTC pay (or receive) funding at one instant: GET /fapi/v1/income lists two
    FUNDING_FEE rows of BTCUSDT at one time, and isolated legs each come as their own stream event."""
    ledger = FundingLedger()
    long_leg = msgspec.structs.replace(pay(BTC, "-1.5"), payment_id="9001")
    short_leg = msgspec.structs.replace(pay(BTC, "1.25"), payment_id="9002")
    assert ledger.admit(long_leg, fetched=True)
    assert ledger.admit(short_leg, fetched=True)  # another payment, not a repeat
    assert not ledger.admit(long_leg, fetched=True)  # listed again by an overlapping page
    # The user stream's cross total of that settlement was published first: both rows are part of it.
    streamed = FundingLedger()
    assert streamed.admit(pay("", "-0.25", T0 + 2_000_000))
    assert not streamed.admit(long_leg, fetched=True) and not streamed.admit(short_leg, fetched=True)


def test_the_same_fetched_row_twice_is_still_a_duplicate() -> None:
    """Overlapping pages list a row again: that must stay a duplicate whatever fixes the case above."""
    ledger = FundingLedger()
    assert ledger.admit(pay(BTC, "-1.5"), fetched=True)
    assert not ledger.admit(pay(BTC, "-1.5"), fetched=True)
    assert ledger.statistics().published == 1
    assert ledger.admit(pay(BTC, "-1.5", T0 + 8 * HOUR_NS), fetched=True)


def test_a_restored_leg_is_known_by_its_id() -> None:
    """The journal keeps each fetched row's payment id: after a restart the leg published before is a repeat,
    the other leg of that instant still a payment of its own."""
    ledger = FundingLedger()
    ledger.restore("USDT", BTC, T0, fetched=True, payment_id="9001")
    long_leg = msgspec.structs.replace(pay(BTC, "-1.5"), payment_id="9001")
    short_leg = msgspec.structs.replace(pay(BTC, "1.25"), payment_id="9002")
    assert not ledger.admit(long_leg, fetched=True)
    assert ledger.admit(short_leg, fetched=True)
