"""A session monitor: folds bus events into a view of books, orders, fills, balances and health.

Pure (no I/O): the demo and the chaos runner feed it every event they see and render it, either as a live
terminal screen or as plain lines when stdout is not a terminal. It is also the source of the end-of-run
summary (orders placed, fills, volume, PnL marked to the last mid, reconnects, restarts).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.messages import (
    ActorRestarted,
    Balance,
    BestBidAsk,
    Event,
    FeedConnected,
    FeedDown,
    FeedStale,
    FeedSynced,
    Fill,
    OrderOutcomeUnknown,
    OrderUpdate,
    SubscriberLagging,
    SupervisorEscalatedEvent,
    Trade,
)
from clobactors.model import TERMINAL_STATUSES, Instrument, OrderStatus, Side

__all__ = ["FeedHealth", "Monitor", "Summary"]

_ZERO: Final = Decimal(0)


def _show(value: Decimal | None) -> str:
    """A decimal for people: no exponent, no trailing zeros (the exchange's 8-decimal strings are noise)."""
    return "-" if value is None else f"{value.normalize():f}"


@final
@attrs.define
class FeedHealth:
    """Latest known state of one feed (``exchange/feed[/instrument]``)."""

    state: str = "starting"
    detail: str = ""
    connects: int = 0
    downs: int = 0
    stale: int = 0


@final
@attrs.frozen
class Summary:
    """End-of-run figures."""

    orders_placed: int
    orders_by_status: dict[str, int]
    fills: int
    volume_base: Decimal
    volume_quote: Decimal
    fees: dict[str, Decimal]
    pnl_quote: Decimal | None
    reconnects: int
    restarts: int
    escalations: int
    outcome_unknown: int
    market_events: int

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.orders_by_status.items())) or "none"
        fees = ", ".join(f"{v.normalize():f} {k}" for k, v in sorted(self.fees.items())) or "none"
        pnl = "n/a" if self.pnl_quote is None else f"{self.pnl_quote:.6f}"
        return [
            f"orders placed     {self.orders_placed} ({statuses})",
            f"fills             {self.fills}",
            f"volume            {self.volume_base.normalize():f} base, {self.volume_quote:.6f} quote",
            f"fees              {fees}",
            f"PnL (quote, marked to last mid, after fees)  {pnl}",
            f"reconnects        {self.reconnects}",
            f"restarts          {self.restarts} (escalations {self.escalations})",
            f"outcome unknown   {self.outcome_unknown}",
            f"market events     {self.market_events}",
        ]


@final
@attrs.define
class Monitor:
    """Accumulates what a person watching the session wants to see."""

    recent: int = 8
    tops: dict[tuple[str, str], BestBidAsk] = attrs.field(factory=dict)
    orders: dict[str, OrderUpdate] = attrs.field(factory=dict)
    fills: deque[Fill] = attrs.field(init=False)
    balances: dict[tuple[str, str], Balance] = attrs.field(factory=dict)
    feeds: dict[str, FeedHealth] = attrs.field(factory=dict)
    log: deque[str] = attrs.field(init=False)
    _first_balances: dict[tuple[str, str], Decimal] = attrs.field(factory=dict)
    _fill_count: int = 0
    _volume_base: Decimal = _ZERO
    _volume_quote: Decimal = _ZERO
    _fees: dict[str, Decimal] = attrs.field(factory=dict)
    _net_base: dict[tuple[str, str], Decimal] = attrs.field(factory=dict)
    _net_quote: dict[tuple[str, str], Decimal] = attrs.field(factory=dict)
    _restarts: int = 0
    _escalations: int = 0
    _unknown: int = 0
    _market_events: int = 0
    _trades: int = 0

    def __attrs_post_init__(self) -> None:
        self.fills = deque(maxlen=self.recent)
        self.log = deque(maxlen=self.recent)

    def observe(self, event: Event) -> None:
        """Fold one event in."""
        match event:
            case BestBidAsk():
                self._market_events += 1
                self.tops[(event.exchange, event.instrument)] = event
            case Trade():
                self._market_events += 1
                self._trades += 1
            case OrderUpdate():
                self.orders[event.client_order_id] = event
            case Fill():
                self._on_fill(event)
            case Balance():
                self.balances[(event.exchange, event.asset)] = event
            case FeedConnected():
                health = self._feed(event.exchange, event.feed, event.instrument)
                health.state, health.detail = "connected", ""
                health.connects += 1
            case FeedSynced():
                self._feed(event.exchange, event.feed, event.instrument).state = "synced"
            case FeedStale():
                health = self._feed(event.exchange, event.feed, event.instrument)
                health.state, health.detail = "stale", event.reason
                health.stale += 1
            case FeedDown():
                health = self._feed(event.exchange, event.feed, event.instrument)
                health.state, health.detail = "down", event.reason
                health.downs += 1
                self.log.append(f"feed down {event.exchange}/{event.feed}: {event.reason}")
            case ActorRestarted():
                self._restarts += 1
                self.log.append(f"restarted {event.actor} after {event.delay:.2f}s: {event.error}")
            case SupervisorEscalatedEvent():
                self._escalations += 1
                self.log.append(f"escalated {event.supervisor}: {event.error}")
            case OrderOutcomeUnknown():
                self._unknown += 1
                self.log.append(f"outcome unknown {event.client_order_id}: {event.reason}")
            case SubscriberLagging():
                self.log.append(f"subscriber lagging {event.subscriber} on {event.topic}: {event.buffered}")
            case _:
                self._market_events += 1

    def _feed(self, exchange: str, feed: str, instrument: str) -> FeedHealth:
        key = "/".join(p for p in (exchange, feed, instrument) if p)
        return self.feeds.setdefault(key, FeedHealth())

    def _on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self._fill_count += 1
        notional = fill.price * fill.size
        self._volume_base += fill.size
        self._volume_quote += notional
        if fill.fee and fill.fee_asset:
            self._fees[fill.fee_asset] = self._fees.get(fill.fee_asset, _ZERO) + fill.fee
        key = (fill.exchange, fill.instrument)
        sign = 1 if fill.side is Side.BUY else -1
        self._net_base[key] = self._net_base.get(key, _ZERO) + sign * fill.size
        self._net_quote[key] = self._net_quote.get(key, _ZERO) - sign * notional

    def mid(self, exchange: str, instrument: str) -> Decimal | None:
        top = self.tops.get((exchange, instrument))
        if top is None or top.bid_price is None or top.ask_price is None:
            return None
        return (top.bid_price + top.ask_price) / 2

    def open_orders(self) -> list[OrderUpdate]:
        return [o for o in self.orders.values() if o.status not in TERMINAL_STATUSES]

    def summary(self) -> Summary:
        by_status: dict[str, int] = {}
        for order in self.orders.values():
            by_status[order.status.value] = by_status.get(order.status.value, 0) + 1
        pnl = self._pnl()
        reconnects = sum(max(0, h.connects - 1) for h in self.feeds.values())
        return Summary(
            orders_placed=len(self.orders),
            orders_by_status=by_status,
            fills=self._fill_count,
            volume_base=self._volume_base,
            volume_quote=self._volume_quote,
            fees=dict(self._fees),
            pnl_quote=pnl,
            reconnects=reconnects,
            restarts=self._restarts,
            escalations=self._escalations,
            outcome_unknown=self._unknown,
            market_events=self._market_events,
        )

    def _pnl(self) -> Decimal | None:
        """Quote PnL of our fills marked to the last mid, after fees (None when a mid is unknown).

        Assumes every traded instrument shares one quote asset, which holds for the demo; fees paid in the
        base asset are valued at that instrument's mid.
        """
        pnl = _ZERO
        fees = dict(self._fees)
        for key, base in self._net_base.items():
            mid = self.mid(*key)
            if mid is None:
                return None
            _, base_asset, quote_asset, _ = Instrument.parse_name(key[1])
            pnl += self._net_quote[key] + base * mid
            pnl -= fees.pop(quote_asset, _ZERO) + fees.pop(base_asset, _ZERO) * mid
        return pnl

    def render(self, elapsed: float) -> list[str]:
        """The live screen as lines (no ANSI codes; the caller clears and redraws)."""
        lines = [f"clobactors demo  t={elapsed:6.1f}s  market events {self._market_events}  trades {self._trades}"]
        lines.append("")
        lines.append("TOP OF BOOK")
        for (exchange, instrument), top in sorted(self.tops.items()):
            bid = "-" if top.bid_price is None else f"{_show(top.bid_size)} @ {_show(top.bid_price)}"
            ask = "-" if top.ask_price is None else f"{_show(top.ask_price)} x {_show(top.ask_size)}"
            lines.append(f"  {exchange:<10} {instrument:<14} {bid:>28} | {ask:<28}")
        lines.append("")
        lines.append("OWN ORDERS (open)")
        open_orders = self.open_orders()
        for order in open_orders[: self.recent]:
            lines.append(
                f"  {order.client_order_id:<24} {order.side.value:<4} {_show(order.size)} @ {_show(order.price)} "
                f"{order.status.value} filled {order.filled_size.normalize():f}"
            )
        if not open_orders:
            lines.append("  (none)")
        lines.append("")
        lines.append("RECENT FILLS")
        for fill in list(self.fills)[-self.recent :]:
            lines.append(
                f"  {fill.instrument:<14} {fill.side.value:<4} {_show(fill.size)} @ {_show(fill.price)} "
                f"fee {fill.fee.normalize():f} {fill.fee_asset} ({fill.liquidity.value if fill.liquidity else '?'})"
            )
        if not self.fills:
            lines.append("  (none)")
        lines.append("")
        lines.append("BALANCES")
        for (exchange, asset), balance in sorted(self.balances.items()):
            lines.append(
                f"  {exchange:<10} {asset:<6} free {balance.free.normalize():f}  locked {balance.locked.normalize():f}"
            )
        lines.append("")
        lines.append("FEEDS")
        for key, health in sorted(self.feeds.items()):
            detail = f" ({health.detail})" if health.detail else ""
            lines.append(f"  {key:<32} {health.state}{detail}  reconnects {max(0, health.connects - 1)}")
        summary = self.summary()
        lines.append("")
        lines.append(
            f"restarts {summary.restarts}  escalations {summary.escalations}  unknown {summary.outcome_unknown}"
        )
        for entry in self.log:
            lines.append(f"  ! {entry}")
        return lines

    def status_line(self, elapsed: float) -> str:
        """One plain line for non-terminal output."""
        summary = self.summary()
        tops = []
        for (_, instrument), top in sorted(self.tops.items()):
            tops.append(f"{instrument} {_show(top.bid_price)}/{_show(top.ask_price)}")
        open_count = len(self.open_orders())
        filled = sum(1 for o in self.orders.values() if o.status is OrderStatus.FILLED)
        return (
            f"t={elapsed:.1f}s {' '.join(tops)} open={open_count} orders={summary.orders_placed} "
            f"filled={filled} fills={summary.fills} restarts={summary.restarts} reconnects={summary.reconnects}"
        )
