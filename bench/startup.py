"""Whole-process time of torchlock's quick commands, against a bare interpreter.

Run: .venv/bin/python bench/startup.py [--runs 21]

Prints the median wall time of each command over the runs, and its ratio to
`python -c pass` measured in the same run. Goals on a 2-core machine:
`torchlock --help` under 100 ms and `torchlock matrix --driver 525.85.05 --json`
under 150 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOALS_MS = {"torchlock --help": 100.0, "torchlock matrix --driver 525.85.05 --json": 150.0}


# Measure what an installed copy does: with its bytecode cached (a shell that sets
# PYTHONDONTWRITEBYTECODE would make every run compile changed modules from source).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_ms(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    exe = bindir / ("torchlock.exe" if os.name == "nt" else "torchlock")
    if not exe.exists():
        print(f"error: {exe} not found; install torchlock into this interpreter first")
        return 1
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "torchlock --help": [str(exe), "--help"],
        "torchlock matrix --driver 525.85.05 --json": [
            str(exe),
            "matrix",
            "--driver",
            "525.85.05",
            "--python",
            "3.10",
            "--json",
        ],
    }
    for argv in cases.values():  # warm the file cache and .pyc files
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )
    results = {name: median_ms(argv, args.runs) for name, argv in cases.items()}
    base = results["python -c pass"]
    print(f"{'command':48} {'median ms':>10} {'× python':>9} {'goal ms':>8}")
    for name, ms in results.items():
        goal = GOALS_MS.get(name)
        mark = "" if goal is None else (f"{goal:>8.0f}" + ("  ok" if ms <= goal else "  OVER"))
        print(f"{name:48} {ms:10.1f} {ms / base:9.1f} {mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
