"""The solve use case: the build chosen, the whole closure resolved for each target."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field
from packaging.version import Version

from torchlock.artifacts import BuildTorch
from torchlock.credentials import without_credentials
from torchlock.errors import InputError
from torchlock.matrix.select import Candidate, Selection
from torchlock.target import Platform
from torchlock.workflows.selection import Detect, SelectionInputs, choose_build

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.tags import Tag

    from torchlock.envs.conda_rattler import CondaRecord
    from torchlock.index.client import Limits, SolveMemo
    from torchlock.index.sdists import SdistBuilder
    from torchlock.resolver.result import Resolution

# --- solve -------------------------------------------------------------------------------

TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})


class TorchIndex(enum.Enum):
    AUTO = "auto"  # the default index when it serves the chosen build, else the PyTorch index
    PYTORCH = "pytorch"
    DEFAULT = "default"


class IndexSettings(Struct, frozen=True, kw_only=True):
    """Where packages come from; the CLI fills it from options and pip's configuration."""

    default_index: str
    default_index_source: str
    extra_index_urls: tuple[str, ...] = ()  # asked, in order, for projects the default lacks
    torch_index: TorchIndex = TorchIndex.AUTO
    pytorch_index_url: str | None = None  # template with {variant}; None: the official one
    mirror: str | None = None
    find_links: tuple[Path, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    offline: bool = False
    cache_dir: Path | None = None
    netrc_path: Path | None = None
    ca_file: Path | None = None  # certificates that replace the system's (pip's cert)
    limits: Limits | None = None  # timeouts, retries, deadlines, sizes; None: the defaults


class CondaSettings(Struct, frozen=True, kw_only=True):
    """Where the conda base (Python, pip) of a lock comes from."""

    channels: tuple[str, ...] = ()  # names or URLs, in priority order; empty: conda-forge
    cache_dir: Path | None = None  # repodata cache
    offline: bool = False  # the cached repodata only
    trusted_hosts: tuple[str, ...] = ()  # hosts a plain-http channel may be on


class SolveInputs(Struct, frozen=True, kw_only=True):
    selection: SelectionInputs
    platforms: tuple[Platform, ...]  # targets; empty: the selection's platform
    requirements: tuple[Requirement, ...] = ()  # the user's own, besides the torch triple
    family: tuple[str, ...] = ()  # the torch family members to lock; empty: all that pair
    # projects whose sdist builds against the target's torch (flash-attn); canonical names
    build_with_torch: tuple[str, ...] = ()
    indexes: IndexSettings
    conda: CondaSettings | None = None  # None: no conda base is solved


class TargetSolution(Struct, frozen=True, kw_only=True):
    platform: Platform
    python: str
    candidate: Candidate  # the torch build for this platform
    torch_index: str  # where the torch family comes from
    default_index: str
    resolution: Resolution
    conda: tuple[CondaRecord, ...] = ()  # the conda base, sorted by name


class Solution(Struct, frozen=True, kw_only=True):
    selection: Selection
    targets: tuple[TargetSolution, ...]
    requests: int  # HTTP requests made (retries included)
    pages: Mapping[str, str] = field(default_factory=dict)  # URL -> sha256 of what was used


def solve(
    inputs: SolveInputs,
    *,
    detect: Detect,
    http: Any = None,
    builder: SdistBuilder | None = None,
) -> Solution:
    """Choose the build, then resolve the whole closure for each target platform (and its
    conda base, when ``inputs.conda`` asks for one).

    ``builder`` learns the dependencies of an sdist whose PKG-INFO does not fix them (PEP
    643) from its build backend; without one, such an sdist is an error that says so.
    """
    _check_indexes(inputs.indexes)  # a refused or malformed index fails before any request
    if inputs.indexes.cache_dir is not None:
        from torchlock.envs.leftovers import sweep_cache

        sweep_cache(inputs.indexes.cache_dir)  # what killed runs left in it, once a day
    selection = choose_build(inputs.selection, detect=detect)
    platforms = inputs.platforms or (inputs.selection.platform,)
    python = str(selection.request.python)
    settings = inputs.indexes
    # the conda base first: an unreachable channel fails before the longer resolution
    bases = {p: _conda_base(inputs.conda, python, p) for p in platforms}
    targets = []
    requests = 0
    pages_used: dict[str, str] = {}
    from torchlock.index.client import Limits, SolveMemo
    from torchlock.index.tags import supported_tags

    # the targets share the pages, metadata and connections they read: each parses pages
    # for every target's wheel tags, and ranks the others' files out itself
    memo = SolveMemo(deadline=(settings.limits or Limits()).solve_deadline)
    tags = list(dict.fromkeys(t for p in platforms for t in supported_tags(python, p.key)))
    try:
        solved = [
            _solve_target(inputs, selection, platform, detect, http, builder, memo, tags)
            for platform in platforms
        ]
    finally:
        memo.close()
    for platform, (resolution, used, made, candidate, torch_index) in zip(
        platforms, solved, strict=True
    ):
        requests += made
        pages_used.update(used)
        targets.append(
            TargetSolution(
                platform=platform,
                python=python,
                candidate=candidate,
                torch_index=without_credentials(torch_index or settings.default_index),
                default_index=without_credentials(settings.default_index),
                resolution=resolution,
                conda=bases[platform],
            )
        )
    return Solution(
        selection=selection, targets=tuple(targets), requests=requests, pages=pages_used
    )


def _solve_target(
    inputs: SolveInputs,
    selection: Selection,
    platform: Platform,
    detect: Detect,
    http: Any,
    builder: SdistBuilder | None,
    memo: SolveMemo,
    tags: Sequence[Tag],
) -> tuple[Resolution, dict[str, str], int, Candidate, str | None]:
    """(resolution, pages used, requests made, build, torch index) of one target."""
    settings = inputs.indexes
    python = str(selection.request.python)
    candidate = _candidate_for(selection, inputs.selection, platform, detect)
    torch_index, variant = _torch_source(candidate, platform, settings)
    requirements = [*_triple(candidate, inputs.family), *(str(r) for r in inputs.requirements)]
    build_torch = None
    if inputs.build_with_torch:
        build_torch = BuildTorch(
            requirement=requirements[0], index=torch_index or settings.default_index
        )
    query = _TargetQuery(
        requirements=tuple(requirements),
        python=python,
        platform=platform,
        variant=variant,
        settings=settings,
        torch_index=torch_index,
        build_with_torch=inputs.build_with_torch,
        build_torch=build_torch,
    )
    key = _result_key(query)
    reused = _reuse(settings, key)
    if reused is not None:
        resolution, used = reused
        return resolution, used, 0, candidate, torch_index
    resolution, used, made = _resolve_target(query, http, builder, memo, tags)
    _remember(settings, key, used, resolution)
    return resolution, used, made, candidate, torch_index


def _conda_base(
    settings: CondaSettings | None, python: str, platform: Platform
) -> tuple[CondaRecord, ...]:
    if settings is None:
        return ()
    from torchlock.envs.conda_rattler import solve_base

    return solve_base(
        channels=settings.channels,
        python=python,
        subdir=platform.conda_subdir,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        trusted_hosts=settings.trusted_hosts,
    )


def _check_indexes(settings: IndexSettings) -> None:
    from torchlock.index.urls import check_index_url

    trusted = frozenset(h.strip().lower() for h in settings.trusted_hosts)
    for url in (settings.default_index, *settings.extra_index_urls):
        check_index_url(url, trusted, local=True)
    if settings.pytorch_index_url is not None:
        check_index_url(settings.pytorch_index_url.replace("{variant}", "cpu"), trusted)


class _TargetQuery(Struct, frozen=True, kw_only=True):
    """One target to resolve: what its stored result is keyed by, and what resolving takes."""

    requirements: tuple[str, ...]
    python: str
    platform: Platform
    variant: str | None
    settings: IndexSettings
    torch_index: str | None  # the torch family's index; None: the default index
    build_with_torch: tuple[str, ...] = ()
    build_torch: BuildTorch | None = None  # what those projects' builds get installed


def _resolve_target(
    query: _TargetQuery,
    http: Any,
    builder: SdistBuilder | None,
    memo: SolveMemo,
    every_tag: Sequence[Tag],
) -> tuple[Resolution, dict[str, str], int]:
    """(resolution, the pages it was built from, HTTP requests made) for one target.

    ``every_tag``: the wheel tags of all the solve's targets, which its client parses pages
    for (``memo`` shares them with the other targets); ranking uses this target's own.
    """
    requirements, python, platform = query.requirements, query.python, query.platform
    settings, torch_index = query.settings, query.torch_index
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from torchlock.index.client import IndexClient, Limits, Routing
    from torchlock.index.tags import marker_environment, supported_tags
    from torchlock.matrix.ecosystem import load_ecosystem
    from torchlock.resolver.resolve import resolve

    tags = supported_tags(python, platform.key)
    ecosystem = load_ecosystem()
    routing = Routing(
        default_index=settings.default_index,
        indexes={} if torch_index is None else dict.fromkeys(TORCH_FAMILY, torch_index),
        # the packages the PyTorch index builds per variant come from the same index as
        # torch, where it has them (data/ecosystem.json)
        first_indexes={} if torch_index is None else dict.fromkeys(ecosystem.routed, torch_index),
        extra_indexes=settings.extra_index_urls,
        find_links=settings.find_links,
    )
    limits = settings.limits or Limits()
    client = IndexClient(
        routing,
        http=http,
        timeouts=limits.timeouts(),
        retry=limits.retry(),
        max_body=limits.max_page_bytes,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        trusted_hosts=settings.trusted_hosts,
        netrc_path=settings.netrc_path,
        ca_file=settings.ca_file,
        tags=every_tag,
        sdist_builder=builder,
        build_torch=query.build_torch,
        memo=memo,
    )
    try:
        resolution = resolve(
            [Requirement(r) for r in requirements],
            finder=client,
            environment=marker_environment(python, platform.key),
            tags=tags,
            python_version=Version(f"{python.rstrip('t')}.0"),
            variant=query.variant,
            variant_projects=frozenset(canonicalize_name(n) for n in TORCH_FAMILY),
            variant_bound=ecosystem.variant_bound,
        )
    except BaseException:
        # Ctrl-C or an error: the prefetches in flight are not waited for (a stalled index
        # would hold the exit for a read timeout per retry)
        client.close(wait=False)
        raise
    client.close()
    return resolution, dict(client.pages_used), client.stats.requests


# A solved target is reused, without resolving or any request, while every project page it
# was built from is still fresh in the HTTP cache (its max-age) and unchanged. Metadata
# files are content-addressed, so they cannot have changed. A wheelhouse (--find-links)
# has no freshness: with one, nothing is reused.
_RESULTS = "results"
_RESULT_FORMAT = 2  # 2: sdists and the torch ecosystem routing


def _result_key(query: _TargetQuery) -> str:
    import hashlib
    import json

    from torchlock import __version__

    document = {
        "format": _RESULT_FORMAT,
        "torchlock": __version__,
        "requirements": sorted(query.requirements),  # the family's pins among them
        "python": query.python,
        "platform": query.platform.key,
        "variant": query.variant,
        "default_index": query.settings.default_index,
        "extra_indexes": list(query.settings.extra_index_urls),
        "torch_index": query.torch_index,
    }
    if query.build_with_torch:  # absent otherwise: results stored before it stay valid
        document["build_with_torch"] = sorted(query.build_with_torch)
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reuse(settings: IndexSettings, key: str) -> tuple[Resolution, dict[str, str]] | None:
    if settings.cache_dir is None or settings.find_links:
        return None
    import time

    from torchlock.index.cache import HttpCache
    from torchlock.resolver.serialize import resolution_from_dict

    cache = HttpCache(settings.cache_dir)
    stored = cache.load_json(_RESULTS, key)
    if not isinstance(stored, dict):
        return None
    pages = stored.get("pages")
    if not cache.pages_unchanged(pages, time.time(), offline=settings.offline):
        return None
    assert isinstance(pages, dict)
    try:
        return resolution_from_dict(stored["resolution"]), pages
    except (KeyError, ValueError, TypeError, IndexError):
        return None


def _remember(
    settings: IndexSettings, key: str, pages: dict[str, str], resolution: Resolution
) -> None:
    if settings.cache_dir is None or settings.find_links or not pages:
        return
    from torchlock.index.cache import HttpCache
    from torchlock.resolver.serialize import resolution_to_dict

    document = {"pages": pages, "resolution": resolution_to_dict(resolution)}
    HttpCache(settings.cache_dir).store_json(_RESULTS, key, document)


def _triple(candidate: Candidate, family: tuple[str, ...] = ()) -> list[str]:
    """The family members' pins: all that the matrix pairs with the release, or ``family``'s.

    Many LLM projects need torch alone, and torchaudio is no longer released with every
    torch: the choice is the user's (``--family``), the versions the matrix's.
    """
    release = candidate.release
    wanted = family or ("torch", "torchvision", "torchaudio")
    pins = [f"torch=={release.torch}"]
    if release.torchvision is not None and "torchvision" in wanted:
        pins.append(f"torchvision=={release.torchvision}")
    if release.torchaudio is not None and "torchaudio" in wanted:
        pins.append(f"torchaudio=={release.torchaudio}")
    return pins


def _candidate_for(
    selection: Selection, inputs: SelectionInputs, platform: Platform, detect: Detect
) -> Candidate:
    """The build for one target: the recommended one, re-selected for another platform."""
    best = selection.recommended
    assert best is not None
    if platform == selection.request.platform:
        return best
    other = choose_build(
        SelectionInputs(
            platform=platform,
            python=inputs.python,
            driver=str(selection.request.driver) if selection.request.driver else "none",
            gpu_cc=[str(g) for g in selection.request.gpus],
            torch=f"=={best.torch}",
            variant=inputs.variant,
            policy=inputs.policy,
        ),
        detect=detect,
    )
    found = other.recommended
    assert found is not None
    return found


def _torch_source(
    candidate: Candidate, platform: Platform, settings: IndexSettings
) -> tuple[str | None, str | None]:
    """(index URL for the torch family or None for the default index, local variant label)."""
    variant = candidate.variant.name
    served = candidate.release.default_variant.get(platform.key)
    on_default = served == variant
    mode = settings.torch_index
    if mode is TorchIndex.DEFAULT and not on_default:
        raise InputError(
            f"the default index does not serve the {variant} build of torch "
            f"{candidate.torch} for {platform}",
            evidence=[f"its {platform} wheel of torch {candidate.torch} is {served or 'absent'}"],
            hint="use --torch-index pytorch (or auto), or --variant " + (served or "cpu"),
        )
    if mode is TorchIndex.DEFAULT or (mode is TorchIndex.AUTO and on_default):
        return (None, None)
    if settings.pytorch_index_url is not None:
        return (settings.pytorch_index_url.replace("{variant}", variant), variant)
    from torchlock.matrix.mirrors import (
        IndexLayout,
        mirror_by_name,
        official_pytorch_index,
        pytorch_index_for,
    )

    index = official_pytorch_index(variant)
    if settings.mirror is not None:
        mirrored = pytorch_index_for(mirror_by_name(settings.mirror), variant)
        if mirrored is not None and mirrored.layout is IndexLayout.SIMPLE:
            index = mirrored
    return (index.url, variant)
