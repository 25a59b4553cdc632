"""Building an sdist's wheel metadata with its own backend, and unpacking sdists safely.

The sdists are real (tests/support/wheels.py): an in-tree PEP 517 backend that needs
nothing from an index, built through ``build`` in a fresh venv as pip and uv would.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.wheels import build_sdist
from torchlock.artifacts import Artifact, ArtifactKind
from torchlock.envs.sdist_build import IsolatedBuilder, unpack_sdist
from torchlock.errors import SdistBuildError
from torchlock.index.metadata import parse_metadata
from torchlock.system.runner import SubprocessRunner


def _artifact(path: Path) -> Artifact:
    name, version = path.name.removesuffix(".tar.gz").rsplit("-", 1)
    return Artifact(
        project=canonicalize_name(name),
        version=Version(version),
        filename=path.name,
        url=path.as_uri(),
        index=path.parent.as_uri(),
        kind=ArtifactKind.SDIST,
    )


def _builder(tmp_path: Path) -> IsolatedBuilder:
    return IsolatedBuilder(
        runner=SubprocessRunner(),
        python=sys.executable,
        index_url="http://127.0.0.1:9/simple",  # never asked: the backend needs nothing
        environ=os.environ,
        scratch=tmp_path,
    )


def test_the_backend_says_what_the_wheel_requires(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path / "dist",
        "dyn-pkg",
        "1.0",
        requires_dist=["from-pkg-info"],
        static=False,
        built_requires_dist=["six>=1.5", 'tomli; python_version < "3.11"'],
    )
    with sdist.open("rb") as handle:
        text = _builder(tmp_path).wheel_metadata(handle, _artifact(sdist))
    meta = parse_metadata(text)
    assert meta.name == "dyn-pkg"
    assert [r.name for r in meta.requires_dist] == ["six", "tomli"]
    assert list(tmp_path.glob("torchlock-build-*")) == []  # the scratch folder is gone


def test_a_backend_that_needs_torch_is_named_with_what_to_do(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path / "dist",
        "cuda-ext",
        "2.0",
        static=False,
        backend_prelude="import torch  # as flash-attn's setup.py does",
    )
    with sdist.open("rb") as handle, pytest.raises(SdistBuildError) as caught:
        _builder(tmp_path).wheel_metadata(handle, _artifact(sdist))
    message = str(caught.value)
    assert message.startswith("cuda-ext 2.0 needs torch installed to build")
    assert "No module named 'torch'" in message
    assert "prebuilt wheels of cuda-ext" in message
    assert caught.value.exit_code == 8


def test_a_failing_backend_gives_its_last_words(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path / "dist",
        "broken",
        "1.0",
        static=False,
        backend_prelude="raise RuntimeError('this backend is broken on purpose')",
    )
    with sdist.open("rb") as handle, pytest.raises(SdistBuildError) as caught:
        _builder(tmp_path).wheel_metadata(handle, _artifact(sdist))
    assert str(caught.value).startswith("the build backend of broken 1.0 failed")
    assert "this backend is broken on purpose" in str(caught.value)


# --- unpacking ----------------------------------------------------------------------------


def _tar(members: list[tarfile.TarInfo], data: bytes = b"x") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if member.isfile():
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
            else:
                archive.addfile(member)
    buffer.seek(0)
    return buffer


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([_file("p-1/PKG-INFO"), _file("p-1/../../escape")], id="dot-dot"),
        pytest.param([_file("/etc/p-1")], id="absolute"),
        pytest.param([_file("p-1/a"), _link("p-1/l", "../../../etc/passwd")], id="symlink-out"),
        pytest.param([_file("p-1/a"), _link("p-1/h", "/etc/passwd", tarfile.LNKTYPE)], id="hard"),
    ],
)
def test_members_that_point_outside_are_refused(
    tmp_path: Path, members: list[tarfile.TarInfo]
) -> None:
    dest = tmp_path / "out" / "src"
    with pytest.raises(SdistBuildError, match=r"refusing to unpack sdist p-1\.tar\.gz"):
        unpack_sdist(_tar(members), "p-1.tar.gz", dest)
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "out" / "escape").exists()


def test_a_fifo_member_is_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("p-1/fifo")
    fifo.type = tarfile.FIFOTYPE
    with pytest.raises(SdistBuildError, match="is not a file or folder"):
        unpack_sdist(_tar([_file("p-1/a"), fifo]), "p-1.tar.gz", tmp_path / "src")


def test_a_zip_sdist_with_a_traversing_name_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("p-1/PKG-INFO", "Name: p\n")
        archive.writestr("p-1/../../zip-escape", "x")
    buffer.seek(0)
    with pytest.raises(SdistBuildError, match="points outside the archive"):
        unpack_sdist(buffer, "p-1.zip", tmp_path / "src")
    assert not (tmp_path / "zip-escape").exists()


def test_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(SdistBuildError, match=r"cannot unpack sdist junk-1\.tar\.gz"):
        unpack_sdist(io.BytesIO(b"not a tar"), "junk-1.tar.gz", tmp_path / "src")


def test_two_top_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SdistBuildError, match="exactly one top folder"):
        unpack_sdist(_tar([_file("a-1/x"), _file("b-1/y")]), "a-1.tar.gz", tmp_path / "src")
