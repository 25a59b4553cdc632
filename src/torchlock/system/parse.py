"""Small pure parsers for the rest of what detection reads.

Each takes the text a file or program gave and returns model values, or None
when the text does not say.
"""

from __future__ import annotations

import re

from msgspec import Struct

from torchlock.errors import InputError
from torchlock.target import Arch, DriverVersion

# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  525.85.05  Sat Jan 28 ..." and the open
# module's "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build ..."
_PROC_DRIVER_RE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)(?:\s|$)")


def _driver(text: str) -> DriverVersion | None:
    try:
        return DriverVersion.parse(text)
    except InputError:
        return None


def parse_proc_driver_version(text: str) -> DriverVersion | None:
    """The driver version from /proc/driver/nvidia/version."""
    match = _PROC_DRIVER_RE.search(text)
    return _driver(match.group(1)) if match else None


def parse_sys_module_version(text: str) -> DriverVersion | None:
    """The driver version from /sys/module/nvidia/version (the whole file is the version)."""
    return _driver(text.strip()) if text.strip() else None


def parse_arch(machine: str) -> Arch | None:
    """x86_64/amd64/x64 and aarch64/arm64 as :class:`Arch`; None for anything else."""
    try:
        return Arch.parse(machine)
    except InputError:
        return None


_PYTHON_VERSION_RE = re.compile(r"Python\s+(\d+\.\d+\.\d+\S*)")


def parse_python_version(text: str) -> str | None:
    """ "Python 3.11.7" (what ``python --version`` prints) -> "3.11.7"."""
    match = _PYTHON_VERSION_RE.search(text)
    return match.group(1) if match else None


class LauncherEntry(Struct, frozen=True, kw_only=True):
    version: str  # "3.12", "3.9-64" is reported as "3.9"
    path: str


# " -V:3.12 *        C:\...\python.exe" (py >= 3.11) and " -3.9-64        C:\...\python.exe *"
_PY_LAUNCHER_RE = re.compile(
    r"^\s*-(?:V:)?(?:[^\s/\\]+/)?(\d+\.\d+t?)(?:-(?:32|64|arm64))?\s*\*?\s+(.+?)(?:\s+\*)?\s*$"
)


def parse_py_launcher(text: str) -> tuple[LauncherEntry, ...]:
    """The interpreters ``py -0p`` lists (Windows), in its order."""
    entries: list[LauncherEntry] = []
    for line in text.splitlines():
        match = _PY_LAUNCHER_RE.match(line)
        if match:
            entries.append(LauncherEntry(version=match.group(1), path=match.group(2)))
    return tuple(entries)


_TOOL_VERSION_RE = re.compile(r"(?<![\w.])v?(\d+\.\d+(?:\.\d+)*(?:[.-]?(?:a|b|rc|dev|post)\d*)?)")


def parse_tool_version(text: str) -> str | None:
    """The first version in ``--version`` output: "uv 0.4.18 (...)", "conda 24.1.2", "1.5.8"."""
    for line in text.splitlines():
        match = _TOOL_VERSION_RE.search(line)
        if match:
            return match.group(1)
    return None


_PYENV_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+\S*$")


def pyenv_cpython_versions(names: tuple[str, ...]) -> tuple[str, ...]:
    """The CPython builds among the directory names under $PYENV_ROOT/versions."""
    return tuple(name for name in names if _PYENV_VERSION_RE.match(name))


_PYTHON_NAME_RE = re.compile(r"^python3(?:\.\d+t?)?(?:\.exe)?$", re.IGNORECASE)


def is_python_name(name: str) -> bool:
    """python3, python3.X, python3.13t, python3.exe; not python3-config nor python3.11-gdb.py."""
    return bool(_PYTHON_NAME_RE.match(name))


_CUDA_LIB_RE = re.compile(r"^lib(?:cudart|cublas|cublasLt|nvJitLink|cudnn)\.so(?:\.|$)")


def is_cuda_library(name: str) -> bool:
    """libcudart.so*, libcublas.so*, libnvJitLink.so*, libcudnn.so* (and libcublasLt)."""
    return bool(_CUDA_LIB_RE.match(name))
