"""A dialect under another name: two connections of one session that speak the same exchange protocol.

A session keys its exchanges by name (``binance``, ``binance-sub``), and every event says which exchange it
came from. A dialect stamps the events it decodes with its own name, so two exchange trees driving the same
dialect (two accounts, two venues with one protocol, two simulators) would publish indistinguishable events.
:class:`AliasDialect` wraps a dialect and relabels everything its ``decode_*`` methods return (events,
instruments, reference data) with the session's name; everything else is the wrapped dialect's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, final

import attrs
import msgspec

from clobactors.exchanges.standard import ExchangeInfo, Subscription

__all__ = ["AliasDialect"]


def relabel(value: object, exchange: str, *, only: str | None = None) -> object:
    """``value`` with every ``exchange`` field (events, instruments, subscriptions, reference data) set to
    ``exchange``; with ``only``, just the fields that say ``only``."""
    if isinstance(value, msgspec.Struct):
        if "exchange" in value.__struct_fields__ and only in (None, getattr(value, "exchange", None)):
            return msgspec.structs.replace(value, exchange=exchange)
        return value
    if isinstance(value, list):
        return [relabel(v, exchange, only=only) for v in value]
    if isinstance(value, tuple):
        return tuple(relabel(v, exchange, only=only) for v in value)
    if isinstance(value, Subscription):
        instrument = value.instrument
        if only in (None, instrument.exchange):
            instrument = msgspec.structs.replace(instrument, exchange=exchange)
        return attrs.evolve(value, instrument=instrument)
    if isinstance(value, ExchangeInfo):
        rules = {
            name: attrs.evolve(rule, instrument=msgspec.structs.replace(rule.instrument, exchange=exchange))
            for name, rule in value.rules.items()
        }
        return attrs.evolve(value, rules=rules)
    return value


@final
class AliasDialect:
    """``inner`` as exchange ``name``: what goes in is relabelled to the inner dialect's name, what its
    ``decode_*`` methods return to ``name``; everything else is delegated."""

    def __init__(self, inner: object, name: str) -> None:
        self._inner = inner
        self._inner_name = str(getattr(inner, "name", ""))
        self.name = name

    @property
    def inner(self) -> object:
        return self._inner

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if callable(value):
            return functools.partial(self._call, value, attr.startswith("decode_"))
        return value

    def _call(self, method: Callable[..., object], decodes: bool, *args: object, **kwargs: object) -> object:
        inner, alias = self._inner_name, self.name
        args = tuple(relabel(a, inner, only=alias) for a in args)
        kwargs = {k: relabel(v, inner, only=alias) for k, v in kwargs.items()}
        result = method(*args, **kwargs)
        return relabel(result, alias) if decodes else result

    def __repr__(self) -> str:
        return f"AliasDialect({self._inner!r}, name={self.name!r})"
