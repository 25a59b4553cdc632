"""Export: conda-lock's unified lockfile, ``conda-lock.yml`` format version 1.

The conda packages of the lock (its conda base) as ``manager: conda`` entries with md5
and sha256, and every Python package as a ``manager: pip`` entry per platform: the file
that platform installs, with its sha256.

:class:`CondaLockFile` is the document: :func:`from_lock` builds it from a lock,
:func:`render` writes it (the YAML subset of :mod:`yamlout`) and :func:`parse` reads back
exactly what :func:`render` writes.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from typing import Any, overload

from msgspec import Struct

from torchlock.lockfiles import yamlin, yamlout
from torchlock.lockfiles.model import Lock

CONDA_LOCK_VERSION = 1
DEFAULT_CHANNEL = "conda-forge"
INSTALL = "Install: conda-lock install -n NAME <this file>"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MD5 = re.compile(r"[0-9a-f]{32}")


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
        channels=tuple(Channel(url=c) for c in channels(lock)),
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
    return "\n".join([*header, *yamlout.dump(document(lock))]) + "\n"


# --- parse ------------------------------------------------------------------------------------

_ENTRY_KEYS = ("name", "version", "manager", "platform", "dependencies", "url", "hash")


def parse(text: str, *, source: str) -> CondaLockFile:
    """The ``conda-lock.yml`` export in ``text`` (read from ``source``, named in errors)."""
    comments, tree = yamlin.load(text, source=source)
    exported = yamlin.exported_from(comments, INSTALL, kind="conda-lock.yml", source=source)
    reader = yamlin.Reader(source)
    top = reader.mapping(tree, "", required=("version", "metadata", "package"))
    version = top["version"]
    if version != CONDA_LOCK_VERSION or isinstance(version, bool):
        raise reader.fail(
            "version",
            f"conda-lock format version {version!r} is not supported "
            f"(torchlock writes version {CONDA_LOCK_VERSION})",
        )
    meta = reader.mapping(
        top["metadata"],
        "metadata",
        required=("content_hash", "channels", "platforms", "sources"),
    )
    platforms = reader.strings(meta["platforms"], "metadata.platforms")
    if not platforms:
        raise reader.fail("metadata.platforms", "no platform")
    content = reader.check(meta["content_hash"], dict, "metadata.content_hash")
    if list(content) != list(platforms):
        raise reader.fail(
            "metadata.content_hash",
            f"its platforms {list(content)} are not metadata.platforms {list(platforms)}",
        )
    for subdir, digest in content.items():
        _digest(reader, digest, _SHA256, f"metadata.content_hash.{subdir}", "sha256")
    channels_found = []
    for i, item in enumerate(reader.check(meta["channels"], list, "metadata.channels")):
        where = f"metadata.channels[{i}]"
        channel = reader.mapping(item, where, required=("url", "used_env_vars"))
        channels_found.append(
            Channel(
                url=reader.get(channel, "url", str, where),
                used_env_vars=reader.strings(channel["used_env_vars"], f"{where}.used_env_vars"),
            )
        )
    entries = tuple(
        _locked_entry(reader, item, f"package[{i}]", platforms)
        for i, item in enumerate(reader.check(top["package"], list, "package"))
    )
    lock = CondaLockFile(
        exported_from=exported,
        content_hash=tuple(content.items()),
        channels=tuple(channels_found),
        platforms=platforms,
        sources=reader.strings(meta["sources"], "metadata.sources"),
        packages=entries,
        version=version,
    )
    yamlin.check_canonical(text, render(lock), source=source)
    return lock


def _digest(
    reader: yamlin.Reader, value: Any, pattern: re.Pattern[str], place: str, kind: str
) -> str:
    digest: str = reader.check(value, str, place)
    if pattern.fullmatch(digest) is None:
        size = 64 if kind == "sha256" else 32
        raise reader.fail(place, f"not a {kind} digest ({size} lowercase hex digits): {digest!r}")
    return digest


def _locked_entry(
    reader: yamlin.Reader, value: Any, where: str, platforms: tuple[str, ...]
) -> LockedEntry:
    table = reader.mapping(
        value, where, required=_ENTRY_KEYS, optional=("build", "category", "optional")
    )
    name = reader.get(table, "name", str, where)
    here = f"{where} ({name})"
    manager_text = reader.get(table, "manager", str, here)
    try:
        manager = Manager(manager_text)
    except ValueError:
        raise reader.fail(
            f"{here}.manager", f"expected conda or pip, found {manager_text!r}"
        ) from None
    platform = reader.get(table, "platform", str, here)
    if platform not in platforms:
        raise reader.fail(
            f"{here}.platform", f"{platform!r} is not one of metadata.platforms {list(platforms)}"
        )
    depends = reader.check(table["dependencies"], dict, f"{here}.dependencies")
    for key, spec in depends.items():
        reader.check(spec, str, f"{here}.dependencies.{key}")
    conda = manager is Manager.CONDA
    hashes = reader.mapping(
        table["hash"],
        f"{here}.hash",
        required=("md5", "sha256") if conda else ("sha256",),
    )
    build = None
    if conda or "build" in table:
        if "build" not in table:
            raise reader.fail(f"{here}.build", "missing (a conda entry names its build)")
        build = reader.get(table, "build", str, here)
    return LockedEntry(
        name=name,
        version=reader.get(table, "version", str, here),
        manager=manager,
        platform=platform,
        dependencies=tuple(depends.items()),
        url=reader.get(table, "url", str, here),
        sha256=_digest(reader, hashes["sha256"], _SHA256, f"{here}.hash.sha256", "sha256"),
        md5=_digest(reader, hashes["md5"], _MD5, f"{here}.hash.md5", "md5") if conda else None,
        build=build,
        category=reader.get(table, "category", str, here) if "category" in table else "main",
        optional=reader.get(table, "optional", bool, here) if "optional" in table else False,
    )
