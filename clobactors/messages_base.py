"""The roots of the canonical message families, and the msgspec options every canonical message shares.

Each family module (:mod:`~clobactors.messages_market`, :mod:`~clobactors.messages_account`,
:mod:`~clobactors.messages_lifecycle`, :mod:`~clobactors.messages_commands`) derives from one of these two
bases, so the wire policy (frozen, keyword-only, tagged on ``type`` with the lowercased class name, unknown
fields forbidden because canonical messages are ours) is written once and no family imports another. Not a
public API: import every message from :mod:`clobactors.messages`.
"""

from __future__ import annotations

import msgspec

__all__: list[str] = []


class _Event(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=str.lower
):
    """Fields every event carries."""

    exchange: str
    instrument: str = ""
    ts_exchange: int = 0
    ts_recv: int = 0


class _Command(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=str.lower
):
    """Base of commands a strategy sends to an exchange's order manager."""

    exchange: str
    instrument: str = ""
