"""Selection cases worked out by hand from the primary sources, not from the code.

Sources used for the expected answers:
  [NV]  NVIDIA CUDA Toolkit release notes, "CUDA Toolkit and Corresponding Driver
        Versions" and the minor version compatibility table
        (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html):
        11.0 GA 450.51.05, 11.0 U1 450.51.06, 11.4 U3 470.82.01, 11.5 GA 495.29.05,
        11.6 GA 510.39.01, 11.7 GA 515.43.04, 11.8 GA 520.61.05 / win 520.06,
        12.0 GA 525.60.13 / win 527.41, 12.0 U1 525.85.12 / win 528.33,
        12.1 GA 530.30.02 / win 531.14, 12.2 GA 535.54.03 / win 536.25,
        12.3 GA 545.23.06, 12.4 GA 550.54.14, 12.4 U1 550.54.15, 12.6 GA 560.28.03,
        12.8 GA 570.26, 12.8 U1 570.124.06, 12.9 GA 575.51.03, 13.0 GA 580.65.06,
        13.0 U1 580.82.07; floors: 11.x 450.80.02, 12.x 525.60.13, 13.x 580.
  [RM]  PyTorch RELEASE.md "Release Compatibility Matrix" and
        https://pytorch.org/get-started/previous-versions/ (CUDA variants per release:
        1.13 cu116/cu117; 2.0 cu117/cu118; 2.1-2.3 cu118/cu121; 2.4-2.5
        cu118/cu121/cu124; 2.6 cu118/cu124/cu126; 2.7 cu118/cu126/cu128;
        Python: 1.13 3.7-3.10(+3.11 Linux); 2.0-2.1 3.8-3.11; 2.2-2.4 3.8-3.12;
        2.5-2.8 3.9-3.13; 2.9 3.10-3.14).
  [AR]  TORCH_CUDA_ARCH_LIST of the binary builds (pytorch/builder
        manywheel/build_cuda.sh, later .ci/manywheel/build_cuda.sh): cu118 of 2.0-2.6
        includes 3.7 and 9.0; cu121/cu124 have 5.0;6.0;7.0;7.5;8.0;8.6;9.0 with no
        PTX; cu128 of 2.7 has 7.5;8.0;8.6;9.0;10.0;12.0 (no Maxwell/Pascal/Volta);
        cu126 of 2.7 keeps 5.0 and 6.0.
  [PY]  The wheels on PyPI: their tags (Python versions) and the CUDA runtime their
        metadata pins (Linux x86_64: 2.1.x cu121, 2.5.x cu124, 2.7.x cu126;
        Windows and macOS wheels are CPU builds; macOS x86_64 wheels end with 2.2;
        2.9 dropped Python 3.9; 2.15.0 has Python 3.11-3.15 wheels).
  [RN]  PyTorch release notes / RELEASE.md of the later releases: 2.8 cu126/cu128/cu129;
        2.15 cu130/cu132 (cu126 removed, pytorch/pytorch#190385); CUDA 13 builds target
        7.5 to 12.0. NVIDIA lists CUDA 13 Windows minimums as N/A: the Linux minimum's
        driver branch stands in (13.0: R580, 13.1: R590).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from torchlock.errors import InputError
from torchlock.matrix.load import load_matrix
from torchlock.matrix.request import build_request
from torchlock.matrix.select import Selection, select
from torchlock.target import OS, Arch, DriverVersion, Platform


@dataclass(frozen=True)
class Case:
    id: str
    driver: str | None
    gpus: tuple[str, ...]
    python: str
    torch: str | None
    expect_torch: str | None  # None: no candidate at all
    expect_variant: str | None
    expect_max_cuda: str | None
    why: str
    os: str = "linux"
    arch: str = "x86_64"
    policy: str = "compat"
    variant: str | None = None
    default_index_has_it: bool | None = None


CASES = [
    Case(
        "t4-525-2.1.2-compat",
        "525.85.05",
        ("7.5",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu121",
        "12.0",
        "[NV] 12.0 GA 525.60.13 <= 525.85.05 < 12.0 U1 525.85.12; cu121 admitted by the 12.x "
        "floor 525.60.13; [AR] 7.5 in cu121; [PY] PyPI's 2.1.2 is cu121",
        default_index_has_it=True,
    ),
    Case(
        "t4-525-2.1.2-strict",
        "525.85.05",
        ("7.5",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu118",
        "12.0",
        "[NV] strict: cu121 needs 530.30.02, cu118 needs 520.61.05 <= 525.85.05",
        policy="strict",
        default_index_has_it=False,
    ),
    Case(
        "t4-525-2.0.1",
        "525.85.05",
        ("7.5",),
        "3.10",
        "2.0.1",
        "2.0.1",
        "cu118",
        "12.0",
        "[RM] 2.0 has cu117 and cu118; both under the driver; highest wins",
    ),
    Case(
        "t4-470-2.1.2-compat",
        "470.182.03",
        ("7.5",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu118",
        "11.4",
        "[NV] 11.4 U3/U4 need 470.82.01, 11.5 needs 495.29.05; cu118 by the 11.x floor "
        "450.80.02; cu121 needs the 12.x floor 525.60.13",
    ),
    Case(
        "t4-470-2.1.2-strict",
        "470.182.03",
        ("7.5",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cpu",
        "11.4",
        "[NV] strict: cu118 needs 520.61.05 > 470.182.03: the CPU build",
        policy="strict",
    ),
    Case(
        "t4-470-1.13-strict",
        "470.182.03",
        ("7.5",),
        "3.10",
        ">=1.13,<2.0",
        "1.13.1",
        "cpu",
        "11.4",
        "[RM] 1.13 has cu116 (510.39.01) and cu117 (515.43.04): neither under strict",
        policy="strict",
    ),
    Case(
        "418-too-old",
        "418.67",
        ("7.0",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cpu",
        None,
        "[NV] every CUDA 11+ release needs >= 450.51.05; 418 is CUDA 10.1's driver",
    ),
    Case(
        "v100-450.80.02-1.13",
        "450.80.02",
        ("7.0",),
        "3.10",
        "1.13.1",
        "1.13.1",
        "cu117",
        "11.0",
        "[NV] exactly the 11.x floor 450.80.02; 11.0 U1 450.51.06 met, 11.1 455.23 not",
    ),
    Case(
        "v100-450.51.05-1.13",
        "450.51.05",
        ("7.0",),
        "3.10",
        "1.13.1",
        "1.13.1",
        "cpu",
        "11.0",
        "[NV] 11.0 GA needs 450.51.05 (met) but the 11.x floor is 450.80.02: cu116/cu117 out",
    ),
    Case(
        "win-gtx1060-536.23",
        "536.23",
        ("6.1",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu121",
        "12.1",
        "[NV] Windows: 12.1 GA 531.14 met, 12.2 GA 536.25 not; [AR] sm_60 SASS runs on 6.1; "
        "[PY] Windows wheels on PyPI are CPU builds",
        os="windows",
        default_index_has_it=False,
    ),
    Case(
        "win-gtx1060-536.23-cpu",
        "536.23",
        ("6.1",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cpu",
        "12.1",
        "[PY] forced cpu: the Windows wheel on PyPI is that build",
        os="windows",
        variant="cpu",
        default_index_has_it=True,
    ),
    Case(
        "h200-580-2.1.2",
        "580.65.06",
        ("9.0",),
        "3.11",
        "2.1.2",
        "2.1.2",
        "cu121",
        "13.0",
        "[NV] 13.0 GA 580.65.06 met, 13.0 U1 580.82.07 not; [AR] 9.0 in cu121",
    ),
    Case(
        "h100-535.104.05-2.0.1",
        "535.104.05",
        ("9.0",),
        "3.10",
        "2.0.1",
        "2.0.1",
        "cu118",
        "12.2",
        "[NV] 12.2 U2 needs 535.104.05; [AR] cu118 of 2.0 has 9.0",
    ),
    Case(
        "rtx4090-535.54.03-2.1.2",
        "535.54.03",
        ("8.9",),
        "3.11",
        "2.1.2",
        "2.1.2",
        "cu121",
        "12.2",
        "[NV] 12.2 GA 535.54.03; [AR] sm_86 SASS runs on 8.9 (same major, older minor)",
    ),
    Case(
        "rtx5090-2.6.0-no-kernel",
        "570.124.06",
        ("12.0",),
        "3.12",
        "2.6.0",
        "2.6.0",
        "cpu",
        "12.8",
        "[AR] 2.6 builds stop at 9.0 without PTX: 'no kernel image' on sm_120; CPU build",
    ),
    Case(
        "rtx5090-2.7.0",
        "570.124.06",
        ("12.0",),
        "3.12",
        "2.7.0",
        "2.7.0",
        "cu128",
        "12.8",
        "[NV] 12.8 U1 570.124.06; [AR] cu128 of 2.7 has 12.0",
    ),
    Case(
        "rtx5090-2.6-2.7-range",
        "570.124.06",
        ("12.0",),
        "3.12",
        ">=2.6,<2.8",
        "2.7.1",
        "cu128",
        "12.8",
        "[RM] newest 2.7.x; 2.6.0 excluded for the architecture",
    ),
    Case(
        "gtx1060-580-2.7.1",
        "580.65.06",
        ("6.1",),
        "3.10",
        "2.7.1",
        "2.7.1",
        "cu126",
        "13.0",
        "[AR] cu128 of 2.7 starts at 7.5; cu126 has 6.0, whose SASS runs on 6.1",
    ),
    Case(
        "k80-470-2.0.1",
        "470.182.03",
        ("3.7",),
        "3.10",
        "2.0.1",
        "2.0.1",
        "cu118",
        "11.4",
        "[AR] cu117 and cu118 of 2.0 include 3.7; cu118 by the 11.x floor",
    ),
    Case(
        "k80-470-2.1.2",
        "470.182.03",
        ("3.7",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu118",
        "11.4",
        "[AR] cu121 has no 3.7; cu118 keeps it",
    ),
    Case(
        "k80-580-2.1.2",
        "580.65.06",
        ("3.7",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cu118",
        "13.0",
        "[AR] even with a driver for every variant, only cu118 has Kepler 3.7 code",
    ),
    Case(
        "macos-arm-2.1.2",
        None,
        (),
        "3.11",
        "2.1.2",
        "2.1.2",
        "cpu",
        None,
        "[PY] macOS wheels are CPU (MPS) builds",
        os="macos",
        arch="aarch64",
        default_index_has_it=True,
    ),
    Case(
        "macos-x86-2.3-plus",
        None,
        (),
        "3.11",
        ">=2.5",
        None,
        None,
        None,
        "[PY] no macOS x86_64 wheels after 2.2/2.3",
        os="macos",
    ),
    Case(
        "aarch64-2.1.2",
        "535.54.03",
        ("9.0",),
        "3.10",
        "2.1.2",
        "2.1.2",
        "cpu",
        "12.2",
        "[RM] 2.1 published only CPU builds for Linux aarch64",
        arch="aarch64",
    ),
    Case(
        "py38-newest",
        "525.85.05",
        ("8.0",),
        "3.8",
        None,
        "2.4.1",
        "cu124",
        "12.0",
        "[RM] 2.5 dropped 3.8, so 2.4.1 is the newest; 2.4 has cu118/cu121/cu124; cu124 "
        "by the 12.x floor",
    ),
    Case(
        "py38-newest-strict",
        "525.85.05",
        ("8.0",),
        "3.8",
        None,
        "2.4.1",
        "cu118",
        "12.0",
        "[NV] strict: only cu118 (520.61.05) is under 525.85.05",
        policy="strict",
    ),
    Case(
        "py37-newest",
        "525.85.05",
        ("7.5",),
        "3.7",
        None,
        "1.13.1",
        "cu117",
        "12.0",
        "[RM] only 1.13 has 3.7 wheels; cu117 needs 515.43.04",
    ),
    Case(
        "py312-2.1.2",
        "525.85.05",
        ("7.5",),
        "3.12",
        "2.1.2",
        None,
        None,
        "12.0",
        "[RM] 3.12 wheels start with 2.2",
    ),
    Case(
        "forced-cu118-newest",
        "525.85.05",
        ("7.5",),
        "3.10",
        None,
        "2.7.1",
        "cu118",
        "12.0",
        "[RM] cu118 was last built for 2.7",
        variant="cu118",
    ),
    Case(
        "exact-floor-525.60.13",
        "525.60.13",
        ("8.6",),
        "3.11",
        "2.3.1",
        "2.3.1",
        "cu121",
        "12.0",
        "[NV] 525.60.13 is both 12.0 GA's minimum and the 12.x floor",
    ),
    Case(
        "a100-550.54.14-2.5.1-strict",
        "550.54.14",
        ("8.0",),
        "3.11",
        "2.5.1",
        "2.5.1",
        "cu124",
        "12.4",
        "[NV] 12.4 GA 550.54.14 met, 12.4 U1 550.54.15 not; [PY] 2.5.1 on PyPI is cu124",
        policy="strict",
        default_index_has_it=True,
    ),
    Case(
        "a100-545-2.5.1-strict",
        "545.23.06",
        ("8.0",),
        "3.11",
        "2.5.1",
        "2.5.1",
        "cu121",
        "12.3",
        "[NV] strict: cu124 needs 550.54.14 > 545.23.06; cu121 needs 530.30.02",
        policy="strict",
    ),
    Case(
        "mixed-t4-5090-2.7.1",
        "575.57.08",
        ("7.5", "12.0"),
        "3.12",
        "2.7.1",
        "2.7.1",
        "cu128",
        "12.9",
        "[NV] 12.9 U1 575.57.08; [AR] cu128 of 2.7 has both 7.5 and 12.0",
    ),
    Case(
        "mixed-1060-5090-2.7.1",
        "575.57.08",
        ("6.1", "12.0"),
        "3.12",
        "2.7.1",
        "2.7.1",
        "cpu",
        "12.9",
        "[AR] cu128 lacks 6.x, cu126 lacks 12.0: no variant serves both GPUs",
    ),
    Case(
        "b200-570.86-2.7.0",
        "570.86.15",
        ("10.0",),
        "3.11",
        "2.7.0",
        "2.7.0",
        "cu128",
        "12.8",
        "[NV] 12.8 GA 570.26 met, 12.8 U1 570.124.06 not; [AR] cu128 has 10.0",
    ),
    Case(
        "t4-525-2.5.1-compat",
        "525.85.05",
        ("7.5",),
        "3.10",
        "2.5.1",
        "2.5.1",
        "cu124",
        "12.0",
        "[RM] 2.5 has cu118/cu121/cu124; cu124 through the 12.x floor; [PY] PyPI is cu124",
        default_index_has_it=True,
    ),
    Case(
        "win-t4-528.33-2.3.1-strict",
        "528.33",
        ("7.5",),
        "3.11",
        "2.3.1",
        "2.3.1",
        "cu118",
        "12.0",
        "[NV] Windows strict: cu121 needs 531.14; cu118 needs 520.06",
        os="windows",
        policy="strict",
    ),
    Case(
        "h200-590-py314-newest",
        "590.44.01",
        ("9.0",),
        "3.14",
        None,
        "2.15.0",
        "cu132",
        "13.1",
        "[NV] 13.1 GA 590.44.01 met, 13.1 U1 590.48.01 not; cu132 (13.2 GA 595.45.04) by the "
        "13.x floor 580; [RN] 2.15 has cu130/cu132; [PY] 2.15.0 has 3.14 wheels",
        default_index_has_it=True,
    ),
    Case(
        "h200-590-py314-newest-strict",
        "590.44.01",
        ("9.0",),
        "3.14",
        None,
        "2.15.0",
        "cu130",
        "13.1",
        "[NV] strict: cu132 needs 595.45.04, cu130 needs 580.65.06",
        policy="strict",
    ),
    Case(
        "a100-535-py39-newest",
        "535.54.03",
        ("8.0",),
        "3.9",
        None,
        "2.8.0",
        "cu129",
        "12.2",
        "[PY] 2.9 dropped 3.9, so 2.8.0 is the newest; [RN] 2.8 has cu126/cu128/cu129, "
        "cu129 by the 12.x floor",
    ),
    Case(
        "a100-535-py39-newest-strict",
        "535.54.03",
        ("8.0",),
        "3.9",
        None,
        "2.7.1",
        "cu118",
        "12.2",
        "[NV] strict: 2.8's lowest, cu126, needs 560.28.03; 2.7.1 still has cu118 (520.61.05) "
        "and a CUDA build on an older torch beats the CPU build on a newer one",
        policy="strict",
    ),
    Case(
        "win-rtx3060-560.94-py313-2.6.0",
        "560.94",
        ("8.6",),
        "3.13",
        "2.6.0",
        "2.6.0",
        "cu126",
        "12.6",
        "[NV] Windows: 12.6 GA 560.76 and 12.6 U1 560.94 met, 12.6 U3 561.17 not; "
        "[RM] 2.6 has cu118/cu124/cu126 on Windows",
        os="windows",
    ),
    Case(
        "win-rtx5090-581.57-2.9.1",
        "581.57",
        ("12.0",),
        "3.12",
        "2.9.1",
        "2.9.1",
        "cu130",
        "13.0",
        "[NV]/[RN] Windows CUDA 13.0 needs the R580 branch, 13.1 R590; [AR] cu130 has 12.0",
        os="windows",
    ),
]


def _run(case: Case) -> Selection | None:
    matrix = load_matrix()
    request = build_request(
        matrix,
        platform=Platform(os=OS.parse(case.os), arch=Arch.parse(case.arch)),
        python=case.python,
        driver=None if case.driver is None else DriverVersion.parse(case.driver),
        gpu_cc=case.gpus,
        torch=case.torch,
        variant=case.variant,
        policy=case.policy,
    )
    return select(matrix, request)


def test_at_least_thirty_cases_across_the_range() -> None:
    assert len(CASES) >= 30
    drivers = [DriverVersion.parse(c.driver) for c in CASES if c.driver]
    assert min(drivers) < DriverVersion.parse("420") < DriverVersion.parse("580") <= max(drivers)
    assert {c.os for c in CASES} >= {"linux", "windows"}
    assert max(drivers) >= DriverVersion.parse("590")
    pythons = {c.python for c in CASES}
    assert pythons >= {"3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}
    assert {g for c in CASES for g in c.gpus} >= {"6.1", "7.0", "7.5", "8.9", "9.0", "12.0"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_selection(case: Case) -> None:
    selection = _run(case)
    assert selection is not None
    assert selection.max_cuda_version == case.expect_max_cuda, case.why
    best = selection.recommended
    if case.expect_torch is None:
        assert best is None, case.why
        return
    assert best is not None, (case.why, selection.excluded)
    assert (str(best.torch), best.variant.name) == (case.expect_torch, case.expect_variant), (
        case.why
    )
    if case.default_index_has_it is not None:
        assert best.default_index_has_it is case.default_index_has_it


def test_bad_request_values_are_input_errors() -> None:
    matrix = load_matrix()
    platform = Platform(os=OS.LINUX, arch=Arch.X86_64)
    with pytest.raises(InputError, match=r"Python 2\.7"):
        build_request(matrix, platform=platform, python="2.7", driver=None)
    with pytest.raises(InputError, match=r"'9\.9'"):
        build_request(matrix, platform=platform, python="3.10", driver=None, torch="9.9")
    with pytest.raises(InputError, match="'cu999'"):
        build_request(matrix, platform=platform, python="3.10", driver=None, variant="cu999")


def test_exclusions_summarize_to_one_line_per_reason() -> None:
    from torchlock.matrix.report import summarize_exclusions

    matrix = load_matrix()
    request = build_request(
        matrix,
        platform=Platform(os=OS.LINUX, arch=Arch.X86_64),
        python="3.10",
        driver=DriverVersion.parse("470.182.03"),
        torch=">=2.1,<2.2",
        variant="cu121",
    )
    selection = select(matrix, request)
    assert selection.candidates == ()
    lines = summarize_exclusions(selection.excluded)
    # [NV] cu121 needs 530.30.02 and the 12.x floor is 525.60.13; 2.1.0-2.1.2 all hit it.
    assert lines == [
        "cu121 (3 releases, 2.1.0 ... 2.1.2): driver 470.182.03 is older than CUDA 12.1 "
        "needs (>= 530.30.02) and than the CUDA 12.x compatibility floor (>= 525.60.13)"
    ]
