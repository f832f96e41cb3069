"""Order entry over the simulator's WebSocket API (``/ws-api/v3``), on loopback sockets under the autojump clock.

web-socket-api.md § Trading requests: ``order.place`` and ``order.cancel`` answer on the connection that sent
them, and the order's ``executionReport`` reaches every user-data subscription of the account
(``userDataStream.subscribe.signature``, § Event format), on that connection and on any other, exactly as for an
order placed over REST. REST then sees the same order.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import trio
import trio.testing

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.signing import Credentials, sign_ws_params
from clobactors.sim.server import Simulator, open_simulator
from clobactors.transport.ws import WsConnection, open_ws
from tests.integration.binance_sim_support import client, deadline, signed


async def request(ws: WsConnection, sim: Simulator, request_id: str, method: str, params: dict[str, Any]) -> None:
    creds = Credentials(api_key=sim.api_key, secret=sim.api_secret)
    body = {"id": request_id, "method": method, "params": sign_ws_params(params, creds, timestamp=sim.now_ms())}
    await ws.send(json.dumps(body))


async def collect(
    ws: WsConnection, *, events: int, response_id: str | None = None
) -> tuple[wire.WsApiResponse | None, list[wire.UserDataEvent]]:
    """Frames until the response to ``response_id`` (if any) and ``events`` user events have come."""
    response: wire.WsApiResponse | None = None
    got: list[wire.UserDataEvent] = []
    while len(got) < events or (response_id is not None and response is None):
        data = (await ws.receive()).data
        if "event" in json.loads(data):
            envelope = wire.WS_API_EVENT_DECODER.decode(data)
            assert envelope.subscription_id == 0
            got.append(wire.USER_EVENT_DECODER.decode(envelope.event))
        else:
            response = wire.WS_API_RESPONSE_DECODER.decode(data)
            assert response.id == response_id
    return response, got


def reports(events: list[wire.UserDataEvent]) -> list[tuple[int, str, str]]:
    return [(e.order_id, e.execution_type, e.order_status) for e in events if isinstance(e, wire.ExecutionReport)]


@deadline(60)
async def test_ws_api_order_entry_reaches_user_streams_on_both_connections(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_simulator(seed=11, symbols=["BTCUSDT"], flow=False) as sim,
        client(sim) as http,
        open_ws(sim.ws_api_url) as api,
        open_ws(sim.ws_api_url) as watcher,
    ):
        for ws in (api, watcher):
            await request(ws, sim, "sub", "userDataStream.subscribe.signature", {})
            subscribed, _ = await collect(ws, events=0, response_id="sub")
            assert subscribed is not None and subscribed.status == 200

        place = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                 "price": "30000", "newClientOrderId": "ws-1"}  # fmt: skip
        await request(api, sim, "place", "order.place", place)
        answer, events = await collect(api, events=2, response_id="place")
        assert answer is not None and answer.status == 200, answer
        placed = wire.ORDER_FULL_DECODER.decode(answer.result)
        assert (placed.status, placed.client_order_id, placed.price) == ("NEW", "ws-1", D(30000))
        # Weight: two connections and two subscriptions at 2 each, then the order at 1.
        assert [(r.rate_limit_type, r.interval, r.count) for r in answer.rate_limits] == [
            ("ORDERS", "SECOND", 1),
            ("ORDERS", "DAY", 1),
            ("REQUEST_WEIGHT", "MINUTE", 2 * 2 + 2 * 2 + 1),
        ]
        assert reports(events) == [(placed.order_id, "NEW", "NEW")]
        assert isinstance(events[1], wire.OutboundAccountPosition)
        _, seen = await collect(watcher, events=2)
        assert reports(seen) == [(placed.order_id, "NEW", "NEW")]

        # A refused order answers on the connection, which stays open; nothing reaches the streams.
        await request(api, sim, "broke", "order.place", place | {"quantity": "1000", "newClientOrderId": "ws-2"})
        refused, nothing = await collect(api, events=0, response_id="broke")
        assert refused is not None and refused.error is not None
        assert (refused.status, refused.error.code) == (400, -2010)
        assert nothing == []

        await request(api, sim, "cancel", "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"})
        cancelled, events = await collect(api, events=2, response_id="cancel")
        assert cancelled is not None and wire.CANCELED_ORDER_DECODER.decode(cancelled.result).status == "CANCELED"
        assert reports(events) == [(placed.order_id, "CANCELED", "CANCELED")]
        _, seen = await collect(watcher, events=2)
        assert reports(seen) == [(placed.order_id, "CANCELED", "CANCELED")]

        # REST sees the order the WebSocket API made.
        query = [("symbol", "BTCUSDT"), ("origClientOrderId", "ws-1")]
        queried = await signed(http, sim, "GET", "/api/v3/order", query)
        info = wire.ORDER_INFO_DECODER.decode(queried.content)
        assert (info.order_id, info.status) == (placed.order_id, "CANCELED")
        with trio.move_on_after(1):
            extra = await watcher.receive()
            raise AssertionError(f"unexpected frame {extra.data!r}")
