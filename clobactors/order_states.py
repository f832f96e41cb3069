"""The order lifecycle as one transition table: ``(status, event) -> new status``, as data.

Why a table (as h11's ``_state.py`` does): every legal move is reviewed in one place, tested row by row, and
drawn by :func:`render_mermaid` into ``docs/state-machines.md``, so the picture cannot drift from the code.
The merge logic that fires these events lives in :mod:`clobactors.orders`.

Reading the table: our *requests* (:data:`LOCAL_REQUESTS`) are legal only where an entry exists, anything
else is a bug in the caller. Every other event (answers to our requests, exchange reports, and the two events
derived from filled quantities) has an entry for every status; the pairs not written out in ``_MOVES`` map a
status to itself, because a stale, duplicated or late event must change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from clobactors.model import TERMINAL_STATUSES, OrderStatus

__all__ = [
    "EXCHANGE_EVENTS",
    "LOCAL_REQUESTS",
    "REPORT_EVENTS",
    "RESUME",
    "TRANSITIONS",
    "OrderEvent",
    "Target",
    "render_mermaid",
]


class OrderEvent(enum.StrEnum):
    """What can happen to an order; the columns of :data:`TRANSITIONS`."""

    # -- our requests (illegal where the table has no entry) --
    #: We are sending a cancel (again, if one is already pending).
    REQUEST_CANCEL = "request_cancel"
    #: Our own trading rules refused the order before it left.
    REJECT_LOCALLY = "reject_locally"
    # -- answers or non-answers to our requests (late ones are ignored) --
    #: The create request got no definite answer (timeout, dropped connection, 5xx).
    SUBMIT_OUTCOME_UNKNOWN = "submit_outcome_unknown"
    #: The cancel request got no definite answer.
    CANCEL_OUTCOME_UNKNOWN = "cancel_outcome_unknown"
    #: The exchange confirmed our cancel.
    CANCEL_ACKNOWLEDGED = "cancel_acknowledged"
    #: The exchange refused the cancel itself (rate limit, bad request): the order stands as it was.
    CANCEL_REJECTED = "cancel_rejected"
    #: The exchange does not know the order: filled, cancelled, expired or never arrived. Only a status
    #: report tells which, so this never means cancelled.
    CANCEL_UNKNOWN_ORDER = "cancel_unknown_order"
    # -- exchange status reports --
    #: Reported resting with nothing filled.
    REPORT_OPEN = "report_open"
    #: Reported resting with part filled.
    REPORT_PARTIALLY_FILLED = "report_partially_filled"
    #: Reported completely filled.
    REPORT_FILLED = "report_filled"
    #: Reported cancelled.
    REPORT_CANCELLED = "report_cancelled"
    #: Reported rejected by the exchange.
    REPORT_REJECTED = "report_rejected"
    #: Reported expired (IOC/FOK remainder, time limit, self-trade prevention).
    REPORT_EXPIRED = "report_expired"
    # -- derived from quantities after every merge --
    #: The filled size is above zero.
    FILL = "fill"
    #: The filled size reached the order size.
    COMPLETE = "complete"


class _Resume(enum.Enum):
    RESUME = "resume"


#: Table target meaning "the status the order had before the cancel request, advanced by any exchange
#: reports that arrived while the cancel was pending".
RESUME: Final = _Resume.RESUME

Target: TypeAlias = OrderStatus | Literal[_Resume.RESUME]

_S = OrderStatus
_E = OrderEvent
_LIVE: Final = (_S.PENDING_CREATE, _S.OPEN, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.UNKNOWN)

#: Our requests: a (status, event) pair missing from the table is a LocalProtocolError (a bug in the caller).
LOCAL_REQUESTS: Final = frozenset({_E.REQUEST_CANCEL, _E.REJECT_LOCALLY})

_MOVES: Final[dict[tuple[OrderStatus, OrderEvent], Target]] = {
    # our requests
    **{(s, _E.REQUEST_CANCEL): _S.PENDING_CANCEL for s in _LIVE},
    (_S.PENDING_CREATE, _E.REJECT_LOCALLY): _S.REJECTED,
    # answers to our requests
    (_S.PENDING_CREATE, _E.SUBMIT_OUTCOME_UNKNOWN): _S.UNKNOWN,
    (_S.PENDING_CANCEL, _E.CANCEL_OUTCOME_UNKNOWN): _S.UNKNOWN,
    (_S.PENDING_CANCEL, _E.CANCEL_UNKNOWN_ORDER): _S.UNKNOWN,
    (_S.PENDING_CANCEL, _E.CANCEL_REJECTED): RESUME,
    **{(s, _E.CANCEL_ACKNOWLEDGED): _S.CANCELLED for s in _LIVE},
    # exchange reports: forward only (pending-create < open < partially filled < terminal)
    (_S.PENDING_CREATE, _E.REPORT_OPEN): _S.OPEN,
    (_S.UNKNOWN, _E.REPORT_OPEN): _S.OPEN,
    (_S.PENDING_CREATE, _E.REPORT_PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
    (_S.OPEN, _E.REPORT_PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
    (_S.UNKNOWN, _E.REPORT_PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
    **{(s, _E.REPORT_FILLED): _S.FILLED for s in _LIVE},
    **{(s, _E.REPORT_CANCELLED): _S.CANCELLED for s in _LIVE},
    **{(s, _E.REPORT_EXPIRED): _S.EXPIRED for s in _LIVE},
    **{(s, _E.REPORT_REJECTED): _S.REJECTED for s in _LIVE if s is not _S.PARTIALLY_FILLED},
    # derived from quantities
    (_S.PENDING_CREATE, _E.FILL): _S.PARTIALLY_FILLED,
    (_S.OPEN, _E.FILL): _S.PARTIALLY_FILLED,
    **{(s, _E.COMPLETE): _S.FILLED for s in _LIVE},
}

#: The whole lifecycle: ``(status, event) -> new status`` (or :data:`RESUME`).
TRANSITIONS: Final[Mapping[tuple[OrderStatus, OrderEvent], Target]] = MappingProxyType(
    {
        (s, e): _MOVES.get((s, e), s)
        for s in OrderStatus
        for e in OrderEvent
        if (s, e) in _MOVES or e not in LOCAL_REQUESTS
    }
)

#: The event an exchange report of each status fires; other statuses are ours, never the exchange's.
REPORT_EVENTS: Final[Mapping[OrderStatus, OrderEvent]] = {
    _S.OPEN: _E.REPORT_OPEN,
    _S.PARTIALLY_FILLED: _E.REPORT_PARTIALLY_FILLED,
    _S.FILLED: _E.REPORT_FILLED,
    _S.CANCELLED: _E.REPORT_CANCELLED,
    _S.REJECTED: _E.REPORT_REJECTED,
    _S.EXPIRED: _E.REPORT_EXPIRED,
}
#: Events that state a fact about the order on the exchange (as opposed to our requests and their answers).
EXCHANGE_EVENTS: Final = frozenset({*REPORT_EVENTS.values(), _E.FILL, _E.COMPLETE})


def _resume_sources() -> tuple[OrderStatus, ...]:
    return tuple(
        s for s in OrderStatus if s is not _S.PENDING_CANCEL and (s, _E.REQUEST_CANCEL) in TRANSITIONS
    )


def render_mermaid() -> str:
    """Draw :data:`TRANSITIONS` as a Mermaid ``stateDiagram-v2``.

    Self-loops (stale, duplicate or late events, which change nothing) are omitted; :data:`RESUME` is drawn
    as one edge back to each status a cancel can be requested from.
    """
    edges: dict[tuple[OrderStatus, OrderStatus], list[str]] = {}
    for src in OrderStatus:
        for event in OrderEvent:
            target = TRANSITIONS.get((src, event))
            if target is None:
                continue
            label = f"{event.value} (resume)" if target is RESUME else event.value
            for dst in _resume_sources() if target is RESUME else (target,):
                if dst is not src:
                    edges.setdefault((src, dst), []).append(label)
    lines = ["stateDiagram-v2", f"    [*] --> {_S.PENDING_CREATE.value} : submit"]
    lines += [f"    {src.value} --> {dst.value} : {', '.join(ev)}" for (src, dst), ev in edges.items()]
    lines += [f"    {s.value} --> [*]" for s in OrderStatus if s in TERMINAL_STATUSES]
    return "\n".join(lines) + "\n"
