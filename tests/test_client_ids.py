"""Client order ids: legal for every spec, unique across factories in a process, distinct across sessions."""

from __future__ import annotations

import random
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.client_ids import (
    BINANCE,
    BYBIT,
    DYDX,
    KRAKEN_USERREF,
    OKX,
    ClientIdSpec,
    ClientOrderIdFactory,
    IdMode,
    IdSequence,
)
from clobactors.errors import ConfigError, LocalProtocolError

PRESETS = [BINANCE, OKX, BYBIT, KRAKEN_USERREF, DYDX]


@st.composite
def string_specs(draw: st.DrawFn) -> ClientIdSpec:
    chars = string.ascii_letters + string.digits + "-_.:/^]\\[+"
    alphabet = "".join(draw(st.lists(st.sampled_from(chars), min_size=2, max_size=len(chars), unique=True)))
    prefix = draw(st.text(alphabet=chars, max_size=8))
    max_length = draw(st.integers(len(prefix) + 2, 64))
    return ClientIdSpec(name="any", max_length=max_length, alphabet=alphabet, prefix=prefix)


@settings(max_examples=200)
@given(spec=string_specs(), seed=st.integers(0, 2**32), start=st.integers(0, 10**6))
def test_string_ids_fit_length_and_alphabet(spec: ClientIdSpec, seed: int, start: int) -> None:
    factory = ClientOrderIdFactory(spec, rng=random.Random(seed), sequence=IdSequence(start=start))
    for n in range(start, start + 5):
        try:
            cid = factory.next_id()
        except LocalProtocolError:  # only a tiny spec runs out, and only past its capacity
            assert len(spec.alphabet) ** (spec.budget - len(factory.nonce)) <= n
            return
        assert len(cid) <= spec.max_length
        assert cid.startswith(spec.prefix)
        assert set(cid[len(spec.prefix) :]) <= set(spec.alphabet)
        assert spec.is_valid(cid)


@settings(max_examples=100)
@given(
    bits=st.sampled_from([(0, 2**31 - 1), (1, 2**32 - 1), (1, 999), (0, 1)]),
    offset=st.integers(0, 2**64),
    start=st.integers(0, 1),
)
def test_integer_ids_stay_in_range(bits: tuple[int, int], offset: int, start: int) -> None:
    low, high = bits
    spec = ClientIdSpec(name="int", mode=IdMode.INTEGER, min_value=low, max_value=high)
    factory = ClientOrderIdFactory(spec, sequence=IdSequence(start=start, offset=offset))
    cid = factory.next_id()
    assert re.fullmatch(r"0|[1-9][0-9]*", cid)
    assert low <= int(cid) <= high
    assert spec.is_valid(cid)


@pytest.mark.parametrize("spec", PRESETS, ids=lambda s: s.name)
def test_presets_issue_many_unique_valid_ids_across_factories(spec: ClientIdSpec) -> None:
    # Same seed, so both factories share a nonce: only the process-wide counter keeps them apart.
    factories = [ClientOrderIdFactory(spec, rng=random.Random(7)) for _ in range(2)]
    factories.append(ClientOrderIdFactory(spec))
    ids = [f.next_id() for _ in range(4000) for f in factories]
    assert len(set(ids)) == len(ids)
    assert all(spec.is_valid(i) for i in ids)
    assert sum(f.issued for f in factories) == len(ids)


def test_sessions_in_different_processes_get_different_ids() -> None:
    # Two processes each start their counter at zero; only the session nonces differ.
    a = ClientOrderIdFactory(OKX, rng=random.Random(1), sequence=IdSequence())
    b = ClientOrderIdFactory(OKX, rng=random.Random(2), sequence=IdSequence())
    assert a.nonce != b.nonce and len(a.nonce) == len(b.nonce) == 7  # 62**7 > 2**40
    assert not {a.next_id() for _ in range(1000)} & {b.next_id() for _ in range(1000)}


def test_deterministic_with_injected_randomness() -> None:
    def make() -> ClientOrderIdFactory:
        return ClientOrderIdFactory(BYBIT, rng=random.Random(3), sequence=IdSequence(start=0))

    first, second = make(), make()
    assert [first.next_id() for _ in range(3)] == [second.next_id() for _ in range(3)]
    assert first.next_id().startswith(first.nonce)


def test_prefix_counts_toward_the_limit() -> None:
    spec = ClientIdSpec(name="binance-broker", max_length=36, prefix="x-ABCD1234", pattern=BINANCE.pattern)
    factory = ClientOrderIdFactory(spec, sequence=IdSequence(start=62**18))
    cid = factory.next_id()
    assert cid.startswith("x-ABCD1234") and len(cid) <= 36 and BINANCE.is_valid(cid)


def test_exhausted_space_is_a_local_error() -> None:
    tight = ClientIdSpec(name="tight", max_length=4, alphabet="01")
    factory = ClientOrderIdFactory(tight, rng=random.Random(0), sequence=IdSequence(start=15))
    assert factory.nonce == ""  # no room for a nonce: all four characters are counter
    assert factory.next_id() == "1111"
    with pytest.raises(LocalProtocolError):
        factory.next_id()
    small = ClientIdSpec(name="small", mode=IdMode.INTEGER, min_value=1, max_value=2)
    factory = ClientOrderIdFactory(small, sequence=IdSequence(start=2, offset=0))
    with pytest.raises(LocalProtocolError):
        factory.next_id()


def test_integer_ids_wrap_within_range_without_repeats() -> None:
    spec = ClientIdSpec(name="tiny", mode=IdMode.INTEGER, min_value=10, max_value=19)
    factory = ClientOrderIdFactory(spec, sequence=IdSequence(offset=7))
    assert sorted(int(factory.next_id()) for _ in range(10)) == list(range(10, 20))


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        (BINANCE, ["abc", "x-A.b:c/d_e-1", "a" * 36], ["", "a" * 37, "a b", "é"]),
        (OKX, ["abc123", "A" * 32], ["a-b", "A" * 33, ""]),
        (BYBIT, ["a_b-c", "z" * 36], ["a.b", "z" * 37]),
        (KRAKEN_USERREF, ["1", "2147483647"], ["2147483648", "-1", "01", "abc", ""]),
        (DYDX, ["4294967295", "7"], ["4294967296", "1.5"]),
    ],
    ids=lambda v: getattr(v, "name", "ids"),
)
def test_validation_of_user_supplied_ids(spec: ClientIdSpec, good: list[str], bad: list[str]) -> None:
    for cid in good:
        assert spec.check(cid) == cid
    for cid in bad:
        assert not spec.is_valid(cid)
        with pytest.raises(ConfigError):
            spec.check(cid)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alphabet": "a"},
        {"alphabet": "aab"},
        {"max_length": 5, "prefix": "abcd"},
        {"alphabet": "ab-", "pattern": r"^[ab]{1,36}$"},
        {"mode": IdMode.INTEGER, "min_value": 5, "max_value": 5},
    ],
)
def test_bad_specs_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ClientIdSpec(name="bad", **kwargs)  # type: ignore[arg-type]


def test_forked_child_draws_a_new_nonce() -> None:
    sequence = IdSequence(offset=0)
    factory = ClientOrderIdFactory(OKX, rng=random.Random(5), sequence=sequence)
    parent_nonce = factory.nonce
    sequence._after_fork()  # what os.register_at_fork runs in the child for the process sequence
    assert factory.next_id().startswith(factory.nonce)
    assert factory.nonce != parent_nonce and sequence.offset != 0
