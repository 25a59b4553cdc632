"""One solve for three targets against the same solve for one, cold.

Run (after `bash scripts/test` or any install of torchlock into .venv):

    .venv/bin/python bench/targets.py [--runs 5]

It builds the tests' fixture indexes (a PyPI-like one with Linux x86_64, Linux aarch64
and Windows wheels, and a PyTorch-like variant index) and gives the pages the size of
real ones (old releases of numpy, pillow, sympy and requests, 12 wheels each, as the real
numpy page lists some 2,000 files), serves them over 127.0.0.1, and
times `torchlock solve --with requests` for linux-64 alone and for linux-64,
linux-aarch64 and win-64 together (torch 2.1.2: cu121 from the default index on Linux
x86_64, the CPU build from the default index on aarch64, cu121 from the variant index on
Windows), each run with a new cache directory, the two interleaved. It prints the
medians, the requests the servers counted and the ratio against its goal (three
targets in at most 1.5 times the time of one: they share pages, metadata and
connections).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.fixture_index import (  # noqa: E402
    FixtureIndex,
    build_pypi_index,
    build_pytorch_index,
)
from tests.support.index_server import IndexServer, serve  # noqa: E402

SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--python", "3.10", "--torch", "2.1.2"]
ONE = ("linux-64",)
THREE = ("linux-64", "linux-aarch64", "win-64")
GOAL = 1.5


OLD_RELEASES = 120  # per project below, each with 12 wheels
PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux2014_aarch64",
    "win_amd64",
    "macosx_11_0_arm64",
    "musllinux_1_1_x86_64",
    "win32",
)


def _grow(tree: FixtureIndex) -> None:
    """Old releases that no solve picks but every one must read past, as on a real index."""
    for name in ("numpy", "pillow", "sympy", "requests"):
        for minor in range(OLD_RELEASES):
            for py in ("cp310", "cp311"):
                for platform in PLATFORMS:
                    tree.add_wheel(
                        "simple",
                        name,
                        f"0.{minor}.0",
                        tags=f"{py}-{py}-{platform}",
                        metadata=False,
                    )


def _solve(
    torchlock: Path, pypi: IndexServer, pytorch: IndexServer, platforms: tuple[str, ...]
) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="torchlock-bench-") as scratch:
        argv = [str(torchlock), "solve", *SELECT, "--no-conda", "--with", "requests"]
        argv += ["--index-url", pypi.index_url(), "--cache-dir", str(Path(scratch) / "cache")]
        argv += ["--pytorch-index-url", f"{pytorch.url}/whl/{{variant}}", "--json"]
        for platform in platforms:
            argv += ["--platform", platform]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TORCHLOCK_"))}
        env["PIP_CONFIG_FILE"] = os.devnull
        before = pypi.count() + pytorch.count()
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"torchlock solve failed:\n{done.stderr}")
        return seconds, pypi.count() + pytorch.count() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torchlock = ROOT / ".venv" / "bin" / "torchlock"
    if not torchlock.exists():
        raise SystemExit("no .venv/bin/torchlock: run `bash scripts/test` first")
    with tempfile.TemporaryDirectory(prefix="torchlock-bench-index-") as folder:
        pypi_tree = build_pypi_index(Path(folder) / "pypi", aarch64=True)
        _grow(pypi_tree)
        pypi_tree.write()
        pytorch_tree = build_pytorch_index(Path(folder) / "pytorch")
        pypi, pytorch = serve(pypi_tree.root, pypi_tree), serve(pytorch_tree.root, pytorch_tree)
        try:
            _solve(torchlock, pypi, pytorch, ONE)  # warm the interpreter's own files
            one, three = [], []
            requests = {}
            for _ in range(args.runs):
                seconds, requests[ONE] = _solve(torchlock, pypi, pytorch, ONE)
                one.append(seconds)
                seconds, requests[THREE] = _solve(torchlock, pypi, pytorch, THREE)
                three.append(seconds)
        finally:
            pypi.stop()
            pytorch.stop()
    a, b = statistics.median(one), statistics.median(three)
    print(f"one target ({', '.join(ONE)}): {a:.3f} s median, {requests[ONE]} requests")
    print(f"three targets ({', '.join(THREE)}): {b:.3f} s median, {requests[THREE]} requests")
    ratio = b / a
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"three / one: {ratio:.2f}x (goal <= {GOAL}x: {verdict} it), cold, {args.runs} runs")


if __name__ == "__main__":
    main()
