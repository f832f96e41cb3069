"""Perpetual positions in exact integers: size in lots, cost basis and PnL in quote units.

A position keeps its *cost basis* (signed: what was paid for a long, minus what was received for a short)
instead of an entry price, so no rounding ever creates money. The entry price is ``basis / size`` when
reported. Trading ``lots`` at ``notional`` (quote units) against a position:

* same direction (or flat): open/increase, ``basis += ±notional``;
* opposite direction: reduce by ``r = min(lots, |size|)``, releasing ``basis * r / |size|`` (all of it on a
  full close) and realizing ``cash - released``, where ``cash`` is what the trade pays (+notional for a sell,
  -notional for a buy) for those ``r`` lots; the rest (one-way mode only) opens the other way: a flip.

Per account, ``realized - basis`` then changes by exactly the cash of each trade, so over all accounts
``sum(realized) + sum(unrealized at any mark) == 0``: PnL moves between traders, it is never made.
"""

from __future__ import annotations

from typing import final

import attrs

from clobactors.model import MarginType

__all__ = ["OrderMargin", "Position", "apply_fill"]


@final
@attrs.define
class OrderMargin:
    """What a perpetual order must keep locked per lot, fixed at entry (see :mod:`clobactors.sim.perp`)."""

    leverage: int
    #: Whether the order may open or increase a position (then it locks initial margin).
    opens: bool
    #: Open loss per lot at entry: how far the limit is beyond the mark, in quote units.
    loss_per_lot: int


@final
@attrs.define
class Position:
    """One position (a symbol in one-way mode, a leg in hedge mode)."""

    lots: int = 0
    basis: int = 0
    #: Accumulated realized PnL of this position (Binance ``cr``), quote units.
    realized: int = 0
    margin_type: MarginType = MarginType.CROSS
    #: Margin set aside for an isolated position, quote units.
    isolated_wallet: int = 0
    updated_ns: int = 0

    def unrealized(self, mark: int, quote_per_tick_lot: int) -> int:
        return self.lots * mark * quote_per_tick_lot - self.basis


def apply_fill(position: Position, signed_lots: int, notional: int) -> tuple[int, int]:
    """Trade ``signed_lots`` (buy > 0) for ``notional`` units; returns ``(realized, lots_reduced)``."""
    assert signed_lots != 0 and notional >= 0
    size = position.lots
    if size == 0 or (size > 0) == (signed_lots > 0):
        position.lots += signed_lots
        position.basis += notional if signed_lots > 0 else -notional
        return 0, 0
    lots = abs(signed_lots)
    reduced = min(lots, abs(size))
    part = notional * reduced // lots
    released = position.basis if reduced == abs(size) else position.basis * reduced // abs(size)
    cash = part if signed_lots < 0 else -part
    realized = cash - released
    position.basis -= released
    position.lots += reduced if signed_lots > 0 else -reduced
    position.realized += realized
    if reduced < lots:  # flip: what is left opens the other way
        rest = notional - part
        position.lots += signed_lots - (reduced if signed_lots > 0 else -reduced)
        position.basis += rest if signed_lots > 0 else -rest
    if position.lots == 0:
        position.basis = 0
    return realized, reduced
