"""Value types of the matrix: parsing, ordering and the architecture rule."""

from __future__ import annotations

import pytest

from torchlock.errors import InputError
from torchlock.matrix.model import ArchList, Variant, VariantKind
from torchlock.target import OS, Arch, ComputeCapability, DriverVersion, PythonVersion


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


def test_driver_versions_compare_numerically_per_part() -> None:
    assert DriverVersion.parse("525.85.05") < DriverVersion.parse("525.85.12")
    assert DriverVersion.parse("525.85.05") > DriverVersion.parse("525.60.13")
    assert DriverVersion.parse("536.23") > DriverVersion.parse("528.33")
    assert DriverVersion.parse("580") <= DriverVersion.parse("580.65.06")
    assert DriverVersion.parse("580") == DriverVersion.parse("580.0")
    assert DriverVersion.parse("1000.1") > DriverVersion.parse("999.99.99")


@pytest.mark.parametrize(
    "text", ["52a.85", "", "525..85", "v525", "525.85.05.1", "-1", "525.85.05 "]
)
def test_malformed_driver_versions_are_rejected_with_the_value(text: str) -> None:
    if text == "525.85.05 ":  # surrounding blanks are forgiven
        assert str(DriverVersion.parse(text)) == "525.85.05"
        return
    with pytest.raises(InputError) as info:
        DriverVersion.parse(text)
    assert repr(text) in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text", ["eleven", "7", "7.5.1", "75", "7,5", ""])
def test_malformed_compute_capabilities_are_rejected(text: str) -> None:
    with pytest.raises(InputError, match="compute capability"):
        ComputeCapability.parse(text)


def test_python_versions_parse_and_order() -> None:
    assert PythonVersion.parse("3.10") > PythonVersion.parse("3.9")
    assert str(PythonVersion.parse("3.13t")) == "3.13t"
    with pytest.raises(InputError):
        PythonVersion.parse("three")


def test_os_and_arch_aliases() -> None:
    assert OS.parse("Windows") is OS.WINDOWS
    assert OS.parse("darwin") is OS.MACOS
    assert Arch.parse("AMD64") is Arch.X86_64
    assert Arch.parse("arm64") is Arch.AARCH64
    with pytest.raises(InputError, match="'solaris'"):
        OS.parse("solaris")
    with pytest.raises(InputError, match="'ppc64le'"):
        Arch.parse("ppc64le")


@pytest.mark.parametrize(
    ("name", "kind", "cuda"),
    [
        ("cpu", VariantKind.CPU, None),
        ("cu118", VariantKind.CUDA, (11, 8)),
        ("cu121", VariantKind.CUDA, (12, 1)),
        ("cu130", VariantKind.CUDA, (13, 0)),
        ("rocm5.6", VariantKind.ROCM, None),
        ("xpu", VariantKind.OTHER, None),
    ],
)
def test_variant_names(name: str, kind: VariantKind, cuda: tuple[int, int] | None) -> None:
    variant = Variant.parse(name)
    assert variant.kind is kind
    assert variant.cuda == cuda
    assert variant.index_url == f"https://download.pytorch.org/whl/{name}"


def test_variants_sort_cpu_then_cuda_numerically_then_rocm() -> None:
    names = ["rocm6.1", "cu130", "cu118", "cpu", "cu128", "rocm5.7", "cu92"]
    ordered = sorted((Variant.parse(n) for n in names), key=Variant.sort_key)
    assert [v.name for v in ordered] == [
        "cpu",
        "cu92",
        "cu118",
        "cu128",
        "cu130",
        "rocm5.7",
        "rocm6.1",
    ]


def test_sass_runs_on_same_major_and_newer_minor_only() -> None:
    archs = ArchList.parse("5.0;6.0;7.0;7.5;8.0;8.6;9.0")
    assert archs.runs_on(cc("6.1"))  # GTX 1060: sm_60 SASS runs on 6.1
    assert archs.runs_on(cc("8.9"))  # Ada: sm_86 SASS runs on 8.9
    assert not archs.runs_on(cc("3.7"))  # K80: nothing for Kepler
    assert not archs.runs_on(cc("10.0"))  # Blackwell: no sm_100 and no PTX
    assert not archs.runs_on(cc("12.0"))


def test_ptx_runs_on_newer_majors() -> None:
    archs = ArchList.parse("7.5;8.0;8.6;9.0+PTX")
    assert archs.runs_on(cc("10.0"))
    assert archs.runs_on(cc("12.0"))
    assert not archs.runs_on(cc("6.1"))  # PTX never runs on an older GPU
    assert archs.ptx_names == ("compute_90",)
    assert archs.sm_names == ("sm_75", "sm_80", "sm_86", "sm_90")


def test_arch_specific_targets_run_on_that_arch_only() -> None:
    archs = ArchList.parse("9.0a")
    assert archs.runs_on(cc("9.0"))
    assert not archs.runs_on(cc("9.1"))


def test_malformed_arch_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="'sm_75'"):
        ArchList.parse("sm_75;8.0")


@pytest.mark.parametrize(
    ("name", "key", "subdir"),
    [
        ("linux-64", "linux-x86_64", "linux-64"),
        ("linux-aarch64", "linux-aarch64", "linux-aarch64"),
        ("win-64", "windows-x86_64", "win-64"),
        ("osx-arm64", "macos-aarch64", "osx-arm64"),
        ("windows-amd64", "windows-x86_64", "win-64"),
    ],
)
def test_platform_names(name: str, key: str, subdir: str) -> None:
    from torchlock.target import Platform

    platform = Platform.parse(name)
    assert (platform.key, platform.conda_subdir) == (key, subdir)


def test_unknown_platform_names_the_value() -> None:
    from torchlock.target import Platform

    with pytest.raises(InputError, match="'linux-ppc64le'"):
        Platform.parse("linux-ppc64le")
