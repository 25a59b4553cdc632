"""The pure parts: releases for a target, candidates for a set of requirements, markers."""

from __future__ import annotations

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.resolver.universe import LINUX_310, WINDOWS_310, Target
from tests.support.memory_finder import ANY, LINUX_CP310, WIN_CP310, Dist, artifacts_of, dist
from torchlock.artifacts import ArtifactKind
from torchlock.errors import ResolutionError
from torchlock.resolver.candidates import (
    ProjectNeed,
    ProjectReleases,
    TargetFacts,
    Unusable,
    candidates,
    evaluate_project,
)
from torchlock.resolver.markers import applies, target_environment


def _facts(target: Target = LINUX_310) -> TargetFacts:
    return TargetFacts(
        tags=target.tags,
        python_version=target.python_version,
        environment=target_environment(target.environment),
    )


def _releases(*dists: Dist, target: Target = LINUX_310) -> ProjectReleases:
    name = canonicalize_name("pkg")
    return evaluate_project(name, artifacts_of(name, dists), _facts(target))


def _need(text: str) -> ProjectNeed:
    return ProjectNeed.from_requirement(Requirement(text))


def _versions(found: list) -> list[str]:  # type: ignore[type-arg]
    return [str(c.version) for c in found]


def test_releases_are_newest_first_and_know_why_they_are_unusable() -> None:
    releases = _releases(
        dist("1.0", wheels=(LINUX_CP310,)),
        dist("3.0", wheels=(LINUX_CP310,), requires_python=">=3.12"),
        dist("2.0", wheels=(WIN_CP310,)),
    )
    assert [str(v) for v in releases.versions] == ["3.0", "2.0", "1.0"]
    assert [r.unusable for r in releases.releases] == [
        Unusable.REQUIRES_PYTHON,
        Unusable.NO_WHEEL,
        None,
    ]
    assert releases.releases[0].requires_python == (SpecifierSet(">=3.12"),)


def test_the_target_decides_which_wheels_fit() -> None:
    dists = (dist("1.0", wheels=(LINUX_CP310, WIN_CP310)),)
    linux = _releases(*dists).releases[0].usable
    windows = _releases(*dists, target=WINDOWS_310).releases[0].usable
    assert [a.filename for a in linux] == [
        "pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    ]
    assert [a.filename for a in windows] == ["pkg-1.0-cp310-cp310-win_amd64.whl"]


def test_tag_rank_then_build_tag_then_file_name() -> None:
    releases = _releases(
        dist("1.0", wheels=(ANY,), build="9"),
        dist("1.0", wheels=(LINUX_CP310,), build="1"),
        dist("1.0", wheels=(LINUX_CP310,), build="2"),
        dist("1.0", wheels=(LINUX_CP310,)),
    )
    assert [a.filename for a in releases.releases[0].usable] == [
        "pkg-1.0-2-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-9-py3-none-any.whl",
    ]


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("pkg", ["1.1", "1.0"]),
        ("pkg>=1.1", ["1.1"]),
        ("pkg==1.2", ["1.2"]),  # yanked, but pinned exactly
        ("pkg===1.2", ["1.2"]),
        ("pkg==1.2.*", []),  # a wildcard is no exact pin
        ("pkg>=1.1.1", []),  # 1.2 is yanked, 2.0rc1 a pre-release
        ("pkg>=2.0rc1", ["2.0rc1"]),
        ("pkg>=2.0.dev0", ["2.0rc1"]),
    ],
)
def test_candidates_follow_yanked_and_pre_release_rules(
    requirement: str, expected: list[str]
) -> None:
    releases = _releases(dist("1.0"), dist("1.1"), dist("1.2", yanked="broken"), dist("2.0rc1"))
    assert _versions(candidates(releases, [_need(requirement)])) == expected


def test_every_need_must_admit_a_candidate() -> None:
    releases = _releases(dist("1.0"), dist("1.1"), dist("1.2"))
    found = candidates(releases, [_need("pkg>=1.0"), _need("pkg<1.2")])
    assert _versions(found) == ["1.1", "1.0"]


def test_one_need_naming_a_pre_release_opens_them_for_all() -> None:
    releases = _releases(dist("1.0"), dist("2.0rc1"))
    found = candidates(releases, [_need("pkg>=2.0rc1"), _need("pkg")])
    assert _versions(found) == ["2.0rc1"]


def test_an_exact_pin_matches_local_labels() -> None:
    releases = _releases(dist("2.1.2+cu118"), dist("2.1.2+cu121"), dist("2.1.1+cu121"))
    assert _versions(candidates(releases, [_need("pkg==2.1.2")])) == [
        "2.1.2+cu121",
        "2.1.2+cu118",
    ]


def test_the_variant_orders_its_builds_first() -> None:
    releases = _releases(
        dist("2.2.0+cu118"), dist("2.1.2+cu121"), dist("2.1.2+cu118"), dist("2.1.2")
    )
    found = candidates(releases, [_need("pkg")], variant="cu118")
    assert _versions(found) == ["2.2.0+cu118", "2.1.2+cu118", "2.1.2+cu121", "2.1.2"]
    found = candidates(releases, [_need("pkg")], variant="none")
    assert _versions(found)[0] == "2.1.2"


def test_a_versions_sdist_serves_when_no_wheel_of_it_fits() -> None:
    # as pip and uv do: the newest version wins even when only its sdist fits
    only_sdists = _releases(dist("1.0", sdist=True))
    assert _versions(candidates(only_sdists, [_need("pkg")])) == ["1.0"]
    mixed = _releases(dist("1.0", sdist=True), dist("0.9", wheels=(WIN_CP310,)))
    assert _versions(candidates(mixed, [_need("pkg")])) == ["1.0"]
    # a version with a wheel and an sdist: the wheel first, the sdist after it
    both = _releases(dist("2.0", wheels=(LINUX_CP310,)), dist("2.0", sdist=True))
    kinds = [a.kind for a in both.releases[0].usable]
    assert kinds == [ArtifactKind.WHEEL, ArtifactKind.SDIST]


def test_need_texts_and_pins() -> None:
    need = _need("Requests[SOCKS,Security]>=2,<3")
    assert need.identifier == "requests[security,socks]"
    assert need.text == "requests[security,socks]<3,>=2"
    assert not need.is_pinned
    assert _need("torch==2.1.2").is_pinned
    assert not _need("torch==2.1.*").is_pinned
    assert ProjectNeed(project=canonicalize_name("x"), exact=Version("1")).text == "x==1"


# --- markers ------------------------------------------------------------------------------


def test_target_environment_states_every_key_and_no_extra() -> None:
    environment = target_environment({"sys_platform": "win32"})
    assert environment["sys_platform"] == "win32"
    assert environment["platform_machine"] == ""
    assert environment["extra"] == ""


def test_markers_with_extras() -> None:
    environment = target_environment(LINUX_310.environment)
    marker = Marker('extra == "socks" and sys_platform == "linux"')
    assert not applies(marker, environment)
    assert applies(marker, environment, extras=[canonicalize_name("socks")])
    assert not applies(marker, environment, extras=[canonicalize_name("other")])
    assert applies(None, environment)


def test_an_unevaluable_marker_is_a_resolution_error() -> None:
    environment = target_environment(LINUX_310.environment)
    with pytest.raises(ResolutionError, match=r"marker of pkg 1\.0: platform_release ~= "):
        applies(Marker('platform_release ~= "abc"'), environment, owner="pkg 1.0")


def test_a_tag_set_is_ranked_once_and_the_same_for_every_wheel_that_has_it() -> None:
    facts = _facts()
    name = canonicalize_name("pkg")
    first, second, other = artifacts_of(
        name,
        [
            dist("1.0", wheels=(LINUX_CP310,)),
            dist("1.1", wheels=(LINUX_CP310,)),
            dist("1.2", wheels=(WIN_CP310,)),
        ],
    )
    rank = facts.rank(first)
    assert rank is not None
    assert facts.rank(second) == rank
    assert facts.rank(first) == rank  # remembered
    assert facts.rank(other) is None
    assert facts.rank(other) is None
    assert facts.rank(first) == min(facts.tags.index(t) for t in first.tags if t in facts.tags)


def test_equal_rank_and_build_fall_back_to_the_file_name_whatever_the_input_order() -> None:
    name = canonicalize_name("pkg")
    files = artifacts_of(name, [dist("1.0", wheels=("py3-none-any", "py2.py3-none-any"))])
    forward = evaluate_project(name, files, _facts())
    backward = evaluate_project(name, list(reversed(files)), _facts())
    assert forward == backward
    assert [a.filename for a in forward.releases[0].usable] == [
        "pkg-1.0-py2.py3-none-any.whl",
        "pkg-1.0-py3-none-any.whl",
    ]


def test_a_tag_listed_twice_keeps_its_first_rank() -> None:
    from packaging.tags import Tag

    first, second = Tag("cp310", "cp310", "linux_x86_64"), Tag("py3", "none", "any")
    facts = TargetFacts(tags=(first, second, first), python_version=Version("3.10"), environment={})
    wheel = artifacts_of(
        canonicalize_name("pkg"), [dist("1.0", wheels=("cp310-cp310-linux_x86_64",))]
    )
    assert facts.rank(wheel[0]) == 0


def test_value_classes_with_their_own_equality_answer_not_equal_alike() -> None:
    # msgspec's own != compares identity when eq=False: each class spells it out
    from torchlock.resolver.candidates import ProjectCandidate
    from torchlock.target import DriverVersion

    artifact = artifacts_of(canonicalize_name("pkg"), [dist("1.0")])[0]
    pairs = [
        (DriverVersion.parse("525.85.05"), DriverVersion.parse("525.85.05")),
        (DriverVersion.parse("525"), DriverVersion.parse("525.0.0")),
        (_facts(), _facts()),
        (
            ProjectCandidate(project=artifact.project, version=artifact.version, artifacts=()),
            ProjectCandidate(
                project=artifact.project, version=artifact.version, artifacts=(artifact,)
            ),
        ),
    ]
    for a, b in pairs:
        assert a == b
        assert not a != b  # noqa: SIM202 - the operator itself is under test
    assert DriverVersion.parse("525.85.05") != DriverVersion.parse("525.85.12")
    assert _facts() != _facts(WINDOWS_310)


def test_a_copy_of_the_facts_starts_with_memos_of_its_own() -> None:
    from msgspec.structs import replace
    from packaging.tags import Tag

    facts = _facts()
    wheel = artifacts_of(canonicalize_name("pkg"), [dist("1.0")])[0]  # py3-none-any
    assert facts.rank(wheel) is not None
    assert facts.python_accepts(SpecifierSet(">=3.10"))
    other = replace(facts, tags=(Tag("py3", "none", "any"),), python_version=Version("3.9"))
    assert other.rank(wheel) == 0  # not the rank remembered by the original
    assert not other.python_accepts(SpecifierSet(">=3.10"))
