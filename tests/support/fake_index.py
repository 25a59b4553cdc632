"""A PyTorch-like index whose torch/torchvision/torchaudio wheels are fixture builds
(tests/support/fake_torch.py), so that ``torchlock create`` installs them and its
verification runs the probe against them.

One tree per scenario: each (release, variant) of the torch family is a :class:`FakeTorch`
with its own behaviour (a healthy build, one whose ``torch.cuda.is_available()`` warns
"driver too old", ...), served under ``whl/<variant>/`` beside an empty default index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import parse_wheel_filename

from tests.support.fake_torch import FakeTorch, build_fake_wheels
from tests.support.fixture_index import FixtureIndex

# torchvision and torchaudio releases paired with a torch release (as the matrix pairs them)
PAIRS = {"2.5.1": ("0.20.1", "2.5.1"), "2.1.2": ("0.16.2", "2.1.2"), "2.0.1": ("0.15.2", "2.0.2")}
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
