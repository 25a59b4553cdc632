"""What the resolver chooses between: the releases of a project as the target sees them.

Pure code over plain values. A *release* is one version of a project with the files that
can serve the target (compatible wheel tags and Requires-Python), best first. Whether a
release becomes a *candidate* depends on what is asked of it (yanked files only for an
exact ``==`` pin, pre-releases only when a specifier names one), see :func:`candidates`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter

from msgspec import Struct, field
from msgspec.structs import force_setattr
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from torchlock.artifacts import Artifact, ArtifactKind

VARIANT = "#variant"  # identifier of the virtual project that carries the variant label
PYTHON = "#python"  # identifier of the virtual project that stands for the target's Python
NO_VARIANT = "none"  # the variant label of a build without a local version label


class TargetFacts(Struct, frozen=True, kw_only=True, eq=False):
    """What the target supports: wheel tags (most preferred first), Python, marker environment.

    The underscored fields are memos filled as the resolution asks; they are not part of
    the value (equality leaves them out) and are not meant to be given.
    """

    tags: tuple[Tag, ...]
    python_version: Version
    environment: Mapping[str, str]
    _rank: dict[Tag, int] = field(default_factory=dict)
    # each distinct tag set ranked once: the pages share one frozenset per tag triple
    _ranks: dict[frozenset[Tag], int | None] = field(default_factory=dict)
    # each distinct Requires-Python judged once: a page repeats a few dozen of them
    _accepts: dict[SpecifierSet, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # always new and empty: a copy (msgspec.structs.replace) must not share stale memos
        rank: dict[Tag, int] = {}
        for index, tag in enumerate(self.tags):
            rank.setdefault(tag, index)
        force_setattr(self, "_rank", rank)
        force_setattr(self, "_ranks", {})
        force_setattr(self, "_accepts", {})

    def _value(self) -> tuple[object, ...]:
        return (self.tags, self.python_version, self.environment)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TargetFacts):
            return NotImplemented
        return self._value() == other._value()

    def __ne__(self, other: object) -> bool:  # Struct's own would compare identity
        if not isinstance(other, TargetFacts):
            return NotImplemented
        return self._value() != other._value()

    def rank(self, artifact: Artifact) -> int | None:
        """The wheel's best tag position (lower is better); None when no tag fits."""
        tags = artifact.tags
        try:
            return self._ranks[tags]
        except KeyError:
            pass
        ranks = [self._rank[tag] for tag in tags if tag in self._rank]
        found = min(ranks) if ranks else None
        self._ranks[tags] = found
        return found

    def python_accepts(self, specifier: SpecifierSet | None) -> bool:
        if specifier is None:
            return True
        known = self._accepts.get(specifier)
        if known is None:
            known = specifier.contains(self.python_version, prereleases=True)
            self._accepts[specifier] = known
        return known

    def describe(self) -> str:
        """E.g. ``Python 3.10, linux-x86_64 tags``."""
        python = f"Python {self.python_version.major}.{self.python_version.minor}"
        system = self.environment.get("sys_platform", "")
        machine = self.environment.get("platform_machine", "")
        platform = "-".join(part for part in (system, machine) if part)
        return f"{python}, {platform} tags" if platform else python


class Unusable(enum.Enum):
    """Why a release has no file for the target."""

    NO_WHEEL = "no wheel for this target"
    REQUIRES_PYTHON = "requires another Python"


class Release(Struct, frozen=True, kw_only=True):
    """One version of a project: the files that can serve the target, best first."""

    version: Version
    usable: tuple[Artifact, ...]  # compatible and Requires-Python fits; yanked files included
    requires_python: tuple[SpecifierSet, ...] = ()  # what excluded otherwise-fitting files

    @property
    def unusable(self) -> Unusable | None:
        if self.usable:
            return None
        return Unusable.REQUIRES_PYTHON if self.requires_python else Unusable.NO_WHEEL

    @property
    def yanked_only(self) -> bool:
        return bool(self.usable) and all(a.yanked is not None for a in self.usable)

    def files(self, *, pinned: bool) -> tuple[Artifact, ...]:
        """The files a candidate of this release may use (PEP 592 for yanked ones)."""
        kept = tuple(a for a in self.usable if a.yanked is None)
        if kept or not pinned:
            return kept
        return self.usable


class ProjectReleases(Struct, frozen=True, kw_only=True):
    """Every release of one project, newest first."""

    project: NormalizedName
    releases: tuple[Release, ...]

    @property
    def versions(self) -> tuple[Version, ...]:
        return tuple(r.version for r in self.releases)


# After every wheel tag rank: a version's sdist is its last resort.
_SDIST_RANK = 1 << 30


def _build_key(artifact: Artifact) -> tuple[int, str]:
    return artifact.build if artifact.build else (-1, "")


def evaluate_project(
    project: NormalizedName, artifacts: Iterable[Artifact], facts: TargetFacts
) -> ProjectReleases:
    """Group ``artifacts`` by version and keep, per version, the files that fit the target.

    Wheels are ranked by the target's tag order, then by highest build tag; the file name
    breaks the remaining ties, so the input order never matters. A version's sdist comes
    after its wheels: it serves the target when no wheel does, as with pip and uv (the
    newest version wins even when only its sdist fits, and is then built).
    """
    files = sorted(artifacts, key=attrgetter("filename"))
    by_version: dict[Version, list[Artifact]] = {}
    for artifact in files:
        by_version.setdefault(artifact.version, []).append(artifact)

    releases = []
    for version in sorted(by_version, reverse=True):
        usable: list[tuple[int, Artifact]] = []
        excluded: set[str] = set()  # the Requires-Python of fitting files it excludes
        for artifact in by_version[version]:
            if artifact.kind is ArtifactKind.WHEEL:
                rank = facts.rank(artifact)
                if rank is None:
                    continue
            else:
                rank = _SDIST_RANK
            if facts.python_accepts(artifact.requires_python):
                usable.append((rank, artifact))
            else:
                excluded.add(str(artifact.requires_python))
        if len(usable) > 1:  # by rank, then highest build tag, then file name (stable sorts)
            usable.sort(key=lambda pair: _build_key(pair[1]), reverse=True)
            usable.sort(key=itemgetter(0))
        releases.append(
            Release(
                version=version,
                usable=tuple(a for _, a in usable),
                requires_python=tuple(SpecifierSet(s) for s in sorted(excluded)),
            )
        )
    return ProjectReleases(project=project, releases=tuple(releases))


# --- requirements and candidates as the resolver sees them ---------------------------------


def _extras_suffix(extras: frozenset[NormalizedName]) -> str:
    return "[" + ",".join(sorted(extras)) + "]" if extras else ""


class ProjectNeed(Struct, frozen=True, kw_only=True):
    """A requirement on a project (with extras), or on the exact base of an extras candidate."""

    project: NormalizedName
    extras: frozenset[NormalizedName] = frozenset()
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    exact: Version | None = None  # the base of an extras candidate: that very version

    @classmethod
    def from_requirement(cls, requirement: Requirement) -> ProjectNeed:
        return cls(
            project=canonicalize_name(requirement.name),
            extras=frozenset(canonicalize_name(e) for e in requirement.extras),
            specifier=requirement.specifier,
        )

    @property
    def identifier(self) -> str:
        return self.project + _extras_suffix(self.extras)

    @property
    def text(self) -> str:
        """The requirement as a person writes it, e.g. ``torch==2.1.2``."""
        if self.exact is not None:
            return f"{self.identifier}=={self.exact}"
        return f"{self.identifier}{self.specifier}"

    @property
    def allows_prereleases(self) -> bool:
        return self.specifier.prereleases is True

    @property
    def is_pinned(self) -> bool:
        return self.exact is not None or any(
            s.operator in ("==", "===") and not s.version.endswith(".*") for s in self.specifier
        )

    def admits(self, version: Version, *, prereleases: bool) -> bool:
        if self.exact is not None:
            return version == self.exact
        return self.specifier.contains(version, prereleases=prereleases)

    def pins(self, version: Version) -> bool:
        """Whether this requirement pins exactly ``version`` (``==``, no wildcard; PEP 592)."""
        if self.exact is not None:
            return version == self.exact
        return any(
            s.operator in ("==", "===")
            and not s.version.endswith(".*")
            and s.contains(version, prereleases=True)
            for s in self.specifier
        )


class VariantNeed(Struct, frozen=True, kw_only=True):
    """A requirement on the virtual variant project: the build must carry ``label``."""

    label: str

    @property
    def identifier(self) -> str:
        return VARIANT

    @property
    def text(self) -> str:
        return f"variant {self.label}"


class PythonNeed(Struct, frozen=True, kw_only=True):
    """A Requires-Python found only in a file's metadata (not on the index page)."""

    specifier: SpecifierSet

    @property
    def identifier(self) -> str:
        return PYTHON

    @property
    def text(self) -> str:
        return f"Python {self.specifier}"


Need = ProjectNeed | VariantNeed | PythonNeed


class ProjectCandidate(Struct, frozen=True, kw_only=True, eq=False):
    """One version of a project (with extras, for an extras candidate) and its files.

    Equal candidates are the same project, version and extras, whatever files they carry.
    """

    project: NormalizedName
    version: Version
    extras: frozenset[NormalizedName] = frozenset()
    artifacts: tuple[Artifact, ...]  # best first

    def _value(self) -> tuple[object, ...]:
        return (self.project, self.version, self.extras)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectCandidate):
            return NotImplemented
        return self._value() == other._value()

    def __ne__(self, other: object) -> bool:  # Struct's own would compare identity
        if not isinstance(other, ProjectCandidate):
            return NotImplemented
        return self._value() != other._value()

    def __hash__(self) -> int:
        return hash(self._value())

    @property
    def identifier(self) -> str:
        return self.project + _extras_suffix(self.extras)

    @property
    def artifact(self) -> Artifact:
        return self.artifacts[0]

    @property
    def variant(self) -> str:
        return self.version.local or NO_VARIANT

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


class VariantCandidate(Struct, frozen=True, kw_only=True):
    label: str

    @property
    def identifier(self) -> str:
        return VARIANT


class PythonCandidate(Struct, frozen=True, kw_only=True):
    version: Version

    @property
    def identifier(self) -> str:
        return PYTHON


Candidate = ProjectCandidate | VariantCandidate | PythonCandidate


def candidates(
    releases: ProjectReleases,
    needs: Sequence[ProjectNeed],
    *,
    variant: str | None = None,
) -> list[ProjectCandidate]:
    """The candidates that satisfy every one of ``needs`` (all for the same identifier).

    Pre-releases count when any of the needs names one (as pip does); yanked files only
    for a version one of them pins with ``==``. Newest first; with ``variant`` (a label, or
    :data:`NO_VARIANT`), builds carrying it come before the others.
    """
    if not needs:
        return []
    extras = needs[0].extras
    prereleases = any(n.allows_prereleases for n in needs)
    found = []
    for release in releases.releases:
        version = release.version
        for need in needs:  # a loop, not all(...): this runs for every release of a project
            if not need.admits(version, prereleases=prereleases):
                break
        else:
            files = release.files(pinned=any(n.pins(version) for n in needs))
            if files:
                found.append(
                    ProjectCandidate(
                        project=releases.project,
                        version=version,
                        extras=extras,
                        artifacts=files,
                    )
                )
    if variant is not None:
        found.sort(key=lambda c: c.variant != variant)
    return found
