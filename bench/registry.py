"""The benchmark registry and timing helpers shared by ``run.py`` and the benchmark modules.

A benchmark is a function registered with :func:`benchmark` that returns rows; a row times one way of doing
the same work over the same input. Add one by writing a ``bench_<topic>.py`` module whose functions use
:func:`benchmark`, and importing that module in ``run.py``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

import attrs


@attrs.frozen
class Settings:
    """Knobs shared by every benchmark."""

    repeats: int = 7
    frames: int = 20_000
    seed: int = 20240601


@attrs.frozen
class Row:
    """One timed way of doing a benchmark's work; ``ratio`` is against the benchmark's first row."""

    name: str
    items: int
    item_name: str
    median_ns: int
    min_ns: int
    ratio: float = 1.0

    @property
    def per_second(self) -> float:
        return self.items / (self.median_ns / 1e9)

    @property
    def us_per_item(self) -> float:
        return self.median_ns / self.items / 1e3


Benchmark = Callable[[Settings], list[Row]]
BENCHMARKS: dict[str, tuple[str, Benchmark]] = {}


def benchmark(name: str, title: str) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark under ``name`` (what the command line selects) with a table ``title``."""

    def register(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = (title, fn)
        return fn

    return register


@attrs.frozen
class Case:
    """One way of doing a benchmark's work: ``prepare()`` builds fresh state (untimed) and returns the
    function to time, which processes ``items`` items."""

    name: str
    items: int
    item_name: str
    prepare: Callable[[], Callable[[], None]]


def time_cases(settings: Settings, cases: list[Case]) -> list[Row]:
    """Time every case ``settings.repeats`` times, round-robin, so that a neighbour's burst of load on a
    shared machine hits all cases alike instead of whichever happened to run then."""
    samples: list[list[int]] = [[] for _ in cases]
    for _ in range(settings.repeats):
        for case, case_samples in zip(cases, samples, strict=True):
            run = case.prepare()
            gc.collect()
            start = time.perf_counter_ns()
            run()
            case_samples.append(time.perf_counter_ns() - start)
    return [
        Row(case.name, case.items, case.item_name, int(statistics.median(case_samples)), min(case_samples))
        for case, case_samples in zip(cases, samples, strict=True)
    ]


def with_ratios(rows: list[Row]) -> list[Row]:
    base = rows[0].median_ns
    return [attrs.evolve(row, ratio=row.median_ns / base) for row in rows]


def format_table(title: str, rows: list[Row]) -> str:
    item = rows[0].item_name
    header = f"{'':<48} {item + 's':>8} {'total s':>9} {item + 's/s':>12} {'µs/' + item:>10} {'ratio':>7}"
    lines = [title, header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.name:<48} {row.items:>8} {row.median_ns / 1e9:>9.3f} {row.per_second:>12,.0f}"
            f" {row.us_per_item:>10.2f} {row.ratio:>6.2f}x"
        )
    return "\n".join(lines)
