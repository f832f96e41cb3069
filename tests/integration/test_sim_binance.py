"""The Binance simulator over real loopback sockets, under trio's autojump clock.

httpx speaks REST to it, ``clobactors.transport.ws.open_ws`` its WebSockets; requests are signed with the
dialect's signing module at the simulator's clock. Every endpoint is exercised, and the book built from a
REST snapshot plus the diff stream (Binance's U/u rule, applied here) must equal a later REST snapshot.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal as D

import httpx
import msgspec
import pytest
import trio
import trio.testing
import wsproto
import wsproto.events

from clobactors.errors import AuthenticationFailed, ConnectionLost, RateLimited
from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.errors import map_error
from clobactors.exchanges.binance.face import BinanceFace
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.face_protocol import Face, RestRequest, RestResponse, WsPolicy
from clobactors.sim.server import open_simulator
from clobactors.transport.ws import WsConnection, open_ws
from tests.integration.binance_sim_support import client, deadline, order, signed


def error_of(response: httpx.Response) -> tuple[int, int]:
    body = wire.ERROR_DECODER.decode(response.content)
    return response.status_code, body.code


# -- REST ------------------------------------------------------------------------------------------------------


@deadline(60)
async def test_every_rest_endpoint(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(seed=1) as sim, client(sim) as http:
        assert (await http.get("/api/v3/ping")).json() == {}
        assert wire.SERVER_TIME_DECODER.decode((await http.get("/api/v3/time")).content).server_time == sim.now_ms()
        info = wire.EXCHANGE_INFO_DECODER.decode((await http.get("/api/v3/exchangeInfo")).content)
        assert [s.symbol for s in info.symbols] == ["BTCUSDT", "ETHUSDT"]
        depth = await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5})
        book = wire.ORDER_BOOK_DECODER.decode(depth.content)
        assert len(book.bids) == len(book.asks) == 5 and book.bids[0][0] < book.asks[0][0]
        assert depth.headers["X-MBX-USED-WEIGHT-1M"] == str(1 + 1 + 20 + 5)
        await trio.sleep(5)  # let the flow trade
        trades = wire.RECENT_TRADES_DECODER.decode(
            (await http.get("/api/v3/trades", params={"symbol": "BTCUSDT"})).content
        )
        assert trades and all(a.id < b.id for a, b in itertools.pairwise(trades))
        top = wire.BOOK_TICKER_DECODER.decode(
            (await http.get("/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"})).content
        )
        assert top.bid_price < top.ask_price
        day = wire.TICKER_24HR_DECODER.decode(
            (await http.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"})).content
        )
        assert day.count == len(sim.engine.recent_trades("BTCUSDT")) and day.last_id == trades[-1].id
        tickers = wire.TICKERS_24HR_DECODER.decode((await http.get("/api/v3/ticker/24hr")).content)
        assert [t.symbol for t in tickers] == ["BTCUSDT", "ETHUSDT"]

        resting = await signed(
            http,
            sim,
            "POST",
            "/api/v3/order",
            order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="50000", newClientOrderId="mine-1"),
        )
        assert resting.status_code == 200, resting.text
        assert resting.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        placed = wire.ORDER_FULL_DECODER.decode(resting.content)
        assert (placed.status, placed.client_order_id) == ("NEW", "mine-1")
        maker = await signed(
            http,
            sim,
            "POST",
            "/api/v3/order",
            order("SELL", "LIMIT_MAKER", quantity="0.01", price="70000"),
            in_body=True,
        )
        assert wire.ORDER_ACK_DECODER.decode(maker.content).order_id > placed.order_id  # LIMIT_MAKER defaults to ACK
        taker = await signed(
            http, sim, "POST", "/api/v3/order", order("BUY", "MARKET", quantity="0.002", newOrderRespType="RESULT")
        )
        bought = wire.ORDER_RESULT_DECODER.decode(taker.content)
        assert (bought.status, bought.executed_qty) == ("FILLED", D("0.002"))
        queried = wire.ORDER_INFO_DECODER.decode(
            (
                await signed(
                    http, sim, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "mine-1")]
                )
            ).content
        )
        assert (queried.order_id, queried.is_working) == (placed.order_id, True)
        opened = wire.OPEN_ORDERS_DECODER.decode(
            (await signed(http, sim, "GET", "/api/v3/openOrders", [("symbol", "BTCUSDT")])).content
        )
        assert {o.client_order_id for o in opened} == {
            "mine-1",
            f"sim-{wire.ORDER_ACK_DECODER.decode(maker.content).order_id}",
        }
        cancelled = await signed(
            http, sim, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(placed.order_id))]
        )
        assert wire.CANCELED_ORDER_DECODER.decode(cancelled.content).status == "CANCELED"
        rest = await signed(http, sim, "DELETE", "/api/v3/openOrders", [("symbol", "BTCUSDT")])
        assert [o.status for o in wire.decode_cancel_all(rest.content)] == ["CANCELED"]  # type: ignore[union-attr]
        account = wire.ACCOUNT_DECODER.decode((await signed(http, sim, "GET", "/api/v3/account")).content)
        balances = {b.asset: b for b in account.balances}
        assert balances["BTC"].free > D(10) and balances["USDT"].locked == 0
        mine = wire.MY_TRADES_DECODER.decode(
            (await signed(http, sim, "GET", "/api/v3/myTrades", [("symbol", "BTCUSDT")])).content
        )
        assert sum((t.qty for t in mine), D(0)) == D("0.002") and all(t.is_buyer and not t.is_maker for t in mine)

        key_headers = {"X-MBX-APIKEY": sim.api_key}
        listen_key = wire.LISTEN_KEY_DECODER.decode(
            (await http.post("/api/v3/userDataStream", headers=key_headers)).content
        ).listen_key
        assert (
            await http.put("/api/v3/userDataStream", params={"listenKey": listen_key}, headers=key_headers)
        ).json() == {}
        assert (
            await http.delete("/api/v3/userDataStream", params={"listenKey": listen_key}, headers=key_headers)
        ).json() == {}
        assert sim.statistics().face_errors == 0


@deadline(60)
async def test_auth_and_malformed_requests_get_binance_errors(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(seed=2, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        limit = order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="50000")
        old = await signed(http, sim, "POST", "/api/v3/order", limit, timestamp=sim.now_ms() - 6000)
        assert error_of(old) == (400, -1021)
        assert isinstance(map_error(old.status_code, old.content), AuthenticationFailed)
        forged = await signed(
            http, sim, "POST", "/api/v3/order", limit, creds=Credentials(api_key=sim.api_key, secret="wrong")
        )
        assert error_of(forged) == (400, -1022)
        stranger = await signed(
            http, sim, "POST", "/api/v3/order", limit, creds=Credentials(api_key="Z" * 64, secret="x")
        )
        assert error_of(stranger) == (401, -2015)
        assert error_of(await http.get("/api/v3/account")) == (401, -2014)
        assert error_of(await http.get("/api/v3/depth")) == (400, -1102)
        assert error_of(await http.get("/api/v3/depth", params={"symbol": "DOGEUSDT"})) == (400, -1121)
        assert error_of(await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "many"})) == (400, -1100)
        assert error_of(await signed(http, sim, "POST", "/api/v3/order", order("BUY", "LIMIT", quantity="1"))) == (
            400,
            -1102,
        )
        assert error_of(await signed(http, sim, "POST", "/api/v3/order", [*limit, ("bogus", "1")])) == (400, -1104)
        weird = await http.post("/api/v3/order", content=b"\xff\xfe", headers={"X-MBX-APIKEY": sim.api_key})
        assert error_of(weird) == (400, -1100)
        assert (await http.get("/api/v3/klines")).status_code == 404
        # Still serving, nothing crashed.
        assert (await http.get("/api/v3/ping")).status_code == 200
        assert sim.statistics().face_errors == 0


def _tiny_limits(engine: Engine, config: SimConfig) -> Face:
    limits = [
        wire.RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=20),
        wire.RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=50),
    ]
    return BinanceFace(engine, seed=config.seed, rate_limits=limits, ban_after_strikes=2)


@deadline(600)
async def test_rate_limit_429_then_418(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(symbols=["BTCUSDT"], flow=False, face_factory=_tiny_limits) as sim, client(sim) as http:
        # Start at a minute boundary of the server clock so the window is whole.
        await trio.sleep((60_000 - sim.now_ms() % 60_000) / 1000)
        info = wire.EXCHANGE_INFO_DECODER.decode((await http.get("/api/v3/exchangeInfo")).content)
        assert [(r.rate_limit_type, r.limit) for r in info.rate_limits] == [("REQUEST_WEIGHT", 20), ("ORDERS", 50)]
        answer = await http.get("/api/v3/ping")
        assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "20"  # exchangeInfo weighs 20: this ping does not fit
        assert answer.status_code == 429
        retry_after = float(answer.headers["Retry-After"])
        assert retry_after == 60
        assert isinstance(map_error(429, answer.content, retry_after=retry_after), RateLimited)
        assert (await http.get("/api/v3/ping")).status_code == 429  # strike 1
        banned = await http.get("/api/v3/ping")  # strike 2: banned
        assert banned.status_code == 418 and banned.headers["Retry-After"] == "120"
        error = map_error(418, banned.content, retry_after=120.0)
        assert isinstance(error, RateLimited) and error.banned
        await trio.sleep(119)
        assert (await http.get("/api/v3/ping")).status_code == 418
        await trio.sleep(1.5)
        ok = await http.get("/api/v3/ping")
        assert ok.status_code == 200 and ok.headers["X-MBX-USED-WEIGHT-1M"] == "1"


# -- market streams ----------------------------------------------------------------------------------------------


async def _collect(ws: WsConnection, into: list[bytes]) -> None:
    async for frame in ws:
        into.append(frame.data if isinstance(frame.data, bytes) else frame.data.encode())


def _apply(book: dict[D, D], levels: tuple[tuple[D, D], ...]) -> None:
    for price, size in levels:
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size


@deadline(120)
async def test_depth_snapshot_plus_diff_stream_equals_a_later_snapshot(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(seed=5, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        frames: list[bytes] = []
        partials: list[bytes] = []
        async with (
            trio.open_nursery() as nursery,
            open_ws(f"{sim.ws_url}/ws/btcusdt@depth@100ms") as ws,
            open_ws(f"{sim.ws_url}/ws/btcusdt@depth5@100ms") as top5,
        ):
            nursery.start_soon(_collect, ws, frames)
            nursery.start_soon(_collect, top5, partials)
            await trio.sleep(0.35)
            snapshot = wire.ORDER_BOOK_DECODER.decode(
                (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000})).content
            )
            await trio.sleep(3)
            sim.pause_flow()
            await trio.sleep(0.3)  # the last window flushes
            final = wire.ORDER_BOOK_DECODER.decode(
                (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000})).content
            )
            await trio.sleep(0.3)
            nursery.cancel_scope.cancel()
        updates = [wire.MARKET_EVENT_DECODER.decode(f) for f in frames]
        assert all(isinstance(u, wire.DepthUpdate) for u in updates) and len(updates) > 10
        bids, asks = dict(snapshot.bids), dict(snapshot.asks)
        last = snapshot.last_update_id
        applied = 0
        for update in updates:
            assert isinstance(update, wire.DepthUpdate)
            if update.final_update_id <= last:
                continue  # older than the snapshot: dropped, as Binance's guide says
            if applied == 0:
                assert update.first_update_id <= last + 1 <= update.final_update_id
            else:
                assert update.first_update_id == last + 1  # no gap between windows
            _apply(bids, update.bids)
            _apply(asks, update.asks)
            last = update.final_update_id
            applied += 1
        assert applied > 5
        assert last == final.last_update_id == sim.engine.update_id("BTCUSDT")
        assert sorted(bids.items(), reverse=True) == list(final.bids)
        assert sorted(asks.items()) == list(final.asks)
        tops = [wire.PARTIAL_DEPTH_DECODER.decode(p) for p in partials]
        assert len(tops[-1].bids) == 5 and tops[-1].last_update_id == final.last_update_id
        assert (tops[-1].bids, tops[-1].asks) == (final.bids[:5], final.asks[:5])


@deadline(60)
async def test_combined_streams_and_live_subscriptions(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(seed=6) as sim:
        async with open_ws(f"{sim.ws_url}/stream?streams=btcusdt@trade/btcusdt@bookTicker") as ws:
            seen: set[str] = set()
            while seen != {"btcusdt@trade", "btcusdt@bookTicker"}:
                frame = wire.COMBINED_FRAME_DECODER.decode((await ws.receive()).data)
                payload = wire.decode_stream_payload(frame.stream, frame.data)
                assert isinstance(payload, wire.TradeEvent | wire.BookTickerEvent)
                seen.add(frame.stream)
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 1}))
            await ws.send(
                json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@bookTicker"], "id": 2})
            )
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
            answers: dict[object, object] = {}
            agg = 0
            while len(answers) < 3 or agg < 2:
                message = json.loads((await ws.receive()).data)
                if "id" in message:
                    answers[message["id"]] = message["result"]
                elif message["stream"] == "ethusdt@aggTrade":
                    agg += 1
                    assert isinstance(wire.MARKET_EVENT_DECODER.decode(json.dumps(message["data"])), wire.AggTradeEvent)
            assert answers == {1: None, 2: None, 3: ["ethusdt@aggTrade"]}


@deadline(30)
async def test_more_than_five_messages_a_second_disconnects(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(flow=False) as sim, open_ws(f"{sim.ws_url}/ws") as ws:
        for i in range(6):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        for i in range(5):
            assert json.loads((await ws.receive()).data) == {"result": [], "id": i}
        with pytest.raises(ConnectionLost, match="1008"):
            await ws.receive()


@deadline(300)
async def test_no_pong_within_a_minute_disconnects(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(flow=False) as sim:
        port = int(sim.ws_url.rsplit(":", 1)[1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            peer = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            await stream.send_all(peer.send(wsproto.events.Request(host="127.0.0.1", target="/ws/btcusdt@trade")))
            peer.receive_data(await stream.receive_some(4096))
            assert isinstance(next(peer.events()), wsproto.events.AcceptConnection)
            accepted_at = trio.current_time()
            pings = 0
            with pytest.raises(trio.BrokenResourceError):  # noqa: PT012 - reset by the server's abort
                while data := await stream.receive_some(4096):
                    peer.receive_data(data)
                    pings += sum(isinstance(e, wsproto.events.Ping) for e in peer.events())
            assert pings == 2  # at 20 and 40 s
            assert trio.current_time() - accepted_at == pytest.approx(60)


@deadline(90_000)
async def test_connections_end_after_24_hours(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(flow=False) as sim, open_ws(f"{sim.ws_url}/ws/btcusdt@trade") as ws:
        opened = trio.current_time()
        with pytest.raises(ConnectionLost, match="1000"):
            await ws.receive()
        assert trio.current_time() - opened == pytest.approx(86_400)


def test_slow_reader_is_cut_off_not_waited_for() -> None:
    from clobactors.sim.fanout import _Conn

    class Quiet:
        topics: frozenset[str] = frozenset()

    send, receive = trio.open_memory_channel[object](2)
    conn = _Conn(Quiet(), send)  # type: ignore[arg-type]
    assert conn.push(b"1") and conn.push(b"2")
    assert not conn.push(b"3")  # full: the connection is ended, the publisher never waits
    assert conn.closing is not None and conn.closing.code == 1008 and conn.scope.cancel_called
    receive.close()


# -- user data ------------------------------------------------------------------------------------------------


async def _user_events(ws: WsConnection, count: int, *, wrapped: bool) -> list[wire.UserDataEvent]:
    events: list[wire.UserDataEvent] = []
    while len(events) < count:
        data = (await ws.receive()).data
        if wrapped:
            envelope = wire.WS_API_EVENT_DECODER.decode(data)
            if bytes(envelope.event) == b"null":
                continue  # a response, not an event
            assert envelope.subscription_id == 0
            data = bytes(envelope.event)
        events.append(wire.USER_EVENT_DECODER.decode(data))
    return events


@deadline(60)
async def test_order_lifecycle_on_listen_key_and_ws_api_streams(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(seed=8, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        key_headers = {"X-MBX-APIKEY": sim.api_key}
        listen_key = (await http.post("/api/v3/userDataStream", headers=key_headers)).json()["listenKey"]
        async with (
            open_ws(f"{sim.ws_url}/ws/{listen_key}", endpoint="listen-key stream") as legacy,
            open_ws(sim.ws_api_url) as api,
        ):
            params = sign_ws_params({}, Credentials(api_key=sim.api_key, secret=sim.api_secret), timestamp=sim.now_ms())
            await api.send(json.dumps({"id": "sub", "method": "userDataStream.subscribe.signature", "params": params}))
            response = wire.WS_API_RESPONSE_DECODER.decode((await api.receive()).data)
            assert (response.id, response.status) == ("sub", 200)
            assert wire.USER_DATA_SUBSCRIPTION_DECODER.decode(response.result).subscription_id == 0

            placed = await signed(
                http,
                sim,
                "POST",
                "/api/v3/order",
                order("BUY", "LIMIT", timeInForce="GTC", quantity="0.01", price="50000"),
            )
            order_id = placed.json()["orderId"]
            await signed(http, sim, "POST", "/api/v3/order", order("BUY", "MARKET", quantity="0.001"))
            await signed(http, sim, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(order_id))])
            sim.deposit(sim.account_id, "USDT", D(7))
            # NEW + position; NEW, TRADE..., position; CANCELED + position; balanceUpdate + position.
            for stream, wrapped in ((legacy, False), (api, True)):
                events: list[wire.UserDataEvent] = []
                while not any(isinstance(e, wire.BalanceUpdate) for e in events):
                    events += await _user_events(stream, 1, wrapped=wrapped)
                events += await _user_events(stream, 1, wrapped=wrapped)
                reports = [e for e in events if isinstance(e, wire.ExecutionReport)]
                assert [(r.order_id, r.execution_type) for r in reports if r.order_id == order_id] == [
                    (order_id, "NEW"),
                    (order_id, "CANCELED"),
                ]
                market = [r for r in reports if r.order_id != order_id]
                assert market[0].execution_type == "NEW" and market[-1].order_status == "FILLED"
                assert all(r.execution_type == "TRADE" and r.commission_asset == "BTC" for r in market[1:])
                assert sum((r.last_executed_quantity for r in market[1:]), D(0)) == D("0.001")
                assert isinstance(events[-2], wire.BalanceUpdate) and events[-2].delta == D(7)
                assert isinstance(events[-1], wire.OutboundAccountPosition)
                assert sum(isinstance(e, wire.OutboundAccountPosition) for e in events) == 4
            await api.send(json.dumps({"id": 2, "method": "userDataStream.unsubscribe"}))
            ended = wire.WS_API_EVENT_DECODER.decode((await api.receive()).data)
            assert isinstance(wire.USER_EVENT_DECODER.decode(ended.event), wire.EventStreamTerminated)
            assert wire.WS_API_RESPONSE_DECODER.decode((await api.receive()).data).status == 200


@deadline(2 * 3600)
async def test_listen_key_expires_after_an_hour_unless_kept_alive(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(flow=False, symbols=["BTCUSDT"]) as sim, client(sim) as http:
        key_headers = {"X-MBX-APIKEY": sim.api_key}
        created_at = trio.current_time()
        listen_key = (await http.post("/api/v3/userDataStream", headers=key_headers)).json()["listenKey"]
        async with open_ws(f"{sim.ws_url}/stream?streams={listen_key}") as ws:
            await trio.sleep(1800)
            await http.put("/api/v3/userDataStream", params={"listenKey": listen_key}, headers=key_headers)
            frame = wire.COMBINED_FRAME_DECODER.decode((await ws.receive()).data)
            event = wire.USER_EVENT_DECODER.decode(frame.data)
            assert isinstance(event, wire.ListenKeyExpired) and event.listen_key == listen_key == frame.stream
            assert trio.current_time() - created_at == pytest.approx(5400, abs=0.01)
            with pytest.raises(ConnectionLost):
                await ws.receive()
        gone = await http.put("/api/v3/userDataStream", params={"listenKey": listen_key}, headers=key_headers)
        assert error_of(gone) == (400, -1125)


# -- the server ----------------------------------------------------------------------------------------------------


@deadline(60)
async def test_same_seed_same_market(autojump_clock: trio.testing.MockClock) -> None:
    books = []
    for _ in range(2):
        async with open_simulator(seed=11) as sim:
            await trio.sleep(10)
            books.append((sim.now_ms(), msgspec.json.encode(sim.engine.depth("BTCUSDT")), sim.engine.statistics()))
    assert books[0] == books[1]


@deadline(30)
async def test_a_face_bug_is_a_binance_500_and_a_log_line(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(engine: Engine, config: SimConfig) -> Face:
        face = BinanceFace(engine, seed=config.seed)

        def explode(request: RestRequest, now_ns: int) -> RestResponse:
            raise RuntimeError("boom")

        face.handle_rest = explode  # type: ignore[method-assign]
        return face

    async with open_simulator(flow=False, face_factory=broken) as sim, client(sim) as http:
        answer = await http.get("/api/v3/ping")
        assert error_of(answer) == (500, -1000)
        assert sim.statistics().face_errors == 1
    assert "face failed on GET /api/v3/ping" in caplog.text


def test_ws_policy_is_binances() -> None:
    face = BinanceFace(Engine(SimConfig.for_symbols(["BTCUSDT"]).engine_rules()))
    assert face.ws_policy == WsPolicy(ping_interval=20.0, pong_timeout=60.0, max_lifetime=86_400.0)


# -- an independent client (style lesson 13) ---------------------------------------------------------------------


async def test_binance_connector_works_unchanged() -> None:
    """Binance's own Python connector (``binance-connector``, sync ``requests``), URL aside, on the real clock.

    Skipped when the package is absent: it is not a dependency of clobactors.
    """
    spot = pytest.importorskip("binance.spot")
    with trio.fail_after(30):
        async with open_simulator(seed=4, symbols=["BTCUSDT"], flow=False) as sim:

            def session() -> dict[str, object]:
                api = spot.Spot(api_key=sim.api_key, api_secret=sim.api_secret, base_url=sim.rest_url)
                out: dict[str, object] = {"time": api.time()["serverTime"]}
                out["symbols"] = [s["symbol"] for s in api.exchange_info(symbol="BTCUSDT")["symbols"]]
                placed = api.new_order(
                    symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="50000"
                )
                out["placed"] = placed["status"]
                out["depth"] = api.depth("BTCUSDT", limit=5)["bids"]
                out["queried"] = api.get_order("BTCUSDT", orderId=placed["orderId"])["status"]
                out["cancelled"] = api.cancel_order("BTCUSDT", orderId=placed["orderId"])["status"]
                out["usdt"] = next(b for b in api.account()["balances"] if b["asset"] == "USDT")
                return out

            got = await trio.to_thread.run_sync(session)
    assert isinstance(got["time"], int) and abs(got["time"] - sim.now_ms()) < 30_000
    assert got["symbols"] == ["BTCUSDT"]
    assert (got["placed"], got["queried"], got["cancelled"]) == ("NEW", "NEW", "CANCELED")
    assert got["depth"] == [["50000.00000000", "0.01000000"]]
    assert got["usdt"] == {"asset": "USDT", "free": "1000000.00000000", "locked": "0.00000000"}


@deadline(30)
async def test_configured_and_added_accounts_are_funded_and_usable(autojump_clock: trio.testing.MockClock) -> None:
    async with open_simulator(flow=False, accounts={"alice": {"USDT": D(500)}}) as sim, client(sim) as http:
        bob = sim.add_account({"BTC": D(2)}, account_id="bob")
        assert set(sim.accounts) == {"default", "alice", "bob"}
        for creds, asset, amount in ((sim.accounts["alice"], "USDT", D(500)), (bob, "BTC", D(2))):
            theirs = Credentials(api_key=creds.api_key, secret=creds.secret)
            account = wire.ACCOUNT_DECODER.decode(
                (await signed(http, sim, "GET", "/api/v3/account", creds=theirs)).content
            )
            assert {b.asset: b.free for b in account.balances}[asset] == amount


@deadline(30)
async def test_errors_in_the_block_come_out_as_raised(autojump_clock: trio.testing.MockClock) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with open_simulator(flow=False):
            raise KeyError("mine")
