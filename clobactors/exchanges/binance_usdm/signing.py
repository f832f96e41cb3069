"""Binance USD-M request signing: the spot HMAC-SHA256 scheme, reused as is.

USD-M docs § General Info › SIGNED (TRADE and USER_DATA) Endpoint Security and § SIGNED Endpoint Examples
for POST /fapi/v1/order - HMAC Keys describe exactly the spot rule: ``signature`` is the lowercase hex
HMAC-SHA256 of ``totalParams`` (query string concatenated with the body) keyed with the secret, appended
last; the API key travels in ``X-MBX-APIKEY``; ``timestamp`` is required and ``recvWindow`` defaults to
5000 ms with the same timing rule. The docs' vector (``symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&
price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943`` →
``3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9``) is reproduced in the tests.

So this module only re-exports :mod:`clobactors.exchanges.binance.signing`: one implementation, one set
of tests for the arithmetic, and the simulator face verifies futures requests with the same functions.
RSA and Ed25519 keys are not handled (no ``cryptography`` dependency).
"""

from __future__ import annotations

from clobactors.exchanges.binance.signing import (
    API_KEY_HEADER,
    DEFAULT_RECV_WINDOW,
    MAX_RECV_WINDOW,
    Credentials,
    ParamValue,
    SignedRequest,
    encode_params,
    format_value,
    hmac_sha256_hex,
    parse_params,
    sign_request,
    signed_query,
    timestamp_in_window,
    verify_request,
)

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_RECV_WINDOW",
    "MAX_RECV_WINDOW",
    "Credentials",
    "ParamValue",
    "SignedRequest",
    "encode_params",
    "format_value",
    "hmac_sha256_hex",
    "parse_params",
    "sign_request",
    "signed_query",
    "timestamp_in_window",
    "verify_request",
]
