"""Judge what the probe found: each check pass, warn, fail or skip, with known causes.

Pure: :func:`evaluate` takes the probe's result, the host report, the expectations,
the compatibility matrix and the knowledge base, and returns a :class:`Report`.
Every exception text the probe captured and the words of every failed or warned check
are matched against the knowledge base; a match names the cause and the fix.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msgspec import Struct, field
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from torchlock.envs.knowledge import KnowledgeBase, KnownFailure
from torchlock.envs.probe import (
    CapturedWarning,
    ErrorText,
    Operation,
    ProbeFailure,
    ProbeResult,
    steps_warnings,
)
from torchlock.errors import InputError
from torchlock.matrix.model import ArchTarget, Matrix, Variant
from torchlock.matrix.select import Policy, judge_driver
from torchlock.system.model import DriverStatus, HostReport
from torchlock.target import OS, ComputeCapability

PACKAGES = ("torch", "torchvision", "torchaudio")
NO_GPU = "no NVIDIA GPU on this host: GPU checks skipped"


class Status(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class Expectations(Struct, frozen=True, kw_only=True):
    """What the environment should hold: versions (with local labels), variant, Python."""

    versions: Mapping[str, Version] = field(default_factory=dict)
    variant: Variant | None = None  # the build variant (cu121, cpu); else the torch label's
    python: str | None = None  # X.Y
    source: str | None = None  # "--expect", a lock file's path, ...

    @classmethod
    def parse(cls, specs: Sequence[str], source: str = "--expect") -> Expectations:
        """``NAME==VERSION`` items, e.g. ``torch==2.1.2+cu121``."""
        versions: dict[str, Version] = {}
        for spec in specs:
            name, sep, text = spec.partition("==")
            name = name.strip().lower()
            if not sep or name not in PACKAGES or not text.strip():
                raise InputError(
                    f"malformed expectation {spec!r}",
                    hint="give NAME==VERSION for torch, torchvision or torchaudio, "
                    "e.g. --expect torch==2.1.2+cu121",
                )
            try:
                versions[name] = Version(text.strip())
            except InvalidVersion:
                raise InputError(f"malformed version in expectation {spec!r}") from None
        return cls(versions=versions, source=source if versions else None)

    def over(self, base: Expectations) -> Expectations:
        """These expectations, falling back to ``base`` for what they do not say."""
        if base.source is None:
            return self
        if self.source is None:
            return base
        return Expectations(
            versions={**base.versions, **self.versions},
            variant=self.variant or base.variant,
            python=self.python or base.python,
            source=f"{base.source} and {self.source}",
        )

    def expected_variant(self) -> Variant | None:
        """The build variant: stated, else the one the expected torch's local label names."""
        if self.variant is not None:
            return self.variant
        torch = self.versions.get("torch")
        if torch is None or not torch.local:
            return None
        try:
            return Variant.parse(torch.local)
        except InputError:
            return None


class Diagnosis(Struct, frozen=True, kw_only=True):
    """A known failure this report shows: where, and what the knowledge base says."""

    failure: KnownFailure
    checks: tuple[str, ...]
    matched: str


class Check(Struct, frozen=True, kw_only=True):
    id: str
    title: str
    status: Status
    detail: str
    evidence: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()  # ids of known failures that explain it


class Report(Struct, frozen=True, kw_only=True):
    python: str  # the interpreter probed
    python_version: str | None
    gpu_host: bool
    checks: tuple[Check, ...]
    diagnoses: tuple[Diagnosis, ...]
    notes: tuple[str, ...] = ()
    probe: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(check.status is not Status.FAIL for check in self.checks)

    def count(self, status: Status) -> int:
        return sum(1 for check in self.checks if check.status is status)


# -- building checks -------------------------------------------------------------------


class _Draft(Struct):
    """A check being built, with the texts the knowledge base will look at."""

    id: str
    title: str
    status: Status
    detail: str
    evidence: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def _error_lines(error: ErrorText) -> list[str]:
    lines = [error.text]
    tail = [line for line in error.traceback.strip().splitlines() if line.strip()][-6:-1]
    return lines + [f"  {line.strip()}" for line in tail] if tail else lines


def _with_error(draft: _Draft, error: ErrorText | None) -> _Draft:
    if error is not None:
        draft.evidence.extend(_error_lines(error))
        draft.texts.extend([error.text, error.traceback])
    return draft


def _with_warnings(draft: _Draft, warnings: Iterable[CapturedWarning]) -> _Draft:
    for warning in warnings:
        draft.evidence.append(f"{warning.category}: {warning.message.strip()}")
        draft.texts.append(warning.message)
    return draft


def _same(text: str | None, wanted: Version) -> bool:
    """PEP 440 ``==``: a wanted version without a local label matches any label."""
    if text is None:
        return False
    try:
        return SpecifierSet(f"=={wanted}").contains(Version(text), prereleases=True)
    except InvalidVersion:
        return text == str(wanted)


def _version_check(
    name: str, installed: str | None, runtime: str | None, expect: Expectations
) -> _Draft:
    """Installed version vs expected. ``runtime`` is the module's ``__version__``.

    Wheels from the default index carry no local label in their metadata (torch 2.11.0)
    while ``torch.__version__`` names the build (2.11.0+cu130): either satisfies the
    expectation.
    """
    wanted = expect.versions.get(name)
    check_id = f"{name}.installed"
    if installed is None:
        if wanted is not None:
            return _Draft(
                check_id, name, Status.FAIL, f"not installed; {expect.source} wants {wanted}"
            )
        status = Status.FAIL if name == "torch" else Status.SKIP
        return _Draft(check_id, name, status, "not installed in this environment")
    shown = installed
    if runtime and runtime != installed:
        shown = f"{installed} (__version__ {runtime})"
    if wanted is None:
        note = "not compared: give --expect or --lock" if not expect.versions else "not expected"
        return _Draft(check_id, name, Status.PASS, f"{shown} ({note})")
    if _same(installed, wanted) or _same(runtime, wanted):
        return _Draft(check_id, name, Status.PASS, f"{shown} as {expect.source} wants")
    return _Draft(check_id, name, Status.FAIL, f"{shown} installed, {expect.source} wants {wanted}")


def _python_check(probe: ProbeResult, expect: Expectations) -> _Draft:
    got = ".".join(probe.python_version.split(".")[:2])
    detail = f"{probe.python_version} at {probe.executable}"
    if expect.python is None or expect.python == got:
        return _Draft("python", "Python", Status.PASS, detail)
    return _Draft(
        "python",
        "Python",
        Status.FAIL,
        f"{detail}, but {expect.source} is for Python {expect.python}",
    )


def _cuda_variant(cuda: str) -> Variant | None:
    parts = cuda.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    try:
        return Variant.parse(f"cu{parts[0]}{parts[1]}")
    except InputError:
        return None


def _has_driver(host: HostReport) -> bool:
    return host.driver.status is not DriverStatus.ABSENT


def _build_check(probe: ProbeResult, host: HostReport, expect: Expectations) -> _Draft:
    torch = probe.torch
    title = "torch build"
    wanted = expect.expected_variant()
    if torch.hip:
        return _Draft("torch.cuda_build", title, Status.PASS, f"ROCm {torch.hip} build")
    got = (
        f"CUDA {torch.cuda} build" if torch.cuda else "CPU-only build (torch.version.cuda is None)"
    )
    if wanted is not None:
        if wanted.cuda_version == torch.cuda or (wanted.name == "cpu" and torch.cuda is None):
            return _Draft(
                "torch.cuda_build", title, Status.PASS, f"{got}, as {expect.source} wants"
            )
        want = f"CUDA {wanted.cuda_version}" if wanted.cuda_version else wanted.name
        return _Draft(
            "torch.cuda_build",
            title,
            Status.FAIL,
            f"{got}, but {expect.source} wants {want} ({wanted.name})",
        )
    if torch.cuda is None and _has_driver(host):
        driver = host.driver.version or host.driver.status.value
        draft = _Draft(
            "torch.cuda_build",
            title,
            Status.FAIL,
            f"a CPU-only build of torch on a host with an NVIDIA driver ({driver})",
        )
        draft.texts.append(draft.detail)
        return draft
    if torch.cuda is None:
        return _Draft(
            "torch.cuda_build", title, Status.PASS, f"{got}; this host has no NVIDIA driver"
        )
    return _Draft("torch.cuda_build", title, Status.PASS, got)


def _driver_check(probe: ProbeResult, host: HostReport, matrix: Matrix, os: OS) -> _Draft:
    title = "driver vs build"
    cuda = probe.torch.cuda
    if cuda is None:
        return _Draft("driver", title, Status.SKIP, "not a CUDA build")
    driver = host.driver
    if driver.version is None:
        return _Draft(
            "driver",
            title,
            Status.SKIP,
            f"driver version unknown ({driver.status.value}: {driver.detail or 'not found'})",
        )
    variant = _cuda_variant(cuda)
    if variant is None or variant.cuda is None:
        return _Draft("driver", title, Status.WARN, f"cannot read torch.version.cuda {cuda!r}")
    if matrix.first_toolkit(*variant.cuda) is None:
        return _Draft(
            "driver",
            title,
            Status.WARN,
            f"torchlock does not know the minimum driver of CUDA {cuda}; driver {driver.version}",
        )
    verdict = judge_driver(matrix, variant, driver.version, os, Policy.COMPAT)
    if not verdict.admitted:
        draft = _Draft(
            "driver",
            title,
            Status.FAIL,
            f"The NVIDIA driver on your system is too old for this CUDA {cuda} build: "
            f"{verdict.reason}",
        )
        draft.texts.append(draft.detail)
        return draft
    status = Status.WARN if verdict.by_compat else Status.PASS
    return _Draft(
        "driver", title, status, f"driver {driver.version} runs CUDA {cuda}: {verdict.reason}"
    )


def _available_check(probe: ProbeResult, gpu_host: bool) -> _Draft:
    torch = probe.torch
    title = "torch.cuda.is_available()"
    steps = ("cuda.is_available", "cuda.device_count")
    if torch.cuda_available:
        count = torch.device_count if torch.device_count is not None else "?"
        draft = _Draft("cuda.available", title, Status.PASS, f"True, {count} device(s)")
        return _with_warnings(draft, steps_warnings(probe, steps))
    if torch.cuda_available_error is not None:
        draft = _Draft("cuda.available", title, Status.FAIL, "raised an exception")
        return _with_warnings(
            _with_error(draft, torch.cuda_available_error), steps_warnings(probe, steps)
        )
    if not gpu_host:
        return _Draft("cuda.available", title, Status.SKIP, f"False; {NO_GPU}")
    detail = "False"
    if torch.cuda is None:
        detail = (
            "torch.cuda.is_available() is False and torch.version.cuda is None (CPU-only build)"
        )
    draft = _Draft("cuda.available", title, Status.FAIL, detail)
    draft.texts.append(detail)
    return _with_warnings(draft, steps_warnings(probe, steps))


def _arch_targets(arch_list: Sequence[str]) -> tuple[ArchTarget, ...]:
    targets = []
    for entry in arch_list:
        kind, _, digits = entry.partition("_")
        exact = digits.endswith(("a", "f"))
        digits = digits.rstrip("af")
        if not digits.isdigit() or len(digits) < 2 or kind not in ("sm", "compute"):
            continue
        cc = ComputeCapability(major=int(digits[:-1]), minor=int(digits[-1]))
        targets.append(ArchTarget(cc=cc, ptx=kind == "compute", exact=exact and digits[-1:] == "a"))
    return tuple(targets)


def _device_checks(probe: ProbeResult) -> list[_Draft]:
    torch = probe.torch
    drafts: list[_Draft] = []
    targets = _arch_targets(torch.arch_list)
    shown = " ".join(torch.arch_list) or "none"
    for device in torch.devices:
        title = f"GPU {device.index}"
        name = device.name or "unknown GPU"
        cc = device.capability
        if device.error is not None or cc is None:
            draft = _Draft(f"gpu.{device.index}", title, Status.FAIL, f"{name}: could not be read")
            drafts.append(_with_error(draft, device.error))
            continue
        if not targets:
            drafts.append(
                _Draft(
                    f"gpu.{device.index}",
                    title,
                    Status.WARN,
                    f"{name}, compute capability {cc} ({cc.sm}); the build lists no architectures",
                )
            )
            continue
        if any(target.runs_on(cc) for target in targets):
            drafts.append(
                _Draft(
                    f"gpu.{device.index}",
                    title,
                    Status.PASS,
                    f"{name}, compute capability {cc} ({cc.sm}): the build runs on it ({shown})",
                )
            )
            continue
        detail = (
            f"{name} with CUDA capability {cc.sm} is not compatible with the current PyTorch "
            f"installation (the build has {shown})"
        )
        draft = _Draft(f"gpu.{device.index}", title, Status.FAIL, detail)
        draft.texts.append(detail)
        drafts.append(
            _with_warnings(
                draft, steps_warnings(probe, ("cuda.get_device_name", "cuda.get_device_capability"))
            )
        )
    return drafts


def _operation_check(
    check_id: str,
    title: str,
    operation: Operation | None,
    probe: ProbeResult,
    step: str,
    why_not: str,
) -> _Draft:
    if operation is None:
        return _Draft(check_id, title, Status.SKIP, why_not)
    where = "on the GPU" if operation.device.startswith("cuda") else "on the CPU"
    if operation.ok:
        draft = _Draft(check_id, f"{title} {where}", Status.PASS, operation.result)
        return _with_warnings(draft, steps_warnings(probe, (step,)))
    draft = _Draft(check_id, f"{title} {where}", Status.FAIL, operation.result)
    return _with_warnings(_with_error(draft, operation.error), steps_warnings(probe, (step,)))


def _import_check(name: str, probe: ProbeResult) -> _Draft:
    facts = probe.torchvision if name == "torchvision" else probe.torchaudio
    check_id = f"{name}.import"
    title = f"import {name}"
    if probe.distributions.get(name) is None and not facts.imported:
        return _Draft(check_id, title, Status.SKIP, "not installed")
    if not facts.attempted:
        return _Draft(check_id, title, Status.SKIP, "torch did not import")
    if facts.imported:
        draft = _Draft(check_id, title, Status.PASS, f"{name} {facts.version or '?'}")
        return _with_warnings(draft, steps_warnings(probe, (f"import {name}",)))
    draft = _Draft(check_id, title, Status.FAIL, "failed")
    return _with_warnings(
        _with_error(draft, facts.error), steps_warnings(probe, (f"import {name}",))
    )


def cudnn_text(value: int) -> str:
    """cuDNN's integer version in words: 8902 → 8.9.2, 90100 → 9.1.0."""
    if value >= 90000:
        return f"{value // 10000}.{value % 10000 // 100}.{value % 100}"
    return f"{value // 1000}.{value % 1000 // 100}.{value % 100}"


def _cudnn_check(probe: ProbeResult) -> _Draft:
    torch = probe.torch
    if torch.cuda is None:
        return _Draft("cudnn", "cuDNN", Status.SKIP, "not a CUDA build")
    if torch.cudnn_error is not None:
        draft = _Draft("cudnn", "cuDNN", Status.FAIL, "torch.backends.cudnn.version() failed")
        return _with_error(draft, torch.cudnn_error)
    if torch.cudnn is None:
        return _Draft("cudnn", "cuDNN", Status.WARN, "torch.backends.cudnn.version() is None")
    return _Draft("cudnn", "cuDNN", Status.PASS, f"cuDNN {cudnn_text(torch.cudnn)} ({torch.cudnn})")


def _library_path_check(probe: ProbeResult, os: OS) -> _Draft:
    title = "LD_LIBRARY_PATH"
    if os is not OS.LINUX:
        return _Draft("host.ld_library_path", title, Status.SKIP, f"not used on {os.value}")
    if not probe.ld_library_path:
        return _Draft("host.ld_library_path", title, Status.PASS, "not set")
    wheel = set(probe.wheel_cuda_libraries)
    shadows = [(d, sorted(set(d.libraries) & wheel)) for d in probe.ld_library_path]
    shadows = [(d, names) for d, names in shadows if names]
    if shadows:
        lines = [
            f"LD_LIBRARY_PATH entry {d.entry} shadows {', '.join(names)} that the wheels bring"
            for d, names in shadows
        ]
        draft = _Draft("host.ld_library_path", title, Status.WARN, lines[0])
        draft.evidence.extend(lines[1:])
        draft.evidence.extend(
            f"the wheel's copy: {probe.wheel_cuda_libraries[n]}/{n}"
            for _, names in shadows
            for n in names
        )
        draft.texts.extend(lines)
        return draft
    cuda_dirs = [d.entry for d in probe.ld_library_path if d.libraries]
    if cuda_dirs:
        return _Draft(
            "host.ld_library_path",
            title,
            Status.PASS,
            "CUDA libraries in " + ", ".join(cuda_dirs) + " (none of them the wheels bring)",
        )
    return _Draft("host.ld_library_path", title, Status.PASS, "no CUDA libraries in its entries")


def _probe_checks(
    probe: ProbeResult, host: HostReport, expect: Expectations, matrix: Matrix, os: OS
) -> tuple[list[_Draft], bool]:
    torch = probe.torch
    gpu_host = (
        bool(host.gpus) or host.driver.status is not DriverStatus.ABSENT or bool(torch.devices)
    )
    runtime = {
        "torch": torch.version,
        "torchvision": probe.torchvision.version,
        "torchaudio": probe.torchaudio.version,
    }
    drafts = [_python_check(probe, expect)]
    drafts.extend(
        _version_check(name, probe.distributions.get(name), runtime[name], expect)
        for name in PACKAGES
    )
    if torch.imported:
        imported = _Draft(
            "torch.import", "import torch", Status.PASS, f"{torch.version} from {torch.file}"
        )
        drafts.append(_with_warnings(imported, steps_warnings(probe, ("import torch",))))
    elif (
        probe.distributions.get("torch") is None
        and torch.error is not None
        and "No module named" in torch.error.message
    ):
        drafts.append(_Draft("torch.import", "import torch", Status.SKIP, "torch is not installed"))
        return drafts, gpu_host
    else:
        failed = _Draft("torch.import", "import torch", Status.FAIL, "failed")
        drafts.append(
            _with_warnings(
                _with_error(failed, torch.error), steps_warnings(probe, ("import torch",))
            )
        )
    if torch.imported:
        drafts.append(_build_check(probe, host, expect))
        drafts.append(_driver_check(probe, host, matrix, os))
        drafts.append(_available_check(probe, gpu_host))
        drafts.extend(_device_checks(probe))
        drafts.append(
            _operation_check(
                "matmul", "matrix product", probe.matmul, probe, "matmul", "torch did not import"
            )
        )
    drafts.append(_import_check("torchvision", probe))
    if torch.imported and probe.torchvision.imported:
        drafts.append(
            _operation_check(
                "torchvision.nms", "torchvision.ops.nms", probe.nms, probe, "nms", "not run"
            )
        )
    drafts.append(_import_check("torchaudio", probe))
    if torch.imported:
        drafts.append(_cudnn_check(probe))
    drafts.append(_library_path_check(probe, os))
    return drafts, gpu_host


def evaluate(
    probe: ProbeResult | ProbeFailure,
    *,
    host: HostReport,
    expect: Expectations,
    matrix: Matrix,
    knowledge: KnowledgeBase,
    python: str,
    notes: Sequence[str] = (),
) -> Report:
    """Every check of the environment, each known failure with the checks it explains."""
    os = host.os.os
    extra_notes = list(notes)
    if isinstance(probe, ProbeFailure):
        draft = _Draft("probe", "probe", Status.FAIL, f"{probe.python}: {probe.reason}")
        if probe.output:
            draft.evidence.extend(probe.output.strip().splitlines()[-12:])
            draft.texts.append(probe.output)
        gpu_host = bool(host.gpus) or host.driver.status is not DriverStatus.ABSENT
        drafts = [draft]
        raw: Mapping[str, Any] | None = None
        python_version = None
    else:
        drafts, gpu_host = _probe_checks(probe, host, expect, matrix, os)
        raw = probe.raw
        python_version = probe.python_version
        claimed = {w.message for d in drafts for w in probe.warnings if w.message in d.texts}
        loose = [w for w in probe.warnings if w.message not in claimed]
        flagged = [w for w in loose if knowledge.match([w.message])]
        if flagged:
            draft = _Draft("warnings", "warnings", Status.WARN, f"{len(flagged)} known warning(s)")
            drafts.append(_with_warnings(draft, flagged))
        extra_notes.extend(
            f"{w.step}: {w.category}: {w.message.strip()}" for w in loose if w not in flagged
        )
    if not expect.versions:
        extra_notes.append("versions not compared: no --expect or --lock given")
    if not gpu_host:
        extra_notes.insert(0, NO_GPU)
    checks, diagnoses = _diagnose(drafts, knowledge)
    return Report(
        python=python,
        python_version=python_version,
        gpu_host=gpu_host,
        checks=checks,
        diagnoses=diagnoses,
        notes=tuple(extra_notes),
        probe=raw,
    )


def _diagnose(
    drafts: Sequence[_Draft], knowledge: KnowledgeBase
) -> tuple[tuple[Check, ...], tuple[Diagnosis, ...]]:
    found: dict[str, tuple[KnownFailure, list[str], str]] = {}
    checks = []
    for draft in drafts:
        ids: list[str] = []
        if draft.status in (Status.FAIL, Status.WARN):
            for match in knowledge.match(draft.texts):
                ids.append(match.failure.id)
                entry = found.setdefault(match.failure.id, (match.failure, [], match.matched))
                entry[1].append(draft.id)
        checks.append(
            Check(
                id=draft.id,
                title=draft.title,
                status=draft.status,
                detail=draft.detail,
                evidence=tuple(draft.evidence),
                diagnoses=tuple(ids),
            )
        )
    order = {failure.id: i for i, failure in enumerate(knowledge.failures)}
    diagnoses = tuple(
        Diagnosis(failure=failure, checks=tuple(where), matched=matched)
        for failure, where, matched in sorted(found.values(), key=lambda e: order[e[0].id])
    )
    return tuple(checks), diagnoses


# -- rendering ----------------------------------------------------------------------------


def report_to_dict(report: Report, *, include_probe: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = {
        "python": report.python,
        "python_version": report.python_version,
        "ok": report.ok,
        "gpu_host": report.gpu_host,
        "summary": {status.value: report.count(status) for status in Status},
        "checks": [
            {
                "id": check.id,
                "title": check.title,
                "status": check.status.value,
                "detail": check.detail,
                "evidence": list(check.evidence),
                "diagnoses": list(check.diagnoses),
            }
            for check in report.checks
        ],
        "diagnoses": [
            {
                "id": d.failure.id,
                "title": d.failure.title,
                "checks": list(d.checks),
                "matched": d.matched,
                "cause": d.failure.cause,
                "fix": d.failure.fix,
                "sources": list(d.failure.sources),
            }
            for d in report.diagnoses
        ],
        "notes": list(report.notes),
    }
    if include_probe:
        document["probe"] = dict(report.probe) if report.probe is not None else None
    return document


def report_to_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), sort_keys=True, indent=2) + "\n"
