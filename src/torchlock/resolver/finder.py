"""What the resolver needs from the outside world, declared here, implemented elsewhere.

The resolver never imports the index client: the workflow hands it an object
with these methods (the index package implements it over HTTP; tests may
implement it over plain values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from packaging.utils import NormalizedName

from torchlock.artifacts import Artifact, CoreMetadata


class Finder(Protocol):
    def artifacts(self, project: NormalizedName) -> Sequence[Artifact]:
        """Every file of ``project`` on the one index (or wheelhouse) that serves it.

        Raises :class:`torchlock.errors.PackageIndexError` (or a subclass) on failure; an
        unknown project gives an empty sequence.
        """
        ...

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        """The core metadata of one file (PEP 658, else range requests, else download)."""
        ...

    def source(self, project: NormalizedName) -> str:
        """Where ``project`` is looked for, as messages name it (the page URL asked,
        credentials redacted; the folders, for a wheelhouse)."""
        ...

    def listed(self, project: NormalizedName) -> bool:
        """Whether an index (or folder) has a page for ``project``, fitting files or not."""
        ...

    def prefetch(self, projects: Iterable[NormalizedName], pick: Pick | None = None) -> None:
        """A hint: these projects' pages will be asked for soon (fetch them in parallel).

        With ``pick``, once a page is in, the file it picks (the one the resolver will most
        likely ask metadata of) has its metadata read ahead as well.
        """
        ...


# (project, its files) -> the file whose metadata will be asked for next, if any
Pick = Callable[[NormalizedName, Sequence[Artifact]], "Artifact | None"]
