"""Which tool builds the environment's base (Python and pip), and where environments go.

* ``venv``: the standard library's ``python -m venv`` with an interpreter of the locked
  Python version found on this machine (:mod:`torchlock.envs.pythons`); named
  environments live in torchlock's own folder (:func:`venv_home`).
* ``conda``, ``mamba``, ``micromamba``: the user's tool creates the base
  (``create -y -p PREFIX python=X.Y pip``, or the locked conda packages as an explicit
  list); named environments land in the tool's envs directory, so ``conda activate NAME``
  finds them.
* ``rattler``: py-rattler solves and installs the conda base with no conda program
  (:mod:`torchlock.envs.conda_rattler`); named environments land in conda's envs
  directory when conda is installed, else in torchlock's folder.

``auto`` picks conda-family when one is installed, else venv.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from msgspec import Struct

from torchlock.envs.install import BuildError
from torchlock.envs.locked import CondaLike
from torchlock.errors import InputError
from torchlock.system.runner import Completed, Runner
from torchlock.target import OS

CONDA_TIMEOUT = 60.0
CREATE_TIMEOUT = 1800.0


class Backend(enum.Enum):
    AUTO = "auto"
    CONDA = "conda"
    MAMBA = "mamba"
    MICROMAMBA = "micromamba"
    RATTLER = "rattler"
    VENV = "venv"

    @classmethod
    def parse(cls, text: str) -> Backend:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InputError(
                f"unknown backend {text!r}",
                hint="choose one of " + ", ".join(b.value for b in cls),
            ) from None

    @property
    def conda_family(self) -> bool:
        return self in (Backend.CONDA, Backend.MAMBA, Backend.MICROMAMBA)


class ChosenBackend(Struct, frozen=True, kw_only=True):
    backend: Backend
    program: str | None  # the conda/mamba/micromamba executable; None for venv and rattler
    why: str


CONDA_FAMILY = (Backend.CONDA, Backend.MAMBA, Backend.MICROMAMBA)
_ENV_VARS = {Backend.CONDA: "CONDA_EXE", Backend.MAMBA: None, Backend.MICROMAMBA: "MAMBA_EXE"}


def _program(
    backend: Backend, env: Mapping[str, str], which: Callable[[str], str | None]
) -> str | None:
    found = which(backend.value)
    if found:
        return found
    var = _ENV_VARS.get(backend)
    value = env.get(var) if var else None
    if value and Path(value).name.lower().startswith(backend.value):
        return which(value)
    return None


def choose_backend(
    requested: Backend, *, env: Mapping[str, str], which: Callable[[str], str | None]
) -> ChosenBackend:
    """The backend to use and why; InputError when the one asked for is not installed."""
    if requested is Backend.VENV:
        return ChosenBackend(backend=requested, program=None, why="--backend venv")
    if requested is Backend.RATTLER:
        return ChosenBackend(
            backend=requested, program=None, why="--backend rattler (no conda program needed)"
        )
    if requested.conda_family:
        program = _program(requested, env, which)
        if program is None:
            raise InputError(
                f"--backend {requested.value}: {requested.value} is not installed (not on PATH)",
                hint="install it, or use --backend rattler (no conda program) or venv",
            )
        return ChosenBackend(backend=requested, program=program, why=f"--backend {requested.value}")
    for backend in CONDA_FAMILY:
        program = _program(backend, env, which)
        if program is not None:
            return ChosenBackend(
                backend=backend, program=program, why=f"auto: {backend.value} found at {program}"
            )
    return ChosenBackend(
        backend=Backend.VENV, program=None, why="auto: no conda, mamba or micromamba found"
    )


def venv_home(*, env: Mapping[str, str], home: str, os_kind: OS) -> Path:
    """Where ``torchlock create NAME --backend venv`` puts NAME.

    Linux and others: ``$XDG_DATA_HOME/torchlock/envs`` (``~/.local/share/torchlock/envs``);
    macOS: ``~/Library/Application Support/torchlock/envs``; Windows:
    ``%LOCALAPPDATA%\\torchlock\\envs``. ``$TORCHLOCK_ENVS_DIR`` overrides all of them.
    """
    explicit = env.get("TORCHLOCK_ENVS_DIR")
    if explicit:
        return Path(explicit)
    if os_kind is OS.WINDOWS:
        base = env.get("LOCALAPPDATA") or str(Path(home) / "AppData" / "Local")
        return Path(base) / "torchlock" / "envs"
    if os_kind is OS.MACOS:
        return Path(home) / "Library" / "Application Support" / "torchlock" / "envs"
    base = env.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(base) / "torchlock" / "envs"


def conda_envs_dir(program: str, runner: Runner) -> Path:
    """The first envs directory of a conda-family tool (where ``create -n`` would go)."""
    result = runner.run([program, "info", "--json"], timeout=CONDA_TIMEOUT)
    if not isinstance(result, Completed) or result.returncode != 0:
        what = result.describe()
        raise BuildError(f"cannot ask {program} for its envs directory: {what}")
    try:
        info = json.loads(result.stdout)
    except ValueError:
        raise BuildError(f"{program} info --json did not print JSON") from None
    dirs = info.get("envs_dirs") or info.get("envs directories") if isinstance(info, dict) else None
    if isinstance(dirs, list) and dirs and isinstance(dirs[0], str):
        return Path(dirs[0])
    root = info.get("root_prefix") or info.get("base environment")
    if isinstance(root, str) and root:
        return Path(root) / "envs"
    raise BuildError(f"{program} info --json names no envs directory")


def check_name(name: str) -> str:
    """An environment NAME: a plain folder name (use --prefix for a path)."""
    if not name or name in (".", "..") or any(c in name for c in "/\\:") or name.startswith("."):
        raise InputError(
            f"environment name {name!r} is not a plain name",
            hint="give a name such as 'test' (letters, digits, -_.), or --prefix DIR for a path",
        )
    return name


def conda_for(packages: Sequence[CondaLike], platform: str) -> list[CondaLike]:
    """The locked conda packages of one target (a lock lists every target's base)."""
    return [p for p in packages if p.platform == platform]


def explicit_list(packages: Sequence[CondaLike]) -> str:
    """conda's ``@EXPLICIT`` file for the locked conda packages (URL#md5 lines)."""
    lines = ["@EXPLICIT", *(f"{p.url}#{p.md5}" for p in packages)]
    return "\n".join(lines) + "\n"


def conda_create_argv(
    chosen: ChosenBackend,
    *,
    prefix: Path,
    python: str,
    channels: Sequence[str],
    explicit: Path | None,
) -> list[str]:
    """The command that creates the conda base at ``prefix``."""
    assert chosen.program is not None
    argv = [chosen.program, "create", "-y", "-p", str(prefix)]
    if explicit is not None:
        return [*argv, "--file", str(explicit)]
    if channels:
        argv.append("--override-channels")
        for channel in channels:
            argv += ["-c", channel]
    return [*argv, f"python={python}", "pip"]


def venv_argv(python: str, prefix: Path, *, prompt: str, with_pip: bool) -> list[str]:
    """The standard library's venv; ``with_pip`` seeds it with the pip Python bundles.

    ``prompt`` is the name shown when it is activated (the folder's own name).
    """
    pip = [] if with_pip else ["--without-pip"]
    return [python, "-m", "venv", *pip, "--prompt", prompt, str(prefix)]


def env_python(prefix: Path, os_kind: OS, *, conda_layout: bool) -> Path:
    if os_kind is OS.WINDOWS:
        return prefix / "python.exe" if conda_layout else prefix / "Scripts" / "python.exe"
    return prefix / "bin" / "python"
