"""detect_host end to end: captured files under tmp_path, fake programs first on PATH."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.host import WINDOWS, FakeHost, Reply, detect, fixture, smi
from torchlock.errors import DetectionError, InputError
from torchlock.system.host_platform import PlatformInfo
from torchlock.system.model import DriverStatus
from torchlock.system.nvml import NvmlGpu, NvmlReport
from torchlock.system.report import report_to_dict, report_to_json
from torchlock.target import OS, Arch, ComputeCapability

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(root=tmp_path / "host")


def test_healthy_t4_host(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.write("/proc/version", fixture("proc/version-ubuntu.txt"))
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    smi(host, "t4-525.85.05")
    host.program("/usr/local/cuda/bin/nvcc", Reply(stdout=fixture("nvcc/12.0.txt")))
    host.program("/usr/bin/python3.10", Reply(stdout="Python 3.10.12\n"))
    host.program("/usr/bin/python3-config", Reply(stdout="--prefix\n"))
    host.program("/usr/local/bin/uv", Reply(stdout="uv 0.4.18 (7b55e9790 2024-10-01)\n"))
    host.program("/opt/conda/bin/conda", Reply(stdout="conda 24.1.2\n"))
    host.program("/home/dev/.pyenv/versions/3.12.1/bin/python", Reply(stdout="Python 3.12.1\n"))
    host.program("/home/dev/.pyenv/versions/3.9.18/bin/python", Reply(stdout="Python 3.9.18\n"))
    host.write("/home/dev/.pyenv/versions/miniconda3-latest/bin/python", "")
    host.write("/opt/libs/libcudnn.so.8", "")
    host.write("/opt/other/libfoo.so", "")
    env = {
        "HOME": "/home/dev",
        "CONDA_EXE": "/opt/conda/bin/conda",
        "LD_LIBRARY_PATH": "/usr/local/cuda/lib64:/opt/libs::/opt/other:/opt/libs",
    }

    report = detect(host, env)

    assert report.os.os is OS.LINUX
    assert report.os.arch is Arch.X86_64
    assert (report.os.distro, report.os.version) == ("ubuntu", "22.04")
    assert report.os.pretty == "Ubuntu 22.04.3 LTS"
    assert report.os.source == "/etc/os-release"
    assert not report.os.wsl

    driver = report.driver
    assert driver.status is DriverStatus.OK
    assert str(driver.version) == "525.85.05"
    assert driver.source == "/proc/driver/nvidia/version"
    assert driver.cuda == "12.0"
    assert driver.cuda_source is not None
    assert driver.cuda_source.endswith("/usr/bin/nvidia-smi")
    assert driver.detail is None

    (gpu,) = report.gpus
    assert (gpu.index, gpu.name, gpu.memory_mib) == (0, "Tesla T4", 15360)
    assert gpu.compute_capability == ComputeCapability(major=7, minor=5)
    assert gpu.cc_source == "nvidia-smi compute_cap"
    assert gpu.uuid == "GPU-4f2a9c71-8e3d-b0c5-67a1-2d9e5f0b3c84"

    assert report.toolkit is not None
    assert (report.toolkit.version, report.toolkit.build) == ("12.0", "V12.0.140")
    assert report.toolkit.path.endswith("/usr/local/cuda/bin/nvcc")

    assert [(t.name, t.version) for t in report.tools] == [("uv", "0.4.18"), ("conda", "24.1.2")]
    assert [(p.version, p.source) for p in report.pythons] == [
        ("3.11.7", "running"),
        ("3.10.12", "PATH"),
        ("3.9.18", "pyenv"),
        ("3.12.1", "pyenv"),
    ]
    assert report.cuda_library_paths == ("/usr/local/cuda/lib64", "/opt/libs")
    assert report.notes == ()


def test_windows_gtx_1060(host: FakeHost) -> None:
    host.pathsep = ";"
    # Not on PATH: only in System32, where the driver installs it.
    smi(host, "gtx1060-536.23-windows", path="C:\\Windows\\System32\\nvidia-smi.exe")
    host.program("C:\\Windows\\py", Reply(stdout=fixture("python/py-0p.txt")))
    env = {"PATH": "C:\\Windows;C:\\Tools", "SystemRoot": "C:\\Windows"}

    report = detect(host, env, WINDOWS)

    assert report.os.os is OS.WINDOWS
    assert report.os.arch is Arch.X86_64
    assert (report.os.distro, report.os.version, report.os.pretty) == (
        None,
        "10.0.19045",
        "Windows 10",
    )
    driver = report.driver
    assert driver.status is DriverStatus.OK
    assert str(driver.version) == "536.23"
    assert driver.source is not None
    assert driver.source.endswith("System32/nvidia-smi.exe")
    assert driver.cuda == "12.2"
    (gpu,) = report.gpus
    assert gpu.name == "NVIDIA GeForce GTX 1060 6GB"
    assert (gpu.memory_mib, str(gpu.compute_capability)) == (6144, "6.1")
    assert report.toolkit is None
    launcher = [p for p in report.pythons if p.source == "py launcher"]
    assert [p.version for p in launcher] == ["3.12", "3.11", "3.10"]
    assert report.pythons[0].source == "running"


def test_h200_with_sysfs_version(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/rhel-9.3.txt"))
    host.write(
        "/sys/module/nvidia/version", fixture("proc/sys-module-nvidia-version-580.65.06.txt")
    )
    host.write(
        "/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-open-580.65.06.txt")
    )
    smi(host, "h200-580.65.06")
    host.program("/usr/local/bin/nvcc", Reply(stdout=fixture("nvcc/11.8.txt")))

    report = detect(host)

    assert (report.os.distro, report.os.version) == ("rhel", "9.3")
    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "580.65.06"
    assert report.driver.source == "/sys/module/nvidia/version"
    assert report.driver.cuda == "13.0"
    (gpu,) = report.gpus
    assert (gpu.name, gpu.memory_mib, str(gpu.compute_capability)) == ("NVIDIA H200", 143771, "9.0")
    assert report.toolkit is not None
    assert report.toolkit.version == "11.8"


def test_h200_outputs_captured_on_a_real_machine(host: FakeHost) -> None:
    # nvidia-smi, its --query-gpu CSV and /proc/driver/nvidia/version as printed on a lent
    # H200 (Ubuntu 24.04, open kernel module 580.159.04) on 2026-11-28.
    host.write(
        "/sys/module/nvidia/version",
        fixture("proc/sys-module-nvidia-version-580.159.04-captured.txt"),
    )
    host.write(
        "/proc/driver/nvidia/version",
        fixture("proc/driver-nvidia-version-open-580.159.04-captured.txt"),
    )
    smi(host, "h200-580.159.04-captured")

    report = detect(host)

    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "580.159.04"
    assert report.driver.cuda == "13.0"
    (gpu,) = report.gpus
    assert (gpu.name, gpu.memory_mib, str(gpu.compute_capability)) == ("NVIDIA H200", 143771, "9.0")
    assert gpu.cc_source == "nvidia-smi compute_cap"
    assert gpu.uuid == "GPU-f877b8b3-49cc-bfe7-823c-df997f8858d0"


def test_eight_a100(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/debian-12.txt"))
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-535.129.03.txt"))
    smi(host, "8xa100-535.129.03")

    report = detect(host)

    assert str(report.driver.version) == "535.129.03"
    assert report.driver.cuda == "12.2"
    assert len(report.gpus) == 8
    assert [gpu.index for gpu in report.gpus] == list(range(8))
    assert all(gpu.memory_mib == 81920 for gpu in report.gpus)
    assert {str(gpu.compute_capability) for gpu in report.gpus} == {"8.0"}
    document = report_to_dict(report)
    assert [g["compute_capability"] for g in document["gpus"]] == ["8.0"] * 8


def test_broken_driver(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/broken-driver.txt"), exit_code=9)
    )

    report = detect(host)

    assert report.driver.status is DriverStatus.BROKEN
    assert report.driver.version is None
    assert report.driver.detail is not None
    assert "couldn't communicate with the NVIDIA driver" in report.driver.detail
    assert report.gpus == ()


def test_library_mismatch_keeps_kernel_version(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-535.129.03.txt"))
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/nvml-mismatch.txt"), exit_code=18)
    )

    report = detect(host)

    assert report.driver.status is DriverStatus.BROKEN
    assert str(report.driver.version) == "535.129.03"
    assert report.driver.source == "/proc/driver/nvidia/version"
    assert report.driver.detail is not None
    assert "Driver/library version mismatch" in report.driver.detail


def test_no_driver_at_all(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/debian-12.txt"))

    report = detect(host)

    assert report.driver.status is DriverStatus.ABSENT
    assert report.driver.version is None
    assert report.driver.source is None
    assert report.driver.detail is not None
    assert "no NVIDIA driver" in report.driver.detail
    assert report.gpus == ()
    assert report.toolkit is None
    assert report.tools == ()
    assert any("nvidia-smi not found" in note for note in report.notes)
    assert report_to_dict(report)["driver"]["status"] == "absent"


def test_no_gpu_but_driver(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/no-devices.txt"), exit_code=6)
    )

    report = detect(host)

    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "525.85.05"
    assert report.gpus == ()
    assert any("No devices were found" in note for note in report.notes)


def test_no_gpu_and_no_version(host: FakeHost) -> None:
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/no-devices.txt"), exit_code=6)
    )

    report = detect(host)

    assert report.driver.status is DriverStatus.ABSENT
    assert report.driver.detail is not None
    assert "No devices were found" in report.driver.detail


def test_old_driver_without_compute_cap(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-470.182.03.txt"))
    host.program(
        "/usr/bin/nvidia-smi",
        Reply(stdout=fixture("nvidia-smi/t4-470.182.03.txt")),
        when={
            "*compute_cap*": Reply(
                stdout=fixture("nvidia-smi/t4-470.182.03.query-compute-cap.txt"), exit_code=2
            ),
            "--query-gpu=*": Reply(stdout=fixture("nvidia-smi/t4-470.182.03.query.csv")),
        },
    )

    report = detect(host)

    assert str(report.driver.version) == "470.182.03"
    assert report.driver.cuda == "11.4"
    (gpu,) = report.gpus
    assert (gpu.name, gpu.memory_mib) == ("Tesla T4", 15109)
    assert gpu.compute_capability == ComputeCapability(major=7, minor=5)
    assert gpu.cc_source == "GPU name table"
    assert any("compute_cap" in note for note in report.notes)


def test_unknown_gpu_name_without_compute_cap(host: FakeHost) -> None:
    host.program(
        "/usr/bin/nvidia-smi",
        Reply(stdout=fixture("nvidia-smi/t4-470.182.03.txt")),
        when={
            "*compute_cap*": Reply(
                stdout=fixture("nvidia-smi/t4-470.182.03.query-compute-cap.txt"), exit_code=2
            ),
            "--query-gpu=*": Reply(stdout="0, Mystery Board 9000, 1024, GPU-x\n"),
        },
    )

    report = detect(host)

    (gpu,) = report.gpus
    assert gpu.compute_capability is None
    assert gpu.cc_source is None
    assert any("Mystery Board 9000" in note for note in report.notes)


def test_wsl_finds_the_wsl_nvidia_smi(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.write("/proc/version", fixture("proc/version-wsl2.txt"))
    smi(host, "t4-525.85.05", path="/usr/lib/wsl/lib/nvidia-smi")

    report = detect(host)

    assert report.os.wsl
    assert report.driver.source is not None
    assert report.driver.source.endswith("/usr/lib/wsl/lib/nvidia-smi")


def test_hanging_nvidia_smi_is_broken(host: FakeHost) -> None:
    host.program("/usr/bin/nvidia-smi", Reply(sleep=5))

    report = detect(host, timeout=0.3)

    assert report.driver.status is DriverStatus.BROKEN
    assert report.driver.detail is not None
    assert "did not answer within 0.3 s" in report.driver.detail


def test_override_by_option(host: FakeHost) -> None:
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/broken-driver.txt"), exit_code=9)
    )

    report = detect(host, {"TORCHLOCK_DRIVER": "535.104.05"}, driver_override="550.54.15")

    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "550.54.15"
    assert report.driver.source == "--driver"
    assert any("couldn't communicate" in note for note in report.notes)


def test_override_by_environment(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    smi(host, "t4-525.85.05")

    report = detect(host, {"TORCHLOCK_DRIVER": " 536.23 "})

    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "536.23"
    assert report.driver.source == "TORCHLOCK_DRIVER"
    assert report.driver.cuda == "12.0"  # still what the real driver says
    assert len(report.gpus) == 1


def test_auto_means_detect(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))

    report = detect(host, {"TORCHLOCK_DRIVER": "auto"})

    assert str(report.driver.version) == "525.85.05"
    assert report.driver.source == "/proc/driver/nvidia/version"


def test_stated_none(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    smi(host, "t4-525.85.05")

    report = detect(host, {"TORCHLOCK_DRIVER": "525.85.05"}, driver_override="none")

    assert report.driver.status is DriverStatus.ABSENT
    assert report.driver.version is None
    assert report.driver.source == "--driver"
    assert report.driver.detail == "stated by --driver: no NVIDIA driver"
    assert len(report.gpus) == 1  # what the host has is still reported


def test_empty_environment_override_is_ignored(host: FakeHost) -> None:
    report = detect(host, {"TORCHLOCK_DRIVER": ""})
    assert report.driver.status is DriverStatus.ABSENT


@pytest.mark.parametrize(
    ("env", "override", "named"),
    [({}, "52a.85", "'52a.85'"), ({"TORCHLOCK_DRIVER": "latest"}, None, "TORCHLOCK_DRIVER")],
)
def test_malformed_override(
    host: FakeHost, env: dict[str, str], override: str | None, named: str
) -> None:
    with pytest.raises(InputError) as caught:
        detect(host, env, driver_override=override)
    assert named in str(caught.value)
    assert caught.value.exit_code == 2


def test_nvml_fallback_without_nvidia_smi(host: FakeHost) -> None:
    def nvml(os_kind: OS) -> NvmlReport:
        assert os_kind is OS.LINUX
        gpu = NvmlGpu(
            index=0,
            name="NVIDIA H200",
            memory_mib=143771,
            compute_capability=ComputeCapability(major=9, minor=0),
        )
        return NvmlReport(library="libnvidia-ml.so.1", driver="580.65.06", cuda="13.0", gpus=(gpu,))

    report = detect(host, nvml=nvml)

    assert report.driver.status is DriverStatus.OK
    assert str(report.driver.version) == "580.65.06"
    assert report.driver.source == "NVML (libnvidia-ml.so.1)"
    assert report.driver.cuda == "13.0"
    (gpu,) = report.gpus
    assert (gpu.name, gpu.cc_source, gpu.source) == ("NVIDIA H200", "NVML", "NVML")


def test_macos_has_no_driver(host: FakeHost) -> None:
    mac = PlatformInfo(system="Darwin", machine="arm64", mac_release="14.4.1")

    report = detect(host, platform_info=mac)

    assert (report.os.os, report.os.arch) == (OS.MACOS, Arch.AARCH64)
    assert report.os.pretty == "macOS 14.4.1"
    assert report.driver.status is DriverStatus.ABSENT
    assert report.driver.detail == "macOS has no NVIDIA CUDA driver"


@pytest.mark.parametrize(
    "platform_info",
    [
        PlatformInfo(system="Linux", machine="ppc64le"),
        PlatformInfo(system="FreeBSD", machine="amd64"),
    ],
)
def test_unsupported_host(host: FakeHost, platform_info: PlatformInfo) -> None:
    with pytest.raises(DetectionError):
        detect(host, platform_info=platform_info)


def test_json_document_is_stable(host: FakeHost) -> None:
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    smi(host, "t4-525.85.05")
    report = detect(host, {"PATH": "/usr/bin"})

    text = report_to_json(report)

    assert text.endswith("}\n")
    assert text == report_to_json(report)
    document = json.loads(text)
    assert list(document) == sorted(document)
    assert set(document) == {
        "os",
        "driver",
        "gpus",
        "toolkit",
        "tools",
        "pythons",
        "cuda_library_paths",
        "notes",
    }
    assert document["driver"] == {
        "status": "ok",
        "version": "525.85.05",
        "source": "/proc/driver/nvidia/version",
        "cuda": "12.0",
        "cuda_source": document["driver"]["cuda_source"],
        "detail": None,
    }
    assert document["gpus"][0] == {
        "index": 0,
        "name": "Tesla T4",
        "memory_mib": 15360,
        "compute_capability": "7.5",
        "cc_source": "nvidia-smi compute_cap",
        "uuid": "GPU-4f2a9c71-8e3d-b0c5-67a1-2d9e5f0b3c84",
        "source": "nvidia-smi",
    }
    assert '\n  "driver": {\n    "cuda": "12.0",' in text


def test_gpu_only_skips_toolkit_tools_and_pythons(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))
    smi(host, "t4-525.85.05")
    host.program("/usr/local/cuda/bin/nvcc", Reply(stdout=fixture("nvcc/12.0.txt")))
    host.program("/usr/local/bin/uv", Reply(stdout="uv 0.4.18\n"))

    report = detect(host, gpu_only=True)

    assert str(report.driver.version) == "525.85.05"
    assert [g.name for g in report.gpus] == ["Tesla T4"]
    assert (report.toolkit, report.tools, report.pythons) == (None, (), ())
