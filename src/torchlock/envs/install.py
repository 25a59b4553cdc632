"""The pip part of an environment: exactly the locked files, checked against their sha256.

Pure planning (:func:`plan_files`: which file of each locked package this host installs),
the download cache (content-addressed by sha256, so a second ``create`` downloads
nothing), the requirements file with ``--hash`` lines, and the installer's command line:
``uv pip install --require-hashes --no-deps --no-index`` when uv is present, else the
environment's own ``pip install --require-hashes --no-deps --no-index``. The installer
never resolves anything: every locked file is already in the cache. Only when the lock
installs an sdist (no wheel of that package fits) does the installer reach the package's
index, for the sdist's build requirements alone, which it builds as pip and uv do.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import unquote, urlsplit

from msgspec import Struct
from packaging.version import Version

from torchlock.artifacts import is_safe_filename
from torchlock.envs.locked import LockLike
from torchlock.errors import DownloadInterrupted, InputError, PackageIndexError, TorchlockError

CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
INSTALL_TIMEOUT = 3600.0


class BuildError(TorchlockError):
    """The environment could not be built (a download, the installer, the base tool)."""

    exit_code = 1


class PlannedFile(Struct, frozen=True, kw_only=True):
    """One file the environment installs: the locked wheel for this host, else the sdist."""

    project: str
    version: Version
    filename: str
    url: str
    sha256: str
    size: int | None = None
    index: str | None = None  # the index the package is locked from

    @property
    def is_sdist(self) -> bool:
        """The installer builds this file (no wheel of the package fits the host)."""
        return not self.filename.endswith(".whl")


def plan_files(lock: LockLike, platform: str) -> tuple[PlannedFile, ...]:
    """The file of each package that target ``platform`` installs, sorted by project.

    The best wheel for the target, else the package's sdist (which the installer builds).
    Raises InputError when the lock has no such target, or a package has no file for it.
    """
    lock.target(platform)
    planned = []
    for package in lock.packages_for(platform):
        files = list(package.files_for(platform, lock.python))
        if not files:
            raise InputError(
                f"the lock has no wheel or sdist of {package.name} {package.version} for "
                f"{platform} and Python {lock.python}",
                evidence=[f"its files: {', '.join(f.name for f in package.files) or 'none'}"],
                hint="solve again for this platform",
            )
        best = files[0]
        planned.append(
            PlannedFile(
                project=str(package.name),
                version=package.version,
                filename=best.name,
                url=best.url,
                sha256=best.sha256.lower(),
                size=best.size,
                index=package.index,
            )
        )
    return tuple(sorted(planned, key=lambda p: p.project))


# --- the download cache ------------------------------------------------------------------

Progress = Callable[[int], None]  # bytes added since the last call
Sink = Callable[[bytes], None]


def _nothing() -> None:
    pass


class Fetcher(Protocol):
    """Hands the body at ``url`` to ``sink`` chunk by chunk; raises on any failure.

    With ``start`` > 0 it asks for the bytes from there on (an HTTP Range request); when
    the server sends the whole file instead, it calls ``restart`` before the first byte
    reaches ``sink``, so that the caller starts over.
    """

    def fetch(
        self, url: str, sink: Sink, *, start: int = 0, restart: Callable[[], None] = _nothing
    ) -> None: ...


def cached_file(cache_dir: Path, sha256: str, filename: str) -> Path:
    """Where the file with ``sha256`` lives in the download cache.

    The path is built from the hash and a name checked to be one plain file name (the lock
    reader checks it too; this is the last line before a path is made from it).
    """
    if not is_safe_filename(filename) or not _SHA256.fullmatch(sha256):
        raise InputError(
            f"refusing the locked file name {filename!r}",
            evidence=[f"sha256: {sha256!r}"],
            hint="a file name in a lock is one plain name, and its hash 64 hex digits",
        )
    return cache_dir / "files" / sha256[:2] / sha256 / filename


def _copy_local(url: str, sink: Sink) -> None:
    text = unquote(urlsplit(url).path)
    if os.name == "nt" and text[:1] == "/" and text[2:3] == ":":
        text = text[1:]  # file:///C:/x → C:/x
    path = Path(text)
    if not path.is_file():  # a FIFO or a device (a lock names it) would hang or never end
        raise InputError(f"the lock's file {path} is not a regular file")
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            sink(chunk)


ATTEMPTS = 3  # per source: a dropped download is resumed from where it stopped


def ensure_cached(
    file: PlannedFile,
    *,
    cache_dir: Path,
    fetcher: Fetcher,
    url: str | None = None,
    progress: Progress = lambda _: None,
) -> tuple[Path, bool]:
    """(the cached path, whether it was downloaded now) of ``file``, its sha256 checked.

    A file already in the cache is trusted only if its name sits under its own sha256
    (it got there only after the check). ``url`` (a mirror's copy) is tried first, then
    the lock's URL. A download that drops is resumed from where it stopped (an HTTP Range
    request; a server that ignores it sends the whole file again), up to ``ATTEMPTS``
    times per source; the sha256 is computed as the bytes arrive.
    """
    target = cached_file(cache_dir, file.sha256, file.filename)
    if target.is_file():
        return target, False
    sources = list(dict.fromkeys(u for u in (url, file.url) if u))
    target.parent.mkdir(parents=True, exist_ok=True)
    from torchlock.envs.leftovers import sweep_partials

    sweep_partials(target.parent)  # of this file, by runs that were killed
    # the process id in the name: a run that is killed leaves it, and the next one
    # removes it once that process is gone (envs/leftovers.py)
    handle, partial = tempfile.mkstemp(prefix=f".part-{os.getpid()}-", dir=target.parent)
    failures: list[TorchlockError] = []
    try:
        with os.fdopen(handle, "r+b") as out:
            for source in sources:
                if _fetch_into(out, file, source, fetcher, progress, failures):
                    break
                out.seek(0)
                out.truncate()
            else:
                if len(failures) == 1 or not isinstance(failures[-1], PackageIndexError):
                    raise failures[-1]  # its own words, class and exit code (a certificate)
                raise BuildError(
                    f"{file.filename}: cannot download it",
                    evidence=[str(f).splitlines()[0] for f in failures[-4:]],
                    hint="check the network (and HTTPS_PROXY), or use another --mirror",
                )
        os.replace(partial, target)
    except OSError as exc:
        raise BuildError(f"{file.filename}: cannot download or store it: {exc}") from exc
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target, True


def _fetch_into(
    out: IO[bytes],
    file: PlannedFile,
    source: str,
    fetcher: Fetcher,
    progress: Progress,
    failures: list[TorchlockError],
) -> bool:
    """Whether ``source`` gave the file's bytes, whole and matching its sha256, into ``out``.

    BuildError when the bytes do not match (the lock or the source is wrong: trying again
    would not mend it). A failure to fetch is recorded in ``failures`` and is False; only
    an interrupted transfer is tried again (from where it stopped), an HTTP error or an
    untrusted certificate goes to the next source at once.
    """
    digest = hashlib.sha256()
    written = 0

    def sink(data: bytes) -> None:
        nonlocal written
        digest.update(data)
        out.write(data)
        written += len(data)
        progress(len(data))

    def restart() -> None:  # the whole file is coming (again): from its first byte
        nonlocal digest, written
        out.seek(0)
        out.truncate()
        digest, written = hashlib.sha256(), 0

    for _attempt in range(ATTEMPTS):
        try:
            if urlsplit(source).scheme == "file":
                restart()
                _copy_local(source, sink)
            else:
                fetcher.fetch(source, sink, start=written, restart=restart)
            break
        except DownloadInterrupted as exc:
            failures.append(exc)
            out.flush()  # the next attempt goes on from ``written``
        except TorchlockError as exc:
            failures.append(exc)
            return False
    else:
        return False
    got = digest.hexdigest()
    if got != file.sha256:
        raise BuildError(
            f"{file.filename}: sha256 does not match the lock",
            evidence=[f"the lock: {file.sha256}", f"got:      {got}", f"from {source}"],
            hint="the file on the index changed since the lock was written, or the "
            "download was tampered with; solve again, or use another --mirror",
        )
    return True


# --- the installer ------------------------------------------------------------------------


def requirements_text(files: Sequence[tuple[PlannedFile, Path]]) -> str:
    """A requirements file naming each cached file by path, with its ``--hash``."""
    lines = [
        f"{planned.project} @ {path.resolve().as_uri()} --hash=sha256:{planned.sha256}"
        for planned, path in files
    ]
    return "\n".join(lines) + "\n"


def build_index(files: Sequence[PlannedFile]) -> str | None:
    """The index the installer may ask for build requirements: None when nothing is built.

    The index of the first sdist's package (sorted by project); an sdist's build backend
    (setuptools, hatchling, ...) comes from where the sdist itself was locked from.
    """
    for planned in files:
        if planned.is_sdist and planned.index:
            return planned.index
    return None


def installer_argv(
    *, python: str, requirements: Path, uv: str | None, build_index: str | None = None
) -> list[str]:
    """Install the requirements file into the environment of ``python``, nothing else.

    ``build_index``: where build requirements of locked sdists come from; None keeps the
    installer off every index (``--no-index``). Either way ``--no-deps`` keeps it from
    resolving: the index serves a build environment only, never a package of the lock.

    Bytecode is compiled at install (uv's ``--compile-bytecode``, pip's default), so that
    neither the verification's ``import torch`` nor the user's first run pays for it.
    """
    source = ["--no-index"] if build_index is None else ["--index-url", build_index]
    if uv is not None:
        return [
            uv,
            "pip",
            "install",
            "--no-config",
            "--python",
            python,
            "--require-hashes",
            "--no-deps",
            *source,
            "--compile-bytecode",
            "--quiet",
            "-r",
            str(requirements),
        ]
    return [
        python,
        "-m",
        "pip",
        "install",
        "--isolated",  # no pip.conf, no PIP_* variables: no constraints or indexes of the host
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--no-deps",
        *source,
        "--quiet",
        "-r",
        str(requirements),
    ]


def built_wheels_argv(*, python: str, wheels: Sequence[Path], uv: str | None) -> list[str]:
    """Install wheels torchlock built from locked sdists (whose sha256 was checked before
    the build) into the environment of ``python``: no index, no dependencies (the lock
    installed them), bytecode compiled as for the rest."""
    paths = [str(w) for w in wheels]
    if uv is not None:
        argv = [uv, "pip", "install", "--no-config", "--python", python, "--compile-bytecode"]
    else:
        argv = [python, "-m", "pip", "install", "--isolated", "--disable-pip-version-check"]
        argv.append("--no-input")
    return [*argv, "--no-deps", "--no-index", "--quiet", *paths]


def remove_tree(path: Path) -> None:
    """Delete ``path`` (a staging folder) entirely; missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)
