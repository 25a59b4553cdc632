"""resolve() over a Finder of plain values: closures, markers, variants, selection rules."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.resolver.universe import (
    CLOSURE_LINUX,
    LINUX_38,
    LINUX_310,
    VARIANT_PROJECTS,
    WINDOWS_310,
    WORLD,
    lock,
    names,
    variant_world,
    versions,
)
from tests.support.memory_finder import ANY, LINUX_CP310, WIN_CP310, MemoryFinder, dist
from torchlock.artifacts import ArtifactKind
from torchlock.errors import InputError, PackageIndexError
from torchlock.resolver.resolve import resolve
from torchlock.resolver.result import ROOT, Resolution

ROOTS = ("torch==2.1.2", "torchvision==0.16.2", "numpy>=1.24")


def test_torch_closure_for_linux_x86_64_cp310() -> None:
    resolution = lock(MemoryFinder(WORLD), *ROOTS)

    assert versions(resolution) == CLOSURE_LINUX
    assert resolution.roots == names("numpy", "torch", "torchvision")
    assert [p.name for p in resolution.pins] == sorted(CLOSURE_LINUX)
    torch = resolution["torch"]
    assert torch.artifact.filename == (
        "torch-2.1.2-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert torch.artifacts == (torch.artifact,)  # the Windows wheel does not fit
    assert torch.index == "https://index.test/simple/"
    assert str(torch.requires_python) == ">=3.8.0"
    assert torch.markers is None
    assert not torch.is_sdist


def test_windows_target_drops_the_linux_only_dependencies() -> None:
    # The host running these tests is irrelevant: markers are evaluated for the target.
    resolution = lock(MemoryFinder(WORLD), *ROOTS, target=WINDOWS_310)

    linux_only = {"nvidia-cuda-runtime-cu12", "nvidia-cublas-cu12", "nvidia-cudnn-cu12", "triton"}
    expected = {k: v for k, v in CLOSURE_LINUX.items() if k not in linux_only}
    assert versions(resolution) == expected
    assert resolution["torch"].artifact.filename == "torch-2.1.2-cp310-cp310-win_amd64.whl"
    assert "triton" not in resolution["torch"].dependencies


def test_a_key_the_target_does_not_state_is_not_taken_from_the_host() -> None:
    host_platform = sys.platform
    finder = MemoryFinder(
        {"app": [dist("1.0", f'helper; sys_platform == "{host_platform}"')], "helper": [dist("1")]}
    )
    environment = {k: v for k, v in LINUX_310.environment.items() if k != "sys_platform"}
    resolution = resolve(
        [Requirement("app")],
        finder=finder,
        environment=environment,
        tags=LINUX_310.tags,
        python_version=LINUX_310.python_version,
    )
    assert versions(resolution) == {"app": "1.0"}


def test_root_requirements_whose_marker_does_not_apply_are_dropped() -> None:
    resolution = lock(
        MemoryFinder(WORLD),
        'numpy; sys_platform == "win32"',
        'sympy; sys_platform == "linux"',
    )
    assert versions(resolution) == {"sympy": "1.12", "mpmath": "1.3.0"}
    assert resolution.roots == names("sympy")


def test_dependency_edges_and_required_by() -> None:
    resolution = lock(MemoryFinder(WORLD), *ROOTS)

    assert resolution["torchvision"].dependencies == names("numpy", "pillow", "requests", "torch")
    assert resolution["torchvision"].required_by == (ROOT,)
    assert resolution["torch"].required_by == (ROOT, "torchvision")
    assert resolution["numpy"].required_by == (ROOT, "torchvision")
    assert resolution["filelock"].required_by == names("torch", "triton")
    assert resolution["nvidia-cublas-cu12"].required_by == names("nvidia-cudnn-cu12", "torch")
    assert resolution["requests"].dependencies == names(
        "certifi", "charset-normalizer", "idna", "urllib3"
    )
    assert resolution["mpmath"].dependencies == ()
    # every edge has its reverse
    for pin in resolution.pins:
        for dependency in pin.dependencies:
            assert pin.name in resolution[dependency].required_by


def test_prefetch_is_called_with_roots_then_dependency_names() -> None:
    finder = MemoryFinder(WORLD)
    lock(finder, *ROOTS)

    assert finder.prefetched[0] == names("numpy", "torch", "torchvision")
    assert names("numpy", "pillow", "requests", "torch") in finder.prefetched
    assert names("certifi", "charset-normalizer", "idna", "urllib3") in finder.prefetched
    # each project's page is asked for only after it was announced
    announced: set[str] = set()
    for kind, argument in finder.calls:
        if kind == "prefetch":
            announced.update(argument.split(","))
        elif kind == "artifacts":
            assert argument in announced


def test_metadata_is_read_once_per_file() -> None:
    finder = MemoryFinder(WORLD)
    lock(finder, *ROOTS)
    read = finder.asked("metadata")
    assert len(read) == len(set(read))


def test_newest_version_is_preferred() -> None:
    resolution = lock(MemoryFinder(WORLD), "numpy", "pillow", "torchvision")
    assert versions(resolution)["numpy"] == "1.26.3"  # not the 2.0.0rc1 pre-release
    assert versions(resolution)["pillow"] == "10.2.0"
    assert versions(resolution)["torchvision"] == "0.16.2"
    assert versions(resolution)["torch"] == "2.1.2"


def test_backtracks_to_an_older_version_when_the_newest_conflicts() -> None:
    resolution = lock(MemoryFinder(WORLD), "torchvision", "torch<2.1")
    assert versions(resolution)["torchvision"] == "0.15.2"
    assert versions(resolution)["torch"] == "2.0.1"


def test_yanked_versions_are_skipped() -> None:
    finder = MemoryFinder({"pkg": [dist("1.0"), dist("1.1", yanked="broken build")]})
    assert versions(lock(finder, "pkg")) == {"pkg": "1.0"}
    assert versions(lock(finder, "pkg>=1.0")) == {"pkg": "1.0"}


def test_a_yanked_version_is_used_when_pinned_with_double_equals() -> None:
    finder = MemoryFinder({"pkg": [dist("1.0"), dist("1.1", yanked="")]})
    resolution = lock(finder, "pkg==1.1")
    assert versions(resolution) == {"pkg": "1.1"}
    assert resolution["pkg"].artifact.yanked == ""


def test_a_yanked_file_is_skipped_when_another_file_of_the_version_is_not() -> None:
    finder = MemoryFinder(
        {"pkg": [dist("1.0", wheels=(LINUX_CP310,), yanked="bad"), dist("1.0", wheels=(ANY,))]}
    )
    resolution = lock(finder, "pkg==1.0")
    assert resolution["pkg"].artifacts == (resolution["pkg"].artifact,)
    assert resolution["pkg"].artifact.filename == "pkg-1.0-py3-none-any.whl"


def test_pre_releases_are_skipped_unless_asked_for() -> None:
    finder = MemoryFinder(WORLD)
    assert versions(lock(finder, "numpy"))["numpy"] == "1.26.3"
    assert versions(lock(finder, "numpy>=1.25"))["numpy"] == "1.26.3"
    assert versions(lock(finder, "numpy>=2.0.0rc1"))["numpy"] == "2.0.0rc1"
    assert versions(lock(finder, "numpy==2.0.0rc1"))["numpy"] == "2.0.0rc1"


def test_requires_python_excludes_a_too_new_version() -> None:
    resolution = lock(MemoryFinder(WORLD), "numpy", target=LINUX_38)
    assert versions(resolution) == {"numpy": "1.24.4"}


def test_requires_python_only_in_the_metadata_is_honoured() -> None:
    finder = MemoryFinder({"pkg": [dist("1.0"), dist("2.0", metadata_requires_python=">=3.11")]})
    assert versions(lock(finder, "pkg")) == {"pkg": "1.0"}


def test_the_best_ranked_wheel_is_chosen_and_all_fitting_wheels_are_listed() -> None:
    finder = MemoryFinder(
        {
            "pkg": [
                dist(
                    "1.0",
                    wheels=(
                        ANY,
                        "cp310-abi3-manylinux_2_28_x86_64",
                        "cp310-cp310-manylinux_2_17_x86_64",
                        WIN_CP310,
                    ),
                )
            ]
        }
    )
    pin = lock(finder, "pkg")["pkg"]
    assert [a.filename for a in pin.artifacts] == [
        "pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
        "pkg-1.0-cp310-abi3-manylinux_2_28_x86_64.whl",
        "pkg-1.0-py3-none-any.whl",
    ]
    assert pin.artifact is pin.artifacts[0]


def test_the_highest_build_tag_wins_among_equally_ranked_wheels() -> None:
    finder = MemoryFinder({"pkg": [dist("1.0", build="1"), dist("1.0", build="2")]})
    pin = lock(finder, "pkg")["pkg"]
    assert pin.artifact.filename == "pkg-1.0-2-py3-none-any.whl"
    assert len(pin.artifacts) == 2


def test_the_newest_version_wins_even_when_only_its_sdist_fits() -> None:
    # pip's and uv's rule: a version's sdist serves the target when none of its wheels do
    finder = MemoryFinder(
        {
            "pure": [dist("1.0", sdist=True), dist("1.1", sdist=True)],
            "mixed": [dist("1.0"), dist("2.0", sdist=True)],
            "wheeled": [dist("3.0"), dist("3.0", sdist=True)],
        }
    )
    resolution = lock(finder, "pure", "mixed", "wheeled")
    assert resolution["pure"].version == Version("1.1")
    assert resolution["pure"].is_sdist
    assert resolution["pure"].artifact.kind is ArtifactKind.SDIST
    assert resolution["mixed"].version == Version("2.0")
    assert resolution["mixed"].is_sdist
    # with both, the wheel is the chosen file and the sdist is kept beside it
    assert not resolution["wheeled"].is_sdist
    assert [a.kind for a in resolution["wheeled"].artifacts] == [
        ArtifactKind.WHEEL,
        ArtifactKind.SDIST,
    ]


def test_extras_pull_in_their_dependencies() -> None:
    resolution = lock(MemoryFinder(WORLD), "requests[socks]")
    assert versions(resolution) == {
        "certifi": "2023.11.17",
        "charset-normalizer": "3.3.2",
        "idna": "3.6",
        "pysocks": "1.7.1",
        "requests": "2.31.0",
        "urllib3": "2.1.0",
    }
    assert resolution["requests"].extras == frozenset({"socks"})
    assert "pysocks" in resolution["requests"].dependencies
    assert resolution["pysocks"].required_by == names("requests")
    assert resolution.roots == names("requests")


def test_without_the_extra_its_dependencies_stay_out() -> None:
    resolution = lock(MemoryFinder(WORLD), "requests")
    assert "pysocks" not in resolution
    assert resolution["requests"].extras == frozenset()


def test_an_extra_name_is_normalized() -> None:
    resolution = lock(MemoryFinder(WORLD), "requests[Use_Chardet_On_Py3]")
    assert versions(resolution)["chardet"] == "5.2.0"


def test_an_extra_and_a_plain_requirement_share_one_version() -> None:
    resolution = lock(MemoryFinder(WORLD), "requests[socks]", "requests<3")
    assert versions(resolution)["requests"] == "2.31.0"
    assert resolution["requests"].extras == frozenset({"socks"})


# --- variants --------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [("cu118", "cu121"), ("cu121", "cu118")])
def test_variant_picks_builds_carrying_its_label(labels: tuple[str, ...]) -> None:
    finder = MemoryFinder(variant_world(*labels, "cpu", plain=True))
    resolution = lock(
        finder,
        "torch==2.1.2",
        "torchvision==0.16.2",
        variant="cu121",
        variant_projects=VARIANT_PROJECTS,
    )
    assert resolution["torch"].version == Version("2.1.2+cu121")
    assert resolution["torchvision"].version == Version("0.16.2+cu121")
    assert resolution["torch"].artifact.url.endswith(
        "torch-2.1.2%2Bcu121-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert "#variant" not in {p.name for p in resolution.pins}


def test_variant_none_picks_builds_without_a_label() -> None:
    finder = MemoryFinder(variant_world("cu118", "cu121", plain=True))
    resolution = lock(
        finder, "torch==2.1.2", "torchvision", variant=None, variant_projects=VARIANT_PROJECTS
    )
    assert resolution["torch"].version == Version("2.1.2")
    assert resolution["torchvision"].version == Version("0.16.2")


def test_without_variant_projects_the_newest_build_wins() -> None:
    finder = MemoryFinder(variant_world("cu118", "cu121"))
    resolution = lock(finder, "torch==2.1.2")
    assert resolution["torch"].version == Version("2.1.2+cu121")


def test_a_wrong_variant_build_is_rejected_without_reading_its_metadata() -> None:
    finder = MemoryFinder(variant_world("cu118", "cu121", "cu999"))
    lock(finder, "torch==2.1.2", variant="cu118", variant_projects=VARIANT_PROJECTS)
    assert not [f for f in finder.asked("metadata") if "cu121" in f or "cu999" in f]


# --- determinism and the outside world ---------------------------------------------------


def test_same_inputs_give_the_same_resolution_whatever_the_file_order() -> None:
    results: list[Resolution] = []
    for seed in range(4):
        finder = MemoryFinder(
            variant_world("cu118", "cu121", plain=True), shuffle=random.Random(seed)
        )
        results.append(
            lock(
                finder,
                "torchvision",
                "torch>=2",
                "numpy>=1.24",
                "requests[socks]",
                variant="cu121",
                variant_projects=VARIANT_PROJECTS,
            )
        )
    assert all(r == results[0] for r in results[1:])


SCRIPT = """
import random
from tests.resolver.universe import WORLD, lock, versions
from tests.support.memory_finder import MemoryFinder
r = lock(MemoryFinder(WORLD, shuffle=random.Random(7)), "torchvision", "numpy", "requests[socks]")
print([(p.name, p.version, p.artifact.filename, p.dependencies, p.required_by) for p in r.pins])
"""


def test_same_resolution_under_different_hash_seeds() -> None:
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(root), str(root / "src"), *filter(None, sys.path)])
    outputs = set()
    for seed in ("0", "1", "12345"):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": path},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_finder_errors_propagate_unchanged() -> None:
    error = PackageIndexError("GET https://index.test/simple/pillow/ failed: 503")
    finder = MemoryFinder(WORLD, failures={"pillow": error})
    with pytest.raises(PackageIndexError) as raised:
        lock(finder, "torchvision")
    assert raised.value is error


def test_a_direct_url_requirement_is_refused() -> None:
    with pytest.raises(InputError, match="direct URL"):
        lock(MemoryFinder(WORLD), "torch @ https://files.test/torch-2.1.2-py3-none-any.whl")


def test_importing_the_resolver_does_not_import_resolvelib() -> None:
    code = "import sys, torchlock.resolver; print('resolvelib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_closure_of_two_thousand_projects_resolves() -> None:
    # one root asking for 2,000 projects, each of whose newest version asks for the next:
    # more rounds than resolvelib's rounds limit used to allow, and a quadratic ranking
    n = 2000
    projects = {"root": [dist("1.0", *[f"p{i}" for i in range(n)])]}
    for i in range(n):
        projects[f"p{i}"] = [dist("1.0"), dist("2.0", f"p{(i + 1) % n}>=1")]
    resolution = lock(MemoryFinder(projects), "root")
    assert len(resolution.pins) == n + 1
    assert all(str(p.version) == "2.0" for p in resolution.pins if p.name != "root")
