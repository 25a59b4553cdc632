"""A PyTorch-like index whose torch/torchvision/torchaudio wheels are fixture builds
(tests/support/fake_torch.py), so that ``torchlock create`` installs them and its
verification runs the probe against them.

One tree per scenario: each (release, variant) of the torch family is a :class:`FakeTorch`
with its own behaviour (a healthy build, one whose ``torch.cuda.is_available()`` warns
"driver too old", ...), served under ``whl/<variant>/`` beside an empty default index.
"""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path

from packaging.utils import parse_wheel_filename

from tests.support.fake_torch import FakeTorch, build_fake_wheels
from tests.support.fixture_index import FixtureIndex

# torchvision and torchaudio releases paired with a torch release (as the matrix pairs them)
PAIRS = {
    "2.5.1": ("0.20.1", "2.5.1"),
    "2.5.0": ("0.20.0", "2.5.0"),
    "2.1.2": ("0.16.2", "2.1.2"),
    "2.0.1": ("0.15.2", "2.0.2"),
}
CUDA = {"cu118": "11.8", "cu121": "12.1", "cu124": "12.4", "cpu": None}


def fake_build(release: str, variant: str, **behaviour: object) -> FakeTorch:
    """The fixture torch family of ``release`` built for ``variant``, healthy by default."""
    vision, audio = PAIRS[release]
    base = FakeTorch(
        version=f"{release}+{variant}",
        cuda=CUDA[variant],
        torchvision=f"{vision}+{variant}",
        torchaudio=f"{audio}+{variant}",
    )
    if variant == "cpu":
        base = dataclasses.replace(base, cuda_available=False, gpus=(), cudnn=None)
    return dataclasses.replace(base, **behaviour)  # type: ignore[arg-type]


def build_fake_torch_index(root: Path, builds: Mapping[tuple[str, str], FakeTorch]) -> FixtureIndex:
    """The tree: ``whl/<variant>/{torch,torchvision,torchaudio}/`` and an empty ``simple/``."""
    tree = FixtureIndex(root=root)
    tree.projects["simple"] = {}
    for (_release, variant), fake in builds.items():
        index = f"whl/{variant}"
        tree.html_only.add(index)
        for wheel in build_fake_wheels(tree.files, fake):
            project = str(parse_wheel_filename(wheel.name)[0])
            tree.add_file(index, project, wheel)
    return tree.write()


def build_mirror_index(
    root: Path,
    source: FixtureIndex,
    *,
    lacking: Collection[str] = (),
    altered: Collection[str] = (),
) -> FixtureIndex:
    """A mirror of ``source``: every file of its ``whl/<variant>`` indexes, copied into one
    PEP 503/691 index ``simple/`` of a tree of its own (served by a second server, the same
    file names under other URLs).

    ``lacking``: file names the mirror does not carry. ``altered``: file names it serves with
    other bytes (a valid wheel whose sha256 differs from the original's).
    """
    tree = FixtureIndex(root=root)
    tree.projects["simple"] = {}
    tree.files.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for index, projects in source.projects.items():
        if not index.startswith("whl/"):
            continue
        for project, files in projects.items():
            for item in files:
                name = item.path.name
                if name in lacking or name in seen:
                    continue
                seen.add(name)
                copy = tree.files / name
                shutil.copyfile(item.path, copy)
                if name in altered:
                    with zipfile.ZipFile(copy, "a") as archive:
                        archive.comment = b"rebuilt by the mirror"
                tree.add_file("simple", project, copy)
    return tree.write()
