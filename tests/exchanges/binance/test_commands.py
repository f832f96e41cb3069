"""Commands into Binance requests: exact query strings and signatures with a fixed clock, frames, refusals."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError, LocalProtocolError
from clobactors.exchanges.binance import BinanceSpotDialect, Environment
from clobactors.exchanges.binance import signing as s
from clobactors.exchanges.binance.commands import MAX_STREAMS_PER_FRAME, OrderResponse, stream_frames
from clobactors.exchanges.standard import Channel, Subscription, UserStreamAuth
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder
from clobactors.model import Instrument, OrderType, PositionSide, Side, TimeInForce

# rest-api.md § SIGNED Endpoint Examples for POST /api/v3/order › HMAC Keys.
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TIMESTAMP = 1499827319559
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

CREDENTIALS = s.Credentials(api_key=DOC_API_KEY, secret=DOC_SECRET)
LTCBTC = Instrument.spot("binance", "LTC", "BTC", "LTCBTC")
BTCUSDT = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")


def _dialect() -> BinanceSpotDialect:
    return BinanceSpotDialect.for_environment(Environment.LIVE)


def _limit(**changes: object) -> PlaceOrder:
    fields: dict[str, object] = {
        "exchange": "binance",
        "instrument": "LTC-BTC",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "size": Decimal("1"),
        "price": Decimal("0.1"),
    }
    fields.update(changes)
    return PlaceOrder(**fields)  # type: ignore[arg-type]


def test_place_order_reproduces_the_documented_signed_request() -> None:
    spec = _dialect().place_order_request(_limit(), LTCBTC, CREDENTIALS, DOC_TIMESTAMP)
    assert (spec.method, spec.path, spec.body) == ("POST", "/api/v3/order", b"")
    assert spec.query_string() == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"
    assert spec.headers == (("X-MBX-APIKEY", DOC_API_KEY),)
    assert s.verify_request(DOC_SECRET, spec.query_string())


def test_place_order_parameter_order_with_client_id_and_post_only() -> None:
    dialect = _dialect()
    spec = dialect.place_order_request(
        _limit(order_type=OrderType.LIMIT_MAKER, client_order_id="abc-1", price=Decimal("27000.10")),
        LTCBTC,
        CREDENTIALS,
        DOC_TIMESTAMP,
    )
    assert [k for k, _ in spec.params] == [
        "symbol",
        "side",
        "type",
        "quantity",
        "price",
        "newClientOrderId",
        "newOrderRespType",
        "recvWindow",
        "timestamp",
        "signature",
    ]
    params = dict(spec.params)
    assert (params["type"], params["price"], params["newOrderRespType"]) == ("LIMIT_MAKER", "27000.10", "FULL")
    assert s.verify_request(DOC_SECRET, spec.query_string())


def test_market_order_has_no_price_nor_time_in_force() -> None:
    command = _limit(order_type=OrderType.MARKET, price=None, side=Side.SELL, size=Decimal("1E+1"))
    spec = _dialect().place_order_request(command, LTCBTC, CREDENTIALS, DOC_TIMESTAMP)
    assert spec.query_string().startswith("symbol=LTCBTC&side=SELL&type=MARKET&quantity=10&recvWindow=5000&")


def test_result_response_type_is_always_sent() -> None:
    dialect = BinanceSpotDialect(_dialect().endpoints, order_response=OrderResponse.RESULT)
    spec = dialect.place_order_request(_limit(), LTCBTC, CREDENTIALS, DOC_TIMESTAMP)
    assert ("newOrderRespType", "RESULT") in spec.params


def test_decimals_are_plain_never_exponent() -> None:
    command = _limit(size=Decimal("1E-8"), price=Decimal("0.00000100"))
    params = dict(_dialect().place_order_request(command, LTCBTC, CREDENTIALS, 1).params)
    assert (params["quantity"], params["price"]) == ("0.00000001", "0.00000100")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"price": None}, "needs a price"),
        ({"order_type": OrderType.MARKET}, "takes no price"),
        ({"size": Decimal(0)}, "positive"),
        ({"size": Decimal("-1")}, "positive"),
        ({"price": Decimal("NaN")}, "positive"),
        ({"reduce_only": True}, "reduce-only"),
        ({"position_side": PositionSide.LONG}, "reduce-only"),
        ({"order_type": OrderType.LIMIT_MAKER, "time_in_force": TimeInForce.IOC}, "time in force"),
        ({"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.FOK}, "fill-or-kill"),
        ({"client_order_id": "has space"}, "client order id"),
        ({"instrument": "BTC-USDT"}, "sent with instrument"),
    ],
)
def test_illegal_orders_are_local_protocol_errors(changes: dict[str, object], match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        _dialect().place_order_request(_limit(**changes), LTCBTC, CREDENTIALS, DOC_TIMESTAMP)


def test_cancel_by_client_id_or_order_id() -> None:
    dialect = _dialect()
    by_client = dialect.cancel_order_request(
        CancelOrder(exchange="binance", instrument="LTC-BTC", client_order_id="myOrder1"), LTCBTC, CREDENTIALS, 7
    )
    assert (by_client.method, by_client.path) == ("DELETE", "/api/v3/order")
    assert by_client.query_string().startswith("symbol=LTCBTC&origClientOrderId=myOrder1&recvWindow=5000&timestamp=7&")
    by_id = dialect.cancel_order_request(CancelOrder(exchange="binance", exchange_order_id="4"), LTCBTC, CREDENTIALS, 7)
    assert dict(by_id.params)["orderId"] == "4"
    with pytest.raises(LocalProtocolError):
        dialect.cancel_order_request(CancelOrder(exchange="binance"), LTCBTC, CREDENTIALS, 7)


def test_account_queries() -> None:
    dialect = _dialect()
    cancel_all = dialect.cancel_all_request(CancelAll(exchange="binance"), LTCBTC, CREDENTIALS, 7)
    assert (cancel_all.method, cancel_all.path) == ("DELETE", "/api/v3/openOrders")
    assert cancel_all.query_string().startswith("symbol=LTCBTC&recvWindow=5000&timestamp=7&signature=")
    query = dialect.query_order_request(LTCBTC, "myOrder1", CREDENTIALS, 7)
    assert (query.method, query.path) == ("GET", "/api/v3/order")
    assert query.query_string().startswith("symbol=LTCBTC&origClientOrderId=myOrder1&")
    by_id = dialect.query_order_request(LTCBTC, "", CREDENTIALS, 7, exchange_order_id="4242")
    assert by_id.query_string().startswith("symbol=LTCBTC&orderId=4242&")
    with pytest.raises(LocalProtocolError):
        dialect.query_order_request(LTCBTC, "", CREDENTIALS, 7, exchange_order_id="not-a-number")
    every = dialect.open_orders_request(None, CREDENTIALS, 7)
    assert every.query_string().startswith("recvWindow=5000&timestamp=7&")
    one = dialect.open_orders_request(LTCBTC, CREDENTIALS, 7)
    assert one.query_string().startswith("symbol=LTCBTC&recvWindow")
    fills = dialect.fills_request(LTCBTC, 1499865549000, CREDENTIALS, 7)
    assert (fills.path, fills.query_string().split("&recvWindow")[0]) == (
        "/api/v3/myTrades",
        "symbol=LTCBTC&startTime=1499865549000&limit=1000",
    )
    balances = dialect.balances_request(CREDENTIALS, 7)
    assert (balances.path, balances.query_string().split("&recvWindow")[0]) == (
        "/api/v3/account",
        "omitZeroBalances=true",
    )
    for spec in (cancel_all, query, every, one, fills, balances):
        assert s.verify_request(DOC_SECRET, spec.query_string()), spec.path


def test_unsigned_requests() -> None:
    dialect = _dialect()
    assert dialect.server_time_request().target() == "/api/v3/time"
    assert dialect.exchange_info_request().target() == "/api/v3/exchangeInfo"
    depth = dialect.book_snapshot_request(BTCUSDT, 5000)
    assert depth.target() == "/api/v3/depth?symbol=BTCUSDT&limit=5000"
    for bad in (0, 5001):
        with pytest.raises(ConfigError):
            dialect.book_snapshot_request(BTCUSDT, bad)


def test_no_recv_window() -> None:
    dialect = BinanceSpotDialect.for_environment(recv_window=None)
    spec = dialect.balances_request(CREDENTIALS, 7)
    assert spec.query_string().startswith("omitZeroBalances=true&timestamp=7&signature=")
    with pytest.raises(ConfigError):
        BinanceSpotDialect.for_environment(recv_window=60_001)


@settings(max_examples=100)
@given(
    client_id=st.text(alphabet="abcXYZ019._:/-", min_size=1, max_size=36),
    size=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8),
    price=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8),
    now=st.integers(min_value=0, max_value=2**42),
)
def test_signature_covers_exactly_the_sent_query(client_id: str, size: Decimal, price: Decimal, now: int) -> None:
    """Whatever the values, the spec's query string is what signing.py signs, and decodes back to the values."""
    command = _limit(client_order_id=client_id, size=size, price=price)
    spec = _dialect().place_order_request(command, LTCBTC, CREDENTIALS, now)
    query = spec.query_string()
    unsigned = [(k, v) for k, v in spec.params if k != "signature"]
    assert query == s.signed_query(unsigned[:-2], DOC_SECRET, timestamp=now, recv_window=5000)
    decoded = dict(parse_qsl(query))
    assert Decimal(decoded["quantity"]) == size and Decimal(decoded["price"]) == price
    assert decoded["newClientOrderId"] == client_id
    assert "E" not in decoded["quantity"] + decoded["price"]


# -- WebSocket -----------------------------------------------------------------------------------------------


def test_market_stream_url_and_frames() -> None:
    dialect = _dialect()
    subs = [
        Subscription(Channel.BOOK, BTCUSDT),
        Subscription(Channel.TRADES, BTCUSDT),
        Subscription(Channel.BBO, LTCBTC),
        Subscription(Channel.BOOK, BTCUSDT),
    ]
    assert dialect.market_stream_url(subs) == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@trade/ltcbtc@bookTicker"
    )
    assert dialect.subscribe_frames(subs, 1) == ()
    (frame,) = dialect.live_subscribe_frames(subs, 9)
    assert json.loads(frame) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@depth@100ms", "btcusdt@trade", "ltcbtc@bookTicker"],
        "id": 9,
    }
    (frame,) = dialect.live_unsubscribe_frames(subs[:1], 10)
    assert json.loads(frame) == {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 10}
    with pytest.raises(ConfigError, match="mark price"):
        dialect.market_stream_url([Subscription(Channel.MARK, BTCUSDT)])
    slow = BinanceSpotDialect(dialect.endpoints, depth_speed_ms=1000)
    assert slow.market_stream_url(subs[:1]).endswith("streams=btcusdt@depth")


def test_stream_frames_are_chunked() -> None:
    names = [f"s{i}usdt@trade" for i in range(MAX_STREAMS_PER_FRAME + 1)]
    frames = [json.loads(f) for f in stream_frames("SUBSCRIBE", names, 5)]
    assert [(len(f["params"]), f["id"]) for f in frames] == [(MAX_STREAMS_PER_FRAME, 5), (1, 6)]


def test_too_many_streams_for_one_connection() -> None:
    subs = [Subscription(Channel.TRADES, Instrument.spot("binance", f"A{i}", "USDT", f"A{i}USDT")) for i in range(1025)]
    with pytest.raises(ConfigError, match="1024"):
        _dialect().market_stream_url(subs)


def test_user_stream_signed_frame() -> None:
    dialect = _dialect()
    assert dialect.user_stream_auth is UserStreamAuth.SIGNED_FRAME
    assert dialect.user_stream_url() == "wss://ws-api.binance.com:443/ws-api/v3"
    (frame,) = dialect.user_stream_login_frames(CREDENTIALS, DOC_TIMESTAMP, 3)
    assert isinstance(frame, str)  # JSON text, sent as a text frame
    request = json.loads(frame)
    assert request["id"] == 3 and request["method"] == "userDataStream.subscribe.signature"
    params = request["params"]
    assert {k: params[k] for k in ("apiKey", "recvWindow", "timestamp")} == {
        "apiKey": DOC_API_KEY,
        "recvWindow": 5000,
        "timestamp": DOC_TIMESTAMP,
    }
    payload = f"apiKey={DOC_API_KEY}&recvWindow=5000&timestamp={DOC_TIMESTAMP}"  # sorted by name
    assert params["signature"] == s.hmac_sha256_hex(DOC_SECRET, payload)
    assert s.verify_ws_params(DOC_SECRET, params)


def test_user_stream_listen_key() -> None:
    dialect = BinanceSpotDialect.for_environment(user_stream_auth=UserStreamAuth.LISTEN_KEY)
    assert dialect.user_stream_login_frames(CREDENTIALS, 1, 1) == ()
    assert dialect.user_stream_url("abc") == "wss://stream.binance.com:9443/ws/abc"
    with pytest.raises(ConfigError):
        dialect.user_stream_url()
    create = dialect.listen_key_request(CREDENTIALS)
    assert (create.method, create.target(), create.headers) == (
        "POST",
        "/api/v3/userDataStream",
        (("X-MBX-APIKEY", DOC_API_KEY),),
    )
    keep = dialect.listen_key_keepalive_request(CREDENTIALS, "abc")
    assert (keep.method, keep.target()) == ("PUT", "/api/v3/userDataStream?listenKey=abc")
    assert dialect.listen_key_interval == 1800.0
