"""The shipped data files: loadable, consistent with each other, every record sourced."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from packaging.version import Version

from tests.support.hosts import REGISTRY_HOSTS
from torchlock.matrix.load import DATA_FILES, load_matrix, read_data_file
from torchlock.matrix.model import Matrix, VariantKind
from torchlock.system.gpu_names import compute_capability_for
from torchlock.target import ComputeCapability

PLATFORMS = {
    "linux-x86_64",
    "linux-aarch64",
    "windows-x86_64",
    "windows-aarch64",
    "macos-x86_64",
    "macos-aarch64",
}


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return load_matrix()


def test_covers_every_release_from_1_13(matrix: Matrix) -> None:
    versions = [r.torch for r in matrix.releases]
    assert versions[0] == Version("1.13.0")
    assert Version("2.1.2") in versions
    assert Version("2.5.1") in versions
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    assert all(not v.is_prerelease and v.local is None for v in versions)


def test_every_release_has_its_builds_researched(matrix: Matrix) -> None:
    missing = [str(r.torch) for r in matrix.releases if r.notes]
    assert missing == []
    unsourced = [str(r.torch) for r in matrix.releases if not r.sources]
    assert unsourced == []


def test_every_release_pairs_with_a_torchvision(matrix: Matrix) -> None:
    assert [str(r.torch) for r in matrix.releases if r.torchvision is None] == []


def test_platform_keys_are_known(matrix: Matrix) -> None:
    for release in matrix.releases:
        assert set(release.python) <= PLATFORMS, release.torch
        assert set(release.variants) <= PLATFORMS, release.torch
        assert set(release.default_variant) <= set(release.python), release.torch


def test_every_cuda_variant_has_driver_data_and_architectures(matrix: Matrix) -> None:
    problems = []
    for release in matrix.releases:
        for platform, variants in release.variants.items():
            for variant in variants:
                if variant.kind is not VariantKind.CUDA:
                    continue
                assert variant.cuda is not None
                if matrix.first_toolkit(*variant.cuda) is None:
                    problems.append(f"{release.torch} {variant}: no CUDA {variant.cuda} toolkit")
                if matrix.family(variant.cuda[0]) is None:
                    problems.append(f"{release.torch} {variant}: no CUDA {variant.cuda[0]} floor")
                if release.arch_for(platform, variant.name) is None:
                    problems.append(f"{release.torch} {platform} {variant}: no architectures")
    assert problems == []


def test_default_index_build_is_also_on_the_pytorch_index(matrix: Matrix) -> None:
    problems = []
    for release in matrix.releases:
        for platform, name in release.default_variant.items():
            names = {v.name for v in release.variants.get(platform, ())}
            if names and name not in names:
                problems.append(f"{release.torch} {platform}: {name} not in {sorted(names)}")
    assert problems == []


def test_toolkits_and_floors_are_sourced_and_ordered(matrix: Matrix) -> None:
    assert [t.version for t in matrix.toolkits] == sorted(t.version for t in matrix.toolkits)
    assert all(t.source.startswith("https://") for t in matrix.toolkits)
    assert {f.major for f in matrix.families} >= {11, 12, 13}
    for family in matrix.families:
        # The floor is never above what the family's newest release needs (it can be
        # above the first release's: 11.0 GA needed 450.51.05, the 11.x floor is 450.80.02).
        newest = max(
            (t for t in matrix.toolkits if t.version.major == family.major),
            key=lambda t: t.version,
        )
        assert family.linux is not None
        assert newest.linux is not None
        assert family.linux <= newest.linux


@pytest.mark.parametrize("name", [*DATA_FILES, "gpus.json"])
def test_data_files_name_no_registry_host_and_no_local_path(name: str) -> None:
    text = resources.files("torchlock.matrix").joinpath("data").joinpath(name).read_text()
    assert not REGISTRY_HOSTS.search(text)
    assert not re.search(r"/(root|work|home/\w+)/", text)
    json.loads(text)


def test_gpu_table_examples_first_match_their_entry() -> None:
    table = read_data_file("gpus.json")
    for entry in table["gpus"]:
        for example in entry["examples"]:
            assert compute_capability_for(example) == ComputeCapability.parse(entry["cc"]), example


# Which releases had CUDA 12.9 builds (builds.json's note "cu129 after 2.8"): Linux only
# after 2.8, none in 2.12.0 and 2.14.0. Public environments pin e.g. 2.9.1+cu129 and
# 2.13.0+cu129 with torchvision 0.24.1+cu129 and 0.28.0+cu129.
CU129 = {
    "2.8.0": {"linux-x86_64", "linux-aarch64", "windows-x86_64"},
    "2.9.0": {"linux-x86_64"},
    "2.9.1": {"linux-x86_64", "linux-aarch64"},
    "2.10.0": {"linux-x86_64", "linux-aarch64"},
    "2.11.0": {"linux-x86_64", "linux-aarch64"},
    "2.12.0": set(),
    "2.12.1": {"linux-x86_64", "linux-aarch64"},
    "2.13.0": {"linux-x86_64", "linux-aarch64"},
    "2.14.0": set(),
}


@pytest.mark.parametrize(("torch", "platforms"), sorted(CU129.items()))
def test_cu129_builds_are_recorded_where_they_were_published(
    matrix: Matrix, torch: str, platforms: set[str]
) -> None:
    [release] = [r for r in matrix.releases if r.torch == Version(torch)]
    found = {
        p for p, variants in release.variants.items() if any(v.name == "cu129" for v in variants)
    }
    assert found == platforms
