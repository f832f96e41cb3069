"""USD-M account shapes into canonical account events, shared by the stream codec and the REST codec.

Decisions, each documented once here:

* **Balances.** A futures wallet has no "locked" funds in the spot sense: orders and positions reserve
  *margin*. The stream (``ACCOUNT_UPDATE``) reports only the wallet balance ``wb`` and the cross wallet
  balance ``cw``, so both sources use those two numbers and agree with each other: ``free`` is the cross
  wallet balance (what cross positions and new orders draw on), ``locked`` is ``wallet - cross wallet``
  (what sits in isolated positions' wallets), and ``total`` is the wallet balance. REST
  (``GET /fapi/v3/balance``) maps ``balance``/``crossWalletBalance`` the same way; its ``availableBalance``
  (cross wallet minus margin in use, plus unrealized PnL) has no stream counterpart and is not mapped, so a
  reconcile after a reconnect never contradicts the stream.
* **Positions.** ``size`` is signed in one-way mode (``positionSide == "BOTH"``: negative is short) and
  unsigned per leg in hedge mode (Binance reports a SHORT leg's amount as negative; we take its magnitude).
  A flat position has no entry price (``None``). Leverage and margin type come from ``positionRisk`` V2 and,
  on the stream, margin type only; the liquidation price ``0`` (none) becomes ``None``.
* **Orders.** Averages come from ``avgPrice``/``ap`` (REST falls back to ``cumQuote / executedQty`` when the
  average reads zero; ``None`` before any fill); market orders carry no
  price; expiry reasons (``er``, § Event: Order Update) become :attr:`OrderUpdate.reason` text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.symbols import SymbolTable
from clobactors.exchanges.binance_common.orders import trade_fill
from clobactors.exchanges.binance_usdm import wire as w
from clobactors.exchanges.binance_usdm.convert import (
    EXCHANGE,
    ms_to_ns,
    parse_margin_type,
    parse_order_kind,
    parse_position_side,
    parse_side,
    parse_status,
)
from clobactors.messages import AccountEvent, Balance, FundingPayment, OrderUpdate, Position
from clobactors.model import OrderType, PositionSide

__all__ = [
    "FUNDING_FEE_REASON",
    "account_update_events",
    "balance",
    "order_trade_update_events",
    "order_update",
    "position",
]

_ZERO: Final = Decimal(0)
#: ``ACCOUNT_UPDATE.a.m`` of a funding settlement.
FUNDING_FEE_REASON: Final = "FUNDING_FEE"
#: § Event: Order Update › Expiry Reason.
_EXPIRY_REASONS: Final = {
    "1": "expired to prevent self-trade",
    "2": "IOC remainder canceled",
    "3": "IOC remainder canceled to prevent self-trade",
    "4": "knocked out by a higher-priority reduce-only order or a position reversal",
    "5": "expired when the account was liquidated",
    "6": "GTE condition unsatisfied",
    "7": "symbol delisted",
    "8": "initial order expired after the stop order triggered",
    "9": "market order remainder canceled",
}


def balance(asset: str, wallet: Decimal, cross_wallet: Decimal, *, ts_ms: int, recv_ns: int) -> Balance:
    """``free`` = cross wallet, ``locked`` = isolated part (see the module docstring)."""
    return Balance(
        exchange=EXCHANGE,
        ts_exchange=ms_to_ns(ts_ms),
        ts_recv=recv_ns,
        asset=asset,
        free=cross_wallet,
        locked=wallet - cross_wallet,
    )


def position(
    name: str,
    *,
    side: str,
    amount: Decimal,
    entry_price: Decimal,
    unrealized_pnl: Decimal,
    margin_type: str | None,
    ts_ms: int,
    recv_ns: int,
    mark_price: Decimal | None = None,
    leverage: str | None = None,
    liquidation_price: Decimal | None = None,
    path: str = "$",
) -> Position:
    """One position (see the module docstring for signs and absent values)."""
    position_side = parse_position_side(side, path=f"{path}.positionSide")
    return Position(
        exchange=EXCHANGE,
        instrument=name,
        ts_exchange=ms_to_ns(ts_ms),
        ts_recv=recv_ns,
        position_side=position_side,
        size=amount if position_side is PositionSide.BOTH else abs(amount),
        entry_price=None if amount == _ZERO or entry_price == _ZERO else entry_price,
        mark_price=mark_price,
        unrealized_pnl=unrealized_pnl,
        leverage=int(leverage) if leverage is not None and leverage.isdigit() else None,
        margin_type=None if margin_type is None else parse_margin_type(margin_type, path=f"{path}.marginType"),
        liquidation_price=liquidation_price if liquidation_price else None,
    )


def order_update(
    order: w.Order, table: SymbolTable, *, recv_ns: int, instrument: str | None = None
) -> OrderUpdate | None:
    """A REST order as an OrderUpdate; ``None`` (counted) for foreign types or unknown symbols."""
    kind = parse_order_kind(order.type, order.time_in_force)
    if kind is None:
        table.note_foreign_order()
        return None
    name = instrument or table.name(order.symbol)
    if name is None:
        return None
    order_type, time_in_force = kind
    return OrderUpdate(
        exchange=EXCHANGE,
        instrument=name,
        ts_exchange=ms_to_ns(order.update_time),
        ts_recv=recv_ns,
        client_order_id=order.client_order_id,
        exchange_order_id=str(order.order_id),
        status=parse_status(order.status),
        side=parse_side(order.side),
        order_type=order_type,
        time_in_force=time_in_force,
        price=None if order_type is OrderType.MARKET else order.price,
        size=order.orig_qty,
        filled_size=order.executed_qty,
        avg_fill_price=_average(order),
        reduce_only=order.reduce_only,
        position_side=parse_position_side(order.position_side),
    )


def _average(order: w.Order) -> Decimal | None:
    """``avgPrice``, or ``cumQuote / executedQty`` when Binance left the average at zero; None before fills."""
    if order.executed_qty <= 0:
        return None
    if order.avg_price:
        return order.avg_price
    return order.cum_quote / order.executed_qty if order.cum_quote else None


def order_trade_update_events(table: SymbolTable, o: w.OrderUpdateData, recv_ns: int) -> tuple[AccountEvent, ...]:
    """``ORDER_TRADE_UPDATE.o`` → OrderUpdate (+ Fill on ``x == "TRADE"``); nothing for foreign orders."""
    kind = parse_order_kind(o.order_type, o.time_in_force, path="$.o.o", tif_path="$.o.f")
    if kind is None:
        table.note_foreign_order()
        return ()
    name = table.name(o.symbol)
    if name is None:
        return ()
    order_type, time_in_force = kind
    ts = ms_to_ns(o.trade_time)
    side = parse_side(o.side, path="$.o.S")
    update = OrderUpdate(
        exchange=EXCHANGE,
        instrument=name,
        ts_exchange=ts,
        ts_recv=recv_ns,
        client_order_id=o.client_order_id,
        exchange_order_id=str(o.order_id),
        status=parse_status(o.order_status, path="$.o.X"),
        side=side,
        order_type=order_type,
        time_in_force=time_in_force,
        price=None if order_type is OrderType.MARKET else o.price,
        size=o.quantity,
        filled_size=o.cumulative_filled_quantity,
        avg_fill_price=o.average_price if o.cumulative_filled_quantity > 0 else None,
        reduce_only=o.reduce_only,
        position_side=parse_position_side(o.position_side, path="$.o.ps"),
        reason=_EXPIRY_REASONS.get(o.expiry_reason or "", ""),
    )
    if o.execution_type != "TRADE":
        return (update,)
    fill = trade_fill(
        update,
        trade_id=o.trade_id,
        price=o.last_filled_price,
        size=o.last_filled_quantity,
        fee=o.commission if o.commission is not None else _ZERO,
        fee_asset=o.commission_asset,
        is_maker=o.is_maker,
    )
    return (update, fill)


def account_update_events(table: SymbolTable, event: w.AccountUpdate, recv_ns: int) -> tuple[AccountEvent, ...]:
    """``ACCOUNT_UPDATE`` → Balances, Positions, then FundingPayments when the reason is FUNDING_FEE."""
    ts_ms = event.transaction_time
    data = event.data
    out: list[AccountEvent] = [
        balance(b.asset, b.wallet_balance, b.cross_wallet_balance, ts_ms=ts_ms, recv_ns=recv_ns) for b in data.balances
    ]
    names: list[str] = []
    for index, p in enumerate(data.positions):
        name = table.name(p.symbol)
        if name is None:
            continue
        names.append(name)
        out.append(
            position(
                name,
                side=p.position_side,
                amount=p.position_amount,
                entry_price=p.entry_price,
                unrealized_pnl=p.unrealized_pnl,
                margin_type=p.margin_type,
                ts_ms=ts_ms,
                recv_ns=recv_ns,
                path=f"$.a.P[{index}]",
            )
        )
    if data.reason == FUNDING_FEE_REASON:
        # Binance lists the position with the fee only when it is isolated (and then only that one).
        instrument = names[0] if len(data.positions) == 1 and names else ""
        out.extend(
            FundingPayment(
                exchange=EXCHANGE,
                instrument=instrument,
                ts_exchange=ms_to_ns(ts_ms),
                ts_recv=recv_ns,
                asset=b.asset,
                amount=b.balance_change,
            )
            for b in data.balances
            if b.balance_change is not None and b.balance_change != _ZERO
        )
    return tuple(out)
