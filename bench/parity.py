"""torchlock solve against uv pip compile on the real ML requirement sets, cold.

Run (after `bash scripts/test`; it reaches the real default index, as the network
tests do):

    .venv/bin/python bench/parity.py [--runs 1] [--platform linux-64]

For each requirement set of tests/test_network_parity.py it times, with a new cache
directory per run and pip's own default index, `torchlock solve` of the set beside the
torch 2.1.2 family and `uv pip compile` of the same requirements (the family pinned to
torchlock's pins) for the same target, and prints both medians and their ratio. The
network's speed moves both tools; only ratios of the same run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_network_parity import SETS, TARGETS  # noqa: E402


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TORCHLOCK_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # uv would otherwise spend seconds trying to download a Python 3.10 of its own
    # before it resolves for --python-version 3.10: it needs none to resolve
    return env | {
        "PIP_CONFIG_FILE": os.devnull,
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


def _torchlock(platform: str, requirements: list[str]) -> tuple[float, dict[str, str]]:
    select, _ = TARGETS[platform]
    with tempfile.TemporaryDirectory(prefix="torchlock-bench-") as scratch:
        argv = [str(ROOT / ".venv" / "bin" / "torchlock"), "solve", *select, "--python", "3.10"]
        argv += ["--torch", "2.1.2", "--platform", platform, "--no-conda", "--json"]
        argv += ["--cache-dir", str(Path(scratch) / "cache")]
        for requirement in requirements:
            argv += ["--with", requirement]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"torchlock failed: {done.stderr.strip().splitlines()[0]}")
    [target] = json.loads(done.stdout)["targets"]
    return seconds, {p["name"]: p["version"] for p in target["packages"]}


def _uv(platform: str, requirements: list[str], family: dict[str, str], index: str) -> float:
    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not installed: run `bash scripts/test` first")
    _, uv_platform = TARGETS[platform]
    with tempfile.TemporaryDirectory(prefix="uv-bench-") as scratch:
        source = Path(scratch) / "requirements.in"
        pins = [f"{n}=={v}" for n, v in sorted(family.items())]
        source.write_text("\n".join([*pins, *requirements]) + "\n")
        argv = [uv, "pip", "compile", str(source), "--index-url", index, "--quiet"]
        # an interpreter given: uv's discovery through pyenv shims alone costs seconds here
        argv += ["--python", sys.executable]
        argv += ["--python-version", "3.10", "--python-platform", uv_platform]
        argv += ["--cache-dir", str(Path(scratch) / "cache")]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"uv failed: {done.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--platform", default="linux-64", choices=sorted(TARGETS))
    args = parser.parse_args()
    from torchlock.pipconfig import pip_default_index

    index = pip_default_index()
    print(f"set                 pins  torchlock s   uv s   torchlock / uv  ({args.platform})")
    ratios = []
    for name, requirements, _ in SETS:
        ours, theirs = [], []
        pins: dict[str, str] = {}
        for _ in range(args.runs):
            seconds, pins = _torchlock(args.platform, requirements)
            ours.append(seconds)
            family = {n: pins[n] for n in ("torch", "torchvision", "torchaudio") if n in pins}
            theirs.append(_uv(args.platform, requirements, family, index))
        a, b = statistics.median(ours), statistics.median(theirs)
        ratios.append(a / b)
        print(f"{name:18} {len(pins):5}  {a:11.2f}  {b:5.2f}   {a / b:6.2f}x")
    print(f"median ratio over the sets: {statistics.median(ratios):.2f}x (cold, {args.runs} run)")


if __name__ == "__main__":
    main()
