"""The resolvelib provider: resolvelib runs the search, this class knows the packages.

resolvelib is never imported at module level (it is a heavy import, see DESIGN.md): the
provider and reporter satisfy resolvelib's interfaces by shape, and name their base
classes only for the type checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.utils import NormalizedName

from torchlock.artifacts import Artifact, CoreMetadata
from torchlock.matrix.ecosystem import is_variant_label
from torchlock.resolver.candidates import (
    NO_VARIANT,
    PYTHON,
    VARIANT,
    Candidate,
    Need,
    ProjectCandidate,
    ProjectNeed,
    ProjectReleases,
    PythonCandidate,
    PythonNeed,
    TargetFacts,
    VariantCandidate,
    VariantNeed,
    candidates,
    evaluate_project,
)
from torchlock.resolver.finder import Finder, Pick
from torchlock.resolver.markers import applies

if TYPE_CHECKING:
    from resolvelib import AbstractProvider, BaseReporter
    from resolvelib.structs import RequirementInformation

    _ProviderBase = AbstractProvider[Need, Candidate, str]
    _ReporterBase = BaseReporter[Need, Candidate, str]
    Information = RequirementInformation[Need, Candidate]
else:
    _ProviderBase = object
    _ReporterBase = object
    Information = Any

Preference = tuple[bool, int, str]


class Provider(_ProviderBase):
    """Answers resolvelib's questions from a :class:`Finder` and the target's facts."""

    def __init__(
        self,
        *,
        finder: Finder,
        facts: TargetFacts,
        variant: str | None,
        variant_projects: frozenset[NormalizedName],
        variant_bound: frozenset[NormalizedName] = frozenset(),
    ) -> None:
        self.finder = finder
        self.facts = facts
        self.variant = variant
        self.variant_projects = variant_projects
        self.variant_bound = variant_bound - variant_projects
        self._releases: dict[NormalizedName, ProjectReleases] = {}
        self._metadata: dict[Artifact, CoreMetadata] = {}
        self._dependencies: dict[ProjectCandidate, tuple[Need, ...]] = {}
        # memos of resolvelib's per-round questions (see narrow_requirement_selection and
        # is_satisfied_by); ``criteria`` is the current round's, set by the Reporter
        self.criteria: Mapping[str, object] | None = None
        self._ranks: dict[str, tuple[object, Preference]] = {}
        self._satisfied: dict[tuple[int, int], tuple[Need, Candidate, bool]] = {}

    @property
    def variant_label(self) -> str:
        return self.variant if self.variant is not None else NO_VARIANT

    # --- what the provider knows, also used to explain failures ----------------------------

    def releases(self, project: NormalizedName) -> ProjectReleases:
        known = self._releases.get(project)
        if known is None:
            known = evaluate_project(project, self.finder.artifacts(project), self.facts)
            self._releases[project] = known
        return known

    def metadata(self, candidate: ProjectCandidate) -> CoreMetadata:
        known = self._metadata.get(candidate.artifact)
        if known is None:
            known = self.finder.metadata(candidate.artifact)
            self._metadata[candidate.artifact] = known
        return known

    def dependencies(self, candidate: ProjectCandidate) -> tuple[Need, ...]:
        """What ``candidate`` requires on the target (markers evaluated, extras applied)."""
        known = self._dependencies.get(candidate)
        if known is not None:
            return known
        metadata = self.metadata(candidate)
        needs: list[Need] = []
        if not self.facts.python_accepts(metadata.requires_python):
            assert metadata.requires_python is not None
            needs.append(PythonNeed(specifier=metadata.requires_python))
        environment = self.facts.environment
        owner = str(candidate)
        if candidate.extras:
            needs.append(ProjectNeed(project=candidate.project, exact=candidate.version))
            for requirement in metadata.requires_dist:
                if applies(
                    requirement.marker, environment, extras=candidate.extras, owner=owner
                ) and not applies(requirement.marker, environment, owner=owner):
                    needs.append(ProjectNeed.from_requirement(requirement))
            # the lines whose marker is the extra alone, left unparsed until asked for
            for requirement in metadata.requirements_of_extras(candidate.extras):
                needs.append(ProjectNeed.from_requirement(requirement))
        else:
            for requirement in metadata.requires_dist:
                if not applies(requirement.marker, environment, owner=owner):
                    continue
                need = ProjectNeed.from_requirement(requirement)
                if need.project == candidate.project and not need.extras:
                    continue  # a project requiring itself adds nothing
                needs.append(need)
        known = tuple(needs)
        self._dependencies[candidate] = known
        projects = sorted({n.project for n in known if isinstance(n, ProjectNeed)})
        if projects:
            self.finder.prefetch(
                projects, self.read_ahead([n for n in known if isinstance(n, ProjectNeed)])
            )
        return known

    def read_ahead(self, needs: Sequence[ProjectNeed]) -> Pick:
        """A pick for Finder.prefetch that walks ahead of the resolver.

        Run by the finder once a page is in (in a worker thread for the index client): it
        takes the candidate these needs would try first and works out its dependencies,
        which reads its metadata and prefetches the next pages with picks of their own. So
        the likely closure is fetched in parallel while the resolver works through it one
        project at a time. Returns None: the metadata is already read.
        """
        by_project: dict[NormalizedName, list[ProjectNeed]] = {}
        for need in needs:
            by_project.setdefault(need.project, []).append(need)

        def pick(project: NormalizedName, artifacts: Sequence[Artifact]) -> Artifact | None:
            wanted = by_project.get(project)
            if not wanted:
                return None
            releases = self._releases.get(project)
            if releases is None:
                releases = evaluate_project(project, artifacts, self.facts)
                self._releases.setdefault(project, releases)
            variant = self.variant_label if project in self.variant_projects else None
            found = self._of_this_variant(project, candidates(releases, wanted, variant=variant))
            if found:
                self.dependencies(found[0])
            return None

        return pick

    def candidates_for(self, needs: Sequence[ProjectNeed]) -> list[ProjectCandidate]:
        project = needs[0].project
        variant = self.variant_label if project in self.variant_projects else None
        return self._of_this_variant(
            project, candidates(self.releases(project), needs, variant=variant)
        )

    def _of_this_variant(
        self, project: NormalizedName, found: list[ProjectCandidate]
    ) -> list[ProjectCandidate]:
        """``found`` less the builds of a variant-bound project labelled for another variant."""
        if project not in self.variant_bound or self.variant is None:
            return found
        return [
            c
            for c in found
            if not is_variant_label(c.version.local) or c.version.local == self.variant
        ]

    # --- resolvelib's interface -----------------------------------------------------------

    def identify(self, requirement_or_candidate: Need | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Preference:
        """Exact pins first, then projects with fewer candidates, then by name."""
        pinned = any(
            not isinstance(i.requirement, ProjectNeed) or i.requirement.is_pinned
            for i in information[identifier]
        )
        count = sum(1 for _ in candidates[identifier])
        return (not pinned, count, identifier)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Iterable[str]:
        """The one identifier :meth:`get_preference` ranks first, found with remembered ranks.

        resolvelib ranks every unpinned project in every round: with 2,000 projects, two
        million rankings, each counting candidates again. A project's rank changes only
        when its criterion does, and resolvelib replaces a criterion object whenever it
        changes, so the rank is kept beside the criterion it was computed from (the
        criteria of the round come from :class:`Reporter`'s ``ending_round``). The choice is
        the same as ranking them all.
        """
        criteria = self.criteria
        best: tuple[Preference, str] | None = None
        for identifier in identifiers:
            criterion = None if criteria is None else criteria.get(identifier)
            known = self._ranks.get(identifier)
            if known is not None and criterion is not None and known[0] is criterion:
                rank = known[1]
            else:
                rank = self.get_preference(
                    identifier, resolutions, candidates, information, backtrack_causes
                )
                if criterion is not None:
                    self._ranks[identifier] = (criterion, rank)
            if best is None or rank < best[0]:
                best = (rank, identifier)
        return [] if best is None else [best[1]]

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Need]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        needs = list(requirements[identifier])
        excluded = set(incompatibilities[identifier])
        found: list[Candidate]
        if identifier == VARIANT:
            labels = {n.label for n in needs if isinstance(n, VariantNeed)}
            found = [VariantCandidate(label=label) for label in labels] if len(labels) == 1 else []
        elif identifier == PYTHON:
            fits = all(
                isinstance(n, PythonNeed) and self.facts.python_accepts(n.specifier) for n in needs
            )
            found = [PythonCandidate(version=self.facts.python_version)] if fits else []
        else:
            found = list(self.candidates_for([n for n in needs if isinstance(n, ProjectNeed)]))
        return [c for c in found if c not in excluded]

    def is_satisfied_by(self, requirement: Need, candidate: Candidate) -> bool:
        """Whether ``candidate`` meets ``requirement``. resolvelib asks it again for every
        pin in every round; the answer is kept per pair of objects, which are kept with it
        (so that their ids cannot be reused by others while remembered)."""
        key = (id(requirement), id(candidate))
        known = self._satisfied.get(key)
        if known is not None and known[0] is requirement and known[1] is candidate:
            return known[2]
        answer = self._satisfies(requirement, candidate)
        self._satisfied[key] = (requirement, candidate, answer)
        return answer

    def _satisfies(self, requirement: Need, candidate: Candidate) -> bool:
        if isinstance(requirement, ProjectNeed):
            return (
                isinstance(candidate, ProjectCandidate)
                and candidate.identifier == requirement.identifier
                and requirement.admits(candidate.version, prereleases=True)
            )
        if isinstance(requirement, VariantNeed):
            return isinstance(candidate, VariantCandidate) and candidate.label == requirement.label
        return isinstance(candidate, PythonCandidate) and self.facts.python_accepts(
            requirement.specifier
        )

    def get_dependencies(self, candidate: Candidate) -> Iterable[Need]:
        if not isinstance(candidate, ProjectCandidate):
            return ()
        return self._dependencies_lazily(candidate)

    def _dependencies_lazily(self, candidate: ProjectCandidate) -> Iterator[Need]:
        # The variant comes first and costs nothing: a build of the wrong variant is
        # rejected by resolvelib before its metadata is ever fetched.
        if candidate.project in self.variant_projects and not candidate.extras:
            yield VariantNeed(label=candidate.variant)
        yield from self.dependencies(candidate)


class Reporter(_ReporterBase):
    """Remembers who asked for what, to tell the chain behind a conflict; hands each
    round's criteria to the provider (``ending_round``'s state, resolvelib's public hook)."""

    def __init__(self, provider: Provider | None = None) -> None:
        self.requested: dict[str, list[tuple[Need, Candidate | None]]] = {}
        self._seen: set[tuple[Need, Candidate | None]] = set()
        self._provider = provider

    def adding_requirement(self, requirement: Need, parent: Candidate | None) -> None:
        key = (requirement, parent)
        if key not in self._seen:
            self._seen.add(key)
            self.requested.setdefault(requirement.identifier, []).append(key)

    # resolvelib calls every hook by name; the others have nothing to do here.
    def starting(self) -> None:
        pass

    def starting_round(self, index: int) -> None:
        pass

    def ending_round(self, index: int, state: Any) -> None:
        if self._provider is not None:
            self._provider.criteria = state.criteria

    def ending(self, state: Any) -> None:
        pass

    def resolving_conflicts(self, causes: Any) -> None:
        pass

    def rejecting_candidate(self, criterion: Any, candidate: Candidate) -> None:
        pass

    def pinning(self, candidate: Candidate) -> None:
        pass
