"""Binance USD-M face: REST routes. Market data, account, settings, income, listen keys, and the route table.

Each route names its security (§ General Info › Endpoint Security Type: NONE, USER_STREAM = API key only,
SIGNED = key + HMAC signature + timing), its request weight (each endpoint's **Request Weight**, from
:mod:`.urls` where the client dialect knows the route) and whether it counts against the ORDERS limits.
Sans-IO.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.face_params import Params
from clobactors.exchanges.binance_common.face_http import Route, Security, Weight
from clobactors.exchanges.binance_usdm import face_wire, urls, wire
from clobactors.exchanges.binance_usdm.face_convert import (
    account_balance,
    income_row,
    position_risk,
    position_side_text,
    premium_index,
)
from clobactors.exchanges.binance_usdm.face_core import UsdmCore, fail
from clobactors.exchanges.binance_usdm.face_orders import (
    amend_order,
    cancel_all,
    cancel_order,
    new_order,
    open_orders,
    query_order,
    user_trades,
)
from clobactors.model import MarginType, PositionMode
from clobactors.sim.face_protocol import Output, SimCredentials
from clobactors.sim.perp_records import IncomeType, PerpReject, PositionInfo
from clobactors.sim.records import Rejection

__all__ = ["ACCOUNT_V2", "ACCOUNT_V3", "BALANCE_V2", "PING", "ROUTES", "TICKER_BOOK", "Route", "Security"]

PING: Final = "/fapi/v1/ping"
TICKER_BOOK: Final = "/fapi/v1/ticker/bookTicker"
ACCOUNT_V2: Final = "/fapi/v2/account"
ACCOUNT_V3: Final = "/fapi/v3/account"
BALANCE_V2: Final = "/fapi/v2/balance"
_DEPTH_DEFAULT: Final = 500
_INCOME_WINDOW_MS: Final = 7 * 86_400_000
_ZERO: Final = Decimal(0)


Handler = Callable[[UsdmCore, SimCredentials | None, Params, int], bytes]


def _fixed(weight: int) -> Weight:
    return lambda _: weight


def _known(method: str, path: str) -> Weight:
    weight = urls.route_cost(method, path).weight
    return lambda _: weight


def _signed(handler: Callable[[UsdmCore, SimCredentials, Params, int], bytes]) -> Handler:
    def call(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
        assert account is not None
        return handler(core, account, params, now_ns)

    call.__doc__ = handler.__doc__
    return call


# -- market data (NONE) --------------------------------------------------------------------------------------


def _ping(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Test Connectivity (``GET /fapi/v1/ping``)."""
    params.finish()
    return b"{}"


def _time(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Check Server Time (``GET /fapi/v1/time``)."""
    params.finish()
    return wire.encode(wire.ServerTime(server_time=now_ns // 1_000_000))


def _exchange_info(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Exchange Information (``GET /fapi/v1/exchangeInfo``)."""
    params.finish()
    return wire.encode(core.exchange_info(now_ns // 1_000_000))


def _depth(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Order Book (``GET /fapi/v1/depth``): limit 5/10/20/50/100/500/1000, default 500."""
    symbol = core.symbol(params)
    assert symbol is not None
    limit = params.integer("limit")
    params.finish()
    if limit is not None and limit not in urls.DEPTH_LIMITS:
        raise fail(-1130, "limit")
    depth = core.engine.depth(symbol, limit or _DEPTH_DEFAULT)
    now_ms = now_ns // 1_000_000
    return wire.encode(
        wire.OrderBook(
            last_update_id=depth.update_id, bids=depth.bids, asks=depth.asks, event_time=now_ms,
            transaction_time=now_ms,
        )
    )  # fmt: skip


def _premium_index(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Mark Price (``GET /fapi/v1/premiumIndex``): one object with ``symbol``, else a list."""
    symbol = core.symbol(params, required=False)
    params.finish()
    if symbol is not None:
        return wire.encode(premium_index(core.perps.premium(symbol, now_ns=now_ns)))
    rows = [premium_index(core.perps.premium(s, now_ns=now_ns)) for s in core.engine.symbols]
    return wire.ENCODER.encode(rows)


def _book_ticker(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ Market Data › Symbol Order Book Ticker (``GET /fapi/v1/ticker/bookTicker``)."""
    symbol = core.symbol(params, required=False)
    params.finish()
    rows = []
    for s in core.engine.symbols if symbol is None else (symbol,):
        top = core.engine.best_bid_ask(s)
        rows.append(
            face_wire.BookTicker(
                symbol=s, bid_price=top.bid_price or _ZERO, bid_qty=top.bid_size,
                ask_price=top.ask_price or _ZERO, ask_qty=top.ask_size, time=now_ns // 1_000_000,
            )
        )  # fmt: skip
    return wire.encode(rows[0]) if symbol is not None else wire.ENCODER.encode(rows)


# -- account (SIGNED) -----------------------------------------------------------------------------------------


def _positions(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int, *, v3: bool) -> bytes:
    symbol = core.symbol(params, required=False)
    params.finish()
    rows = core.perps.positions(account.account_id, symbol, now_ns=now_ns)
    if v3:  # V3 lists only positions that are open or have open orders
        rows = tuple(p for p in rows if p.size or p.open_order_margin)
    return wire.ENCODER.encode([position_risk(p, v3=v3) for p in rows])


def _position_risk_v2(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Position Information V2 (``GET /fapi/v2/positionRisk``): every symbol and leg."""
    return _positions(core, account, params, now_ns, v3=False)


def _position_risk_v3(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Trade › Position Information V3 (``GET /fapi/v3/positionRisk``): open positions only."""
    return _positions(core, account, params, now_ns, v3=True)


def _alias(account: SimCredentials) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    code = zlib.crc32(account.account_id.encode())
    return "".join(letters[(code >> (6 * i)) % 52] for i in range(4))


def _balances(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


def _account_v2(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Account Information V2 (``GET /fapi/v2/account``)."""
    return _account(core, account, params, now_ns, v2=True)


def _account_v3(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


def _leverage(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


def _margin_type(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


def _dual_get(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
    """§ Account › Get Current Position Mode (``GET /fapi/v1/positionSide/dual``)."""
    params.finish()
    hedge = core.perps.position_mode(account.account_id) is PositionMode.HEDGE
    return wire.encode(face_wire.DualSidePosition(dual_side_position=hedge))


def _dual_post(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


def _income(core: UsdmCore, account: SimCredentials, params: Params, now_ns: int) -> bytes:
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


# -- listen keys (USER_STREAM) --------------------------------------------------------------------------------


def _listen_key_create(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ User Data Streams › Start User Data Stream (``POST /fapi/v1/listenKey``): an active key comes back
    extended."""
    assert account is not None
    params.finish()
    key = core.listen_keys.create(account.account_id, now_ns)
    core.key_of[account.account_id] = key
    return wire.encode(wire.ListenKey(listen_key=key))


def _active_key(core: UsdmCore, account: SimCredentials) -> str:
    key = core.key_of.get(account.account_id)
    if key is None or core.listen_keys.account_of(key) != account.account_id:
        core.key_of.pop(account.account_id, None)
        raise fail(-1125)
    return key


def _listen_key_keepalive(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ User Data Streams › Keepalive User Data Stream (``PUT /fapi/v1/listenKey``): 60 more minutes."""
    assert account is not None
    params.finish()
    key = _active_key(core, account)
    core.listen_keys.keepalive(key, account.account_id, now_ns)
    return wire.encode(wire.ListenKey(listen_key=key))


def _listen_key_close(core: UsdmCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """§ User Data Streams › Close User Data Stream (``DELETE /fapi/v1/listenKey``): its streams close."""
    assert account is not None
    params.finish()
    key = _active_key(core, account)
    core.listen_keys.close(key, account.account_id)
    del core.key_of[account.account_id]
    core.pending.append(Output(f"lk:{key}", None, close=(1000, "listenKey closed")))
    return b"{}"


def _depth_weight(params: Mapping[str, str]) -> int:
    limit = params.get("limit", "")
    return urls.DEPTH_LIMITS.get(int(limit) if limit.isdigit() else _DEPTH_DEFAULT, 20)


#: ``(method, path)`` -> route.
ROUTES: Final[Mapping[tuple[str, str], Route[UsdmCore]]] = {
    ("GET", PING): Route(_ping, Security.NONE, _fixed(1)),
    ("GET", urls.TIME): Route(_time, Security.NONE, _known("GET", urls.TIME)),
    ("GET", urls.EXCHANGE_INFO): Route(_exchange_info, Security.NONE, _known("GET", urls.EXCHANGE_INFO)),
    ("GET", urls.DEPTH): Route(_depth, Security.NONE, _depth_weight),
    ("GET", urls.PREMIUM_INDEX): Route(_premium_index, Security.NONE, lambda p: 1 if "symbol" in p else 10),
    ("GET", TICKER_BOOK): Route(_book_ticker, Security.NONE, lambda p: 2 if "symbol" in p else 5),
    ("POST", urls.ORDER): Route(_signed(new_order), Security.SIGNED, _known("POST", urls.ORDER), orders=True),
    ("PUT", urls.ORDER): Route(_signed(amend_order), Security.SIGNED, _known("PUT", urls.ORDER), orders=True),
    ("GET", urls.ORDER): Route(_signed(query_order), Security.SIGNED, _known("GET", urls.ORDER)),
    ("DELETE", urls.ORDER): Route(_signed(cancel_order), Security.SIGNED, _known("DELETE", urls.ORDER)),
    ("GET", urls.OPEN_ORDERS): Route(_signed(open_orders), Security.SIGNED, lambda p: 1 if "symbol" in p else 40),
    ("DELETE", urls.ALL_OPEN_ORDERS): Route(
        _signed(cancel_all), Security.SIGNED, _known("DELETE", urls.ALL_OPEN_ORDERS)
    ),
    ("GET", urls.USER_TRADES): Route(_signed(user_trades), Security.SIGNED, _known("GET", urls.USER_TRADES)),
    ("GET", urls.POSITION_RISK): Route(_signed(_position_risk_v2), Security.SIGNED, _fixed(5)),
    ("GET", urls.POSITION_RISK_V3): Route(_signed(_position_risk_v3), Security.SIGNED, _fixed(5)),
    ("GET", ACCOUNT_V2): Route(_signed(_account_v2), Security.SIGNED, _fixed(5)),
    ("GET", ACCOUNT_V3): Route(_signed(_account_v3), Security.SIGNED, _fixed(5)),
    ("GET", BALANCE_V2): Route(_signed(_balances), Security.SIGNED, _fixed(5)),
    ("GET", urls.BALANCE): Route(_signed(_balances), Security.SIGNED, _known("GET", urls.BALANCE)),
    ("POST", urls.LEVERAGE): Route(_signed(_leverage), Security.SIGNED, _known("POST", urls.LEVERAGE)),
    ("POST", urls.MARGIN_TYPE): Route(_signed(_margin_type), Security.SIGNED, _known("POST", urls.MARGIN_TYPE)),
    ("GET", urls.POSITION_SIDE_DUAL): Route(_signed(_dual_get), Security.SIGNED, _fixed(30)),
    ("POST", urls.POSITION_SIDE_DUAL): Route(
        _signed(_dual_post), Security.SIGNED, _known("POST", urls.POSITION_SIDE_DUAL)
    ),
    ("GET", urls.INCOME): Route(_signed(_income), Security.SIGNED, _known("GET", urls.INCOME)),
    ("POST", urls.LISTEN_KEY): Route(_listen_key_create, Security.USER_STREAM, _known("POST", urls.LISTEN_KEY)),
    ("PUT", urls.LISTEN_KEY): Route(_listen_key_keepalive, Security.USER_STREAM, _known("PUT", urls.LISTEN_KEY)),
    ("DELETE", urls.LISTEN_KEY): Route(_listen_key_close, Security.USER_STREAM, _known("DELETE", urls.LISTEN_KEY)),
}
