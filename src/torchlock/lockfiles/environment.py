"""Export: a conda ``environment.yml`` with the conda base and a pip section.

For one platform the conda base is its locked builds (``name=version=build``); for all of
them, python and pip at their locked versions.

The pip section names each package by the file it installs, ``name @ URL#sha256=HEX``,
with the target's marker when the export covers several (see :func:`pip_line`).

:class:`EnvironmentFile` is the document: :func:`from_lock` builds it from a lock and
:func:`render` writes it (the YAML subset of :mod:`yamlout`); conda and conda-lock read it.
"""

from __future__ import annotations

from typing import Any, overload

from msgspec import Struct

from torchlock.lockfiles import yamlout
from torchlock.lockfiles.condalock import channels
from torchlock.lockfiles.model import Lock
from torchlock.lockfiles.requirements import (
    IndexOptions,
    PinnedRequirement,
    file_pins,
    index_options,
)

CREATE = "Create: conda env create -f <this file>"


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
    return EnvironmentFile(
        exported_from=source,
        name=name,
        channels=tuple(channels(lock)),
        conda=_base(lock, platform),
        index=index_options(lock, platform),
        pip=tuple(
            pin
            for package in (lock.packages if platform is None else lock.packages_for(platform))
            for pin in file_pins(lock, package, platform)
        ),
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
    """One line of the pip section: ``name @ URL#sha256=HEX[ ; marker]``.

    The form both of its readers take: conda hands the lines to pip as a requirements
    file (pip checks a URL's ``#sha256=`` fragment against the bytes it gets), and
    conda-lock parses each line as a PEP 508 requirement, which index options and
    ``--hash`` are not. A file named by URL needs no index option either.
    """
    assert requirement.url is not None
    assert len(requirement.hashes) == 1
    head = f"{requirement.name} @ {requirement.url}#sha256={requirement.hashes[0]}"
    return head if requirement.marker is None else f"{head} ; {requirement.marker}"


def document(env: EnvironmentFile) -> dict[str, Any]:
    """The YAML tree of ``env``."""
    pip = [pip_line(r) for r in env.pip]
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
