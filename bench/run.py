"""Run clobactors' benchmarks: print one table and write every figure, with its samples, to JSON.

Usage (from the repository root)::

    .venv/bin/python bench/run.py                 # every benchmark (about 5 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick         # a smoke pass with tiny sizes (seconds; CI runs this)
    .venv/bin/python bench/run.py book-pipeline   # some of them (see --list)

Benchmarks live in ``bench_<topic>.py`` modules and register themselves (``registry.py``). Each figure is
the median of repeated runs with its spread (half the interquartile range); the JSON keeps every sample,
the settings and the machine (CPU, cores, Python, load average before and after).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Final

import attrs
from registry import BENCHMARKS, Entry, Settings, Table, format_table

BENCH_DIR: Final = Path(__file__).resolve().parent
RESULTS_DIR: Final = BENCH_DIR / "results"
#: Benchmark modules, imported in this order (which is the order of the table).
MODULES: Final = (
    "bench_book",
    "bench_peers",
    "bench_runtime",
    "bench_orders",
    "bench_order_stages",
    "bench_loopback",
    "bench_scale",
)
_PACKAGES: Final = ("trio", "msgspec", "httpx", "trio-websocket", "sortedcontainers", "order-book", "ccxt")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict[str, object]:
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "packages": _versions(),
    }


def machine_line(env: dict[str, object]) -> str:
    load = env.get("loadavg_before")
    load_text = " ".join(f"{x:.2f}" for x in load) if isinstance(load, tuple) else "n/a"
    python = str(env["python"]).split()[0]
    return f"{env['cpu']} x{env['cpus']}, {env['implementation']} {python}, {env['platform']}, load {load_text}"


def main(argv: list[str] | None = None) -> int:
    for module in MODULES:
        importlib.import_module(module)  # registers its benchmarks
    parser = argparse.ArgumentParser(description="Run clobactors benchmarks: one table, plus JSON.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke pass of every benchmark")
    defaults = Settings()
    parser.add_argument("--repeats", type=int, help=f"timed repeats (default {defaults.repeats})")
    parser.add_argument("--frames", type=int, help=f"frames of the recorded stream (default {defaults.frames})")
    parser.add_argument("--out", type=Path, help="write the JSON here (default bench/results/<time>.json)")
    parser.add_argument("--no-save", action="store_true", help="do not write JSON")
    args = parser.parse_args(argv)
    if args.list:
        for entry in BENCHMARKS.values():
            print(f"{entry.name:<16} {entry.title}")
        return 0
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    settings = Settings.quick_settings() if args.quick else Settings()
    if args.repeats is not None:
        settings = attrs.evolve(settings, repeats=args.repeats)
    if args.frames is not None:
        settings = attrs.evolve(settings, frames=args.frames)
    env = environment()
    header = f"clobactors benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {machine_line(env)}"
    print(header, file=sys.stderr, flush=True)
    sections: list[tuple[Entry, Table]] = []
    results: dict[str, object] = {}
    failed: list[str] = []
    started = time.perf_counter()
    for name in args.names or list(BENCHMARKS):
        entry = BENCHMARKS[name]
        began = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            table = entry.fn(settings)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            failed.append(name)
            table = Table((), (f"FAILED: {type(exc).__name__}: {exc}",))
        sections.append((entry, table))
        results[name] = {
            "title": entry.title,
            "seconds": time.perf_counter() - began,
            "failed": name in failed,
            "notes": list(table.notes),
            "rows": [{"case": row.name, "figures": [f.to_json() for f in row.figures]} for row in table.rows],
        }
    env["loadavg_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    env["seconds"] = time.perf_counter() - started
    print(format_table(sections, header), flush=True)
    report = {"settings": attrs.asdict(settings), "environment": env, "results": results}
    if not args.no_save:
        path = args.out or RESULTS_DIR / time.strftime("%Y%m%dT%H%M%S.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
