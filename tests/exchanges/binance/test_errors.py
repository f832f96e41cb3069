"""Binance error codes and their mapping into clobactors.errors (errors.md, § HTTP Return Codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientBalance,
    OrderRejected,
    RateLimited,
    TradingRuleViolation,
    UnknownOrder,
)
from clobactors.exchanges.binance import errors as e
from clobactors.exchanges.binance import wire as w

PAYLOADS = Path(__file__).parent / "payloads"
GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot" / "rest_responses.json"


def _body(code: int, msg: str) -> bytes:
    return json.dumps({"code": code, "msg": msg}).encode()


def test_documented_codes_and_messages() -> None:
    assert e.ERROR_MESSAGES[-1121] == "Invalid symbol."
    assert e.ERROR_MESSAGES[e.ErrorCode.INVALID_SIGNATURE] == "Signature for this request is not valid."
    assert e.ErrorCode(-1021).name == "INVALID_TIMESTAMP"
    assert e.ErrorCode(-2015).name == "REJECTED_MBX_KEY"
    assert set(e.ERROR_MESSAGES) == {int(code) for code in e.ErrorCode}
    assert e.MSG_INSUFFICIENT_BALANCE == "Account has insufficient balance for requested action."
    assert e.MSG_WOULD_MATCH_AND_TAKE == "Order would immediately match and take."
    assert e.filter_failure("LOT_SIZE") == "Filter failure: LOT_SIZE"


def test_error_body_is_what_binance_sends() -> None:
    assert json.loads(e.error_body(-1121)) == {"code": -1121, "msg": "Invalid symbol."}
    assert json.loads(e.error_body(-2010, e.MSG_WOULD_MATCH_AND_TAKE))["msg"] == e.MSG_WOULD_MATCH_AND_TAKE


MAPPING: list[tuple[int, bytes, type[ExchangeError]]] = [
    (429, _body(-1003, "Too many requests queued."), RateLimited),
    (429, _body(-1015, "Too many new orders."), RateLimited),
    (400, _body(-1015, "Too many new orders; current limit is 50 orders per 10 SECOND."), RateLimited),
    (500, b"", ExchangeUnavailable),
    (502, b"<html>Bad Gateway</html>", ExchangeUnavailable),
    (
        503,
        _body(-1001, "Internal error; unable to process your request. Please try again."),
        ExchangeUnavailable,
    ),
    (408, _body(-1007, e.ERROR_MESSAGES[-1007]), ExchangeUnavailable),
    (400, _body(-1006, e.ERROR_MESSAGES[-1006]), ExchangeUnavailable),
    (401, _body(-1002, e.ERROR_MESSAGES[-1002]), AuthenticationFailed),
    (400, _body(-1021, e.ERROR_MESSAGES[-1021]), AuthenticationFailed),
    (400, _body(-1022, e.ERROR_MESSAGES[-1022]), AuthenticationFailed),
    (401, _body(-2014, e.ERROR_MESSAGES[-2014]), AuthenticationFailed),
    (401, _body(-2015, e.ERROR_MESSAGES[-2015]), AuthenticationFailed),
    (400, _body(-2010, e.MSG_INSUFFICIENT_BALANCE), InsufficientBalance),
    (400, _body(-2010, e.MSG_WOULD_MATCH_AND_TAKE), OrderRejected),
    (400, _body(-2010, e.MSG_DUPLICATE_ORDER), OrderRejected),
    (400, _body(-2010, e.MSG_MARKET_CLOSED), OrderRejected),
    (400, _body(-1010, e.MSG_INSUFFICIENT_BALANCE), InsufficientBalance),
    (400, _body(-1013, e.filter_failure("PRICE_FILTER")), TradingRuleViolation),
    (400, _body(-1013, e.filter_failure("NOTIONAL")), TradingRuleViolation),
    (400, _body(-2010, e.filter_failure("MAX_NUM_ORDERS")), TradingRuleViolation),
    (400, _body(-1111, "Parameter 'quantity' has too much precision."), TradingRuleViolation),
    (400, _body(-2011, e.MSG_UNKNOWN_ORDER), UnknownOrder),
    (400, _body(-2011, "CANCEL_REJECTED"), UnknownOrder),
    (400, _body(-2013, e.ERROR_MESSAGES[-2013]), UnknownOrder),
    (400, _body(-2026, e.ERROR_MESSAGES[-2026]), UnknownOrder),
    (400, _body(-1121, "Invalid symbol."), ExchangeError),
    (400, _body(-1102, e.MSG_MANDATORY_PARAM % "quantity"), ExchangeError),
    (400, _body(-1125, e.ERROR_MESSAGES[-1125]), ExchangeError),
]


@pytest.mark.parametrize(("status", "body", "expected"), MAPPING)
def test_map_error(status: int, body: bytes, expected: type[ExchangeError]) -> None:
    error = e.map_error(status, body, retry_after=None)
    assert type(error) is expected
    assert error.exchange == "binance" and error.status == status
    if body.startswith(b"{"):
        parsed = json.loads(body)
        assert (error.code, error.message) == (str(parsed["code"]), parsed["msg"])


def test_cancel_refusals_are_not_unknown_order() -> None:
    """-2011 with these texts means the order may still be live: never report it as gone."""
    for msg in (e.MSG_CANCEL_RESTRICTIONS, e.MSG_ACCOUNT_CANNOT_TRADE, e.MSG_REST_TRADING_DISABLED):
        error = e.map_error(400, _body(-2011, msg))
        assert type(error) is ExchangeError and error.code == "-2011"


def test_rate_limited_carries_retry_after_and_ban() -> None:
    limited = e.map_error(429, _body(-1003, "x"), retry_after=7.0)
    assert isinstance(limited, RateLimited) and (limited.retry_after, limited.banned) == (7.0, False)
    banned = e.map_error(418, _body(-1003, e.MSG_IP_BANNED % 1659146400000), retry_after=120.0)
    assert isinstance(banned, RateLimited) and (banned.retry_after, banned.banned) == (120.0, True)
    no_body = e.map_error(418, b"", retry_after=None)
    assert isinstance(no_body, RateLimited) and no_body.banned and no_body.message == "HTTP 418"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"code": -1121',
        b'{"code": "ERROR CODE", "msg": "ERROR MESSAGE"}',  # hummingbot fixture shape
        b'{"msg": "no code"}',
        b"[]",
        b"null",
    ],
)
def test_malformed_body_gives_plain_exchange_error_with_status(body: bytes) -> None:
    error = e.map_error(400, body)
    assert type(error) is ExchangeError
    assert (error.status, error.code, error.message) == (400, "", "HTTP 400 with a malformed error body")


def test_documented_payload_files_map() -> None:
    body = json.dumps(json.loads((PAYLOADS / "http_error.json").read_text())["payload"]).encode()
    assert type(e.map_error(400, body)) is ExchangeError
    path = PAYLOADS / "http_delete_order_error_cancel_restrictions.json"
    body = json.dumps(json.loads(path.read_text())["payload"]).encode()
    assert type(e.map_error(400, body)) is ExchangeError


def test_ws_api_error_and_retry_after() -> None:
    doc = json.loads((PAYLOADS / "ws_api_banned_response.json").read_text())["payload"]
    response = w.WS_API_RESPONSE_DECODER.decode(json.dumps(doc).encode())
    assert response.error is not None
    retry = e.ws_retry_after(response.error, now_ms=1659142907531)
    assert retry == pytest.approx(3492.469)
    error = e.map_error_code(response.status, response.error.code, response.error.msg, retry_after=retry)
    assert isinstance(error, RateLimited) and error.banned and error.code == "-1003"
    assert e.ws_retry_after(w.ErrorBody(code=-2010, msg="x"), now_ms=0) is None
    assert e.ws_retry_after(w.ErrorBody(code=-1003, msg="x", data=w.NULL), now_ms=0) is None


def test_ws_api_insufficient_balance() -> None:
    doc = json.loads((PAYLOADS / "ws_api_error_response.json").read_text())["payload"]
    response = w.WS_API_RESPONSE_DECODER.decode(json.dumps(doc).encode())
    assert response.error is not None
    error = e.map_error_code(response.status, response.error.code, response.error.msg)
    assert isinstance(error, InsufficientBalance)


@pytest.mark.parametrize(
    ("header", "seconds"), [("30", 30.0), (" 2 ", 2.0), (None, None), ("soon", None), ("-1", None)]
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert e.parse_retry_after(header) == seconds


@settings(max_examples=200)
@given(status=st.integers(min_value=100, max_value=599), body=st.binary(max_size=64))
def test_map_error_never_raises(status: int, body: bytes) -> None:
    assert isinstance(e.map_error(status, body), ExchangeError)


def test_golden_error_payloads() -> None:
    if not GOLDEN.exists():
        pytest.skip(f"{GOLDEN} not present")
    samples = {s["name"]: s["json"] for s in json.loads(GOLDEN.read_text())["samples"]}
    invalid_symbol = e.map_error(400, json.dumps(samples["error_payload_format"]).encode())
    assert type(invalid_symbol) is ExchangeError and invalid_symbol.code == "-1121"
    only_new = e.map_error(
        400, json.dumps(samples["DELETE /api/v3/order cancelRestrictions error ONLY_NEW"]).encode()
    )
    assert only_new.code == "-1145" and only_new.message == e.ERROR_MESSAGES[-1145]
    restricted = samples["DELETE /api/v3/order cancelRestrictions error ONLY_PARTIALLY_FILLED"]
    assert restricted["msg"] == e.MSG_CANCEL_RESTRICTIONS
    assert type(e.map_error(400, json.dumps(restricted).encode())) is ExchangeError
