"""Pure parsers for what ``nvidia-smi`` prints.

Two invocations matter: the default table (its header names the driver and
the CUDA version the driver supports) and
``--query-gpu=index,name,memory.total,compute_cap,uuid --format=csv,noheader,nounits``.
Drivers older than the ``compute_cap`` field reject the whole query; callers
then ask again with :data:`QUERY_FIELDS_NO_CC`.
"""

from __future__ import annotations

import enum
import re

from msgspec import Struct

from torchlock.errors import InputError
from torchlock.system.model import Gpu
from torchlock.target import ComputeCapability, DriverVersion

QUERY_FIELDS = ("index", "name", "memory.total", "compute_cap", "uuid")
QUERY_FIELDS_NO_CC = ("index", "name", "memory.total", "uuid")
CC_SOURCE = "nvidia-smi compute_cap"


def query_argv(program: str, *, with_cc: bool = True) -> tuple[str, ...]:
    fields = QUERY_FIELDS if with_cc else QUERY_FIELDS_NO_CC
    return (program, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits")


# "Driver Version:" until R580; R610 headers say "KMD Version:" and "CUDA UMD Version:".
_DRIVER_RE = re.compile(r"(?:Driver|KMD) Version:\s*(\d+(?:\.\d+)+)")
_CUDA_RE = re.compile(r"CUDA(?: UMD)? Version:\s*(\d+\.\d+)")


class SmiHeader(Struct, frozen=True, kw_only=True):
    driver: DriverVersion | None
    cuda: str | None  # the newest CUDA the driver supports, e.g. "12.0"


def parse_header(text: str) -> SmiHeader:
    """The driver and CUDA versions from the default table's banner (either may be absent)."""
    driver: DriverVersion | None = None
    match = _DRIVER_RE.search(text)
    if match:
        try:
            driver = DriverVersion.parse(match.group(1))
        except InputError:
            driver = None
    cuda_match = _CUDA_RE.search(text)
    return SmiHeader(driver=driver, cuda=cuda_match.group(1) if cuda_match else None)


class SmiState(enum.Enum):
    OK = "ok"
    NO_DEVICES = "no devices"  # driver answers but there is no GPU
    BROKEN = "broken"  # driver not loaded, library mismatch, or another failure
    UNKNOWN_FIELD = "unknown field"  # a --query-gpu field this driver does not know


_BROKEN_MARKERS = (
    "couldn't communicate with the nvidia driver",
    "failed to initialize nvml",
    "nvidia-smi has failed",
    "unable to determine the device handle",
    "driver/library version mismatch",
)


def classify(returncode: int, output: str) -> SmiState:
    """What an nvidia-smi run says about the driver, from its exit status and output."""
    lowered = output.lower()
    if "is not a valid field to query" in lowered:
        return SmiState.UNKNOWN_FIELD
    if "no devices were found" in lowered:
        return SmiState.NO_DEVICES
    if any(marker in lowered for marker in _BROKEN_MARKERS):
        return SmiState.BROKEN
    if returncode != 0:
        return SmiState.BROKEN
    return SmiState.OK


def message(output: str) -> str:
    """The first non-empty line of a failing run's output, for a report."""
    for line in output.splitlines():
        if line.strip():
            return line.strip()
    return "(no output)"


class GpuQuery(Struct, frozen=True, kw_only=True):
    gpus: tuple[Gpu, ...]
    unparsed: tuple[str, ...] = ()  # lines that did not have the expected fields


def _optional(value: str) -> str | None:
    text = value.strip()
    if not text or text.strip("[]").upper() in {"N/A", "NOT SUPPORTED", "UNKNOWN ERROR"}:
        return None
    return text


def _parse_line(line: str, *, with_cc: bool) -> Gpu | None:
    head, sep, rest = line.partition(",")
    if not sep or not head.strip().isdigit():
        return None
    tail_count = 3 if with_cc else 2
    parts = rest.rsplit(",", tail_count)
    if len(parts) != tail_count + 1:
        return None
    name = parts[0].strip()
    memory_text = _optional(parts[1])
    memory = int(float(memory_text)) if memory_text and _is_number(memory_text) else None
    cc: ComputeCapability | None = None
    if with_cc:
        cc_text = _optional(parts[2])
        if cc_text is not None:
            try:
                cc = ComputeCapability.parse(cc_text)
            except InputError:
                cc = None
    uuid = _optional(parts[-1])
    if not name:
        return None
    return Gpu(
        index=int(head.strip()),
        name=name,
        memory_mib=memory,
        compute_capability=cc,
        cc_source=CC_SOURCE if cc is not None else None,
        uuid=uuid,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_gpu_query(text: str, *, with_cc: bool = True) -> GpuQuery:
    """GPUs from ``--query-gpu`` CSV output (``noheader,nounits``), in index order.

    The name is taken between the first and the last fields, so a name that
    holds a comma survives. Lines that do not fit are returned in ``unparsed``.
    """
    gpus: list[Gpu] = []
    unparsed: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        gpu = _parse_line(line, with_cc=with_cc)
        if gpu is None:
            unparsed.append(line)
        else:
            gpus.append(gpu)
    gpus.sort(key=lambda gpu: gpu.index)
    return GpuQuery(gpus=tuple(gpus), unparsed=tuple(unparsed))
