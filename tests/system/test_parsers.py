"""The pure parsers, fed every captured output in tests/fixtures/host."""

from __future__ import annotations

import pytest

from tests.support.host import fixture
from torchlock.errors import DataError
from torchlock.system import nvidia_smi
from torchlock.system.gpu_names import compute_capability_for, parse_gpu_table
from torchlock.system.nvcc import parse_nvcc_version
from torchlock.system.nvidia_smi import SmiState, classify, parse_gpu_query, parse_header
from torchlock.system.os_release import is_wsl, parse_os_release, parse_os_release_fields
from torchlock.system.parse import (
    is_cuda_library,
    is_python_name,
    parse_arch,
    parse_proc_driver_version,
    parse_py_launcher,
    parse_python_version,
    parse_sys_module_version,
    parse_tool_version,
    pyenv_cpython_versions,
)
from torchlock.target import Arch, ComputeCapability, DriverVersion

CC75 = ComputeCapability(major=7, minor=5)


@pytest.mark.parametrize(
    ("name", "driver", "cuda"),
    [
        ("t4-525.85.05", "525.85.05", "12.0"),
        ("gtx1060-536.23-windows", "536.23", "12.2"),
        ("h200-580.65.06", "580.65.06", "13.0"),
        ("8xa100-535.129.03", "535.129.03", "12.2"),
        ("t4-470.182.03", "470.182.03", "11.4"),
    ],
)
def test_header_names_driver_and_cuda(name: str, driver: str, cuda: str) -> None:
    text = fixture(f"nvidia-smi/{name}.txt")
    header = parse_header(text)
    assert header.driver == DriverVersion.parse(driver)
    assert header.cuda == cuda
    assert classify(0, text) is SmiState.OK


def test_header_of_r610_style_banner() -> None:
    banner = "| NVIDIA-SMI 610.43.02      KMD Version: 610.43.02     CUDA UMD Version: 13.3     |"
    header = parse_header(banner)
    assert str(header.driver) == "610.43.02"
    assert header.cuda == "13.3"


def test_header_without_versions() -> None:
    header = parse_header("| NVIDIA-SMI 525.85.05  Driver Version: N/A  CUDA Version: N/A |")
    assert header.driver is None
    assert header.cuda is None


@pytest.mark.parametrize(
    ("fixture_name", "returncode", "state"),
    [
        ("broken-driver.txt", 9, SmiState.BROKEN),
        ("nvml-mismatch.txt", 18, SmiState.BROKEN),
        ("no-devices.txt", 6, SmiState.NO_DEVICES),
        ("t4-470.182.03.query-compute-cap.txt", 2, SmiState.UNKNOWN_FIELD),
    ],
)
def test_classify_failures(fixture_name: str, returncode: int, state: SmiState) -> None:
    assert classify(returncode, fixture(f"nvidia-smi/{fixture_name}")) is state


def test_classify_unexplained_nonzero_exit_is_broken() -> None:
    assert classify(255, "Segmentation fault") is SmiState.BROKEN


def test_message_is_first_line() -> None:
    text = fixture("nvidia-smi/broken-driver.txt")
    assert nvidia_smi.message(text).startswith("NVIDIA-SMI has failed because it couldn't")
    assert nvidia_smi.message("\n \n") == "(no output)"


def test_query_t4() -> None:
    query = parse_gpu_query(fixture("nvidia-smi/t4-525.85.05.query.csv"))
    (gpu,) = query.gpus
    assert (gpu.index, gpu.name, gpu.memory_mib) == (0, "Tesla T4", 15360)
    assert gpu.compute_capability == CC75
    assert gpu.cc_source == "nvidia-smi compute_cap"
    assert gpu.uuid == "GPU-4f2a9c71-8e3d-b0c5-67a1-2d9e5f0b3c84"
    assert query.unparsed == ()


def test_query_windows_crlf() -> None:
    (gpu,) = parse_gpu_query(fixture("nvidia-smi/gtx1060-536.23-windows.query.csv")).gpus
    assert gpu.name == "NVIDIA GeForce GTX 1060 6GB"
    assert gpu.memory_mib == 6144
    assert str(gpu.compute_capability) == "6.1"
    assert gpu.uuid is not None
    assert not gpu.uuid.endswith("\r")


def test_query_h200() -> None:
    (gpu,) = parse_gpu_query(fixture("nvidia-smi/h200-580.65.06.query.csv")).gpus
    assert (gpu.name, gpu.memory_mib, str(gpu.compute_capability)) == ("NVIDIA H200", 143771, "9.0")


def test_query_eight_a100() -> None:
    gpus = parse_gpu_query(fixture("nvidia-smi/8xa100-535.129.03.query.csv")).gpus
    assert [gpu.index for gpu in gpus] == list(range(8))
    assert {gpu.name for gpu in gpus} == {"NVIDIA A100-SXM4-80GB"}
    assert {str(gpu.compute_capability) for gpu in gpus} == {"8.0"}
    assert len({gpu.uuid for gpu in gpus}) == 8


def test_query_without_compute_cap() -> None:
    (gpu,) = parse_gpu_query(fixture("nvidia-smi/t4-470.182.03.query.csv"), with_cc=False).gpus
    assert (gpu.name, gpu.memory_mib) == ("Tesla T4", 15109)
    assert gpu.compute_capability is None
    assert gpu.cc_source is None
    assert gpu.uuid == "GPU-c7e1f0a2-5b94-3d86-e2f7-18a04b6c9d53"


def test_query_odd_values() -> None:
    text = (
        "1, NVIDIA A100-SXM4-40GB, [N/A], [N/A], GPU-1\n"
        "0, Weird, Name, With Commas, 1024, 8.6, GPU-0\n"
        "garbage line\n"
    )
    query = parse_gpu_query(text)
    assert [gpu.index for gpu in query.gpus] == [0, 1]
    assert query.gpus[0].name == "Weird, Name, With Commas"
    assert query.gpus[1].memory_mib is None
    assert query.gpus[1].compute_capability is None
    assert query.unparsed == ("garbage line",)


def test_query_argv() -> None:
    assert nvidia_smi.query_argv("nvidia-smi") == (
        "nvidia-smi",
        "--query-gpu=index,name,memory.total,compute_cap,uuid",
        "--format=csv,noheader,nounits",
    )
    assert "compute_cap" not in nvidia_smi.query_argv("nvidia-smi", with_cc=False)[1]


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("driver-nvidia-version-525.85.05.txt", "525.85.05"),
        ("driver-nvidia-version-open-580.65.06.txt", "580.65.06"),
        ("driver-nvidia-version-470.182.03.txt", "470.182.03"),
        ("driver-nvidia-version-535.129.03.txt", "535.129.03"),
    ],
)
def test_proc_driver_version(name: str, version: str) -> None:
    assert parse_proc_driver_version(fixture(f"proc/{name}")) == DriverVersion.parse(version)


def test_proc_driver_version_from_issue_example() -> None:
    text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  525.85.05  Sat Jan 28 00:12:35 UTC 2023"
    assert str(parse_proc_driver_version(text)) == "525.85.05"
    assert parse_proc_driver_version("something else") is None


def test_sys_module_version() -> None:
    text = fixture("proc/sys-module-nvidia-version-580.65.06.txt")
    assert str(parse_sys_module_version(text)) == "580.65.06"
    assert parse_sys_module_version("") is None
    assert parse_sys_module_version("not-a-version\n") is None


@pytest.mark.parametrize(
    ("name", "version", "build"),
    [("12.0.txt", "12.0", "V12.0.140"), ("11.8.txt", "11.8", "V11.8.89")],
)
def test_nvcc(name: str, version: str, build: str) -> None:
    parsed = parse_nvcc_version(fixture(f"nvcc/{name}"))
    assert parsed is not None
    assert (parsed.version, parsed.build) == (version, build)


def test_nvcc_unrelated_output() -> None:
    assert parse_nvcc_version("bash: nvcc: command not found") is None


@pytest.mark.parametrize(
    ("name", "id_", "version", "pretty"),
    [
        ("ubuntu-22.04.txt", "ubuntu", "22.04", "Ubuntu 22.04.3 LTS"),
        ("rhel-9.3.txt", "rhel", "9.3", "Red Hat Enterprise Linux 9.3 (Plow)"),
        ("debian-12.txt", "debian", "12", "Debian GNU/Linux 12 (bookworm)"),
    ],
)
def test_os_release(name: str, id_: str, version: str, pretty: str) -> None:
    release = parse_os_release(fixture(f"os-release/{name}"))
    assert (release.id, release.version_id, release.pretty_name) == (id_, version, pretty)


def test_os_release_quirks() -> None:
    fields = parse_os_release_fields(
        "# comment\n\nNAME='Single Quoted'\nBROKEN=\"unbalanced\nnot an assignment\nX=1\n"
    )
    assert fields == {"NAME": "Single Quoted", "BROKEN": "unbalanced", "X": "1"}
    assert parse_os_release("").id is None


def test_wsl() -> None:
    assert is_wsl(fixture("proc/version-wsl2.txt"))
    assert not is_wsl(fixture("proc/version-ubuntu.txt"))


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", Arch.X86_64),
        ("AMD64", Arch.X86_64),
        ("amd64", Arch.X86_64),
        ("aarch64", Arch.AARCH64),
        ("arm64", Arch.AARCH64),
        ("ARM64", Arch.AARCH64),
        ("ppc64le", None),
        ("", None),
    ],
)
def test_arch(machine: str, arch: Arch | None) -> None:
    assert parse_arch(machine) is arch


def test_python_version() -> None:
    assert parse_python_version("Python 3.11.7\n") == "3.11.7"
    assert parse_python_version("Python 3.13.0rc2") == "3.13.0rc2"
    assert parse_python_version("nope") is None


def test_py_launcher_current_format() -> None:
    entries = parse_py_launcher(fixture("python/py-0p.txt"))
    assert [(e.version, e.path) for e in entries] == [
        ("3.12", "C:\\Users\\dev\\AppData\\Local\\Programs\\Python\\Python312\\python.exe"),
        ("3.11", "C:\\Users\\dev\\AppData\\Local\\Programs\\Python\\Python311\\python.exe"),
        ("3.10", "C:\\Python310\\python.exe"),
    ]


def test_py_launcher_legacy_format() -> None:
    entries = parse_py_launcher(fixture("python/py-0p-legacy.txt"))
    assert [(e.version, e.path) for e in entries] == [
        ("3.9", "C:\\Users\\dev\\AppData\\Local\\Programs\\Python\\Python39\\python.exe"),
        ("3.8", "C:\\Program Files (x86)\\Python38-32\\python.exe"),
    ]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("uv 0.4.18 (7b55e9790 2024-10-01)\n", "0.4.18"),
        ("conda 24.1.2\n", "24.1.2"),
        ("mamba 1.5.8\nconda 24.3.0\n", "1.5.8"),
        ("2.0.5\n", "2.0.5"),
        ("no version here", None),
    ],
)
def test_tool_version(text: str, version: str | None) -> None:
    assert parse_tool_version(text) == version


def test_pyenv_versions() -> None:
    names = ("3.10.13", "3.13.0t", "miniconda3-latest", "pypy3.10-7.3.12", "system")
    assert pyenv_cpython_versions(names) == ("3.10.13", "3.13.0t")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("python3", True),
        ("python3.11", True),
        ("python3.13t", True),
        ("python3.exe", True),
        ("python3-config", False),
        ("python3.11-config", False),
        ("python3.11-gdb.py", False),
        ("python", False),
    ],
)
def test_python_names(name: str, expected: bool) -> None:
    assert is_python_name(name) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libcudart.so", True),
        ("libcudart.so.12", True),
        ("libcublas.so.12.1.3.1", True),
        ("libcublasLt.so.12", True),
        ("libnvJitLink.so.12", True),
        ("libcudnn.so.8", True),
        ("libcudart_static.a", False),
        ("libfoo.so", False),
    ],
)
def test_cuda_library_names(name: str, expected: bool) -> None:
    assert is_cuda_library(name) is expected


TABLE = """{"gpus": [
  {"match": "\\\\bT4\\\\b", "cc": "7.5", "arch": "Turing", "examples": ["Tesla T4"]},
  {"match": "GeForce GTX 10[5-8]0\\\\b", "cc": "6.1", "arch": "Pascal", "examples": []},
  {"match": "GTX", "cc": "5.2", "arch": "Maxwell", "examples": []}
]}"""


def test_gpu_table_first_match_wins() -> None:
    table = parse_gpu_table(TABLE)
    assert compute_capability_for("Tesla T4", table) == CC75
    assert compute_capability_for("tesla t4", table) == CC75
    assert str(compute_capability_for("NVIDIA GeForce GTX 1060 6GB", table)) == "6.1"
    assert str(compute_capability_for("GeForce GTX 980", table)) == "5.2"
    assert compute_capability_for("NVIDIA H200", table) is None


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"no": []}',
        '{"gpus": [1]}',
        '{"gpus": [{"match": "(", "cc": "7.5"}]}',
        '{"gpus": [{"match": "x", "cc": "seven"}]}',
        '{"gpus": [{"match": "x"}]}',
    ],
)
def test_gpu_table_broken(text: str) -> None:
    with pytest.raises(DataError):
        parse_gpu_table(text)


def test_shipped_gpu_table_knows_the_fixture_gpus() -> None:
    assert compute_capability_for("Tesla T4") == CC75
    assert str(compute_capability_for("NVIDIA H200")) == "9.0"
    assert str(compute_capability_for("NVIDIA A100-SXM4-80GB")) == "8.0"
