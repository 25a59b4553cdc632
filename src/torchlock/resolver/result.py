"""What a resolution gives: one pin per project, with its files and its edges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import Struct
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.artifacts import Artifact, ArtifactKind

if TYPE_CHECKING:
    from packaging.markers import Marker

ROOT = NormalizedName("<root>")  # in ``Pin.required_by``: the project is a root requirement


class Pin(Struct, frozen=True, kw_only=True):
    """One project at one version, as the target will install it."""

    name: NormalizedName
    version: Version
    artifact: Artifact  # the file chosen for the target (best tag, then highest build)
    artifacts: tuple[Artifact, ...]  # every file of this version that fits the target, chosen first
    index: str  # the index (or find-links folder) the files come from
    requires_python: SpecifierSet | None = None
    dependencies: tuple[NormalizedName, ...] = ()  # what this project requires, sorted
    required_by: tuple[NormalizedName, ...] = ()  # who requires it, sorted; ROOT for roots
    extras: frozenset[NormalizedName] = frozenset()  # extras asked of this project
    markers: Marker | None = None  # not computed yet: the whole lock is for one target

    @property
    def is_sdist(self) -> bool:
        """The target has no wheel of this project: the chosen file must be built."""
        return self.artifact.kind is ArtifactKind.SDIST


class Resolution(Struct, frozen=True, kw_only=True):
    """The whole closure of the root requirements for one target."""

    pins: tuple[Pin, ...]  # sorted by name
    roots: tuple[NormalizedName, ...]  # the projects the root requirements name, sorted

    def __getitem__(self, name: str) -> Pin:
        for pin in self.pins:
            if pin.name == name:
                return pin
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(pin.name == name for pin in self.pins)

    @property
    def versions(self) -> dict[NormalizedName, Version]:
        """Name → version of every pin, e.g. for comparing two resolutions."""
        return {pin.name: pin.version for pin in self.pins}
