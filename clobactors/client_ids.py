"""Client order ids: ours, unique per session and process, and legal on each exchange.

An id is known before its request leaves, so an order whose create timed out can still be found, cancelled
or matched to a late report. Two properties matter:

* **Unique in this process, always.** Every factory draws from one process-wide counter
  (:data:`PROCESS_SEQUENCE`), so two factories (two sessions, a restarted order manager) never hand out the
  same id, even with the same nonce.
* **Unlikely to collide across processes.** String ids start with a per-factory random nonce (``~40`` bits,
  from an injected :class:`random.Random` or :func:`os.urandom`), then the counter; integer ids offset the
  counter by a random per-process amount. After :func:`os.fork` the child draws fresh randomness. A spec
  too short for both keeps room for ``2**32`` counter values first and shortens (or drops) the nonce.

Layout of a string id: ``prefix + nonce (fixed width) + counter (variable width)``, both in the spec's
alphabet. The fixed-width nonce makes the split unambiguous, so distinct counters give distinct ids.

Integer mode (Kraken ``userref`` is an int32, dYdX v4 client ids are uint32) yields decimal strings, since
``client_order_id`` is a string everywhere; the dialect converts with ``int()``. An integer range is too small
for a nonce *and* a counter, so the value is ``min + (process offset + counter) mod range``: unique in the
process until the range is exhausted (which raises), and two processes collide only if their ranges of
issued ids overlap.
"""

from __future__ import annotations

import enum
import math
import os
import random
import re
import string
import threading
from typing import Final, final

import attrs

from clobactors.errors import ConfigError, LocalProtocolError

__all__ = [
    "ALPHANUMERIC",
    "BINANCE",
    "BYBIT",
    "DYDX",
    "KRAKEN_USERREF",
    "OKX",
    "PROCESS_SEQUENCE",
    "ClientIdSpec",
    "ClientOrderIdFactory",
    "IdMode",
    "IdSequence",
]

ALPHANUMERIC: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase

#: Randomness in a string id's session nonce, and counter room kept free before the nonce gets any.
_NONCE_BITS: Final = 40
_COUNTER_BITS: Final = 32


class IdMode(enum.StrEnum):
    """How an exchange spells client order ids."""

    #: A string over an alphabet, up to a maximum length.
    STRING = "string"
    #: An integer in ``min_value..max_value``, carried as its decimal string.
    INTEGER = "integer"


@final
@attrs.frozen
class ClientIdSpec:
    """One exchange's rule for client order ids.

    ``alphabet`` is what we *generate* from; ``pattern`` is the exchange's own rule (derived from the
    alphabet when empty) and validates user-supplied ids. ``prefix`` is prepended to every generated id
    (broker tags such as Binance's ``x-...``) and counts toward ``max_length``.
    """

    name: str
    mode: IdMode = IdMode.STRING
    max_length: int = 36
    alphabet: str = ALPHANUMERIC
    pattern: str = ""
    prefix: str = ""
    min_value: int = 1
    max_value: int = 2**31 - 1
    _regex: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.mode is IdMode.INTEGER:
            if not 0 <= self.min_value < self.max_value:
                raise ConfigError(f"{self.name}: need 0 <= min_value < max_value")
            regex = self.pattern or r"^(0|[1-9][0-9]*)$"
        else:
            if len(set(self.alphabet)) != len(self.alphabet) or len(self.alphabet) < 2:
                raise ConfigError(f"{self.name}: alphabet needs at least two distinct characters")
            if self.max_length - len(self.prefix) < 2:
                raise ConfigError(f"{self.name}: prefix {self.prefix!r} leaves no room in {self.max_length}")
            chars = "".join(re.escape(c) for c in self.alphabet)
            regex = self.pattern or f"^{re.escape(self.prefix)}[{chars}]{{1,{self.budget}}}$"
        object.__setattr__(self, "_regex", re.compile(regex))
        if self.mode is IdMode.STRING:
            for c in self.alphabet:
                if not self._regex.fullmatch(self.prefix + c * self.budget):
                    raise ConfigError(f"{self.name}: alphabet character {c!r} breaks pattern {regex!r}")

    @property
    def budget(self) -> int:
        """Characters left after the prefix."""
        return self.max_length - len(self.prefix)

    def is_valid(self, client_order_id: str) -> bool:
        """Whether the exchange would accept ``client_order_id`` (ours or one a user supplied)."""
        if self.mode is IdMode.INTEGER:
            if not self._regex.fullmatch(client_order_id):
                return False
            try:
                return self.min_value <= int(client_order_id) <= self.max_value
            except ValueError:  # a custom pattern let a non-number through
                return False
        return len(client_order_id) <= self.max_length and bool(self._regex.fullmatch(client_order_id))

    def check(self, client_order_id: str) -> str:
        """Return ``client_order_id`` if valid, else raise ConfigError (a user-supplied id is wrong)."""
        if not self.is_valid(client_order_id):
            raise ConfigError(f"{client_order_id!r} is not a valid {self.name} client order id")
        return client_order_id


#: Binance spot and USD-M ``newClientOrderId``: ``^[\.A-Z\:/a-z0-9_-]{1,36}$``.
BINANCE: Final = ClientIdSpec(name="binance", max_length=36, pattern=r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
#: OKX ``clOrdId``: case-sensitive alphanumerics, 1 to 32 characters.
OKX: Final = ClientIdSpec(name="okx", max_length=32, pattern=r"^[A-Za-z0-9]{1,32}$")
#: Bybit v5 ``orderLinkId``: up to 36 letters, digits, dashes and underscores.
BYBIT: Final = ClientIdSpec(name="bybit", max_length=36, pattern=r"^[A-Za-z0-9_-]{1,36}$")
#: Kraken ``userref``: a signed 32-bit integer (we use the positive half).
KRAKEN_USERREF: Final = ClientIdSpec(name="kraken", mode=IdMode.INTEGER, max_value=2**31 - 1)
#: dYdX v4 ``client_id``: an unsigned 32-bit integer.
DYDX: Final = ClientIdSpec(name="dydx", mode=IdMode.INTEGER, max_value=2**32 - 1)


def _random_bits(bits: int) -> int:
    return int.from_bytes(os.urandom((bits + 7) // 8), "big") >> (-bits % 8)


@final
class IdSequence:
    """A thread-safe counter plus a random offset; one per process (:data:`PROCESS_SEQUENCE`).

    Tests build their own (``IdSequence(offset=0)``) for deterministic ids.
    """

    def __init__(self, *, start: int = 0, offset: int | None = None) -> None:
        self._lock = threading.Lock()
        self._next = start
        self._offset = _random_bits(64) if offset is None else offset
        self._generation = 0

    @property
    def offset(self) -> int:
        return self._offset

    @property
    def generation(self) -> int:
        """Bumped in a forked child, telling factories to redraw their nonces."""
        return self._generation

    def take(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1
            return value

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._offset = _random_bits(64)
        self._generation += 1


#: The counter every factory in this process shares unless given another.
PROCESS_SEQUENCE: Final = IdSequence()
if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=PROCESS_SEQUENCE._after_fork)


@final
@attrs.define
class ClientOrderIdFactory:
    """Hands out client order ids for one spec, e.g. one exchange session.

    ``rng`` seeds the session nonce (use a seeded :class:`random.Random` in tests; :func:`os.urandom` when
    absent). It is read once at construction, and again only in a forked child, where :func:`os.urandom`
    is used because the child's copy of ``rng`` would repeat the parent's draws.
    """

    spec: ClientIdSpec
    rng: random.Random | None = attrs.field(default=None, repr=False)
    sequence: IdSequence = attrs.field(default=PROCESS_SEQUENCE, repr=False)
    _nonce: str = attrs.field(default="", init=False)
    _generation: int = attrs.field(default=0, init=False)
    _issued: int = attrs.field(default=0, init=False)
    #: Prefix and nonce (``None`` for integer ids), the alphabet and the counter's room, per nonce.
    _head: str | None = attrs.field(default=None, init=False, repr=False)
    _alphabet: str = attrs.field(default="", init=False, repr=False)
    _room: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._draw_nonce(self.rng)

    @property
    def nonce(self) -> str:
        """The session nonce every string id of this factory carries after the prefix."""
        return self._nonce

    @property
    def issued(self) -> int:
        return self._issued

    def next_id(self) -> str:
        """A fresh id; raises LocalProtocolError if the spec's id space is exhausted (never in practice).

        Runs on every placement before its request leaves, so what can be is worked out once per nonce
        (:meth:`_draw_nonce`): ~5 µs in context before, ``bench/run.py order-stages``.
        """
        sequence = self.sequence
        if sequence.generation != self._generation:
            self._draw_nonce(None)
        n = sequence.take()
        if self._head is None:  # integer ids
            spec = self.spec
            span = spec.max_value - spec.min_value + 1
            if n >= span:
                raise LocalProtocolError(f"{spec.name}: integer client id range exhausted after {n} ids")
            value = str(spec.min_value + (sequence.offset + n) % span)
        else:
            counter = _encode(n, self._alphabet)
            if len(counter) > self._room:
                raise LocalProtocolError(f"{self.spec.name}: client id space exhausted after {n} ids")
            value = self._head + counter
        self._issued += 1
        return value

    def _draw_nonce(self, rng: random.Random | None) -> None:
        self._generation = self.sequence.generation
        spec = self.spec
        if spec.mode is IdMode.INTEGER:
            self._head = None
            return
        bits_per_char = math.log2(len(spec.alphabet))
        reserve = math.ceil(_COUNTER_BITS / bits_per_char)
        width = max(0, min(math.ceil(_NONCE_BITS / bits_per_char), spec.budget - reserve))
        space = len(spec.alphabet) ** width
        drawn = rng.randrange(space) if rng is not None else _random_bits(space.bit_length() + 64) % space
        self._nonce = _encode(drawn, spec.alphabet).rjust(width, spec.alphabet[0]) if width else ""
        self._head = spec.prefix + self._nonce
        self._alphabet = spec.alphabet
        self._room = spec.budget - len(self._nonce)


def _encode(n: int, alphabet: str) -> str:
    """``n`` in base ``len(alphabet)``, most significant digit first, no leading zero digits."""
    base = len(alphabet)
    digits = [alphabet[n % base]]
    n //= base
    while n:
        digits.append(alphabet[n % base])
        n //= base
    return "".join(reversed(digits))
