"""Find an interpreter of a given Python version (X.Y) on this machine, for a new venv.

Where it looks, in order: ``pythonX.Y`` on PATH (on Windows the ``py -X.Y`` launcher),
pyenv's versions (``$PYENV_ROOT`` or ``~/.pyenv``), uv's managed Pythons (``uv python
find X.Y``), then ``python3``/``python`` on PATH. Every candidate is asked for its own
version through the :class:`~torchlock.system.runner.Runner` before it is chosen, so a
stale pyenv shim or a PATH entry of another version is passed over, and the search says
what it looked at when nothing fits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from msgspec import Struct
from packaging.version import InvalidVersion, Version

from torchlock.errors import InputError
from torchlock.system.runner import Completed, Runner
from torchlock.target import OS

ASK_TIMEOUT = 30.0
_ASK = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"

ListDir = Callable[[str], Sequence[str]]


class FoundPython(Struct, frozen=True, kw_only=True):
    path: str  # the interpreter's own sys.executable
    how: str  # in words: "python3.11 on PATH", "pyenv 3.11.7", "py -3.11", "uv python find 3.11"


class _Lead(Struct, frozen=True, kw_only=True):
    argv: tuple[str, ...]  # how to start it (a path, or the py launcher with its flag)
    how: str


def _sep(os_kind: OS) -> str:
    return "\\" if os_kind is OS.WINDOWS else "/"


def _pyenv_leads(
    version: str, env: Mapping[str, str], home: str | None, list_dir: ListDir, os_kind: OS
) -> list[_Lead]:
    root = env.get("PYENV_ROOT") or (f"{home}{_sep(os_kind)}.pyenv" if home else None)
    if not root:
        return []
    versions_dir = f"{root.rstrip('/')}{_sep(os_kind)}versions"
    found: list[tuple[Version, str]] = []
    for name in list_dir(versions_dir):
        if name != version and not name.startswith(version + "."):
            continue
        try:
            found.append((Version(name), name))
        except InvalidVersion:
            continue  # 3.11-dev, a virtualenv named after a version, ...
    leads = []
    for _, name in sorted(found, reverse=True):
        if os_kind is OS.WINDOWS:
            path = f"{versions_dir}\\{name}\\python.exe"
        else:
            path = f"{versions_dir}/{name}/bin/python{version}"
        leads.append(_Lead(argv=(path,), how=f"pyenv {name}"))
    return leads


def _ask(runner: Runner, lead: _Lead) -> tuple[str, str] | None:
    """(X.Y, sys.executable) of a candidate, or None when it does not answer."""
    result = runner.run([*lead.argv, "-c", _ASK], timeout=ASK_TIMEOUT)
    if not isinstance(result, Completed) or result.returncode != 0:
        return None
    lines = result.stdout.strip().splitlines()
    if len(lines) < 2:
        return None
    return lines[0].strip(), lines[1].strip() or lead.argv[0]


def _uv_found(runner: Runner, uv: str, version: str) -> str | None:
    result = runner.run([uv, "python", "find", "--no-config", version], timeout=ASK_TIMEOUT)
    if not isinstance(result, Completed) or result.returncode != 0:
        return None
    lines = result.stdout.strip().splitlines()
    return lines[-1].strip() if lines else None


def find_python(
    version: str,
    *,
    env: Mapping[str, str],
    runner: Runner,
    which: Callable[[str], str | None],
    list_dir: ListDir,
    home: str | None,
    os_kind: OS,
) -> FoundPython:
    """An interpreter of Python ``version`` (X.Y), or InputError naming where it looked."""
    looked: list[str] = []
    seen: set[tuple[str, ...]] = set()

    def leads() -> list[_Lead]:
        found: list[_Lead] = []
        exact = which(f"python{version}")
        if exact:
            found.append(_Lead(argv=(exact,), how=f"python{version} on PATH"))
        else:
            looked.append(f"python{version}: not on PATH")
        if os_kind is OS.WINDOWS:
            launcher = which("py")
            if launcher:
                found.append(_Lead(argv=(launcher, f"-{version}"), how=f"py -{version}"))
        pyenv = _pyenv_leads(version, env, home, list_dir, os_kind)
        if not pyenv:
            looked.append(f"pyenv: no {version}.* under its versions folder")
        found.extend(pyenv)
        return found

    def check(lead: _Lead) -> FoundPython | None:
        if lead.argv in seen:
            return None
        seen.add(lead.argv)
        answer = _ask(runner, lead)
        if answer is None:
            looked.append(f"{lead.how}: {' '.join(lead.argv)} did not run")
            return None
        if answer[0] != version:
            looked.append(f"{lead.how}: {' '.join(lead.argv)} is Python {answer[0]}")
            return None
        return FoundPython(path=answer[1], how=lead.how)

    for lead in leads():
        chosen = check(lead)
        if chosen is not None:
            return chosen
    uv = which("uv")
    if uv:
        managed = _uv_found(runner, uv, version)
        if managed:
            chosen = check(_Lead(argv=(managed,), how=f"uv python find {version}"))
            if chosen is not None:
                return chosen
        else:
            looked.append(f"uv: no managed or system Python {version}")
    for program in ("python3", "python"):
        path = which(program)
        if path:
            chosen = check(_Lead(argv=(path,), how=f"{program} on PATH"))
            if chosen is not None:
                return chosen
    raise InputError(
        f"no Python {version} interpreter on this machine (the lock is for Python {version})",
        evidence=looked,
        hint=f"install one (uv python install {version}, pyenv install {version}), "
        "or use a conda backend (--backend conda|mamba|micromamba|rattler)",
    )
