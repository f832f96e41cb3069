"""Round trip: the Binance USD-M client dialect (sans-IO) against the simulator's USD-M face over loopback.

The dialect builds every request and decodes every answer and frame; the test only moves bytes (httpx and
``open_ws``). The book is synced by the dialect's own futures sequencing (``pu``) and must equal a later
snapshot without a gap; an order placed through the dialect comes back on the user stream as canonical
order updates, fills, positions and balances.
"""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import trio
import trio.testing

from clobactors.exchanges.binance_usdm import Credentials, create_dialect
from clobactors.exchanges.standard import Channel, Subscription
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.messages import Balance, BookDelta, BookSnapshot, Fill, MarkPrice, OrderUpdate, PlaceOrder, Position
from clobactors.model import OrderStatus, OrderType, Side
from clobactors.sim.server import Simulator, open_simulator
from clobactors.transport.ws import open_ws
from tests.integration.binance_sim_support import deadline


async def send(http: httpx.AsyncClient, spec: HttpRequestSpec) -> HttpResult:
    answer = await http.request(spec.method, spec.target(), headers=dict(spec.headers), content=spec.body)
    return HttpResult(
        status=answer.status_code, headers=tuple(answer.headers.items()), body=answer.content, elapsed=0.0
    )


def now_ns(sim: Simulator) -> int:
    return sim.now_ns()


@deadline(120)
async def test_dialect_syncs_the_book_and_trades_through_the_face(autojump_clock: trio.testing.MockClock) -> None:
    async with (
        open_simulator("binance-usdm", seed=11, symbols=["BTCUSDT"]) as sim,
        httpx.AsyncClient(base_url=sim.rest_url) as http,
    ):
        dialect = create_dialect(rest=sim.rest_url, ws=sim.ws_url)
        info = dialect.decode_exchange_info(await send(http, dialect.exchange_info_request()))
        rules = info.rules["BTC-USDT-PERP"]
        btc = rules.instrument
        dialect.register_instruments([btc])
        credentials = Credentials(api_key=sim.api_key, secret=sim.api_secret)
        sync = dialect.new_book_sync(btc)
        bids: dict[D, D] = {}
        asks: dict[D, D] = {}
        marks: list[MarkPrice] = []

        def apply(item: BookSnapshot | BookDelta) -> None:
            if isinstance(item, BookSnapshot):
                bids.clear()
                asks.clear()
            for side, levels in ((bids, item.decimal_bids()), (asks, item.decimal_asks())):
                for price, size in levels:
                    if size == 0:
                        side.pop(price, None)
                    else:
                        side[price] = size

        url = dialect.market_stream_url([Subscription(Channel.BOOK, btc), Subscription(Channel.MARK, btc)])
        async with open_ws(url) as ws, open_ws(dialect.user_stream_url(
            dialect.decode_listen_key(await send(http, dialect.listen_key_request(credentials)))
        )) as user:  # fmt: skip

            async def read_market() -> None:
                async for frame in ws:
                    for event in dialect.decode_market(frame.data, now_ns(sim)):
                        if isinstance(event, BookDelta):
                            for item in sync.on_delta(event).apply:
                                apply(item)
                        elif isinstance(event, MarkPrice):
                            marks.append(event)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_market)
                await trio.sleep(0.5)
                snapshot = dialect.decode_book_snapshot(
                    await send(http, dialect.book_snapshot_request(btc, 1000)), btc, now_ns(sim)
                )
                for item in sync.on_snapshot(snapshot).apply:
                    apply(item)
                await trio.sleep(3)
                command = PlaceOrder(
                    exchange="binance_usdm", instrument=btc.name, side=Side.BUY, order_type=OrderType.MARKET,
                    size=D("0.05"),
                    client_order_id="dialect-1",
                )  # fmt: skip
                placed = await send(http, dialect.place_order_request(command, btc, credentials, sim.now_ms()))
                assert placed.status == 200, placed.body
                answers = dialect.decode_place_order(placed, command, now_ns(sim))
                assert any(isinstance(a, OrderUpdate) and a.status is OrderStatus.FILLED for a in answers)
                events: list[object] = []
                while not any(isinstance(e, Position) for e in events):
                    events += dialect.decode_user((await user.receive()).data, now_ns(sim))
                sim.pause_flow()
                await trio.sleep(0.5)
                final = dialect.decode_book_snapshot(
                    await send(http, dialect.book_snapshot_request(btc, 1000)), btc, now_ns(sim)
                )
                nursery.cancel_scope.cancel()
        stats = sync.statistics()
        assert stats.synced and stats.gaps == 0 and stats.applied > 5
        assert stats.last_update_id == final.sequence
        assert sorted(bids.items(), reverse=True) == list(final.decimal_bids())
        assert sorted(asks.items()) == list(final.decimal_asks())
        assert len(marks) >= 3 and all(m.mark_price > 0 for m in marks)
        fills = [e for e in events if isinstance(e, Fill)]
        assert sum((f.size for f in fills), D(0)) == D("0.05") and {f.client_order_id for f in fills} == {"dialect-1"}
        (position,) = [e for e in events if isinstance(e, Position)]
        assert position.size == D("0.05") and position.instrument == btc.name
        assert any(isinstance(e, Balance) and e.asset == "USDT" for e in events)
        updates = [e for e in events if isinstance(e, OrderUpdate)]
        assert updates[-1].status is OrderStatus.FILLED
        assert sim.statistics().face_errors == 0
