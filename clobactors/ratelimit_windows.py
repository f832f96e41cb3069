"""Window arithmetic for :mod:`clobactors.ratelimit`: pool definitions and how each kind counts units.

A :class:`Pool` is one limit as the exchange defines it; :class:`FixedWindow` and :class:`SlidingWindow` hold
its running count and answer "when does this much more fit?". Pure and clock-free like the limiter: every
method takes ``now``. :class:`~clobactors.ratelimit.RateLimiter` owns one window per pool and is the only
caller of the window classes and the validation helpers (they are shared with it, not a public API; import
the public names from :mod:`clobactors.ratelimit`).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Final, final

import attrs

from clobactors.errors import ConfigError

__all__ = [
    "FixedWindow",
    "Pool",
    "SlidingWindow",
    "WindowKind",
    "check_count",
    "check_seconds",
    "pools_from_rate_limits",
    "reserved_for",
]


class WindowKind(enum.StrEnum):
    """How a pool counts time."""

    #: The count resets at every multiple of ``window`` on the exchange's clock (Binance ``rateLimits``).
    FIXED = "fixed"
    #: Counts the units granted during the last ``window`` seconds (rolling, as OKX and Bybit do).
    SLIDING = "sliding"


_INTERVALS: Final = {"SECOND": (1, "S"), "MINUTE": (60, "M"), "HOUR": (3600, "H"), "DAY": (86400, "D")}


def check_count(value: object, what: str, *, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``, else a ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def check_seconds(value: object, what: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """``value`` as a float if finite and above (``strict``) or at least ``minimum``, else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ConfigError(f"{what} must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    return float(value)


@final
@attrs.frozen
class Pool:
    """One limit: at most ``limit`` units per ``window`` seconds, shared by every request that names it."""

    name: str
    limit: int
    window: float
    kind: WindowKind = WindowKind.FIXED

    def __attrs_post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a rate-limit pool needs a name")
        check_count(self.limit, f"limit of pool {self.name!r}", minimum=1)
        check_seconds(self.window, f"window of pool {self.name!r}")

    @classmethod
    def from_rate_limit(cls, entry: Mapping[str, object], kind: WindowKind = WindowKind.FIXED) -> Pool:
        """Build a pool from a Binance-style ``rateLimits`` entry.

        The name is ``<rateLimitType>_<intervalNum><S|M|H|D>`` (``REQUEST_WEIGHT_1M``, ``ORDERS_10S``), the
        suffix the exchange uses in its usage headers, so a dialect maps ``X-MBX-USED-WEIGHT-1M`` by text.
        """
        limit_type = entry.get("rateLimitType")
        interval = entry.get("interval")
        if not isinstance(limit_type, str) or not limit_type:
            raise ConfigError(f"rate-limit entry without a rateLimitType: {dict(entry)!r}")
        if not isinstance(interval, str) or interval not in _INTERVALS:
            raise ConfigError(f"rate-limit entry with unknown interval {interval!r}: {dict(entry)!r}")
        number = check_count(entry.get("intervalNum"), f"intervalNum of {limit_type}", minimum=1)
        limit = check_count(entry.get("limit"), f"limit of {limit_type}", minimum=1)
        seconds, suffix = _INTERVALS[interval]
        return cls(f"{limit_type}_{number}{suffix}", limit, float(seconds * number), kind)


def pools_from_rate_limits(
    entries: Iterable[Mapping[str, object]], kind: WindowKind = WindowKind.FIXED
) -> tuple[Pool, ...]:
    """All pools of a Binance-style ``rateLimits`` list (see :meth:`Pool.from_rate_limit`)."""
    return tuple(Pool.from_rate_limit(entry, kind) for entry in entries)


@attrs.define
class FixedWindow:
    """Window ``[start, end)`` aligned to multiples of the window on the exchange's clock (now + offset)."""

    spec: Pool
    offset: float
    used: int = 0
    start: float = -math.inf
    end: float = -math.inf

    def _boundary_after(self, now: float) -> float:
        width = self.spec.window
        end = (math.floor((now + self.offset) / width) + 1) * width - self.offset
        return end if end > now else end + width  # guard against rounding at the boundary itself

    def advance(self, now: float) -> None:
        if now >= self.end:
            end = self._boundary_after(now)
            # Consecutive windows share the boundary exactly; after an idle gap start from the alignment.
            self.start = self.end if end - self.end < 1.5 * self.spec.window else end - self.spec.window
            self.end, self.used = end, 0

    def realign(self, offset: float, now: float) -> None:
        self.offset = offset
        self.end = max(self.end, self._boundary_after(now))  # keep our count at least as long as before

    def record(self, units: int, now: float) -> None:
        self.used += units

    def ready_at(self, need: int, allowed: int, now: float) -> float:
        if self.used + need <= allowed:
            return now
        return self.end if need <= allowed else math.inf

    def observe(self, used: int, now: float, sent_at: float | None) -> bool | None:
        if sent_at is not None and sent_at < self.start:
            return None  # the report may be about the previous window: it says nothing about this one
        if used <= self.used:
            return False
        self.used = used
        return True

    def resets_at(self) -> float | None:
        return self.end


@attrs.define
class SlidingWindow:
    """Rolling window: ``(expiry, units)`` per grant time, oldest first; units count until their expiry."""

    spec: Pool
    used: int = 0
    entries: deque[tuple[float, int]] = attrs.field(factory=deque)

    def advance(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now:
            self.used -= self.entries.popleft()[1]

    def realign(self, offset: float, now: float) -> None:
        pass

    def record(self, units: int, now: float) -> None:
        self.used += units
        expiry = now + self.spec.window
        if self.entries and self.entries[-1][0] == expiry:
            units += self.entries.pop()[1]
        self.entries.append((expiry, units))

    def ready_at(self, need: int, allowed: int, now: float) -> float:
        if self.used + need <= allowed:
            return now
        if need > allowed:
            return math.inf
        left = self.used
        for expiry, units in self.entries:
            left -= units
            if left + need <= allowed:
                return expiry
        return math.inf  # unreachable: left reaches 0

    def observe(self, used: int, now: float, sent_at: float | None) -> bool | None:
        if sent_at is not None and sent_at + self.spec.window <= now:
            return None
        if used <= self.used:
            return False
        # We do not know when the extra units were spent: count them from now, the safe assumption.
        self.record(used - self.used, now)
        return True

    def resets_at(self) -> float | None:
        return self.entries[0][0] if self.entries else None


def reserved_for(limit: int, fraction: float) -> int:
    """Units of ``limit`` held back for cancels by a ``cancel_reserve`` of ``fraction``."""
    # Through the decimal text of the float, so 0.3 of 10 is 3, not floor(2.9999999999999996).
    return math.floor(limit * Fraction(repr(fraction)))
