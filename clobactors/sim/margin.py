"""Perpetual accounts: wallets, margin locked by orders, positions, settings, income, and change tracking.

The futures counterpart of :class:`~clobactors.sim.accounts.Ledger`, in exact signed integers: a wallet may
go negative (a loss beyond the balance; the simulator does not liquidate). Money moves through four doors
only, so conservation is easy to state: deposits, realized PnL (which moves between traders, see
:mod:`.positions`), fees (to the exchange), and funding (between traders; rounding residue to the exchange).
For every margin asset: ``sum(wallet - position basis) + fees + funding residue == deposits``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import MarginType, PositionMode, PositionSide
from clobactors.sim.perp_records import Income, IncomeType
from clobactors.sim.positions import Position
from clobactors.sim.rules import DEFAULT_ASSET_DECIMALS, to_units

__all__ = ["MarginAccount", "MarginLedger", "PositionKey"]

#: ``(symbol, position side)``: BOTH in one-way mode, LONG/SHORT in hedge mode.
PositionKey = tuple[str, PositionSide]


@final
@attrs.define
class MarginAccount:
    """One futures account."""

    wallet: dict[str, int]
    order_margin: dict[str, int] = attrs.field(factory=dict)
    mode: PositionMode = PositionMode.ONE_WAY
    leverage: dict[str, int] = attrs.field(factory=dict)
    margin_type: dict[str, MarginType] = attrs.field(factory=dict)
    positions: dict[PositionKey, Position] = attrs.field(factory=dict)
    incomes: deque[Income] = attrs.field(factory=lambda: deque(maxlen=10_000))
    margin_called: bool = False
    updated_ns: int = 0


@final
@attrs.define
class MarginLedger:
    """Every futures account, what the exchange collected, and what changed since the last flush."""

    _decimals: dict[str, int]
    accounts: dict[str, MarginAccount] = attrs.field(factory=dict)
    fees: dict[str, int] = attrs.field(factory=dict)
    funding_residue: dict[str, int] = attrs.field(factory=dict)
    deposits: dict[str, int] = attrs.field(factory=dict)
    #: account -> (assets changed, positions changed), as ordered sets.
    _changed: dict[str, tuple[dict[str, None], dict[PositionKey, None]]] = attrs.field(factory=dict)
    #: account -> asset -> balance change other than PnL and fees (funding, deposits) since the last flush.
    _other: dict[str, dict[str, int]] = attrs.field(factory=dict)
    _next_tran_id: int = 1

    # -- setup ---------------------------------------------------------------------------------------------

    def decimals(self, asset: str) -> int:
        return self._decimals.get(asset, DEFAULT_ASSET_DECIMALS)

    def units(self, asset: str, amount: Decimal) -> int:
        units = to_units(amount, self.decimals(asset))
        if units is None or units < 0:
            raise ConfigError(f"{asset} amount {amount!r} must be >= 0 with at most {self.decimals(asset)} decimals")
        return units

    def amount(self, asset: str, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.decimals(asset))

    def add_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        if not account_id:
            raise ConfigError("account id must not be empty")
        if account_id in self.accounts:
            raise ConfigError(f"account {account_id!r} already exists")
        wallet = {asset: self.units(asset, amount) for asset, amount in balances.items()}
        self.accounts[account_id] = MarginAccount(wallet)
        for asset, units in wallet.items():
            self.deposits[asset] = self.deposits.get(asset, 0) + units

    def account(self, account_id: str) -> MarginAccount:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise ConfigError(f"unknown account {account_id!r}") from None

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None:
        units = self.units(asset, amount)
        self.credit(account_id, asset, units, now_ns, other=True)
        self.deposits[asset] = self.deposits.get(asset, 0) + units
        self.record(account_id, "", IncomeType.TRANSFER, units, asset, now_ns)

    # -- movements (units) ---------------------------------------------------------------------------------

    def credit(self, account_id: str, asset: str, units: int, now_ns: int, *, other: bool = False) -> None:
        """Add signed ``units`` to the wallet; ``other``: not PnL or fee (reported as ACCOUNT_UPDATE ``bc``)."""
        account = self.accounts[account_id]
        account.wallet[asset] = account.wallet.get(asset, 0) + units
        account.updated_ns = now_ns
        if other:
            changes = self._other.setdefault(account_id, {})
            changes[asset] = changes.get(asset, 0) + units
        self.mark_asset(account_id, asset)

    def lock(self, account_id: str, asset: str, units: int) -> None:
        margin = self.accounts[account_id].order_margin
        margin[asset] = margin.get(asset, 0) + units
        assert margin[asset] >= 0, "margin: release beyond locked"

    def collect_fee(self, asset: str, units: int) -> None:
        self.fees[asset] = self.fees.get(asset, 0) + units

    def collect_residue(self, asset: str, units: int) -> None:
        self.funding_residue[asset] = self.funding_residue.get(asset, 0) + units

    def record(
        self, account_id: str, symbol: str, kind: IncomeType, units: int, asset: str, now_ns: int,
        trade_id: int | None = None,
    ) -> None:  # fmt: skip
        """Append one income record (the account's history keeps the last 10 000)."""
        income = Income(
            account_id=account_id, symbol=symbol, income_type=kind, amount=self.amount(asset, units), asset=asset,
            ts_ns=now_ns, tran_id=self._next_tran_id, trade_id=trade_id,
        )  # fmt: skip
        self._next_tran_id += 1
        self.accounts[account_id].incomes.append(income)

    # -- change tracking -----------------------------------------------------------------------------------

    def mark_asset(self, account_id: str, asset: str) -> None:
        self._changed.setdefault(account_id, ({}, {}))[0][asset] = None

    def mark_position(self, account_id: str, key: PositionKey) -> None:
        self._changed.setdefault(account_id, ({}, {}))[1][key] = None

    def take_changes(self) -> list[tuple[str, list[str], list[PositionKey], dict[str, int]]]:
        """``(account, assets, positions, other changes)`` changed since the last call, in order of change."""
        changed, self._changed = self._changed, {}
        other, self._other = self._other, {}
        return [(a, list(assets), list(keys), other.get(a, {})) for a, (assets, keys) in changed.items()]
