"""The Binance USD-M simulator over real loopback sockets, under trio's autojump clock.

httpx speaks REST to it and ``clobactors.transport.ws.open_ws`` its WebSockets; requests are signed with the
(shared) Binance signing at the simulator's clock, answers are decoded with the USD-M client dialect's own
wire decoders and error mapping. The book built from a REST snapshot plus the diff stream (the futures ``pu``
rule) must equal a later snapshot; funding must settle at exactly 08:00 UTC of simulated time.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal as D

import httpx
import pytest
import trio
import trio.testing

from clobactors.errors import (
    AuthenticationFailed,
    ConnectFailed,
    InsufficientBalance,
    OrderRejected,
    TradingRuleViolation,
)
from clobactors.exchanges.binance.signing import Credentials
from clobactors.exchanges.binance_usdm import wire
from clobactors.exchanges.binance_usdm.errors import is_noop, map_error
from clobactors.exchanges.binance_usdm.rules import decode_exchange_info
from clobactors.httpspec import HttpResult
from clobactors.sim.server import open_simulator
from clobactors.transport.ws import WsConnection, open_ws
from tests.integration.binance_sim_support import client, deadline, order, signed

#: 2024-01-01T07:59:50Z: ten seconds before a funding time.
BEFORE_FUNDING_MS = 1_704_095_990_000
FUNDING_MS = 1_704_096_000_000


def code_of(response: httpx.Response) -> tuple[int, int]:
    body = wire.ERROR_DECODER.decode(response.content)
    return response.status_code, body.code


async def user_events(ws: WsConnection, count: int) -> list[wire.UserDataEvent]:
    return [wire.USER_EVENT_DECODER.decode((await ws.receive()).data) for _ in range(count)]


# -- REST ------------------------------------------------------------------------------------------------------


@deadline(60)
async def test_every_rest_endpoint(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator("binance-usdm", seed=1) as sim, client(sim) as http:
        assert (await http.get("/fapi/v1/ping")).json() == {}
        assert wire.SERVER_TIME_DECODER.decode((await http.get("/fapi/v1/time")).content).server_time == sim.now_ms()
        answer = await http.get("/fapi/v1/exchangeInfo")
        info, skipped, not_perpetual = decode_exchange_info(
            HttpResult(status=200, headers=(), body=answer.content, elapsed=0.0)
        )
        assert sorted(info.rules) == ["BTC-USDT-PERP", "ETH-USDT-PERP"] and not skipped and not_perpetual == 0
        btc = info.rules["BTC-USDT-PERP"]
        assert (btc.tick_size, btc.lot_size, btc.min_notional, btc.post_only) == (D("0.1"), D("0.001"), D(100), True)
        assert {p.name: p.limit for p in info.pools} == {
            "REQUEST_WEIGHT_1M": 2400,
            "ORDERS_10S": 300,
            "ORDERS_1M": 1200,
        }
        depth = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5})
        book = wire.ORDER_BOOK_DECODER.decode(depth.content)
        assert len(book.bids) == len(book.asks) == 5 and book.bids[0][0] < book.asks[0][0]
        assert depth.headers["X-MBX-USED-WEIGHT-1M"] == str(1 + 1 + 1 + 2)
        premium = wire.PREMIUM_INDEX_DECODER.decode(
            (await http.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"})).content
        )
        assert premium.next_funding_time == FUNDING_MS and premium.mark_price > 0 and premium.index_price > 0
        assert len((await http.get("/fapi/v1/premiumIndex")).json()) == 2
        top = (await http.get("/fapi/v1/ticker/bookTicker", params={"symbol": "BTCUSDT"})).json()
        assert D(top["bidPrice"]) < D(top["askPrice"])
        await trio.sleep(2)

        placed = await signed(
            http, sim, "POST", "/fapi/v1/order",
            order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="55000", newClientOrderId="mine-1"),
        )  # fmt: skip
        assert placed.status_code == 200, placed.text
        assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1" and placed.headers["X-MBX-ORDER-COUNT-1M"] == "1"
        resting = wire.ORDER_DECODER.decode(placed.content)
        assert (resting.status, resting.client_order_id, resting.position_side) == ("NEW", "mine-1", "BOTH")
        taken = await signed(
            http, sim, "POST", "/fapi/v1/order", order("BUY", "MARKET", quantity="0.01", newOrderRespType="RESULT")
        )
        bought = wire.ORDER_DECODER.decode(taken.content)
        assert (bought.status, bought.executed_qty) == ("FILLED", D("0.01"))
        queried = await signed(
            http, sim, "GET", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "mine-1")]
        )
        assert wire.ORDER_DECODER.decode(queried.content).time is not None
        opened = wire.ORDERS_DECODER.decode((await signed(http, sim, "GET", "/fapi/v1/openOrders")).content)
        assert [o.client_order_id for o in opened] == ["mine-1"]
        cancelled = await signed(
            http, sim, "DELETE", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", str(resting.order_id))]
        )
        assert wire.ORDER_DECODER.decode(cancelled.content).status == "CANCELED"
        done = await signed(http, sim, "DELETE", "/fapi/v1/allOpenOrders", [("symbol", "BTCUSDT")])
        assert wire.CODE_MESSAGE_DECODER.decode(done.content).code == 200

        risk = wire.POSITION_RISK_DECODER.decode((await signed(http, sim, "GET", "/fapi/v2/positionRisk")).content)
        assert {(p.symbol, p.position_side) for p in risk} == {("BTCUSDT", "BOTH"), ("ETHUSDT", "BOTH")}
        (mine,) = [p for p in risk if p.symbol == "BTCUSDT"]
        assert (mine.position_amt, mine.leverage, mine.margin_type) == (D("0.01"), "20", "cross")
        v3 = wire.POSITION_RISK_DECODER.decode((await signed(http, sim, "GET", "/fapi/v3/positionRisk")).content)
        assert [(p.symbol, p.margin_asset) for p in v3] == [("BTCUSDT", "USDT")]
        balances = wire.ACCOUNT_BALANCES_DECODER.decode((await signed(http, sim, "GET", "/fapi/v3/balance")).content)
        assert [b.asset for b in balances] == ["USDT"] and balances[0].available_balance < balances[0].balance
        for version in ("v2", "v3"):
            account = (await signed(http, sim, "GET", f"/fapi/{version}/account")).json()
            assert D(account["totalPositionInitialMargin"]) > 0 and account["assets"][0]["asset"] == "USDT"
        trades = wire.USER_TRADES_DECODER.decode(
            (await signed(http, sim, "GET", "/fapi/v1/userTrades", [("symbol", "BTCUSDT")])).content
        )
        assert sum((t.qty for t in trades), D(0)) == D("0.01") and all(t.buyer and not t.maker for t in trades)
        income = wire.INCOME_DECODER.decode((await signed(http, sim, "GET", "/fapi/v1/income")).content)
        assert {i.income_type for i in income} == {"COMMISSION"}
        assert sum((i.income for i in income), D(0)) == -sum((t.commission for t in trades), D(0))

        leverage = await signed(http, sim, "POST", "/fapi/v1/leverage", [("symbol", "BTCUSDT"), ("leverage", "50")])
        assert wire.LEVERAGE_DECODER.decode(leverage.content).max_notional_value == D(15_000_000)
        iso = await signed(
            http, sim, "POST", "/fapi/v1/marginType", [("symbol", "ETHUSDT"), ("marginType", "ISOLATED")]
        )
        assert wire.CODE_MESSAGE_DECODER.decode(iso.content) == wire.CodeMessage(code=200, msg="success")
        again = await signed(
            http, sim, "POST", "/fapi/v1/marginType", [("symbol", "ETHUSDT"), ("marginType", "ISOLATED")]
        )
        assert code_of(again) == (400, -4046) and is_noop(again.status_code, again.content)
        assert (await signed(http, sim, "GET", "/fapi/v1/positionSide/dual")).json() == {"dualSidePosition": False}
        busy = await signed(http, sim, "POST", "/fapi/v1/positionSide/dual", [("dualSidePosition", "true")])
        assert code_of(busy) == (400, -4068)  # a BTCUSDT position is open

        key_headers = {"X-MBX-APIKEY": sim.api_key}
        key = wire.LISTEN_KEY_DECODER.decode((await http.post("/fapi/v1/listenKey", headers=key_headers)).content)
        kept = wire.LISTEN_KEY_DECODER.decode((await http.put("/fapi/v1/listenKey", headers=key_headers)).content)
        assert kept == key
        assert (await http.delete("/fapi/v1/listenKey", headers=key_headers)).json() == {}
        assert code_of(await http.put("/fapi/v1/listenKey", headers=key_headers)) == (400, -1125)
        assert sim.statistics().face_errors == 0


@deadline(60)
async def test_documented_error_codes(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator("binance-usdm", seed=2, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        limit = order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="59000")
        old = await signed(http, sim, "POST", "/fapi/v1/order", limit, timestamp=sim.now_ms() - 6000)
        assert code_of(old) == (400, -1021) and isinstance(map_error(400, old.content), AuthenticationFailed)
        forged = await signed(
            http, sim, "POST", "/fapi/v1/order", limit, creds=Credentials(api_key=sim.api_key, secret="x")
        )
        assert code_of(forged) == (400, -1022)
        stranger = await signed(
            http, sim, "POST", "/fapi/v1/order", limit, creds=Credentials(api_key="Z" * 64, secret="x")
        )
        assert code_of(stranger) == (401, -2015)
        assert code_of(await http.get("/fapi/v1/depth", params={"symbol": "DOGEUSDT"})) == (400, -1121)
        assert code_of(await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 7})) == (400, -1130)
        cases = {
            -2022: order("SELL", "MARKET", quantity="0.01", reduceOnly="true"),  # nothing to reduce
            -4061: order("BUY", "MARKET", quantity="0.01", positionSide="LONG"),  # one-way mode
            -4164: order("BUY", "LIMIT", timeInForce="GTC", quantity="0.001", price="59000"),  # 59 < 100
            -4014: order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="59000.05"),
            -4023: order("BUY", "LIMIT", timeInForce="GTC", quantity="0.0105", price="59000"),
            -4016: order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="70000"),  # > mark * 1.05
            -5022: order("BUY", "LIMIT", timeInForce="GTX", quantity="0.01", price="60500"),  # would take
            -2019: order("BUY", "LIMIT", timeInForce="GTC", quantity="900", price="59000"),  # margin
            -1116: order("BUY", "LIMIT_MAKER", quantity="0.01", price="59000"),
            -1102: order("BUY", "LIMIT", quantity="0.01", price="59000"),  # no timeInForce
        }
        for code, params in cases.items():
            answer = await signed(http, sim, "POST", "/fapi/v1/order", params)
            assert code_of(answer) == (400, code), (code, answer.text)
        assert isinstance(map_error(400, wire.encode(wire.ErrorBody(code=-2022, msg=""))), OrderRejected)
        assert isinstance(map_error(400, wire.encode(wire.ErrorBody(code=-2019, msg=""))), InsufficientBalance)
        assert isinstance(map_error(400, wire.encode(wire.ErrorBody(code=-4164, msg=""))), TradingRuleViolation)
        bad = await signed(http, sim, "POST", "/fapi/v1/leverage", [("symbol", "BTCUSDT"), ("leverage", "126")])
        assert code_of(bad) == (400, -4028)
        assert code_of(
            await signed(http, sim, "POST", "/fapi/v1/positionSide/dual", [("dualSidePosition", "false")])
        ) == (
            400,
            -4059,
        )
        assert (
            await signed(http, sim, "POST", "/fapi/v1/positionSide/dual", [("dualSidePosition", "true")])
        ).status_code == 200
        hedge_reduce = order("BUY", "MARKET", quantity="0.01", positionSide="LONG", reduceOnly="true")
        assert code_of(await signed(http, sim, "POST", "/fapi/v1/order", hedge_reduce)) == (400, -1106)
        assert code_of(await signed(http, sim, "POST", "/fapi/v1/order", order("BUY", "MARKET", quantity="0.01"))) == (
            400,
            -4061,
        )
        close_nothing = order("SELL", "MARKET", quantity="0.01", positionSide="LONG")
        assert code_of(await signed(http, sim, "POST", "/fapi/v1/order", close_nothing)) == (400, -2022)
        assert code_of(
            await signed(http, sim, "GET", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", "999999")])
        ) == (
            400,
            -2013,
        )
        assert code_of(
            await signed(http, sim, "DELETE", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", "1")])
        ) == (
            400,
            -2011,
        )
        assert (await http.get("/fapi/v1/klines")).status_code == 404
        assert sim.statistics().face_errors == 0


# -- market streams ----------------------------------------------------------------------------------------------


def _apply(book: dict[D, D], levels: tuple[tuple[D, D], ...]) -> None:
    for price, size in levels:
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size


@deadline(120)
async def test_depth_snapshot_plus_diff_stream_with_pu_equals_a_later_snapshot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_simulator("binance-usdm", seed=5, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        frames: list[bytes] = []

        async def collect(ws: WsConnection) -> None:
            async for frame in ws:
                frames.append(frame.data if isinstance(frame.data, bytes) else frame.data.encode())

        async with (
            trio.open_nursery() as nursery,
            open_ws(f"{sim.ws_url}/public/stream?streams=btcusdt@depth@100ms") as ws,
        ):
            nursery.start_soon(collect, ws)
            await trio.sleep(0.35)
            snapshot = wire.ORDER_BOOK_DECODER.decode(
                (await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 1000})).content
            )
            await trio.sleep(3)
            sim.pause_flow()
            await trio.sleep(0.3)  # the last window flushes
            final = wire.ORDER_BOOK_DECODER.decode(
                (await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 1000})).content
            )
            await trio.sleep(0.3)
            nursery.cancel_scope.cancel()
        updates = []
        for raw in frames:
            frame = json.loads(raw)
            assert frame["stream"] == "btcusdt@depth@100ms"
            update = wire.MARKET_EVENT_DECODER.decode(json.dumps(frame["data"]))
            assert isinstance(update, wire.DepthUpdate)
            updates.append(update)
        assert len(updates) > 10
        bids, asks = dict(snapshot.bids), dict(snapshot.asks)
        last = snapshot.last_update_id
        applied = 0
        for update in updates:
            if update.final_update_id < last:
                continue  # older than the snapshot (the guide's step 4)
            if applied == 0:
                assert update.first_update_id <= last <= update.final_update_id or update.first_update_id == last + 1
            else:
                assert update.previous_final_update_id == last  # pu chains the events (step 6)
            _apply(bids, update.bids)
            _apply(asks, update.asks)
            last = update.final_update_id
            applied += 1
        assert applied > 5
        assert last == final.last_update_id == sim.engine.update_id("BTCUSDT")
        assert sorted(bids.items(), reverse=True) == list(final.bids)
        assert sorted(asks.items()) == list(final.asks)


@deadline(60)
async def test_mark_price_book_ticker_and_agg_trade_streams(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator("binance-usdm", seed=6) as sim:
        names = "btcusdt@markPrice@1s/btcusdt@bookTicker/btcusdt@aggTrade"
        async with open_ws(f"{sim.ws_url}/market/stream?streams={names}") as ws:
            seen: dict[str, list[wire.MarketEvent]] = {}
            while len(seen) < 3 or len(seen.get("btcusdt@markPrice@1s", ())) < 3:
                frame = json.loads((await ws.receive()).data)
                seen.setdefault(frame["stream"], []).append(wire.MARKET_EVENT_DECODER.decode(json.dumps(frame["data"])))
            marks = seen["btcusdt@markPrice@1s"]
            assert all(isinstance(m, wire.MarkPriceUpdate) and m.next_funding_time == FUNDING_MS for m in marks)
            times = [m.event_time for m in marks]
            assert all(b - a == 1000 and b % 1000 == 0 for a, b in itertools.pairwise(times))
            assert isinstance(seen["btcusdt@bookTicker"][0], wire.BookTickerEvent)
            assert isinstance(seen["btcusdt@aggTrade"][0], wire.AggTradeEvent)
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice"], "id": 7}))
            while True:
                frame = json.loads((await ws.receive()).data)
                if frame.get("id") == 7:
                    assert frame["result"] is None
                    break


# -- user data ------------------------------------------------------------------------------------------------


@deadline(3800)
async def test_order_lifecycle_on_the_user_stream(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator("binance-usdm", seed=8, symbols=["BTCUSDT"], flow=False) as sim, client(sim) as http:
        other = sim.add_account({"USDT": D(100_000)}, account_id="other")
        key = (await http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": sim.api_key})).json()["listenKey"]
        async with open_ws(f"{sim.ws_url}/private/ws/{key}") as ws:
            assert (
                await signed(http, sim, "POST", "/fapi/v1/leverage", [("symbol", "BTCUSDT"), ("leverage", "10")])
            ).status_code == 200
            (config,) = await user_events(ws, 1)
            assert isinstance(config, wire.AccountConfigUpdate) and config.symbol_config == wire.AccountConfig(
                symbol="BTCUSDT", leverage=10
            )
            sell = order("SELL", "LIMIT", timeInForce="GTC", quantity="0.5", price="60000", newClientOrderId="ask-1")
            assert (await signed(http, sim, "POST", "/fapi/v1/order", sell)).status_code == 200
            (new,) = await user_events(ws, 1)
            assert isinstance(new, wire.OrderTradeUpdate) and (new.order.execution_type, new.order.order_status) == (
                "NEW",
                "NEW",
            )
            creds = Credentials(api_key=other.api_key, secret=other.secret)
            take = order("BUY", "MARKET", quantity="0.2")
            assert (await signed(http, sim, "POST", "/fapi/v1/order", take, creds=creds)).status_code == 200
            fill, account = await user_events(ws, 2)
            assert isinstance(fill, wire.OrderTradeUpdate) and isinstance(account, wire.AccountUpdate)
            o = fill.order
            assert (o.execution_type, o.order_status, o.last_filled_quantity, o.last_filled_price) == (
                "TRADE", "PARTIALLY_FILLED", D("0.2"), D(60000)
            )  # fmt: skip
            assert o.is_maker and o.commission == D("2.4") and o.realized_profit == 0 and o.position_side == "BOTH"
            assert account.data.reason == "ORDER"
            (position,) = account.data.positions
            assert (position.symbol, position.position_amount, position.entry_price) == ("BTCUSDT", D("-0.2"), D(60000))
            assert account.data.balances[0].wallet_balance == D(1_000_000) - D("2.4")
            cancel = await signed(
                http, sim, "DELETE", "/fapi/v1/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "ask-1")]
            )
            assert cancel.status_code == 200
            (cancelled,) = await user_events(ws, 1)
            assert isinstance(cancelled, wire.OrderTradeUpdate) and cancelled.order.execution_type == "CANCELED"
            close = order("BUY", "LIMIT", timeInForce="GTC", quantity="1", price="61000", reduceOnly="true")
            assert (await signed(http, sim, "POST", "/fapi/v1/order", close)).status_code == 200
            (trimmed,) = await user_events(ws, 1)
            assert (
                isinstance(trimmed, wire.OrderTradeUpdate)
                and trimmed.order.quantity == D("0.2")
                and trimmed.order.reduce_only
            )
            # A keepalive extends the key by 60 minutes from now (and moves its expiry off the 3-minute ping grid:
            # trio-websocket cannot answer a ping that crosses its close). Then listenKeyExpired, and the end.
            await trio.sleep(100)
            assert (await http.put("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": sim.api_key})).status_code == 200
            kept_at = trio.current_time()
            while True:
                event = wire.USER_EVENT_DECODER.decode((await ws.receive()).data)
                if isinstance(event, wire.ListenKeyExpired):
                    assert event.listen_key == key and trio.current_time() - kept_at == 3600
                    break
        assert sim.statistics().face_errors == 0


@deadline(120)
async def test_funding_settles_at_exactly_eight_utc(autojump_clock: trio.testing.MockClock) -> None:
    async with (
        open_simulator("binance-usdm", seed=9, symbols=["BTCUSDT"], start_time_ms=BEFORE_FUNDING_MS) as sim,
        client(sim) as http,
    ):
        key = (await http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": sim.api_key})).json()["listenKey"]
        async with open_ws(f"{sim.ws_url}/ws/{key}") as ws:
            assert (
                await signed(http, sim, "POST", "/fapi/v1/order", order("BUY", "MARKET", quantity="0.1"))
            ).status_code == 200
            events = await user_events(ws, 3)  # NEW, the fills' ORDER_TRADE_UPDATEs, ACCOUNT_UPDATE...
            while not (isinstance(events[-1], wire.AccountUpdate) and events[-1].data.reason == "ORDER"):
                events += await user_events(ws, 1)
            size = events[-1].data.positions[0].position_amount
            assert size == D("0.1")
            while True:
                (event,) = await user_events(ws, 1)
                if isinstance(event, wire.AccountUpdate) and event.data.reason == "FUNDING_FEE":
                    break
            assert event.event_time == event.transaction_time == FUNDING_MS
            assert sim.now_ms() == FUNDING_MS
            (balance,) = event.data.balances
            assert balance.balance_change is not None and balance.balance_change != 0 and not event.data.positions
        income = wire.INCOME_DECODER.decode(
            (await signed(http, sim, "GET", "/fapi/v1/income", [("incomeType", "FUNDING_FEE")])).content
        )
        assert [(i.time, i.income) for i in income] == [(FUNDING_MS, balance.balance_change)]
        premium = wire.PREMIUM_INDEX_DECODER.decode(
            (await http.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"})).content
        )
        assert premium.next_funding_time == FUNDING_MS + 8 * 3_600_000
        # A long pays a positive rate: the payment is the position's notional at the mark times the rate.
        assert balance.balance_change < 0 or premium.last_funding_rate <= 0


def test_cli_offers_the_usdm_face() -> None:
    from clobactors.sim.server import FACES

    assert {"binance", "binance-usdm", "binance_usdm"} <= set(FACES)


@pytest.mark.parametrize("path", ["/ws-api/v3", "/ws-fapi/v2", "/nothing"])  # spot's path, another version
async def test_unknown_websocket_paths_are_refused(path: str, autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator("binance-usdm", flow=False) as sim:
        with pytest.raises(ConnectFailed, match="HTTP 404"):
            async with open_ws(f"{sim.ws_url}{path}"):
                pass
