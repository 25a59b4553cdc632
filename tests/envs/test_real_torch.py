"""``torchlock verify`` on the real CPU build of PyTorch, installed into a new venv.

The install takes the CPU build of torch from the wheelhouses this machine's pip is
configured with, passed to pip explicitly (the root fixture clears pip's configuration);
where it cannot be had (a user's machine has no such wheelhouse), the test is skipped. The
``+cpu`` local label keeps pip from ever downloading a multi-gigabyte CUDA build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.fake_torch import venv_python
from torchlock.system.detect import detect_from_environment

REAL_TORCH = "2.13.0+cpu"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout"),
]


@pytest.fixture(scope="session")
def real_torch(
    tmp_path_factory: pytest.TempPathFactory, machine_find_links: tuple[str, ...]
) -> Path:
    venv = tmp_path_factory.mktemp("real-torch") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    python = venv_python(venv)
    argv = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        "--only-binary",
        ":all:",
        f"torch=={REAL_TORCH}",
    ]
    for links in machine_find_links:
        argv += ["--find-links", links]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"installing torch=={REAL_TORCH} took over 10 minutes")
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
        pytest.skip(f"torch=={REAL_TORCH} cannot be installed here: {tail[0]}")
    return python


def test_verify_real_cpu_build(real_torch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = detect_from_environment(gpu_only=True)
    gpu_host = bool(host.gpus) or host.driver.version is not None
    code, out, err = run_cli(
        ["verify", "--python", str(real_torch), "--expect", f"torch=={REAL_TORCH}"], capsys
    )
    assert "Traceback" not in err
    assert "pass  torch " in out
    assert "CPU-only build" in out
    assert "8x8 matrix product on cpu: sum 512.0" in out
    if gpu_host:
        # A CPU build on a host with an NVIDIA GPU is the failure torchlock exists to catch.
        assert code == 1
        assert "[cpu-only-build]" in out
    else:
        assert code == 0, out
        assert out.splitlines()[1] == "no NVIDIA GPU on this host: GPU checks skipped"
        assert "result: ok: 0 failed" in out

    code, out, _ = run_cli(["verify", "--python", str(real_torch), "--json"], capsys)
    report = json.loads(out)
    checks = {check["id"]: check for check in report["checks"]}
    assert checks["torch.import"]["status"] == "pass"
    assert report["probe"]["torch"]["version"] == REAL_TORCH
    assert report["probe"]["torch"]["cuda"] is None
    assert checks["cudnn"]["status"] == "skip"
