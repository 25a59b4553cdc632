"""``torchlock system plan|apply``: words and exit codes, and apply for real on this host.

The real applies: git (already installed, so every step is skipped) and, as root on a
Debian 12 host whose apt repository answers, nginx from Debian's own packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from torchlock.cli.system import host_target_os
from torchlock.system.steps import TargetOs

PLANS = Path(__file__).resolve().parent.parent / "fixtures" / "plans"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("TORCHLOCK_STATE_DIR", str(state))
    return state


def test_plan_text_matches_golden(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["system", "plan", "driver", "--os", "ubuntu-22.04"], capsys)
    assert code == 0, err
    assert out == (PLANS / "driver-ubuntu-22.04.txt").read_text(encoding="utf-8")


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["system", "plan", "cuda", "--os", "ubuntu-22.04", "--version", "12.0.1", "--json"], capsys
    )
    assert code == 0
    assert out == (PLANS / "cuda-ubuntu-22.04.json").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["system", "plan", "gpu", "--os", "debian-12"], "error: unknown component 'gpu'"),
        (["system", "plan", "git", "--os", "suse-15"], "error: unknown target OS 'suse-15'"),
        (
            ["system", "plan", "driver", "--os", "rhel-9", "--version", "525.x"],
            "error: malformed NVIDIA driver version '525.x'",
        ),
        (
            ["system", "plan", "cuda", "--os", "rhel-9", "--version", "twelve"],
            "error: malformed CUDA version 'twelve'",
        ),
        (
            ["system", "plan", "nginx", "--os", "ubuntu-22.04", "--version", "1.18.0"],
            "error: nginx 1.18.0 is known to be vulnerable (CVE-2021-23017)",
        ),
        (
            ["system", "plan", "conda", "--os", "windows", "--source", "pip"],
            "error: unknown source 'pip' for conda",
        ),
        (["system", "apply", "gpu", "--yes"], "error: unknown component 'gpu'"),
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], first_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == first_line
    assert all(line.startswith(("error:", "hint:")) for line in lines)
    assert "Traceback" not in err


needs_known_host = pytest.mark.skipif(
    host_target_os() is None, reason="torchlock plans for no OS of this host"
)


@needs_known_host
def test_apply_refuses_without_yes(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    code, _, err = run_cli(["system", "apply", "git"], capsys)
    assert code == 2
    assert (
        err.splitlines()[0]
        == "error: apply changes this host (1 steps for git): give --yes to run it"
    )
    assert not state.exists()  # nothing ran, nothing logged


@needs_known_host
def test_apply_refuses_another_os(capsys: pytest.CaptureFixture[str]) -> None:
    other = next(t for t in TargetOs if t is not host_target_os())
    code, _, err = run_cli(["system", "apply", "git", "--os", other.value, "--yes"], capsys)
    assert code == 2
    assert err.startswith(f"error: apply runs on this host, which is not {other.value}")


@needs_known_host
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_apply_git_for_real_is_all_skipped(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    code, out, err = run_cli(["system", "apply", "git", "--yes"], capsys)
    assert code == 0, err
    assert "[1/1] skip  install-git: already satisfied (git is on PATH)" in out
    assert "git: every step satisfied" in out
    log = (state / "apply.log").read_text()
    assert "check passed: git is on PATH" in log
    assert "run:" not in log  # nothing was run but the check
    code, out, _ = run_cli(["system", "apply", "git", "--yes", "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["steps"] == [{"id": "install-git", "status": "skipped"}]
    assert document["reboot_required"] is False


def _apt_reachable() -> bool:
    try:
        done = subprocess.run(
            ["apt-get", "update", "-q"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and not re.search(
        r"^(W|E): .*(Failed|Could not)", done.stdout + done.stderr, re.M
    )


def _nginx_version() -> str:
    done = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip()


@pytest.mark.host  # installs nginx on this machine: only where asked for (.ci/run)
@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() != 0, reason="installs packages: root only"
)
@pytest.mark.skipif(host_target_os() is not TargetOs.DEBIAN_12, reason="a Debian 12 test")
def test_apply_nginx_from_debian_for_real(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    if not _apt_reachable():
        pytest.skip("apt cannot reach its repository")
    was_running = Path("/run/nginx.pid").exists()
    code, out, err = run_cli(["system", "apply", "nginx", "--source", "distro", "--yes"], capsys)
    try:
        assert code == 0, err
        assert "install-nginx" in out
        version = _nginx_version()
        assert re.match(r"nginx version: nginx/1\.22\.\d+", version), version
        # The same command again: the step is satisfied now.
        code, out, _ = run_cli(["system", "apply", "nginx", "--source", "distro", "--yes"], capsys)
        assert code == 0
        assert "skip  install-nginx" in out
    finally:
        if not was_running and Path("/run/nginx.pid").exists():
            subprocess.run(["/usr/sbin/nginx", "-s", "quit"], check=False)
