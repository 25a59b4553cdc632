"""Export: a conda ``environment.yml`` with the conda base and a pip section.

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
    conda = sorted(
        {f"{c.name}={c.version}={c.build}" for c in lock.conda if platform in (None, c.platform)}
    )
    base = conda or [f"python={lock.python}", "pip"]
    return {
        "name": name,
        "channels": channels(lock),
        "dependencies": [*base, {"pip": pip}],
    }


def render(lock: Lock, *, source: str, name: str, platform: str | None = None) -> str:
    header = [
        f"# Exported by torchlock from {source}; do not edit by hand.",
        "# Create: conda env create -f <this file>",
    ]
    body = yamlout.dump(document(lock, name=name, platform=platform))
    return "\n".join([*header, *body]) + "\n"
