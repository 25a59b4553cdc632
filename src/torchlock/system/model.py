"""What torchlock found on a host, each fact with where it came from."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torchlock.target import OS, Arch, ComputeCapability, DriverVersion


class DriverStatus(enum.Enum):
    OK = "ok"  # a driver version is known
    ABSENT = "absent"  # no NVIDIA driver on this host
    BROKEN = "broken"  # installed but not answering (nvidia-smi fails to talk to it)


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverInfo:
    status: DriverStatus
    version: DriverVersion | None
    source: str | None  # "--driver", "TORCHLOCK_DRIVER", "/sys/module/nvidia/version", ...
    cuda: str | None = None  # the CUDA version the driver reports (nvidia-smi header / NVML)
    cuda_source: str | None = None
    detail: str | None = None  # why it is absent or broken, in words


@dataclass(frozen=True, slots=True, kw_only=True)
class Gpu:
    index: int
    name: str
    memory_mib: int | None
    compute_capability: ComputeCapability | None
    cc_source: str | None  # "nvidia-smi compute_cap", "GPU name table", "--gpu-cc", "NVML"
    uuid: str | None = None
    source: str = "nvidia-smi"


@dataclass(frozen=True, slots=True, kw_only=True)
class OsInfo:
    os: OS
    arch: Arch
    distro: str | None  # e.g. "ubuntu", "rhel", "debian"; None off Linux
    version: str | None  # e.g. "22.04", "9.3", "10.0.19045"
    pretty: str | None
    wsl: bool = False
    source: str = "platform"


@dataclass(frozen=True, slots=True, kw_only=True)
class Toolkit:
    version: str  # e.g. "12.0" as nvcc prints "release 12.0"
    build: str | None  # e.g. "V12.0.140"
    path: str
    source: str = "nvcc --version"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    name: str  # conda, mamba, micromamba, uv
    path: str
    version: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Interpreter:
    version: str  # full, e.g. "3.10.13"
    path: str
    source: str  # "PATH", "pyenv", "py launcher", "uv", "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostReport:
    os: OsInfo
    driver: DriverInfo
    gpus: tuple[Gpu, ...]
    toolkit: Toolkit | None
    tools: tuple[Tool, ...]
    pythons: tuple[Interpreter, ...]
    cuda_library_paths: tuple[str, ...]  # LD_LIBRARY_PATH entries holding CUDA libraries
    notes: tuple[str, ...] = ()
