"""The create use case: an environment built from a lock and verified, with fallbacks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct
from packaging.version import Version

from torchlock.errors import InputError, NoCandidateError, TorchlockError
from torchlock.matrix.load import load_matrix
from torchlock.target import Platform
from torchlock.workflows.selection import Detect, SelectionInputs, choose_build
from torchlock.workflows.solving import TORCH_FAMILY, IndexSettings, SolveInputs, TorchIndex, solve

if TYPE_CHECKING:
    from torchlock.envs.backends import ChosenBackend
    from torchlock.envs.create import Built, Reporter, Seams
    from torchlock.envs.report import Report
    from torchlock.lockfiles.model import Lock
    from torchlock.system.model import HostReport

# --- create ------------------------------------------------------------------------------

FALLBACK_LIMIT = 8  # builds `create --fallback` builds at most (each one downloads torch)
# candidates it may find unsolvable on the way (each costs a resolution, from the cache
# mostly, and no download)
UNSOLVABLE_LIMIT = 32


class CreateInputs(Struct, frozen=True, kw_only=True):
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
    # how the indexes are reached, as solve reaches them: a fallback solves again and a
    # --mirror is looked up (pip's trusted hosts and cert, the netrc credentials)
    trusted_hosts: tuple[str, ...] = ()
    netrc_path: Path | None = None
    ca_file: Path | None = None
    # projects whose locked sdist builds against the environment's torch, besides the
    # lock's own list (a lock another tool wrote has none); canonical names
    build_with_torch: tuple[str, ...] = ()


class CreateAttempt(Struct, frozen=True, kw_only=True):
    """One build tried: the torch build, and why it was abandoned (None: it passed)."""

    torch: Version
    variant: str
    abandoned: str | None
    report: Report | None = None  # the verification's, when it got that far


class CreateResult(Struct, frozen=True, kw_only=True):
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


def _is_environment(path: Path) -> bool:
    """A venv (pyvenv.cfg) or a conda environment (conda-meta/), as create makes them."""
    return path.is_dir() and ((path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir())


def read_create_lock(path: Path, platform: Platform) -> Lock:
    """The lock to build from: torchlock's own, or a PEP 751 lock another tool wrote (uv,
    pip), read for ``platform`` and the Python torchlock runs on."""
    from torchlock.lockfiles import pylock
    from torchlock.lockfiles.files import read_text

    if not path.is_file():
        raise InputError(
            f"no lock at {str(path)!r}",
            hint="give --lock FILE, or write one with `torchlock solve -o pylock.toml`",
        )
    text = read_text(path)
    data = _toml_or_none(text)
    if data is not None and "lock-version" in data:
        from torchlock.lockfiles import foreign

        if foreign.is_foreign(data):
            from packaging.markers import default_environment

            python = f"{sys.version_info.major}.{sys.version_info.minor}"
            environment = {str(k): str(v) for k, v in default_environment().items()}
            return foreign.from_pylock(
                data, str(path), platform=platform, python=python, environment=environment
            )
    return pylock.parse(text, str(path))


def _toml_or_none(text: str) -> dict[str, Any] | None:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        data = tomlkit.parse(text).unwrap()
    except ParseError:
        return None  # pylock.parse says what is wrong, with the line
    return data if isinstance(data, dict) else None


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


def mirror_urls(
    lock: Lock, platform: str, inputs: CreateInputs, *, http: Any = None
) -> dict[str, str]:
    """sha256 -> the URL of the same file (by name) on ``mirror``, for each locked file.

    ``inputs.mirror`` is a name from the mirror catalog or the URL of a simple index. For a name,
    the torch family comes from the mirror's PyTorch index of the lock's variant (when it
    is a simple index), everything else from its general index; a URL serves every file.
    A file the mirror lacks keeps the lock's URL; the sha256 check after download holds
    either way.
    """
    from torchlock.envs.install import PlannedFile, plan_files
    from torchlock.index.client import IndexClient, Routing

    assert inputs.mirror is not None
    target = lock.target(platform)
    general, torch_url = _mirror_indexes(inputs.mirror, target.variant)
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
        client = IndexClient(
            Routing(default_index=index),
            http=http,
            trusted_hosts=inputs.trusted_hosts,
            netrc_path=inputs.netrc_path,
            ca_file=inputs.ca_file,
        )
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
    inputs: CreateInputs,
    reason: str,
    http: Any = None,
) -> Lock:
    """The lock again, solved with torch and the variant pinned; its inputs unchanged."""
    from msgspec.structs import replace
    from packaging.requirements import Requirement

    from torchlock.lockfiles.build import build_lock

    locked = lock.inputs
    target = lock.target(platform.conda_subdir)
    settings = IndexSettings(
        default_index=locked.index_url or target.default_index,
        default_index_source="the lock",
        extra_index_urls=locked.extra_index_urls,
        torch_index=TorchIndex(locked.torch_index),
        pytorch_index_url=locked.pytorch_index_url,
        mirror=locked.mirror,
        cache_dir=inputs.cache_dir,
        trusted_hosts=inputs.trusted_hosts,
        netrc_path=inputs.netrc_path,
        ca_file=inputs.ca_file,
    )
    solution = solve(
        SolveInputs(
            selection=SelectionInputs(
                platform=platform,
                python=lock.python,
                driver=locked.driver,
                gpu_cc=locked.gpu_cc,
                torch=f"=={torch}",
                variant=variant,
                policy=locked.policy,
            ),
            platforms=tuple(Platform.parse(p) for p in lock.platforms),
            requirements=tuple(Requirement(str(r)) for r in locked.requirements),
            family=locked.family,
            indexes=settings,
        ),
        detect=detect,
        http=http,
    )
    new = build_lock(
        inputs=locked, selection=solution.selection, targets=solution.targets, conda=lock.conda
    )
    selection = replace(new.selection, reasons=(*new.selection.reasons, reason))
    return replace(new, selection=selection)


def _sweep_leftovers(cache_dir: Path, places: Path) -> None:
    """Remove what killed runs left: partial downloads and cache writes (once a day), build
    folders in the temporary folder, half-built environments beside the one to build."""
    import tempfile

    from torchlock.envs.leftovers import sweep_cache, sweep_places, sweep_temp

    sweep_cache(cache_dir)
    sweep_temp(Path(tempfile.gettempdir()))
    sweep_places(places)


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
    lock = read_create_lock(inputs.lock_path, inputs.platform)
    subdir = inputs.platform.conda_subdir
    if inputs.fallback and lock.target(subdir).default_index == "":
        raise InputError(
            f"--fallback needs a lock torchlock wrote: {inputs.lock_path} was written by "
            "another tool",
            hint="solve it with torchlock (torchlock solve -o pylock.toml), or leave out "
            "--fallback",
        )
    lock.target(subdir)  # a lock for another platform: a usage error before any work
    if inputs.mirror is not None:
        check_mirror(inputs.mirror)  # an unknown mirror, too
    chosen = choose_backend(backend, env=seams.env, which=seams.which)
    final = create_target(inputs, chosen, seams=seams)
    _sweep_leftovers(inputs.cache_dir, final.parent)  # a killed run's, before looking
    if final.exists() or final.is_symlink():
        if not _is_environment(final):  # --force replaces environments, nothing else
            raise InputError(
                f"{final} exists and is not an environment",
                hint="choose another --prefix or NAME; torchlock replaces only environments",
            )
        if not inputs.force:
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
            else mirror_urls(current, subdir, inputs, http=http),
            verify_timeout=inputs.verify_timeout,
            build_with_torch=frozenset(
                (*current.inputs.build_with_torch, *inputs.build_with_torch)
            ),
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
        built_count = sum(1 for a in attempts if a.report is not None)
        unsolvable = len(attempts) - built_count
        while queue and built_count < FALLBACK_LIMIT and unsolvable < UNSOLVABLE_LIMIT:
            next_torch, next_variant = queue.pop(0)
            try:
                current = resolve_build(
                    lock,
                    inputs.platform,
                    next_torch,
                    next_variant,
                    detect=detect,
                    inputs=inputs,
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
                unsolvable += 1
    raise CreateFailed(tuple(attempts), final)
