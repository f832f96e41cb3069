"""Which market connection carries which streams: the book feed's connection plan, pure and without I/O.

A :class:`ConnectionPlan` is the single record of what each connection of a book feed should carry. The feed
builds its connections from it at start and asks it where an instrument goes when one is added or removed
at runtime; every (re)connect then subscribes the plan's *current* set, so a reconnect never resurrects a
removed stream nor forgets an added one. Rules:

* Subscriptions of different connection groups (``dialect.connection_group``) never share a connection, and
  one instrument's subscriptions of one group share one connection.
* No connection carries more than ``max_streams`` streams.
* At start (:meth:`ConnectionPlan.initial`) each group's instruments, in the order given, fill connections
  of ``max_streams // channels-per-instrument`` instruments each (the layout the feed always had).
* An added instrument goes, per group, to the lowest-numbered connection of that group with room for all its
  streams there, else to a new connection (a fresh index, never reused, so lifecycle events keep naming one
  connection). A removal that leaves a connection with no stream says so (``emptied``): the feed closes it.

Kept separate from the actors so the placement rules are property-tested on their own (no sockets, no trio).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.standard import Subscription

__all__ = ["ConnectionPlan", "PlanChange"]


@final
@attrs.frozen
class PlanChange:
    """Streams of one instrument that one connection gains (add) or loses (remove)."""

    connection: int
    group: str
    instrument: str
    subscriptions: tuple[Subscription, ...]
    #: The connection did not exist before this add: open it.
    opened: bool = False
    #: The connection carries nothing after this removal: close it.
    emptied: bool = False


@attrs.define(eq=False)
class _Planned:
    group: str
    #: Instrument -> its streams on this connection, in insertion order.
    streams: dict[str, tuple[Subscription, ...]] = attrs.field(factory=dict)
    count: int = 0


@final
@attrs.define
class ConnectionPlan:
    """Connections by index, each with its group and its streams per instrument (see the module docstring)."""

    max_streams: int
    _connections: dict[int, _Planned] = attrs.field(init=False, factory=dict)
    _next_index: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.max_streams < 1:
            raise ConfigError(f"max_streams_per_connection must be >= 1, got {self.max_streams}")

    @classmethod
    def initial(
        cls, max_streams: int, groups: Mapping[str, Mapping[str, Sequence[Subscription]]], *, exchange: str = ""
    ) -> ConnectionPlan:
        """The start layout: ``groups`` maps group -> instrument -> its subscriptions in that group."""
        plan = cls(max_streams)
        for group, by_instrument in groups.items():
            # The instrument with the most channels in the group (a perpetual's MARK) sizes its connections.
            per_instrument = max(len(subs) for subs in by_instrument.values())
            plan._check_fits(per_instrument, exchange)
            per_connection = max_streams // per_instrument
            names = list(by_instrument)
            for start in range(0, len(names), per_connection):
                planned = plan._open(group)
                for name in names[start : start + per_connection]:
                    planned.streams[name] = tuple(by_instrument[name])
                    planned.count += len(by_instrument[name])
        return plan

    # -- reading --------------------------------------------------------------------------------------------

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(self._connections)

    def group(self, index: int) -> str:
        return self._connections[index].group

    def subscriptions(self, index: int) -> tuple[Subscription, ...]:
        """What connection ``index`` carries now, instrument by instrument in the order they were placed."""
        return tuple(s for subs in self._connections[index].streams.values() for s in subs)

    def instruments(self, index: int) -> frozenset[str]:
        return frozenset(self._connections[index].streams)

    def stream_count(self, index: int) -> int:
        return self._connections[index].count

    def carries(self, instrument: str) -> bool:
        return any(instrument in c.streams for c in self._connections.values())

    # -- changing -------------------------------------------------------------------------------------------

    def check(self, by_group: Mapping[str, Sequence[Subscription]], *, exchange: str = "") -> None:
        """ConfigError if one instrument's streams of a group cannot fit on any connection (nothing changes)."""
        for subs in by_group.values():
            self._check_fits(len(subs), exchange)

    def add(self, instrument: str, by_group: Mapping[str, Sequence[Subscription]]) -> list[PlanChange]:
        """Place ``instrument``'s subscriptions (group -> subscriptions); one change per connection it lands on."""
        if self.carries(instrument):
            raise ConfigError(f"{instrument} is already planned on a connection")
        self.check(by_group)
        changes: list[PlanChange] = []
        for group, subs in by_group.items():
            if not subs:
                continue
            need = len(subs)
            index = next(
                (
                    i
                    for i, c in self._connections.items()
                    if c.group == group and c.count + need <= self.max_streams
                ),
                None,
            )
            opened = index is None
            planned = self._open(group) if index is None else self._connections[index]
            planned.streams[instrument] = tuple(subs)
            planned.count += need
            changes.append(
                PlanChange(
                    self._index_of(planned) if index is None else index, group, instrument, tuple(subs), opened=opened
                )
            )
        return changes

    def remove(self, instrument: str) -> list[PlanChange]:
        """Take ``instrument`` off every connection; empty connections leave the plan (``emptied``)."""
        changes: list[PlanChange] = []
        for index, planned in list(self._connections.items()):
            subs = planned.streams.pop(instrument, None)
            if subs is None:
                continue
            planned.count -= len(subs)
            emptied = not planned.streams
            if emptied:
                del self._connections[index]
            changes.append(PlanChange(index, planned.group, instrument, subs, emptied=emptied))
        return changes

    # -- internals ------------------------------------------------------------------------------------------

    def _open(self, group: str) -> _Planned:
        planned = self._connections[self._next_index] = _Planned(group)
        self._next_index += 1
        return planned

    def _index_of(self, planned: _Planned) -> int:
        return next(i for i, c in self._connections.items() if c is planned)

    def _check_fits(self, per_instrument: int, exchange: str) -> None:
        if per_instrument > self.max_streams:
            raise ConfigError(
                f"{per_instrument} channels per instrument exceed {exchange or 'the exchange'}'s "
                f"{self.max_streams} streams per connection"
            )
