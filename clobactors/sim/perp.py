"""Perpetual margining: positions, margin requirements and valuation, and how a trade settles.

Linear USDT-margined contracts: the instrument's quote asset is the margin asset; a trade of ``lots`` at
``price`` moves no base asset, it changes both parties' positions (:mod:`.positions`), realizes PnL into
their wallets and takes fees in the quote asset. :class:`PerpState` values positions at the mark price and
answers margin questions; :class:`PerpSettlement` is the :class:`~clobactors.sim.settlement.Settlement` the
executor calls. Rules chosen (documented for faces):

* **Order margin**, locked on entry and held per order (``SimOrder.margin``): initial margin
  ``ceil(notional / leverage)`` if the order may open or increase a position (one-way: not reduce-only;
  hedge: BUY on LONG, SELL on SHORT) - on its full size, even when it would partly reduce (Binance nets it
  against the position; the simulator is stricter) - plus the *open loss* (how far a limit is beyond the
  mark, times its size), plus the taker fee on its notional, plus one unit per lot and term for rounding. A
  resting order keeps the need of its remaining size; a fill releases the difference.
* **Available balance** = cross wallet (wallet minus isolated margins) + unrealized PnL of cross positions
  - their initial margin at the mark - order margin. An order is accepted only if it does not make it
  negative, so while the mark stands still no account's available balance goes negative (tested).
* **Isolated** positions set aside ``ceil(notional / leverage)`` plus their open loss from the cross wallet
  when they open or grow and give back a share when they shrink; their PnL is realized into the wallet. Their
  unrealized PnL does not count toward the available balance, and their liquidation price uses their
  isolated margin only.
* **Liquidation price** (reported, never executed) is Binance's single-position formula without the
  maintenance amount: ``(WB - TMM1 + UPNL1 - side*Q*EP) / (Q*MMR - side*Q)``; 0 when not positive.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, final

import attrs

from clobactors.model import MarginType, PositionMode, PositionSide, Side
from clobactors.sim.book import Book, SimOrder
from clobactors.sim.margin import MarginAccount, MarginLedger, PositionKey
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.perp_records import (
    AccountUpdateEvent,
    BalanceChange,
    IncomeType,
    MarginBalance,
    PositionInfo,
    UpdateReason,
)
from clobactors.sim.positions import OrderMargin, Position, apply_fill
from clobactors.sim.records import EngineEvent
from clobactors.sim.rules import Scale, fee_units
from clobactors.sim.settlement import OpenOrders, PartyFill, Traded

__all__ = ["PerpSettlement", "PerpState", "Valuation", "closes", "lock_check", "margin_need", "position_side_of"]

_PRICE_QUANTUM: Final = Decimal("0.00000001")
_ZERO: Final = Decimal(0)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def margin_need(scale: Scale, price: int, lots: int, margin: OrderMargin) -> int:
    """Order margin for ``lots`` at ``price``: initial margin if it opens, open loss, taker fee, rounding."""
    if lots <= 0:
        return 0
    notional = scale.notional(price, lots)
    initial = _ceil_div(notional, margin.leverage) if margin.opens else 0
    return initial + lots * margin.loss_per_lot + fee_units(notional, scale.taker_fee) + 2 * lots


def position_side_of(order: SimOrder) -> PositionSide:
    return order.position_side or PositionSide.BOTH


def closes(order: SimOrder) -> bool:
    """Whether the order can only reduce: reduce-only (one-way) or the side opposite its hedge leg."""
    if order.reduce_only:
        return True
    side = order.position_side
    return (side is PositionSide.LONG and order.side is Side.SELL) or (
        side is PositionSide.SHORT and order.side is Side.BUY
    )


@final
@attrs.frozen
class Valuation:
    """An account's margin in one asset, in units (see :class:`~clobactors.sim.perp_records.MarginBalance`)."""

    wallet: int
    isolated: int
    cross_upnl: int
    upnl: int
    position_margin: int
    order_margin: int
    maint: int

    @property
    def cross_wallet(self) -> int:
        return self.wallet - self.isolated

    @property
    def available(self) -> int:
        return self.cross_wallet + self.cross_upnl - self.position_margin - self.order_margin


@final
class PerpState:
    """Positions valued at the mark: what the settlement, admission and the public facade share."""

    def __init__(self, scales: dict[str, Scale], ledger: MarginLedger, settings: PerpSettings) -> None:
        self.scales = scales
        self.ledger = ledger
        self.settings = settings
        #: The executor's books and last trade prices (ticks), shared once it exists.
        self.books: dict[str, Book] = {}
        self.last_price: dict[str, int] = {}
        #: Mark price per symbol in ticks; index price (may fall between ticks).
        self.marks: dict[str, int] = {}
        self.index: dict[str, Decimal] = {}
        for symbol, price in settings.reference_prices.items():
            if symbol in scales:
                self.marks[symbol] = max(1, int((price / scales[symbol].rules.tick_size).to_integral_value()))
                self.index[symbol] = price
        #: Set by the engine once its order registry exists.
        self.open_orders: OpenOrders = lambda account, symbol: []
        #: Why the next flush happens (ACCOUNT_UPDATE ``m``); reset to ORDER after each flush.
        self.reason = UpdateReason.ORDER

    # -- settings ------------------------------------------------------------------------------------------

    def leverage(self, account: MarginAccount, symbol: str) -> int:
        return account.leverage.get(symbol, self.settings.default_leverage)

    def margin_type(self, account: MarginAccount, symbol: str) -> MarginType:
        return account.margin_type.get(symbol, MarginType.CROSS)

    def asset(self, symbol: str) -> str:
        return self.scales[symbol].rules.quote

    def position(self, account_id: str, symbol: str, side: PositionSide) -> Position:
        account = self.ledger.accounts[account_id]
        key = (symbol, side)
        pos = account.positions.get(key)
        if pos is None:
            pos = account.positions[key] = Position(margin_type=self.margin_type(account, symbol))
        return pos

    def legs(self, account: MarginAccount) -> tuple[PositionSide, ...]:
        return (PositionSide.BOTH,) if account.mode is PositionMode.ONE_WAY else (PositionSide.LONG, PositionSide.SHORT)

    # -- valuation (units) ---------------------------------------------------------------------------------

    def notional(self, symbol: str, pos: Position) -> int:
        """Absolute notional at the mark (at cost without a mark)."""
        mark = self.marks.get(symbol)
        return abs(pos.basis) if mark is None else abs(pos.lots) * mark * self.scales[symbol].quote_per_tick_lot

    def upnl(self, symbol: str, pos: Position) -> int:
        mark = self.marks.get(symbol)
        return 0 if mark is None else pos.unrealized(mark, self.scales[symbol].quote_per_tick_lot)

    def maint_rate(self, symbol: str, notional_units: int) -> Decimal:
        return self.settings.bracket(self.scales[symbol].quote(notional_units)).maint_rate

    def maint(self, symbol: str, pos: Position) -> int:
        notional = self.notional(symbol, pos)
        num, den = self.maint_rate(symbol, notional).as_integer_ratio()
        return _ceil_div(notional * num, den)

    def valuation(self, account_id: str, asset: str) -> Valuation:
        account = self.ledger.accounts[account_id]
        isolated = cross_upnl = upnl = im = maint = 0
        for (symbol, _), pos in account.positions.items():
            if self.asset(symbol) != asset:
                continue
            pnl = self.upnl(symbol, pos)
            upnl += pnl
            maint += self.maint(symbol, pos)
            if pos.margin_type is MarginType.ISOLATED:
                isolated += pos.isolated_wallet
            else:
                cross_upnl += pnl
                im += _ceil_div(self.notional(symbol, pos), self.leverage(account, symbol))
        return Valuation(
            wallet=account.wallet.get(asset, 0), isolated=isolated, cross_upnl=cross_upnl, upnl=upnl,
            position_margin=im, order_margin=account.order_margin.get(asset, 0), maint=maint,
        )  # fmt: skip

    def order_need(self, order: SimOrder, lots: int) -> int:
        """Margin a limit order keeps locked for ``lots`` of its size (module docstring)."""
        assert order.margin is not None and order.price is not None
        return margin_need(self.scales[order.symbol], order.price, lots, order.margin)

    # -- reports -------------------------------------------------------------------------------------------

    def _price(self, scale: Scale, units: int, lots: int) -> Decimal:
        if lots == 0:
            return _ZERO
        value = scale.quote(abs(units)) / scale.size(abs(lots))
        return value.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN).normalize() + _ZERO.quantize(
            scale.rules.tick_size
        )

    def position_info(self, account_id: str, key: PositionKey) -> PositionInfo:
        account = self.ledger.accounts[account_id]
        symbol, side = key
        scale = self.scales[symbol]
        pos = account.positions.get(key) or Position(margin_type=self.margin_type(account, symbol))
        leverage = self.leverage(account, symbol)
        mark = self.marks.get(symbol)
        notional = self.notional(symbol, pos)
        entry = self._price(scale, pos.basis, pos.lots)
        fee = scale.rules.taker_fee
        break_even = _ZERO if pos.lots == 0 else entry * (1 + fee if pos.lots > 0 else 1 - fee)
        order_margin = sum(o.locked for o in self.open_orders(account_id, symbol) if position_side_of(o) is side)
        return PositionInfo(
            account_id=account_id,
            symbol=symbol,
            position_side=side,
            size=scale.size(pos.lots),
            entry_price=entry,
            break_even_price=break_even.quantize(_PRICE_QUANTUM),
            mark_price=_ZERO if mark is None else scale.price(mark),
            unrealized_pnl=scale.quote(self.upnl(symbol, pos)),
            realized_pnl=scale.quote(pos.realized),
            notional=scale.quote(notional if pos.lots >= 0 else -notional),
            margin_type=pos.margin_type,
            isolated_wallet=scale.quote(pos.isolated_wallet),
            leverage=leverage,
            max_notional=self.settings.max_notional(leverage),
            initial_margin=scale.quote(_ceil_div(notional, leverage)),
            maint_margin=scale.quote(self.maint(symbol, pos)),
            open_order_margin=scale.quote(order_margin),
            liquidation_price=self.liquidation_price(account_id, key),
            margin_asset=scale.rules.quote,
            updated_ns=pos.updated_ns,
        )

    def liquidation_price(self, account_id: str, key: PositionKey) -> Decimal:
        """The module docstring's formula; 0 for a flat position or a non-positive result."""
        account = self.ledger.accounts[account_id]
        symbol, _ = key
        pos = account.positions.get(key)
        if pos is None or pos.lots == 0:
            return _ZERO
        scale = self.scales[symbol]
        qty = scale.size(abs(pos.lots))
        entry = scale.quote(abs(pos.basis)) / qty
        sign = 1 if pos.lots > 0 else -1
        rate = self.maint_rate(symbol, self.notional(symbol, pos))
        if pos.margin_type is MarginType.ISOLATED:
            balance = scale.quote(pos.isolated_wallet)
        else:
            value = self.valuation(account_id, scale.rules.quote)
            other_upnl = value.cross_upnl - self.upnl(symbol, pos)
            other_maint = sum(
                self.maint(s, p)
                for (s, _), p in account.positions.items()
                if p is not pos and p.margin_type is MarginType.CROSS and self.asset(s) == scale.rules.quote
            )
            balance = scale.quote(value.cross_wallet + other_upnl - other_maint)
        denominator = qty * rate - sign * qty
        if denominator == 0:
            return _ZERO
        price = (balance - sign * qty * entry) / denominator
        return _ZERO if price <= 0 else price.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)

    def margin_balance(self, account_id: str, asset: str) -> MarginBalance:
        value = self.valuation(account_id, asset)
        amount = self.ledger.amount
        return MarginBalance(
            asset=asset,
            wallet_balance=amount(asset, value.wallet),
            cross_wallet_balance=amount(asset, value.cross_wallet),
            unrealized_pnl=amount(asset, value.upnl),
            cross_unrealized_pnl=amount(asset, value.cross_upnl),
            available_balance=amount(asset, value.available),
            position_margin=amount(asset, value.position_margin + value.isolated),
            order_margin=amount(asset, value.order_margin),
            maint_margin=amount(asset, value.maint),
            updated_ns=self.ledger.accounts[account_id].updated_ns,
        )

    def flush(self, now_ns: int) -> list[EngineEvent]:
        """One ACCOUNT_UPDATE per changed account: its changed balances and positions."""
        events: list[EngineEvent] = []
        for account_id, assets, keys, other in self.ledger.take_changes():
            account = self.ledger.accounts[account_id]
            balances = []
            for asset in sorted(assets):
                value = self.valuation(account_id, asset)
                balances.append(
                    BalanceChange(
                        asset=asset,
                        wallet_balance=self.ledger.amount(asset, value.wallet),
                        cross_wallet_balance=self.ledger.amount(asset, value.cross_wallet),
                        change=self.ledger.amount(asset, other.get(asset, 0)),
                    )
                )
            positions = tuple(self.position_info(account_id, key) for key in keys if key in account.positions)
            events.append(
                AccountUpdateEvent(
                    ts_ns=now_ns, account_id=account_id, reason=self.reason, balances=tuple(balances),
                    positions=positions,
                )
            )  # fmt: skip
        self.reason = UpdateReason.ORDER
        return events


@final
@attrs.define
class PerpSettlement:
    """Trades move positions, realized PnL and fees; locks are order margin (module docstring)."""

    _state: PerpState

    def trade(
        self, scale: Scale, buyer: SimOrder, seller: SimOrder, maker: SimOrder, price: int, lots: int,
        trade_id: int, now_ns: int,
    ) -> Traded:  # fmt: skip
        notional = scale.notional(price, lots)
        fills = []
        for party, signed in ((buyer, lots), (seller, -lots)):
            fee = fee_units(notional, scale.maker_fee if party is maker else scale.taker_fee)
            realized = self._fill(party, signed, notional, price, fee, trade_id, now_ns)
            if party is maker:  # a resting order keeps the need of what remains
                need = self._state.order_need(party, party.remaining - lots)
                self.release(party, party.locked - need)
                party.locked = need
            fills.append(
                PartyFill(fee=scale.quote(fee), fee_asset=scale.rules.quote, realized_pnl=scale.quote(realized))
            )
        return Traded(quote_units=notional, buyer=fills[0], seller=fills[1])

    def _fill(
        self, order: SimOrder, signed: int, notional: int, price: int, fee: int, trade_id: int, now_ns: int
    ) -> int:
        state, ledger = self._state, self._state.ledger
        symbol, account_id = order.symbol, order.account_id
        scale, asset = state.scales[symbol], state.asset(order.symbol)
        account = ledger.accounts[account_id]
        key = (symbol, position_side_of(order))
        pos = state.position(account_id, symbol, key[1])
        before = abs(pos.lots)
        realized, reduced = apply_fill(pos, signed, notional)
        if pos.margin_type is MarginType.ISOLATED:
            if reduced:
                share = pos.isolated_wallet if reduced == before else pos.isolated_wallet * reduced // before
                pos.isolated_wallet -= share
            opened = abs(signed) - reduced
            if opened:
                part = notional - notional * reduced // abs(signed)
                mark = state.marks.get(symbol, price)
                loss = max(0, (price - mark) if signed > 0 else (mark - price)) * opened * scale.quote_per_tick_lot
                pos.isolated_wallet += _ceil_div(part, state.leverage(account, symbol)) + loss
        pos.updated_ns = now_ns
        ledger.credit(account_id, asset, realized - fee, now_ns)
        ledger.collect_fee(asset, fee)
        if realized:
            ledger.record(account_id, symbol, IncomeType.REALIZED_PNL, realized, asset, now_ns, trade_id)
        if fee:
            ledger.record(account_id, symbol, IncomeType.COMMISSION, -fee, asset, now_ns, trade_id)
        ledger.mark_position(account_id, key)
        return realized

    def resting_need(self, order: SimOrder, scale: Scale) -> int:
        return self._state.order_need(order, order.remaining)

    def release(self, order: SimOrder, units: int) -> None:
        if units:
            self._state.ledger.lock(order.account_id, order.lock_asset, -units)

    def invalidated(self, accounts: tuple[str, ...], symbol: str, open_orders: OpenOrders) -> list[SimOrder]:
        """Closing orders beyond what their position can absorb, newest first out (Binance cancels them)."""
        stale: list[SimOrder] = []
        for account_id in dict.fromkeys(accounts):
            account = self._state.ledger.accounts[account_id]
            orders = [o for o in open_orders(account_id, symbol) if closes(o)]
            if not orders:
                continue
            for leg in self._state.legs(account):
                pos = account.positions.get((symbol, leg))
                lots = 0 if pos is None else pos.lots
                room = {Side.SELL: max(0, lots), Side.BUY: max(0, -lots)}
                for order in orders:
                    if position_side_of(order) is not leg:
                        continue
                    if order.remaining <= room[order.side]:
                        room[order.side] -= order.remaining
                    else:
                        stale.append(order)
        return stale

    def flush(self, now_ns: int) -> list[EngineEvent]:
        return self._state.flush(now_ns)


def lock_check(state: PerpState, account_id: str, asset: str, need: int) -> bool:
    """Lock ``need`` units of order margin if the available balance covers it."""
    if need > state.valuation(account_id, asset).available:
        return False
    state.ledger.lock(account_id, asset, need)
    return True
