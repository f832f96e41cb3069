"""Probe bookkeeping for the fault injector: what each injected fault is checked by, and REST recovery.

Every injection goes into the :class:`~clobactors.sim.faults.FaultLog` with the :class:`Probe` that tells the
invariant checker how to see the session recover from it: the books of the symbols a frame or connection
carried (``BOOK``), the user stream (``USER``), one order's client id (``ORDER``), or the REST path
(``REST``). REST-probed faults have no stream to watch, so :class:`FaultRecorder` keeps them pending and
marks one recovered at the first successful answer after it ended (on the same route for route-bound
faults, signed for clock skew), over REST or over a WebSocket API (``"WS <method>"`` routes).
:class:`~clobactors.sim.fault_injector.FaultInjector` owns one recorder and decides *when* to inject; this
module only decides how an injection is logged and when it is over.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import final

from clobactors.sim.fault_vocab_base import WS_TARGET_PREFIX, FaultVocabulary
from clobactors.sim.faults import FaultKind, FaultLog, InjectedFault, Probe
from clobactors.sim.http_server import HandlerResult, HttpRequest, HttpResponse
from clobactors.sim.runtime import WsLink

__all__ = ["FaultRecorder"]


@final
class FaultRecorder:
    """Records injections in ``log`` with their probe and ends REST-probed ones on a successful answer."""

    def __init__(self, log: FaultLog, vocabulary: FaultVocabulary) -> None:
        self.log = log
        self._vocab = vocabulary
        #: ``(fault, route it must succeed on or None for any, needs a signed request)``, oldest first.
        self._pending_rest: list[tuple[InjectedFault, str | None, bool]] = []

    def await_rest(self, fault: InjectedFault, route: str | None = None, *, signed: bool = False) -> None:
        """Keep ``fault`` open until a successful answer (on ``route`` if given; ``signed`` for clock skew)."""
        self._pending_rest.append((fault, route, signed))

    def record_frame(self, kind: FaultKind, elapsed: float, link: WsLink, topic: str) -> InjectedFault:
        """A frame fault on ``topic`` (comma-separated topics; empty: all of the link's topics)."""
        names = topic.split(",") if topic else sorted(link.topics)
        return self.record_link(kind, elapsed, link, names)

    def record_link(
        self, kind: FaultKind, elapsed: float, link: WsLink, topics: Sequence[str], until: float | None = None
    ) -> InjectedFault:
        """A fault on a connection carrying ``topics``: probed by their books, else the user stream."""
        symbols = sorted({s for t in topics if (s := self._vocab.market_symbol(t)) is not None})
        user = any(self._vocab.is_user_topic(t) for t in topics)
        probe = Probe.BOOK if symbols and not user else Probe.USER if user else Probe.REST
        target = f"ws#{link.id} {link.path} [{','.join(sorted(topics))}]"
        fault = self.log.record(kind, elapsed, target, probe, symbols=tuple(symbols), until=until)
        if not topics:  # a connection carrying requests only (order entry): over at a request answered again
            self._pending_rest.append((fault, f"{WS_TARGET_PREFIX}*", False))
        return fault

    def record_http(self, kind: FaultKind, elapsed: float, request: HttpRequest, route: str) -> InjectedFault:
        """A fault on one REST request (see :meth:`record_request`); a snapshot request's is probed by its book."""
        symbol = self._vocab.snapshot_symbol(request)
        return self.record_request(kind, elapsed, route, self._vocab.order_client_id(request), symbol)

    def record_request(
        self, kind: FaultKind, elapsed: float, route: str, client_order_id: str | None, symbol: str | None = None
    ) -> InjectedFault:
        """A fault on one request (REST ``"METHOD /path"`` or WebSocket API ``"WS method"``): probed by its order
        or snapshot, else by the request path (rate limits are path-wide: any route's success ends them)."""
        cid = client_order_id
        rest_wide = kind in (FaultKind.HTTP_429, FaultKind.HTTP_418)
        if cid is not None and kind is not FaultKind.HTTP_LATENCY and not rest_wide:
            fault = self.log.record(kind, elapsed, f"{route} {cid}", Probe.ORDER, client_order_id=cid)
        elif symbol is not None and not rest_wide:
            fault = self.log.record(kind, elapsed, f"{route} {symbol}", Probe.BOOK, symbols=(symbol,))
        else:
            fault = self.log.record(kind, elapsed, route, Probe.REST)
            self._pending_rest.append((fault, None if rest_wide else route, False))
        return fault

    @property
    def pending(self) -> bool:
        """Some REST-probed fault waits for a successful answer."""
        return bool(self._pending_rest)

    def observe(
        self, request: HttpRequest, route: str, result: HandlerResult, elapsed: Callable[[], float]
    ) -> HandlerResult:
        """A successful answer ends the REST-probed faults it satisfies (signed only, for clock skew).

        ``elapsed`` is only read when something is pending, so an idle injector's clock is not started.
        """
        if not self._pending_rest or not isinstance(result, HttpResponse) or not 200 <= result.status < 300:
            return result
        self.observe_route(route, self._vocab.is_signed(request), True, elapsed)
        return result

    def observe_route(self, route: str, signed: bool, succeeded: bool, elapsed: Callable[[], float]) -> None:
        """An answer on ``route`` (REST or ``WS method``); ``elapsed`` says when it reached the client."""
        if not self._pending_rest or not succeeded:
            return
        now = elapsed()
        keep: list[tuple[InjectedFault, str | None, bool]] = []
        for fault, wanted_route, needs_signed in self._pending_rest:
            ready = now > fault.end or (now == fault.end and fault.until is None)
            matched = wanted_route is None or fnmatch.fnmatchcase(route, wanted_route)  # "WS *": any WS request
            if ready and matched and (signed or not needs_signed):
                self.log.rest_recovered[fault.seq] = now
            else:
                keep.append((fault, wanted_route, needs_signed))
        self._pending_rest = keep
