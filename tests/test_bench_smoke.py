"""Smoke pass of the benchmark command (``bench/run.py --quick``): it runs every benchmark and writes JSON.

Timings are never asserted (speed lives in ``bench/``, style lesson 15): only that the one documented command
keeps working end to end, simulator process and loopback sessions included, and that its JSON has a figure
with samples for every row of every benchmark.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_runs_every_benchmark_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    listed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--list"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    assert {"book-pipeline", "runtime", "loopback-market", "scale"} <= set(names)

    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "benchmark / case" in done.stdout  # the one table
    report = json.loads(out.read_text())
    assert report["settings"]["quick"] is True
    assert report["environment"]["cpus"]
    assert list(report["results"]) == names
    for name, result in report["results"].items():
        assert result["rows"], name
        for row in result["rows"]:
            assert row["figures"], (name, row["case"])
            for figure in row["figures"]:
                assert figure["samples"], (name, row["case"], figure["name"])
