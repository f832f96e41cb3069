"""Binance USD-M face: engine records into futures wire structs (REST bodies and user stream events).

Spellings (USD-M docs § Public Endpoints Info › ENUM definitions): post-only orders are ``LIMIT`` with
``timeInForce`` ``GTX``; statuses as spot (``NEW``, ``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED``,
``EXPIRED``, ``EXPIRED_IN_MATCH`` for self-trade prevention); margin type ``cross``/``isolated`` in positions
and ``CROSSED``/``ISOLATED`` in margin calls. Amounts go out with eight decimals (as Binance's balances),
prices as the engine holds them (tick precision).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.face_convert import ORDER_STATUS, SIDE, ZERO, d8, ms, stp_name
from clobactors.exchanges.binance_usdm import wire
from clobactors.model import MarginType, OrderStatus, OrderType, PositionSide, TimeInForce
from clobactors.sim.perp_records import (
    AccountConfigEvent,
    AccountUpdateEvent,
    Income,
    MarginBalance,
    MarginCallEvent,
    PositionInfo,
    PremiumInfo,
)
from clobactors.sim.records import ExecType, Execution, OrderEvent, OrderInfo
from clobactors.sim.rules import ExpireReason, StpMode

__all__ = [
    "POSITION_SIDES",
    "account_balance",
    "account_update",
    "config_update",
    "income_row",
    "margin_call",
    "order_body",
    "order_update",
    "position_risk",
    "position_side_text",
    "premium_index",
    "user_trade",
]

POSITION_SIDES: Final = {"BOTH": PositionSide.BOTH, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
_POSITION_SIDE_TEXT: Final = {v: k for k, v in POSITION_SIDES.items()}
_TIF: Final = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_EXEC_TYPE: Final = {
    ExecType.NEW: "NEW",
    ExecType.TRADE: "TRADE",
    ExecType.CANCELLED: "CANCELED",
    ExecType.EXPIRED: "EXPIRED",
}
#: How futures answers write "no value" for prices (``"price": "0"``, ``"stopPrice": "0"``).
_NO_PRICE: Final = Decimal(0)


def position_side_text(side: PositionSide | None) -> str:
    return _POSITION_SIDE_TEXT[side or PositionSide.BOTH]


def _status(order: OrderInfo) -> str:
    if order.status is OrderStatus.EXPIRED and order.expire_reason is ExpireReason.SELF_TRADE_PREVENTION:
        return "EXPIRED_IN_MATCH"
    return ORDER_STATUS[order.status]


def _type(order: OrderInfo) -> str:
    return "MARKET" if order.order_type is OrderType.MARKET else "LIMIT"


def _tif(order: OrderInfo) -> str:
    return "GTX" if order.post_only else _TIF[order.time_in_force]


def _average(order: OrderInfo) -> Decimal:
    if not order.filled_size:
        return _NO_PRICE
    return d8((order.filled_quote / order.filled_size).quantize(Decimal("1E-8")))


def order_body(order: OrderInfo, stp: StpMode, *, with_time: bool = False) -> wire.Order:
    """An order as § Trade › New Order / Query Order / Cancel Order / Current All Open Orders answer it."""
    return wire.Order(
        symbol=order.symbol,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        status=_status(order),
        side=SIDE[order.side],
        type=_type(order),
        time_in_force=_tif(order),
        price=order.price if order.price is not None else _NO_PRICE,
        orig_qty=order.size,
        executed_qty=order.filled_size,
        update_time=ms(order.updated_ns),
        position_side=position_side_text(order.position_side),
        reduce_only=order.reduce_only,
        close_position=False,
        avg_price=_average(order),
        cum_qty=order.filled_size,
        cum_quote=d8(order.filled_quote),
        stop_price=_NO_PRICE,
        orig_type=_type(order),
        working_type="CONTRACT_PRICE",
        price_protect=False,
        price_match="NONE",
        self_trade_prevention_mode=stp_name(stp),
        good_till_date=0,
        time=ms(order.created_ns) if with_time else None,
    )


def order_update(
    event: OrderEvent, *, event_ms: int, stp: StpMode, margin_asset: str, execution_type: str = ""
) -> wire.OrderTradeUpdate:
    """§ User Data Streams › Event: Order Update (ORDER_TRADE_UPDATE); fills carry ``l``, ``L``, ``n``, ``rp``.

    ``execution_type`` overrides the event's (``"AMENDMENT"``: the engine has no event of its own for it)."""
    order, fill = event.order, event.execution
    data = wire.OrderUpdateData(
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        side=SIDE[order.side],
        order_type=_type(order),
        time_in_force=_tif(order),
        quantity=order.size,
        price=order.price if order.price is not None else _NO_PRICE,
        average_price=_average(order),
        execution_type=execution_type or _EXEC_TYPE[event.exec_type],
        order_status=_status(order),
        order_id=order.order_id,
        last_filled_quantity=fill.size if fill is not None else ZERO,
        cumulative_filled_quantity=order.filled_size,
        last_filled_price=fill.price if fill is not None else _NO_PRICE,
        trade_time=ms(event.ts_ns),
        trade_id=fill.trade_id if fill is not None else 0,
        is_maker=fill.is_maker if fill is not None else False,
        reduce_only=order.reduce_only,
        position_side=position_side_text(order.position_side),
        commission_asset=fill.fee_asset if fill is not None else margin_asset,
        commission=d8(fill.fee) if fill is not None else d8(ZERO),
        realized_profit=d8(fill.realized_pnl or ZERO) if fill is not None else d8(ZERO),
        stop_price=_NO_PRICE,
        bids_notional=ZERO,
        asks_notional=ZERO,
        working_type="CONTRACT_PRICE",
        original_order_type=_type(order),
        close_position=False,
        price_protect=False,
        ignore_si=0,
        ignore_ss=0,
        self_trade_prevention_mode=stp_name(stp),
        price_match="NONE",
        good_till_date=0,
    )
    return wire.OrderTradeUpdate(event_time=event_ms, transaction_time=ms(event.ts_ns), order=data)


def _margin_text(margin_type: MarginType) -> str:
    return "cross" if margin_type is MarginType.CROSS else "isolated"


def account_update(event: AccountUpdateEvent, *, event_ms: int) -> wire.AccountUpdate:
    """§ User Data Streams › Event: Balance and Position Update (ACCOUNT_UPDATE)."""
    data = wire.AccountUpdateData(
        reason=event.reason.value,
        balances=tuple(
            wire.BalanceEntry(
                asset=b.asset,
                wallet_balance=d8(b.wallet_balance),
                cross_wallet_balance=d8(b.cross_wallet_balance),
                balance_change=d8(b.change),
            )
            for b in event.balances
        ),
        positions=tuple(
            wire.PositionEntry(
                symbol=p.symbol,
                position_amount=p.size,
                entry_price=p.entry_price,
                accumulated_realized=d8(p.realized_pnl),
                unrealized_pnl=d8(p.unrealized_pnl),
                margin_type=_margin_text(p.margin_type),
                isolated_wallet=d8(p.isolated_wallet),
                position_side=position_side_text(p.position_side),
                breakeven_price=p.break_even_price,
            )
            for p in event.positions
        ),
    )
    return wire.AccountUpdate(event_time=event_ms, transaction_time=ms(event.ts_ns), data=data)


def margin_call(event: MarginCallEvent, *, event_ms: int) -> wire.MarginCall:
    """§ User Data Streams › Event: Margin Call."""
    return wire.MarginCall(
        event_time=event_ms,
        cross_wallet_balance=d8(event.cross_wallet_balance),
        positions=tuple(
            wire.MarginCallPosition(
                symbol=p.symbol,
                position_side=position_side_text(p.position_side),
                position_amount=p.size,
                margin_type="CROSSED" if p.margin_type is MarginType.CROSS else "ISOLATED",
                isolated_wallet=d8(p.isolated_wallet),
                mark_price=p.mark_price,
                unrealized_pnl=d8(p.unrealized_pnl),
                maintenance_margin=d8(p.maint_margin),
            )
            for p in event.positions
        ),
    )


def config_update(event: AccountConfigEvent, *, event_ms: int) -> wire.AccountConfigUpdate | None:
    """§ User Data Streams › Event: Account Configuration Update (leverage changes only)."""
    if event.leverage is None:
        return None
    return wire.AccountConfigUpdate(
        event_time=event_ms,
        transaction_time=ms(event.ts_ns),
        symbol_config=wire.AccountConfig(symbol=event.symbol, leverage=event.leverage),
    )


def position_risk(p: PositionInfo, *, v3: bool) -> wire.PositionRisk:
    """§ Trade › Position Information V2 (leverage, margin type, max notional) or V3 (margins, asset)."""
    isolated = p.margin_type is MarginType.ISOLATED
    return wire.PositionRisk(
        symbol=p.symbol,
        position_amt=p.size,
        entry_price=p.entry_price,
        break_even_price=p.break_even_price,
        mark_price=p.mark_price,
        un_realized_profit=d8(p.unrealized_pnl),
        liquidation_price=p.liquidation_price,
        update_time=ms(p.updated_ns),
        position_side=position_side_text(p.position_side),
        notional=d8(p.notional),
        isolated_wallet=d8(p.isolated_wallet),
        isolated_margin=d8(p.isolated_wallet + p.unrealized_pnl if isolated else ZERO),
        leverage=None if v3 else str(p.leverage),
        max_notional_value=None if v3 else p.max_notional,
        margin_type=None if v3 else _margin_text(p.margin_type),
        is_auto_add_margin=None if v3 else "false",
        margin_asset=p.margin_asset if v3 else None,
        initial_margin=d8(p.initial_margin + p.open_order_margin) if v3 else None,
        maint_margin=d8(p.maint_margin) if v3 else None,
        position_initial_margin=d8(p.initial_margin) if v3 else None,
        open_order_initial_margin=d8(p.open_order_margin) if v3 else None,
        adl=0 if v3 else None,
        bid_notional=d8(ZERO) if v3 else None,
        ask_notional=d8(ZERO) if v3 else None,
    )


def user_trade(e: Execution, margin_asset: str) -> wire.UserTrade:
    """§ Trade › Account Trade List (``GET /fapi/v1/userTrades``)."""
    return wire.UserTrade(
        symbol=e.symbol,
        id=e.trade_id,
        order_id=e.order_id,
        side=SIDE[e.side],
        price=e.price,
        qty=e.size,
        quote_qty=d8(e.quote_size),
        realized_pnl=d8(e.realized_pnl or ZERO),
        commission=d8(e.fee),
        commission_asset=e.fee_asset,
        time=ms(e.ts_ns),
        buyer=e.side.value == "buy",
        maker=e.is_maker,
        position_side=position_side_text(e.position_side),
        margin_asset=margin_asset,
    )


def income_row(i: Income) -> wire.Income:
    """§ Account › Get Income History: ``info`` repeats the type, ``tradeId`` is empty unless a trade."""
    return wire.Income(
        symbol=i.symbol,
        income_type=i.income_type.value,
        income=d8(i.amount),
        asset=i.asset,
        time=ms(i.ts_ns),
        info=i.income_type.value,
        tran_id=i.tran_id,
        trade_id="" if i.trade_id is None else str(i.trade_id),
    )


def account_balance(b: MarginBalance, alias: str) -> wire.AccountBalance:
    """§ Account › Futures Account Balance V2/V3; ``maxWithdrawAmount`` is the available balance (floor 0)."""
    return wire.AccountBalance(
        asset=b.asset,
        balance=d8(b.wallet_balance),
        cross_wallet_balance=d8(b.cross_wallet_balance),
        available_balance=d8(b.available_balance),
        update_time=ms(b.updated_ns),
        account_alias=alias,
        cross_un_pnl=d8(b.cross_unrealized_pnl),
        max_withdraw_amount=d8(max(ZERO, min(b.available_balance, b.wallet_balance))),
        margin_available=True,
    )


def premium_index(p: PremiumInfo) -> wire.PremiumIndex:
    """§ Market Data › Mark Price: ``lastFundingRate`` is the running estimate for the next settlement (as
    Binance shows it between settlements); the estimated settle price is the index."""
    return wire.PremiumIndex(
        symbol=p.symbol,
        mark_price=d8(p.mark_price),
        index_price=d8(p.index_price),
        estimated_settle_price=d8(p.index_price),
        last_funding_rate=d8(p.funding_rate),
        interest_rate=d8(p.interest_rate),
        next_funding_time=ms(p.next_funding_ns),
        time=ms(p.ts_ns),
    )
