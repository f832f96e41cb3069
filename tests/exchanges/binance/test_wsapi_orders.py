"""REST requests translated into WebSocket API requests, and WebSocket API answers into REST results.

The documented signed ``order.place`` (web-socket-api.md § SIGNED request example (HMAC)) is read in place from
the shared golden files; everything else uses the REST builders the order manager uses.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import InsufficientBalance, RateLimited, RemoteProtocolError
from clobactors.exchanges.binance import BinanceSpotDialect, Environment, commands
from clobactors.exchanges.binance import signing as s
from clobactors.exchanges.binance.wsapi_orders import WS_API_METHODS, decode_answer, order_entry_frame
from clobactors.exchanges.order_entry import OrderEntryDialect
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import CancelAll, CancelOrder, PlaceOrder
from clobactors.model import Instrument, OrderType, Side

GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot" / "signing_hmac.json"
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDENTIALS = s.Credentials(api_key=DOC_API_KEY, secret=DOC_SECRET)
BTCUSDT = Instrument.spot("binance", "BTC", "USDT", "BTCUSDT")
NOW = 1645423376532


def _golden(section: str, name: str) -> dict[str, object]:
    if not GOLDEN.exists():
        pytest.skip("shared golden files absent")
    (entry,) = [e for e in json.loads(GOLDEN.read_text())[section] if e["name"] == name]
    return dict(entry)


def _rest_twin(params: dict[str, object]) -> HttpRequestSpec:
    """The REST request carrying the same parameters, in the same order (signed: its signature is dropped)."""
    pairs = [(k, str(v)) for k, v in params.items() if k not in ("apiKey", "signature")]
    return commands.signed("POST", "/api/v3/order", pairs, CREDENTIALS, now_ms=NOW, recv_window=None)


def test_the_documented_signed_order_place_is_reproduced_byte_for_byte_in_its_params() -> None:
    entry = _golden("ws_api_signed_requests", "ws_api_signed_order_place_ascii")
    documented = entry["json"]
    assert isinstance(documented, dict)
    params = dict(documented["params"])
    spec = HttpRequestSpec(
        method="POST",
        path="/api/v3/order",
        params=tuple((k, str(v)) for k, v in params.items() if k not in ("apiKey", "signature")),
    )
    frame = order_entry_frame(spec, CREDENTIALS, 7)
    assert frame is not None
    sent = json.loads(frame)
    assert sent == {"id": 7, "method": documented["method"], "params": params}
    assert list(sent["params"]) == list(params)  # the documented order, numbers as numbers


@pytest.mark.parametrize("name", ["ws_api_order_place_ascii", "ws_api_order_place_non_ascii"])
def test_the_documented_signing_vectors(name: str) -> None:
    vector = _golden("vectors", name)
    payload = str(vector["payload"])
    params = dict(pair.split("=", 1) for pair in payload.split("&"))
    spec = HttpRequestSpec(
        method="POST", path="/api/v3/order", params=tuple((k, v) for k, v in params.items() if k != "apiKey")
    )
    frame = order_entry_frame(spec, CREDENTIALS, 1)
    assert frame is not None
    assert json.loads(frame)["params"]["signature"] == vector["expected_signature"]


def _limit() -> PlaceOrder:
    return PlaceOrder(
        exchange="binance", instrument="BTC-USDT", side=Side.BUY, order_type=OrderType.LIMIT,
        size=Decimal("0.01"), price=Decimal("52000.5"), client_order_id="abc-1",
    )  # fmt: skip


def _every_twin() -> list[HttpRequestSpec]:
    dialect = BinanceSpotDialect.for_environment(Environment.LIVE)
    cancel = CancelOrder(exchange="binance", instrument="BTC-USDT", client_order_id="abc-1")
    replacement = msgspec.structs.replace(_limit(), client_order_id="abc-2")
    return [
        dialect.place_order_request(_limit(), BTCUSDT, CREDENTIALS, NOW),
        dialect.cancel_order_request(cancel, BTCUSDT, CREDENTIALS, NOW),
        dialect.modify_order_request(replacement, "abc-1", BTCUSDT, CREDENTIALS, NOW),
        dialect.query_order_request(BTCUSDT, "abc-1", CREDENTIALS, NOW),
        dialect.open_orders_request(BTCUSDT, CREDENTIALS, NOW),
        dialect.cancel_all_request(CancelAll(exchange="binance", instrument="BTC-USDT"), BTCUSDT, CREDENTIALS, NOW),
        dialect.balances_request(CREDENTIALS, NOW),
        dialect.fills_request(BTCUSDT, NOW - 60_000, CREDENTIALS, NOW),
    ]


def test_every_order_and_account_request_has_its_documented_twin() -> None:
    specs = _every_twin()
    assert {(spec.method, spec.path) for spec in specs} == set(WS_API_METHODS)
    for spec in specs:
        frame = order_entry_frame(spec, CREDENTIALS, 3)
        assert frame is not None
        sent = json.loads(frame)
        assert sent["method"] == WS_API_METHODS[(spec.method, spec.path)]
        params = sent["params"]
        rest = {k: v for k, v in spec.params if k != "signature"}
        assert {k: s.format_value(v) for k, v in params.items() if k not in ("apiKey", "signature")} == rest
        assert list(params)[: len(rest)] == list(rest)  # the REST order, then apiKey and signature
        assert params["apiKey"] == DOC_API_KEY
        assert isinstance(params["timestamp"], int) and params["timestamp"] == NOW
        assert s.verify_ws_params(DOC_SECRET, params)
        if "omitZeroBalances" in params:  # account.status: the docs type it BOOLEAN
            assert params["omitZeroBalances"] is True


def test_a_request_without_a_twin_stays_on_rest() -> None:
    dialect = BinanceSpotDialect.for_environment(Environment.LIVE)
    assert isinstance(dialect, OrderEntryDialect)
    depth = dialect.book_snapshot_request(BTCUSDT, 100)
    assert dialect.order_entry_frame(depth, CREDENTIALS, 1) is None
    assert dialect.order_entry_url() == "wss://ws-api.binance.com:443/ws-api/v3"


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12),
    quantity=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8),
)
def test_every_translated_request_verifies_with_the_documented_rule(symbol: str, quantity: Decimal) -> None:
    spec = _rest_twin({"symbol": symbol, "side": "BUY", "type": "MARKET", "quantity": format(quantity, "f")})
    frame = order_entry_frame(spec, CREDENTIALS, 1)
    assert frame is not None
    params = json.loads(frame)["params"]
    assert params["symbol"] == symbol  # raw UTF-8, never percent-encoded
    assert s.verify_ws_params(DOC_SECRET, params)
    assert not s.verify_ws_params(DOC_SECRET, {**params, "quantity": params["quantity"] + "1"})


# -- answers --------------------------------------------------------------------------------------------------

_LIMITS = (
    '"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":12},'
    '{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":3},'
    '{"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000,"count":40}]'
)


def test_a_success_answer_is_the_rest_result_with_the_usage_headers() -> None:
    body = b'{"symbol":"BTCUSDT","orderId":12569099453,"clientOrderId":"abc-1","status":"NEW"}'
    frame = b'{"id":5,"status":200,"result":' + body + b"," + _LIMITS.encode() + b"}"
    answer = decode_answer(frame, 0.25, NOW)
    assert answer.request_id == 5
    result = answer.result
    assert (result.status, result.body, result.elapsed) == (200, body, 0.25)
    dialect = BinanceSpotDialect.for_environment(Environment.LIVE)
    assert sorted(dialect.reported_usage(result)) == [("ORDERS_10S", 3), ("ORDERS_1D", 40), ("REQUEST_WEIGHT_1M", 12)]
    assert not dialect.is_error(result)


def test_an_error_answer_maps_to_the_same_error_as_rest() -> None:
    frame = (
        '{"id":"x","status":400,"error":{"code":-2010,"msg":"Account has insufficient balance for requested action."},'
        + _LIMITS
        + "}"
    )
    result = decode_answer(frame, 0.0, NOW).result
    dialect = BinanceSpotDialect.for_environment(Environment.LIVE)
    assert dialect.is_error(result)
    assert json.loads(result.body) == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert isinstance(dialect.map_error(result), InsufficientBalance)


def test_a_rate_limit_answer_says_when_to_retry_as_rest_does() -> None:
    frame = (
        '{"id":9,"status":429,"error":{"code":-1003,"msg":"Too much request weight used.",'
        f'"data":{{"serverTime":{NOW},"retryAfter":{NOW + 2500}}}}}}}'
    )
    result = decode_answer(frame, 0.0, NOW).result
    assert result.header("retry-after") == "3"
    error = BinanceSpotDialect.for_environment(Environment.LIVE).map_error(result)
    assert isinstance(error, RateLimited) and error.retry_after == 3


@pytest.mark.parametrize(
    "frame", [b"not json", b'{"subscriptionId":0,"event":{"e":"outboundAccountPosition"}}', b'{"id":1}', b"[]"]
)
def test_a_frame_that_is_no_answer_is_a_protocol_error(frame: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_answer(frame, 0.0, NOW)
