"""Why a resolution is impossible, in words: the first line, the chain, the hint."""

from __future__ import annotations

import pytest

from tests.resolver.universe import (
    LINUX_38,
    VARIANT_PROJECTS,
    WINDOWS_310,
    WORLD,
    lock,
    torch_requires,
    variant_world,
)
from tests.support.memory_finder import MemoryFinder, dist
from torchlock.errors import ResolutionError


def _error(world: dict, *requirements: str, **options: object) -> ResolutionError:  # type: ignore[type-arg]
    with pytest.raises(ResolutionError) as raised:
        lock(MemoryFinder(world), *requirements, **options)  # type: ignore[arg-type]
    assert raised.value.exit_code == 7
    return raised.value


def _lines(error: ResolutionError) -> list[str]:
    return str(error).splitlines()


@pytest.mark.parametrize(
    "requirements",
    [("torch==2.0.1", "torchvision==0.16.2"), ("torchvision==0.16.2", "torch==2.0.1")],
)
def test_conflicting_pins_name_both_sides_and_the_chain(requirements: tuple[str, str]) -> None:
    error = _error(WORLD, *requirements)
    assert _lines(error) == [
        "torchvision 0.16.2 requires torch==2.1.2, but the root requires torch==2.0.1",
        "  chain: <root> → torchvision==0.16.2 → torch==2.1.2",
        "  available torch versions: 2.1.2, 2.1.1, 2.0.1",
        "hint: relax or change one of the pins so that they agree: torch==2.0.1, "
        "torchvision==0.16.2",
    ]


def test_a_conflict_deeper_down_shows_the_whole_chain() -> None:
    world = {
        "app": [dist("1.0", "middle==1.0")],
        "middle": [dist("1.0", "leaf<2")],
        "leaf": [dist("1.0"), dist("2.0")],
    }
    error = _error(world, "app", "leaf>=2")
    assert error.message == "middle 1.0 requires leaf<2, but the root requires leaf>=2"
    assert "  chain: <root> → app → middle==1.0 → leaf<2" in _lines(error)
    assert error.hint == "relax or change one of the pins so that they agree: app, leaf>=2"


def test_only_builds_of_another_variant() -> None:
    error = _error(
        variant_world("cu118"),
        "torch==2.1.2",
        "torchvision==0.16.2",
        variant="cu121",
        variant_projects=VARIANT_PROJECTS,
    )
    assert _lines(error) == [
        "torch 2.1.2+cu118 carries variant cu118, but this resolution is for cu121",
        "  chain: <root> → torch==2.1.2 → variant cu118",
        "  torch 2.1.2 is built for: cu118",
        "  torch versions built for cu121: none",
        "hint: choose another variant (cu118): the index has no cu121 build of torch",
    ]


def test_variant_hint_names_the_newest_version_built_for_it() -> None:
    world = variant_world("cu118")
    world["torch"] = [*world["torch"], dist("2.1.1+cu121", *torch_requires(cuda=False))]
    error = _error(world, "torch==2.1.2", variant="cu121", variant_projects=VARIANT_PROJECTS)
    assert "  torch versions built for cu121: 2.1.1" in _lines(error)
    assert error.hint == (
        "choose another variant (cu118), or a torch version that has a cu121 build (newest: 2.1.1)"
    )


def test_a_default_build_when_a_variant_is_asked_for() -> None:
    error = _error(WORLD, "torch==2.1.2", variant="cu121", variant_projects=VARIANT_PROJECTS)
    assert error.message == (
        "torch 2.1.2 carries no variant label, but this resolution is for cu121"
    )


def test_no_version_matches() -> None:
    error = _error(WORLD, "torchvision==0.16.2", "numpy<1")
    assert _lines(error) == [
        "no version of numpy matches numpy<1 (available: 2.0.0rc1, 1.26.3, 1.24.4)",
        "hint: relax the requirement numpy<1",
    ]


def test_available_versions_show_the_newest_five() -> None:
    world = {"pkg": [dist(f"1.{minor}") for minor in range(8)]}
    error = _error(world, "pkg>=2")
    assert error.message == (
        "no version of pkg matches pkg>=2 (available: 1.7, 1.6, 1.5, 1.4, 1.3, …)"
    )


def test_an_unknown_project_through_a_dependency() -> None:
    error = _error({"app": [dist("1.0", "missing>=1")]}, "app")
    assert _lines(error) == [
        "missing is not on the index: https://index.test/simple/missing/ lists no file for it",
        "  chain: <root> → app → missing>=1",
        "hint: check the project name, or add the index that serves it",
    ]


def test_an_unknown_project_asked_for_directly_points_at_the_index_url() -> None:
    error = _error({"app": [dist("1.0")]}, "torhc")
    assert _lines(error) == [
        "torhc is not on the index: https://index.test/simple/torhc/ lists no file for it",
        "hint: check the index URL (the root of a simple repository, such as "
        "https://HOST/simple) and the project name",
    ]


def test_no_wheel_for_the_target() -> None:
    error = _error(WORLD, "triton", target=WINDOWS_310)
    assert _lines(error) == [
        "triton has no wheel for this target (Python 3.10, win32-AMD64 tags)",
        "  versions matching triton: 2.1.0",
        "  versions with a wheel for this target: none",
        "hint: choose a version that has a wheel for this target, "
        "or lock for another Python or platform",
    ]


def test_every_matching_file_is_yanked() -> None:
    error = _error({"pkg": [dist("1.0", yanked="bad"), dist("1.1", yanked="")]}, "pkg>=1.0")
    assert _lines(error) == [
        "pkg: every matching file is yanked (pkg>=1.0)",
        "  yanked: 1.1, 1.0",
        "hint: pin the exact version with == to accept a yanked file, or choose another version",
    ]


def test_only_pre_releases() -> None:
    error = _error({"pkg": [dist("1.0rc1")]}, "pkg")
    assert error.message == "pkg: only pre-releases match pkg"
    assert error.hint == "ask for a pre-release explicitly, e.g. pkg>=1.0rc1"


def test_requires_python_on_the_index_page() -> None:
    error = _error(WORLD, "numpy>=1.26", target=LINUX_38)
    assert _lines(error) == [
        "numpy: every version matching numpy>=1.26 requires another Python "
        "(the target is Python 3.8.0)",
        "  requires Python >=3.9: 1.26.3",
        "hint: choose an older version, or lock for another Python",
    ]


def test_requires_python_only_in_the_metadata() -> None:
    error = _error({"pkg": [dist("1.0", metadata_requires_python=">=3.11")]}, "pkg")
    assert _lines(error) == [
        "pkg 1.0 requires Python >=3.11, but the target is Python 3.10.0",
        "hint: choose an older pkg that supports Python 3.10.0, or lock for a newer Python",
    ]


def test_too_many_rounds() -> None:
    error = _error(WORLD, "torchvision", max_rounds=3)
    assert error.message == "the resolution did not finish within 3 rounds"
    assert error.evidence == ("root requirements: torchvision",)
    assert error.hint is not None


def test_each_version_says_why_it_is_out() -> None:
    world = {
        "pkg": [
            dist("1.0", requires_python=">=3.11"),
            dist("0.9", wheels=("cp39-cp39-win_amd64",)),
            dist("0.8", yanked="broken"),
        ]
    }
    assert _lines(_error(world, "pkg")) == [
        "no usable version of pkg matches pkg",
        "  requires Python >=3.11: 1.0",
        "  no wheel for this target: 0.9",
        "  yanked: 0.8",
        "hint: lock for another Python or platform",
    ]
