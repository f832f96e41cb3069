"""Binance USD-M face: REST routes. Market data, listen keys, and the route table.

The account handlers (positions, balances, account information, settings, income) live in
:mod:`.face_account`, the order handlers in :mod:`.face_orders`; the table below names them all.

Each route names its security (§ General Info › Endpoint Security Type: NONE, USER_STREAM = API key only,
SIGNED = key + HMAC signature + timing), its request weight (each endpoint's **Request Weight**, from
:mod:`.urls` where the client dialect knows the route) and whether it counts against the ORDERS limits.
Sans-IO.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from clobactors.exchanges.binance.face_params import Params
from clobactors.exchanges.binance_common.face_http import Route, Security, Weight
from clobactors.exchanges.binance_usdm import face_wire, urls, wire
from clobactors.exchanges.binance_usdm.face_account import (
    account_balances,
    account_v2,
    account_v3,
    change_leverage,
    change_margin_type,
    change_position_mode,
    income_history,
    position_mode,
    position_risk_v2,
    position_risk_v3,
)
from clobactors.exchanges.binance_usdm.face_convert import premium_index
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
from clobactors.sim.face_protocol import Output, SimCredentials

__all__ = ["ACCOUNT_V2", "ACCOUNT_V3", "BALANCE_V2", "PING", "ROUTES", "TICKER_BOOK", "Route", "Security"]

PING: Final = "/fapi/v1/ping"
TICKER_BOOK: Final = "/fapi/v1/ticker/bookTicker"
ACCOUNT_V2: Final = "/fapi/v2/account"
ACCOUNT_V3: Final = "/fapi/v3/account"
BALANCE_V2: Final = "/fapi/v2/balance"
_DEPTH_DEFAULT: Final = 500
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
    ("GET", urls.POSITION_RISK): Route(_signed(position_risk_v2), Security.SIGNED, _fixed(5)),
    ("GET", urls.POSITION_RISK_V3): Route(_signed(position_risk_v3), Security.SIGNED, _fixed(5)),
    ("GET", ACCOUNT_V2): Route(_signed(account_v2), Security.SIGNED, _fixed(5)),
    ("GET", ACCOUNT_V3): Route(_signed(account_v3), Security.SIGNED, _fixed(5)),
    ("GET", BALANCE_V2): Route(_signed(account_balances), Security.SIGNED, _fixed(5)),
    ("GET", urls.BALANCE): Route(_signed(account_balances), Security.SIGNED, _known("GET", urls.BALANCE)),
    ("POST", urls.LEVERAGE): Route(_signed(change_leverage), Security.SIGNED, _known("POST", urls.LEVERAGE)),
    ("POST", urls.MARGIN_TYPE): Route(_signed(change_margin_type), Security.SIGNED, _known("POST", urls.MARGIN_TYPE)),
    ("GET", urls.POSITION_SIDE_DUAL): Route(_signed(position_mode), Security.SIGNED, _fixed(30)),
    ("POST", urls.POSITION_SIDE_DUAL): Route(
        _signed(change_position_mode), Security.SIGNED, _known("POST", urls.POSITION_SIDE_DUAL)
    ),
    ("GET", urls.INCOME): Route(_signed(income_history), Security.SIGNED, _known("GET", urls.INCOME)),
    ("POST", urls.LISTEN_KEY): Route(_listen_key_create, Security.USER_STREAM, _known("POST", urls.LISTEN_KEY)),
    ("PUT", urls.LISTEN_KEY): Route(_listen_key_keepalive, Security.USER_STREAM, _known("PUT", urls.LISTEN_KEY)),
    ("DELETE", urls.LISTEN_KEY): Route(_listen_key_close, Security.USER_STREAM, _known("DELETE", urls.LISTEN_KEY)),
}
