"""Files on a package index, and the core metadata read from them."""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

from msgspec import Struct, field

# Types only: a warm solve reads stored artifacts without these imports. msgspec evaluates
# a Struct's annotations only to decode into it or to introspect it (inspect.signature,
# help(), msgspec.structs.fields), so these classes are built in code, never decoded.
if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version


# Path separators of any OS, the drive and stream separator of Windows, NUL and the other
# control characters: none of them is in a distribution's file name (wheels and sdists
# are NAME-VERSION[...].whl / .tar.gz / .zip), and each could steer a path built from one.
_UNSAFE_IN_NAME = re.compile(r"[/\\:\x00-\x1f\x7f]")


def is_safe_filename(name: str) -> bool:
    """Whether ``name`` is one plain file name, safe to join to a folder.

    Index pages, find-links folders and locks come from people torchlock's users do not
    control: a name like ``x-1-1/../../../../etc/x-py3-none-any.whl`` (a wheel build tag
    that packaging accepts) must never reach a path.
    """
    return bool(name) and name not in (".", "..") and _UNSAFE_IN_NAME.search(name) is None


class ArtifactKind(enum.Enum):
    WHEEL = "wheel"
    SDIST = "sdist"


class Artifact(Struct, frozen=True, kw_only=True):
    """One distribution file of one project, as an index (or a find-links folder) lists it."""

    project: NormalizedName
    version: Version  # as in the file name, local label included (2.1.2+cu121)
    filename: str
    url: str  # absolute; percent-encoding kept as the index gave it (%2Bcu121)
    index: str  # the index (or find-links folder) URL this file was listed by
    kind: ArtifactKind
    tags: frozenset[Tag] = frozenset()  # wheels only
    build: tuple[int, str] | tuple[()] = ()  # wheel build tag, () when none
    sha256: str | None = None
    size: int | None = None
    requires_python: SpecifierSet | None = None
    yanked: str | None = None  # None: not yanked; "" or the reason when yanked (PEP 592)
    metadata_sha256: str | None = None  # PEP 658/714: hash of the .metadata file
    has_metadata: bool = False  # PEP 658/714: the index serves URL + ".metadata"
    upload_time: str | None = None  # PEP 700


class CoreMetadata(Struct, frozen=True, kw_only=True):
    """What resolution needs from a distribution's METADATA.

    ``extra_requires`` keeps, unparsed, the Requires-Dist lines whose whole marker is one
    ``extra == "NAME"`` (most lines of most projects: test and docs extras): they count
    only when that extra is asked for, and :meth:`requirements_of_extras` parses them
    then. Every other line is in ``requires_dist``.
    """

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...] = ()
    requires_python: SpecifierSet | None = None
    provides_extra: frozenset[str] = field(default_factory=frozenset)
    extra_requires: tuple[tuple[str, str], ...] = ()  # (normalised extra, Requires-Dist)
    dynamic: frozenset[str] = field(default_factory=frozenset)  # lower-cased field names
    metadata_version: str | None = None

    def requirements_of_extras(self, extras: frozenset[str]) -> list[Requirement]:
        """The ``extra_requires`` lines of these (normalised) extras, parsed."""
        wanted = [line for extra, line in self.extra_requires if extra in extras]
        if not wanted:
            return []
        from packaging.requirements import InvalidRequirement, Requirement

        from torchlock.errors import PackageIndexError

        found = []
        for line in wanted:
            try:
                found.append(Requirement(line))
            except InvalidRequirement as exc:
                raise PackageIndexError(
                    f"invalid core metadata of {self.name} {self.version}",
                    evidence=[f"Requires-Dist {line!r}: {exc}"],
                    hint="the file on the index is broken; pin another version or report "
                    "it upstream",
                ) from None
        return found


class BuildTorch(Struct, frozen=True, kw_only=True):
    """The torch a target locks, for the builds that need torch installed (flash-attn).

    ``requirement`` pins the release (``torch==2.5.1``); ``index`` is the index the target's
    torch family comes from (the variant's PyTorch index, or the default one), where the
    build environment gets it.
    """

    requirement: str
    index: str
