"""Export: a conda ``environment.yml`` with the conda base and a pip section.

For one platform the conda base is its locked builds (``name=version=build``); for all of
them, python and pip at their locked versions.

The pip section holds the index options and one pinned line per package, with its marker
and a ``--hash`` per file (conda hands the lines to pip as a requirements file).
"""

from __future__ import annotations

from typing import Any

from torchlock.lockfiles import yamlout
from torchlock.lockfiles.condalock import channels
from torchlock.lockfiles.model import Lock
from torchlock.lockfiles.requirements import index_options


def document(lock: Lock, *, name: str, platform: str | None = None) -> dict[str, Any]:
    packages = lock.packages if platform is None else lock.packages_for(platform)
    pip: list[str] = list(index_options(lock, platform))
    for package in packages:
        line = f"{package.name}=={package.version}"
        if platform is None and package.marker is not None:
            line += f" ; {package.marker}"
        line += "".join(f" --hash=sha256:{h}" for h in sorted({f.sha256 for f in package.files}))
        pip.append(line)
    return {
        "name": name,
        "channels": channels(lock),
        "dependencies": [*_base(lock, platform), {"pip": pip}],
    }


def _base(lock: Lock, platform: str | None) -> list[str]:
    """The conda base: exact builds for one platform; for every platform, python and pip
    at their locked versions when all targets agree (builds differ per platform)."""
    if platform is not None and lock.conda_for(platform):
        return [f"{c.name}={c.version}={c.build}" for c in lock.conda_for(platform)]
    base = []
    for name, fallback in (("python", f"python={lock.python}"), ("pip", "pip")):
        versions = {c.version for c in lock.conda if c.name == name}
        everywhere = {c.platform for c in lock.conda if c.name == name} == set(lock.platforms)
        base.append(f"{name}={versions.pop()}" if len(versions) == 1 and everywhere else fallback)
    return base


def render(lock: Lock, *, source: str, name: str, platform: str | None = None) -> str:
    header = [
        f"# Exported by torchlock from {source}; do not edit by hand.",
        "# Create: conda env create -f <this file>",
    ]
    body = yamlout.dump(document(lock, name=name, platform=platform))
    return "\n".join([*header, *body]) + "\n"
