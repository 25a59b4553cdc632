"""Export: conda-lock's unified lockfile, ``conda-lock.yml`` format version 1.

The conda packages of the lock (its conda base) as ``manager: conda`` entries with md5
and sha256, and every Python package as a ``manager: pip`` entry per platform: the file
that platform installs, with its sha256.

:class:`CondaLockFile` is the document: :func:`from_lock` builds it from a lock and
:func:`render` writes it (the YAML subset of :mod:`yamlout`); conda-lock reads it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Any, overload

from msgspec import Struct

from torchlock.lockfiles import yamlout
from torchlock.lockfiles.model import Lock

CONDA_LOCK_VERSION = 1
DEFAULT_CHANNEL = "conda-forge"
INSTALL = "Install: conda-lock install -n NAME <this file>"


class Manager(enum.Enum):
    CONDA = "conda"
    PIP = "pip"


class Channel(Struct, frozen=True, kw_only=True):
    url: str  # a name (conda-forge) or a URL
    used_env_vars: tuple[str, ...] = ()


class LockedEntry(Struct, frozen=True, kw_only=True):
    """One ``package`` entry: a conda build or a pip file, for one platform."""

    name: str
    version: str
    manager: Manager
    platform: str
    dependencies: tuple[tuple[str, str], ...]  # (name, match spec or "*"), in file order
    url: str
    sha256: str
    md5: str | None = None  # conda entries only
    build: str | None = None  # conda entries only
    category: str = "main"
    optional: bool = False


class CondaLockFile(Struct, frozen=True, kw_only=True):
    """A ``conda-lock.yml`` (version 1) export."""

    exported_from: str  # the lock's file name (the header names it)
    content_hash: tuple[tuple[str, str], ...]  # (platform, sha256 hex), in platform order
    channels: tuple[Channel, ...]
    platforms: tuple[str, ...]
    sources: tuple[str, ...]
    packages: tuple[LockedEntry, ...]
    version: int = CONDA_LOCK_VERSION


# --- from a lock ------------------------------------------------------------------------------


def channels(lock: Lock) -> list[str]:
    return list(lock.inputs.conda_channels) or [DEFAULT_CHANNEL]


def dependencies(depends: tuple[str, ...]) -> dict[str, str]:
    """conda-lock's form of match specs: ``{"python": ">=3.8", "pip": "*"}``."""
    found: dict[str, str] = {}
    for spec in depends:
        name, _, rest = spec.strip().partition(" ")
        found[name] = rest.strip() or "*"
    return found


def from_lock(lock: Lock, *, source: str, platform: str | None = None) -> CondaLockFile:
    platforms = list(lock.platforms) if platform is None else [lock.target(platform).platform]
    entries: list[LockedEntry] = []
    hashes: list[tuple[str, str]] = []
    for subdir in platforms:
        installed = lock.packages_for(subdir)
        names = {p.name for p in installed}
        rows: list[list[Any]] = []
        for conda in lock.conda_for(subdir):
            entries.append(
                LockedEntry(
                    name=conda.name,
                    version=conda.version,
                    manager=Manager.CONDA,
                    platform=subdir,
                    dependencies=tuple(dependencies(conda.depends).items()),
                    url=conda.url,
                    md5=conda.md5,
                    sha256=conda.sha256,
                    build=conda.build,
                )
            )
            rows.append(["conda", conda.name, conda.version, conda.sha256])
        for package in installed:
            files = package.files_for(subdir, lock.python)
            if not files:
                continue
            chosen = files[0]
            entries.append(
                LockedEntry(
                    name=package.name,
                    version=str(package.version),
                    manager=Manager.PIP,
                    platform=subdir,
                    dependencies=tuple((d, "*") for d in package.dependencies if d in names),
                    url=chosen.url,
                    sha256=chosen.sha256,
                )
            )
            rows.append(["pip", package.name, str(package.version), chosen.sha256])
        text = json.dumps([lock.inputs.digest, rows], separators=(",", ":"))
        hashes.append((subdir, hashlib.sha256(text.encode("utf-8")).hexdigest()))
    entries.sort(key=lambda e: (e.manager is not Manager.CONDA, e.name, e.platform))
    return CondaLockFile(
        exported_from=source,
        content_hash=tuple(hashes),
        # a lock without a conda base used no channel: none is named
        channels=tuple(Channel(url=c) for c in channels(lock)) if lock.conda else (),
        platforms=tuple(platforms),
        sources=(source,),
        packages=tuple(entries),
    )


# --- render -----------------------------------------------------------------------------------


def _entry(entry: LockedEntry) -> dict[str, Any]:
    hashes = {} if entry.md5 is None else {"md5": entry.md5}
    found: dict[str, Any] = {
        "name": entry.name,
        "version": entry.version,
        "manager": entry.manager.value,
        "platform": entry.platform,
        "dependencies": dict(entry.dependencies),
        "url": entry.url,
        "hash": {**hashes, "sha256": entry.sha256},
    }
    if entry.build is not None:
        found["build"] = entry.build
    found["category"] = entry.category
    found["optional"] = entry.optional
    return found


def document(lock: CondaLockFile) -> dict[str, Any]:
    """The YAML tree of ``lock``."""
    return {
        "version": lock.version,
        "metadata": {
            "content_hash": dict(lock.content_hash),
            "channels": [
                {"url": c.url, "used_env_vars": list(c.used_env_vars)} for c in lock.channels
            ],
            "platforms": list(lock.platforms),
            "sources": list(lock.sources),
        },
        "package": [_entry(e) for e in lock.packages],
    }


@overload
def render(lock: CondaLockFile) -> str: ...
@overload
def render(lock: Lock, *, source: str, platform: str | None = None) -> str: ...
def render(
    lock: CondaLockFile | Lock, *, source: str | None = None, platform: str | None = None
) -> str:
    """The text of ``lock``; given a torchlock lock, of its export (``from_lock``)."""
    if isinstance(lock, Lock):
        if source is None:
            raise TypeError("render(lock) needs source=")
        lock = from_lock(lock, source=source, platform=platform)
    header = yamlout.header(lock.exported_from, INSTALL)
    if not any(entry.manager is Manager.CONDA for entry in lock.packages):
        header.append(
            "# No conda base (the lock was solved with --no-conda): the environment needs a "
            "Python of its own."
        )
    return "\n".join([*header, *yamlout.dump(document(lock))]) + "\n"
