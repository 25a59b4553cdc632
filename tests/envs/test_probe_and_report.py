"""The probe's answer read into values, and the checks judged from them (pure)."""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from torchlock.envs.knowledge import load_knowledge
from torchlock.envs.probe import (
    ProbeFailure,
    ProbeResult,
    parse_probe,
    probe_argv,
    probe_source,
    run_probe,
)
from torchlock.envs.report import (
    NO_GPU,
    Expectations,
    Report,
    Status,
    cudnn_text,
    evaluate,
    report_to_json,
)
from torchlock.errors import InputError
from torchlock.matrix.load import load_matrix
from torchlock.system.model import DriverInfo, DriverStatus, Gpu, HostReport, OsInfo
from torchlock.system.runner import Completed, NotFound, RunResult, TimedOut
from torchlock.target import OS, Arch, ComputeCapability, DriverVersion


class ScriptedRunner:
    """Answers every run with one prepared result (the outside world, not our code)."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, timeout: float) -> RunResult:
        self.calls.append(tuple(argv))
        return self.result


def host(driver: str | None = None, gpus: Sequence[tuple[str, str]] = ()) -> HostReport:
    return HostReport(
        os=OsInfo(os=OS.LINUX, arch=Arch.X86_64, distro="ubuntu", version="22.04", pretty=None),
        driver=DriverInfo(
            status=DriverStatus.OK if driver else DriverStatus.ABSENT,
            version=DriverVersion.parse(driver) if driver else None,
            source="--driver" if driver else None,
        ),
        gpus=tuple(
            Gpu(
                index=i,
                name=name,
                memory_mib=None,
                compute_capability=ComputeCapability.parse(cc),
                cc_source="test",
            )
            for i, (name, cc) in enumerate(gpus)
        ),
        toolkit=None,
        tools=(),
        pythons=(),
        cuda_library_paths=(),
    )


def document(**torch: Any) -> dict[str, Any]:
    """A probe document of a healthy cu121 install on one A100, with torch facts replaced."""
    facts: dict[str, Any] = {
        "imported": True,
        "error": None,
        "version": "2.1.2+cu121",
        "file": "/env/torch/__init__.py",
        "cuda": "12.1",
        "hip": None,
        "cuda_available": True,
        "device_count": 1,
        "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
        "cudnn": 8902,
        "devices": [{"index": 0, "name": "NVIDIA A100", "capability": [8, 0], "error": None}],
    }
    facts.update(torch)
    return {
        "schema": 1,
        "python": {"version": "3.10.13", "executable": "/env/bin/python", "platform": "linux"},
        "distributions": {
            "torch": {"version": facts["version"]},
            "torchvision": {"version": "0.16.2+cu121"},
            "torchaudio": None,
        },
        "wheel_cuda_libraries": {},
        "ld_library_path": [],
        "torch": facts,
        "torchvision": {"imported": True, "attempted": True, "error": None, "version": "0.16.2"},
        "torchaudio": {"imported": False, "attempted": True, "error": None, "version": None},
        "operations": {
            "matmul": {"device": "cuda:0", "value": 512.0, "expected": 512.0, "error": None},
            "nms": {"device": "cuda:0", "kept": [0, 2], "expected": [0, 2], "error": None},
        },
        "warnings": [],
        "printed": "",
    }


def judge(
    doc: dict[str, Any] | ProbeFailure,
    host_report: HostReport,
    expect: Expectations | None = None,
) -> Report:
    probe = doc if isinstance(doc, ProbeFailure) else parse_probe(doc)
    return evaluate(
        probe,
        host=host_report,
        expect=expect or Expectations(),
        matrix=load_matrix(),
        knowledge=load_knowledge(),
        python="/env/bin/python",
    )


def statuses(report: Report) -> dict[str, Status]:
    return {check.id: check.status for check in report.checks}


def test_probe_source_is_standalone() -> None:
    source = probe_source()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    ast.parse(source, feature_version=(3, 8))  # environments of older torch run older Pythons
    assert probe_argv("/env/bin/python") == ["/env/bin/python", "-c", source]


def test_run_probe_reads_the_last_json_line() -> None:
    stdout = "something torch printed\n" + json.dumps(document()) + "\n"
    runner = ScriptedRunner(Completed(argv=("p",), returncode=0, stdout=stdout, stderr=""))
    result = run_probe("/env/bin/python", runner, timeout=5)
    assert isinstance(result, ProbeResult)
    assert result.torch.version == "2.1.2+cu121"
    assert result.torch.devices[0].capability == ComputeCapability(major=8, minor=0)
    assert runner.calls[0][:2] == ("/env/bin/python", "-c")


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (NotFound(argv=("p",)), "was not found"),
        (TimedOut(argv=("p",), timeout=5), "did not answer within 5 s"),
        (
            Completed(argv=("p",), returncode=139, stdout="", stderr="Segmentation fault"),
            "exited with status 139 without the probe's JSON document",
        ),
        (
            Completed(argv=("p",), returncode=0, stdout='{"schema": 7}\n', stderr=""),
            "unknown probe document schema 7",
        ),
    ],
)
def test_run_probe_failures(result: RunResult, reason: str) -> None:
    found = run_probe("/env/bin/python", ScriptedRunner(result), timeout=5)
    assert isinstance(found, ProbeFailure)
    assert reason in found.reason
    assert found.python == "/env/bin/python"


def test_healthy_install_passes() -> None:
    report = judge(document(), host("535.129.03", [("NVIDIA A100", "8.0")]))
    assert report.ok
    assert set(statuses(report).values()) <= {Status.PASS, Status.SKIP}
    assert statuses(report)["torchaudio.installed"] is Status.SKIP
    assert report.diagnoses == ()
    assert NO_GPU not in report.notes
    assert json.loads(report_to_json(report))["summary"]["fail"] == 0


def test_ptx_covers_a_newer_gpu_and_sass_needs_the_same_major() -> None:
    ptx = document(
        arch_list=["sm_80", "sm_86", "sm_90", "compute_90"],
        devices=[{"index": 0, "name": "RTX 5090", "capability": [12, 0]}],
    )
    assert statuses(judge(ptx, host("575.51.03")))["gpu.0"] is Status.PASS
    minor = document(devices=[{"index": 0, "name": "L4", "capability": [8, 9]}])
    assert statuses(judge(minor, host("575.51.03")))["gpu.0"] is Status.PASS
    old = document(devices=[{"index": 0, "name": "Tesla K80", "capability": [3, 7]}])
    report = judge(old, host("575.51.03"))
    check = next(c for c in report.checks if c.id == "gpu.0")
    assert check.status is Status.FAIL
    assert check.diagnoses == ("gpu-arch-unsupported",)


def test_driver_admitted_only_by_minor_version_compatibility_warns() -> None:
    report = judge(document(), host("525.85.05"))
    check = next(c for c in report.checks if c.id == "driver")
    assert check.status is Status.WARN
    assert "minor version compatibility" in check.detail
    assert report.ok


def test_unknown_cuda_release_warns() -> None:
    report = judge(document(cuda="99.1"), host("999.1"))
    assert statuses(report)["driver"] is Status.WARN


def test_no_gpu_host_skips_gpu_checks() -> None:
    cpu = document(
        version="2.13.0+cpu",
        cuda=None,
        cuda_available=False,
        device_count=0,
        arch_list=[],
        cudnn=None,
        devices=[],
    )
    cpu["operations"]["matmul"]["device"] = "cpu"
    cpu["operations"]["nms"]["device"] = "cpu"
    report = judge(cpu, host())
    assert report.ok
    assert report.notes[0] == NO_GPU
    found = statuses(report)
    assert found["cuda.available"] is Status.SKIP
    assert found["driver"] is Status.SKIP
    assert found["cudnn"] is Status.SKIP
    assert found["matmul"] is Status.PASS


def test_probe_failure_output_is_matched() -> None:
    failure = ProbeFailure(
        python="/env/bin/python",
        reason="exited with status 1",
        output="ImportError: libcudnn.so.8: cannot open shared object file",
    )
    report = judge(failure, host("535.129.03"))
    assert not report.ok
    assert [d.failure.id for d in report.diagnoses] == ["cudnn-missing"]


def test_loose_warnings_known_or_not() -> None:
    doc = document()
    doc["warnings"] = [
        {"step": "nms", "category": "UserWarning", "message": "harmless"},
        {
            "step": "cuda.get_arch_list",
            "category": "UserWarning",
            "message": "X with CUDA capability sm_120 is not compatible with the current PyTorch "
            "installation.",
        },
    ]
    report = judge(doc, host("535.129.03"))
    found = statuses(report)
    assert found["torchvision.nms"] is Status.PASS
    assert found["warnings"] is Status.WARN
    assert any("harmless" in note for note in report.notes) is False  # attached to nms' evidence
    assert [d.failure.id for d in report.diagnoses] == ["gpu-arch-unsupported"]


def test_expectations() -> None:
    expect = Expectations.parse(["torch==2.1.2+cu121", "TorchVision==0.16.2"])
    variant = expect.expected_variant()
    assert variant is not None
    assert variant.name == "cu121"
    assert Expectations.parse(["torch==2.1.2"]).expected_variant() is None
    assert Expectations.parse([]).source is None
    for bad in ("torch", "numpy==1", "torch==not a version"):
        with pytest.raises(InputError):
            Expectations.parse([bad])


def test_cudnn_text() -> None:
    assert cudnn_text(8902) == "8.9.2"
    assert cudnn_text(90100) == "9.1.0"
    assert cudnn_text(8700) == "8.7.0"


def test_metadata_without_local_label_and_runtime_with_it() -> None:
    """Seen on a GPU machine: PyPI's torch 2.11.0 says 2.11.0+cu130 only in __version__."""
    doc = document(version="2.11.0+cu130", cuda="13.0")
    doc["distributions"]["torch"] = {"version": "2.11.0"}
    gpu = host("580.159.04")
    for wanted in ("torch==2.11.0+cu130", "torch==2.11.0"):
        report = judge(doc, gpu, Expectations.parse([wanted]))
        check = next(c for c in report.checks if c.id == "torch.installed")
        assert check.status is Status.PASS, wanted
        assert check.detail == "2.11.0 (__version__ 2.11.0+cu130) as --expect wants"
    report = judge(doc, gpu, Expectations.parse(["torch==2.11.0+cu126"]))
    found = statuses(report)
    assert found["torch.installed"] is Status.FAIL
    assert found["torch.cuda_build"] is Status.FAIL
    assert found["driver"] is Status.PASS
