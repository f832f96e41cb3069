"""The LIMIT fast path of ``commands.place_order`` builds exactly what the general path builds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from clobactors.errors import LocalProtocolError
from clobactors.exchanges.binance import commands
from clobactors.exchanges.binance.commands import OrderResponse
from clobactors.exchanges.binance.signing import Credentials
from clobactors.httpspec import HttpRequestSpec
from clobactors.messages import PlaceOrder
from clobactors.model import Instrument, InstrumentKind, OrderType, Side, TimeInForce

BTC = Instrument(exchange="binance", kind=InstrumentKind.SPOT, base="BTC", quote="USDT", symbol="BTCUSDT")
ETH = Instrument(exchange="binance", kind=InstrumentKind.SPOT, base="ETH", quote="BTC", symbol="ETHBTC")
CREDENTIALS = Credentials(api_key="k" * 64, secret="s" * 64)

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=8)
ids = st.from_regex(r"[.A-Z:/a-z0-9_-]{1,36}", fullmatch=True)


def general(
    command: PlaceOrder, instrument: Instrument, now_ms: int, recv_window: int | None, response: OrderResponse
) -> HttpRequestSpec:
    params = commands._order_params(command, instrument, response)
    return commands.signed("POST", "/api/v3/order", params, CREDENTIALS, now_ms=now_ms, recv_window=recv_window)


@settings(max_examples=150)
@given(
    instrument=st.sampled_from([BTC, ETH]),
    side=st.sampled_from(list(Side)),
    tif=st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    size=amounts,
    price=amounts,
    client_order_id=ids,
    now_ms=st.integers(0, 2**42),
    recv_window=st.one_of(st.none(), st.integers(1, 60_000)),
    response=st.sampled_from(list(OrderResponse)),
)
def test_the_limit_fast_path_is_the_general_path_byte_for_byte(
    instrument: Instrument,
    side: Side,
    tif: TimeInForce,
    size: Decimal,
    price: Decimal,
    client_order_id: str,
    now_ms: int,
    recv_window: int | None,
    response: OrderResponse,
) -> None:
    command = PlaceOrder(
        exchange="binance", instrument=instrument.name, side=side, order_type=OrderType.LIMIT,
        time_in_force=tif, size=size, price=price, client_order_id=client_order_id,
    )  # fmt: skip
    fast = commands.place_order(
        command, instrument, CREDENTIALS, now_ms=now_ms, recv_window=recv_window, response=response
    )
    fast_query = fast.query_string()
    expected = general(command, instrument, now_ms, recv_window, response)
    assert fast == expected
    assert fast_query == expected.query_string()


def test_the_fast_path_refuses_what_the_general_path_refuses() -> None:
    base = PlaceOrder(
        exchange="binance", instrument=BTC.name, side=Side.BUY, order_type=OrderType.LIMIT,
        size=Decimal("1"), price=Decimal("100"), client_order_id="ok-1",
    )  # fmt: skip
    for bad in (
        replace(base, size=Decimal("0")),
        replace(base, price=Decimal("-1")),
        replace(base, client_order_id="bad id with spaces"),
        replace(base, reduce_only=True),  # taken by the general path, which refuses it
    ):
        with pytest.raises(LocalProtocolError):
            commands.place_order(bad, BTC, CREDENTIALS, now_ms=1, recv_window=None)
