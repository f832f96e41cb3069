"""Request faults on WebSocket API requests: the REST request kinds, aimed at ``"WS <method>"`` targets.

An exchange's WebSocket API (Binance spot ``/ws-api/v3``) carries the same requests as its REST routes, so the
same things can go wrong with them. A rule of a request kind (:data:`~clobactors.sim.faults.HTTP_KINDS`) whose
target starts with ``"WS "`` (``WS order.place``, ``WS order.*``, ``WS *``) hits WebSocket API requests by
method instead of REST routes; REST targets (``*`` included) never hit them, so a plan written for REST keeps its
meaning. Each kind does the WebSocket analogue of its REST self:

* ``lost_ack``: the request is executed (its user-stream events go out as usual), then the connection is
  aborted without the answer; the client's requests still waiting on it have an unknown outcome;
* ``http_latency``: the answer is sent late (a :class:`~clobactors.sim.runtime.DelayedFrame`: the frames behind
  it on that connection wait too);
* ``reject_order``, ``http_429``, ``http_418``, ``http_5xx``: the exchange's documented error answer echoing the
  request's ``id`` (429/418 say when to retry), nothing executed;
* ``http_timeout``: nothing executed, nothing answered; the connection stays open.

The server (:meth:`~clobactors.sim.runtime.Faults.ws_request`) is exchange-neutral; the exchange's words (how a
request frame names its method, id and client order id, the error frames) come from a vocabulary that also
implements :class:`WsRequestVocabulary`. A vocabulary without it (a face with no WebSocket API requests) refuses
``WS`` targets up front (:func:`check_ws_rule`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol, final, runtime_checkable

import attrs
import trio

from clobactors.errors import ConfigError
from clobactors.sim.face_protocol import SessionReply
from clobactors.sim.fault_probes import FaultRecorder
from clobactors.sim.fault_vocab_base import WS_TARGET_PREFIX
from clobactors.sim.faults import HTTP_KINDS, FaultKind, FaultRule
from clobactors.sim.runtime import DelayedFrame, WsHandler, WsLink

__all__ = ["WS_TARGET_PREFIX", "WsRequest", "WsRequestFaults", "WsRequestVocabulary", "check_ws_rule", "is_ws_target"]


def is_ws_target(target: str) -> bool:
    return target.startswith(WS_TARGET_PREFIX)


@final
@attrs.frozen
class WsRequest:
    """One WebSocket API request as fault injection needs it: the vocabulary reads it off the frame."""

    method: str
    #: The ``id`` the answer must echo (``None`` when the frame had none).
    request_id: int | str | None
    #: Our client order id on an order request (place, cancel, query, cancel-replace: the order replaced).
    client_order_id: str | None = None
    signed: bool = False

    @property
    def route(self) -> str:
        """What a ``WS`` target is matched against: ``"WS <method>"``."""
        return f"{WS_TARGET_PREFIX}{self.method}"


@runtime_checkable
class WsRequestVocabulary(Protocol):
    """The WebSocket API words of an exchange's fault vocabulary (see the module docstring)."""

    def ws_request(self, message: str | bytes) -> WsRequest | None:
        """The request ``message`` carries, or None for a frame that is no request (it passes untouched)."""

    def ws_check_target(self, target: str) -> None:
        """ConfigError for a ``WS`` target naming no method the face answers."""

    def ws_succeeded(self, messages: Sequence[str | bytes]) -> bool:
        """Whether a session's reply (events, then the answer) answered its request successfully."""

    def ws_rate_limited(self, request_id: int | str | None, status: int, retry_after: float, now_ms: int) -> str:
        """The 429 (weight) or 418 (banned) answer, saying when to retry."""

    def ws_server_error(self, request_id: int | str | None, status: int) -> str:
        """A 5xx answer: execution status unknown."""

    def ws_order_rejected(self, request_id: int | str | None) -> str:
        """The exchange refusing the order (as :meth:`FaultVocabulary.order_rejected` does over REST)."""


def check_ws_rule(rule: FaultRule, vocabulary: object) -> None:
    """Refuse a ``WS`` target that could never fire: on a non-request kind, on ``slow_snapshot`` (no book
    snapshot is asked over a WebSocket API here), on a face without WebSocket API requests, or naming no method."""
    if not is_ws_target(rule.target):
        return
    if rule.kind not in HTTP_KINDS or rule.kind is FaultKind.SLOW_SNAPSHOT:
        raise ConfigError(
            f"fault rule {rule.kind}: target {rule.target!r} names WebSocket API requests, which only the request "
            "kinds hit (lost_ack, reject_order, http_latency, http_429, http_418, http_5xx, http_timeout)"
        )
    if not isinstance(vocabulary, WsRequestVocabulary):
        raise ConfigError(
            f"fault rule {rule.kind}: target {rule.target!r} names WebSocket API requests; this simulator face "
            "takes none"
        )
    vocabulary.ws_check_target(rule.target)


class RuleState(Protocol):
    """What :class:`WsRequestFaults` reads of the injector's per-rule state."""

    @property
    def rule(self) -> FaultRule: ...

    @property
    def target(self) -> str: ...

    @property
    def rng(self) -> random.Random: ...

    def matches(self, *names: str) -> bool: ...

    def hits(self, elapsed: float) -> bool: ...


@final
class WsRequestFaults:
    """The injector's ``ws_request`` seam: applies the ``WS``-targeted request rules (module docstring)."""

    def __init__(
        self,
        rules: Sequence[RuleState],
        recorder: FaultRecorder,
        vocabulary: object,
        *,
        now_ms: Callable[[], int],
        elapsed: Callable[[], float],
    ) -> None:
        self._vocab = vocabulary if isinstance(vocabulary, WsRequestVocabulary) else None
        self._rules = [s for s in rules if s.rule.kind in HTTP_KINDS and is_ws_target(s.target)]
        self._recorder = recorder
        self._now_ms = now_ms
        self._elapsed = elapsed

    def apply(self, link: WsLink, message: str | bytes, handle: WsHandler, *, suspended: bool) -> SessionReply:
        """Handle ``message`` as the rules say; a fault's answer is returned (or queued late on ``link``)."""
        vocab = self._vocab
        armed = bool(self._rules) and not suspended
        if vocab is None or not (armed or self._recorder.pending):
            return handle(message)  # the common case: nothing to parse
        request = vocab.ws_request(message)
        if request is None:
            return handle(message)
        route = request.route
        state = self._rule(route) if armed else None
        if state is None:
            reply = handle(message)
            if self._recorder.pending:
                self._recorder.observe_route(route, request.signed, vocab.ws_succeeded(reply.messages), self._elapsed)
            return reply
        rule, elapsed = state.rule, self._elapsed()
        if not (rule.kind is FaultKind.HTTP_LATENCY and not rule.probability):  # a window is logged when it opens
            self._recorder.record_request(rule.kind, elapsed, route, request.client_order_id)
        match rule.kind:
            case FaultKind.HTTP_LATENCY | FaultKind.SLOW_SNAPSHOT:
                reply = handle(message)
                delay = rule.delay + state.rng.uniform(0.0, rule.jitter)
                at = trio.current_time() + delay
                for frame in reply.messages:
                    link.send(DelayedFrame(frame, at))
                ok = vocab.ws_succeeded(reply.messages)
                self._recorder.observe_route(route, request.signed, ok, lambda: self._elapsed() + delay)
                return SessionReply(close=reply.close)
            case FaultKind.HTTP_429 | FaultKind.HTTP_418:
                status = 429 if rule.kind is FaultKind.HTTP_429 else 418
                answer = vocab.ws_rate_limited(request.request_id, status, rule.retry_after, self._now_ms())
                return SessionReply(messages=(answer,))
            case FaultKind.HTTP_5XX:
                return SessionReply(messages=(vocab.ws_server_error(request.request_id, rule.status),))
            case FaultKind.HTTP_TIMEOUT:
                return SessionReply()
            case FaultKind.LOST_ACK:
                handle(message)  # executed: the server publishes its events after this returns
                link.abort()
                return SessionReply()
            case FaultKind.REJECT_ORDER:
                return SessionReply(messages=(vocab.ws_order_rejected(request.request_id),))
            case _:  # pragma: no cover - _rule returns request kinds only
                raise AssertionError(rule.kind)

    def _rule(self, route: str) -> RuleState | None:
        elapsed = self._elapsed()
        for state in self._rules:
            if state.matches(route) and state.hits(elapsed):
                return state
        return None
