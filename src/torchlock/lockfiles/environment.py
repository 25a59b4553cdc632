"""Export: a conda ``environment.yml`` with the conda base and a pip section.

For one platform the conda base is its locked builds (``name=version=build``); for all of
them, python and pip at their locked versions.

The pip section holds the index options and one pinned line per package, with its marker
and a ``--hash`` per file (conda hands the lines to pip as a requirements file).

:class:`EnvironmentFile` is the document: :func:`from_lock` builds it from a lock,
:func:`render` writes it (the YAML subset of :mod:`yamlout`) and :func:`parse` reads back
exactly what :func:`render` writes.
"""

from __future__ import annotations

import re
from typing import Any, overload

from msgspec import Struct

from torchlock.lockfiles import yamlin, yamlout
from torchlock.lockfiles.condalock import channels
from torchlock.lockfiles.model import Lock
from torchlock.lockfiles.requirements import (
    Fail,
    IndexOptions,
    PinnedRequirement,
    index_from_options,
    index_options,
    parse_index_line,
    parse_requirement,
)

CREATE = "Create: conda env create -f <this file>"
_CONDA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_CONDA_PART = re.compile(r"[^\s=]+")


class CondaSpec(Struct, frozen=True, kw_only=True):
    """A conda dependency as written: ``name``, ``name=version`` or ``name=version=build``."""

    name: str
    version: str | None = None
    build: str | None = None  # only with a version

    def __str__(self) -> str:
        parts = [self.name, self.version, self.build]
        return "=".join(p for p in parts if p is not None)


class EnvironmentFile(Struct, frozen=True, kw_only=True):
    """An ``environment.yml`` export: the environment, its conda base and its pip section."""

    exported_from: str  # the lock's file name
    name: str
    channels: tuple[str, ...]
    conda: tuple[CondaSpec, ...]
    index: IndexOptions
    pip: tuple[PinnedRequirement, ...]


# --- from a lock ------------------------------------------------------------------------------


def from_lock(
    lock: Lock, *, source: str, name: str, platform: str | None = None
) -> EnvironmentFile:
    packages = lock.packages if platform is None else lock.packages_for(platform)
    return EnvironmentFile(
        exported_from=source,
        name=name,
        channels=tuple(channels(lock)),
        conda=_base(lock, platform),
        index=index_options(lock, platform),
        pip=tuple(PinnedRequirement.from_package(p, marker=platform is None) for p in packages),
    )


def _base(lock: Lock, platform: str | None) -> tuple[CondaSpec, ...]:
    """The conda base: exact builds for one platform; for every platform, python and pip
    at their locked versions when all targets agree (builds differ per platform)."""
    if platform is not None and lock.conda_for(platform):
        return tuple(
            CondaSpec(name=c.name, version=c.version, build=c.build)
            for c in lock.conda_for(platform)
        )
    base = []
    for name, fallback in (("python", lock.python), ("pip", None)):
        versions = {c.version for c in lock.conda if c.name == name}
        everywhere = {c.platform for c in lock.conda if c.name == name} == set(lock.platforms)
        version = versions.pop() if len(versions) == 1 and everywhere else fallback
        base.append(CondaSpec(name=name, version=version))
    return tuple(base)


# --- render -----------------------------------------------------------------------------------


def pip_line(requirement: PinnedRequirement) -> str:
    """One line of the pip section: the pin and its hashes (conda passes no continuations)."""
    return " ".join([requirement.head, *requirement.hash_options])


def document(env: EnvironmentFile) -> dict[str, Any]:
    """The YAML tree of ``env``."""
    pip = [*env.index.lines(), *(pip_line(r) for r in env.pip)]
    return {
        "name": env.name,
        "channels": list(env.channels),
        "dependencies": [*(str(c) for c in env.conda), {"pip": pip}],
    }


@overload
def render(env: EnvironmentFile) -> str: ...
@overload
def render(env: Lock, *, source: str, name: str, platform: str | None = None) -> str: ...
def render(
    env: EnvironmentFile | Lock,
    *,
    source: str | None = None,
    name: str | None = None,
    platform: str | None = None,
) -> str:
    """The text of ``env``; given a lock, of its export (``from_lock``) from ``source``."""
    if isinstance(env, Lock):
        if source is None or name is None:
            raise TypeError("render(lock) needs source= and name=")
        env = from_lock(env, source=source, name=name, platform=platform)
    header = yamlout.header(env.exported_from, CREATE)
    return "\n".join([*header, *yamlout.dump(document(env))]) + "\n"


# --- parse ------------------------------------------------------------------------------------


def parse(text: str, *, source: str) -> EnvironmentFile:
    """The ``environment.yml`` export in ``text`` (read from ``source``, named in errors)."""
    comments, tree = yamlin.load(text, source=source)
    exported = yamlin.exported_from(comments, CREATE, kind="environment.yml", source=source)
    reader = yamlin.Reader(source)
    top = reader.mapping(tree, "", required=("name", "channels", "dependencies"))
    name = reader.get(top, "name", str, "")
    dependencies = reader.get(top, "dependencies", list, "")
    if not dependencies or not isinstance(dependencies[-1], dict):
        raise reader.fail("dependencies", "the last dependency is not the pip section")
    where = f"dependencies[{len(dependencies) - 1}]"
    section = reader.mapping(dependencies[-1], where, required=("pip",))
    lines = reader.strings(section["pip"], f"{where}.pip")
    conda = tuple(
        _conda_spec(reader, reader.check(spec, str, f"dependencies[{i}]"), f"dependencies[{i}]")
        for i, spec in enumerate(dependencies[:-1])
    )
    options: dict[str, list[str]] = {}
    at = 0
    while at < len(lines) and lines[at].startswith("--"):
        if not parse_index_line(lines[at], options):
            raise reader.fail(f"{where}.pip[{at}]", f"unsupported pip option {lines[at]!r}")
        at += 1
    index = index_from_options(options, _at(reader, f"{where}.pip"))
    pip = []
    for i in range(at, len(lines)):
        head, _, rest = lines[i].partition(" --hash=")
        hashes = [f"--hash={h}" for h in rest.split(" --hash=")] if rest else []
        pip.append(parse_requirement(head, hashes, _at(reader, f"{where}.pip[{i}]")))
    env = EnvironmentFile(
        exported_from=exported,
        name=name,
        channels=reader.strings(top["channels"], "channels"),
        conda=conda,
        index=index,
        pip=tuple(pip),
    )
    yamlin.check_canonical(text, render(env), source=source)
    return env


def _at(reader: yamlin.Reader, place: str) -> Fail:
    return lambda problem: reader.fail(place, problem)


def _conda_spec(reader: yamlin.Reader, spec: str, place: str) -> CondaSpec:
    name, *rest = spec.split("=")
    if _CONDA_NAME.fullmatch(name) is None or len(rest) > 2:
        raise reader.fail(
            place, f"expected 'name', 'name=version' or 'name=version=build': {spec!r}"
        )
    if any(_CONDA_PART.fullmatch(part) is None for part in rest):
        raise reader.fail(place, f"empty or malformed version or build in {spec!r}")
    return CondaSpec(
        name=name,
        version=rest[0] if rest else None,
        build=rest[1] if len(rest) > 1 else None,
    )
