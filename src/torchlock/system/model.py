"""What torchlock found on a host, each fact with where it came from."""

from __future__ import annotations

import enum

from msgspec import Struct

from torchlock.target import OS, Arch, ComputeCapability, DriverVersion


class DriverStatus(enum.Enum):
    OK = "ok"  # a driver version is known
    ABSENT = "absent"  # no NVIDIA driver on this host
    BROKEN = "broken"  # installed but not answering (nvidia-smi fails to talk to it)


class DriverInfo(Struct, frozen=True, kw_only=True):
    status: DriverStatus
    version: DriverVersion | None
    source: str | None  # "--driver", "TORCHLOCK_DRIVER", "/sys/module/nvidia/version", ...
    cuda: str | None = None  # the CUDA version the driver reports (nvidia-smi header / NVML)
    cuda_source: str | None = None
    detail: str | None = None  # why it is absent or broken, in words


class Gpu(Struct, frozen=True, kw_only=True):
    index: int
    name: str
    memory_mib: int | None
    compute_capability: ComputeCapability | None
    cc_source: str | None  # "nvidia-smi compute_cap", "GPU name table", "--gpu-cc", "NVML"
    uuid: str | None = None
    source: str = "nvidia-smi"


class OsInfo(Struct, frozen=True, kw_only=True):
    os: OS
    arch: Arch
    distro: str | None  # e.g. "ubuntu", "rhel", "debian"; None off Linux
    version: str | None  # e.g. "22.04", "9.3", "10.0.19045"
    pretty: str | None
    wsl: bool = False
    source: str = "platform"


class Toolkit(Struct, frozen=True, kw_only=True):
    version: str  # e.g. "12.0" as nvcc prints "release 12.0"
    build: str | None  # e.g. "V12.0.140"
    path: str
    source: str = "nvcc --version"


class Tool(Struct, frozen=True, kw_only=True):
    name: str  # conda, mamba, micromamba, uv
    path: str
    version: str | None = None


class Interpreter(Struct, frozen=True, kw_only=True):
    version: str  # full, e.g. "3.10.13"
    path: str
    source: str  # "PATH", "pyenv", "py launcher", "uv", "running"


class HostReport(Struct, frozen=True, kw_only=True):
    os: OsInfo
    driver: DriverInfo
    gpus: tuple[Gpu, ...]
    toolkit: Toolkit | None
    tools: tuple[Tool, ...]
    pythons: tuple[Interpreter, ...]
    cuda_library_paths: tuple[str, ...]  # LD_LIBRARY_PATH entries holding CUDA libraries
    notes: tuple[str, ...] = ()
