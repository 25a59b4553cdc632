"""The one place in torchlock that starts other programs.

A :class:`Runner` turns ``argv`` into a :data:`RunResult`; it never raises for
a program that is missing, not executable or too slow: each of those is a
finding the caller reports in words.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from msgspec import Struct


class Completed(Struct, frozen=True, kw_only=True):
    """The program ran to its end (whatever its exit status)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, as a terminal would have shown them."""
        if self.stdout and self.stderr:
            return f"{self.stdout}\n{self.stderr}"
        return self.stdout or self.stderr

    def describe(self) -> str:
        return f"{self.argv[0]} exited with status {self.returncode}"


class NotFound(Struct, frozen=True, kw_only=True):
    """There is no program at that name or path."""

    argv: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.argv[0]} was not found"


class TimedOut(Struct, frozen=True, kw_only=True):
    """The program was still running after ``timeout`` seconds and was killed."""

    argv: tuple[str, ...]
    timeout: float

    def describe(self) -> str:
        return f"{self.argv[0]} did not answer within {self.timeout:g} s"


class LaunchFailed(Struct, frozen=True, kw_only=True):
    """The program exists but could not be started (permission, bad format, ...)."""

    argv: tuple[str, ...]
    detail: str

    def describe(self) -> str:
        return f"{self.argv[0]} could not be started: {self.detail}"


RunResult = Completed | NotFound | TimedOut | LaunchFailed


_POSIX = sys.platform != "win32"


class Runner(Protocol):
    """Runs a program and reports what happened; never raises for the program's sake."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult: ...


class SubprocessRunner:
    """The real :class:`Runner`: the program in a process group of its own (on POSIX), its
    output captured and decoded; a timeout, or torchlock being interrupted, ends the whole
    group, so that a hung ``nvidia-smi`` leaves no helper of its behind."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run ``argv`` in ``cwd`` (default: ours) with ``env`` (default: ours)."""
        args = tuple(argv)
        try:
            proc = subprocess.Popen(
                args,
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                errors="replace",
                start_new_session=_POSIX,
            )
        except FileNotFoundError:
            return NotFound(argv=args)
        except (OSError, ValueError) as exc:
            return LaunchFailed(argv=args, detail=str(exc) or type(exc).__name__)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException as exc:  # the timeout, or KeyboardInterrupt: end them all
            _end_group(proc)
            if isinstance(exc, subprocess.TimeoutExpired):
                return TimedOut(argv=args, timeout=timeout)
            raise
        return Completed(
            argv=args,
            returncode=proc.returncode,
            stdout=stdout or "",
            stderr=stderr or "",
        )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` and, on POSIX, the process group it leads (started in a new session)."""
    try:
        if _POSIX:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass


def _end_group(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` and its process group, reap it, and close the pipes without waiting
    for a straggler that left the group (it would hold them open)."""
    _kill_group(proc)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


OutputSink = Callable[[str], None]


class StreamingRunner(Protocol):
    """Runs a long program, handing each line of its output to ``sink`` as it comes.

    The result's ``stdout`` holds stdout and stderr merged, in the order the program
    wrote them; ``stderr`` is empty. Used by ``torchlock system apply`` so that a
    twenty-minute installer is logged while it runs.
    """

    def stream(self, argv: Sequence[str], *, timeout: float, sink: OutputSink) -> RunResult: ...


class SubprocessStreamingRunner:
    """The real :class:`StreamingRunner`: :class:`subprocess.Popen`, stderr merged into stdout."""

    def stream(self, argv: Sequence[str], *, timeout: float, sink: OutputSink) -> RunResult:
        args = tuple(argv)
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                encoding="utf-8",
                errors="replace",
                start_new_session=_POSIX,  # its own process group, so a timeout ends it all
            )
        except FileNotFoundError:
            return NotFound(argv=args)
        except (OSError, ValueError) as exc:
            return LaunchFailed(argv=args, detail=str(exc) or type(exc).__name__)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            _kill_group(proc)

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        lines: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                sink(line.rstrip("\n"))
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
        if expired.is_set():
            return TimedOut(argv=args, timeout=timeout)
        return Completed(argv=args, returncode=returncode, stdout="".join(lines), stderr="")
