"""The ``rattler`` backend against a local conda channel that the tests build."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.support.conda_channel import CondaSpec, build_channel, locked
from torchlock.envs.conda_rattler import channel_of, install_conda_base
from torchlock.envs.install import BuildError

pytest.importorskip("rattler")

SPECS = (
    CondaSpec(name="alpha", version="1.0", files={"share/alpha/where.txt": "alpha\n"}),
    CondaSpec(name="beta", version="2.1", build="py_0", depends=("alpha >=1",)),
    CondaSpec(name="beta", version="2.2", build="py_0", depends=("alpha >=1",)),  # not locked
)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_channel(tmp_path_factory.mktemp("channel"), SPECS)


def test_the_channel_is_indexed_by_rattler(channel: Path) -> None:
    repodata = json.loads((channel / "noarch" / "repodata.json").read_text())
    assert sorted(repodata["packages"]) == [
        "alpha-1.0-0.tar.bz2",
        "beta-2.1-py_0.tar.bz2",
        "beta-2.2-py_0.tar.bz2",
    ]


def test_locked_packages_land_in_the_prefix_with_their_records(
    channel: Path, tmp_path: Path
) -> None:
    packages = [locked(channel, SPECS[0]), locked(channel, SPECS[1])]
    assert channel_of(packages[0].url) == channel.resolve().as_uri()
    staging, final = tmp_path / ".env.torchlock-x", tmp_path / "env"
    names = install_conda_base(
        packages=packages,
        python="3.11",
        channels=(),
        staging=staging,
        final=final,
        platform="linux-64",
        cache_dir=tmp_path / "cache",
    )
    assert names == ("alpha", "beta")
    assert not final.exists()  # linked into the staging folder, for the final prefix
    assert (staging / "share" / "alpha" / "where.txt").read_text() == "alpha\n"
    assert (staging / "share" / "beta" / "README.txt").read_text() == "beta 2.1\n"
    records = {p.name: json.loads(p.read_text()) for p in (staging / "conda-meta").glob("*.json")}
    assert sorted(records) == ["alpha-1.0-0.json", "beta-2.1-py_0.json"]  # 2.1, as locked
    beta = records["beta-2.1-py_0.json"]
    assert beta["sha256"] == packages[1].sha256
    assert beta["md5"] == packages[1].md5
    assert beta["depends"] == ["alpha >=1"]


def test_a_package_whose_hash_differs_from_the_lock_is_refused(
    channel: Path, tmp_path: Path
) -> None:
    bad = dataclasses.replace(locked(channel, SPECS[0]), sha256="0" * 64)
    with pytest.raises(BuildError, match="alpha: sha256 on its channel does not match the lock"):
        install_conda_base(
            packages=[bad],
            python="3.11",
            channels=(),
            staging=tmp_path / "s",
            final=tmp_path / "f",
            platform="linux-64",
            cache_dir=tmp_path / "cache",
        )
    assert not (tmp_path / "s").exists()


def test_an_incomplete_lock_is_refused(channel: Path, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not complete: the solve added alpha"):
        install_conda_base(
            packages=[locked(channel, SPECS[1])],
            python="3.11",
            channels=(),
            staging=tmp_path / "s",
            final=tmp_path / "f",
            platform="linux-64",
            cache_dir=tmp_path / "cache",
        )
