"""The NVIDIA driver asked directly through NVML (libnvidia-ml.so.1 / nvml.dll) via ctypes.

A fallback for hosts without a usable nvidia-smi. Everything here is guarded:
any failure (no library, no symbol, an NVML error code) gives None, never an
exception. No test host of this project has a GPU, so keep this small.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

from msgspec import Struct

from torchlock.target import ComputeCapability

LINUX_LIBRARIES = ("libnvidia-ml.so.1",)
_NVML_SUCCESS = 0
_DRIVER_BUFFER = 80  # NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
_NAME_BUFFER = 96  # NVML_DEVICE_NAME_V2_BUFFER_SIZE
_MAX_DEVICES = 64


def windows_libraries(program_files: str, system_root: str) -> tuple[str, ...]:
    return (
        f"{system_root}\\System32\\nvml.dll",
        f"{program_files}\\NVIDIA Corporation\\NVSMI\\nvml.dll",
    )


class NvmlGpu(Struct, frozen=True, kw_only=True):
    index: int
    name: str
    memory_mib: int | None
    compute_capability: ComputeCapability | None


class NvmlReport(Struct, frozen=True, kw_only=True):
    library: str
    driver: str | None  # "580.65.06"
    cuda: str | None  # "13.0"
    gpus: tuple[NvmlGpu, ...]


class _Memory(ctypes.Structure):
    _fields_ = (
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    )


def _load(candidates: Sequence[str]) -> tuple[str, ctypes.CDLL] | None:
    for candidate in candidates:
        try:
            return candidate, ctypes.CDLL(candidate)
        except OSError:
            continue
    return None


def _cuda_text(value: int) -> str:
    return f"{value // 1000}.{(value % 1000) // 10}"


def _gpu(lib: ctypes.CDLL, index: int) -> NvmlGpu | None:
    handle = ctypes.c_void_p()
    if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(handle)):
        return None
    name = ctypes.create_string_buffer(_NAME_BUFFER)
    if lib.nvmlDeviceGetName(handle, name, ctypes.c_uint(_NAME_BUFFER)):
        return None
    major, minor = ctypes.c_int(), ctypes.c_int()
    cc: ComputeCapability | None = None
    if not lib.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor)):
        cc = ComputeCapability(major=major.value, minor=minor.value)
    memory = _Memory()
    memory_mib = None
    if not lib.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)):
        memory_mib = memory.total // (1024 * 1024)
    return NvmlGpu(
        index=index,
        name=name.value.decode("utf-8", "replace"),
        memory_mib=memory_mib,
        compute_capability=cc,
    )


def query_nvml(candidates: Sequence[str]) -> NvmlReport | None:
    """Driver version, CUDA version and GPUs from the first NVML library that loads."""
    try:
        loaded = _load(candidates)
        if loaded is None:
            return None
        path, lib = loaded
        if lib.nvmlInit_v2() != _NVML_SUCCESS:
            return None
        try:
            buffer = ctypes.create_string_buffer(_DRIVER_BUFFER)
            driver = None
            if not lib.nvmlSystemGetDriverVersion(buffer, ctypes.c_uint(_DRIVER_BUFFER)):
                driver = buffer.value.decode("ascii", "replace") or None
            cuda_value = ctypes.c_int()
            cuda = None
            if not lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda_value)):
                cuda = _cuda_text(cuda_value.value) if cuda_value.value > 0 else None
            count = ctypes.c_uint()
            gpus: list[NvmlGpu] = []
            if not lib.nvmlDeviceGetCount_v2(ctypes.byref(count)):
                for index in range(min(count.value, _MAX_DEVICES)):
                    gpu = _gpu(lib, index)
                    if gpu is not None:
                        gpus.append(gpu)
            return NvmlReport(library=path, driver=driver, cuda=cuda, gpus=tuple(gpus))
        finally:
            lib.nvmlShutdown()
    except Exception:  # any ctypes/NVML surprise means: NVML did not answer
        return None
