"""The real runner against real (tiny) programs: it never raises for the program's sake."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

from torchlock.system.runner import Completed, LaunchFailed, NotFound, SubprocessRunner, TimedOut

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_completed_with_output_and_status(tmp_path: Path) -> None:
    program = _script(tmp_path / "prog", "echo out; echo err >&2; exit 9")
    result = SubprocessRunner().run([program, "a"], timeout=10)
    assert isinstance(result, Completed)
    assert (result.returncode, result.stdout, result.stderr) == (9, "out\n", "err\n")
    assert result.output == "out\n\nerr\n"
    assert result.argv == (program, "a")
    assert "status 9" in result.describe()


def test_missing_program(tmp_path: Path) -> None:
    result = SubprocessRunner().run([str(tmp_path / "nope")], timeout=10)
    assert isinstance(result, NotFound)
    assert "was not found" in result.describe()


def test_timeout(tmp_path: Path) -> None:
    program = _script(tmp_path / "slow", "exec sleep 5")
    result = SubprocessRunner().run([program], timeout=0.3)
    assert isinstance(result, TimedOut)
    assert "did not answer within 0.3 s" in result.describe()


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_timeout_ends_the_programs_children_too(tmp_path: Path) -> None:
    # a helper that keeps the pipes open and would outlive a killed parent
    pidfile = tmp_path / "child.pid"
    program = _script(tmp_path / "hung", f"sleep 60 & echo $! > {pidfile}; wait")
    started = time.monotonic()
    result = SubprocessRunner().run([program], timeout=0.5)
    assert isinstance(result, TimedOut)
    assert time.monotonic() - started < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def test_not_a_program(tmp_path: Path) -> None:
    target = tmp_path / "garbage"
    target.write_bytes(b"\x00\x01\x02 not an executable format")
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    result = SubprocessRunner().run([str(target)], timeout=10)
    assert isinstance(result, LaunchFailed)
    assert "could not be started" in result.describe()


def test_undecodable_output_is_replaced(tmp_path: Path) -> None:
    program = _script(tmp_path / "bytes", "printf '\\377ok'")
    result = SubprocessRunner().run([program], timeout=10)
    assert isinstance(result, Completed)
    assert result.stdout.endswith("ok")
