"""Binance USD-M error answers into the clobactors exception tree, and "already so" answers as success."""

from __future__ import annotations

import json

import pytest

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
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from clobactors.exchanges.binance_usdm.errors import ERROR_MESSAGES, ErrorCode, error_body, map_error
from clobactors.httpspec import HttpResult
from tests.exchanges.binance_usdm.helpers import golden, payload, raw


def _result(status: int, body: bytes, *headers: tuple[str, str]) -> HttpResult:
    return HttpResult(status=status, headers=headers, body=body, elapsed=0.0)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, -1121, ExchangeError),
        (400, -1021, AuthenticationFailed),
        (401, -2015, AuthenticationFailed),
        (400, -5028, AuthenticationFailed),
        (400, -2019, InsufficientBalance),
        (400, -2018, InsufficientBalance),
        (400, -4164, TradingRuleViolation),
        (400, -4014, TradingRuleViolation),
        (400, -1111, TradingRuleViolation),
        (400, -2011, UnknownOrder),
        (400, -2013, UnknownOrder),
        (400, -2021, OrderRejected),
        (400, -2022, OrderRejected),
        (400, -4061, OrderRejected),
        (400, -5022, OrderRejected),
        (400, -5021, OrderRejected),
        (400, -1015, RateLimited),
        (503, -1008, ExchangeUnavailable),
        (400, -1007, ExchangeUnavailable),
        (408, -1000, ExchangeUnavailable),
    ],
)
def test_codes_map_to_the_most_specific_class(status: int, code: int, kind: type[ExchangeError]) -> None:
    error = map_error(status, error_body(code))
    assert type(error) is kind
    assert (error.code, error.status, error.exchange, error.message) == (str(code), status, "binance_usdm",
                                                                         ERROR_MESSAGES[code])  # fmt: skip


def test_status_wins_for_bans_and_limits_with_retry_after() -> None:
    d = BinanceUsdmDialect.for_environment()
    banned = d.map_error(_result(418, error_body(-1003), ("retry-after", "120")))
    assert isinstance(banned, RateLimited) and banned.banned and banned.retry_after == 120.0
    limited = d.map_error(_result(429, b"<html>", ("retry-after", "nonsense")))
    assert isinstance(limited, RateLimited) and not limited.banned and limited.retry_after is None
    assert isinstance(d.map_error(_result(502, b"")), ExchangeUnavailable)
    odd = d.map_error(_result(400, b"not json"))
    assert type(odd) is ExchangeError and odd.status == 400 and "not json" not in str(odd)


def test_documented_error_payload() -> None:
    error = map_error(400, raw(payload("http_error.json")))
    assert type(error) is ExchangeError and (error.code, error.message) == ("-1121", "Invalid symbol.")


def test_no_need_to_change_is_success() -> None:
    d = BinanceUsdmDialect.for_environment()
    assert not d.is_error(_result(400, error_body(ErrorCode.NO_NEED_TO_CHANGE_MARGIN_TYPE)))
    assert not d.is_error(_result(400, error_body(ErrorCode.NO_NEED_TO_CHANGE_POSITION_SIDE)))
    assert not d.is_error(_result(200, raw(payload("http_post_marginType.json"))))
    assert d.is_error(_result(400, error_body(ErrorCode.THERE_EXISTS_OPEN_ORDERS)))
    assert d.is_error(_result(500, error_body(-4046)))
    assert d.is_error(_result(400, b"garbage"))


def test_error_bodies_round_trip_for_the_face() -> None:
    for code in ErrorCode:
        body = json.loads(error_body(code))
        assert body == {"code": int(code), "msg": ERROR_MESSAGES[code]}


def test_golden_hummingbot_error_answers() -> None:
    samples = {k.split("::", 1)[1]: v for k, v in golden("hummingbot_test_messages.json").items()}
    unknown = map_error(400, raw(samples["test_cancel_all_unknown_order::cancel_response"]))
    assert isinstance(unknown, UnknownOrder) and unknown.message == "Unknown order sent."
    overloaded_body = samples["test_place_order_manage_server_overloaded_error_unkown_order::mock_response"]
    overloaded = map_error(400, raw(overloaded_body))
    assert isinstance(overloaded, RateLimited)
    no_change = samples["test_set_position_mode_diff_initial_mode_change_fail::post_position_mode_response"]
    assert not BinanceUsdmDialect.for_environment().is_error(_result(400, raw(no_change)))
    odd = map_error(400, raw(samples["_error_response::resp"]))  # a string code: not Binance's shape
    assert type(odd) is ExchangeError and odd.code == ""
