"""Find the interpreter of an environment: by name, by prefix, or as given.

A NAME is looked up where ``torchlock create NAME`` can have put it: the conda-family
envs directories (and the prefixes conda knows), and torchlock's own envs folder of the
venv backend (:func:`~torchlock.envs.backends.venv_home`). Everything that looks at the
host is passed in (the environment variables, a ``Runner`` for ``conda info --json``, a
test for files, the home directory), so tests hand it a folder of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from msgspec import Struct

from torchlock.envs.backends import venv_home
from torchlock.errors import InputError
from torchlock.system.runner import Completed, Runner
from torchlock.target import OS

IsFile = Callable[[str], bool]
CONDA_TIMEOUT = 30.0
# Where conda-family installers put named environments when `conda info` cannot tell.
DEFAULT_ENV_ROOTS = (
    ("miniforge3", "envs"),
    ("mambaforge", "envs"),
    ("miniconda3", "envs"),
    ("anaconda3", "envs"),
    (".conda", "envs"),
    ("micromamba", "envs"),
)


class Located(Struct, frozen=True, kw_only=True):
    python: str
    how: str  # in words: "--python", "--prefix", "conda environment 'test' (…)", "$VIRTUAL_ENV"


def _join(os_kind: OS, *parts: str) -> str:
    sep = "\\" if os_kind is OS.WINDOWS else "/"
    head, *rest = parts
    for part in rest:
        head = head.rstrip("/\\") + sep + part
    return head


def prefix_pythons(prefix: str, os_kind: OS) -> tuple[str, ...]:
    """Where an environment at ``prefix`` keeps its interpreter (conda and venv layouts)."""
    if os_kind is OS.WINDOWS:
        return (
            _join(os_kind, prefix, "python.exe"),
            _join(os_kind, prefix, "Scripts", "python.exe"),
        )
    return (_join(os_kind, prefix, "bin", "python"), _join(os_kind, prefix, "bin", "python3"))


def python_in_prefix(prefix: str, os_kind: OS, is_file: IsFile, how: str) -> Located:
    for candidate in prefix_pythons(prefix, os_kind):
        if is_file(candidate):
            return Located(python=candidate, how=how)
    raise InputError(
        f"no Python interpreter in environment {prefix!r}",
        evidence=[f"looked for {path}" for path in prefix_pythons(prefix, os_kind)],
        hint="give the environment's folder (the one holding bin/ or python.exe), or --python PATH",
    )


def conda_env_dirs(
    *,
    env: Mapping[str, str],
    runner: Runner,
    which: Callable[[str], str | None],
    home: str | None,
    os_kind: OS,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(envs directories, known environment prefixes) from conda, else the usual places."""
    envs_dirs: list[str] = []
    prefixes: list[str] = []
    programs = [env.get("CONDA_EXE"), env.get("MAMBA_EXE"), which("conda"), which("mamba")]
    for program in [p for p in programs if p]:
        result = runner.run([program, "info", "--json"], timeout=CONDA_TIMEOUT)
        if not isinstance(result, Completed) or result.returncode != 0:
            continue
        try:
            info = json.loads(result.stdout)
        except ValueError:
            continue
        if not isinstance(info, dict):
            continue
        envs_dirs.extend(str(d) for d in info.get("envs_dirs") or [] if isinstance(d, str))
        prefixes.extend(str(p) for p in info.get("envs") or [] if isinstance(p, str))
        root = info.get("root_prefix")
        if isinstance(root, str):
            prefixes.append(root)
        break
    if env.get("MAMBA_ROOT_PREFIX"):
        envs_dirs.append(_join(os_kind, env["MAMBA_ROOT_PREFIX"], "envs"))
    if home:
        envs_dirs.extend(_join(os_kind, home, *parts) for parts in DEFAULT_ENV_ROOTS)
    return tuple(dict.fromkeys(envs_dirs)), tuple(dict.fromkeys(prefixes))


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def torchlock_envs_dir(env: Mapping[str, str], home: str | None, os_kind: OS) -> str | None:
    """Where ``torchlock create NAME --backend venv`` puts NAME (None: no home to go by)."""
    if not env.get("TORCHLOCK_ENVS_DIR") and home is None:
        return None
    return _join(os_kind, *venv_home(env=env, home=home or "", os_kind=os_kind).parts)


def _by_name(
    name: str,
    *,
    env: Mapping[str, str],
    runner: Runner,
    which: Callable[[str], str | None],
    is_file: IsFile,
    is_dir: IsFile,
    home: str | None,
    os_kind: OS,
) -> Located:
    """Environment NAME: a conda-family one, or one that ``torchlock create`` made (venv).

    Both kinds are looked for; a name found as two different environments is an error
    that names both (give --prefix for the one meant).
    """
    envs_dirs, prefixes = conda_env_dirs(
        env=env, runner=runner, which=which, home=home, os_kind=os_kind
    )
    candidates = [
        p for p in prefixes if _basename(p) == name or (name == "base" and p == prefixes[-1])
    ]
    candidates.extend(_join(os_kind, d, name) for d in envs_dirs)
    found: list[tuple[str, str]] = []  # (prefix, how), the first conda one, then torchlock's
    conda = next((c for c in dict.fromkeys(candidates) if is_dir(c)), None)
    if conda is not None:
        found.append((conda, f"conda environment {name!r} at {conda}"))
    own = torchlock_envs_dir(env, home, os_kind)
    if own is not None:
        mine = _join(os_kind, own, name)
        if is_dir(mine) and not (conda is not None and _same(mine, conda)):
            found.append((mine, f"torchlock environment {name!r} at {mine}"))
    if len(found) > 1:
        raise InputError(
            f"environment name {name!r} is ambiguous: there are {len(found)} of that name",
            evidence=[how for _, how in found],
            hint="give --prefix DIR for the one to verify",
        )
    if found:
        prefix, how = found[0]
        return python_in_prefix(prefix, os_kind, is_file, how)
    looked = [f"looked in {d}" for d in envs_dirs] or ["no conda installation found"]
    if own is not None:
        looked.append(f"looked in {own} (torchlock create --backend venv)")
    raise InputError(
        f"no environment named {name!r}",
        evidence=looked,
        hint="check `conda env list` and the names `torchlock create` made, "
        "or give --prefix DIR or --python PATH",
    )


def _same(a: str, b: str) -> bool:
    return a.replace("\\", "/").rstrip("/") == b.replace("\\", "/").rstrip("/")


def locate(
    *,
    name: str | None,
    prefix: str | None,
    python: str | None,
    env: Mapping[str, str],
    runner: Runner,
    which: Callable[[str], str | None],
    is_file: IsFile,
    is_dir: IsFile,
    home: str | None,
    os_kind: OS,
) -> Located:
    """The interpreter to probe: --python, --prefix, an environment NAME, else the active one.

    NAME is a conda-family environment or one that ``torchlock create NAME`` made with
    the venv backend (torchlock's own envs folder).

    Without any of them: $VIRTUAL_ENV, then $CONDA_PREFIX, then python3/python on PATH.
    """
    given = [x for x in (name, prefix, python) if x]
    if len(given) > 1:
        raise InputError("give one of NAME, --prefix and --python, not several")
    if python:
        if is_file(python):
            return Located(python=python, how="--python")
        found = which(python)  # a bare name such as python3.10, looked up on PATH
        if found is None:
            raise InputError(
                f"no Python interpreter at {python!r}",
                hint="give the path of the environment's python",
            )
        return Located(python=found, how="--python")
    if prefix:
        if not is_dir(prefix):
            raise InputError(f"no environment folder at {prefix!r}")
        return python_in_prefix(prefix, os_kind, is_file, "--prefix")
    if name:
        if "/" in name or "\\" in name:
            return python_in_prefix(name, os_kind, is_file, f"environment folder {name}")
        return _by_name(
            name,
            env=env,
            runner=runner,
            which=which,
            is_file=is_file,
            is_dir=is_dir,
            home=home,
            os_kind=os_kind,
        )
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = env.get(var)
        if value and is_dir(value):
            return python_in_prefix(value, os_kind, is_file, f"${var}")
    for program in ("python3", "python"):
        found = which(program)
        if found:
            return Located(python=found, how=f"{program} on PATH")
    raise InputError(
        "no environment to verify",
        hint="give a conda environment NAME, --prefix DIR or --python PATH",
    )
