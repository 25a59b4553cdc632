"""Run the probe inside an environment's interpreter and read its answer.

The probe itself is :mod:`torchlock.envs.probe_script`, a standalone file whose source
is handed to the environment's Python with ``-c``; it prints one JSON document. This
module starts it through a :class:`~torchlock.system.runner.Runner` and turns the
document into typed values. Nothing here raises for what the environment lacks or does
wrong: that is what the probe reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from torchlock.errors import DataError
from torchlock.system.runner import Completed, Runner
from torchlock.target import ComputeCapability

DEFAULT_TIMEOUT = 300.0
SCRIPT = "probe_script.py"
SCHEMA = 1


@cache
def probe_source() -> str:
    """The source text of the probe script shipped with this installation."""
    try:
        return resources.files("torchlock.envs").joinpath(SCRIPT).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise DataError(f"the probe script {SCRIPT} is missing or unreadable") from exc


def probe_argv(python: str) -> list[str]:
    """How the probe is started: the environment's interpreter with the script as -c."""
    return [python, "-c", probe_source()]


class ErrorText(Struct, frozen=True, kw_only=True):
    """An exception the probe caught: its type, message and (shortened) traceback."""

    type: str
    message: str
    traceback: str = ""

    @property
    def text(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class CapturedWarning(Struct, frozen=True, kw_only=True):
    step: str  # the probe step that issued it: "import torch", "matmul", ...
    category: str
    message: str


class Device(Struct, frozen=True, kw_only=True):
    index: int
    name: str | None
    capability: ComputeCapability | None
    error: ErrorText | None = None


class TorchFacts(Struct, frozen=True, kw_only=True):
    imported: bool
    error: ErrorText | None = None
    version: str | None = None
    file: str | None = None
    cuda: str | None = None  # torch.version.cuda
    hip: str | None = None
    cuda_available: bool | None = None
    cuda_available_error: ErrorText | None = None
    device_count: int | None = None
    arch_list: tuple[str, ...] = ()
    arch_list_error: ErrorText | None = None
    cudnn: int | None = None
    cudnn_error: ErrorText | None = None
    devices: tuple[Device, ...] = ()


class ModuleFacts(Struct, frozen=True, kw_only=True):
    imported: bool
    attempted: bool
    error: ErrorText | None = None
    version: str | None = None


class Operation(Struct, frozen=True, kw_only=True):
    """A small computation the probe ran (a matrix product, torchvision.ops.nms)."""

    device: str  # "cuda:0" or "cpu"
    ok: bool
    result: str  # what it computed, in words
    error: ErrorText | None = None


class LibraryDir(Struct, frozen=True, kw_only=True):
    entry: str
    libraries: tuple[str, ...]


class ProbeResult(Struct, frozen=True, kw_only=True):
    """What the probe found inside the environment."""

    python_version: str
    executable: str
    platform: str
    distributions: Mapping[str, str | None]  # torch/torchvision/torchaudio -> version
    wheel_cuda_libraries: Mapping[str, str]  # soname -> directory inside site-packages
    ld_library_path: tuple[LibraryDir, ...]
    torch: TorchFacts
    torchvision: ModuleFacts
    torchaudio: ModuleFacts
    matmul: Operation | None
    nms: Operation | None
    warnings: tuple[CapturedWarning, ...]
    printed: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


class ProbeFailure(Struct, frozen=True, kw_only=True):
    """The interpreter did not produce the probe's document."""

    python: str
    reason: str
    output: str = ""


def run_probe(
    python: str, runner: Runner, *, timeout: float = DEFAULT_TIMEOUT
) -> ProbeResult | ProbeFailure:
    """Start the probe with ``python`` and read what it printed."""
    result = runner.run(probe_argv(python), timeout=timeout)
    if not isinstance(result, Completed):
        return ProbeFailure(python=python, reason=result.describe())
    document = _last_json(result.stdout)
    if document is None:
        return ProbeFailure(
            python=python,
            reason=f"{result.describe()} without the probe's JSON document",
            output=result.output[-4000:],
        )
    try:
        parsed = parse_probe(document)
    except (TypeError, ValueError, KeyError) as exc:
        return ProbeFailure(
            python=python,
            reason=f"the probe's document is malformed: {exc}",
            output=result.stdout[-4000:],
        )
    if isinstance(parsed, ProbeFailure) and parsed.output == "" and result.stderr:
        return replace(parsed, python=python, output=result.stderr[-4000:])
    if isinstance(parsed, ProbeFailure):
        return replace(parsed, python=python)
    return parsed


def _last_json(stdout: str) -> Mapping[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _error(value: Any) -> ErrorText | None:
    if not isinstance(value, dict):
        return None
    return ErrorText(
        type=str(value.get("type") or "Error"),
        message=str(value.get("message") or ""),
        traceback=str(value.get("traceback") or ""),
    )


def _capability(value: Any) -> ComputeCapability | None:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return ComputeCapability(major=value[0], minor=value[1])
    return None


def _operation(value: Any, what: str) -> Operation | None:
    if not isinstance(value, dict):
        return None
    device = str(value.get("device") or "cpu")
    error = _error(value.get("error"))
    if what == "matmul":
        got, expected = value.get("value"), value.get("expected")
        ok = error is None and got == expected
        result = f"8x8 matrix product on {device}: sum {got} (expected {expected})"
    else:
        got, expected = value.get("kept"), value.get("expected")
        ok = error is None and got == expected
        result = f"torchvision.ops.nms on {device}: kept {got} (expected {expected})"
    return Operation(device=device, ok=ok, result=result, error=error)


def _module(value: Any) -> ModuleFacts:
    raw = _obj(value)
    return ModuleFacts(
        imported=bool(raw.get("imported")),
        attempted=bool(raw.get("attempted")),
        error=_error(raw.get("error")),
        version=_str(raw.get("version")),
    )


def parse_probe(document: Mapping[str, Any]) -> ProbeResult | ProbeFailure:
    """Typed values from the probe's JSON document."""
    python = _obj(document.get("python"))
    executable = str(python.get("executable") or "")
    if document.get("schema") != SCHEMA:
        return ProbeFailure(
            python=executable, reason=f"unknown probe document schema {document.get('schema')!r}"
        )
    if "probe_error" in document:
        error = _error(document["probe_error"])
        return ProbeFailure(
            python=executable,
            reason="the probe itself failed",
            output=error.traceback or error.text if error else "",
        )
    raw_torch = _obj(document.get("torch"))
    devices = tuple(
        Device(
            index=int(d.get("index", i)),
            name=_str(d.get("name")),
            capability=_capability(d.get("capability")),
            error=_error(d.get("error")),
        )
        for i, d in enumerate(raw_torch.get("devices") or [])
        if isinstance(d, dict)
    )
    arch = raw_torch.get("arch_list")
    cudnn = raw_torch.get("cudnn")
    count = raw_torch.get("device_count")
    available = raw_torch.get("cuda_available")
    torch = TorchFacts(
        imported=bool(raw_torch.get("imported")),
        error=_error(raw_torch.get("error")),
        version=_str(raw_torch.get("version")),
        file=_str(raw_torch.get("file")),
        cuda=_str(raw_torch.get("cuda")),
        hip=_str(raw_torch.get("hip")),
        cuda_available=available if isinstance(available, bool) else None,
        cuda_available_error=_error(raw_torch.get("cuda_available_error")),
        device_count=count if isinstance(count, int) else None,
        arch_list=tuple(str(a) for a in arch) if isinstance(arch, list) else (),
        arch_list_error=_error(raw_torch.get("arch_list_error")),
        cudnn=cudnn if isinstance(cudnn, int) and not isinstance(cudnn, bool) else None,
        cudnn_error=_error(raw_torch.get("cudnn_error")),
        devices=devices,
    )
    operations = _obj(document.get("operations"))
    distributions = {
        name: _str(_obj(value).get("version"))
        for name, value in _obj(document.get("distributions")).items()
    }
    ld_path = tuple(
        LibraryDir(
            entry=str(item.get("entry")),
            libraries=tuple(str(n) for n in item.get("libraries") or []),
        )
        for item in document.get("ld_library_path") or []
        if isinstance(item, dict) and item.get("entry")
    )
    warnings = tuple(
        CapturedWarning(
            step=str(w.get("step") or ""),
            category=str(w.get("category") or "Warning"),
            message=str(w.get("message") or ""),
        )
        for w in document.get("warnings") or []
        if isinstance(w, dict)
    )
    return ProbeResult(
        python_version=str(python.get("version") or "?"),
        executable=executable,
        platform=str(python.get("platform") or ""),
        distributions=distributions,
        wheel_cuda_libraries={
            str(k): str(v) for k, v in _obj(document.get("wheel_cuda_libraries")).items()
        },
        ld_library_path=ld_path,
        torch=torch,
        torchvision=_module(document.get("torchvision")),
        torchaudio=_module(document.get("torchaudio")),
        matmul=_operation(operations.get("matmul"), "matmul"),
        nms=_operation(operations.get("nms"), "nms"),
        warnings=warnings,
        printed=str(document.get("printed") or ""),
        raw=dict(document),
    )


def steps_warnings(probe: ProbeResult, steps: Sequence[str]) -> tuple[CapturedWarning, ...]:
    """The warnings the probe captured during any of ``steps``."""
    return tuple(w for w in probe.warnings if w.step in steps)
