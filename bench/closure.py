"""How the resolution scales with the size of the closure (time and peak memory).

Run (after `bash scripts/test` or any install of torchlock into .venv):

    .venv/bin/python bench/closure.py [--sizes 500 2000 5000]

Each size runs in a process of its own over the tests' in-memory finder (no index, no
network): one root asking for N projects, each of whose newest version asks for the
next one. It prints the wall time and the peak resident memory per size; the growth is
resolvelib's (every round checks every pin, and keeps a copy of the state to return to).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from tests.resolver.universe import lock
from tests.support.memory_finder import MemoryFinder, dist
n = {n}
projects = {{"root": [dist("1.0", *[f"p{{i}}" for i in range(n)])]}}
for i in range(n):
    projects[f"p{{i}}"] = [dist("1.0"), dist("2.0", f"p{{(i + 1) % n}}>=1")]
start = time.perf_counter()
pins = len(lock(MemoryFinder(projects), "root").pins)
seconds = time.perf_counter() - start
print(pins, f"{{seconds:.2f}}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    args = parser.parse_args()
    print("projects  pins  seconds  peak MiB")
    for n in args.sizes:
        done = subprocess.run(
            [sys.executable, "-c", CHILD.format(root=str(ROOT), n=n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"{n:8}  failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        pins, seconds, mib = done.stdout.split()
        print(f"{n:8}  {pins:>4}  {seconds:>7}  {mib:>8}")


if __name__ == "__main__":
    main()
