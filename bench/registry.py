"""The benchmark registry, the result model and the timing helpers shared by ``run.py`` and the benchmarks.

A benchmark is a function registered with :func:`benchmark` that takes the :class:`Settings` and returns a
:class:`Table`: rows (one way of doing the work, or one configuration), each with figures (one measured
quantity with a sample per repeated run). The runner prints every figure as the median of its samples and
their spread, and writes the samples to JSON. Add a benchmark by writing a ``bench_<topic>.py`` module
whose functions use :func:`benchmark`, and listing that module in ``run.py``'s ``MODULES``.

Spread is half the interquartile range of the samples, as a percentage of the median (robust to the one
run a neighbour's burst of load spoiled; with fewer than 4 samples it is half the full range).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Final

import attrs

#: Figures whose samples are larger-is-better; the rest are smaller-is-better (informational).
HIGHER_IS_BETTER: Final = frozenset({"frames/s", "msgs/s", "calls/s", "ops/s", "frames/s seen"})


@attrs.frozen
class Settings:
    """Knobs shared by every benchmark. ``quick`` shrinks everything to a smoke run of a few seconds."""

    repeats: int = 7
    frames: int = 20_000
    seed: int = 20240601
    quick: bool = False
    #: Frame rates (frames/s) the loopback latency benchmark drives the simulator at.
    rates: tuple[int, ...] = (1_000, 2_500, 5_000, 10_000)
    #: Instrument counts of the scale benchmark.
    instruments: tuple[int, ...] = (100, 500, 1000)
    #: Seconds of one measuring window in the loopback benchmarks (repeated ``windows`` times).
    window: float = 2.0
    windows: int = 3

    @classmethod
    def quick_settings(cls) -> Settings:
        return cls(repeats=2, frames=500, quick=True, rates=(500,), instruments=(10,), window=0.4, windows=1)


@attrs.frozen
class Figure:
    """One measured quantity of a row: one sample per repeated run, in ``unit``."""

    name: str
    unit: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def spread(self) -> float:
        """Half the interquartile range (half the range below 4 samples), relative to the median."""
        values = sorted(self.samples)
        if len(values) < 2 or not self.median:
            return 0.0
        if len(values) < 4:
            low, high = values[0], values[-1]
        else:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
            low, high = q1, q3
        return abs((high - low) / 2 / self.median)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "spread": self.spread,
            "min": min(self.samples) if self.samples else None,
            "max": max(self.samples) if self.samples else None,
            "samples": list(self.samples),
        }


@attrs.frozen
class Row:
    """One case of a benchmark and its figures."""

    name: str
    figures: tuple[Figure, ...]

    def figure(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)


@attrs.frozen
class Table:
    """What a benchmark returns: its rows, and notes printed under them (method, skipped rows, targets)."""

    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()


Benchmark = Callable[[Settings], Table]


@attrs.frozen
class Entry:
    name: str
    title: str
    fn: Benchmark


BENCHMARKS: dict[str, Entry] = {}


def benchmark(name: str, title: str) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark under ``name`` (what the command line selects) with a table ``title``."""

    def register(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = Entry(name, title, fn)
        return fn

    return register


# -- timing loops --------------------------------------------------------------------------------------------


@attrs.frozen
class Case:
    """One way of doing a benchmark's work: ``prepare()`` builds fresh state (untimed) and returns the
    function to time, which processes ``items`` items."""

    name: str
    items: int
    item_name: str
    prepare: Callable[[], Callable[[], None]]


def time_cases(
    settings: Settings, cases: Sequence[Case], *, ratio_to: str = "first row", repeats: int | None = None
) -> list[Row]:
    """Time every case ``settings.repeats`` times, round-robin, so that a neighbour's burst of load on a
    shared machine hits all cases alike instead of whichever happened to run then.

    Each row gets µs per item, items per second and its ratio to the first case *of the same round* (so the
    ratio's spread is not the sum of two spreads). The garbage collector stays on, as in production.
    """
    samples: list[list[int]] = [[] for _ in cases]
    for _ in range(settings.repeats if repeats is None else repeats):
        for case, case_samples in zip(cases, samples, strict=True):
            run = case.prepare()
            gc.collect()
            start = time.perf_counter_ns()
            run()
            case_samples.append(time.perf_counter_ns() - start)
    base = samples[0]
    rows = []
    for case, ns in zip(cases, samples, strict=True):
        item = case.item_name
        scale = cases[0].items / case.items  # per item, when cases process different counts
        rows.append(
            Row(
                case.name,
                (
                    Figure(f"µs/{item}", "µs", tuple(n / case.items / 1e3 for n in ns)),
                    Figure(f"{item}s/s", f"{item}s/s", tuple(case.items / (n / 1e9) for n in ns)),
                    Figure(f"× {ratio_to}", "×", tuple(n / b * scale for n, b in zip(ns, base, strict=True))),
                ),
            )
        )
    return rows


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in [0, 1])."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# -- output --------------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e7:
        return f"{value / 1e6:,.1f} M"
    if magnitude >= 1e5:
        return f"{value / 1e3:,.0f} k"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(sections: Sequence[tuple[Entry, Table]], header: str) -> str:
    """One table for every benchmark run: a section per benchmark, a line per figure."""
    width = max([44, *(len(row.name) + 2 for _, table in sections for row in table.rows)])
    head = f"{'benchmark / case':<{width}} {'figure':<18} {'median':>10} {'spread':>8} {'runs':>5}"
    lines = [header, head, "=" * len(head)]
    for entry, table in sections:
        lines.append(f"{entry.name}: {entry.title}")
        for row in table.rows:
            for index, fig in enumerate(row.figures):
                label = f"  {row.name}" if index == 0 else ""
                spread = f"±{fig.spread * 100:.1f}%" if len(fig.samples) > 1 else ""
                lines.append(
                    f"{label:<{width}} {fig.name:<18} {_number(fig.median):>10} {spread:>8} {len(fig.samples):>5}"
                )
        for note in table.notes:
            lines.append(f"  note: {note}")
        lines.append("-" * len(head))
    return "\n".join(lines)
