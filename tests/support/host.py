"""A fake host for detection tests: a directory tree of captured files and fake programs.

Host paths such as ``/proc/driver/nvidia/version`` or ``C:\\Windows\\System32\\nvidia-smi.exe``
live under ``root``; fake programs are small executable shell scripts that print captured
output, the approved way to stand in for an external program. Nothing of torchlock is
replaced: detection runs its real runner against these scripts.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchlock.system import files
from torchlock.system.detect import detect_host
from torchlock.system.host_platform import PlatformInfo
from torchlock.system.model import HostReport
from torchlock.system.report import report_to_json
from torchlock.system.runner import SubprocessRunner

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "host"


def fixture(relative: str) -> str:
    """A captured output, byte for byte (CRLF kept)."""
    return (FIXTURES / relative).read_bytes().decode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What a fake program prints and how it exits."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    sleep: float | None = None  # hang this long instead (exec sleep, to be killable)


@dataclass(kw_only=True)
class FakeHost:
    root: Path
    pathsep: str = ":"
    _counter: int = field(default=0, repr=False)

    def real(self, host_path: str) -> Path:
        return self.root / host_path.replace("\\", "/").lstrip("/")

    def write(self, host_path: str, text: str) -> Path:
        target = self.real(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
        return target

    def _output_file(self, text: str) -> Path:
        self._counter += 1
        out = self.root / ".replies" / f"{self._counter}.out"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(text.encode("utf-8"))
        return out

    def _reply_lines(self, reply: Reply) -> list[str]:
        if reply.sleep is not None:
            return [f"exec sleep {reply.sleep}"]
        lines = [f"cat {shlex.quote(str(self._output_file(reply.stdout)))}"]
        if reply.stderr:
            lines.append(f"cat {shlex.quote(str(self._output_file(reply.stderr)))} >&2")
        lines.append(f"exit {reply.exit_code}")
        return lines

    def program(
        self,
        host_path: str,
        default: Reply,
        *,
        when: dict[str, Reply] | None = None,
    ) -> Path:
        """An executable at ``host_path``; ``when`` maps a shell glob on "$*" to its reply."""
        body = ["#!/bin/sh", 'case "$*" in']
        for pattern, reply in (when or {}).items():
            body.append(f"  {pattern})")
            body.extend(f"    {line}" for line in self._reply_lines(reply))
            body.append("    ;;")
        body.append("  *)")
        body.extend(f"    {line}" for line in self._reply_lines(default))
        body.append("    ;;")
        body.append("esac")
        target = self.write(host_path, "\n".join(body) + "\n")
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return target

    # The seams detect_host takes -----------------------------------------------------------

    def read_text(self, path: str) -> str | None:
        return files.read_text(str(self.real(path)))

    def list_dir(self, path: str) -> tuple[str, ...] | None:
        return files.list_dir(str(self.real(path)))

    def which_for(self, env: Mapping[str, str]) -> Callable[[str], str | None]:
        search = [entry for entry in env.get("PATH", "").split(self.pathsep) if entry]

        def which(name: str) -> str | None:
            if "/" in name or "\\" in name:
                return _executable(self.real(name))
            for entry in search:
                found = _executable(self.real(entry) / name)
                if found:
                    return found
            return None

        return which


def _executable(candidate: Path) -> str | None:
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


LINUX = PlatformInfo(
    system="Linux",
    machine="x86_64",
    release="5.15.0-1030-gcp",
    python_version="3.11.7",
    python_executable="/opt/venv/bin/python",
)
WINDOWS = PlatformInfo(
    system="Windows",
    machine="AMD64",
    release="10",
    version="10.0.19045",
    python_version="3.12.4",
    python_executable="C:\\Users\\dev\\venv\\Scripts\\python.exe",
)
LINUX_PATH = "/usr/local/bin:/usr/bin:/bin"


def detect(
    host: FakeHost,
    env: dict[str, str] | None = None,
    platform_info: PlatformInfo = LINUX,
    **kwargs: Any,
) -> HostReport:
    env = {"PATH": LINUX_PATH, **(env or {})}
    report = detect_host(
        runner=SubprocessRunner(),
        read_text=host.read_text,
        list_dir=host.list_dir,
        which=host.which_for(env),
        env=env,
        platform_info=platform_info,
        **kwargs,
    )
    json.loads(report_to_json(report))  # every report renders
    return report


def smi(host: FakeHost, name: str, *, path: str = "/usr/bin/nvidia-smi") -> None:
    """nvidia-smi printing the captured table, and the captured CSV for --query-gpu."""
    host.program(
        path,
        Reply(stdout=fixture(f"nvidia-smi/{name}.txt")),
        when={"--query-gpu=*": Reply(stdout=fixture(f"nvidia-smi/{name}.query.csv"))},
    )
