"""The metadata of the wheel an sdist builds, from the sdist's own build backend.

What pip and uv do for an sdist whose PKG-INFO does not fix its dependencies (PEP 643):
unpack it, make an isolated build environment, install the backend's requirements into
it (``[build-system] requires``, then ``get_requires_for_build_wheel``), and call the
backend's ``prepare_metadata_for_build_wheel`` hook (PEP 517), which ``build`` falls back
to a whole wheel build for when the backend lacks it. ``build`` (the PyPA front end) reads
``pyproject.toml`` and calls the hooks through ``pyproject_hooks``; what is ours is the
isolated environment (a venv, filled by uv or pip from the solve's default index), the
safe unpacking and the words for a failure.

Running a build backend runs the project's code, as pip and uv do when they meet an sdist.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

from packaging.utils import canonicalize_name

from torchlock.artifacts import Artifact, BuildTorch
from torchlock.errors import SdistBuildError
from torchlock.system.runner import Completed, Runner

log = logging.getLogger(__name__)

# An sdist that unpacks to more than this is refused (the largest real ones, with vendored
# C++ sources, are a few hundred MB).
MAX_UNPACKED_BYTES = 2 << 30
MAX_MEMBERS = 200_000
STEP_TIMEOUT = 900.0

# Output that says the backend wanted torch (or a CUDA toolkit) in its build environment:
# flash-attn, deepspeed, xformers from source and many CUDA extensions import torch in
# setup.py. Matched on the backend's output, as a person reading it would.
_NEEDS_TORCH = ("No module named 'torch'", 'No module named "torch"')
_NEEDS_CUDA = ("CUDA_HOME environment variable is not set", "nvcc: not found", "No CUDA runtime")

# Variables of ours that must not leak into a project's build (they would redirect the
# backend's own pip or Python).
_DROPPED = ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV", "VIRTUAL_ENV", "CONDA_PREFIX")


class _HookFailed(Exception):
    """A hook's process failed; ``output`` is what it printed."""

    def __init__(self, output: str) -> None:
        super().__init__(output[-2000:])
        self.output = output


class IsolatedBuilder:
    """Builds an sdist's wheel metadata (or its wheel) in a fresh build environment.

    ``python`` runs the backend; ``index_url`` (and the ``find_links`` folders) serve the
    build requirements; ``uv``, when given, installs them (else ``python -m pip``);
    ``environ`` is the environment the backend runs in (the CLI passes its own, less what
    would redirect the build). The projects in ``with_torch`` (flash-attn, deepspeed: their
    setup.py imports torch) build against torch: the target's own torch is installed into
    their build environment beside the backend's requirements, what uv's
    ``extra-build-dependencies`` with ``match-runtime`` does.
    """

    def __init__(
        self,
        *,
        runner: Runner,
        python: str,
        index_url: str,
        environ: Mapping[str, str],
        find_links: Sequence[Path] = (),
        uv: str | None = None,
        scratch: Path | None = None,
        with_torch: Iterable[str] = (),
    ) -> None:
        self._runner = runner
        self._python = python
        self._index_url = index_url
        self._find_links = tuple(find_links)
        self._uv = uv
        self._scratch = scratch
        self._environ = {k: v for k, v in environ.items() if k not in _DROPPED}
        self._with_torch = frozenset(canonicalize_name(n) for n in with_torch)
        from torchlock.envs.leftovers import sweep_temp

        # the build folders of killed runs (their process gone)
        sweep_temp(Path(tempfile.gettempdir()) if scratch is None else scratch)

    def _scratch_folder(self) -> tempfile.TemporaryDirectory[str]:
        # the process id in the name: a killed run's folder is removed by a later one
        # (envs/leftovers.py)
        return tempfile.TemporaryDirectory(
            prefix=f"torchlock-build-{os.getpid()}-", dir=self._scratch
        )

    def uses_torch(self, project: str) -> bool:
        """Whether ``project`` builds against the target's torch (see the class doc)."""
        return canonicalize_name(project) in self._with_torch

    def wheel_metadata(
        self, sdist: IO[bytes], artifact: Artifact, *, torch: BuildTorch | None = None
    ) -> str:
        """The METADATA text of the wheel that ``sdist`` (verified bytes) builds.

        ``torch``: the target's torch, installed first for a project in ``with_torch``.
        """
        with self._scratch_folder() as tmp:
            root = Path(tmp)

            def prepare(python: str) -> None:
                if torch is not None and self.uses_torch(artifact.project):
                    self._install_torch(python, torch, artifact)

            info = self._run_backend(
                sdist, artifact, root, prepare, lambda b: Path(b.metadata_path(root / "out"))
            )
            try:
                return (info / "METADATA").read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise SdistBuildError(
                    f"the build backend of {artifact.project} {artifact.version} wrote no METADATA",
                    evidence=[str(exc)],
                ) from None

    def build_wheel(
        self, sdist: IO[bytes], artifact: Artifact, out: Path, *, against: Sequence[Path]
    ) -> Path:
        """Build ``sdist``'s wheel into the folder ``out``; the path of the wheel.

        ``against``: site-packages folders (the environment being created) whose packages
        the build sees after its own requirements, through a ``.pth`` file: a project in
        ``with_torch`` compiles against the very torch the environment holds, and nothing
        is installed into that environment.
        """
        with self._scratch_folder() as tmp:
            root = Path(tmp)

            def prepare(python: str) -> None:
                if against:
                    self._see(python, against, artifact)

            built = self._run_backend(
                sdist, artifact, root, prepare, lambda b: Path(b.build("wheel", root / "out"))
            )
            out.mkdir(parents=True, exist_ok=True)
            target = out / built.name
            shutil.move(str(built), target)
            return target

    def _run_backend(
        self,
        sdist: IO[bytes],
        artifact: Artifact,
        root: Path,
        prepare: Callable[[str], None],
        call: Callable[[Any], Path],
    ) -> Path:
        """Unpack, make the environment, install what the backend asks for, ``call`` it."""
        import build  # the PyPA front end: only a build pays for its import

        what = f"{artifact.project} {artifact.version}"
        source = unpack_sdist(sdist, artifact.filename, root / "src")
        python = self._make_env(root / "env", what)
        try:
            # build re-raises the backend's own warnings (deprecated license classifiers, ...)
            # as Python warnings: they are the project's business, logged, not shown
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                builder = build.ProjectBuilder(
                    source, python_executable=python, runner=self._hook_runner
                )
                self._install(python, builder.build_system_requires, what)
                prepare(python)  # torch before the backend's own hook may import it
                self._install(python, builder.get_requires_for_build("wheel"), what)
                result = call(builder)
            for warning in caught:
                log.info("build backend of %s: %s", what, warning.message)
        except build.BuildBackendException as exc:
            raise self._failure(artifact, exc) from None
        except build.BuildException as exc:
            raise SdistBuildError(
                f"cannot build {what}: its sdist is not a buildable project",
                evidence=[str(exc)],
                hint="pin a version that has wheels",
            ) from None
        return result

    # -- the isolated environment ---------------------------------------------------------

    def _make_env(self, folder: Path, what: str) -> str:
        done = self._runner.run(
            [self._python, "-m", "venv", "--without-pip", str(folder)], timeout=STEP_TIMEOUT
        )
        self._require(done, f"cannot make a build environment for {what}")
        bindir = "Scripts" if sys.platform == "win32" else "bin"
        return str(folder / bindir / ("python.exe" if sys.platform == "win32" else "python"))

    def _install(
        self, python: str, requirements: Iterable[str], what: str, first: str | None = None
    ) -> None:
        """Install ``requirements`` into the build environment of ``python``.

        ``first``: an index asked before the default one (the target's PyTorch index, for
        torch); uv asks an ``--extra-index-url`` first, pip asks both and takes the best.
        """
        wanted = sorted(set(requirements))
        if not wanted:
            return
        if self._uv is not None:
            argv = [self._uv, "pip", "install", "--no-config", "--python", python]
        else:
            argv = [self._python, "-m", "pip", "--python", python, "install", "--isolated"]
            argv += ["--disable-pip-version-check", "--no-input"]
        argv += ["--quiet", "--index-url", self._index_url]
        if first is not None and first != self._index_url:
            argv += ["--extra-index-url", first]
        for folder in self._find_links:
            argv += ["--find-links", str(folder)]
        argv += wanted
        done = self._runner.run(argv, timeout=STEP_TIMEOUT, env=self._environ)
        self._require(done, f"cannot install the build requirements of {what}: {', '.join(wanted)}")

    def _install_torch(self, python: str, torch: BuildTorch, artifact: Artifact) -> None:
        what = f"{artifact.project} {artifact.version} (it builds against {torch.requirement})"
        self._install(python, [torch.requirement], what, first=torch.index)

    def _see(self, python: str, folders: Sequence[Path], artifact: Artifact) -> None:
        """Put ``folders`` on the build environment's path, after its own site-packages."""
        from torchlock.envs.wheel_install import environment_scheme

        site = Path(environment_scheme(self._runner, python)["purelib"])
        lines = "".join(f"{folder}\n" for folder in dict.fromkeys(folders))
        (site / "_torchlock_build_against.pth").write_text(lines, encoding="utf-8")

    def _hook_runner(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        """pyproject_hooks' runner: the hook's process through our Runner."""
        env = {**self._environ, **(extra_environ or {})}
        done = self._runner.run(list(cmd), timeout=STEP_TIMEOUT, cwd=cwd, env=env)
        if not isinstance(done, Completed):
            raise _HookFailed(done.describe())
        if done.returncode != 0:
            raise _HookFailed(done.output)
        log.debug("build hook output: %s", done.output[-2000:])

    def _require(self, done: object, message: str) -> None:
        if isinstance(done, Completed) and done.returncode == 0:
            return
        detail = done.describe() if hasattr(done, "describe") else str(done)
        tail = done.output.strip().splitlines()[-5:] if isinstance(done, Completed) else []
        raise SdistBuildError(message, evidence=[detail, *tail])

    def _failure(self, artifact: Artifact, exc: Exception) -> SdistBuildError:
        cause = getattr(exc, "exception", exc)
        output = cause.output if isinstance(cause, _HookFailed) else str(cause)
        if isinstance(cause, subprocess.CalledProcessError):
            output = str(cause.output or cause)
        tail = [line for line in output.strip().splitlines() if line.strip()][-6:]
        what = f"{artifact.project} {artifact.version}"
        if any(marker in output for marker in _NEEDS_TORCH):
            return SdistBuildError(
                f"{what} needs torch installed to build, and only its sdist fits the target",
                evidence=tail,
                hint=f"build it against the locked torch with --build-with-torch "
                f"{artifact.project}, use an index or --find-links folder with prebuilt "
                f"wheels of {artifact.project} for this torch and CUDA, or pin a version "
                "that has wheels for the target",
            )
        if any(marker in output for marker in _NEEDS_CUDA):
            return SdistBuildError(
                f"{what} needs a CUDA toolkit to build, and only its sdist fits the target",
                evidence=tail,
                hint=f"use an index or --find-links folder with prebuilt wheels of "
                f"{artifact.project}, or install the CUDA toolkit (torchlock system plan cuda)",
            )
        return SdistBuildError(
            f"the build backend of {what} failed",
            evidence=tail or [type(cause).__name__],
            hint="pin a version that has wheels for the target, or report it upstream",
        )


# -- unpacking ----------------------------------------------------------------------------


def unpack_sdist(sdist: IO[bytes], filename: str, dest: Path) -> Path:
    """Unpack ``sdist`` into ``dest`` and return its single top folder.

    Every member must stay inside ``dest``: absolute names, ``..``, links that point out,
    devices and FIFOs are refused, and so is an archive that unpacks to more than
    ``MAX_UNPACKED_BYTES`` or holds more than ``MAX_MEMBERS`` entries.
    """
    dest.mkdir(parents=True)
    try:
        if filename.endswith(".zip"):
            _unpack_zip(sdist, filename, dest)
        else:
            _unpack_tar(sdist, filename, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise SdistBuildError(
            f"cannot unpack sdist {filename}", evidence=[f"not a valid archive: {exc}"]
        ) from None
    tops = list(dest.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise SdistBuildError(
            f"cannot unpack sdist {filename}",
            evidence=["an sdist holds exactly one top folder, NAME-VERSION/"],
        )
    return tops[0]


def _refuse(filename: str, why: str) -> SdistBuildError:
    return SdistBuildError(
        f"refusing to unpack sdist {filename}: {why}",
        hint="the file on the index is broken or hostile; pin another version",
    )


def _checked_name(filename: str, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or "\x00" in name or ":" in path.parts[0]:
        raise _refuse(filename, f"the member {name!r} points outside the archive")


def _unpack_tar(sdist: IO[bytes], filename: str, dest: Path) -> None:
    with tarfile.open(fileobj=sdist, mode="r:*") as archive:
        members = archive.getmembers()
        if len(members) > MAX_MEMBERS:
            raise _refuse(filename, f"more than {MAX_MEMBERS} members")
        total = 0
        for member in members:
            _checked_name(filename, member.name)
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise _refuse(filename, f"{member.name!r} is not a file or folder")
            if member.issym() or member.islnk():
                target = PurePosixPath(member.name).parent / member.linkname
                _checked_name(filename, member.linkname if member.islnk() else str(target))
            total += max(member.size, 0)
        if total > MAX_UNPACKED_BYTES:
            raise _refuse(filename, f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        if hasattr(tarfile, "data_filter"):
            # tarfile's "data" filter (PEP 706) also refuses links out of the folder and
            # special files, and drops set-user-ID bits
            archive.extractall(dest, filter="data")
        else:  # Python 3.10 before 3.10.12: the checks above are all there is
            archive.extractall(dest)


def _unpack_zip(sdist: IO[bytes], filename: str, dest: Path) -> None:
    with zipfile.ZipFile(sdist) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _refuse(filename, f"more than {MAX_MEMBERS} members")
        if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise _refuse(filename, f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        for info in infos:
            _checked_name(filename, info.filename)
        archive.extractall(dest)
