"""Shared wiring for the Binance end-to-end tests: a session on the simulator, a bus recorder, a counterparty.

Everything runs over loopback sockets against :func:`clobactors.sim.server.open_simulator`, under trio's
``MockClock(autojump_threshold=0)`` (the tests request the ``autojump_clock`` fixture).

* :func:`open_e2e_session` opens a session with the default simulator account's credentials and records
  every account and lifecycle event on the bus (a :class:`Recorder` drains the subscription continuously, so
  the never-drop account path is never held up by the test).
* :class:`Counterparty` is a second simulator account trading through the face's REST API (signed with its
  own key, as any Binance client would), so its orders move our orders deterministically and every engine
  event it causes is drained and published by the server like any other request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import httpx
import trio

from clobactors.actors.bus import Bus, Subscription
from clobactors.actors.order_messages import GetBalances, GetOpenOrders
from clobactors.actors.session import Session, StrategyFactory, open_session
from clobactors.config import Environment, ExchangeConfig, OrderEntry, SessionConfig
from clobactors.exchanges import get_credentials
from clobactors.exchanges.binance.signing import Credentials, sign_request
from clobactors.messages import Balance, Fill, OrderUpdate
from clobactors.model import OrderStatus
from clobactors.sim.server import Simulator

EXCHANGE = "binance"
INSTRUMENT = "BTC-USDT"
SYMBOL = "BTCUSDT"

E = TypeVar("E")


@attrs.define(eq=False)
class Recorder:
    """Every event of one bus subscription, in order, with a way to wait for one."""

    events: list[object] = attrs.field(factory=list)
    _changed: trio.Event = attrs.field(factory=trio.Event)

    def add(self, event: object) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type[E], predicate: Callable[[E], bool] = lambda _: True, *, start: int = 0) -> E:
        """The first ``kind`` event from index ``start`` on that satisfies ``predicate`` (waits for it)."""
        index = start
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if isinstance(event, kind) and predicate(event):
                    return event
            await self._changed.wait()

    def updates(self, client_order_id: str) -> list[OrderUpdate]:
        return [e for e in self.of(OrderUpdate) if e.client_order_id == client_order_id]

    def statuses(self, client_order_id: str) -> list[OrderStatus]:
        return [u.status for u in self.updates(client_order_id)]

    def fills(self, client_order_id: str = "") -> list[Fill]:
        return [f for f in self.of(Fill) if not client_order_id or f.client_order_id == client_order_id]


def session_config(
    sim: Simulator,
    *,
    depth: int = 1000,
    cancel_all_on_stop: bool = False,
    seed: int = 1,
    order_journal: str = "",
    order_entry: OrderEntry = OrderEntry.REST,
) -> SessionConfig:
    return SessionConfig(
        exchanges=(
            ExchangeConfig(
                name=EXCHANGE, instruments=(INSTRUMENT,), environment=Environment.CUSTOM, rest=sim.rest_url,
                ws=sim.ws_url, ws_api=sim.ws_api_url, depth=depth, cancel_all_on_stop=cancel_all_on_stop,
                order_journal=order_journal, order_entry=order_entry,
            ),
        ),
        seed=seed,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def open_e2e_session(
    sim: Simulator,
    *,
    strategies: Sequence[tuple[str, StrategyFactory]] = (),
    depth: int = 1000,
    cancel_all_on_stop: bool = False,
    seed: int = 1,
    order_journal: str = "",
    order_entry: OrderEntry = OrderEntry.REST,
) -> AsyncIterator[tuple[Session, Recorder]]:
    """A session on ``sim``'s default account, and a recorder of its account and lifecycle events.

    ``order_journal`` names the file journaling the account's live orders (none by default)."""
    bus = Bus()
    recorder = Recorder()
    subscriptions = [
        bus.subscribe(f"account.{EXCHANGE}", name="e2e-account"),
        bus.subscribe("lifecycle", prefix=True, name="e2e-lifecycle"),
    ]

    async def record(subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                recorder.add(event)

    creds = get_credentials(EXCHANGE, {"api_key": sim.api_key, "api_secret": sim.api_secret})
    config = session_config(
        sim, depth=depth, cancel_all_on_stop=cancel_all_on_stop, seed=seed, order_journal=order_journal,
        order_entry=order_entry,
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        for subscription in subscriptions:
            nursery.start_soon(record, subscription)
        async with open_session(config, strategies=strategies, credentials={EXCHANGE: creds}, bus=bus) as session:
            yield session, recorder


async def open_orders(session: Session) -> tuple[OrderUpdate, ...]:
    orders = await session.ask(session.names(EXCHANGE).orders, GetOpenOrders())
    assert isinstance(orders, tuple)
    return orders


def balance_map(balances: Mapping[str, Balance]) -> dict[str, tuple[Decimal, Decimal]]:
    return {a: (b.free, b.locked) for a, b in balances.items() if b.free or b.locked}


async def session_balances(session: Session) -> dict[str, tuple[Decimal, Decimal]]:
    balances = await session.ask(session.names(EXCHANGE).orders, GetBalances())
    assert isinstance(balances, Mapping)
    return balance_map(balances)


def engine_balances(sim: Simulator, account_id: str) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in sim.engine.balances(account_id) if b.free or b.locked}


async def assert_balances_converge(session: Session, sim: Simulator, *, within: float = 5.0) -> None:
    """The session's balance view reaches the engine's balances of the default account (virtual seconds).

    The engine is the truth at once; the session learns it from the user stream a few frames later, so the
    check waits (on the trio clock) for the two to agree and shows both if they never do.
    """
    expected: dict[str, tuple[Decimal, Decimal]] = {}
    seen: dict[str, tuple[Decimal, Decimal]] = {}
    with trio.move_on_after(within):
        while True:
            expected = engine_balances(sim, sim.account_id)
            seen = await session_balances(session)
            if seen == expected:
                return
            await trio.sleep(0.05)
    raise AssertionError(f"session balances {seen} never matched the engine's {expected}")


@attrs.define(eq=False)
class Counterparty:
    """A second simulator account trading over the face's signed REST API."""

    sim: Simulator
    http: httpx.AsyncClient
    credentials: Credentials = attrs.field(repr=False)
    account_id: str

    async def signed(self, method: str, path: str, params: list[tuple[str, str]]) -> Any:
        request = sign_request(params, self.credentials, timestamp=self.sim.now_ms())
        headers = dict(request.headers)
        response = await self.http.request(method, f"{path}?{request.query}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def order(
        self, side: str, kind: str, quantity: Decimal, price: Decimal | None = None, *, tif: str = "GTC"
    ) -> dict[str, Any]:
        params = [("symbol", SYMBOL), ("side", side), ("type", kind), ("quantity", str(quantity))]
        if price is not None:
            params += [("price", str(price)), ("timeInForce", tif)]
        params.append(("newOrderRespType", "FULL"))
        answer = await self.signed("POST", "/api/v3/order", params)
        assert isinstance(answer, dict)
        return answer


@contextlib.asynccontextmanager
async def open_counterparty(
    sim: Simulator, balances: Mapping[str, Decimal] | None = None, account_id: str = "counterparty"
) -> AsyncIterator[Counterparty]:
    funding = balances or {"BTC": Decimal(100), "USDT": Decimal(10_000_000)}
    opened = sim.add_account(funding, account_id=account_id)
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        yield Counterparty(
            sim=sim, http=http, credentials=Credentials(api_key=opened.api_key, secret=opened.secret),
            account_id=opened.account_id,
        )  # fmt: skip
