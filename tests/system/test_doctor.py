"""doctor against captured outputs of lspci, /proc/modules, nvidia-smi, nvcc, nginx and git.

Each host is a FakeHost: the real detection and the real runner run against fake programs
(sh scripts printing captured output) and captured files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.host import LINUX_PATH, FakeHost, Reply, detect, fixture, smi
from torchlock.system.doctor import (
    GIB,
    DoctorInputs,
    Finding,
    Status,
    exit_code,
    findings_to_json,
    gather,
    loaded_modules,
    nginx_advisories,
    parse_lspci_nvidia,
    parse_nginx_version,
    run_checks,
)
from torchlock.system.model import DriverInfo, DriverStatus, HostReport, OsInfo
from torchlock.system.runner import SubprocessRunner
from torchlock.target import OS, Arch

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")


def _doctor(
    host: FakeHost,
    *,
    env: dict[str, str] | None = None,
    free: int | None = 200 * GIB,
) -> dict[str, Finding]:
    env = {"PATH": LINUX_PATH, **(env or {})}
    report = detect(host, env)
    inputs = gather(
        report=report,
        runner=SubprocessRunner(),
        read_text=host.read_text,
        which=host.which_for(env),
        disk_free=lambda _path: free,
        disk_path="/home/dev",
    )
    findings = run_checks(inputs)
    json.loads(findings_to_json(findings))
    return {finding.id: finding for finding in findings}


def _common(host: FakeHost, *, lspci: str, modules: str) -> None:
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.program("/usr/bin/lspci", Reply(stdout=fixture(f"lspci/{lspci}.txt")))
    host.write("/proc/modules", fixture(f"proc/{modules}.txt"))
    host.program("/usr/bin/git", Reply(stdout=fixture("git/2.34.1.txt")))


def _t4_driver(host: FakeHost) -> None:
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-525.85.05.txt"))


def test_healthy_t4_host(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="t4-aws", modules="modules-nvidia-525")
    _t4_driver(host)
    smi(host, "t4-525.85.05")
    host.program("/usr/local/cuda/bin/nvcc", Reply(stdout=fixture("nvcc/12.0.txt")))
    host.program("/home/dev/miniforge3/bin/conda", Reply(stdout="conda 24.11.3\n"))
    host.program("/usr/sbin/nginx", Reply(stderr="nginx version: nginx/1.30.4\n"))
    found = _doctor(host, env={"PATH": LINUX_PATH + ":/home/dev/miniforge3/bin:/usr/sbin"})
    assert {f.status for f in found.values()} == {Status.PASS}, found
    assert "TU104GL [Tesla T4]" in found["pci-device"].detail
    assert "525.85.05" in found["driver"].detail
    assert "CUDA 12.0" in found["driver"].detail
    assert "Tesla T4" in found["driver"].detail
    assert "nvcc 12.0" in found["nvcc"].detail
    assert "nginx 1.30.4" in found["nginx"].detail
    assert exit_code(tuple(found.values())) == 0


def test_nouveau_loaded(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="t4-book-unnamed", modules="modules-nouveau")
    found = _doctor(host)
    assert found["pci-device"].status is Status.PASS
    assert "10de:1eb8" in found["pci-device"].detail
    assert found["nouveau"].status is Status.FAIL
    assert "blacklist" in (found["nouveau"].fix or "")
    # A device on the bus and no driver at all is a failure, with the fix.
    assert found["driver"].status is Status.FAIL
    assert "torchlock system apply driver" in (found["driver"].fix or "")
    assert exit_code(tuple(found.values())) == 1


def test_driver_loaded_but_no_device_answering(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="t4-aws", modules="modules-nvidia-525")
    _t4_driver(host)
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/no-devices.txt"), exit_code=6)
    )
    found = _doctor(host)
    assert found["driver"].status is Status.FAIL
    assert "lists no GPU" in found["driver"].detail
    assert "NVRM" in (found["driver"].fix or "")


def test_driver_installed_but_not_loaded(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="t4-aws", modules="modules-plain")
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/broken-driver.txt"), exit_code=9)
    )
    found = _doctor(host)
    assert found["driver"].status is Status.FAIL
    assert "couldn't communicate" in found["driver"].detail
    assert "reinstall" in (found["driver"].fix or "")


def test_host_without_any_gpu(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="no-gpu", modules="modules-plain")
    found = _doctor(host)
    assert found["pci-device"].status is Status.WARN
    assert found["nouveau"].status is Status.PASS
    assert found["driver"].status is Status.WARN
    assert found["nvcc"].status is Status.PASS
    assert found["conda"].status is Status.WARN
    assert found["git"].status is Status.PASS
    # Nothing fails on a CPU-only host: exit 0.
    assert exit_code(tuple(found.values())) == 0


def test_vulnerable_nginx_and_toolkit_newer_than_driver(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    _common(host, lspci="t4-aws", modules="modules-nvidia-525")
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-470.182.03.txt"))
    smi(host, "t4-470.182.03")
    host.program(
        "/usr/bin/nvidia-smi",
        Reply(stdout=fixture("nvidia-smi/t4-470.182.03.txt")),
        when={"--query-gpu=*": Reply(stdout=fixture("nvidia-smi/t4-470.182.03.query.csv"))},
    )
    host.program("/usr/local/cuda/bin/nvcc", Reply(stdout=fixture("nvcc/12.0.txt")))
    host.program("/usr/sbin/nginx", Reply(stderr=fixture("nginx/1.18.0-ubuntu.txt")))
    found = _doctor(
        host,
        env={
            "PATH": LINUX_PATH + ":/usr/sbin",
            "LD_LIBRARY_PATH": "/usr/local/cuda-12.0/lib64",
        },
        free=3 * GIB,
    )
    assert found["nvcc"].status is Status.FAIL  # CUDA 12 toolkit, driver supports 11.4
    assert "newer than the driver's CUDA 11.4" in found["nvcc"].detail
    assert found["nginx"].status is Status.FAIL
    assert "CVE-2021-23017" in found["nginx"].detail
    assert found["ld-library-path"].status is Status.WARN
    assert "__nvJitLinkAddData_12_1" in found["ld-library-path"].detail
    assert found["disk"].status is Status.FAIL


def test_missing_tools_are_warnings(tmp_path: Path) -> None:
    host = FakeHost(root=tmp_path)
    host.write("/etc/os-release", fixture("os-release/debian-12.txt"))
    found = _doctor(host, free=None)
    assert found["pci-device"].status is Status.WARN  # no lspci
    assert "pciutils" in (found["pci-device"].fix or "")
    assert found["git"].status is Status.WARN
    assert found["disk"].status is Status.WARN
    assert found["nginx"].status is Status.PASS  # not installed is fine


# -- pure parsers -------------------------------------------------------------------------------


def test_lspci_parser_keeps_display_devices_only() -> None:
    devices = parse_lspci_nvidia(fixture("lspci/gtx1060-with-audio.txt"))
    assert devices == (
        "01:00.0 VGA compatible controller: NVIDIA Corporation "
        "GP106 [GeForce GTX 1060 6GB] (rev a1)",
    )
    assert parse_lspci_nvidia(fixture("lspci/no-gpu.txt")) == ()


def test_lsmod_output_also_reads() -> None:
    lsmod = "Module                  Size  Used by\nnouveau              2433024  0\n"
    assert loaded_modules(lsmod) == frozenset({"nouveau"})


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("nginx version: nginx/1.18.0 (Ubuntu)\n", (1, 18, 0)),
        ("nginx version: nginx/1.28.0\n", (1, 28, 0)),
        ("nginx version: openresty/1.21.4.1\n", None),
        ("", None),
    ],
)
def test_nginx_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert parse_nginx_version(text) == version


NEW_2026 = ("CVE-2026-1642", "CVE-2026-27654")  # fixed in 1.28.2 / 1.28.3 (nginx.org)
NEW_2024_2026 = ("CVE-2024-7347", "CVE-2025-23419", *NEW_2026)


@pytest.mark.parametrize(
    ("version", "cves"),
    [
        (
            (1, 18, 0),
            {"CVE-2021-23017", "CVE-2022-41741", *NEW_2024_2026},
        ),
        ((1, 20, 1), {"CVE-2022-41741", *NEW_2024_2026}),
        ((1, 22, 1), set(NEW_2024_2026)),
        ((1, 26, 2), {"CVE-2025-23419", *NEW_2026}),
        ((1, 27, 4), set(NEW_2026)),  # mainline 1.27 predates the 2026 fixes of 1.28 and 1.29
        ((1, 28, 0), set(NEW_2026)),
        ((1, 28, 2), {"CVE-2026-27654"}),
        ((1, 28, 3), set()),
        ((1, 29, 5), set()),  # CVE-2026-1642's mainline fix; 27654 lists no 1.29 fix
        ((1, 30, 4), set()),
    ],
)
def test_nginx_advisories(version: tuple[int, int, int], cves: set[str]) -> None:
    assert {a.cve for a in nginx_advisories(version)} == cves


def test_nginx_statuses() -> None:
    report = detect_report_stub()
    for text, status in (
        ("nginx version: nginx/1.18.0 (Ubuntu)", Status.FAIL),
        ("nginx version: nginx/1.22.1", Status.WARN),
        ("nginx version: nginx/1.28.0", Status.WARN),
        ("nginx version: nginx/1.30.4", Status.PASS),
    ):
        inputs = DoctorInputs(
            report=report,
            nginx=text,
            lspci=None,
            proc_modules=None,
            git=None,
            disk_path="/",
            disk_free=None,
        )
        findings = run_checks(inputs)
        assert {f.id: f.status for f in findings}["nginx"] is status


def detect_report_stub() -> HostReport:

    return HostReport(
        os=OsInfo(os=OS.LINUX, arch=Arch.X86_64, distro="debian", version="12", pretty=None),
        driver=DriverInfo(status=DriverStatus.ABSENT, version=None, source=None),
        gpus=(),
        toolkit=None,
        tools=(),
        pythons=(),
        cuda_library_paths=(),
    )


def test_windows_leaves_out_linux_checks() -> None:
    from msgspec.structs import replace

    report = detect_report_stub()
    report = replace(report, os=replace(report.os, os=OS.WINDOWS, distro=None))
    inputs = DoctorInputs(
        report=report,
        lspci=None,
        proc_modules=None,
        nginx=None,
        git="git version 2.45.1.windows.1",
        disk_path="C:\\",
        disk_free=100 * GIB,
    )
    ids = [f.id for f in run_checks(inputs)]
    assert ids == ["driver", "nvcc", "disk", "conda", "nginx", "git"]
