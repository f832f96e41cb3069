"""The public perpetuals API of a perpetual :class:`~clobactors.sim.Engine` (``engine.perps``).

Account settings (leverage, margin type, position mode), positions and margin balances valued at the mark,
income history, mark/index/funding per symbol, and the clock-driven parts: every call into a perpetual
engine first *advances* it to its ``now_ns``:

* each scheduled funding time at or before ``now_ns`` (00:00, 08:00, 16:00 UTC) is settled at exactly that
  time: the mark is refreshed, the interval's rate computed (:mod:`.funding`), every open position pays or
  receives, and the events carry the funding time (a :class:`FundingEvent` per symbol, an ACCOUNT_UPDATE with
  reason FUNDING_FEE per account, FUNDING_FEE income records);
* then, at most once per ``mark_refresh`` (1 s), marks and indexes are recomputed from the books, a premium
  sample is taken, and accounts whose margin ratio crossed the threshold get a :class:`MarginCallEvent`.

A face wakes the engine at funding times (its timer), so settlements happen on schedule even when nobody
trades. Liquidation is reported (liquidation price, MARGIN_CALL) but never executed.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import final

from clobactors.errors import ConfigError
from clobactors.model import MarginType, PositionMode, PositionSide, Side
from clobactors.sim.execution import Executor
from clobactors.sim.funding import funding_rate, mark_ticks, next_funding_ns, payment_units, premium
from clobactors.sim.perp import PerpState, margin_need
from clobactors.sim.perp_records import (
    AccountConfigEvent,
    FundingEvent,
    Income,
    IncomeType,
    MarginBalance,
    MarginCallEvent,
    PerpReject,
    PositionInfo,
    PremiumInfo,
    UpdateReason,
)
from clobactors.sim.records import Rejection
from clobactors.sim.rules import RejectReason, Scale

__all__ = ["Perps"]


def _reject(perp: PerpReject, message: str) -> Rejection:
    return Rejection(reason=RejectReason.INVALID_ORDER, message=message, perp=perp)


@final
class Perps:
    """Perpetual settings, valuations and the funding clock of one engine; see the module docstring."""

    def __init__(self, state: PerpState, executor: Executor) -> None:
        self._state = state
        self._x = executor
        self._next_funding: int | None = None
        self._last_refresh = -1
        self._samples: dict[str, list[Decimal]] = {s: [] for s in state.scales}
        self._settled: dict[str, Decimal] = {}
        self._index_override: dict[str, Decimal] = {}
        self._fundings = 0

    # -- the clock -----------------------------------------------------------------------------------------

    def advance(self, now_ns: int) -> None:
        """Settle due fundings and refresh marks (module docstring); emits events into the engine's log."""
        interval = self._state.settings.funding_interval_ns
        if self._next_funding is None:
            self._next_funding = next_funding_ns(now_ns, interval)
        while self._next_funding <= now_ns:
            at = self._next_funding
            self._refresh(at)
            self._settle_funding(at)
            self._next_funding = at + interval
        if now_ns // self._state.settings.mark_refresh_ns > self._last_refresh:
            self._refresh(now_ns)

    def next_funding_ns(self, now_ns: int) -> int:
        self.advance(now_ns)
        assert self._next_funding is not None
        return self._next_funding

    def set_index_price(self, symbol: str, price: Decimal | None) -> None:
        """Use ``price`` as the index from now on (``None``: back to the book's mid)."""
        self._scale(symbol)
        if price is None:
            self._index_override.pop(symbol, None)
        elif not price.is_finite() or price <= 0:
            raise ConfigError(f"index price must be positive, got {price}")
        else:
            self._index_override[symbol] = price

    def _refresh(self, now_ns: int) -> None:
        state = self._state
        self._last_refresh = now_ns // state.settings.mark_refresh_ns
        for symbol, scale in state.scales.items():
            book = state.books[symbol]
            bid, ask = book.best(Side.BUY), book.best(Side.SELL)
            bid_t = None if bid is None else bid.price
            ask_t = None if ask is None else ask.price
            index = self._index_override.get(symbol)
            if index is None and bid_t is not None and ask_t is not None:
                index = scale.price(bid_t + ask_t) / 2
            if index is not None:
                state.index[symbol] = index
            index = state.index.get(symbol)
            index_t = None if index is None else max(1, int((index / scale.rules.tick_size).to_integral_value()))
            mark = mark_ticks(bid_t, ask_t, state.last_price.get(symbol), index_t)
            if mark is not None:
                state.marks[symbol] = mark
                if index is not None:
                    self._samples[symbol].append(premium(scale.price(mark), index))
        self._margin_calls(now_ns)

    def _settle_funding(self, at: int) -> None:
        state, ledger = self._state, self._state.ledger
        for symbol, scale in state.scales.items():
            settings = state.settings
            rate = funding_rate(
                self._samples[symbol], settings.interest_rate, settings.premium_clamp, settings.funding_cap
            )
            self._samples[symbol] = []
            mark = state.marks.get(symbol)
            if mark is None:
                continue
            self._settled[symbol] = rate
            asset = scale.rules.quote
            for account_id, account in ledger.accounts.items():
                for (pos_symbol, _), pos in account.positions.items():
                    if pos_symbol != symbol or pos.lots == 0:
                        continue
                    units = payment_units(pos.lots, mark, scale.quote_per_tick_lot, rate)
                    ledger.credit(account_id, asset, units, at, other=True)
                    ledger.collect_residue(asset, -units)
                    ledger.record(account_id, symbol, IncomeType.FUNDING_FEE, units, asset, at)
            self._fundings += 1
            self._x.events.append(FundingEvent(ts_ns=at, symbol=symbol, rate=rate, mark_price=scale.price(mark)))
        state.reason = UpdateReason.FUNDING_FEE
        self._x.events.extend(state.flush(at))

    def _margin_calls(self, now_ns: int) -> None:
        state = self._state
        threshold = state.settings.margin_call_ratio
        for account_id, account in state.ledger.accounts.items():
            open_keys = [k for k, p in account.positions.items() if p.lots]
            if not open_keys:
                account.margin_called = False
                continue
            risky = False
            for asset in {state.asset(symbol) for symbol, _ in open_keys}:
                value = state.valuation(account_id, asset)
                balance = value.cross_wallet + value.cross_upnl
                risky = risky or balance <= 0 or value.maint >= threshold * balance
            if risky and not account.margin_called:
                asset = state.asset(open_keys[0][0])
                self._x.events.append(
                    MarginCallEvent(
                        ts_ns=now_ns,
                        account_id=account_id,
                        cross_wallet_balance=state.ledger.amount(
                            asset, state.valuation(account_id, asset).cross_wallet
                        ),
                        positions=tuple(state.position_info(account_id, k) for k in open_keys),
                    )
                )
            account.margin_called = risky

    # -- settings ------------------------------------------------------------------------------------------

    def position_mode(self, account_id: str) -> PositionMode:
        return self._state.ledger.account(account_id).mode

    def leverage(self, account_id: str, symbol: str) -> int:
        self._scale(symbol)
        return self._state.leverage(self._state.ledger.account(account_id), symbol)

    def margin_type(self, account_id: str, symbol: str) -> MarginType:
        self._scale(symbol)
        return self._state.margin_type(self._state.ledger.account(account_id), symbol)

    def max_notional(self, leverage: int) -> Decimal:
        return self._state.settings.max_notional(leverage)

    def set_leverage(self, account_id: str, symbol: str, leverage: int, *, now_ns: int) -> Decimal | Rejection:
        """Change a symbol's leverage; returns its maximum notional. Open orders' margin follows."""
        self.advance(now_ns)
        state = self._state
        account = state.ledger.account(account_id)
        scale = self._scale(symbol)
        if not 1 <= leverage <= state.settings.max_leverage:
            return _reject(PerpReject.INVALID_LEVERAGE, f"leverage must be within 1..{state.settings.max_leverage}")
        held = sum(state.notional(symbol, p) for (s, _), p in account.positions.items() if s == symbol)
        if scale.quote(held) > state.settings.max_notional(leverage):
            return _reject(PerpReject.MAX_NOTIONAL, "the position exceeds the maximum notional at this leverage")
        old = state.leverage(account, symbol)
        orders = [o for o in self._x.orders.open_for(account_id, symbol) if o.margin is not None]
        before = [(o, o.locked, o.margin.leverage) for o in orders if o.margin is not None]
        account.leverage[symbol] = leverage
        asset = scale.rules.quote
        for order in orders:
            assert order.margin is not None and order.price is not None
            order.margin.leverage = leverage
            need = margin_need(scale, order.price, order.remaining, order.margin)
            state.ledger.lock(account_id, asset, need - order.locked)
            order.locked = need
        if leverage < old and state.valuation(account_id, asset).available < 0:
            for order, locked, lever in before:
                assert order.margin is not None
                state.ledger.lock(account_id, asset, locked - order.locked)
                order.locked, order.margin.leverage = locked, lever
            account.leverage[symbol] = old
            return Rejection(
                reason=RejectReason.INSUFFICIENT_BALANCE,
                message="leverage is smaller than permitted: insufficient margin balance",
                perp=PerpReject.LEVERAGE_MARGIN,
            )
        self._x.events.append(AccountConfigEvent(ts_ns=now_ns, account_id=account_id, symbol=symbol, leverage=leverage))
        return state.settings.max_notional(leverage)

    def set_margin_type(
        self, account_id: str, symbol: str, margin_type: MarginType, *, now_ns: int
    ) -> Rejection | None:
        """Cross or isolated for one symbol; only with no open order and no position on it (as Binance)."""
        self.advance(now_ns)
        account = self._state.ledger.account(account_id)
        self._scale(symbol)
        if self._state.margin_type(account, symbol) is margin_type:
            return _reject(PerpReject.NO_CHANGE, "no need to change margin type")
        if self._x.orders.open_for(account_id, symbol):
            return _reject(PerpReject.OPEN_ORDERS, "margin type cannot be changed if there exists open orders")
        if any(p.lots for (s, _), p in account.positions.items() if s == symbol):
            return _reject(PerpReject.OPEN_POSITION, "margin type cannot be changed if there exists position")
        account.margin_type[symbol] = margin_type
        for (s, _), pos in account.positions.items():
            if s == symbol:
                pos.margin_type, pos.isolated_wallet = margin_type, 0
        return None

    def set_position_mode(self, account_id: str, mode: PositionMode, *, now_ns: int) -> Rejection | None:
        """One-way or hedge for every symbol; only with no open order and no position at all (as Binance)."""
        self.advance(now_ns)
        account = self._state.ledger.account(account_id)
        if account.mode is mode:
            return _reject(PerpReject.NO_CHANGE, "no need to change position side")
        if any(self._x.orders.open_for(account_id, s) for s in self._state.scales):
            return _reject(PerpReject.OPEN_ORDERS, "position side cannot be changed if there exists open orders")
        if any(p.lots for p in account.positions.values()):
            return _reject(PerpReject.OPEN_POSITION, "position side cannot be changed if there exists position")
        account.mode = mode
        account.positions.clear()  # all flat: the legs change shape; accumulated PnL restarts
        return None

    # -- queries -------------------------------------------------------------------------------------------

    def positions(self, account_id: str, symbol: str | None = None, *, now_ns: int) -> tuple[PositionInfo, ...]:
        """Every leg of every symbol (or one symbol), flat ones included, in symbol order (Binance V2)."""
        self.advance(now_ns)
        account = self._state.ledger.account(account_id)
        if symbol is not None:
            self._scale(symbol)
        symbols = tuple(self._state.scales) if symbol is None else (symbol,)
        return tuple(
            self._state.position_info(account_id, (s, leg)) for s in symbols for leg in self._state.legs(account)
        )

    def position(self, account_id: str, symbol: str, side: PositionSide = PositionSide.BOTH) -> PositionInfo:
        """One leg as it stands (no clock advance: a pure read for tests and invariants)."""
        self._state.ledger.account(account_id)
        self._scale(symbol)
        return self._state.position_info(account_id, (symbol, side))

    def margin_balances(self, account_id: str, *, now_ns: int) -> tuple[MarginBalance, ...]:
        self.advance(now_ns)
        account = self._state.ledger.account(account_id)
        return tuple(self._state.margin_balance(account_id, asset) for asset in sorted(account.wallet))

    def margin_balance(self, account_id: str, asset: str) -> MarginBalance:
        """One asset as it stands (no clock advance)."""
        self._state.ledger.account(account_id)
        return self._state.margin_balance(account_id, asset)

    def income(
        self,
        account_id: str,
        *,
        symbol: str | None = None,
        income_type: IncomeType | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        now_ns: int,
    ) -> tuple[Income, ...]:
        """Income records, oldest first, filtered (the account keeps its last 10 000)."""
        self.advance(now_ns)
        account = self._state.ledger.account(account_id)
        return tuple(
            i for i in account.incomes
            if (symbol is None or i.symbol == symbol) and (income_type is None or i.income_type is income_type)
            and (start_ns is None or i.ts_ns >= start_ns) and (end_ns is None or i.ts_ns <= end_ns)
        )  # fmt: skip

    def premium(self, symbol: str, *, now_ns: int) -> PremiumInfo:
        """Mark, index, estimated funding rate and next funding time of ``symbol``."""
        scale = self._scale(symbol)
        next_ns = self.next_funding_ns(now_ns)
        state, settings = self._state, self._state.settings
        mark = state.marks.get(symbol)
        rate = funding_rate(self._samples[symbol], settings.interest_rate, settings.premium_clamp, settings.funding_cap)
        zero = Decimal(0)
        return PremiumInfo(
            symbol=symbol,
            mark_price=zero if mark is None else scale.price(mark),
            index_price=state.index.get(symbol, zero),
            funding_rate=rate,
            last_settled_rate=self._settled.get(symbol),
            interest_rate=settings.interest_rate,
            next_funding_ns=next_ns,
            ts_ns=now_ns,
        )

    def totals(self) -> dict[str, Decimal]:
        """Per margin asset: sum of (wallet - position basis) plus fees and funding residue (== deposits)."""
        ledger = self._state.ledger
        sums: dict[str, int] = {}
        for source in (ledger.fees, ledger.funding_residue):
            for asset, units in source.items():
                sums[asset] = sums.get(asset, 0) + units
        for account in ledger.accounts.values():
            for asset, units in account.wallet.items():
                sums[asset] = sums.get(asset, 0) + units
            for (symbol, _), pos in account.positions.items():
                asset = self._state.asset(symbol)
                sums[asset] = sums.get(asset, 0) - pos.basis
        return {asset: ledger.amount(asset, units) for asset, units in sorted(sums.items())}

    def deposits(self) -> dict[str, Decimal]:
        ledger = self._state.ledger
        return {asset: ledger.amount(asset, units) for asset, units in sorted(ledger.deposits.items())}

    def funding_residue(self) -> dict[str, Decimal]:
        ledger = self._state.ledger
        return {asset: ledger.amount(asset, units) for asset, units in sorted(ledger.funding_residue.items())}

    def fundings_settled(self) -> int:
        return self._fundings

    def accounts(self) -> Iterable[str]:
        return tuple(self._state.ledger.accounts)

    def _scale(self, symbol: str) -> Scale:
        if symbol not in self._state.scales:
            raise ConfigError(f"unknown symbol {symbol!r}")
        return self._state.scales[symbol]
