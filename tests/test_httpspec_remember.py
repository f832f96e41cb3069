"""A signed request's query is encoded once: the signer's encoding is what ``query_string()`` returns."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.exchanges.binance import commands, signing
from clobactors.httpspec import HttpRequestSpec, encode_query, remember_query

CREDENTIALS = signing.Credentials(api_key="k", secret="s")


@settings(max_examples=50)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=12)), max_size=5))
def test_the_remembered_query_is_the_encoding_of_the_sent_params(params: list[tuple[str, str]]) -> None:
    spec = commands.signed("POST", "/api/v3/order", params, CREDENTIALS, now_ms=1, recv_window=5000)
    assert spec.query_string() == encode_query(spec.params)
    assert spec.params[-1][0] == "signature"
    unsigned = encode_query(spec.params[:-1])
    assert spec.params[-1][1] == signing.hmac_sha256_hex("s", unsigned)


def test_only_the_identical_params_tuple_picks_up_the_remembered_string() -> None:
    params = (("a", "1"), ("b", "2"))
    remember_query(params, "a=1&b=2")
    assert HttpRequestSpec(method="GET", path="/x", params=params).query_string() == "a=1&b=2"
    other = (("a", "1"), ("b", "3"))
    assert HttpRequestSpec(method="GET", path="/x", params=other).query_string() == "a=1&b=3"
    equal = tuple(list(params))  # equal, not identical: encoded afresh, to the same bytes
    assert equal is not params
    assert HttpRequestSpec(method="GET", path="/x", params=equal).query_string() == "a=1&b=2"
