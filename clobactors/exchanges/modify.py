"""The vocabulary of order modification shared by the dialect protocol and the order manager.

How an exchange changes a resting order (:class:`ModifyStyle`), what a modification request did
(:class:`ModifyOutcome`) and the decoded answer (:class:`ModifyAnswer`); re-exported by
:mod:`clobactors.exchanges.standard`, whose :class:`~clobactors.exchanges.standard.SpotDialect` uses them.
"""

from __future__ import annotations

import enum
from typing import final

import attrs

from clobactors.errors import ExchangeError
from clobactors.messages import AccountEvent

__all__ = ["ModifyAnswer", "ModifyOutcome", "ModifyStyle"]


class ModifyStyle(enum.StrEnum):
    """How an exchange changes a resting order's price or size."""

    #: Cancel the order and place a replacement under a new client order id, in one request (Binance spot
    #: ``cancelReplace``): the replacement joins the back of the queue.
    CANCEL_REPLACE = "cancel_replace"
    #: Change the order in place, keeping its ids (Binance USD-M ``PUT /fapi/v1/order``).
    AMEND = "amend"


class ModifyOutcome(enum.StrEnum):
    """What a modification request did, as its answer tells."""

    #: The order now rests as asked: amended in place, or cancelled and replaced.
    MODIFIED = "modified"
    #: The original was cancelled but its replacement was refused (``error`` says why): nothing rests.
    REPLACEMENT_REFUSED = "replacement_refused"
    #: Nothing was done to the original (``error`` says why; an
    #: :class:`~clobactors.errors.UnknownOrder` means it may have filled meanwhile).
    REFUSED = "refused"


@final
@attrs.frozen
class ModifyAnswer:
    """A modification request's answer: the outcome, the reports on the orders it touched (the original's
    end and the replacement's state, or the amended order), and the typed error when not :attr:`MODIFIED`.

    A dialect returns it for every answer of its modify endpoint that :meth:`SpotDialect.is_error` does not
    count as an error; answers that say nothing happened may simply be errors (raised by ``map_error``).
    """

    outcome: ModifyOutcome
    events: tuple[AccountEvent, ...] = ()
    error: ExchangeError | None = None
