"""Backoff delays and restart intensity: exact sequences and Hypothesis bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clobactors.backoff import Backoff, RestartIntensity
from clobactors.errors import ConfigError

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def backoffs(draw: st.DrawFn) -> Backoff:
    initial = draw(finite)
    return Backoff(
        initial=initial,
        factor=draw(st.floats(min_value=1, max_value=100)),
        max=draw(st.floats(min_value=initial, max_value=2e6)),
        jitter=draw(st.floats(min_value=0, max_value=1)),
    )


def test_exact_sequence_without_jitter() -> None:
    backoff = Backoff(initial=0.5, factor=2, max=10, jitter=0)
    rng = random.Random(1)
    assert [backoff.delay(n, rng) for n in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_jitter_is_seeded_and_only_shortens() -> None:
    backoff = Backoff(initial=1, factor=3, max=100, jitter=0.5)
    first = [backoff.delay(n, random.Random(7)) for n in range(5)]
    assert first == [backoff.delay(n, random.Random(7)) for n in range(5)]
    expected_u = random.Random(7).random()
    assert first[2] == 9 * (1 - 0.5 * expected_u)


@given(backoffs(), st.integers(min_value=0, max_value=10_000), st.integers())
def test_delay_bounds(backoff: Backoff, attempt: int, seed: int) -> None:
    delay = backoff.delay(attempt, random.Random(seed))
    base = backoff.base(attempt)
    assert 0 <= delay <= base <= backoff.max
    assert delay >= base * (1 - backoff.jitter)


@given(backoffs(), st.integers(min_value=0, max_value=2_000))
def test_base_is_monotone_and_capped(backoff: Backoff, attempt: int) -> None:
    assert backoff.base(attempt) <= backoff.base(attempt + 1) <= backoff.max
    assert backoff.base(0) == backoff.initial


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": -1},
        {"factor": 0.5},
        {"initial": 5, "max": 1},
        {"jitter": 1.5},
        {"max": float("inf")},
        {"initial": float("nan")},
    ],
)
def test_bad_backoff_is_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Backoff(**kwargs)


def test_bad_intensity_is_config_error() -> None:
    with pytest.raises(ConfigError):
        RestartIntensity(-1, 5)
    with pytest.raises(ConfigError):
        RestartIntensity(1, 0)
    with pytest.raises(ConfigError):
        Backoff().base(-1)


def test_intensity_window_is_inclusive() -> None:
    intensity = RestartIntensity(max_restarts=3, window=10)
    assert [intensity.record(t) for t in (0, 1, 3)] == [False, False, False]
    assert intensity.record(7)  # the fourth within 10 s
    fresh = RestartIntensity(max_restarts=1, window=10)
    assert not fresh.record(0)
    assert fresh.record(10)  # exactly one window ago still counts (OTP inPeriod)
    assert fresh.recent(20.5) == 0


def test_zero_intensity_escalates_on_first_restart() -> None:
    assert RestartIntensity(0, 1).record(0)


@given(
    st.integers(min_value=0, max_value=5),
    st.floats(min_value=0.5, max_value=20),
    st.lists(st.floats(min_value=0, max_value=5), max_size=30),
)
def test_intensity_matches_brute_force(max_restarts: int, window: float, gaps: list[float]) -> None:
    intensity = RestartIntensity(max_restarts, window)
    times: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        in_window = [t for t in times if now - t <= window]
        assert intensity.record(now) == (len(in_window) > max_restarts)
        assert intensity.recent(now) == len(in_window)
