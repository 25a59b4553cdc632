"""Value types that describe what an environment is *for*.

Nothing here looks at the host: a target is always stated, so that a lock for a
Windows workstation can be computed on a Linux laptop.
"""

from __future__ import annotations

import enum
import re

from msgspec import Struct

from torchlock.errors import InputError


class OS(enum.Enum):
    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"

    @classmethod
    def parse(cls, text: str) -> OS:
        key = text.strip().lower()
        aliases = {"win": "windows", "win32": "windows", "darwin": "macos", "osx": "macos"}
        key = aliases.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        raise InputError(
            f"unknown operating system {text!r}",
            hint="use one of: " + ", ".join(m.value for m in cls),
        )


class Arch(enum.Enum):
    X86_64 = "x86_64"
    AARCH64 = "aarch64"

    @classmethod
    def parse(cls, text: str) -> Arch:
        key = text.strip().lower()
        aliases = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}
        key = aliases.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        raise InputError(
            f"unknown machine architecture {text!r}",
            hint="use one of: x86_64 (amd64), aarch64 (arm64)",
        )


class Platform(Struct, frozen=True, kw_only=True):
    """An operating system on a machine architecture, e.g. linux-x86_64."""

    os: OS
    arch: Arch

    @property
    def key(self) -> str:
        return f"{self.os.value}-{self.arch.value}"

    def __str__(self) -> str:
        return self.key

    @property
    def conda_subdir(self) -> str:
        """The conda-style name: linux-64, linux-aarch64, win-64, osx-arm64, osx-64."""
        for name, (os, arch) in _CONDA_SUBDIRS.items():
            if (os, arch) == (self.os, self.arch):
                return name
        return self.key

    @classmethod
    def parse(cls, text: str) -> Platform:
        """A platform named the conda way (linux-64, win-64, osx-arm64) or as os-arch."""
        key = text.strip().lower()
        if key in _CONDA_SUBDIRS:
            os, arch = _CONDA_SUBDIRS[key]
            return cls(os=os, arch=arch)
        os_name, sep, arch_name = key.partition("-")
        if sep:
            try:
                return cls(os=OS.parse(os_name), arch=Arch.parse(arch_name))
            except InputError:
                pass
        raise InputError(
            f"unknown target platform {text!r}",
            hint="use one of: " + ", ".join(_CONDA_SUBDIRS),
        )


_CONDA_SUBDIRS: dict[str, tuple[OS, Arch]] = {
    "linux-64": (OS.LINUX, Arch.X86_64),
    "linux-aarch64": (OS.LINUX, Arch.AARCH64),
    "win-64": (OS.WINDOWS, Arch.X86_64),
    "osx-arm64": (OS.MACOS, Arch.AARCH64),
    "osx-64": (OS.MACOS, Arch.X86_64),
}


_DRIVER_RE = re.compile(r"^\d{2,4}(?:\.\d{1,3}){0,2}$")


class DriverVersion(Struct, frozen=True, kw_only=True, eq=False):
    """An NVIDIA driver version such as 525.85.05; compared numerically per part."""

    text: str
    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> DriverVersion:
        value = text.strip()
        if not _DRIVER_RE.match(value):
            raise InputError(
                f"malformed NVIDIA driver version {text!r}",
                hint="give it as nvidia-smi prints it, e.g. 525.85.05 or 536.23",
            )
        return cls(text=value, parts=tuple(int(p) for p in value.split(".")))

    def _key(self) -> tuple[int, int, int]:
        padded = (*self.parts, 0, 0)
        return (padded[0], padded[1], padded[2])

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() >= other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:  # Struct's own would compare identity
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self._key() != other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


_CC_RE = re.compile(r"^(\d{1,2})\.(\d)$")


class ComputeCapability(Struct, frozen=True, kw_only=True, order=True):
    """A CUDA compute capability such as 7.5 (sm_75); ordered by (major, minor)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> ComputeCapability:
        match = _CC_RE.match(text.strip())
        if not match:
            raise InputError(
                f"malformed GPU compute capability {text!r}",
                hint="give MAJOR.MINOR as nvidia-smi --query-gpu=compute_cap prints it, e.g. 7.5",
            )
        return cls(major=int(match.group(1)), minor=int(match.group(2)))

    @property
    def sm(self) -> str:
        return f"sm_{self.major}{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


_PY_RE = re.compile(r"^(\d+)\.(\d+)(t?)$")


class PythonVersion(Struct, frozen=True, kw_only=True, order=True):
    """A CPython feature release such as 3.10 (or 3.13t, free-threaded); ordered by
    (major, minor, free-threaded)."""

    major: int
    minor: int
    freethreaded: bool = False

    @classmethod
    def parse(cls, text: str) -> PythonVersion:
        match = _PY_RE.match(text.strip())
        if not match:
            raise InputError(
                f"malformed Python version {text!r}",
                hint="give MAJOR.MINOR, e.g. 3.10 (3.13t for a free-threaded build)",
            )
        return cls(
            major=int(match.group(1)),
            minor=int(match.group(2)),
            freethreaded=bool(match.group(3)),
        )

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}{'t' if self.freethreaded else ''}"
