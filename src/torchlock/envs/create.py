"""Build one environment from a lock, verify it, and keep it only if it verified.

:func:`build_environment` runs the phases (base, download, install, verify) at the final
place itself, so that every path the tools write into the environment is its real one
(:mod:`torchlock.envs.place`). An existing environment there is never touched unless
``replace`` is set, and then it is only set aside: on every way out but a verified build
(a failed check, an error, Ctrl-C) what was built is removed and the old one put back.

Everything outside is passed in: the :class:`Runner` (venv, conda, uv, pip, the probe),
a :class:`~torchlock.envs.install.Fetcher` for downloads, ``which``, the clock, and a
:class:`Reporter` that the CLI turns into phase lines and progress bars.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from msgspec import Struct

from torchlock.envs.backends import (
    Backend,
    ChosenBackend,
    conda_create_argv,
    conda_for,
    env_python,
    explicit_list,
    venv_argv,
)
from torchlock.envs.install import (
    INSTALL_TIMEOUT,
    BuildError,
    Fetcher,
    PlannedFile,
    build_index,
    built_wheels_argv,
    ensure_cached,
    installer_argv,
    plan_files,
    requirements_text,
)
from torchlock.envs.locked import LockLike
from torchlock.envs.parallel import in_parallel
from torchlock.envs.place import Placement
from torchlock.envs.pythons import find_python
from torchlock.envs.report import PACKAGES, Expectations, Report
from torchlock.envs.verify import verify_environment
from torchlock.matrix.model import Variant
from torchlock.system.model import HostReport
from torchlock.system.runner import Completed, Runner
from torchlock.target import OS

DOWNLOADS_AT_ONCE = 4


class Reporter(Protocol):
    """Where progress goes: one line per finished phase, and a bar for long steps."""

    def phase(self, name: str, seconds: float, detail: str) -> None: ...
    def bar_start(self, what: str, total: int | None) -> None: ...
    def bar_advance(self, amount: int) -> None: ...
    def bar_stop(self) -> None: ...


class SilentReporter:
    def phase(self, name: str, seconds: float, detail: str) -> None:
        pass

    def bar_start(self, what: str, total: int | None) -> None:
        pass

    def bar_advance(self, amount: int) -> None:
        pass

    def bar_stop(self) -> None:
        pass


class Seams(Struct, frozen=True, kw_only=True):
    runner: Runner
    fetcher: Fetcher
    env: Mapping[str, str]
    which: Callable[[str], str | None]
    list_dir: Callable[[str], Sequence[str]]
    home: str
    os_kind: OS
    clock: Callable[[], float]


class BuildRequest(Struct, frozen=True, kw_only=True):
    lock: LockLike
    platform: str  # conda subdir of this host
    final: Path
    chosen: ChosenBackend
    cache_dir: Path
    host: HostReport
    replace: bool = False
    mirror_urls: Mapping[str, str] | None = None  # sha256 -> the mirror's URL of that file
    verify_timeout: float = 300.0
    # projects whose sdist builds against the environment's own torch (the lock's list and
    # the command's); canonical names
    build_with_torch: frozenset[str] = frozenset()


class Built(Struct, frozen=True, kw_only=True):
    final: Path
    placed: bool  # False: verification failed and nothing was moved
    python: Path  # the interpreter at its final place (or where it was while staged)
    python_source: str  # how the base interpreter was found, in words
    report: Report
    files: tuple[PlannedFile, ...]
    downloaded: int  # files downloaded now (the rest came from the cache)


def lock_expectations(lock: LockLike, platform: str, source: str) -> Expectations:
    """What the lock installs on ``platform``: torch family versions, variant, Python."""
    target = lock.target(platform)
    versions = {str(p.name): p.version for p in lock.packages_for(platform) if p.name in PACKAGES}
    # a lock another tool wrote may leave the variant unknown: then torch's own label says
    variant = None if target.variant == "unknown" else Variant.parse(target.variant)
    return Expectations(versions=versions, variant=variant, python=lock.python, source=source)


def _run(runner: Runner, argv: Sequence[str], what: str, timeout: float) -> None:
    result = runner.run(argv, timeout=timeout)
    if isinstance(result, Completed) and result.returncode == 0:
        return
    output = result.output if isinstance(result, Completed) else ""
    tail = [line for line in output.strip().splitlines() if line.strip()][-15:]
    raise BuildError(f"{what} failed: {result.describe()}", evidence=tail)


class _Timer:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.start = clock()

    def lap(self) -> float:
        now = self.clock()
        spent, self.start = now - self.start, now
        return spent


def _base(
    request: BuildRequest,
    seams: Seams,
    prefix: Path,
    uv: str | None,
    timer: _Timer,
    reporter: Reporter,
    seeds: list[tuple[PlannedFile, Path]],
) -> tuple[Path, str]:
    """Create the environment's base (Python, and pip); its python.

    Users pip install into the environment they were given, so every one has pip: the
    conda base's, the lock's own when it pins one, else the one Python bundles. Files the
    base needs installed with the locked ones (that bundled pip, for uv) go to ``seeds``.
    """
    lock, chosen = request.lock, request.chosen
    if chosen.backend is Backend.VENV:
        found = find_python(
            lock.python,
            env=seams.env,
            runner=seams.runner,
            which=seams.which,
            list_dir=seams.list_dir,
            home=seams.home,
            os_kind=seams.os_kind,
        )
        locked_pip = any(p.name == "pip" for p in lock.packages_for(request.platform))
        # the bundled pip wheel is installed with the locked files (~0.1 s), by uv or by
        # installer, not by venv's ensurepip (~3 s)
        _run(
            seams.runner,
            venv_argv(found.path, prefix, prompt=request.final.name, with_pip=False),
            "python -m venv",
            INSTALL_TIMEOUT,
        )
        python = env_python(prefix, seams.os_kind, conda_layout=False)
        if not locked_pip:
            self_seeded = _bundled_pip(seams.runner, python)
            if self_seeded is None:  # a Python without ensurepip's wheels: its own way
                _run(seams.runner, [str(python), "-m", "ensurepip"], "ensurepip", INSTALL_TIMEOUT)
            else:
                seeds.append(self_seeded)
        reporter.phase("base", timer.lap(), f"venv with Python {lock.python} ({found.how})")
        return python, found.how
    if chosen.backend is Backend.RATTLER:
        from torchlock.envs.conda_rattler import install_conda_base

        names = install_conda_base(
            packages=lock.conda,
            python=lock.python,
            channels=lock.inputs.conda_channels,
            staging=prefix,
            final=prefix,
            platform=request.platform,
            cache_dir=request.cache_dir / "conda",
        )
        reporter.phase("base", timer.lap(), f"{len(names)} conda packages by py-rattler")
        return env_python(prefix, seams.os_kind, conda_layout=True), "py-rattler"
    explicit = None
    mine = conda_for(lock.conda, request.platform)  # this host's target only
    if mine:
        explicit = prefix.parent / f".{prefix.name}.torchlock-explicit.txt"
        explicit.write_text(explicit_list(mine), encoding="utf-8")
    try:
        argv = conda_create_argv(
            chosen,
            prefix=prefix,
            python=lock.python,
            channels=lock.inputs.conda_channels,
            explicit=explicit,
        )
        _run(seams.runner, argv, f"{chosen.backend.value} create", INSTALL_TIMEOUT)
    finally:
        if explicit is not None:
            explicit.unlink(missing_ok=True)
    what = f"{len(mine)} locked conda packages" if mine else f"python={lock.python} pip"
    reporter.phase("base", timer.lap(), f"{chosen.backend.value} create: {what}")
    return env_python(prefix, seams.os_kind, conda_layout=True), chosen.backend.value


_FIND_BUNDLED = (
    "import ensurepip, glob, os; "
    "print('\\n'.join(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "
    "'_bundled', 'pip-*-py3-none-any.whl'))))"
)


def _bundled_pip(runner: Runner, python: Path) -> tuple[PlannedFile, Path] | None:
    """The pip wheel the environment's Python bundles (ensurepip's), with its sha256."""
    import hashlib

    from packaging.utils import parse_wheel_filename

    done = runner.run([str(python), "-c", _FIND_BUNDLED], timeout=60.0)
    if not isinstance(done, Completed) or done.returncode != 0:
        return None
    found = [Path(line) for line in done.stdout.splitlines() if line.strip()]
    if len(found) != 1 or not found[0].is_file():
        return None
    wheel = found[0]
    _, version, _, _ = parse_wheel_filename(wheel.name)
    planned = PlannedFile(
        project="pip",
        version=version,
        filename=wheel.name,
        url=wheel.as_uri(),
        sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
    )
    return planned, wheel


def _download(
    request: BuildRequest, seams: Seams, files: Sequence[PlannedFile], reporter: Reporter
) -> tuple[list[tuple[PlannedFile, Path]], int]:
    missing = [
        f
        for f in files
        if not (request.cache_dir / "files" / f.sha256[:2] / f.sha256 / f.filename).is_file()
    ]
    total = sum(f.size or 0 for f in missing) if all(f.size for f in missing) else None
    if missing:
        reporter.bar_start(f"downloading {len(missing)} files", total)
    lock = threading.Lock()

    def advance(amount: int) -> None:  # the bar is shared by the download threads
        with lock:
            reporter.bar_advance(amount)

    def one(planned: PlannedFile) -> tuple[Path, bool]:
        return ensure_cached(
            planned,
            cache_dir=request.cache_dir,
            fetcher=seams.fetcher,
            url=(request.mirror_urls or {}).get(planned.sha256),
            progress=advance,
        )

    try:
        # several files at once: a CUDA closure is a dozen wheels of 100 MB to 2 GB, and one
        # connection rarely fills a link; a failure is raised once the others have ended
        try:
            results = in_parallel(files, one, DOWNLOADS_AT_ONCE)
        except BaseException as exc:
            if not isinstance(exc, Exception):  # Ctrl-C: the reads in flight end now
                abort = getattr(seams.fetcher, "abort", None)
                if abort is not None:
                    abort()
            raise
    finally:
        if missing:
            reporter.bar_stop()
    cached = [(planned, path) for planned, (path, _) in zip(files, results, strict=True)]
    return cached, sum(fresh for _, fresh in results)


def build_environment(request: BuildRequest, seams: Seams, reporter: Reporter) -> Built:
    """Build, install and verify at the final place; keep the result only if it verified."""
    lock = request.lock
    files = plan_files(lock, request.platform)
    final = request.final
    placement = Placement(final, replace=request.replace)
    placement.begin()
    uv = seams.which("uv")
    timer = _Timer(seams.clock)
    placed = False
    try:
        seeds: list[tuple[PlannedFile, Path]] = []
        python, how = _base(request, seams, final, uv, timer, reporter, seeds)
        cached, downloaded = _download(request, seams, files, reporter)
        cached = [*cached, *seeds]
        size = sum(p.stat().st_size for _, p in cached)
        reporter.phase(
            "download",
            timer.lap(),
            f"{len(cached)} files, {size / 1e6:.1f} MB ({downloaded} downloaded, "
            f"{len(cached) - downloaded} from the cache)",
        )
        later = [(f, p) for f, p in cached if f.is_sdist and f.project in request.build_with_torch]
        now = [item for item in cached if item not in later]
        if uv is None:  # the wheels by installer, in parallel; pip builds the sdists
            from torchlock.envs.wheel_install import install_wheels

            install_wheels(
                [path for planned, path in now if not planned.is_sdist],
                python=str(python),
                runner=seams.runner,
            )
            rest = [item for item in now if item[0].is_sdist]
            how = "installer" + (" and pip" if rest else "")
        else:
            rest, how = now, "uv"
        if rest:
            _install_with(rest, python, uv, seams, final)
        reporter.phase("install", timer.lap(), f"{len(now)} packages with {how}")
        if later:
            _build_against_torch(later, python, uv, seams)
            names = ", ".join(f.project for f, _ in later)
            reporter.phase("build", timer.lap(), f"{names} against the environment's torch")
        report = verify_environment(
            str(python),
            runner=seams.runner,
            host=request.host,
            expect=lock_expectations(lock, request.platform, "the lock"),
            timeout=request.verify_timeout,
        )
        failed = sum(1 for c in report.checks if c.status.value == "fail")
        reporter.phase(
            "verify",
            timer.lap(),
            "ok" if report.ok else f"FAILED ({failed} check{'s' * (failed != 1)})",
        )
        if not report.ok:
            return Built(
                final=final,
                placed=False,
                python=python,
                python_source=how,
                report=report,
                files=files,
                downloaded=downloaded,
            )
        placement.keep()
        placed = True
        reporter.phase("place", timer.lap(), str(final))
        return Built(
            final=final,
            placed=True,
            python=python,
            python_source=how,
            report=report,
            files=files,
            downloaded=downloaded,
        )
    finally:
        if not placed:
            placement.roll_back()


def _install_with(
    files: Sequence[tuple[PlannedFile, Path]],
    python: Path,
    uv: str | None,
    seams: Seams,
    final: Path,
) -> None:
    """Install ``files`` (checked, cached) with uv, else the environment's pip."""
    requirements = final.parent / f".{final.name}.torchlock-requirements.txt"
    requirements.write_text(requirements_text(files), encoding="utf-8")
    try:
        _run(
            seams.runner,
            installer_argv(
                python=str(python),
                requirements=requirements,
                uv=uv,
                build_index=build_index([f for f, _ in files]),
            ),
            "uv pip install" if uv else "pip install",
            INSTALL_TIMEOUT,
        )
    finally:
        requirements.unlink(missing_ok=True)


def _build_against_torch(
    sdists: Sequence[tuple[PlannedFile, Path]], python: Path, uv: str | None, seams: Seams
) -> None:
    """Build each sdist (already checked against its sha256) against the environment's own
    packages, torch among them, and install the wheels it gives.

    The build environment is fresh (the backend's requirements from the sdist's index, as
    an isolated build has them) and sees the environment's site-packages after its own, so
    nothing but the built wheel is added to the environment.
    """
    import tempfile

    from packaging.utils import canonicalize_name

    from torchlock.artifacts import Artifact, ArtifactKind
    from torchlock.envs.sdist_build import IsolatedBuilder
    from torchlock.envs.wheel_install import environment_scheme

    scheme = environment_scheme(seams.runner, str(python))
    against = [Path(p) for p in dict.fromkeys((scheme["purelib"], scheme["platlib"]))]
    with tempfile.TemporaryDirectory(prefix=f"torchlock-wheels-{os.getpid()}-") as out:
        wheels = []
        for planned, path in sdists:
            if not planned.index:
                raise BuildError(
                    f"cannot build {planned.project} {planned.version} against torch: the "
                    "lock does not name the index its build requirements come from",
                    hint="solve the lock again with torchlock",
                )
            builder = IsolatedBuilder(
                runner=seams.runner,
                python=str(python),
                index_url=planned.index,
                environ=seams.env,
                uv=uv,
                with_torch=[planned.project],
            )
            artifact = Artifact(
                project=canonicalize_name(planned.project),
                version=planned.version,
                filename=planned.filename,
                url=planned.url,
                index=planned.index or "",
                kind=ArtifactKind.SDIST,
            )
            with path.open("rb") as handle:
                wheels.append(builder.build_wheel(handle, artifact, Path(out), against=against))
        _run(
            seams.runner,
            built_wheels_argv(python=str(python), wheels=wheels, uv=uv),
            "uv pip install" if uv else "pip install",
            INSTALL_TIMEOUT,
        )


def list_dir(path: str) -> list[str]:
    """The names in a folder, or none when it cannot be read (the real ``list_dir`` seam)."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
