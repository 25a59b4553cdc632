"""torchlock solve against uv and pip-compile on the frozen torch metadata snapshot.

Run (after `bash scripts/test` or any install of torchlock into .venv):

    .venv/bin/python bench/solve.py [--runs 5] [--bench-index ../shared/bench-index]

It serves ../shared/bench-index over 127.0.0.1, installs uv and pip-tools into
a scratch virtual environment (bench/.tools, Python 3.10 so that pip-compile
resolves for 3.10), and for each requirement set of the snapshot measures,
for each tool, the median wall time with a cold cache (a new cache directory
per run) and a warm one (the same directory after a first run), the HTTP
requests the server counted, and the peak resident memory. Every tool runs
in a scratch folder, and the rounds interleave the tools, so that a slow
spell of a shared machine falls on all of them. It prints the medians and
the ratios measured in the same run, each with its goal.
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
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETS = {
    # name: (requirements, torchlock selection flags giving the same triple from the index)
    "a-2.1": (
        ["torch==2.1.2", "torchvision==0.16.2", "torchaudio==2.1.2"],
        ["--torch", "2.1.2", "--variant", "cu121"],
    ),
    "b-2.5": (
        ["torch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1"],
        ["--torch", "2.5.1", "--variant", "cu124"],
    ),
}


@dataclass
class Sample:
    seconds: float
    requests: int
    peak_kib: int


# Every tool sees the same, empty pip configuration: the machine's own (extra indexes,
# wheel folders, constraints) must not change what a tool does.
# Bytecode is written and reused, as for an installed copy (PYTHONDONTWRITEBYTECODE in the
# caller's shell would make every run compile changed modules from source).
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("PIP_", "UV_", "TORCHLOCK_")) and k != "PYTHONDONTWRITEBYTECODE"
} | {"PIP_CONFIG_FILE": os.devnull, "UV_NO_CONFIG": "1"}


def run_measured(argv: list[str], port: int, cwd: Path) -> Sample:
    """One run in ``cwd`` (a scratch folder: no tool finds this repository's own config)."""
    reset(port)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CLEAN_ENV, text=True, cwd=cwd
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv[0]} failed ({code}):\n{stderr}")
    stats = reset(port)
    return Sample(seconds=elapsed, requests=int(stats["total"]), peak_kib=int(usage.ru_maxrss))


def reset(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/reset") as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def start_server(bench_index: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = workdir / "port"
    server = subprocess.Popen(
        [
            sys.executable,
            str(bench_index / "serve.py"),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if port_file.exists() and port_file.read_text().strip():
            return server, int(port_file.read_text().strip())
        time.sleep(0.05)
    server.kill()
    raise SystemExit("the bench-index server did not start")


def tools_env(python310: str) -> Path:
    venv = HERE / ".tools"
    if not (venv / "bin" / "pip-compile").exists():
        subprocess.run([python310, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-U", "pip", "uv", "pip-tools"],
            check=True,
            env=CLEAN_ENV,
        )
    return venv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bench-index", type=Path, default=ROOT.parent / "shared" / "bench-index")
    parser.add_argument("--python310", default=shutil.which("python3.10") or "python3.10")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()

    torchlock = Path(sys.executable).parent / "torchlock"
    tools = tools_env(args.python310)
    uv = tools / "bin" / "uv"
    pip_compile = tools / "bin" / "pip-compile"
    workdir = Path(tempfile.mkdtemp(prefix="torchlock-bench-"))
    server, port = start_server(args.bench_index, workdir)
    index = f"http://127.0.0.1:{port}/simple/"
    try:
        for name in args.sets:
            requirements, selection = SETS[name]
            req_in = workdir / f"{name}.in"
            req_in.write_text("\n".join(requirements) + "\n")
            tool_argv = {
                "torchlock": lambda cache, selection=selection: [
                    str(torchlock),
                    "solve",
                    "--driver",
                    "580.65.06",
                    "--gpu-cc",
                    "8.0",
                    "--python",
                    "3.10",
                    "--platform",
                    "linux-64",
                    *selection,
                    "--torch-index",
                    "default",
                    "--index-url",
                    index,
                    "--cache-dir",
                    str(cache),
                    "--json",
                ],
                "uv": lambda cache, req_in=req_in: [
                    str(uv),
                    "pip",
                    "compile",
                    str(req_in),
                    "--index-url",
                    index,
                    "--python",
                    str(tools / "bin" / "python"),
                    "--python-version",
                    "3.10",
                    "--python-platform",
                    "x86_64-manylinux_2_28",
                    "--generate-hashes",
                    "--cache-dir",
                    str(cache),
                    "-q",
                    "-o",
                    os.devnull,
                ],
                "pip-compile": lambda cache, req_in=req_in: [
                    str(pip_compile),
                    str(req_in),
                    "--index-url",
                    index,
                    "--trusted-host",
                    "127.0.0.1",
                    "--generate-hashes",
                    "--cache-dir",
                    str(cache),
                    "-q",
                    "-o",
                    f"{cache}.txt",
                ],
            }
            results: dict[str, dict[str, list[Sample]]] = {
                tool: {"cold": [], "warm": []} for tool in tool_argv
            }
            for tool, make in tool_argv.items():
                run_measured(make(workdir / f"warm-up-{tool}-{name}"), port, workdir)
            # Rounds interleave the tools, so a slow spell of a shared machine falls on all.
            for i in range(max(1, args.runs)):
                for tool, make in tool_argv.items():
                    if tool == "pip-compile" and i >= 3:
                        continue  # seconds per run: three are enough
                    cache = workdir / f"cache-{tool}-{name}-{i}"
                    results[tool]["cold"].append(run_measured(make(cache), port, workdir))
                    if tool != "pip-compile":
                        results[tool]["warm"].append(run_measured(make(cache), port, workdir))
            report(name, results)
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(name: str, results: dict[str, dict[str, list[Sample]]]) -> None:
    def med(samples: list[Sample]) -> Sample | None:
        if not samples:
            return None
        return Sample(
            seconds=statistics.median(s.seconds for s in samples),
            requests=int(statistics.median(s.requests for s in samples)),
            peak_kib=int(statistics.median(s.peak_kib for s in samples)),
        )

    print(f"\n== {name} (Python 3.10, linux-64)")
    print(f"{'tool':12} {'cold s':>8} {'warm s':>8} {'requests':>9} {'peak MiB':>9}")
    medians = {tool: (med(r["cold"]), med(r["warm"])) for tool, r in results.items()}
    for tool, (cold, warm) in medians.items():
        assert cold is not None
        warm_s = f"{warm.seconds:8.3f}" if warm else f"{'-':>8}"
        print(
            f"{tool:12} {cold.seconds:8.3f} {warm_s} {cold.requests:9d} {cold.peak_kib / 1024:9.1f}"
        )
    ours_cold, ours_warm = medians["torchlock"]
    assert ours_cold is not None
    assert ours_warm is not None
    uv_cold, uv_warm = medians["uv"]
    assert uv_cold is not None
    line = f"torchlock / uv: cold {ours_cold.seconds / uv_cold.seconds:.2f}x (goal <= 1.5)"
    if uv_warm:
        line += f", warm {ours_warm.seconds / uv_warm.seconds:.2f}x (goal <= 3)"
    print(line)
    pip_cold, _ = medians["pip-compile"]
    assert pip_cold is not None
    speedup = pip_cold.seconds / ours_cold.seconds
    print(f"pip-compile / torchlock: cold {speedup:.1f}x (goal >= 10)")


if __name__ == "__main__":
    raise SystemExit(main())
