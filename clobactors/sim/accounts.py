"""Balances of every account as exact integers, plus the fees the exchange collected.

The ledger knows nothing about orders: the engine locks, releases, debits and credits units. Keeping money in
one place makes the conservation law easy to state and to test: for every asset, the sum over accounts of
``free + locked`` plus the collected fees changes only through deposits. A perpetuals margin component can
later sit beside this ledger without touching the matching code.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.sim.records import AssetBalance
from clobactors.sim.rules import DEFAULT_ASSET_DECIMALS, to_units

__all__ = ["Ledger"]


@final
@attrs.define
class Ledger:
    """Free and locked units per account and asset; every mutation marks the pair as changed."""

    _decimals: dict[str, int]
    _free: dict[str, dict[str, int]] = attrs.field(factory=dict)
    _locked: dict[str, dict[str, int]] = attrs.field(factory=dict)
    _fees: dict[str, int] = attrs.field(factory=dict)
    #: account -> assets changed since the last :meth:`take_changes` (dicts as ordered sets).
    _changed: dict[str, dict[str, None]] = attrs.field(factory=dict)

    # -- setup ---------------------------------------------------------------------------------------------

    def decimals(self, asset: str) -> int:
        return self._decimals.get(asset, DEFAULT_ASSET_DECIMALS)

    def units(self, asset: str, amount: Decimal) -> int:
        """``amount`` of ``asset`` in units; ConfigError if negative or finer than the asset's decimals."""
        units = to_units(amount, self.decimals(asset))
        if units is None or units < 0:
            raise ConfigError(
                f"{asset} amount {amount!r} must be >= 0 with at most {self.decimals(asset)} decimals"
            )
        return units

    def amount(self, asset: str, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.decimals(asset))

    def has_account(self, account: str) -> bool:
        return account in self._free

    def add_account(self, account: str, balances: Mapping[str, Decimal]) -> None:
        if not account:
            raise ConfigError("account id must not be empty")
        if account in self._free:
            raise ConfigError(f"account {account!r} already exists")
        converted = {asset: self.units(asset, amount) for asset, amount in balances.items()}
        self._free[account] = converted
        self._locked[account] = dict.fromkeys(converted, 0)

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        self._require(account)
        self.credit(account, asset, self.units(asset, amount))

    def _require(self, account: str) -> None:
        if account not in self._free:
            raise ConfigError(f"unknown account {account!r}")

    # -- movements (units) ---------------------------------------------------------------------------------

    def free(self, account: str, asset: str) -> int:
        return self._free[account].get(asset, 0)

    def locked(self, account: str, asset: str) -> int:
        return self._locked[account].get(asset, 0)

    def try_lock(self, account: str, asset: str, units: int) -> bool:
        """Move ``units`` from free to locked if free covers them."""
        free = self._free[account].get(asset, 0)
        if units > free:
            return False
        if units:
            self._free[account][asset] = free - units
            self._locked[account][asset] = self._locked[account].get(asset, 0) + units
            self._mark(account, asset)
        return True

    def release(self, account: str, asset: str, units: int) -> None:
        """Move ``units`` from locked back to free (cancel, expiry, a fill cheaper than the limit)."""
        if units:
            locked = self._locked[account][asset] - units
            assert locked >= 0, "ledger: release beyond locked"
            self._locked[account][asset] = locked
            self._free[account][asset] = self._free[account].get(asset, 0) + units
            self._mark(account, asset)

    def debit_locked(self, account: str, asset: str, units: int) -> None:
        """Take ``units`` out of locked funds: what a fill pays."""
        if units:
            locked = self._locked[account][asset] - units
            assert locked >= 0, "ledger: debit beyond locked"
            self._locked[account][asset] = locked
            self._mark(account, asset)

    def credit(self, account: str, asset: str, units: int) -> None:
        """Add ``units`` to free funds: what a fill receives, after fees."""
        assert units >= 0, "ledger: negative credit"
        self._free[account][asset] = self._free[account].get(asset, 0) + units
        self._locked[account].setdefault(asset, 0)
        self._mark(account, asset)

    def collect_fee(self, asset: str, units: int) -> None:
        """Fees (or, when negative, rebates) move between traders and the exchange, never vanish."""
        self._fees[asset] = self._fees.get(asset, 0) + units

    def _mark(self, account: str, asset: str) -> None:
        self._changed.setdefault(account, {})[asset] = None

    # -- views ---------------------------------------------------------------------------------------------

    def balance(self, account: str, asset: str) -> AssetBalance:
        return AssetBalance(
            asset=asset,
            free=self.amount(asset, self._free[account].get(asset, 0)),
            locked=self.amount(asset, self._locked[account].get(asset, 0)),
        )

    def balances(self, account: str) -> tuple[AssetBalance, ...]:
        """Every asset the account ever held, sorted by asset code."""
        self._require(account)
        return tuple(self.balance(account, asset) for asset in sorted(self._free[account]))

    def take_changes(self) -> list[tuple[str, tuple[AssetBalance, ...]]]:
        """Balances changed since the last call, per account in order of first change, assets sorted."""
        changed, self._changed = self._changed, {}
        return [
            (account, tuple(self.balance(account, asset) for asset in sorted(assets)))
            for account, assets in changed.items()
        ]

    def fees(self) -> dict[str, Decimal]:
        return {asset: self.amount(asset, units) for asset, units in sorted(self._fees.items())}

    def totals(self) -> dict[str, Decimal]:
        """Per asset: sum over accounts of free + locked, plus collected fees (constant but for deposits)."""
        sums: dict[str, int] = dict(self._fees)
        for account, free in self._free.items():
            for asset, units in free.items():
                sums[asset] = sums.get(asset, 0) + units + self._locked[account].get(asset, 0)
        return {asset: self.amount(asset, units) for asset, units in sorted(sums.items())}
