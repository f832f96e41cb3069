"""Where the order path's time goes: the time since the ask at which each stage of a placement starts.

Same setup as ``order-overhead`` (``bench_orders``: exchange tree in-process, our h11 client over a loopback
socket to the simulator's Binance face, stamped right after the ``send`` syscall). Here the stages are
stamped too: the functions below are wrapped, for this benchmark only, by a wrapper that records
``perf_counter_ns`` as each is entered and left. Each row is the median offset from the ask over the
placements of a run; the wrappers add ~0.3 µs each (~5 µs in all), so the last row sits a little above
``order-overhead``'s figure. Read the differences between rows: they are what each stage costs in context
(warm code in a loop runs 2-3x faster than here, after a trip through the scheduler).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

import trio
from bench_orders import _INSTRUMENT, _NAMES, _Face, _tree, loopback_transport, order_link
from registry import Figure, Row, Settings, Table, benchmark, percentile

from clobactors.actors.account_book import AccountBook
from clobactors.actors.actor import open_actor_system
from clobactors.actors.exchange import ExchangeLink
from clobactors.actors.order_manager import OrderManager
from clobactors.actors.order_placement import Placement
from clobactors.actors.rate_gate import RateGate
from clobactors.client_ids import ClientOrderIdFactory
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.messages import CancelOrder, OrderUpdate, PlaceOrder
from clobactors.model import OrderType, Side
from clobactors.rules import InstrumentRules
from clobactors.transport import h1
from clobactors.transport.http import HttpTransport

#: (class, method, stage name), in path order.
_STAGES: Final[tuple[tuple[type, str, str], ...]] = (
    (OrderManager, "_dispatch", "order manager dispatches the ask"),
    (Placement, "_prepare", "prepare: id, local rules"),
    (ClientOrderIdFactory, "next_id", "client order id"),
    (InstrumentRules, "check", "trading rules check"),
    (AccountBook, "track_held", "track, snapshot, hold the publishing place"),
    (BinanceSpotDialect, "place_order_request", "encode + HMAC sign"),
    (ExchangeLink, "try_send", "try_send"),
    (RateGate, "try_grant", "rate gate grant"),
    (HttpTransport, "send_nowait", "transport: target, endpoint"),
    (h1.Http11Pool, "_payload", "request head"),
    (h1.Http11Pool, "_take_idle", "take an idle connection (poll)"),
    (h1.Http11Pool, "_write", "write"),
)
_WIRE: Final = "first request byte written (after the send syscall)"


@contextmanager
def _stamped(stamps: list[tuple[str, int]]) -> Iterator[None]:
    """Wrap every stage so it appends ``(name>, ns)`` on entry and ``(name<, ns)`` on exit; undone after."""
    clock = time.perf_counter_ns
    saved: list[tuple[type, str, Any]] = []

    def wrap(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def stamped_async(*args: Any, **kwargs: Any) -> Any:
                stamps.append((f"{name} >", clock()))
                try:
                    return await fn(*args, **kwargs)
                finally:
                    stamps.append((f"{name} <", clock()))

            return stamped_async

        @functools.wraps(fn)
        def stamped(*args: Any, **kwargs: Any) -> Any:
            stamps.append((f"{name} >", clock()))
            try:
                return fn(*args, **kwargs)
            finally:
                stamps.append((f"{name} <", clock()))

        return stamped

    for cls, method, name in _STAGES:
        original = cls.__dict__[method]
        saved.append((cls, method, original))
        setattr(cls, method, wrap(original, name))
    try:
        yield
    finally:
        for cls, method, original in saved:
            setattr(cls, method, original)


async def _stage_offsets(count: int) -> dict[str, list[int]]:
    """Offsets (ns since the ask) of each stage's entry and exit, per placement, first occurrence only."""
    face = _Face()
    stamps: list[tuple[str, int]] = []
    offsets: dict[str, list[int]] = defaultdict(list)
    async with trio.open_nursery() as nursery:
        http, base = await loopback_transport(nursery, face)
        link = order_link(face, http, base)
        async with http, open_actor_system() as system:
            await system.start(_tree(link))
            with _stamped(stamps):
                for index in range(count + count // 5):
                    place = PlaceOrder(
                        exchange="binance", instrument=_INSTRUMENT, side=Side.BUY, order_type=OrderType.LIMIT,
                        size=Decimal("0.01"), price=Decimal("1000.00"),
                    )  # fmt: skip
                    face.arrivals.clear()
                    stamps.clear()
                    start = time.perf_counter_ns()
                    update = await system.ask(_NAMES.orders, place)
                    assert isinstance(update, OrderUpdate), update
                    wire = face.arrivals[0]
                    if index >= count // 5:  # the first fifth warms up
                        seen: set[str] = set()
                        for name, at in stamps:
                            if at <= wire and name not in seen:
                                seen.add(name)
                                offsets[name].append(at - start)
                        offsets[_WIRE].append(wire - start)
                    cancel = CancelOrder(exchange="binance", client_order_id=update.client_order_id)
                    await system.ask(_NAMES.orders, cancel)
        nursery.cancel_scope.cancel()
    return offsets


@benchmark("order-stages", "Where an order's time goes: ask -> each stage of the placement (median offsets)")
def order_stages(settings: Settings) -> Table:
    count = 50 if settings.quick else 1000
    runs = [trio.run(_stage_offsets, count) for _ in range(max(1, settings.repeats // 2))]
    names = sorted(runs[0], key=lambda name: percentile(sorted(runs[0][name]), 0.5))
    rows = []
    for name in names:
        medians = tuple(percentile(sorted(run[name]), 0.5) / 1e3 for run in runs if run.get(name))
        rows.append(Row(name, (Figure("since ask µs", "µs", medians),)))
    return Table(
        tuple(rows),
        (
            f"{count} placements per run (each cancelled after), one at a time; '>' a stage starts, '<' it ends",
            "instrumented: ~0.3 µs a stamp; compare rows (what a stage costs in context), not the last row",
        ),
    )
