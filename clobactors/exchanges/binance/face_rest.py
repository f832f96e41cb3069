"""Binance face: REST routes. Market data, account, listen keys, and the table that routes every request.

Each route names its security type (rest-api.md § Endpoint security type: NONE, USER_STREAM = API key only,
SIGNED = key + HMAC signature + timing), its request weight (from :mod:`.urls`, which follows each
endpoint's **Weight** section) and whether it counts against the ORDERS limits. Sans-IO.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from clobactors.exchanges.binance import urls, wire
from clobactors.exchanges.binance.errors import ErrorCode
from clobactors.exchanges.binance.face_convert import ZERO, d8, my_trade
from clobactors.exchanges.binance.face_core import FaceCore
from clobactors.exchanges.binance.face_orders import (
    cancel_all,
    cancel_order,
    cancel_replace,
    new_order,
    open_orders,
    query_order,
)
from clobactors.exchanges.binance.face_params import FaceError, Params, invalid
from clobactors.exchanges.binance_common.face_http import Route, Security, Weight
from clobactors.sim.face_protocol import Output, SimCredentials

__all__ = ["ROUTES", "Route", "Security"]

_SYMBOLS_RANGE: Final = r'^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'
_SYMBOL_LIST: Final = msgspec.json.Decoder(list[str])
_DEPTH_MAX: Final = 5000


Handler = Callable[[FaceCore, SimCredentials | None, Params, int], bytes]


def _fixed(method: str, path: str) -> Weight:
    weight = urls.route_cost(method, path).weight
    return lambda _: weight


def _int_or(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


def _symbols_count(params: Mapping[str, str]) -> int | None:
    if "symbol" in params:
        return 1
    if "symbols" in params:
        try:
            return max(1, len(_SYMBOL_LIST.decode(params["symbols"])))
        except msgspec.DecodeError:
            return 1
    return None


# -- market data (NONE) --------------------------------------------------------------------------------------


def _symbols(core: FaceCore, params: Params) -> tuple[str, ...] | None:
    """``symbol=X`` or ``symbols=["X","Y"]`` (not both); ``None`` when neither was sent."""
    one = core.symbol(params, required=False)
    many = params.raw("symbols")
    if one is not None and many is not None:
        raise FaceError(ErrorCode.OPTIONAL_PARAMS_BAD_COMBO)
    if one is not None:
        return (one,)
    if many is None:
        return None
    try:
        names = _SYMBOL_LIST.decode(many)
    except msgspec.DecodeError:
        raise FaceError(
            ErrorCode.ILLEGAL_CHARS,
            f"Illegal characters found in parameter 'symbols'; legal range is '{_SYMBOLS_RANGE}'.",
        ) from None
    if len(set(names)) != len(names):
        raise FaceError(ErrorCode.DUPLICATE_SYMBOLS)
    for name in names:
        if not core.engine.has_symbol(name):
            raise FaceError(ErrorCode.BAD_SYMBOL)
    return tuple(names)


def _ping(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Test connectivity (``GET /api/v3/ping``)."""
    params.finish()
    return b"{}"


def _time(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Check server time (``GET /api/v3/time``)."""
    params.finish()
    return wire.encode(wire.ServerTime(server_time=now_ns // 1_000_000))


def _exchange_info(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Exchange information (``GET /api/v3/exchangeInfo``): all symbols, or the ones asked."""
    symbols = _symbols(core, params)
    params.raw("permissions")
    params.boolean("showPermissionSets")
    params.choice("symbolStatus", ("TRADING", "HALT", "BREAK"), code=ErrorCode.INVALID_SYMBOLSTATUS)
    params.finish()
    return wire.encode(core.exchange_info(symbols or (), now_ns // 1_000_000))


def _depth(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Order book (``GET /api/v3/depth``): default 100 levels; above 5000 truncates to 5000."""
    symbol = core.symbol(params)
    assert symbol is not None
    limit = params.integer("limit")
    params.finish()
    if limit is not None and limit < 1:
        raise invalid("limit")
    depth = core.engine.depth(symbol, min(limit or 100, _DEPTH_MAX))
    book = wire.OrderBook(
        last_update_id=depth.update_id,
        bids=tuple((d8(p), d8(q)) for p, q in depth.bids),
        asks=tuple((d8(p), d8(q)) for p, q in depth.asks),
    )
    return wire.encode(book)


def _trades(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Recent trades list (``GET /api/v3/trades``): default 500, at most 1000."""
    symbol = core.symbol(params)
    assert symbol is not None
    limit = params.integer("limit")
    params.finish()
    if limit is not None and limit < 1:
        raise invalid("limit")
    trades = core.engine.recent_trades(symbol, min(limit or 500, 1000))
    rows = [
        wire.RecentTrade(
            id=t.trade_id,
            price=d8(t.price),
            qty=d8(t.size),
            quote_qty=d8(t.quote_size),
            time=t.ts_ns // 1_000_000,
            is_buyer_maker=t.taker_side.value == "sell",
            is_best_match=True,
        )
        for t in trades
    ]
    return wire.ENCODER.encode(rows)


def _book_ticker(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Symbol order book ticker (``GET /api/v3/ticker/bookTicker``): one object or a list."""
    symbols = _symbols(core, params)
    single = "symbol" in params
    params.finish()
    rows = []
    for symbol in symbols or core.engine.symbols:
        top = core.engine.best_bid_ask(symbol)
        rows.append(
            wire.BookTicker(
                symbol=symbol,
                bid_price=d8(top.bid_price or ZERO),
                bid_qty=d8(top.bid_size),
                ask_price=d8(top.ask_price or ZERO),
                ask_qty=d8(top.ask_size),
            )
        )
    return wire.encode(rows[0]) if single else wire.ENCODER.encode(rows)


_MINI_FIELDS: Final = frozenset(
    {
        "symbol",
        "openPrice",
        "highPrice",
        "lowPrice",
        "lastPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    }
)


def _ticker_24hr(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § 24hr ticker price change statistics (``GET /api/v3/ticker/24hr``), FULL or MINI."""
    symbols = _symbols(core, params)
    single = "symbol" in params
    kind = params.choice("type", ("FULL", "MINI"), code=ErrorCode.INVALID_TICKER_TYPE) or "FULL"
    params.finish()
    now_ms = now_ns // 1_000_000
    rows = [core.ticker(s).ticker(s, core.engine.best_bid_ask(s), now_ms) for s in symbols or core.engine.symbols]
    if kind == "MINI":
        mini = [{k: v for k, v in msgspec.json.decode(wire.encode(r)).items() if k in _MINI_FIELDS} for r in rows]
        return msgspec.json.encode(mini[0] if single else mini)
    return wire.encode(rows[0]) if single else wire.ENCODER.encode(rows)


# -- account (SIGNED) -----------------------------------------------------------------------------------------


def _account(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Account information (USER_DATA) (``GET /api/v3/account``)."""
    assert account is not None
    omit_zero = params.boolean("omitZeroBalances") or False
    params.finish()
    rules = core.engine.rules(core.engine.symbols[0])
    maker, taker = rules.maker_fee, rules.taker_fee
    balances = tuple(
        wire.AccountBalance(asset=b.asset, free=d8(b.free), locked=d8(b.locked))
        for b in core.engine.balances(account.account_id)
        if not (omit_zero and b.free == 0 and b.locked == 0)
    )
    info = wire.AccountInfo(
        maker_commission=int(maker * 10_000),
        taker_commission=int(taker * 10_000),
        buyer_commission=0,
        seller_commission=0,
        commission_rates=wire.CommissionRates(maker=d8(maker), taker=d8(taker), buyer=d8(ZERO), seller=d8(ZERO)),
        can_trade=True,
        can_withdraw=True,
        can_deposit=True,
        brokered=False,
        require_self_trade_prevention=False,
        prevent_sor=False,
        update_time=now_ns // 1_000_000,
        account_type="SPOT",
        balances=balances,
        permissions=("SPOT",),
        uid=zlib.crc32(account.account_id.encode()),
    )
    return wire.encode(info)


def _my_trades(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """rest-api.md § Account trade list (USER_DATA) (``GET /api/v3/myTrades``)."""
    assert account is not None
    symbol = core.symbol(params)
    assert symbol is not None
    order_id = params.integer("orderId")
    start, end = params.integer("startTime"), params.integer("endTime")
    from_id = params.integer("fromId")
    limit = params.integer("limit")
    params.finish()
    if from_id is not None and (start is not None or end is not None):
        raise FaceError(ErrorCode.OPTIONAL_PARAMS_BAD_COMBO)
    if limit is not None and limit < 1:
        raise invalid("limit")
    rows = [
        e
        for e in core.engine.trades_for(account.account_id, symbol)
        if (order_id is None or e.order_id == order_id)
        and (start is None or e.ts_ns // 1_000_000 >= start)
        and (end is None or e.ts_ns // 1_000_000 <= end)
        and (from_id is None or e.trade_id >= from_id)
    ]
    count = min(limit or 500, 1000)
    rows = rows[:count] if from_id is not None or start is not None else rows[-count:]
    return wire.ENCODER.encode([my_trade(e) for e in rows])


# -- listen keys (USER_STREAM) --------------------------------------------------------------------------------


def _listen_key_create(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """user-data-stream.md § Create a listenKey (USER_STREAM) (``POST /api/v3/userDataStream``)."""
    assert account is not None
    params.finish()
    return wire.encode(wire.ListenKey(listen_key=core.listen_keys.create(account.account_id, now_ns)))


def _listen_key_keepalive(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """user-data-stream.md § Ping/Keep-alive a listenKey (USER_STREAM) (``PUT``): 60 more minutes."""
    assert account is not None
    key = params.raw("listenKey", required=True)
    params.finish()
    assert key is not None
    core.listen_keys.keepalive(key, account.account_id, now_ns)
    return b"{}"


def _listen_key_close(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
    """user-data-stream.md § Close a listenKey (USER_STREAM) (``DELETE``): its streams close."""
    assert account is not None
    key = params.raw("listenKey", required=True)
    params.finish()
    assert key is not None
    core.listen_keys.close(key, account.account_id)
    core.pending.append(Output(f"lk:{key}", None, close=(1000, "listenKey closed")))
    return b"{}"


def _signed(handler: Callable[[FaceCore, SimCredentials, Params, int], bytes]) -> Handler:
    def call(core: FaceCore, account: SimCredentials | None, params: Params, now_ns: int) -> bytes:
        assert account is not None
        return handler(core, account, params, now_ns)

    call.__doc__ = handler.__doc__
    return call


def _depth_weight(params: Mapping[str, str]) -> int:
    return urls.depth_cost(min(max(1, _int_or(params.get("limit"), 100)), _DEPTH_MAX)).weight


def _my_trades_weight(params: Mapping[str, str]) -> int:
    return 5 if "orderId" in params else 20


#: ``(method, path)`` -> route.
ROUTES: Final[Mapping[tuple[str, str], Route[FaceCore]]] = {
    ("GET", urls.PING): Route(_ping, Security.NONE, _fixed("GET", urls.PING)),
    ("GET", urls.TIME): Route(_time, Security.NONE, _fixed("GET", urls.TIME)),
    ("GET", urls.EXCHANGE_INFO): Route(_exchange_info, Security.NONE, _fixed("GET", urls.EXCHANGE_INFO)),
    ("GET", urls.DEPTH): Route(_depth, Security.NONE, _depth_weight),
    ("GET", urls.TRADES): Route(_trades, Security.NONE, _fixed("GET", urls.TRADES)),
    ("GET", urls.TICKER_BOOK): Route(
        _book_ticker, Security.NONE, lambda p: urls.book_ticker_cost(_symbols_count(p)).weight
    ),
    ("GET", urls.TICKER_24HR): Route(
        _ticker_24hr, Security.NONE, lambda p: urls.ticker_24hr_cost(_symbols_count(p)).weight
    ),
    ("POST", urls.ORDER): Route(_signed(new_order), Security.SIGNED, _fixed("POST", urls.ORDER), orders=True),
    ("POST", urls.ORDER_CANCEL_REPLACE): Route(
        _signed(cancel_replace), Security.SIGNED, _fixed("POST", urls.ORDER_CANCEL_REPLACE), orders=True
    ),
    ("GET", urls.ORDER): Route(_signed(query_order), Security.SIGNED, _fixed("GET", urls.ORDER)),
    ("DELETE", urls.ORDER): Route(_signed(cancel_order), Security.SIGNED, _fixed("DELETE", urls.ORDER)),
    ("GET", urls.OPEN_ORDERS): Route(
        _signed(open_orders), Security.SIGNED, lambda p: urls.open_orders_cost(with_symbol="symbol" in p).weight
    ),
    ("DELETE", urls.OPEN_ORDERS): Route(_signed(cancel_all), Security.SIGNED, _fixed("DELETE", urls.OPEN_ORDERS)),
    ("GET", urls.ACCOUNT): Route(_account, Security.SIGNED, _fixed("GET", urls.ACCOUNT)),
    ("GET", urls.MY_TRADES): Route(_my_trades, Security.SIGNED, _my_trades_weight),
    ("POST", urls.USER_DATA_STREAM): Route(
        _listen_key_create, Security.USER_STREAM, _fixed("POST", urls.USER_DATA_STREAM)
    ),
    ("PUT", urls.USER_DATA_STREAM): Route(
        _listen_key_keepalive, Security.USER_STREAM, _fixed("PUT", urls.USER_DATA_STREAM)
    ),
    ("DELETE", urls.USER_DATA_STREAM): Route(
        _listen_key_close, Security.USER_STREAM, _fixed("DELETE", urls.USER_DATA_STREAM)
    ),
}
