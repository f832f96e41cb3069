"""Binance USD-M REST answers into canonical messages: documented bodies with exact values, golden samples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clobactors.errors import RecoveryHint, RemoteProtocolError
from clobactors.exchanges.binance_usdm import BinanceUsdmDialect
from clobactors.messages import (
    Balance,
    BookSnapshot,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    PlaceOrder,
    Position,
)
from clobactors.model import MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from tests.exchanges.binance_usdm.helpers import ADA, BTC, RECV, golden, ok, payload, registered

MS = 1_000_000


def _place(**changes: Any) -> PlaceOrder:
    fields: dict[str, Any] = {
        "exchange": "binance_usdm", "instrument": "BTC-USDT-PERP", "side": Side.BUY, "order_type": OrderType.LIMIT,
        "size": Decimal("10"), "price": Decimal("1"),
    }  # fmt: skip
    return PlaceOrder(**(fields | changes))


def test_place_order_answer(dialect: BinanceUsdmDialect) -> None:
    (update,) = dialect.decode_place_order(ok(payload("http_post_order.json")), _place(), RECV)
    assert update == OrderUpdate(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1566818724722 * MS,
        ts_recv=RECV,
        client_order_id="testOrder",
        exchange_order_id="22542179",
        status=OrderStatus.OPEN,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,  # GTD reads as GTC
        price=Decimal("0"),
        size=Decimal("10"),
        filled_size=Decimal("0"),
        avg_fill_price=None,
        position_side=PositionSide.SHORT,
    )


def test_post_only_answer_reads_as_limit_maker(dialect: BinanceUsdmDialect) -> None:
    body = dict(payload("http_post_order.json"), timeInForce="GTX", executedQty="3", avgPrice="1.5")
    (update,) = dialect.decode_place_order(ok(body), _place(), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.order_type, update.time_in_force, update.avg_fill_price) == (
        OrderType.LIMIT_MAKER, TimeInForce.GTC, Decimal("1.5"),
    )  # fmt: skip


def test_foreign_orders_are_skipped_or_refused(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_cancel_order(ok(payload("http_delete_order.json")), RECV) == []
    assert dialect.decode_open_orders(ok(payload("http_get_openOrders.json")), RECV) == []
    with pytest.raises(RemoteProtocolError, match="do not trade"):
        dialect.decode_query_order(ok(payload("http_get_order.json")), RECV)
    assert dialect.statistics().codec.foreign_orders == 3


def test_cancel_query_and_open_orders_of_limit_orders(dialect: BinanceUsdmDialect) -> None:
    cancelled = dict(payload("http_delete_order.json"), type="LIMIT", price="9000", executedQty="2", avgPrice="9000")
    (update,) = dialect.decode_cancel_order(ok(cancelled), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.client_order_id, update.filled_size, update.avg_fill_price, update.price) == (
        OrderStatus.CANCELLED, "myOrder1", Decimal("2"), Decimal("9000"), Decimal("9000"),
    )  # fmt: skip
    queried = dialect.decode_query_order(ok(dict(payload("http_get_order.json"), type="MARKET")), RECV)
    assert (queried.order_type, queried.price, queried.size, queried.ts_exchange) == (
        OrderType.MARKET, None, Decimal("0.40"), 1579276756075 * MS,
    )  # fmt: skip
    (open_order,) = dialect.decode_open_orders(ok([dict(payload("http_get_openOrders.json")[0], type="LIMIT")]), RECV)
    assert open_order.exchange_order_id == "1917641"


def test_cancel_all_answer_carries_no_orders(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_cancel_all(ok(payload("http_delete_allOpenOrders.json")), RECV) == []


def test_balances_are_wallet_based(dialect: BinanceUsdmDialect) -> None:
    (balance,) = dialect.decode_balances(ok(payload("http_get_balance.json")), RECV)
    assert balance == Balance(
        exchange="binance_usdm",
        ts_exchange=1617939110373 * MS,
        ts_recv=RECV,
        asset="USDT",
        free=Decimal("23.72469206"),
        locked=Decimal("122583.62668697"),
    )
    assert balance.total == Decimal("122607.35137903")


def test_positions_one_way_and_hedge(dialect: BinanceUsdmDialect) -> None:
    (flat,) = dialect.decode_positions(ok(payload("http_get_positionRisk_oneway.json")), RECV)
    assert flat == Position(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_recv=RECV,
        position_side=PositionSide.BOTH,
        size=Decimal("0.000"),
        entry_price=None,
        mark_price=Decimal("6679.50671178"),
        unrealized_pnl=Decimal("0.00000000"),
        leverage=10,
        margin_type=MarginType.ISOLATED,
        liquidation_price=None,
    )
    long, short = dialect.decode_positions(ok(payload("http_get_positionRisk_hedge.json")), RECV)
    assert long == Position(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1655217461579 * MS,
        ts_recv=RECV,
        position_side=PositionSide.LONG,
        size=Decimal("0.001"),
        entry_price=Decimal("22185.2"),
        mark_price=Decimal("21123.05052574"),
        unrealized_pnl=Decimal("-1.06214947"),
        leverage=4,
        margin_type=MarginType.CROSS,
        liquidation_price=Decimal("19731.45529116"),
    )
    assert (short.position_side, short.size, short.entry_price) == (PositionSide.SHORT, Decimal("0.000"), None)


def test_positions_v3_shape(dialect: BinanceUsdmDialect) -> None:
    (ada,) = dialect.decode_positions(ok(payload("http_get_positionRisk_v3.json")), RECV)  # COMPUSDT unregistered
    assert (ada.instrument, ada.size, ada.leverage, ada.margin_type, ada.liquidation_price) == (
        ADA.name, Decimal("30"), None, None, None,
    )  # fmt: skip
    assert dialect.statistics().codec.unknown_symbols == 1


def test_funding_payments_from_income(dialect: BinanceUsdmDialect) -> None:
    assert dialect.decode_funding_payments(ok(payload("http_get_income.json")), RECV) == []  # no FUNDING_FEE rows
    rows = [dict(payload("http_get_income.json")[1], incomeType="FUNDING_FEE", income="0.0123")]
    rows.append(dict(rows[0], symbol=""))
    assert dialect.decode_funding_payments(ok(rows), RECV) == [
        FundingPayment(exchange="binance_usdm", instrument="BTC-USDT-PERP", ts_exchange=1570636800000 * MS,
                       ts_recv=RECV, asset="USDT", amount=Decimal("0.0123"), payment_id="9689322392"),
        FundingPayment(exchange="binance_usdm", instrument="", ts_exchange=1570636800000 * MS,
                       ts_recv=RECV, asset="USDT", amount=Decimal("0.0123"), payment_id="9689322392"),
    ]  # fmt: skip


def test_income_paging_counts_every_row(dialect: BinanceUsdmDialect) -> None:
    """Paging goes by the rows Binance sent, those the decoder skips (other types, unknown symbols) included."""
    row = dict(payload("http_get_income.json")[1], incomeType="FUNDING_FEE", symbol="DELISTEDUSDT")
    assert dialect.decode_funding_payments(ok([row]), RECV) == []
    assert dialect.funding_next_page(ok([row]), 0) is None  # a short page is the last
    full = [dict(row, time=row["time"] + i) for i in range(1000)]
    assert dialect.funding_next_page(ok(full), 0) == row["time"] + 999  # from its newest row, inclusive
    same = [row] * 1000  # a whole page of one instant: step past it
    assert dialect.funding_next_page(ok(same), row["time"]) == row["time"] + 1
    assert dialect.funding_next_page(ok([]), 0) is None


def test_book_snapshot_mark_price_time_and_listen_key(dialect: BinanceUsdmDialect) -> None:
    snapshot = dialect.decode_book_snapshot(ok(payload("http_get_depth.json")), BTC, RECV)
    assert snapshot == BookSnapshot(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1589436922959 * MS,
        ts_recv=RECV,
        bids=(("4.00000000", "431.00000000"),),
        asks=(("4.00000200", "12.00000000"),),
        sequence=1027024,
    )
    assert dialect.decode_mark_price(ok(payload("http_get_premiumIndex.json")), BTC, RECV) == MarkPrice(
        exchange="binance_usdm",
        instrument="BTC-USDT-PERP",
        ts_exchange=1597370495002 * MS,
        ts_recv=RECV,
        mark_price=Decimal("11793.63104562"),
        index_price=Decimal("11781.80495970"),
        funding_rate=Decimal("0.00038246"),
        next_funding_ts=1597392000000 * MS,
    )
    assert dialect.decode_server_time(ok({"serverTime": 1499827319559})) == 1499827319559
    assert dialect.decode_listen_key(ok(payload("http_post_listenKey.json"))) == (
        "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
    )


def test_malformed_bodies_are_typed_errors(dialect: BinanceUsdmDialect) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_book_snapshot(ok({"lastUpdateId": 1, "bids": [["1"]], "asks": []}), BTC, RECV)
    assert (info.value.hint, info.value.path, info.value.instrument) == (RecoveryHint.RESYNC, "$.bids[0]", BTC.name)
    with pytest.raises(RemoteProtocolError) as info:
        dialect.decode_positions(ok([{"symbol": "BTCUSDT"}]), RECV)
    assert (info.value.hint, info.value.path) == (RecoveryHint.DROP, "$[0]")
    with pytest.raises(RemoteProtocolError, match="position side"):
        dialect.decode_positions(ok([dict(payload("http_get_positionRisk_hedge.json")[0], positionSide="UP")]), RECV)
    assert dialect.statistics().codec.malformed == 3


# -- golden files --------------------------------------------------------------------------------------------


def test_golden_sdk_rest_responses() -> None:
    samples = golden("rest_responses.json")
    d = registered()
    (update,) = d.decode_place_order(ok(samples["POST /fapi/v1/order"]), _place(), RECV)
    assert isinstance(update, OrderUpdate)
    assert (update.exchange_order_id, update.side, update.position_side, update.avg_fill_price) == (
        "22542179", Side.SELL, PositionSide.SHORT, None,
    )  # fmt: skip
    assert d.decode_cancel_all(ok(samples["DELETE /fapi/v1/allOpenOrders"]), RECV) == []
    (fill,) = d.decode_fills(ok(samples["GET /fapi/v1/userTrades"]), RECV)
    assert (fill.trade_id, fill.price, fill.fee) == ("698759", Decimal("7819.01"), Decimal("0.07819010"))
    (ada,) = d.decode_positions(ok(samples["GET /fapi/v3/positionRisk"]), RECV)
    assert (ada.size, ada.entry_price, ada.unrealized_pnl) == (Decimal("30"), Decimal("0.385"), Decimal("0.76427700"))
    book = d.decode_book_snapshot(ok(samples["GET /fapi/v1/depth"]), BTC, RECV)
    assert book.sequence == 1027024
    assert d.decode_server_time(ok(samples["GET /fapi/v1/time"])) == 1499827319559
    assert d.decode_listen_key(ok(samples["POST /fapi/v1/listenKey"])).startswith("pqia91ma")
    # The SDK's exchangeInfo merges every filter's fields into one PRICE_FILTER object (see its caveat):
    # still a perpetual with the PRICE_FILTER's values; the unknown "" exchange filter is kept raw.
    info = d.decode_exchange_info(ok(samples["GET /fapi/v1/exchangeInfo"]))
    rules = info.rules["BLZ-USDT-PERP"]
    assert (rules.tick_size, rules.max_price, rules.lot_size, rules.post_only) == (
        Decimal("0.0001"), Decimal("300"), Decimal(0), False,
    )  # fmt: skip


def test_golden_hummingbot_rest_messages() -> None:
    samples = {k.split("::", 1)[1]: v for k, v in golden("hummingbot_test_messages.json").items()}
    d = registered()
    snapshot = d.decode_book_snapshot(ok(samples["test_get_snapshot_successful::mock_response"]), BTC, RECV)
    assert (snapshot.sequence, snapshot.bids, snapshot.asks) == (
        1027024, (("10", "1"),), (("11", "1"),),
    )  # fmt: skip
    order = dict(samples["test_update_order_status_successful::order"], symbol="BTCUSDT")
    update = d.decode_query_order(ok(order), RECV)
    # avgPrice "0.00000" with 0.5 executed: the average is derived from cumQuote 5000 instead.
    assert (update.status, update.filled_size, update.position_side, update.avg_fill_price) == (
        OrderStatus.PARTIALLY_FILLED, Decimal("0.5"), PositionSide.LONG, Decimal("10000"),
    )  # fmt: skip
    balance_body = samples["test_update_balances::response"]["assets"]
    assert balance_body[0]["asset"] == "USDT"
