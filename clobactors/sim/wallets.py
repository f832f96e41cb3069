"""The engine's accounts, spot or perpetual, behind one set of calls.

A spot engine keeps free and locked assets in a :class:`~clobactors.sim.accounts.Ledger`; a perpetual engine
keeps wallets, order margin and positions in a :class:`~clobactors.sim.margin.MarginLedger` valued by
:class:`~clobactors.sim.perp.PerpState`. Opening an account, depositing, balances, fees and the conservation
totals mean the same to a caller on both, so :class:`Wallets` answers them for whichever the engine has and
the engine does not branch on its kind of market. On perpetuals a balance reads ``free = wallet - order
margin`` and ``locked = order margin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.sim.accounts import Ledger
from clobactors.sim.margin import MarginLedger
from clobactors.sim.perp import PerpState
from clobactors.sim.perp_api import Perps
from clobactors.sim.perp_records import UpdateReason
from clobactors.sim.records import AssetBalance

__all__ = ["PerpWallets", "Wallets"]


@final
@attrs.frozen
class PerpWallets:
    """A perpetual engine's margin ledger, the state valuing it, and the clock-keeping API."""

    margin: MarginLedger
    state: PerpState
    perps: Perps


@final
@attrs.define
class Wallets:
    """Account calls over the spot ledger, or over the margin ledger when ``perp`` is given."""

    _ledger: Ledger
    _perp: PerpWallets | None = None

    def add_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        if self._perp is not None:
            self._perp.margin.add_account(account_id, balances)
        else:
            self._ledger.add_account(account_id, balances)

    def deposit(self, account_id: str, asset: str, amount: Decimal, now_ns: int) -> None:
        """Credit free balance; the caller flushes (a perpetual deposit reports as ``DEPOSIT``)."""
        if (perp := self._perp) is not None:
            perp.perps.advance(now_ns)
            perp.margin.account(account_id)
            perp.margin.deposit(account_id, asset, amount, now_ns)
            perp.state.reason = UpdateReason.DEPOSIT
        else:
            self._ledger.deposit(account_id, asset, amount)

    def has_account(self, account_id: str) -> bool:
        if self._perp is not None:
            return account_id in self._perp.margin.accounts
        return self._ledger.has_account(account_id)

    def balances(self, account_id: str) -> tuple[AssetBalance, ...]:
        if self._perp is not None:
            wallet = self._perp.margin.account(account_id).wallet
            return tuple(self.balance(account_id, asset) for asset in sorted(wallet))
        return self._ledger.balances(account_id)

    def balance(self, account_id: str, asset: str) -> AssetBalance:
        if not self.has_account(account_id):
            raise ConfigError(f"unknown account {account_id!r}")
        if self._perp is not None:
            margin = self._perp.margin
            account = margin.account(account_id)
            locked = account.order_margin.get(asset, 0)
            free = account.wallet.get(asset, 0) - locked
            return AssetBalance(asset=asset, free=margin.amount(asset, free), locked=margin.amount(asset, locked))
        return self._ledger.balance(account_id, asset)

    def fees(self) -> dict[str, Decimal]:
        """Fees kept by the exchange per asset (net of maker rebates)."""
        if self._perp is not None:
            margin = self._perp.margin
            return {asset: margin.amount(asset, units) for asset, units in sorted(margin.fees.items())}
        return self._ledger.fees()

    def totals(self) -> dict[str, Decimal]:
        """The conservation sum per asset (spot: free + locked + fees; perpetuals: ``Perps.totals``)."""
        if self._perp is not None:
            return self._perp.perps.totals()
        return self._ledger.totals()
