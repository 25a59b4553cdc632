"""Export: pip requirements with ``--hash`` for every file and the index options.

``pip install --require-hashes -r FILE`` installs it. Without a platform, every package of
the lock is listed with its marker (pip skips lines whose marker does not hold); with one,
only that target's packages, without markers.

:class:`RequirementsFile` is the document: :func:`from_lock` builds it from a lock and
:func:`render` writes it. Its readers are pip and uv (the tests install exports with both),
so torchlock has no parser of its own for it.
"""

from __future__ import annotations

from typing import overload

from msgspec import Struct
from packaging.markers import Marker
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.lockfiles.model import Lock, LockedFile, LockedPackage, platforms_marker

EVERY_TARGET = "every target"


class IndexOptions(Struct, frozen=True, kw_only=True):
    """Where pip looks: the default index, other (torch) indexes, and find-links folders."""

    index_url: str
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [
            f"--index-url {self.index_url}",
            *(f"--extra-index-url {url}" for url in self.extra_index_urls),
            *(f"--find-links {url}" for url in self.find_links),
        ]


class PinnedRequirement(Struct, frozen=True, kw_only=True):
    """``name==version[ ; marker]`` with the sha256 of every file it may install."""

    name: NormalizedName
    version: Version
    marker: Marker | None = None
    hashes: tuple[str, ...] = ()  # sha256 hex digests, sorted
    # The file itself (PEP 508 "name @ URL"), for a project the export takes from two
    # indexes (torch 2.1.2 from the default index for Linux, 2.1.2+cu121 from the PyTorch
    # index for Windows): installers ask one index per name (uv: the first that has it),
    # so "==" lines could not reach both.
    url: str | None = None

    @property
    def head(self) -> str:
        head = f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"
        return head if self.marker is None else f"{head} ; {self.marker}"

    @property
    def hash_options(self) -> list[str]:
        return [f"--hash=sha256:{h}" for h in self.hashes]

    @classmethod
    def from_package(cls, package: LockedPackage, *, marker: bool) -> PinnedRequirement:
        return cls(
            name=package.name,
            version=package.version,
            marker=package.marker if marker else None,
            hashes=tuple(sorted({f.sha256 for f in package.files})),
        )


class RequirementsFile(Struct, frozen=True, kw_only=True):
    """A requirements export: where it came from, the index options and the pins."""

    exported_from: str  # the lock's file name
    platform: str | None  # None: every target (lines carry markers)
    python: str  # X.Y
    index: IndexOptions
    requirements: tuple[PinnedRequirement, ...]


# --- from a lock ------------------------------------------------------------------------------


def index_options(lock: Lock, platform: str | None = None) -> IndexOptions:
    """``--index-url`` (the default index), ``--extra-index-url`` (the other indexes that
    supply a package by name) and ``--find-links`` (local folders packages came from), each
    once, in a stable order. An index that supplies nothing the export names is left out:
    an installer would only spend time on it (pip retries an unreachable one for minutes)."""
    targets = lock.targets if platform is None else (lock.target(platform),)
    default = targets[0].default_index
    packages = lock.packages if platform is None else lock.packages_for(platform)
    indexes: dict[NormalizedName, set[str]] = {}
    for package in packages:
        indexes.setdefault(package.name, set()).add(package.index)
    # a name from two indexes is written as its files' URLs: neither index is needed for it
    used = {next(iter(found)) for found in indexes.values() if len(found) == 1}
    links = sorted(i for i in used if i.startswith("file:"))
    extra = sorted(used - {default} - set(links))
    return IndexOptions(index_url=default, extra_index_urls=tuple(extra), find_links=tuple(links))


def from_lock(lock: Lock, *, source: str, platform: str | None = None) -> RequirementsFile:
    """The requirements export of ``lock`` (read from the file named ``source``)."""
    return RequirementsFile(
        exported_from=source,
        platform=platform,
        python=lock.python,
        index=index_options(lock, platform),
        requirements=pinned_requirements(lock, platform),
    )


def pinned_requirements(lock: Lock, platform: str | None = None) -> tuple[PinnedRequirement, ...]:
    """One pin per package (with its marker when ``platform`` is None, every target); a
    project locked from two indexes is pinned by its files' URLs, one line per target."""
    packages = lock.packages if platform is None else lock.packages_for(platform)
    indexes: dict[NormalizedName, set[str]] = {}
    for package in packages:
        indexes.setdefault(package.name, set()).add(package.index)
    requirements: list[PinnedRequirement] = []
    for package in packages:
        if len(indexes[package.name]) == 1:
            requirements.append(PinnedRequirement.from_package(package, marker=platform is None))
        else:
            requirements.extend(file_pins(lock, package, platform))
    return tuple(requirements)


def file_pins(
    lock: Lock, package: LockedPackage, platform: str | None = None
) -> list[PinnedRequirement]:
    """``package`` pinned by its files' URLs: the file each target installs, with the
    marker of the targets that install it (none when every target of the export does)."""
    chosen: dict[LockedFile, list[str]] = {}
    for subdir in package.platforms if platform is None else (platform,):
        files = package.files_for(subdir, lock.python)
        if files:
            chosen.setdefault(files[0], []).append(subdir)
    everywhere = set(lock.platforms) if platform is None else {platform}
    return [
        PinnedRequirement(
            name=package.name,
            version=package.version,
            marker=None if set(subdirs) == everywhere else platforms_marker(subdirs),
            hashes=(file.sha256,),
            url=file.url,
        )
        for file, subdirs in chosen.items()
    ]


# --- render -----------------------------------------------------------------------------------


def requirement_lines(requirement: PinnedRequirement) -> str:
    """The head followed by one ``--hash`` per file, continued lines."""
    hashes = (f"    {h}" for h in requirement.hash_options)
    return " \\\n".join([requirement.head, *hashes])


@overload
def render(document: RequirementsFile) -> str: ...
@overload
def render(document: Lock, *, source: str, platform: str | None = None) -> str: ...
def render(
    document: RequirementsFile | Lock, *, source: str | None = None, platform: str | None = None
) -> str:
    """The text of ``document``; given a lock, of its export (``from_lock``) from ``source``."""
    if isinstance(document, Lock):
        if source is None:
            raise TypeError("render(lock) needs source=")
        document = from_lock(document, source=source, platform=platform)
    scope = EVERY_TARGET if document.platform is None else document.platform
    lines = [
        f"# Exported by torchlock from {document.exported_from} for {scope}; do not edit by hand.",
        f"# Python {document.python}. Install: pip install --require-hashes -r <this file>",
        *document.index.lines(),
        "",
    ]
    lines.extend(requirement_lines(r) for r in document.requirements)
    return "\n".join(lines) + "\n"
