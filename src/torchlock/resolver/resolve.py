"""resolve(): the closure of the root requirements for one target, or why there is none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.errors import InputError
from torchlock.resolver.candidates import (
    Need,
    ProjectCandidate,
    ProjectNeed,
    TargetFacts,
    VariantNeed,
)
from torchlock.resolver.finder import Finder
from torchlock.resolver.markers import applies, target_environment
from torchlock.resolver.provider import Provider, Reporter
from torchlock.resolver.result import ROOT, Pin, Resolution


def resolve(
    requirements: Sequence[Requirement],
    *,
    finder: Finder,
    environment: Mapping[str, str],
    tags: Sequence[Tag],
    python_version: Version,
    variant: str | None = None,
    variant_projects: frozenset[NormalizedName] = frozenset(),
    variant_bound: frozenset[NormalizedName] = frozenset(),
    max_rounds: int = 200_000,
) -> Resolution:
    """Pin one version of every project the root requirements need on the target.

    ``environment``, ``tags`` and ``python_version`` describe the target, never the host.
    With ``variant_projects``, every pinned build of those projects carries the local label
    ``variant`` (``2.1.2+cu121``), or none when ``variant`` is None. A project of
    ``variant_bound`` (the torch ecosystem: xformers, torchao, ...) never gets a build
    labelled for another variant (``+cu118`` beside a cu126 torch); unlabelled builds of
    it count, as the variant's index serves them.

    Raises :class:`~torchlock.errors.ResolutionError` when no such set exists (the message
    says through which chain), :class:`~torchlock.errors.InputError` for a requirement the
    resolver cannot take (a direct URL); errors of the finder propagate unchanged.
    """
    from resolvelib import ResolutionImpossible, ResolutionTooDeep, Resolver

    facts = TargetFacts(
        tags=tuple(tags),
        python_version=python_version,
        environment=target_environment(environment),
    )
    roots = _root_needs(requirements, facts)
    root_names = tuple(sorted({n.project for n in roots}))
    provider = Provider(
        finder=finder,
        facts=facts,
        variant=variant,
        variant_projects=frozenset(variant_projects),
        variant_bound=frozenset(variant_bound),
    )
    reporter = Reporter(provider)
    needs: list[Need] = list(roots)
    if variant_projects:
        needs.append(VariantNeed(label=provider.variant_label))
    if root_names:
        finder.prefetch(
            root_names, provider.read_ahead([n for n in roots if isinstance(n, ProjectNeed)])
        )

    resolver = Resolver(provider, reporter)
    try:
        result = resolver.resolve(needs, max_rounds=max_rounds)
    except ResolutionImpossible as impossible:
        causes = [(info.requirement, info.parent) for info in impossible.causes]
        from torchlock.resolver.explain import explain_impossible  # only a failure needs it

        raise explain_impossible(causes, provider=provider, reporter=reporter) from None
    except ResolutionTooDeep:
        from torchlock.resolver.explain import explain_too_deep

        raise explain_too_deep(max_rounds, [n.text for n in roots]) from None

    chosen = [c for c in result.mapping.values() if isinstance(c, ProjectCandidate)]
    return _resolution(chosen, root_names, provider)


def _root_needs(requirements: Sequence[Requirement], facts: TargetFacts) -> list[ProjectNeed]:
    needs = []
    for requirement in requirements:
        if requirement.url:
            raise InputError(
                f"direct URL requirements are not supported: {requirement}",
                hint="name the project and a version instead, and give its index",
            )
        if applies(requirement.marker, facts.environment, owner=str(requirement)):
            needs.append(ProjectNeed.from_requirement(requirement))
    return needs


def _resolution(
    chosen: Sequence[ProjectCandidate],
    roots: tuple[NormalizedName, ...],
    provider: Provider,
) -> Resolution:
    bases = {c.project: c for c in chosen if not c.extras}
    extras: dict[NormalizedName, set[NormalizedName]] = {}
    edges: dict[NormalizedName, set[NormalizedName]] = {name: set() for name in bases}
    for candidate in chosen:
        extras.setdefault(candidate.project, set()).update(candidate.extras)
        for need in provider.dependencies(candidate):
            if isinstance(need, ProjectNeed) and need.project != candidate.project:
                edges[candidate.project].add(need.project)
    reverse: dict[NormalizedName, set[NormalizedName]] = {name: set() for name in bases}
    for name, targets in edges.items():
        for target in targets:
            reverse[target].add(name)
    for name in roots:
        reverse[name].add(ROOT)

    pins = []
    for name in sorted(bases):
        candidate = bases[name]
        artifact = candidate.artifact
        requires_python = artifact.requires_python
        if requires_python is None:
            requires_python = provider.metadata(candidate).requires_python
        pins.append(
            Pin(
                name=name,
                version=candidate.version,
                artifact=artifact,
                artifacts=candidate.artifacts,
                index=artifact.index,
                requires_python=requires_python,
                dependencies=tuple(sorted(edges[name])),
                required_by=tuple(sorted(reverse[name])),
                extras=frozenset(extras.get(name, ())),
            )
        )
    return Resolution(pins=tuple(pins), roots=roots)
