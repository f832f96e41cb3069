"""Fault plans for the simulator: what goes wrong, where, and when; seeded, from code or a TOML file.

A :class:`FaultPlan` is a seed plus :class:`FaultRule` records. Each rule names a :class:`FaultKind`, a
``target`` (an ``fnmatch`` pattern over WebSocket topics and paths such as ``m:btcusdt@*`` or ``user:*``, or
over REST routes written ``"METHOD /path"`` such as ``POST /api/v3/order``) and a trigger:

* **scheduled**: ``at`` seconds after the simulator started, then every ``every`` seconds until ``until``.
  A connection fault (close, abort, half-open, user stream end) hits ``count`` live connections matching
  the target at that instant; a frame or request fault is *armed* and hits the next ``count`` matching
  frames or requests; a window fault (latency, clock skew) starts and lasts ``duration`` seconds;
* **probabilistic**: each matching frame or request is hit with ``probability`` (between ``at`` and
  ``until`` when given).

Every random choice comes from a ``random.Random`` seeded by the plan's seed and the rule's position, so a
rule's decisions do not depend on the other rules, and the same plan over the same traffic injects the same
faults. The simulator applies a plan through :class:`~clobactors.sim.fault_injector.FaultInjector` (pass the
plan to ``open_simulator(faults=...)``), which records each injection in a
:class:`~clobactors.sim.fault_log.FaultLog`: kind, time, target and how its recovery can be observed
(:class:`~clobactors.sim.fault_log.Probe`); those records live in :mod:`clobactors.sim.fault_log` and are
re-exported here.

TOML::

    seed = 7

    [[faults]]
    kind = "ws_abort"
    target = "m:btcusdt@*"
    at = 30
    every = 120

    [[faults]]
    kind = "drop_frames"
    target = "m:*@depth*"
    probability = 0.01
"""

from __future__ import annotations

import enum
import math
import random
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.sim.fault_log import FaultLog, InjectedFault, Probe

__all__ = [
    "CONNECTION_KINDS",
    "FRAME_KINDS",
    "HTTP_KINDS",
    "FaultKind",
    "FaultLog",
    "FaultPlan",
    "FaultRule",
    "InjectedFault",
    "Probe",
]


class FaultKind(enum.StrEnum):
    """What goes wrong."""

    #: The server closes a WebSocket cleanly (close frame 1001, going away).
    WS_CLOSE = "ws_close"
    #: A WebSocket dies abruptly: TCP reset, no close frame.
    WS_ABORT = "ws_abort"
    #: Half-open socket: the server sends and reads nothing more (pings unanswered); the socket stays open.
    WS_HALF_OPEN = "ws_half_open"
    #: The user data stream ends: ``listenKeyExpired`` then close, or ``eventStreamTerminated`` then silence.
    USER_STREAM_END = "user_stream_end"
    #: Frames not sent: a gap in the exchange's sequence.
    DROP_FRAMES = "drop_frames"
    #: Frames sent twice.
    DUPLICATE_FRAMES = "duplicate_frames"
    #: A frame held back and sent after the next frame of its topic (or after ``delay``, 1 s by default).
    REORDER_FRAMES = "reorder_frames"
    #: Frames corrupted: a decimal value replaced by garbage (``mode = "corrupt"``) or cut short (``"truncate"``).
    MALFORMED_FRAMES = "malformed_frames"
    #: Frames delayed by ``delay`` plus up to ``jitter`` seconds, in order (a slow path).
    WS_LATENCY = "ws_latency"
    #: REST answers delayed by ``delay`` plus up to ``jitter`` seconds.
    HTTP_LATENCY = "http_latency"
    #: Book snapshot answers delayed by ``delay`` seconds.
    SLOW_SNAPSHOT = "slow_snapshot"
    #: HTTP 429 with ``Retry-After: retry_after``; nothing executed.
    HTTP_429 = "http_429"
    #: HTTP 418 (IP banned) with ``Retry-After: retry_after``; nothing executed.
    HTTP_418 = "http_418"
    #: HTTP ``status`` (5xx); nothing executed, but the client cannot know that.
    HTTP_5XX = "http_5xx"
    #: The request is never answered and the socket stays open: the client's read timeout fires.
    HTTP_TIMEOUT = "http_timeout"
    #: The request is executed, then the connection drops before the answer: an order accepted, its ack lost.
    LOST_ACK = "lost_ack"
    #: An order refused by the exchange (insufficient balance) before it reaches the engine.
    REJECT_ORDER = "reject_order"
    #: The server clock steps by ``skew`` seconds (for ``duration``; 0 keeps it): signed requests are
    #: rejected for their timestamp until the client measures the clock again.
    CLOCK_SKEW = "clock_skew"


CONNECTION_KINDS: Final = frozenset(
    {FaultKind.WS_CLOSE, FaultKind.WS_ABORT, FaultKind.WS_HALF_OPEN, FaultKind.USER_STREAM_END}
)
FRAME_KINDS: Final = frozenset(
    {
        FaultKind.DROP_FRAMES,
        FaultKind.DUPLICATE_FRAMES,
        FaultKind.REORDER_FRAMES,
        FaultKind.MALFORMED_FRAMES,
        FaultKind.WS_LATENCY,
    }
)
HTTP_KINDS: Final = frozenset(
    {
        FaultKind.HTTP_LATENCY,
        FaultKind.SLOW_SNAPSHOT,
        FaultKind.HTTP_429,
        FaultKind.HTTP_418,
        FaultKind.HTTP_5XX,
        FaultKind.HTTP_TIMEOUT,
        FaultKind.LOST_ACK,
        FaultKind.REJECT_ORDER,
    }
)
#: Kinds that last a while once fired rather than hitting single frames or requests.
WINDOW_KINDS: Final = frozenset({FaultKind.WS_LATENCY, FaultKind.HTTP_LATENCY, FaultKind.CLOCK_SKEW})
_MODES: Final = ("corrupt", "truncate")


def _non_negative(name: str, value: float | None) -> None:
    if value is not None and not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"fault rule: {name} must be a finite number >= 0, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class FaultRule:
    """One line of a plan: a kind, a target, a trigger, and the kind's parameters (see the module docstring)."""

    kind: FaultKind
    #: fnmatch pattern; empty means the kind's default (market topics, user topics, the order route...).
    target: str = ""
    at: float | None = None
    every: float | None = None
    until: float | None = None
    probability: float = 0.0
    #: Connections, frames or requests hit per firing.
    count: int = 1
    #: Window length for latency and clock skew (0: clock skew stays; latency needs it).
    duration: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0
    #: HTTP status of ``http_5xx``.
    status: int = 503
    #: ``Retry-After`` seconds of ``http_429`` / ``http_418``.
    retry_after: float = 1.0
    #: Clock step of ``clock_skew``, seconds (positive: the server runs ahead).
    skew: float = 0.0
    #: ``malformed_frames``: ``corrupt`` (valid JSON, a bad value) or ``truncate`` (not JSON at all).
    mode: str = "corrupt"

    def __attrs_post_init__(self) -> None:
        for name in ("at", "until", "duration", "delay", "jitter", "retry_after"):
            _non_negative(name, getattr(self, name))
        if self.every is not None and not (self.every > 0 and math.isfinite(self.every)):
            raise ConfigError(f"fault rule {self.kind}: every must be > 0, got {self.every!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"fault rule {self.kind}: probability must be within [0, 1], got {self.probability}")
        if self.count < 1:
            raise ConfigError(f"fault rule {self.kind}: count must be >= 1, got {self.count}")
        if self.at is None and self.probability == 0.0:
            raise ConfigError(f"fault rule {self.kind}: give 'at' (scheduled) or 'probability' (per frame/request)")
        if self.probability and self.kind in CONNECTION_KINDS | {FaultKind.CLOCK_SKEW}:
            raise ConfigError(f"fault rule {self.kind}: fires at scheduled times only ('at', 'every')")
        if self.kind in (FaultKind.WS_LATENCY, FaultKind.HTTP_LATENCY) and not (self.delay or self.jitter):
            raise ConfigError(f"fault rule {self.kind}: needs a delay or a jitter")
        if self.kind in (FaultKind.WS_LATENCY, FaultKind.HTTP_LATENCY) and not self.probability and not self.duration:
            raise ConfigError(f"fault rule {self.kind}: a scheduled latency window needs a duration")
        if self.kind is FaultKind.SLOW_SNAPSHOT and not self.delay:
            raise ConfigError("fault rule slow_snapshot: needs a delay")
        if self.kind is FaultKind.CLOCK_SKEW and not self.skew:
            raise ConfigError("fault rule clock_skew: needs a non-zero skew (seconds)")
        if self.kind is FaultKind.HTTP_5XX and not 500 <= self.status <= 599:
            raise ConfigError(f"fault rule http_5xx: status must be 5xx, got {self.status}")
        if self.mode not in _MODES:
            raise ConfigError(f"fault rule {self.kind}: mode must be one of {_MODES}, got {self.mode!r}")

    @property
    def scheduled(self) -> bool:
        """Fires at times (``at``/``every``) rather than per frame or request."""
        return self.at is not None and self.probability == 0.0

    def firings(self) -> Iterator[float]:
        """The scheduled firing times, in seconds since the simulator started (endless if ``every``)."""
        if not self.scheduled:
            return
        assert self.at is not None
        t, n = self.at, 0
        while self.until is None or t <= self.until:
            yield t
            if self.every is None:
                return
            n += 1
            t = self.at + n * self.every  # no accumulated float drift

    def active(self, elapsed: float) -> bool:
        """Whether a probabilistic rule applies at ``elapsed`` seconds."""
        start = self.at or 0.0
        return start <= elapsed and (self.until is None or elapsed <= self.until)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> FaultRule:
        """Build from a TOML/JSON table; unknown keys and wrong types are ConfigErrors."""
        known = {f.name for f in attrs.fields(cls)}
        unknown = set(table) - known
        if unknown:
            raise ConfigError(f"fault rule: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        try:
            kind = FaultKind(str(table.get("kind", "")))
        except ValueError:
            raise ConfigError(
                f"fault rule: kind must be one of {[k.value for k in FaultKind]}, got {table.get('kind')!r}"
            ) from None
        values: dict[str, object] = {}
        for name, value in table.items():
            if name == "kind":
                continue
            if name in ("target", "mode"):
                if not isinstance(value, str):
                    raise ConfigError(f"fault rule {kind}: {name} must be a string")
                values[name] = value
            elif name in ("count", "status"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ConfigError(f"fault rule {kind}: {name} must be an integer")
                values[name] = value
            else:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ConfigError(f"fault rule {kind}: {name} must be a number")
                values[name] = float(value)
        return cls(kind=kind, **values)  # type: ignore[arg-type]

    @classmethod
    def default(cls, kind: FaultKind, at: float, **overrides: object) -> FaultRule:
        """A scheduled rule of ``kind`` at ``at`` with the parameters the generated chaos schedule uses."""
        return cls.from_mapping({"kind": kind.value, "at": at, **_GENERATED[kind], **overrides})


#: Parameters the generated chaos schedule uses for each kind (targets resolved by the vocabulary).
_GENERATED: Final[Mapping[FaultKind, Mapping[str, object]]] = {
    FaultKind.WS_CLOSE: {"target": "*"},
    FaultKind.WS_ABORT: {"target": "*"},
    FaultKind.WS_HALF_OPEN: {"target": "*"},
    FaultKind.USER_STREAM_END: {},
    FaultKind.DROP_FRAMES: {"count": 2},
    FaultKind.DUPLICATE_FRAMES: {"target": "*", "count": 3},
    FaultKind.REORDER_FRAMES: {"count": 1},
    FaultKind.MALFORMED_FRAMES: {"count": 1},
    FaultKind.WS_LATENCY: {"target": "*", "duration": 5.0, "delay": 0.2, "jitter": 0.3},
    FaultKind.HTTP_LATENCY: {"target": "*", "duration": 5.0, "delay": 0.3, "jitter": 0.5},
    FaultKind.SLOW_SNAPSHOT: {"delay": 4.0},
    FaultKind.HTTP_429: {"target": "*", "retry_after": 2.0},
    FaultKind.HTTP_418: {"target": "*", "retry_after": 10.0},
    FaultKind.HTTP_5XX: {"target": "*"},
    FaultKind.HTTP_TIMEOUT: {"target": "*"},
    FaultKind.LOST_ACK: {},
    FaultKind.REJECT_ORDER: {},
    FaultKind.CLOCK_SKEW: {"skew": 8.0},
}


@final
@attrs.frozen
class FaultPlan:
    """A seed and the rules it drives. Build from code, :meth:`from_toml`, or :meth:`generate`."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FaultPlan:
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError("fault plan: seed must be an integer")
        unknown = set(data) - {"seed", "faults"}
        if unknown:
            raise ConfigError(f"fault plan: unknown keys {sorted(unknown)} (expected 'seed' and [[faults]])")
        rules = data.get("faults", [])
        if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
            raise ConfigError("fault plan: [[faults]] must be an array of tables")
        return cls(rules=tuple(FaultRule.from_mapping(r) for r in rules), seed=seed)

    @classmethod
    def from_toml(cls, path: str | Path) -> FaultPlan:
        """Read a plan file; syntax and shape problems are ConfigErrors naming the file."""
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read fault plan {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"fault plan {path} is not valid TOML: {exc}") from exc
        try:
            return cls.from_mapping(data)
        except ConfigError as exc:
            raise ConfigError(f"fault plan {path}: {exc}") from exc

    @classmethod
    def generate(
        cls,
        seed: int,
        seconds: float,
        kinds: Iterable[FaultKind] = tuple(FaultKind),
        *,
        mean_gap: float = 15.0,
        start: float = 10.0,
        quiet: Sequence[tuple[float, float]] = (),
    ) -> FaultPlan:
        """A random schedule over ``seconds``: one fault every ``mean_gap`` seconds on average, every kind of
        ``kinds`` at least once, at seeded times from ``start`` on, none inside the ``quiet`` windows."""
        chosen = sorted(set(kinds))
        if not chosen:
            return cls(rules=(), seed=seed)
        rng = random.Random(f"fault-plan/{seed}")
        usable = [(a, b) for a, b in _gaps(start, seconds - 5.0, quiet) if b - a > 1.0]
        if not usable:
            return cls(rules=(), seed=seed)
        total = sum(b - a for a, b in usable)
        n = max(len(chosen), round(total / mean_gap))
        order = chosen * (n // len(chosen)) + rng.sample(chosen, n % len(chosen))
        rng.shuffle(order)
        rules = []
        for kind in order:
            point = rng.uniform(0.0, total)
            for a, b in usable:
                if point <= b - a:
                    at = round(a + point, 3)
                    break
                point -= b - a
            overrides: dict[str, object] = {}
            if kind is FaultKind.CLOCK_SKEW:
                overrides["skew"] = rng.choice((-1.0, 1.0)) * float(str(_GENERATED[kind]["skew"]))
            rules.append(FaultRule.default(kind, at, **overrides))
        rules.sort(key=lambda r: (r.at or 0.0, r.kind.value))
        return cls(rules=tuple(rules), seed=seed)


def _gaps(start: float, end: float, quiet: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[start, end]`` minus the quiet windows."""
    spans = [(start, end)]
    for q0, q1 in sorted(quiet):
        spans = [piece for a, b in spans for piece in ((a, min(b, q0)), (max(a, q1), b)) if piece[1] > piece[0]]
    return spans
