"""The one place in torchlock that starts other programs.

A :class:`Runner` turns ``argv`` into a :data:`RunResult`; it never raises for
a program that is missing, not executable or too slow: each of those is a
finding the caller reports in words.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class NotFound:
    """There is no program at that name or path."""

    argv: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.argv[0]} was not found"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut:
    """The program was still running after ``timeout`` seconds and was killed."""

    argv: tuple[str, ...]
    timeout: float

    def describe(self) -> str:
        return f"{self.argv[0]} did not answer within {self.timeout:g} s"


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchFailed:
    """The program exists but could not be started (permission, bad format, ...)."""

    argv: tuple[str, ...]
    detail: str

    def describe(self) -> str:
        return f"{self.argv[0]} could not be started: {self.detail}"


RunResult = Completed | NotFound | TimedOut | LaunchFailed


class Runner(Protocol):
    """Runs a program and reports what happened; never raises for the program's sake."""

    def run(self, argv: Sequence[str], *, timeout: float) -> RunResult: ...


class SubprocessRunner:
    """The real :class:`Runner`: :func:`subprocess.run` with captured, decoded output."""

    def run(self, argv: Sequence[str], *, timeout: float) -> RunResult:
        args = tuple(argv)
        try:
            proc = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return NotFound(argv=args)
        except subprocess.TimeoutExpired:
            return TimedOut(argv=args, timeout=timeout)
        except (OSError, ValueError) as exc:
            return LaunchFailed(argv=args, detail=str(exc) or type(exc).__name__)
        return Completed(
            argv=args,
            returncode=proc.returncode,
            stdout=proc.stdout or "",
            stderr=proc.stderr or "",
        )
