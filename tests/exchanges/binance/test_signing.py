"""Binance HMAC signing against the documented examples and the golden vectors; verification (simulator)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.errors import ConfigError, LocalProtocolError
from clobactors.exchanges.binance import signing as s

GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "binance_spot" / "signing_hmac.json"

# rest-api.md § SIGNED Endpoint Examples for POST /api/v3/order › HMAC Keys.
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_PARAMS: list[tuple[str, s.ParamValue]] = [
    ("symbol", "LTCBTC"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", 1),
    ("price", Decimal("0.1")),
]
CREDENTIALS = s.Credentials(api_key=DOC_API_KEY, secret=DOC_SECRET)


def test_documented_hmac_example() -> None:
    assert s.hmac_sha256_hex(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE


def test_signed_query_builds_the_documented_request() -> None:
    signed = s.signed_query(DOC_PARAMS, DOC_SECRET, timestamp=1499827319559, recv_window=5000)
    assert signed == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"  # signature appended last


def test_sign_request_query_or_body_and_header() -> None:
    in_query = s.sign_request(DOC_PARAMS, CREDENTIALS, timestamp=1499827319559, recv_window=5000)
    assert (in_query.query, in_query.body) == (f"{DOC_QUERY}&signature={DOC_SIGNATURE}", "")
    assert in_query.headers == (("X-MBX-APIKEY", DOC_API_KEY),)
    in_body = s.sign_request(DOC_PARAMS, CREDENTIALS, timestamp=1499827319559, recv_window=5000, in_body=True)
    assert (in_body.query, in_body.body) == ("", f"{DOC_QUERY}&signature={DOC_SIGNATURE}")
    assert DOC_SIGNATURE not in repr(in_query) and DOC_API_KEY not in repr(in_query)


def test_mixed_query_and_body_example_verifies() -> None:
    """rest-api.md Example 3: totalParams is query + body with no ``&`` between them."""
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    signature = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    assert s.hmac_sha256_hex(DOC_SECRET, query + body) == signature
    assert s.verify_request(DOC_SECRET, query, f"{body}&signature={signature}")


def test_non_ascii_is_percent_encoded_before_signing() -> None:
    signed = s.signed_query(
        [("symbol", "１２３４５６"), *DOC_PARAMS[1:]], DOC_SECRET, timestamp=1499827319559, recv_window=5000
    )
    assert signed.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert signed.endswith("&signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")


def test_reserved_characters_are_encoded() -> None:
    assert (
        s.encode_params({"newClientOrderId": "a b&c=d/é~-_."})
        == "newClientOrderId=a%20b%26c%3Dd%2F%C3%A9~-_."
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("0E-8"), "0.00000000"),
        (Decimal("1.5E+3"), "1500"),
        ("GTC", "GTC"),
    ],
)
def test_format_value(value: s.ParamValue, text: str) -> None:
    assert s.format_value(value) == text


@pytest.mark.parametrize("value", [0.1, Decimal("NaN"), Decimal("Infinity"), None, b"x"])
def test_format_value_rejects_floats_and_oddities(value: object) -> None:
    with pytest.raises(LocalProtocolError):
        s.format_value(value)


@pytest.mark.parametrize("name", ["timestamp", "recvWindow", "signature", "apiKey"])
def test_signer_owned_params_cannot_be_passed(name: str) -> None:
    with pytest.raises(LocalProtocolError, match=name):
        s.signed_query({name: "1"}, DOC_SECRET, timestamp=1)


@pytest.mark.parametrize("recv_window", [0, -1, 60_001])
def test_recv_window_bounds(recv_window: int) -> None:
    with pytest.raises(LocalProtocolError, match="recvWindow"):
        s.signed_query({}, DOC_SECRET, timestamp=1, recv_window=recv_window)


def test_timestamp_only_when_no_params() -> None:
    assert s.signed_query({}, DOC_SECRET, timestamp=5).startswith("timestamp=5&signature=")


# -- verification (simulator side) ---------------------------------------------------------------------------


def test_verify_accepts_documented_request_and_any_case() -> None:
    assert s.verify_request(DOC_SECRET, f"{DOC_QUERY}&signature={DOC_SIGNATURE}")
    assert s.verify_request(DOC_SECRET, "", f"{DOC_QUERY}&signature={DOC_SIGNATURE.upper()}")


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (DOC_QUERY, ""),  # no signature
        (f"{DOC_QUERY}&signature={DOC_SIGNATURE}&signature={DOC_SIGNATURE}", ""),  # twice
        (f"{DOC_QUERY}&signature={DOC_SIGNATURE}", f"signature={DOC_SIGNATURE}"),  # in both
        (f"{DOC_QUERY.replace('price=0.1', 'price=0.2')}&signature={DOC_SIGNATURE}", ""),  # tampered
        (f"{DOC_QUERY}&signature={DOC_SIGNATURE[:-1]}", ""),  # truncated
        (f"{DOC_QUERY}&signature=é", ""),  # not hex, not ASCII
        ("", ""),
    ],
)
def test_verify_rejects(query: str, body: str) -> None:
    assert not s.verify_request(DOC_SECRET, query, body)


def test_verify_rejects_other_secret() -> None:
    assert not s.verify_request("other", f"{DOC_QUERY}&signature={DOC_SIGNATURE}")


_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=8),
)


@settings(max_examples=150)
@given(
    params=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(
            lambda k: k not in {"timestamp", "recvWindow", "signature", "apiKey"}
        ),
        _VALUES,
        max_size=6,
    ),
    timestamp=st.integers(min_value=0, max_value=2**53),
)
def test_sign_then_verify_and_parse_round_trip(params: dict[str, s.ParamValue], timestamp: int) -> None:
    signed = s.signed_query(params, DOC_SECRET, timestamp=timestamp)
    assert s.verify_request(DOC_SECRET, signed)
    parsed = s.parse_params(signed)
    assert parsed[:-2] == [(k, s.format_value(v)) for k, v in params.items()]
    assert parsed[-2] == ("timestamp", str(timestamp))
    assert parsed[-1][0] == "signature"


@pytest.mark.parametrize(
    ("timestamp", "server_time", "recv_window", "ok"),
    [
        (1000, 1000, 5000, True),
        (1999, 1000, 5000, True),  # 999 ms ahead: accepted
        (2000, 1000, 5000, False),  # 1000 ms ahead: rejected
        (1000, 6000, 5000, True),  # exactly recvWindow old
        (1000, 6001, 5000, False),
    ],
)
def test_timestamp_window(timestamp: int, server_time: int, recv_window: int, ok: bool) -> None:
    assert s.timestamp_in_window(timestamp, server_time, recv_window) is ok


# -- WebSocket API -------------------------------------------------------------------------------------------


def test_ws_api_documented_example() -> None:
    """web-socket-api.md § SIGNED request example (HMAC): sorted params, raw values."""
    params: dict[str, s.ParamValue] = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": Decimal("0.01000000"),
        "price": "52000.00",
    }
    signed = s.sign_ws_params(params, CREDENTIALS, timestamp=1645423376532, recv_window=100)
    assert signed["signature"] == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    assert signed["quantity"] == "0.01000000" and signed["apiKey"] == DOC_API_KEY
    assert s.verify_ws_params(DOC_SECRET, signed)
    assert not s.verify_ws_params(DOC_SECRET, {**signed, "price": "52000.01"})
    assert not s.verify_ws_params(DOC_SECRET, {k: v for k, v in signed.items() if k != "signature"})


# -- credentials ---------------------------------------------------------------------------------------------


def test_credentials_hide_the_secret() -> None:
    for text in (repr(CREDENTIALS), str(CREDENTIALS), f"{CREDENTIALS}", f"{CREDENTIALS!r}"):
        assert DOC_SECRET not in text
        assert DOC_API_KEY not in text  # masked too: keys end up in logs and bug reports
        assert "vmPU" in text


@pytest.mark.parametrize(("key", "secret"), [("", "x"), ("k", "")])
def test_credentials_must_be_non_empty(key: str, secret: str) -> None:
    with pytest.raises(ConfigError):
        s.Credentials(api_key=key, secret=secret)


# -- golden vectors (/work/shared, read in place) ------------------------------------------------------------


def _golden() -> dict[str, Any]:
    if not GOLDEN.exists():
        pytest.skip(f"{GOLDEN} not present")
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    return data


def test_golden_vectors() -> None:
    data = _golden()
    vectors = {v["name"]: v for v in data["vectors"]}
    assert len(vectors) == 5
    for vector in vectors.values():
        assert s.hmac_sha256_hex(vector["secret_key"], vector["payload"]) == vector["expected_signature"]
    # REST, non-ASCII: percent-encoding the documented unencoded params gives the documented payload.
    non_ascii = vectors["rest_post_order_non_ascii_percent_encoded"]
    pairs = [tuple(p.split("=", 1)) for p in non_ascii["params_unencoded"].split("&")]
    assert s.encode_params(pairs) == non_ascii["payload"]
    assert quote("１２３４５６") in non_ascii["payload"]
    # REST, mixed: verify with the signature in the body.
    mixed = vectors["rest_mixed_query_and_body"]
    body = f"{mixed['request_body']}&signature={mixed['expected_signature']}"
    assert s.verify_request(mixed["secret_key"], mixed["query_string"], body)


def test_golden_ws_api_signed_requests() -> None:
    data = _golden()
    vectors = {v["name"]: v for v in data["vectors"]}
    for request in data["ws_api_signed_requests"]:
        params = request["json"]["params"]
        vector = vectors[request["name"].replace("ws_api_signed_", "ws_api_")]
        assert s.ws_signature_payload(params) == vector["payload"]
        assert s.verify_ws_params(vector["secret_key"], params)
        unsigned = {
            k: v for k, v in params.items() if k not in {"apiKey", "signature", "timestamp", "recvWindow"}
        }
        resigned = s.sign_ws_params(
            unsigned,
            s.Credentials(api_key=params["apiKey"], secret=vector["secret_key"]),
            timestamp=params["timestamp"],
            recv_window=params["recvWindow"],
        )
        assert resigned["signature"] == params["signature"]
