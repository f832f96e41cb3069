"""Pure restart arithmetic: exponential backoff with seeded jitter, and OTP restart intensity.

Nothing here reads a clock or owns randomness. The supervisor passes ``now`` (``trio.current_time()``) and a
seeded :class:`random.Random`, so a test with trio's ``MockClock`` can predict every delay exactly and a
replay with the same seed restarts at the same virtual instants.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import final

import attrs

from clobactors.errors import ConfigError

__all__ = ["Backoff", "RestartIntensity"]


@final
@attrs.frozen
class Backoff:
    """Delay before restart attempt ``n``: ``min(max, initial * factor**n)``, shortened by up to ``jitter``.

    Jitter only ever *shortens* the delay (``base * (1 - jitter * u)`` with ``u`` uniform in ``[0, 1)``), so
    ``max`` is a hard cap and a storm of restarts across many supervisors spreads out instead of marching
    in lock step. ``jitter=0`` gives exact, seed-independent delays.
    """

    #: Delay of the first attempt (attempt 0), in seconds.
    initial: float = 0.1
    #: Growth per attempt; 1 means a constant delay.
    factor: float = 2.0
    #: Upper bound of any delay, in seconds.
    max: float = 10.0
    #: Fraction of the delay that may be taken off at random, in ``[0, 1]``.
    jitter: float = 0.1

    def __attrs_post_init__(self) -> None:
        values = (self.initial, self.factor, self.max, self.jitter)
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"backoff parameters must be finite, got {values}")
        if self.initial < 0 or self.factor < 1 or self.max < self.initial or not 0 <= self.jitter <= 1:
            raise ConfigError(
                "backoff needs 0 <= initial <= max, factor >= 1 and 0 <= jitter <= 1, got "
                f"initial={self.initial} factor={self.factor} max={self.max} jitter={self.jitter}"
            )

    def base(self, attempt: int) -> float:
        """The un-jittered delay of ``attempt`` (0-based); non-decreasing in ``attempt`` and capped."""
        if attempt < 0:
            raise ConfigError(f"backoff attempt must be >= 0, got {attempt}")
        delay = self.initial
        # A loop rather than ``factor ** attempt``: that overflows floats for large attempts, and the loop
        # stops as soon as the cap is reached, so it runs at most ~log(max/initial) times.
        for _ in range(attempt):
            if delay >= self.max or delay == 0 or self.factor == 1:
                break
            delay *= self.factor
        return min(delay, self.max)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before restart ``attempt``, drawing one number from ``rng`` (even when jitter is 0).

        Always drawing keeps the random stream aligned however the parameters are tuned, so two runs that
        differ only in ``jitter`` see the same sequence of ``u``.
        """
        u = rng.random()
        return self.base(attempt) * (1 - self.jitter * u)


@final
@attrs.define
class RestartIntensity:
    """At most ``max_restarts`` restarts within any ``window`` seconds, counted per supervisor (as in OTP).

    A deque of restart times: :meth:`record` appends ``now``, forgets restarts older than ``now - window``
    (a restart exactly ``window`` seconds ago still counts, as OTP's ``inPeriod`` does) and says whether the
    limit is exceeded, in which case the supervisor must give up and escalate.
    """

    max_restarts: int
    window: float
    _times: deque[float] = attrs.field(init=False, factory=deque)

    def __attrs_post_init__(self) -> None:
        if self.max_restarts < 0 or not (math.isfinite(self.window) and self.window > 0):
            raise ConfigError(
                f"restart intensity needs max_restarts >= 0 and a finite window > 0, got "
                f"max_restarts={self.max_restarts} window={self.window}"
            )

    def record(self, now: float) -> bool:
        """Count a restart at ``now``; True when this one exceeds the limit (the supervisor escalates)."""
        self._times.append(now)
        self._forget(now)
        return len(self._times) > self.max_restarts

    def recent(self, now: float) -> int:
        """Restarts within the window ending at ``now`` (the supervisor's backoff attempt counter)."""
        self._forget(now)
        return len(self._times)

    def _forget(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()
