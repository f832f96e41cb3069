"""Run clobactors' benchmarks: print a table per benchmark and write the figures to ``bench/results/``.

Usage (from the repository root)::

    .venv/bin/python bench/run.py                 # every benchmark
    .venv/bin/python bench/run.py book-pipeline   # one of them (see --list)

Benchmarks live in ``bench_<topic>.py`` modules and register themselves (``registry.py``). Timings are
``time.perf_counter_ns`` around the whole loop, repeated; the median is reported (the minimum is kept in
the JSON: on a shared machine it is the steadier figure). The garbage collector stays on, as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Final

import attrs
import msgspec
from registry import BENCHMARKS, Settings, format_table, with_ratios

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"


def environment() -> dict[str, object]:
    return {
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "msgspec": msgspec.__version__,
    }


def main() -> None:
    # Importing the benchmark modules registers them.
    import bench_book  # noqa: F401

    parser = argparse.ArgumentParser(description="Run clobactors benchmarks.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    defaults = Settings()
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--frames", type=int, default=defaults.frames)
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    if args.list:
        for name, (title, _) in BENCHMARKS.items():
            print(f"{name:<20} {title}")
        return
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    settings = Settings(repeats=args.repeats, frames=args.frames)
    report: dict[str, object] = {"settings": attrs.asdict(settings), "environment": environment()}
    results: dict[str, object] = {}
    for name in args.names or list(BENCHMARKS):
        title, fn = BENCHMARKS[name]
        rows = with_ratios(fn(settings))
        print(format_table(title, rows), end="\n\n", flush=True)
        results[name] = [
            {**attrs.asdict(row), "per_second": row.per_second, "us_per_item": row.us_per_item}
            for row in rows
        ]
    report["results"] = results
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / time.strftime("%Y%m%dT%H%M%S.json")
        path.write_text(json.dumps(report, indent=2))
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
