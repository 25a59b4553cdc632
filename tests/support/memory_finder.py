"""A Finder over plain values: projects, versions, requirements and wheel tags in a dict.

Each :class:`Dist` becomes one file per wheel tag (or one sdist), with a made-up but
well-formed URL and sha256 on a fake index. The finder records every call, so a test can
check what the resolver asked for (and in which order it prefetched).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from torchlock.artifacts import Artifact, ArtifactKind, CoreMetadata
from torchlock.errors import PackageIndexError
from torchlock.resolver.finder import Pick

INDEX = "https://index.test/simple/"
ANY = "py3-none-any"
LINUX_CP310 = "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64"
WIN_CP310 = "cp310-cp310-win_amd64"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dist:
    """One version of a project as an index would list it."""

    version: str
    requires: tuple[str, ...] = ()  # Requires-Dist lines, markers included
    requires_python: str | None = None  # as the index page states it (data-requires-python)
    metadata_requires_python: str | None = None  # only in METADATA; default: requires_python
    wheels: tuple[str, ...] = (ANY,)  # one wheel file per (compressed) tag triple
    sdist: bool = False
    yanked: str | None = None  # None: not yanked; otherwise the reason ("" for none given)
    build: str = ""  # wheel build tag, e.g. "1" or "2b"


def dist(version: str, *requires: str, **options: object) -> Dist:
    """Shorthand: ``dist("1.0", "numpy>=1.24", requires_python=">=3.9")``."""
    return Dist(version=version, requires=requires, **options)  # type: ignore[arg-type]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _build_tag(build: str) -> tuple[int, str] | tuple[()]:
    if not build:
        return ()
    digits = len(build) - len(build.lstrip("0123456789"))
    return (int(build[:digits]), build[digits:])


def artifacts_of(project: str, dists: Iterable[Dist], *, index: str = INDEX) -> list[Artifact]:
    name = canonicalize_name(project)
    stem = name.replace("-", "_")
    found = []
    for d in dists:
        version = Version(d.version)
        requires_python = SpecifierSet(d.requires_python) if d.requires_python else None
        files: list[tuple[str, ArtifactKind, frozenset[Tag]]] = []
        for tag in d.wheels if not d.sdist else ():
            parts = [stem, str(version), *([d.build] if d.build else []), tag]
            files.append(("-".join(parts) + ".whl", ArtifactKind.WHEEL, parse_tag(tag)))
        if d.sdist:
            files.append((f"{stem}-{version}.tar.gz", ArtifactKind.SDIST, frozenset()))
        for filename, kind, tags in files:
            found.append(
                Artifact(
                    project=name,
                    version=version,
                    filename=filename,
                    url=f"{index}{name}/{quote(filename)}",
                    index=index,
                    kind=kind,
                    tags=tags,
                    build=_build_tag(d.build) if kind is ArtifactKind.WHEEL else (),
                    sha256=_sha(filename),
                    size=len(filename) * 1000,
                    requires_python=requires_python,
                    yanked=d.yanked,
                    has_metadata=True,
                    metadata_sha256=_sha(filename + ".metadata"),
                )
            )
    return found


@dataclass(slots=True)
class MemoryFinder:
    """Implements torchlock.resolver.finder.Finder over ``projects``."""

    projects: Mapping[str, Sequence[Dist]]
    index: str = INDEX
    shuffle: random.Random | None = None  # returns each project's files in a shuffled order
    failures: Mapping[str, PackageIndexError] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    prefetched: list[tuple[NormalizedName, ...]] = field(default_factory=list)
    picked: list[str] = field(default_factory=list)  # files a prefetch pick chose to read ahead
    _dists: dict[str, Dist] = field(default_factory=dict)  # file name → its Dist
    _by_name: dict[NormalizedName, Sequence[Dist]] = field(default_factory=dict)
    _queue: list[tuple[NormalizedName, Pick]] = field(default_factory=list)
    _draining: bool = False

    def artifacts(self, project: NormalizedName) -> Sequence[Artifact]:
        self.calls.append(("artifacts", project))
        if project in self.failures:
            raise self.failures[project]
        found = self._load(project)
        if self.shuffle is not None:
            self.shuffle.shuffle(found)
        return found

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        self.calls.append(("metadata", artifact.filename))
        d = self._dists[artifact.filename]
        requires_python = d.metadata_requires_python or d.requires_python
        requires = tuple(Requirement(r) for r in d.requires)
        extras = frozenset(
            canonicalize_name(value)
            for r in requires
            if r.marker is not None
            for value in _extras_in(str(r.marker))
        )
        return CoreMetadata(
            name=artifact.project,
            version=artifact.version,
            requires_dist=requires,
            requires_python=SpecifierSet(requires_python) if requires_python else None,
            provides_extra=extras,
        )

    def source(self, project: NormalizedName) -> str:
        return f"{self.index.rstrip('/')}/{project}/"

    def listed(self, project: NormalizedName) -> bool:
        return bool(self.artifacts(project))

    def prefetch(self, projects: Iterable[NormalizedName], pick: Pick | None = None) -> None:
        names = tuple(projects)
        self.calls.append(("prefetch", ",".join(names)))
        self.prefetched.append(names)
        if pick is None:
            return
        # as the index client does, but in this thread: record what it picks. A pick that
        # prefetches more (the read-ahead walking the closure) queues it, as the client's
        # pool would, rather than recursing once per level of the closure.
        self._queue.extend((name, pick) for name in names)
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue:
                name, chooser = self._queue.pop(0)
                if name in self.failures:
                    continue  # the error surfaces when the page is asked for
                chosen = chooser(name, self._load(name))
                if chosen is not None:
                    self.picked.append(chosen.filename)
        finally:
            self._draining = False

    def _load(self, project: NormalizedName) -> list[Artifact]:
        if len(self._by_name) != len(self.projects):
            self._by_name = {canonicalize_name(k): v for k, v in self.projects.items()}
        dists = self._by_name.get(project, ())
        found = artifacts_of(project, dists, index=self.index)
        for artifact, d in zip(found, _per_file(dists), strict=True):
            self._dists[artifact.filename] = d
        return found

    def asked(self, kind: str) -> list[str]:
        """The arguments of every call of one kind, in order."""
        return [argument for k, argument in self.calls if k == kind]


def _per_file(dists: Iterable[Dist]) -> list[Dist]:
    out = []
    for d in dists:
        out.extend([d] * (1 if d.sdist else len(d.wheels)))
    return out


def _extras_in(marker: str) -> list[str]:
    parts = marker.replace("'", '"').split('extra == "')[1:]
    return [p.split('"', 1)[0] for p in parts]
