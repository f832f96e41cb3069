"""Funding payments the user stream missed, fetched over REST and published once.

A :class:`~clobactors.messages.FundingPayment` reaches strategies from the user stream (Binance USD-M
``ACCOUNT_UPDATE`` with reason ``FUNDING_FEE``). One settled while the stream was down (a reconnect, a
restart) would never be published, and a strategy's PnL would miss it. So every reconciliation of a
perpetual venue (:mod:`clobactors.actors.reconcile`) also asks the exchange for its funding history
(:func:`reconcile_funding`), and :class:`FundingLedger`, which the
:class:`~clobactors.actors.account_book.AccountBook` consults for every payment whatever its source, lets
each settlement through once.

**Matching.** The two sources do not describe one settlement alike. The REST history lists one row per
instrument; a cross-margin ``ACCOUNT_UPDATE`` carries the asset's *total* change and no instrument (Binance
names the position only when it is isolated, and then sends one event per isolated position). What both
share is the asset and the settlement time, so the ledger groups payments into *settlements*: one asset,
exchange times within ``match_window`` of each other (the two sources stamp a settlement separately, but an
asset settles at most once an hour). Within a settlement it remembers the instruments published (``""`` for
the stream's total) and whether a fetched (REST) row was published; a payment is a duplicate when

* its instrument (or ``""``) was already published in the settlement, from either source;
* it is the stream's total and a fetched list was published: that list named every instrument of it;
* it is a fetched row and the stream's total was published (rows of isolated positions were published under
  their own names, so they are caught by the first rule).

A fetched row with the exchange's payment id (Binance's ``tranId``) is matched by that id instead of its
instrument: in hedge mode the LONG and SHORT legs of one instrument settle at one instant as two rows, two
payments; a row listed again by an overlapping page has the same id. The user stream gives no id: two
*isolated* legs of one instrument (hedge mode) come as two named stream events of one instant, and the second
is taken for a repeat; REST then brings neither (the stream published that instrument), so one leg is missed.

One case stays wrong: when the stream delivered a settlement's cross-margin total but lost an isolated
position's event of the same instant (both come on one connection at once), the isolated row fetched later
counts as part of that total and is not published.

**Bounded memory.** Settlements older than ``retention`` (24 h) before the newest payment seen are forgotten;
a payment older than that is refused (counted in :attr:`FundingLedgerStatistics.expired`), since the ledger
can no longer tell whether it was published. Fetches never reach back that far (:meth:`FundingLedger.resume_ms`).

**Across restarts.** With an :class:`~clobactors.order_journal.OrderJournal`, the account book journals every
payment it publishes and replays the journal's into a new ledger (:meth:`FundingLedger.restore`), so a
restarted process neither publishes again what an earlier one did nor fetches from further back than it did.

**Where fetching resumes**, as for fills (``reconcile._fills_since``): at the newest payment a fetch returned
minus ``fill_margin`` (late rows, skewed clocks), or ``fill_lookback`` before now until a fetch returned any.
Only fetched payments move it: one the stream brought must not make a fetch skip a settlement the stream lost
before it.
"""

from __future__ import annotations

import bisect
import logging
from typing import TYPE_CHECKING, Final, final

import attrs

from clobactors.actors.order_clock import signed_rest
from clobactors.actors.perp import as_perp
from clobactors.errors import ConfigError
from clobactors.order_journal_records import DEFAULT_FUNDING_RETENTION
from clobactors.ratelimit import Priority

if TYPE_CHECKING:
    from clobactors.actors.account_book import AccountBook
    from clobactors.actors.actor import Context
    from clobactors.actors.exchange import ExchangeLink
    from clobactors.actors.order_clock import ClockKeeper
    from clobactors.actors.reconcile import ResolvePolicy
    from clobactors.httpspec import HttpRequestSpec
    from clobactors.messages import FundingPayment

__all__ = ["MAX_PAGES", "FundingLedger", "FundingLedgerStatistics", "reconcile_funding"]

logger: Final = logging.getLogger(__name__)

#: Pages fetched by one reconciliation at most; the next one continues where it stopped.
MAX_PAGES: Final = 10
_NS_PER_MS: Final = 1_000_000
_NS_PER_S: Final = 1_000_000_000


@final
@attrs.frozen
class FundingLedgerStatistics:
    """Counters of a :class:`FundingLedger`."""

    #: Payments let through (published).
    published: int
    #: Payments refused because their settlement was already published (by the other source, or again).
    duplicates: int
    #: Payments refused because they were older than the ledger's memory.
    expired: int
    #: Payments without an exchange time: published, never matched.
    untimed: int
    #: Settlements remembered now.
    settlements: int
    #: Payments an earlier process published, replayed from the order journal (:meth:`FundingLedger.restore`).
    restored: int = 0


@attrs.define
class _Settlement:
    """One asset's funding at one instant: what of it was published."""

    ts_ns: int
    instruments: set[str] = attrs.field(factory=set)
    #: A fetched (REST) row of it was published: the exchange's list names every instrument.
    fetched: bool = False
    #: Ids of the fetched rows published, and the instruments of the payments published without one (the user
    #: stream's, ``""`` for its total; rows journaled before ids were kept).
    ids: set[str] = attrs.field(factory=set)
    unnamed: set[str] = attrs.field(factory=set)

    def covers(self, instrument: str, fetched: bool, payment_id: str = "") -> bool:
        """Whether a payment of ``instrument`` from that source was published already (module docstring)."""
        if fetched and payment_id:  # one row of the exchange's list: a repeat of itself, or of the stream's
            return payment_id in self.ids or "" in self.unnamed or instrument in self.unnamed
        if instrument in self.instruments:
            return True
        if not instrument:
            return not fetched and self.fetched
        return fetched and "" in self.instruments


def _ts(settlement: _Settlement) -> int:
    return settlement.ts_ns


@final
@attrs.define
class FundingLedger:
    """Which funding settlements were published, so each is published once (see the module docstring)."""

    #: Seconds of exchange time a settlement is remembered after the newest payment seen.
    retention: float = DEFAULT_FUNDING_RETENTION
    #: Seconds apart the two sources may stamp one settlement.
    match_window: float = 60.0
    #: Settlements per asset, oldest first.
    _settlements: dict[str, list[_Settlement]] = attrs.field(factory=dict, init=False)
    _newest_ns: int | None = attrs.field(default=None, init=False)
    _fetched_ns: int | None = attrs.field(default=None, init=False)
    _published: int = attrs.field(default=0, init=False)
    _duplicates: int = attrs.field(default=0, init=False)
    _expired: int = attrs.field(default=0, init=False)
    _untimed: int = attrs.field(default=0, init=False)
    _restored: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if not (self.match_window >= 0 and self.retention > self.match_window):
            raise ConfigError(
                f"funding ledger: need 0 <= match_window < retention, got {self.match_window} and {self.retention}"
            )

    def admit(self, payment: FundingPayment, *, fetched: bool = False) -> bool:
        """Record ``payment`` and say whether to publish it (``False``: already published, or too old).

        ``fetched``: it comes from the exchange's funding history (REST), not from the user stream.
        """
        ts = payment.ts_exchange
        if ts <= 0:
            self._untimed += 1
            self._published += 1
            return True
        if fetched:
            self._fetched_ns = ts if self._fetched_ns is None else max(self._fetched_ns, ts)
        if self._expired_at(ts):
            self._expired += 1
            logger.debug("funding payment of %s at %d older than the ledger's memory: refused", payment.asset, ts)
            return False
        settlement = self._find(payment.asset, ts)
        if settlement is not None and settlement.covers(payment.instrument, fetched, payment.payment_id):
            self._duplicates += 1
            return False
        self._remember(settlement, payment.asset, payment.instrument, ts, fetched, payment.payment_id)
        self._published += 1
        return True

    def restore(self, asset: str, instrument: str, ts: int, *, fetched: bool, payment_id: str = "") -> None:
        """Remember a payment an earlier process published (its order journal's record), as :meth:`admit`
        would have when it let it through; a fetched one moves where the next fetch resumes. Not counted as
        published: this process did not publish it."""
        if ts <= 0:
            return
        if fetched:
            self._fetched_ns = ts if self._fetched_ns is None else max(self._fetched_ns, ts)
        if self._expired_at(ts):
            return
        self._remember(self._find(asset, ts), asset, instrument, ts, fetched, payment_id)
        self._restored += 1

    def resume_ms(self, now_ms: int, lookback: float, margin: float) -> int:
        """Where the next fetch starts (exchange ms): the newest fetched payment (or ``lookback`` seconds before
        ``now_ms`` until a fetch returned one) minus ``margin`` seconds, never before what the ledger remembers."""
        since = now_ms - round(lookback * 1000) if self._fetched_ns is None else self._fetched_ns // _NS_PER_MS
        since -= round(margin * 1000)
        if self._newest_ns is not None:
            since = max(since, -(-(self._newest_ns - self._retention_ns) // _NS_PER_MS))
        return max(since, 0)

    def statistics(self) -> FundingLedgerStatistics:
        return FundingLedgerStatistics(
            published=self._published,
            duplicates=self._duplicates,
            expired=self._expired,
            untimed=self._untimed,
            settlements=sum(len(s) for s in self._settlements.values()),
            restored=self._restored,
        )

    @property
    def _retention_ns(self) -> int:
        return round(self.retention * _NS_PER_S)

    def _expired_at(self, ts: int) -> bool:
        return self._newest_ns is not None and ts < self._newest_ns - self._retention_ns

    def _remember(
        self, settlement: _Settlement | None, asset: str, instrument: str, ts: int, fetched: bool, payment_id: str
    ) -> None:
        """Add ``instrument`` to ``settlement`` (a new one of ``asset`` at ``ts`` when ``None``); forget what the
        newest payment puts beyond the ledger's memory."""
        if settlement is None:
            settlement = _Settlement(ts)
            bisect.insort(self._settlements.setdefault(asset, []), settlement, key=_ts)
        settlement.instruments.add(instrument)
        settlement.fetched |= fetched
        if payment_id:
            settlement.ids.add(payment_id)
        else:
            settlement.unnamed.add(instrument)
        if self._newest_ns is None or ts > self._newest_ns:
            self._newest_ns = ts
            self._forget_before(ts - self._retention_ns)

    def _find(self, asset: str, ts: int) -> _Settlement | None:
        """The settlement of ``asset`` closest to ``ts`` within the match window, if any."""
        known = self._settlements.get(asset)
        if not known:
            return None
        window = round(self.match_window * _NS_PER_S)
        first = bisect.bisect_left(known, ts - window, key=_ts)
        near = [s for s in known[first:] if s.ts_ns <= ts + window]
        return min(near, key=lambda s: abs(s.ts_ns - ts), default=None)

    def _forget_before(self, horizon_ns: int) -> None:
        for asset, known in list(self._settlements.items()):
            cut = bisect.bisect_left(known, horizon_ns, key=_ts)
            if cut == len(known):
                del self._settlements[asset]
            elif cut:
                del known[:cut]


async def reconcile_funding(
    ctx: Context,
    link: ExchangeLink,
    book: AccountBook,
    policy: ResolvePolicy,
    *,
    clock: ClockKeeper | None = None,
) -> int:
    """Fetch the funding payments since :meth:`FundingLedger.resume_ms` and publish, in time order, those the
    book's ledger has not seen; return how many were new. A spot venue: 0, and no request.

    Each page is a signed query at ``QUERY`` priority (resent once after a clock sync if refused for its
    timestamp). The dialect's paging rule (:meth:`~clobactors.exchanges.standard.PerpDialect.funding_next_page`,
    by the rows the exchange sent) says where the next page starts, up to :data:`MAX_PAGES` pages; rows a page
    repeats are duplicates, and the next reconciliation resumes from the newest fetched row anyway.
    """
    perp = as_perp(link.dialect)
    if perp is None:
        return 0
    ledger, credentials = book.funding, link.credentials
    since = ledger.resume_ms(link.now_ms(), policy.fill_lookback, policy.fill_margin)
    new = 0
    for _ in range(MAX_PAGES):

        def build(since: int = since) -> HttpRequestSpec:
            return perp.funding_payments_request(None, since, credentials, link.now_ms())

        result = await signed_rest(ctx, link, clock, build, Priority.QUERY)
        page = sorted(perp.decode_funding_payments(result, ctx.wall_ns()), key=lambda p: p.ts_exchange)
        new += await book.publish_funding(ctx, page, fetched=True)
        following = perp.funding_next_page(result, since)  # the exchange's paging, by the rows it sent
        if following is None:
            return new
        if following == since + 1:
            logger.warning("%s: a whole page of funding rows at %d ms: later rows of that instant may be missed",
                           link.name, since)  # fmt: skip
        since = following
    logger.warning("%s: funding history longer than %d pages; the next reconciliation continues", link.name, MAX_PAGES)
    return new
