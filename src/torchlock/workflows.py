"""Use cases that combine the parts; no click, no printing, no environment reading.

Each function takes what the CLI gathered (options, the host seams) and returns
values; the CLI renders them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from torchlock.errors import InputError, NoCandidateError, TorchlockError
from torchlock.matrix.load import load_matrix
from torchlock.matrix.report import summarize_exclusions
from torchlock.matrix.request import build_request
from torchlock.matrix.select import Candidate, Selection, select
from torchlock.target import DriverVersion, Platform

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from torchlock.envs.backends import ChosenBackend
    from torchlock.envs.conda_rattler import CondaRecord
    from torchlock.envs.create import Built, Reporter, Seams
    from torchlock.envs.report import Report
    from torchlock.lockfiles.model import Lock
    from torchlock.resolver.result import Resolution
    from torchlock.system.model import HostReport

Detect = Callable[[str | None], "HostReport"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionInputs:
    """What the user asked for; None means 'from this host'."""

    platform: Platform
    python: str
    driver: str = "auto"  # VERSION, "none" or "auto"
    gpu_cc: Sequence[str] = ()
    torch: str | None = None
    variant: str | None = None
    policy: str = "compat"


def choose_build(inputs: SelectionInputs, *, detect: Detect) -> Selection:
    """Run the selection, detecting the driver and GPUs only when they were not given.

    Raises NoCandidateError (with one line per distinct exclusion) when nothing fits.
    """
    key = inputs.driver.strip().lower()
    explicit = key != "auto"
    version = None if key in ("auto", "none") else DriverVersion.parse(inputs.driver)
    gpus = list(inputs.gpu_cc)
    if not explicit or (version is not None and not gpus):
        report = detect(None if version is None else str(version))
        if not explicit:
            version = report.driver.version
        if not gpus:
            gpus = [str(g.compute_capability) for g in report.gpus if g.compute_capability]
    matrix = load_matrix()
    request = build_request(
        matrix,
        platform=inputs.platform,
        python=inputs.python,
        driver=version,
        gpu_cc=gpus,
        torch=inputs.torch,
        variant=inputs.variant,
        policy=inputs.policy,
    )
    selection = select(matrix, request)
    if not selection.candidates:
        raise NoCandidateError(
            "no torch build fits the request",
            evidence=summarize_exclusions(selection.excluded),
            hint="relax --torch, --variant or --python, or use a newer driver",
        )
    return selection


# --- solve -------------------------------------------------------------------------------

TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})


class TorchIndex(enum.Enum):
    AUTO = "auto"  # the default index when it serves the chosen build, else the PyTorch index
    PYTORCH = "pytorch"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSettings:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaSettings:
    """Where the conda base (Python, pip) of a lock comes from."""

    channels: tuple[str, ...] = ()  # names or URLs, in priority order; empty: conda-forge
    cache_dir: Path | None = None  # repodata cache
    offline: bool = False  # the cached repodata only


@dataclass(frozen=True, slots=True, kw_only=True)
class SolveInputs:
    selection: SelectionInputs
    platforms: tuple[Platform, ...]  # targets; empty: the selection's platform
    requirements: tuple[Requirement, ...] = ()  # the user's own, besides the torch triple
    indexes: IndexSettings
    conda: CondaSettings | None = None  # None: no conda base is solved


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSolution:
    platform: Platform
    python: str
    candidate: Candidate  # the torch build for this platform
    torch_index: str  # where the torch family comes from
    default_index: str
    resolution: Resolution
    conda: tuple[CondaRecord, ...] = ()  # the conda base, sorted by name


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    selection: Selection
    targets: tuple[TargetSolution, ...]
    requests: int  # HTTP requests made (retries included)
    pages: Mapping[str, str] = field(default_factory=dict)  # URL -> sha256 of what was used


def solve(inputs: SolveInputs, *, detect: Detect, http: Any = None) -> Solution:
    """Choose the build, then resolve the whole closure for each target platform (and its
    conda base, when ``inputs.conda`` asks for one)."""
    _check_indexes(inputs.indexes)  # a refused or malformed index fails before any request
    selection = choose_build(inputs.selection, detect=detect)
    platforms = inputs.platforms or (inputs.selection.platform,)
    python = str(selection.request.python)
    settings = inputs.indexes
    # the conda base first: an unreachable channel fails before the longer resolution
    bases = {p: _conda_base(inputs.conda, python, p) for p in platforms}
    targets = []
    requests = 0
    pages_used: dict[str, str] = {}
    for platform in platforms:
        candidate = _candidate_for(selection, inputs.selection, platform, detect)
        torch_index, variant = _torch_source(candidate, platform, settings)
        requirements = [*_triple(candidate), *(str(r) for r in inputs.requirements)]
        key = _result_key(requirements, python, platform, variant, settings, torch_index)
        reused = _reuse(settings, key)
        if reused is not None:
            resolution, used = reused
        else:
            resolution, used, made = _resolve_target(
                requirements, python, platform, variant, settings, torch_index, http
            )
            requests += made
            _remember(settings, key, used, resolution)
        pages_used.update(used)
        targets.append(
            TargetSolution(
                platform=platform,
                python=python,
                candidate=candidate,
                torch_index=_public(torch_index or settings.default_index),
                default_index=_public(settings.default_index),
                resolution=resolution,
                conda=bases[platform],
            )
        )
    return Solution(
        selection=selection, targets=tuple(targets), requests=requests, pages=pages_used
    )


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
    )


def _check_indexes(settings: IndexSettings) -> None:
    from torchlock.index.urls import check_index_url

    trusted = frozenset(h.strip().lower() for h in settings.trusted_hosts)
    for url in (settings.default_index, *settings.extra_index_urls):
        check_index_url(url, trusted)
    if settings.pytorch_index_url is not None:
        check_index_url(settings.pytorch_index_url.replace("{variant}", "cpu"), trusted)


def _resolve_target(
    requirements: list[str],
    python: str,
    platform: Platform,
    variant: str | None,
    settings: IndexSettings,
    torch_index: str | None,
    http: Any,
) -> tuple[Resolution, dict[str, str], int]:
    """(resolution, the pages it was built from, HTTP requests made) for one target."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from torchlock.index.client import IndexClient, Routing
    from torchlock.index.tags import marker_environment, supported_tags
    from torchlock.resolver.resolve import resolve

    tags = supported_tags(python, platform.key)
    routing = Routing(
        default_index=settings.default_index,
        indexes={} if torch_index is None else dict.fromkeys(TORCH_FAMILY, torch_index),
        extra_indexes=settings.extra_index_urls,
        find_links=settings.find_links,
    )
    client = IndexClient(
        routing,
        http=http,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        trusted_hosts=settings.trusted_hosts,
        netrc_path=settings.netrc_path,
        tags=tags,
    )
    try:
        resolution = resolve(
            [Requirement(r) for r in requirements],
            finder=client,
            environment=marker_environment(python, platform.key),
            tags=tags,
            python_version=Version(f"{python.rstrip('t')}.0"),
            variant=variant,
            variant_projects=frozenset(canonicalize_name(n) for n in TORCH_FAMILY),
        )
    finally:
        client.close()
    return resolution, dict(client.pages_used), client.stats.requests


# A solved target is reused, without resolving or any request, while every project page it
# was built from is still fresh in the HTTP cache (its max-age) and unchanged. Metadata
# files are content-addressed, so they cannot have changed. A wheelhouse (--find-links)
# has no freshness: with one, nothing is reused.
_RESULTS = "results"
_RESULT_FORMAT = 1


def _result_key(
    requirements: list[str],
    python: str,
    platform: Platform,
    variant: str | None,
    settings: IndexSettings,
    torch_index: str | None,
) -> str:
    import hashlib
    import json

    from torchlock import __version__

    document = {
        "format": _RESULT_FORMAT,
        "torchlock": __version__,
        "requirements": sorted(requirements),
        "python": python,
        "platform": platform.key,
        "variant": variant,
        "default_index": settings.default_index,
        "extra_indexes": list(settings.extra_index_urls),
        "torch_index": torch_index,
    }
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


def _public(url: str) -> str:
    """The URL without credentials: results and locks never carry them."""
    from torchlock.index.urls import split_credentials

    return split_credentials(url)[0]


def _triple(candidate: Candidate) -> list[str]:
    release = candidate.release
    pins = [f"torch=={release.torch}"]
    if release.torchvision is not None:
        pins.append(f"torchvision=={release.torchvision}")
    if release.torchaudio is not None:
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


# --- create ------------------------------------------------------------------------------

FALLBACK_LIMIT = 8  # builds `create --fallback` tries at most (each one downloads torch)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateInputs:
    lock_path: Path
    name: str | None
    prefix: Path | None
    backend: str = "auto"
    mirror: str | None = None
    fallback: bool = False
    force: bool = False
    platform: Platform
    cache_dir: Path
    verify_timeout: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAttempt:
    """One build tried: the torch build, and why it was abandoned (None: it passed)."""

    torch: Version
    variant: str
    abandoned: str | None
    report: Report | None = None  # the verification's, when it got that far


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateResult:
    prefix: Path
    backend: str
    backend_why: str
    python: Path
    built: Built  # the build that passed
    attempts: tuple[CreateAttempt, ...]
    lock: Lock  # the lock installed
    lock_written: Path | None  # where the passing lock was written (a fallback's)


class CreateFailed(Exception):
    """Verification failed (and no fallback got past it): carries what was tried."""

    def __init__(self, attempts: tuple[CreateAttempt, ...], final: Path) -> None:
        super().__init__(f"the environment did not verify; nothing was created at {final}")
        self.attempts = attempts
        self.final = final


def create_target(inputs: CreateInputs, chosen: ChosenBackend, *, seams: Seams) -> Path:
    """Where the environment goes: --prefix, else NAME in the backend's envs folder."""
    from torchlock.envs.backends import Backend, check_name, conda_envs_dir, venv_home

    if inputs.prefix is not None and inputs.name is not None:
        raise InputError("give NAME or --prefix DIR, not both")
    if inputs.prefix is not None:
        return inputs.prefix.absolute()
    if inputs.name is None:
        raise InputError("give the environment's NAME or --prefix DIR")
    name = check_name(inputs.name)
    if chosen.backend.conda_family and chosen.program is not None:
        return conda_envs_dir(chosen.program, seams.runner) / name
    if chosen.backend is Backend.RATTLER:
        conda = seams.which("conda")
        if conda:
            return conda_envs_dir(conda, seams.runner) / name
    return venv_home(env=seams.env, home=seams.home, os_kind=seams.os_kind) / name


def read_create_lock(path: Path) -> Lock:
    from torchlock.lockfiles import pylock
    from torchlock.lockfiles.files import read_text

    if not path.is_file():
        raise InputError(
            f"no lock at {str(path)!r}",
            hint="give --lock FILE, or write one with `torchlock solve -o pylock.toml`",
        )
    return pylock.parse(read_text(path), str(path))


def is_mirror_url(mirror: str) -> bool:
    """Whether ``--mirror`` names an index URL rather than a mirror of the catalog."""
    return "://" in mirror


def check_mirror(mirror: str) -> None:
    """InputError when ``--mirror`` is neither a known mirror name nor a usable index URL."""
    from torchlock.errors import PackageIndexError
    from torchlock.index.urls import check_index_url
    from torchlock.matrix.mirrors import mirror_by_name

    if not is_mirror_url(mirror):
        try:
            mirror_by_name(mirror)
        except InputError as exc:
            raise InputError(
                exc.message,
                evidence=exc.evidence,
                hint="or give the URL of a simple index that serves the locked files: "
                "--mirror https://HOST/simple",
            ) from None
        return
    try:
        check_index_url(mirror, frozenset())
    except PackageIndexError as exc:
        raise InputError(f"--mirror: {exc.message}", evidence=exc.evidence, hint=exc.hint) from None


def _mirror_indexes(mirror: str, variant: str) -> tuple[str | None, str | None]:
    """(general index, index of the torch family) of ``mirror`` for ``variant``.

    A URL is one simple index that serves every locked file; a name is a mirror of the
    catalog (its general index, and its PyTorch index of the variant when that is a simple
    index).
    """
    from torchlock.matrix.mirrors import IndexLayout, mirror_by_name, pytorch_index_for

    if is_mirror_url(mirror):
        check_mirror(mirror)
        return mirror, mirror
    chosen = mirror_by_name(mirror)
    general = chosen.pypi.url if chosen.pypi is not None else None
    torch_mirror = pytorch_index_for(chosen, variant)
    torch_url = (
        torch_mirror.url
        if torch_mirror is not None and torch_mirror.layout is IndexLayout.SIMPLE
        else None
    )
    return general, torch_url


def mirror_urls(lock: Lock, platform: str, mirror: str, *, http: Any = None) -> dict[str, str]:
    """sha256 -> the URL of the same file (by name) on ``mirror``, for each locked file.

    ``mirror`` is a name from the mirror catalog or the URL of a simple index. For a name,
    the torch family comes from the mirror's PyTorch index of the lock's variant (when it
    is a simple index), everything else from its general index; a URL serves every file.
    A file the mirror lacks keeps the lock's URL; the sha256 check after download holds
    either way.
    """
    from torchlock.envs.install import PlannedFile, plan_files
    from torchlock.index.client import IndexClient, Routing

    target = lock.target(platform)
    general, torch_url = _mirror_indexes(mirror, target.variant)
    found: dict[str, str] = {}
    files = plan_files(lock, platform)
    by_index: dict[str, list[PlannedFile]] = {}
    for planned in files:
        package = next(p for p in lock.packages if p.name == planned.project)
        from_torch = package.index == target.torch_index and planned.project in TORCH_FAMILY
        index = torch_url if from_torch else general
        if index is not None:
            by_index.setdefault(index, []).append(planned)
    for index, planned_files in by_index.items():
        client = IndexClient(Routing(default_index=index), http=http)
        try:
            for planned in planned_files:
                try:
                    artifacts = client.artifacts(planned.project)
                except Exception:  # the mirror lacks the project or is down: use the lock's URL
                    continue
                for artifact in artifacts:
                    if artifact.filename == planned.filename:
                        found[planned.sha256] = artifact.url
                        break
        finally:
            client.close()
    return found


def fallback_builds(lock: Lock, platform: Platform, *, detect: Detect) -> list[tuple[Version, str]]:
    """The builds to try after the locked one: older CUDA variants of its torch first, then
    older torch releases (each with its variants, newest first), as the matrix and this
    host's driver admit them and the lock's own torch constraint allows."""
    from torchlock.matrix.model import VariantKind

    current = (lock.selection.torch, lock.selection.variant)
    matrix = load_matrix()
    base = SelectionInputs(
        platform=platform,
        python=lock.python,
        driver=lock.inputs.driver,
        gpu_cc=lock.inputs.gpu_cc,
        torch=lock.inputs.torch,
        variant=None,
        policy=lock.inputs.policy,
    )
    try:
        releases = [c.torch for c in choose_build(base, detect=detect).candidates]
    except NoCandidateError:
        releases = []
    if current[0] not in releases:
        releases.insert(0, current[0])
    builds: list[tuple[Version, str]] = []
    for torch in releases:
        if torch > current[0]:
            continue
        release = next((r for r in matrix.releases if r.torch == torch), None)
        if release is None:
            continue
        variants = sorted(
            (v for v in release.variants.get(platform.key, ()) if v.kind is VariantKind.CUDA),
            key=lambda v: v.sort_key(),
            reverse=True,
        )
        for variant in variants:
            if (torch, variant.name) == current:
                continue
            if torch == current[0] and variant.sort_key() > _variant_key(current[1]):
                continue
            pinned = SelectionInputs(
                platform=platform,
                python=lock.python,
                driver=lock.inputs.driver,
                gpu_cc=lock.inputs.gpu_cc,
                torch=f"=={torch}",
                variant=variant.name,
                policy=lock.inputs.policy,
            )
            try:
                choose_build(pinned, detect=detect)
            except NoCandidateError:
                continue  # the driver cannot run it, or the GPU is not in its architectures
            builds.append((torch, variant.name))
    return builds


def _variant_key(name: str) -> tuple[int, tuple[int, ...], str]:
    from torchlock.matrix.model import Variant

    return Variant.parse(name).sort_key()


def resolve_build(
    lock: Lock,
    platform: Platform,
    torch: Version,
    variant: str,
    *,
    detect: Detect,
    cache_dir: Path | None,
    reason: str,
    http: Any = None,
) -> Lock:
    """The lock again, solved with torch and the variant pinned; its inputs unchanged."""
    from dataclasses import replace

    from packaging.requirements import Requirement

    from torchlock.lockfiles.build import build_lock

    inputs = lock.inputs
    target = lock.target(platform.conda_subdir)
    settings = IndexSettings(
        default_index=inputs.index_url or target.default_index,
        default_index_source="the lock",
        torch_index=TorchIndex(inputs.torch_index),
        pytorch_index_url=inputs.pytorch_index_url,
        mirror=inputs.mirror,
        cache_dir=cache_dir,
    )
    solution = solve(
        SolveInputs(
            selection=SelectionInputs(
                platform=platform,
                python=lock.python,
                driver=inputs.driver,
                gpu_cc=inputs.gpu_cc,
                torch=f"=={torch}",
                variant=variant,
                policy=inputs.policy,
            ),
            platforms=tuple(Platform.parse(p) for p in lock.platforms),
            requirements=tuple(Requirement(str(r)) for r in inputs.requirements),
            indexes=settings,
        ),
        detect=detect,
        http=http,
    )
    new = build_lock(
        inputs=inputs, selection=solution.selection, targets=solution.targets, conda=lock.conda
    )
    selection = replace(new.selection, reasons=(*new.selection.reasons, reason))
    return replace(new, selection=selection)


def create_environment(
    inputs: CreateInputs,
    *,
    seams: Seams,
    host: HostReport,
    detect: Detect,
    reporter: Reporter,
    on_attempt: Callable[[CreateAttempt], None] = lambda _: None,
    on_backend: Callable[[ChosenBackend, Path], None] = lambda _c, _p: None,
    http: Any = None,
) -> CreateResult:
    """Build the environment of the lock; with ``fallback`` walk down the candidates.

    Raises CreateFailed (nothing created, nothing touched) when no build verified.
    """
    from torchlock.envs.backends import Backend, choose_backend
    from torchlock.envs.create import BuildRequest, build_environment
    from torchlock.envs.knowledge import load_knowledge
    from torchlock.lockfiles.files import write_atomic
    from torchlock.lockfiles.pylock import render

    backend = Backend.parse(inputs.backend)
    lock = read_create_lock(inputs.lock_path)
    subdir = inputs.platform.conda_subdir
    lock.target(subdir)  # a lock for another platform: a usage error before any work
    if inputs.mirror is not None:
        check_mirror(inputs.mirror)  # an unknown mirror, too
    chosen = choose_backend(backend, env=seams.env, which=seams.which)
    final = create_target(inputs, chosen, seams=seams)
    if (final.exists() or final.is_symlink()) and not inputs.force:
        raise InputError(
            f"an environment already exists at {final}",
            hint="give --force to replace it (the old one stays until the new one verified)",
        )
    on_backend(chosen, final)
    knowledge = load_knowledge()
    attempts: list[CreateAttempt] = []
    queue: list[tuple[Version, str]] | None = None
    current: Lock | None = lock
    failed: list[str] = []
    while current is not None:
        request = BuildRequest(
            lock=current,
            platform=subdir,
            final=final,
            chosen=chosen,
            cache_dir=inputs.cache_dir,
            host=host,
            replace=inputs.force,
            mirror_urls=None
            if inputs.mirror is None
            else mirror_urls(current, subdir, inputs.mirror, http=http),
            verify_timeout=inputs.verify_timeout,
        )
        built = build_environment(request, seams, reporter)
        torch, variant = current.selection.torch, current.target(subdir).variant
        if built.placed:
            attempt = CreateAttempt(
                torch=torch, variant=variant, abandoned=None, report=built.report
            )
            attempts.append(attempt)
            on_attempt(attempt)
            written = None
            if current is not lock:
                write_atomic(inputs.lock_path, render(current))
                written = inputs.lock_path
            return CreateResult(
                prefix=final,
                backend=chosen.backend.value,
                backend_why=chosen.why,
                python=built.python,
                built=built,
                attempts=tuple(attempts),
                lock=current,
                lock_written=written,
            )
        ids = [d.failure.id for d in built.report.diagnoses]
        fixable = [i for i in ids if (f := knowledge.get(i)) is not None and f.fallback]
        if not inputs.fallback:
            why = "verification failed" + (f": {', '.join(ids)}" if ids else "")
        elif not fixable:
            why = "verification failed" + (f": {', '.join(ids)}" if ids else "")
            why += " (an older build cannot fix this: no fallback)"
        else:
            why = f"verification failed: {', '.join(fixable)} (an older build may fix it)"
        attempt = CreateAttempt(torch=torch, variant=variant, abandoned=why, report=built.report)
        failed.append(f"{torch}+{variant} ({', '.join(fixable or ids)})")
        attempts.append(attempt)
        on_attempt(attempt)
        if not inputs.fallback or not fixable:
            raise CreateFailed(tuple(attempts), final)
        if queue is None:
            queue = fallback_builds(lock, inputs.platform, detect=detect)
        current = None
        while queue and len(attempts) < FALLBACK_LIMIT:
            next_torch, next_variant = queue.pop(0)
            try:
                current = resolve_build(
                    lock,
                    inputs.platform,
                    next_torch,
                    next_variant,
                    detect=detect,
                    cache_dir=inputs.cache_dir,
                    http=http,
                    reason=(
                        "torchlock create --fallback: failed verification on this host: "
                        + "; ".join(failed)
                    ),
                )
                break
            except TorchlockError as exc:
                skipped = CreateAttempt(
                    torch=next_torch,
                    variant=next_variant,
                    abandoned=f"could not solve: {exc.message}",
                )
                attempts.append(skipped)
                on_attempt(skipped)
    raise CreateFailed(tuple(attempts), final)
