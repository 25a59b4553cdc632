"""torchlock create against uv and against venv + pip, on one lock with warm caches.

Run (after `bash scripts/test` or any install of torchlock into .venv):

    .venv/bin/python bench/create.py --torch-wheel PATH/torch-*.whl [--runs 3]

The lock is torch alone (``--family torch``, the CPU build whose wheel you give, for the
Python it was built for) and its dependencies, downloaded once from your pip's index
into a scratch wheelhouse and locked from there, so that every tool installs the same
files. Each round, in a scratch folder, builds a fresh environment with:

- ``torchlock create --prefix`` (verification included) with uv on PATH, against
  ``uv venv && uv pip sync --compile-bytecode pylock.toml && python -c "import torch"``;
- ``torchlock create --prefix`` with no uv on PATH, against ``python -m venv`` and
  ``pip install --require-hashes -r`` the lock's requirements export.

Caches are warm (a first, untimed build of each); the rounds interleave the tools so a
slow spell of a shared machine falls on all. It prints median wall times, peak resident
memory (the largest of the processes each tool ran), and the ratios against the goals of
issue 13: <= 1.3x uv, and <= 0.5x venv + pip.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TORCHLOCK = ROOT / ".venv" / "bin" / "torchlock"


def clean_env(path: str) -> dict[str, str]:
    """A user's environment: none of this machine's pip, uv or torchlock settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TORCHLOCK_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return env | {
        "PIP_CONFIG_FILE": os.devnull,
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "PATH": path,
    }


def timed(argvs: list[list[str]], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak KiB of the largest process) for commands run one after another."""
    start = time.perf_counter()
    peak = 0
    for argv in argvs:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read() if proc.stderr else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv[:3])} failed:\n{err[-2000:]}")
        peak = max(peak, usage.ru_maxrss)
    return time.perf_counter() - start, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-wheel", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uv", default=shutil.which("uv"))
    args = parser.parse_args()
    wheel = args.torch_wheel.resolve()
    tag = wheel.name.split("-")[2]  # cp311
    python_version = f"{tag[2]}.{tag[3:]}"
    python = shutil.which(f"python{python_version}")
    if python is None or args.uv is None:
        raise SystemExit(f"needs python{python_version} and uv on PATH (or --uv)")
    python = str(Path(python).resolve())
    work = Path(tempfile.mkdtemp(prefix="torchlock-bench-create-"))
    try:
        with_uv, without_uv = work / "bin-uv", work / "bin"
        for folder in (with_uv, without_uv):
            folder.mkdir()
            (folder / f"python{python_version}").symlink_to(python)
        (with_uv / "uv").symlink_to(args.uv)
        system = "/usr/bin:/bin"
        env_uv = clean_env(f"{with_uv}:{system}") | {"TORCHLOCK_CACHE_DIR": str(work / "cache")}
        env_pip = clean_env(f"{without_uv}:{system}") | {"TORCHLOCK_CACHE_DIR": str(work / "cache")}
        wheels = work / "wheels"
        wheels.mkdir()
        shutil.copy(wheel, wheels / wheel.name)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:"),
                *("--python-version", python_version, "--dest", str(wheels)),
                str(wheels / wheel.name),
            ],
            check=True,
            env=clean_env(os.environ["PATH"]),
        )
        version = wheel.name.split("-")[1].split("+")[0]
        timed(
            [
                [
                    *(str(TORCHLOCK), "solve", "--driver", "none", "--python", python_version),
                    *("--platform", "linux-64", "--torch", version, "--variant", "cpu"),
                    *("--family", "torch", "--no-conda", "--find-links", str(wheels)),
                    *("-o", "pylock.toml"),
                ],
                [str(TORCHLOCK), "export", "--format", "requirements", "-o", "requirements.txt"],
            ],
            env_uv,
            work,
        )
        env_python = "env/bin/python"
        tools = {
            "torchlock (uv)": (
                [[str(TORCHLOCK), "create", "--driver", "none", "--prefix", "env"]],
                env_uv,
            ),
            "uv": (
                [
                    [args.uv, "venv", "-q", "env", "--python", python],
                    [
                        *(args.uv, "pip", "sync", "-q", "--compile-bytecode"),
                        *("--python", env_python, "pylock.toml"),
                    ],
                    [env_python, "-c", "import torch"],
                ],
                env_uv,
            ),
            "torchlock (pip)": (
                [[str(TORCHLOCK), "create", "--driver", "none", "--prefix", "env"]],
                env_pip,
            ),
            "venv + pip": (
                [
                    [python, "-m", "venv", "env"],
                    [
                        *(env_python, "-m", "pip", "install", "-q", "--disable-pip-version-check"),
                        *("--require-hashes", "--no-deps", "-r", "requirements.txt"),
                    ],
                    [env_python, "-c", "import torch"],
                ],
                env_pip,
            ),
        }
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
        for round_index in range(args.runs + 1):  # the first round warms every cache
            for name, (argvs, env) in tools.items():
                shutil.rmtree(work / "env", ignore_errors=True)
                sample = timed(argvs, env, work)
                if round_index:
                    samples[name].append(sample)
        print(f"lock: torch {version} (cpu) and its dependencies, Python {python_version}")
        print(f"{'tool':<16} {'seconds':>8} {'peak MiB':>9}")
        medians = {}
        for name, values in samples.items():
            medians[name] = statistics.median(s for s, _ in values)
            peak = max(p for _, p in values) / 1024
            print(f"{name:<16} {medians[name]:>8.2f} {peak:>9.0f}")
        print(
            f"torchlock / uv: {medians['torchlock (uv)'] / medians['uv']:.2f}x (goal <= 1.3); "
            f"torchlock without uv / venv + pip: "
            f"{medians['torchlock (pip)'] / medians['venv + pip']:.2f}x (goal <= 0.5)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
