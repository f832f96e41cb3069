"""Binance USD-M face: account REST routes. Positions, balances, account information, settings and income.

Split from :mod:`.face_rest` (which keeps market data, listen keys and the route table that names each handler's
security and weight) because these handlers share one job: reading and changing a futures account through
:class:`~clobactors.sim.perp_api.Perps`, and mapping its rejections to Binance's futures codes. All SIGNED;
:mod:`.face_rest` wraps them. Sans-IO.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.face_params import Params
from clobactors.exchanges.binance_usdm import face_wire, wire
from clobactors.exchanges.binance_usdm.face_convert import (
    account_balance,
    income_row,
    position_risk,
    position_side_text,
)
from clobactors.exchanges.binance_usdm.face_core import UsdmCore, fail
from clobactors.model import MarginType, PositionMode
from clobactors.sim.face_protocol import SimCredentials
from clobactors.sim.perp_records import IncomeType, PerpReject, PositionInfo
from clobactors.sim.records import Rejection

__all__ = [
    "account_balances",
    "account_v2",
    "account_v3",
    "change_leverage",
    "change_margin_type",
    "change_position_mode",
    "income_history",
    "position_mode",
    "position_risk_v2",
    "position_risk_v3",
]

_INCOME_WINDOW_MS: Final = 7 * 86_400_000
_ZERO: Final = Decimal(0)


def _positions(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int, *, v3: bool) -> bytes:
    symbol = core.symbol(params, required=False)
    params.finish()
    rows = core.perps.positions(account.account_id, symbol, now_ns=now_ns)
    if v3:  # V3 lists only positions that are open or have open orders
        rows = tuple(p for p in rows if p.size or p.open_order_margin)
    return wire.ENCODER.encode([position_risk(p, v3=v3) for p in rows])


def position_risk_v2(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Position Information V2 (``GET /fapi/v2/positionRisk``): every symbol and leg."""
    return _positions(core, account, params, now_ns, v3=False)


def position_risk_v3(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Position Information V3 (``GET /fapi/v3/positionRisk``): open positions only."""
    return _positions(core, account, params, now_ns, v3=True)


def _alias(account: SimCredentials) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    code = zlib.crc32(account.account_id.encode())
    return "".join(letters[(code >> (6 * i)) % 52] for i in range(4))


def account_balances(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Futures Account Balance V2/V3 (``GET /fapi/v2|v3/balance``)."""
    params.finish()
    alias = _alias(account)
    rows = core.perps.margin_balances(account.account_id, now_ns=now_ns)
    return wire.ENCODER.encode([account_balance(b, alias) for b in rows])


def _account_position(p: PositionInfo, *, v2: bool) -> face_wire.AccountPosition:
    isolated = p.margin_type is MarginType.ISOLATED
    return face_wire.AccountPosition(
        symbol=p.symbol, position_side=position_side_text(p.position_side), position_amt=p.size,
        unrealized_profit=p.unrealized_pnl,
        isolated_margin=p.isolated_wallet + p.unrealized_pnl if isolated else _ZERO,
        notional=p.notional, isolated_wallet=p.isolated_wallet,
        initial_margin=p.initial_margin + p.open_order_margin, maint_margin=p.maint_margin,
        update_time=p.updated_ns // 1_000_000,
        leverage=str(p.leverage) if v2 else None, entry_price=p.entry_price if v2 else None,
        max_notional=p.max_notional if v2 else None, isolated=isolated if v2 else None,
        position_initial_margin=p.initial_margin if v2 else None,
        open_order_initial_margin=p.open_order_margin if v2 else None,
        bid_notional=_ZERO if v2 else None, ask_notional=_ZERO if v2 else None,
    )  # fmt: skip


def _account(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int, *, v2: bool) -> bytes:
    params.finish()
    balances = core.perps.margin_balances(account.account_id, now_ns=now_ns)
    positions = core.perps.positions(account.account_id, now_ns=now_ns)
    if not v2:
        positions = tuple(p for p in positions if p.size or p.open_order_margin)
    assets = tuple(
        face_wire.AccountAsset(
            asset=b.asset, wallet_balance=b.wallet_balance, unrealized_profit=b.unrealized_pnl,
            margin_balance=b.wallet_balance + b.unrealized_pnl, maint_margin=b.maint_margin,
            initial_margin=b.position_margin + b.order_margin, position_initial_margin=b.position_margin,
            open_order_initial_margin=b.order_margin, cross_wallet_balance=b.cross_wallet_balance,
            cross_un_pnl=b.cross_unrealized_pnl, available_balance=b.available_balance,
            max_withdraw_amount=max(_ZERO, min(b.available_balance, b.wallet_balance)),
            update_time=b.updated_ns // 1_000_000, margin_available=True if v2 else None,
        )
        for b in balances
    )  # fmt: skip

    def total(field: Callable[[face_wire.AccountAsset], Decimal]) -> Decimal:
        return sum((field(a) for a in assets), _ZERO)

    info = face_wire.AccountInfo(
        total_initial_margin=total(lambda a: a.initial_margin), total_maint_margin=total(lambda a: a.maint_margin),
        total_wallet_balance=total(lambda a: a.wallet_balance),
        total_unrealized_profit=total(lambda a: a.unrealized_profit),
        total_margin_balance=total(lambda a: a.margin_balance),
        total_position_initial_margin=total(lambda a: a.position_initial_margin),
        total_open_order_initial_margin=total(lambda a: a.open_order_initial_margin),
        total_cross_wallet_balance=total(lambda a: a.cross_wallet_balance),
        total_cross_un_pnl=total(lambda a: a.cross_un_pnl),
        available_balance=total(lambda a: a.available_balance),
        max_withdraw_amount=total(lambda a: a.max_withdraw_amount),
        assets=assets, positions=tuple(_account_position(p, v2=v2) for p in positions),
        fee_tier=0 if v2 else None, can_trade=True if v2 else None, can_deposit=True if v2 else None,
        can_withdraw=True if v2 else None, fee_burn=True if v2 else None,
        update_time=0 if v2 else None, multi_assets_margin=False if v2 else None, trade_group_id=-1 if v2 else None,
    )  # fmt: skip
    return wire.encode(info)


def account_v2(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Account Information V2 (``GET /fapi/v2/account``)."""
    return _account(core, account, params, now_ns, v2=True)


def account_v3(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Account Information V3 (``GET /fapi/v3/account``)."""
    return _account(core, account, params, now_ns, v2=False)


def _check(result: object) -> None:
    """Map a settings rejection to its futures code."""
    if not isinstance(result, Rejection):
        return
    match result.perp:
        case PerpReject.INVALID_LEVERAGE:
            raise fail(-4028)
        case PerpReject.MAX_NOTIONAL:
            raise fail(-2027)
        case PerpReject.LEVERAGE_MARGIN:
            raise fail(-2028)
        case _:
            raise fail(-1000)


def change_leverage(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Change Initial Leverage (``POST /fapi/v1/leverage``): 1..125, -4028 otherwise."""
    symbol = core.symbol(params)
    assert symbol is not None
    leverage = params.integer("leverage", required=True)
    params.finish()
    assert leverage is not None
    result = core.perps.set_leverage(account.account_id, symbol, leverage, now_ns=now_ns)
    if isinstance(result, Rejection):
        _check(result)
        raise AssertionError  # pragma: no cover - _check raised
    return wire.encode(wire.LeverageResult(leverage=leverage, max_notional_value=result, symbol=symbol))


_MARGIN_TYPES: Final = {"CROSSED": MarginType.CROSS, "ISOLATED": MarginType.ISOLATED}
_SUCCESS: Final = wire.CodeMessage(code=200, msg="success")


def change_margin_type(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Change Margin Type (``POST /fapi/v1/marginType``): -4046 if already so, -4047/-4048 if busy."""
    symbol = core.symbol(params)
    assert symbol is not None
    text = params.raw("marginType", required=True)
    params.finish()
    if text not in _MARGIN_TYPES:
        raise fail(-1130, "marginType")
    result = core.perps.set_margin_type(account.account_id, symbol, _MARGIN_TYPES[text], now_ns=now_ns)
    if result is not None:
        codes = {PerpReject.NO_CHANGE: -4046, PerpReject.OPEN_ORDERS: -4047, PerpReject.OPEN_POSITION: -4048}
        raise fail(codes.get(result.perp or PerpReject.NO_CHANGE, -1000))
    return wire.encode(_SUCCESS)


def position_mode(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Get Current Position Mode (``GET /fapi/v1/positionSide/dual``)."""
    params.finish()
    hedge = core.perps.position_mode(account.account_id) is PositionMode.HEDGE
    return wire.encode(face_wire.DualSidePosition(dual_side_position=hedge))


def change_position_mode(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Change Position Mode (``POST /fapi/v1/positionSide/dual``): -4059 if already so,
    -4067/-4068 with open orders or positions (for every symbol)."""
    hedge = params.boolean("dualSidePosition")
    params.finish()
    if hedge is None:
        raise fail(-1102)
    mode = PositionMode.HEDGE if hedge else PositionMode.ONE_WAY
    result = core.perps.set_position_mode(account.account_id, mode, now_ns=now_ns)
    if result is not None:
        codes = {PerpReject.NO_CHANGE: -4059, PerpReject.OPEN_ORDERS: -4067, PerpReject.OPEN_POSITION: -4068}
        raise fail(codes.get(result.perp or PerpReject.NO_CHANGE, -1000))
    return wire.encode(_SUCCESS)


_INCOME_TYPES: Final = {t.value: t for t in IncomeType}


def income_history(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Get Income History (``GET /fapi/v1/income``): the last 7 days unless a range is given;
    oldest first; ``limit`` default 100, at most 1000; ``page`` counts pages of ``limit`` rows from 1."""
    symbol = core.symbol(params, required=False)
    kind = params.raw("incomeType")
    start, end = params.integer("startTime"), params.integer("endTime")
    page, limit = params.integer("page"), params.integer("limit")
    params.finish()
    if kind is not None and kind not in _INCOME_TYPES:
        raise fail(-1130, "incomeType")
    if limit is not None and not 1 <= limit <= 1000:
        raise fail(-1130, "limit")
    now_ms = now_ns // 1_000_000
    if start is None and end is None:
        start = now_ms - _INCOME_WINDOW_MS
    rows = core.perps.income(
        account.account_id, symbol=symbol, income_type=None if kind is None else _INCOME_TYPES[kind],
        start_ns=None if start is None else start * 1_000_000,
        end_ns=None if end is None else end * 1_000_000 + 999_999, now_ns=now_ns,
    )  # fmt: skip
    count = limit or 100
    first = ((page or 1) - 1) * count
    return wire.ENCODER.encode([income_row(i) for i in rows[first : first + count]])
