"""The order manager's perpetual commands, driven by any dialect that implements :class:`PerpDialect`.

Kept out of :mod:`clobactors.actors.order_manager` so the actor stays one job (routing and order state);
what is perpetual-specific lives here and stays exchange-agnostic: the dialect builds every request.

* :func:`as_perp` tells a perpetual dialect from a spot one by the methods it has (the registry's dialects
  and :class:`~clobactors.exchanges.alias.AliasDialect` wrappers alike), so a spot exchange answers perp
  commands with :class:`~clobactors.errors.ConfigError` instead of an ``AttributeError`` deep in a task.
* Setters go at ``ORDER`` priority (they gate the next placements); their answers carry nothing we keep,
  and the position stream reports the effect.
* :func:`close_order` turns a position leg of the view into the reduce-only MARKET order that closes it.
"""

from __future__ import annotations

from typing import Any, Final

from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.errors import ConfigError
from clobactors.exchanges.standard import PerpDialect
from clobactors.messages import PlaceOrder, Position, SetLeverage, SetPositionMode
from clobactors.model import OrderType, PositionAction, PositionMode, PositionSide, Side
from clobactors.ratelimit import Priority

__all__ = ["as_perp", "close_order", "require_perp", "set_leverage", "set_position_mode"]

_PERP_METHODS: Final = (
    "set_leverage_request",
    "set_margin_type_request",
    "set_position_mode_request",
    "positions_request",
    "decode_positions",
)


def as_perp(dialect: object) -> PerpDialect[Any] | None:
    """``dialect`` as a :class:`PerpDialect` when it implements the perpetual methods, else ``None``."""
    if all(callable(getattr(dialect, m, None)) for m in _PERP_METHODS):
        return dialect  # type: ignore[return-value]  # structurally checked above
    return None


def require_perp(link: ExchangeLink, what: str) -> PerpDialect[Any]:
    """The link's dialect as a perpetual one, or ConfigError naming the refused command."""
    perp = as_perp(link.dialect)
    if perp is None:
        raise ConfigError(f"{link.name} is not a perpetual venue: {what} is not served")
    return perp


async def set_leverage(ctx: Context, link: ExchangeLink, command: SetLeverage) -> int:
    """Set the margin type (when the command names one) and then the leverage; return the leverage."""
    perp = require_perp(link, "SetLeverage")
    if command.leverage < 1:
        raise ConfigError(f"leverage must be >= 1, got {command.leverage}")
    instrument = link.instrument(command.instrument)
    if command.margin_type is not None:
        spec = perp.set_margin_type_request(instrument, command.margin_type, link.credentials, link.now_ms())
        await link.rest(ctx, spec, Priority.ORDER)
    spec = perp.set_leverage_request(command, instrument, link.credentials, link.now_ms())
    await link.rest(ctx, spec, Priority.ORDER)
    return command.leverage


async def set_position_mode(ctx: Context, link: ExchangeLink, command: SetPositionMode) -> PositionMode:
    """Switch the account's position mode; return the mode now in force."""
    perp = require_perp(link, "SetPositionMode")
    spec = perp.set_position_mode_request(command, link.credentials, link.now_ms())
    await link.rest(ctx, spec, Priority.ORDER)
    return command.mode


def close_order(exchange: str, position: Position | None, instrument: str, side: PositionSide) -> PlaceOrder:
    """The reduce-only MARKET order that closes ``position`` (ConfigError when there is nothing to close).

    One-way mode (``BOTH``) flags it reduce-only; a hedge-mode leg names its side and the CLOSE action,
    which the dialect maps (Binance refuses ``reduceOnly`` in hedge mode).
    """
    if position is None or position.size == 0:
        raise ConfigError(f"no open {side.value} position on {instrument} to close")
    if side is PositionSide.BOTH:
        order_side = Side.SELL if position.size > 0 else Side.BUY
        return PlaceOrder(
            exchange=exchange, instrument=instrument, side=order_side, order_type=OrderType.MARKET,
            size=abs(position.size), reduce_only=True,
        )
    order_side = Side.SELL if side is PositionSide.LONG else Side.BUY
    return PlaceOrder(
        exchange=exchange, instrument=instrument, side=order_side, order_type=OrderType.MARKET,
        size=abs(position.size), position_side=side, position_action=PositionAction.CLOSE,
    )
