"""Turn resolvelib's causes into a :class:`ResolutionError` a person can act on.

The first line names what failed, the evidence lines show the chain of requirements
behind it and what the index has, and the ``hint:`` line says what would resolve it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec import Struct
from packaging.version import Version

from torchlock.errors import ResolutionError
from torchlock.resolver.candidates import (
    NO_VARIANT,
    PYTHON,
    VARIANT,
    Candidate,
    Need,
    ProjectCandidate,
    ProjectNeed,
    ProjectReleases,
    PythonNeed,
    Unusable,
    VariantNeed,
)
from torchlock.resolver.provider import Provider, Reporter

SHOWN = 5  # how many versions an explanation lists
Cause = tuple[Need, Candidate | None]


class Finding(Struct, frozen=True, kw_only=True):
    headline: str
    evidence: tuple[str, ...] = ()
    hint: str | None = None


def explain_impossible(
    causes: Iterable[Cause], *, provider: Provider, reporter: Reporter
) -> ResolutionError:
    """The error for resolvelib's ResolutionImpossible, given its causes."""
    groups: dict[str, list[Cause]] = {}
    for cause in causes:
        group = groups.setdefault(cause[0].identifier, [])
        if cause not in group:
            group.append(cause)
    explainer = _Explainer(provider, reporter)
    findings = [explainer.group(identifier, group) for identifier, group in groups.items()]
    if not findings:
        return ResolutionError("the requirements cannot be satisfied together")
    first, rest = findings[0], findings[1:]
    evidence = list(first.evidence)
    for finding in rest:
        evidence.append(f"also: {finding.headline}")
        evidence.extend(f"  {line}" for line in finding.evidence)
    hints = list(dict.fromkeys(f.hint for f in findings if f.hint))
    return ResolutionError(first.headline, evidence=evidence, hint="; ".join(hints) or None)


def explain_too_deep(max_rounds: int, roots: Sequence[str]) -> ResolutionError:
    return ResolutionError(
        f"the resolution did not finish within {max_rounds} rounds",
        evidence=[f"root requirements: {', '.join(roots)}"] if roots else [],
        hint="pin more of the requirements (exact versions narrow the search), "
        "or allow more rounds",
    )


def _source(parent: Candidate | None) -> str:
    return str(parent) if isinstance(parent, ProjectCandidate) else "the root"


def _versions(versions: Iterable[Version]) -> str:
    shown = list(dict.fromkeys(str(v) for v in versions))
    if not shown:
        return "none"
    more = ", …" if len(shown) > SHOWN else ""
    return ", ".join(shown[:SHOWN]) + more


def _available(releases: ProjectReleases) -> str:
    usable = [r.version.public for r in releases.releases if r.usable]
    return _versions(Version(v) for v in usable)


class _Explainer:
    def __init__(self, provider: Provider, reporter: Reporter) -> None:
        self.provider = provider
        self.reporter = reporter

    # --- the chain of requirements that led to a candidate --------------------------------

    def chain(self, need: Need, parent: Candidate | None) -> list[str]:
        """Requirement texts from the root down to ``need``: [torchvision==0.16.2, torch==2.1.2]."""
        steps = [need.text]
        seen: set[Candidate] = set()
        current = parent
        while isinstance(current, ProjectCandidate) and current not in seen and len(steps) < 20:
            seen.add(current)
            asked = self.reporter.requested.get(current.identifier, [])
            found = next(
                ((n, p) for n, p in asked if self.provider.is_satisfied_by(n, current)), None
            )
            if found is None:
                break
            steps.append(found[0].text)
            current = found[1]
        return list(reversed(steps))

    def chain_line(self, need: Need, parent: Candidate | None) -> str:
        return "chain: <root> → " + " → ".join(self.chain(need, parent))

    # --- one group of causes, all on the same identifier ---------------------------------

    def group(self, identifier: str, causes: list[Cause]) -> Finding:
        if identifier == VARIANT:
            return self.variant(causes)
        if identifier == PYTHON:
            return self.python(causes)
        needs = [(n, p) for n, p in causes if isinstance(n, ProjectNeed)]
        for need, parent in needs:
            if not self.provider.candidates_for([need]):
                return self.nothing_matches(need, parent)
        return self.conflict(identifier, needs)

    def variant(self, causes: list[Cause]) -> Finding:
        wanted = self.provider.variant_label
        for_what = f"for {wanted}" if wanted != NO_VARIANT else "for builds without a variant"
        sentences: list[str] = []
        chains: list[str] = []
        projects: dict[ProjectCandidate, None] = {}
        for need, parent in causes:
            if not isinstance(need, VariantNeed) or not isinstance(parent, ProjectCandidate):
                continue
            if need.label == wanted:
                continue
            carries = (
                f"carries variant {need.label}"
                if need.label != NO_VARIANT
                else "carries no variant label"
            )
            sentences.append(f"{parent} {carries}, but this resolution is {for_what}")
            chains.append(self.chain_line(need, parent))
            projects.setdefault(parent)
        if not sentences:
            return Finding(headline="the variant requirements disagree")
        evidence = [*sentences[1:], *chains]
        hints = []
        for project, public in dict.fromkeys((c.project, c.version.public) for c in projects):
            releases = self.provider.releases(project)
            labels = sorted(
                {
                    r.version.local or NO_VARIANT
                    for r in releases.releases
                    if r.usable and r.version.public == public
                }
            )
            evidence.append(f"{project} {public} is built for: {', '.join(labels)}")
            with_wanted = [
                Version(r.version.public)
                for r in releases.releases
                if r.usable and (r.version.local or NO_VARIANT) == wanted
            ]
            evidence.append(f"{project} versions built for {wanted}: {_versions(with_wanted)}")
            others = ", ".join(label for label in labels if label != wanted)
            if with_wanted:
                hints.append(
                    f"choose another variant ({others}), or a {project} version that has a "
                    f"{wanted} build (newest: {with_wanted[0]})"
                )
            else:
                hints.append(
                    f"choose another variant ({others}): the index has no {wanted} build "
                    f"of {project}"
                )
        return Finding(
            headline=sentences[0], evidence=tuple(evidence), hint="; ".join(dict.fromkeys(hints))
        )

    def python(self, causes: list[Cause]) -> Finding:
        target = self.provider.facts.python_version
        lines = [
            f"{parent} requires Python {need.specifier}, but the target is Python {target}"
            for need, parent in causes
            if isinstance(need, PythonNeed) and isinstance(parent, ProjectCandidate)
        ]
        if not lines:
            return Finding(headline=f"the requirements do not fit Python {target}")
        projects = sorted({p.project for _, p in causes if isinstance(p, ProjectCandidate)})
        return Finding(
            headline=lines[0],
            evidence=tuple(lines[1:]),
            hint=f"choose an older {', '.join(projects)} that supports Python {target}, "
            "or lock for a newer Python",
        )

    def nothing_matches(self, need: ProjectNeed, parent: Candidate | None) -> Finding:
        """No candidate at all for ``need`` alone: say why each matching version is out."""
        releases = self.provider.releases(need.project)
        facts = self.provider.facts
        chain = (self.chain_line(need, parent),) if parent is not None else ()
        if not releases.releases and self.provider.finder.listed(need.project):
            return Finding(
                headline=f"{need.project} has no file for this target ({facts.describe()}) on "
                f"{self.provider.finder.source(need.project)}",
                evidence=chain,
                hint="that index alone serves the project: lock for another Python or "
                "platform, or use an index (or --find-links folder) with builds for it",
            )
        if not releases.releases:
            return Finding(
                headline=f"{need.project} is not on the index: "
                f"{self.provider.finder.source(need.project)} lists no file for it",
                evidence=chain,
                hint="check the project name, or add the index that serves it"
                if parent is not None
                # asked for directly: more often a wrong index URL than a missing project
                else "check the index URL (the root of a simple repository, such as "
                "https://HOST/simple) and the project name",
            )
        matching = [r for r in releases.releases if need.admits(r.version, prereleases=True)]
        if not matching:
            return Finding(
                headline=f"no version of {need.project} matches {need.text} "
                f"(available: {_available(releases)})",
                evidence=chain,
                hint=f"relax the requirement {need.text}",
            )
        finals = [r for r in matching if not r.version.is_prerelease]
        if finals and not need.allows_prereleases:
            matching = finals  # pre-releases were never in question
        reasons: dict[str, list[Version]] = {}
        for release in matching:
            unusable = release.unusable
            if unusable is Unusable.NO_WHEEL:
                reason = "no wheel for this target"
            elif unusable is Unusable.REQUIRES_PYTHON:
                reason = "requires Python " + " or ".join(str(s) for s in release.requires_python)
            elif release.yanked_only:
                reason = "yanked"
            elif release.version.is_prerelease and not need.allows_prereleases:
                reason = "pre-release"
            else:
                reason = "not usable"
            reasons.setdefault(reason, []).append(release.version)
        evidence = [*chain, *(f"{reason}: {_versions(vs)}" for reason, vs in reasons.items())]
        kinds = set(reasons)
        if kinds == {"no wheel for this target"}:
            return Finding(
                headline=f"{need.project} has no wheel for this target ({facts.describe()})",
                evidence=(
                    *chain,
                    f"versions matching {need.text}: {_versions(r.version for r in matching)}",
                    f"versions with a wheel for this target: {_available(releases)}",
                ),
                hint="choose a version that has a wheel for this target, "
                "or lock for another Python or platform",
            )
        if kinds == {"yanked"}:
            return Finding(
                headline=f"{need.project}: every matching file is yanked ({need.text})",
                evidence=tuple(evidence),
                hint="pin the exact version with == to accept a yanked file, "
                "or choose another version",
            )
        if kinds == {"pre-release"}:
            newest = matching[0].version
            return Finding(
                headline=f"{need.project}: only pre-releases match {need.text}",
                evidence=tuple(evidence),
                hint=f"ask for a pre-release explicitly, e.g. {need.project}>={newest}",
            )
        if all(k.startswith("requires Python") for k in kinds):
            return Finding(
                headline=f"{need.project}: every version matching {need.text} requires "
                f"another Python (the target is Python {facts.python_version})",
                evidence=tuple(evidence),
                hint="choose an older version, or lock for another Python",
            )
        relax = f"relax the requirement {need.text}, or " if need.specifier else ""
        return Finding(
            headline=f"no usable version of {need.project} matches {need.text}",
            evidence=tuple(evidence),
            hint=f"{relax}lock for another Python or platform",
        )

    def conflict(
        self, identifier: str, causes: list[tuple[ProjectNeed, Candidate | None]]
    ) -> Finding:
        """Every need has candidates on its own, but not all of them together."""
        ordered = sorted(causes, key=lambda c: c[1] is None)  # dependencies first, the root last
        evidence = [self.chain_line(n, p) for n, p in ordered if p is not None]
        if ordered:
            project = ordered[0][0].project
            available = _available(self.provider.releases(project))
            evidence.append(f"available {project} versions: {available}")
        roots = sorted({self.chain(n, p)[0] for n, p in ordered})
        hint = f"relax or change one of the pins so that they agree: {', '.join(roots)}"
        texts = list(dict.fromkeys((_source(p), n.text) for n, p in ordered))
        if len(texts) == 2 and not (texts[0][0] == texts[1][0] == "the root"):
            (source_a, text_a), (source_b, text_b) = texts
            headline = f"{source_a} requires {text_a}, but {source_b} requires {text_b}"
        elif len(texts) >= 2:
            headline = f"no version of {identifier} satisfies all of: " + ", ".join(
                f"{text} (from {source})" for source, text in texts
            )
        else:
            source, text = texts[0]
            headline = (
                f"no version of {identifier} matching {text} (from {source}) works "
                "with the rest of the requirements"
            )
        return Finding(headline=headline, evidence=tuple(evidence), hint=hint)
