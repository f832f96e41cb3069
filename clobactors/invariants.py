"""Invariants: the session's view of an exchange against the simulator's truth, compared at quiet points.

At a quiet point (no new faults, the synthetic order flow paused, everything settled) a session that
recovered from whatever happened must agree with the exchange on four things:

* **books**: every book is fresh (not stale), its levels equal the engine's and its sequence is the
  engine's update id;
* **orders**: every order the session knows is in the state the exchange has it in (status, filled size)
  and on its terms (limit price, total size: an amendment in place changes them); one the exchange never saw
  is ``rejected``; none is left pending or unknown; the exchange has no open order of ours the session does
  not know as open;
* **fills**: the fills published are the exchange's fills of the account, each exactly once (no loss, no
  duplicate), with the same price and size;
* **balances**: the order manager's balance view equals the engine's free and locked amounts; on a
  perpetual engine (Binance USD-M) ``free`` is the cross wallet balance and ``locked`` the isolated part of
  the wallet (``wallet - cross wallet``), as :mod:`clobactors.exchanges.binance_usdm.convert_account` maps
  them: the engine's spot-style free/locked (order margin) has no stream counterpart;
* **positions** (perpetuals only): every non-flat leg the engine holds is in the order manager's position
  view with the same signed size and entry price, and the view holds no other.

:class:`SessionObserver` folds the session's bus events (subscribe it before the session starts) into the
published orders and fills, and into a health timeline per book and user stream (``FeedStale``/``FeedDown``
versus ``FeedSynced``), which the chaos runner uses to time recoveries. The ``compare_*`` functions are pure;
:func:`check_session` gathers both sides and runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Final, final

import attrs
import trio

from clobactors.actors.book_view import BookView, GetBook
from clobactors.actors.order_messages import GetBalances, GetPositions
from clobactors.actors.session import Session
from clobactors.messages import (
    Balance,
    BookSnapshot,
    Event,
    FeedDown,
    FeedStale,
    FeedSynced,
    Fill,
    OrderUpdate,
    Position,
)
from clobactors.model import TERMINAL_STATUSES, OrderStatus
from clobactors.sim.perp_records import MarginBalance, PositionInfo
from clobactors.sim.records import AssetBalance, Depth, Execution, OrderInfo
from clobactors.sim.server import Simulator

__all__ = [
    "SessionObserver",
    "Violation",
    "book_key",
    "check_session",
    "compare_balances",
    "compare_books",
    "compare_fills",
    "compare_margin_balances",
    "compare_open_orders",
    "compare_orders",
    "compare_positions",
    "user_key",
]

_ZERO: Final = Decimal(0)
_UNSETTLED: Final = frozenset({OrderStatus.PENDING_CREATE, OrderStatus.PENDING_CANCEL, OrderStatus.UNKNOWN})
_LIVE: Final = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


@final
@attrs.frozen
class Violation:
    """One disagreement: which check (``books``, ``orders``, ``fills``, ``balances``, ``settle``), about what."""

    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


def book_key(exchange: str, instrument: str) -> str:
    return f"{exchange}/book/{instrument}"


def user_key(exchange: str) -> str:
    return f"{exchange}/user"


@final
@attrs.define
class SessionObserver:
    """The session as its bus shows it: last update per order, fills per trade, health per feed.

    Times are trio seconds minus ``t0`` (pass the fault injector's ``t0`` to share its time base). With a
    ``lookup`` (the exchange's record of an order), each order is checked the moment the session publishes it
    terminal, while the exchange (which keeps a bounded history of closed orders) still remembers it; the
    verdicts wait in :meth:`take_violations` and :func:`check_session` skips the orders already checked.
    """

    t0: float = 0.0
    orders: dict[tuple[str, str], OrderUpdate] = attrs.field(factory=dict)
    #: (exchange, client order id) -> (time, status) of every published change, in order.
    order_history: dict[tuple[str, str], list[tuple[float, OrderStatus]]] = attrs.field(factory=dict)
    fills: dict[tuple[str, str, str], list[Fill]] = attrs.field(factory=dict)
    #: Health key -> (time, healthy) transitions, in order.
    health: dict[str, list[tuple[float, bool]]] = attrs.field(factory=dict)
    last_account_event: float = 0.0
    lookup: Callable[[OrderUpdate], OrderInfo | None] | None = None
    #: Orders checked when they became terminal (exchange, client order id).
    verified: set[tuple[str, str]] = attrs.field(factory=set)
    _violations: list[Violation] = attrs.field(factory=list)

    def take_violations(self, exchange: str) -> list[Violation]:
        """Verdicts on terminal orders of ``exchange`` found since the last call."""
        mine = [v for v in self._violations if v.subject.startswith(f"{exchange}:")]
        self._violations = [v for v in self._violations if v not in mine]
        return [Violation(v.check, v.subject.partition(":")[2], v.detail) for v in mine]

    def observe(self, event: Event, now: float | None = None) -> None:
        t = (trio.current_time() if now is None else now) - self.t0
        match event:
            case OrderUpdate():
                key = (event.exchange, event.client_order_id)
                self.orders[key] = event
                self.order_history.setdefault(key, []).append((t, event.status))
                self.last_account_event = t
                if self.lookup is not None and event.status in TERMINAL_STATUSES and key not in self.verified:
                    self.verified.add(key)
                    info = self.lookup(event)
                    for v in compare_orders({event.client_order_id: event}, lambda _: info, ()):
                        self._violations.append(Violation(v.check, f"{event.exchange}:{v.subject}", v.detail))
            case Fill():
                self.fills.setdefault((event.exchange, event.instrument, event.trade_id), []).append(event)
                self.last_account_event = t
            case Balance():
                self.last_account_event = t
            case FeedSynced(feed="user"):
                self._mark(user_key(event.exchange), t, True)
            case FeedDown(feed="user"):
                self._mark(user_key(event.exchange), t, False)
            case FeedSynced() if event.instrument:
                self._mark(book_key(event.exchange, event.instrument), t, True)
            case FeedStale() if event.instrument:
                self._mark(book_key(event.exchange, event.instrument), t, False)
            case _:
                pass

    def _mark(self, key: str, t: float, healthy: bool) -> None:
        timeline = self.health.setdefault(key, [])
        if not timeline or timeline[-1][1] != healthy:
            timeline.append((t, healthy))

    def healthy(self, key: str) -> bool:
        timeline = self.health.get(key)
        return bool(timeline) and timeline[-1][1]  # type: ignore[index]

    def unsettled_orders(self, exchange: str) -> list[str]:
        return sorted(cid for (ex, cid), u in self.orders.items() if ex == exchange and u.status in _UNSETTLED)


# -- pure comparisons ----------------------------------------------------------------------------------------


def compare_books(instrument: str, view: BookSnapshot, stale: bool, truth: Depth, depth: int) -> list[Violation]:
    """The session's top ``depth`` levels and sequence against the engine's."""
    out: list[Violation] = []
    if stale:
        out.append(Violation("books", instrument, "book is stale at a quiet point"))
    for side, mine, theirs in (("bids", view.decimal_bids(), truth.bids), ("asks", view.decimal_asks(), truth.asks)):
        mine, theirs = tuple(mine[:depth]), tuple(theirs[:depth])
        if mine != theirs:
            first = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), None)
            if first is None:
                first = min(len(mine), len(theirs))
            detail = f"session {_level(mine, first)}, exchange {_level(theirs, first)}"
            out.append(Violation("books", instrument, f"{side} differ from level {first}: {detail}"))
    if view.sequence is not None and view.sequence != truth.update_id:
        out.append(Violation("books", instrument, f"sequence {view.sequence}, exchange {truth.update_id}"))
    return out


def _level(levels: Sequence[tuple[Decimal, Decimal]], index: int) -> str:
    if index >= len(levels):
        return "none"
    price, size = levels[index]
    return f"{size.normalize():f}@{price.normalize():f}"


def compare_orders(
    orders: Mapping[str, OrderUpdate],
    lookup: Callable[[OrderUpdate], OrderInfo | None],
    open_on_exchange: Sequence[OrderInfo] = (),
) -> list[Violation]:
    """Every published order (client id -> last update) against the exchange's record of it, then
    :func:`compare_open_orders` over ``open_on_exchange``."""
    out: list[Violation] = []
    for cid, update in sorted(orders.items()):
        if update.status in _UNSETTLED:
            out.append(Violation("orders", cid, f"still {update.status.value} at a quiet point"))
            continue
        info = lookup(update)
        if info is None:
            if update.status is not OrderStatus.REJECTED:
                out.append(Violation("orders", cid, f"session says {update.status.value}, the exchange never had it"))
            continue
        if info.status is not update.status or info.filled_size != update.filled_size:
            out.append(
                Violation(
                    "orders",
                    cid,
                    f"session {update.status.value} filled {update.filled_size.normalize():f}, exchange "
                    f"{info.status.value} filled {info.filled_size.normalize():f}",
                )
            )
        elif (terms := _terms(update, info)) is not None:
            out.append(Violation("orders", cid, terms))
    return out + compare_open_orders(orders, open_on_exchange)


def _terms(update: OrderUpdate, info: OrderInfo) -> str | None:
    """How the session's price and total size of an order differ from the exchange's, or None. A market order
    sized in quote has no base size until it trades (the exchange's ``size`` is what filled), so only its
    price is compared."""
    sizes = info.quote_size is None
    if update.price == info.price and (not sizes or update.size == info.size):
        return None

    def terms(price: Decimal | None, size: Decimal) -> str:
        at = "market" if price is None else f"{price.normalize():f}"
        return f"{size.normalize():f}@{at}" if sizes else at

    return f"terms: session {terms(update.price, update.size)}, exchange {terms(info.price, info.size)}"


def compare_open_orders(orders: Mapping[str, OrderUpdate], open_on_exchange: Sequence[OrderInfo]) -> list[Violation]:
    """Every order open on the exchange must be live (or still being settled) in the session."""
    out: list[Violation] = []
    for info in open_on_exchange:
        known = orders.get(info.client_order_id)
        if known is None or known.status not in _LIVE | _UNSETTLED:
            seen = "unknown to the session" if known is None else f"session says {known.status.value}"
            out.append(Violation("orders", info.client_order_id, f"open on the exchange, {seen}"))
    return out


def compare_fills(
    instrument: str, seen: Mapping[str, Sequence[Fill]], truth: Sequence[Execution], *, history_full: bool = False
) -> list[Violation]:
    """Published fills (trade id -> every Fill published for it) against the exchange's executions.

    ``history_full``: the exchange keeps a bounded history and it is full, so older fills cannot be checked.
    """
    out: list[Violation] = []
    exchange = {str(e.trade_id): e for e in truth}
    for trade_id, fills in sorted(seen.items()):
        if len(fills) > 1:
            out.append(Violation("fills", f"{instrument} #{trade_id}", f"published {len(fills)} times"))
        execution = exchange.get(trade_id)
        if execution is None:
            if not history_full:
                out.append(Violation("fills", f"{instrument} #{trade_id}", "the exchange has no such fill"))
            continue
        fill = fills[0]
        if (fill.price, fill.size, fill.side) != (execution.price, execution.size, execution.side):
            out.append(
                Violation(
                    "fills",
                    f"{instrument} #{trade_id}",
                    f"session {fill.side.value} {fill.size.normalize():f}@{fill.price.normalize():f}, exchange "
                    f"{execution.side.value} {execution.size.normalize():f}@{execution.price.normalize():f}",
                )
            )
    for trade_id in sorted(set(exchange) - set(seen), key=int):
        out.append(Violation("fills", f"{instrument} #{trade_id}", "the exchange's fill was never published"))
    return out


def compare_balances(view: Mapping[str, Balance], truth: Sequence[AssetBalance]) -> list[Violation]:
    """The balance view against the engine's free and locked amounts (a missing asset counts as zero)."""
    out: list[Violation] = []
    exchange = {b.asset: (b.free, b.locked) for b in truth}
    for asset in sorted(set(exchange) | set(view)):
        mine = (view[asset].free, view[asset].locked) if asset in view else (_ZERO, _ZERO)
        theirs = exchange.get(asset, (_ZERO, _ZERO))
        if mine != theirs:
            out.append(
                Violation(
                    "balances",
                    asset,
                    f"session free {mine[0].normalize():f} locked {mine[1].normalize():f}, exchange free "
                    f"{theirs[0].normalize():f} locked {theirs[1].normalize():f}",
                )
            )
    return out


def compare_margin_balances(view: Mapping[str, Balance], truth: Sequence[MarginBalance]) -> list[Violation]:
    """A perpetual account's balance view against the engine's wallets: ``free`` is the cross wallet balance,
    ``locked`` the isolated part (``wallet - cross wallet``), as the USD-M stream and REST both report them."""
    return compare_balances(
        view,
        [
            AssetBalance(asset=m.asset, free=m.cross_wallet_balance, locked=m.wallet_balance - m.cross_wallet_balance)
            for m in truth
        ],
    )


def compare_positions(instrument: str, view: Sequence[Position], truth: Sequence[PositionInfo]) -> list[Violation]:
    """The position view of one instrument against the engine's legs: every non-flat leg present with the same
    signed size and entry price; no leg in the view that the engine holds flat."""
    out: list[Violation] = []
    mine = {p.position_side: p for p in view if p.size != 0}
    theirs = {p.position_side: p for p in truth if p.size != 0}
    for side in sorted(set(mine) | set(theirs), key=lambda s: s.value):
        held, real = mine.get(side), theirs.get(side)
        ours = "flat" if held is None else _position(held.size, held.entry_price)
        exchange = "flat" if real is None else _position(real.size, real.entry_price)
        if ours != exchange:
            out.append(Violation("positions", f"{instrument} {side.value}", f"session {ours}, exchange {exchange}"))
    return out


def _position(size: Decimal, entry: Decimal | None) -> str:
    return f"{size.normalize():f}@{'-' if entry is None else f'{entry.normalize():f}'}"


# -- the whole check -----------------------------------------------------------------------------------------


async def check_session(
    session: Session,
    exchange: str,
    sim: Simulator,
    observer: SessionObserver,
    symbols: Mapping[str, str],
    *,
    account_id: str | None = None,
    depth: int = 20,
) -> list[Violation]:
    """Compare everything for one exchange of ``session`` served by ``sim``; ``symbols`` maps the session's
    instruments to the simulator's symbols. Call it at a quiet point (see :mod:`clobactors.chaos`)."""
    names = session.names(exchange)
    engine = sim.engine
    account = account_id or sim.account_id
    out: list[Violation] = []
    for instrument, symbol in sorted(symbols.items()):
        view = await session.ask(names.books, GetBook(instrument))
        assert isinstance(view, BookView)
        out += compare_books(instrument, view.snapshot(depth), view.is_stale, engine.depth(symbol, depth), depth)
    to_symbol = dict(symbols)

    def lookup(update: OrderUpdate) -> OrderInfo | None:
        symbol = to_symbol.get(update.instrument)
        if symbol is None:
            return None
        return engine.order(account, symbol, client_order_id=update.client_order_id)

    mine = {cid: u for (ex, cid), u in observer.orders.items() if ex == exchange}
    unchecked = {cid: u for cid, u in mine.items() if (exchange, cid) not in observer.verified}
    open_orders = [o for s in sorted(set(symbols.values())) for o in engine.open_orders(account, s)]
    out += observer.take_violations(exchange)
    out += compare_orders(unchecked, lookup, ())
    out += compare_open_orders(mine, open_orders)
    for instrument, symbol in sorted(symbols.items()):
        seen = {t: fills for (ex, inst, t), fills in observer.fills.items() if (ex, inst) == (exchange, instrument)}
        truth = engine.trades_for(account, symbol)
        out += compare_fills(instrument, seen, truth, history_full=len(truth) >= _TRADE_HISTORY)
    balances = await session.ask(names.orders, GetBalances())
    assert isinstance(balances, Mapping)
    perps = engine.perps
    if perps is None:
        out += compare_balances(balances, engine.balances(account))
        return out
    assets = [b.asset for b in engine.balances(account)]
    out += compare_margin_balances(balances, [perps.margin_balance(account, asset) for asset in assets])
    for instrument, symbol in sorted(symbols.items()):
        held = await session.ask(names.orders, GetPositions(instrument=instrument))
        assert isinstance(held, tuple)
        out += compare_positions(instrument, held, perps.positions(account, symbol, now_ns=sim.now_ns()))
    return out


#: The engine's per-account trade history bound (``Engine(trade_history_limit=...)``'s default).
_TRADE_HISTORY: Final = 1_000
