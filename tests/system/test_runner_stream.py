"""The streaming runner: lines reach the sink as they come; timeouts end the whole group."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

from torchlock.system.runner import (
    Completed,
    LaunchFailed,
    NotFound,
    SubprocessStreamingRunner,
    TimedOut,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_lines_are_streamed_and_merged(tmp_path: Path) -> None:
    program = _script(tmp_path / "p", "echo one; echo two >&2; echo three; exit 4")
    seen: list[str] = []
    result = SubprocessStreamingRunner().stream([program], timeout=10, sink=seen.append)
    assert isinstance(result, Completed)
    assert result.returncode == 4
    assert seen == ["one", "two", "three"]
    assert result.stdout == "one\ntwo\nthree\n"
    assert result.stderr == ""


def test_timeout_kills_children_too(tmp_path: Path) -> None:
    # The shell starts a child that keeps the pipe open: killing only the shell would hang.
    program = _script(tmp_path / "slow", "echo started; sleep 30; echo never")
    started = time.monotonic()
    result = SubprocessStreamingRunner().stream([program], timeout=0.5, sink=lambda _l: None)
    assert isinstance(result, TimedOut)
    assert time.monotonic() - started < 10


def test_missing_and_unstartable(tmp_path: Path) -> None:
    runner = SubprocessStreamingRunner()
    assert isinstance(runner.stream([str(tmp_path / "nope")], timeout=5, sink=print), NotFound)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a program")
    garbage.chmod(0o755)
    assert isinstance(runner.stream([str(garbage)], timeout=5, sink=print), LaunchFailed)
