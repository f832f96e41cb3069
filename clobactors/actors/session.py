"""A session: several exchange trees and the strategy actors, under one supervisor.

Tree shape (names are what ``ask``/``tell`` address; see :class:`ExchangeNames`)::

    session                         one_for_one: an exchange tree or the strategies fail alone
    ├── <exchange>                  rest_for_one: a crash restarts what was started after it
    │   ├── <exchange>.rate_limiter loads reference data (rules, pools, clock) first
    │   ├── <exchange>.orders       order manager: reconciles on start
    │   └── <exchange>.feeds        one_for_one: a book feed crash never resets the user stream
    │       ├── <exchange>.books    book feed (all instruments of the exchange)
    │       └── <exchange>.user     user stream (only with credentials)
    └── strategies                  one_for_one: a crashing strategy never touches a connection

A failing feed therefore never stops a strategy or another exchange, and a crashing strategy never resets an
exchange connection. :meth:`Session.add_instruments` / :meth:`Session.remove_instruments` change what a
running book feed carries; a :class:`~clobactors.actors.feed_subscriptions.FeedRoster` per exchange, kept
by :func:`open_session`, makes a restarted feed (or exchange tree) come back with that set, not the config's.
Restarts pile up per supervisor; past its intensity a supervisor escalates to its parent, which restarts that
subtree (within its own intensity).

An exchange configured with an ``order_journal`` file (and credentials) gets an
:class:`~clobactors.order_journal.OrderJournal` opened by :func:`open_session` before anything starts (a bad
path fails there, as a ConfigError) and closed after everything stopped; its order manager, restarts
included, journals into it.

Everything exchange-specific comes from the dialect registry (:mod:`clobactors.exchanges`); this module only
wires actors together.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Final, final

import attrs

from clobactors.actors.actor import Actor, ActorSystem, open_actor_system
from clobactors.actors.book_feed import BookFeed
from clobactors.actors.book_view import AddInstruments, InstrumentsAdded, InstrumentsRemoved, RemoveInstruments
from clobactors.actors.bus import Bus
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.feed_subscriptions import FeedRoster
from clobactors.actors.order_entry import OrderEntry
from clobactors.actors.order_manager import OrderManager
from clobactors.actors.rate_limiter import RateLimiterActor
from clobactors.actors.supervisor import ChildSpec, Restart, Strategy, Supervisor
from clobactors.actors.user_stream import UserStream
from clobactors.backoff import Backoff
from clobactors.config import Environment, ExchangeConfig, SessionConfig
from clobactors.config import OrderEntry as OrderEntryMode
from clobactors.errors import ConfigError
from clobactors.exchanges import get_credentials, get_dialect
from clobactors.exchanges.alias import AliasDialect
from clobactors.exchanges.order_entry import OrderEntryDialect
from clobactors.exchanges.standard import SpotDialect
from clobactors.order_journal import OrderJournal
from clobactors.transport.http import HttpTransport

__all__ = ["ExchangeNames", "Session", "StrategyFactory", "exchange_tree", "open_session"]

logger: Final = logging.getLogger(__name__)

#: Builds a strategy actor for one start; gets the session's names so it can address order managers.
StrategyFactory = Callable[[], Actor]


@final
@attrs.frozen
class ExchangeNames:
    """Actor names of one exchange tree."""

    exchange: str

    @property
    def supervisor(self) -> str:
        return self.exchange

    @property
    def rate_limiter(self) -> str:
        return f"{self.exchange}.rate_limiter"

    @property
    def orders(self) -> str:
        return f"{self.exchange}.orders"

    @property
    def feeds(self) -> str:
        return f"{self.exchange}.feeds"

    @property
    def books(self) -> str:
        return f"{self.exchange}.books"

    @property
    def user(self) -> str:
        return f"{self.exchange}.user"

    @property
    def order_entry(self) -> str:
        return f"{self.exchange}.order_entry"


def exchange_tree(
    link: ExchangeLink,
    config: ExchangeConfig,
    *,
    rng: random.Random,
    max_restarts: int = 5,
    window: float = 60.0,
    backoff: Backoff | None = None,
    journal: OrderJournal | None = None,
    roster: FeedRoster | None = None,
) -> Supervisor:
    """The supervisor of one exchange: limiter, order manager, then the feeds (see the module doc).

    ``roster`` carries the book feed's instruments across its restarts (``config.instruments`` at first)."""
    names = ExchangeNames(link.name)
    backoff = backoff or Backoff(initial=0.5, factor=2.0, max=30.0, jitter=0.2)
    books = roster if roster is not None else FeedRoster(config.instruments)
    feed_children = [
        ChildSpec(
            name=names.books,
            factory=lambda: BookFeed(
                name=names.books, link=link, instruments=books.instruments, depth=config.depth,
                max_concurrent_snapshots=config.max_concurrent_snapshots, rng=random.Random(rng.random()),
                roster=books,
            ),
        )
    ]
    children = [
        ChildSpec(name=names.rate_limiter, factory=lambda: RateLimiterActor(name=names.rate_limiter, link=link)),
    ]
    if link.credentials is not None:
        children.append(
            ChildSpec(
                name=names.orders,
                factory=lambda: OrderManager(
                    name=names.orders, link=link, instruments=config.instruments,
                    cancel_all_on_shutdown=config.cancel_all_on_stop, reconcile_interval=config.reconcile_interval,
                    id_rng=random.Random(rng.random()), journal=journal,
                ),
            )
        )
        feed_children.append(
            ChildSpec(
                name=names.user,
                factory=lambda: UserStream(
                    name=names.user, link=link, order_manager=names.orders, rng=random.Random(rng.random())
                ),
            )
        )
        if config.order_entry is OrderEntryMode.WEBSOCKET:
            if not isinstance(link.dialect, OrderEntryDialect):
                raise ConfigError(f"exchange {config.name!r}: its dialect has no WebSocket order entry")
            feed_children.append(
                ChildSpec(
                    name=names.order_entry,
                    factory=lambda: OrderEntry(name=names.order_entry, link=link, rng=random.Random(rng.random())),
                )
            )
    children.append(
        ChildSpec(
            name=names.feeds,
            factory=lambda: Supervisor(
                name=names.feeds, children=feed_children, strategy=Strategy.ONE_FOR_ONE,
                max_restarts=max_restarts, window=window, backoff=backoff, rng=random.Random(rng.random()),
            ),
        )
    )
    return Supervisor(
        name=names.supervisor, children=children, strategy=Strategy.REST_FOR_ONE, max_restarts=max_restarts,
        window=window, backoff=backoff, rng=random.Random(rng.random()),
    )


def _dialect_options(config: ExchangeConfig) -> dict[str, str]:
    if config.environment is Environment.CUSTOM:
        return {k: v for k, v in (("rest", config.rest), ("ws", config.ws), ("ws_api", config.ws_api)) if v}
    return {"environment": config.environment.value}


@final
@attrs.define
class Session:
    """A running session: its actor system, the link of each exchange, and the actor names."""

    system: ActorSystem
    config: SessionConfig
    links: Mapping[str, ExchangeLink]

    def names(self, exchange: str) -> ExchangeNames:
        if exchange not in self.links:
            raise ConfigError(f"no exchange {exchange!r} in this session")
        return ExchangeNames(exchange)

    async def ask(self, actor: str, payload: object) -> object:
        """Ask any actor of the session (e.g. ``session.names("binance").orders``)."""
        return await self.system.ask(actor, payload, sender="session")

    async def add_instruments(self, exchange: str, instruments: Sequence[str]) -> InstrumentsAdded:
        """Have ``exchange``'s book feed carry ``instruments`` too (canonical names), the others untouched.

        Returns once the new streams are subscribed on the wire; each book then syncs (FeedSynced). Raises
        ConfigError (nothing changed) if the exchange does not list one of them, ExchangeError or
        TransportTimeout if the exchange refused or never answered the subscription (nothing added).
        """
        answer = await self.ask(self.names(exchange).books, AddInstruments(tuple(instruments)))
        if not isinstance(answer, InstrumentsAdded):
            raise TypeError(f"book feed answered {type(answer).__name__} to AddInstruments")
        return answer

    async def remove_instruments(self, exchange: str, instruments: Sequence[str]) -> InstrumentsRemoved:
        """Have ``exchange``'s book feed drop ``instruments``: a FeedRemoved each, then no more of their events."""
        answer = await self.ask(self.names(exchange).books, RemoveInstruments(tuple(instruments)))
        if not isinstance(answer, InstrumentsRemoved):
            raise TypeError(f"book feed answered {type(answer).__name__} to RemoveInstruments")
        return answer


@contextlib.asynccontextmanager
async def open_session(
    config: SessionConfig,
    *,
    strategies: Sequence[tuple[str, StrategyFactory]] = (),
    environ: Mapping[str, str] | None = None,
    dialects: Mapping[str, SpotDialect[Any]] | None = None,
    credentials: Mapping[str, object] | None = None,
    bus: Bus | None = None,
    wall_ns: Callable[[], int] = time.time_ns,
) -> AsyncIterator[Session]:
    """Start every exchange tree and strategy of ``config``; stop them in reverse order on exit.

    Returns once every exchange is ready (reference data loaded, orders reconciled, books synced).
    ``dialects`` and ``credentials`` override what the registry and the environment would give (tests,
    the embedded simulator); otherwise credentials come from the environment variables the config names.
    Pass a ``bus`` to subscribe before anything starts (a monitor that must not miss start-up events).
    ``wall_ns`` is the wall clock for signing timestamps and ``ts_recv`` (pin it to the virtual clock when
    running under trio's MockClock). Two exchanges may speak one dialect (``ExchangeConfig.dialect``): each
    publishes its events under its own name.
    """
    rng = random.Random(config.seed)
    async with contextlib.AsyncExitStack() as stack:
        links: dict[str, ExchangeLink] = {}
        journals: dict[str, OrderJournal] = {}
        rosters = {exchange.name: FeedRoster(exchange.instruments) for exchange in config.exchanges}
        for exchange in config.exchanges:
            dialect: Any = (dialects or {}).get(exchange.name) or get_dialect(
                exchange.dialect_name, **_dialect_options(exchange)
            )
            if getattr(dialect, "name", exchange.name) != exchange.name:
                dialect = AliasDialect(dialect, exchange.name)
            creds = (credentials or {}).get(exchange.name)
            if creds is None and exchange.has_credentials:
                creds = get_credentials(exchange.dialect_name, exchange.credential_values(environ))
            http = HttpTransport.from_url(dialect.rest_base())
            stack.push_async_callback(http.aclose)
            links[exchange.name] = ExchangeLink(
                name=exchange.name, dialect=dialect, http=http, credentials=creds,
                rate_limiter=ExchangeNames(exchange.name).rate_limiter, wall_ns=wall_ns,
            )
            if exchange.order_entry is OrderEntryMode.WEBSOCKET and not isinstance(dialect, OrderEntryDialect):
                raise ConfigError(f"exchange {exchange.name!r}: its dialect has no WebSocket order entry")
            if exchange.order_journal and creds is None:
                logger.warning("%s: order_journal ignored: no credentials, so no order is placed", exchange.name)
            elif exchange.order_journal:
                journals[exchange.name] = OrderJournal.open(exchange.order_journal, exchange=exchange.name)
                stack.callback(journals[exchange.name].close)
        children = [
            ChildSpec(
                name=exchange.name,
                factory=lambda exchange=exchange: exchange_tree(  # type: ignore[misc]
                    links[exchange.name], exchange, rng=random.Random(rng.random()),
                    journal=journals.get(exchange.name), roster=rosters[exchange.name],
                ),
                shutdown=10.0,
            )
            for exchange in config.exchanges
        ]
        if strategies:
            strategy_children = [
                ChildSpec(name=name, factory=factory, restart=Restart.PERMANENT) for name, factory in strategies
            ]
            children.append(
                ChildSpec(
                    name="strategies",
                    factory=lambda: Supervisor(
                        name="strategies", children=strategy_children, strategy=Strategy.ONE_FOR_ONE,
                        max_restarts=10, window=60.0, rng=random.Random(rng.random()),
                    ),
                )
            )
        root = Supervisor(
            name="session", children=children, strategy=Strategy.ONE_FOR_ONE, max_restarts=10, window=300.0,
            rng=random.Random(rng.random()),
        )
        system = await stack.enter_async_context(open_actor_system(seed=config.seed, bus=bus, wall_ns=wall_ns))
        await system.start(root, shutdown=30.0)
        yield Session(system=system, config=config, links=links)
