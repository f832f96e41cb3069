"""exchangeInfo into rules and pools, the part Binance spot and USD-M share.

Spot rest-api.md § Exchange information and USD-M § Market Data › Exchange Information publish the same
outline: ``symbols`` (one entry per listing, its filters) and ``rateLimits`` (REQUEST_WEIGHT, ORDERS,
RAW_REQUESTS with ``interval``/``intervalNum``/``limit``). A listing we cannot represent (asset codes outside
``[A-Z0-9]``, a malformed filter, a canonical name already taken) is skipped with the reason, not fatal: one
odd listing must not stop every other market. Which listings are wanted and how one becomes
:class:`~clobactors.rules.InstrumentRules` stay in each venue's ``rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec

from clobactors.errors import ConfigError, RecoveryHint, RemoteProtocolError
from clobactors.httpspec import HttpRequestSpec
from clobactors.ratelimit import Pool, pools_from_rate_limits
from clobactors.rules import InstrumentRules

__all__ = ["collect_rules", "param", "pools_of"]

SymbolT = TypeVar("SymbolT")


def collect_rules(
    symbols: Iterable[tuple[int, SymbolT]],
    to_rules: Callable[[SymbolT], InstrumentRules],
    name_of: Callable[[SymbolT], str],
) -> tuple[dict[str, InstrumentRules], list[str]]:
    """Rules by canonical name from ``(index in $.symbols, symbol)`` pairs; also what was skipped, with why."""
    rules: dict[str, InstrumentRules] = {}
    skipped: list[str] = []
    for index, symbol in symbols:
        try:
            rule = to_rules(symbol)
        except (ConfigError, msgspec.DecodeError) as exc:
            skipped.append(f"{name_of(symbol)}: {exc} (at $.symbols[{index}])")
            continue
        if rule.name in rules:
            skipped.append(f"{name_of(symbol)}: canonical name {rule.name} already taken")
            continue
        rules[rule.name] = rule
    return rules, skipped


def pools_of(rate_limits: Iterable[msgspec.Struct], venue: str) -> tuple[Pool, ...]:
    """``rateLimits`` into pools; an unusable list is the exchange's fault (``DROP`` the answer)."""
    try:
        return pools_from_rate_limits(msgspec.to_builtins(limit) for limit in rate_limits)
    except ConfigError as exc:
        raise RemoteProtocolError(
            f"unusable {venue} rateLimits: {exc}", hint=RecoveryHint.DROP, path="$.rateLimits"
        ) from exc


def param(spec: HttpRequestSpec, name: str) -> str | None:
    """The first value of a request parameter (request weights depend on ``limit`` and ``symbol``)."""
    return next((value for key, value in spec.params if key == name), None)
