"""The real runner against real (tiny) programs: it never raises for the program's sake."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

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


class _Recorded(subprocess.Popen):  # type: ignore[type-arg]
    """Popen that remembers each process it starts, to look at after the runner returns."""

    made: ClassVar[list[subprocess.Popen[str]]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-overload]
        _Recorded.made.append(self)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[str]]:
    _Recorded.made = []
    monkeypatch.setattr(subprocess, "Popen", _Recorded)
    return _Recorded.made


def test_a_timed_out_program_is_reaped_and_its_pipes_closed(
    tmp_path: Path, recorded: list[subprocess.Popen[str]]
) -> None:
    program = _script(tmp_path / "slow", "sleep 30")
    assert isinstance(SubprocessRunner().run([program], timeout=0.3), TimedOut)
    (proc,) = recorded
    assert proc.returncode == -signal.SIGKILL  # killed, and waited for
    for pipe in (proc.stdout, proc.stderr):
        assert pipe is not None
        assert pipe.closed


def test_an_interrupt_ends_the_program_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: list[subprocess.Popen[str]]
) -> None:
    def interrupted(self: subprocess.Popen[str], *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    program = _script(tmp_path / "slow", "sleep 30")
    with pytest.raises(KeyboardInterrupt):
        SubprocessRunner().run([program], timeout=10)
    (proc,) = recorded
    assert proc.returncode == -signal.SIGKILL


def test_a_group_already_gone_is_still_a_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(pid: int, sig: int) -> None:
        raise ProcessLookupError(pid)

    monkeypatch.setattr(os, "killpg", gone)
    program = _script(tmp_path / "brief", "sleep 1")
    assert isinstance(SubprocessRunner().run([program], timeout=0.2), TimedOut)


def test_an_argument_python_cannot_pass_is_a_launch_failure(tmp_path: Path) -> None:
    program = _script(tmp_path / "p", "true")
    assert isinstance(SubprocessRunner().run([program, "a\0b"], timeout=5), LaunchFailed)
