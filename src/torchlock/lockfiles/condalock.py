"""Export: conda-lock's unified lockfile, ``conda-lock.yml`` format version 1.

The conda packages of the lock (its conda base) as ``manager: conda`` entries with md5
and sha256, and every Python package as a ``manager: pip`` entry per platform: the file
that platform installs, with its sha256.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from torchlock.lockfiles import yamlout
from torchlock.lockfiles.model import Lock

CONDA_LOCK_VERSION = 1
DEFAULT_CHANNEL = "conda-forge"


def channels(lock: Lock) -> list[str]:
    return list(lock.inputs.conda_channels) or [DEFAULT_CHANNEL]


def dependencies(depends: tuple[str, ...]) -> dict[str, str]:
    """conda-lock's form of match specs: ``{"python": ">=3.8", "pip": "*"}``."""
    found: dict[str, str] = {}
    for spec in depends:
        name, _, rest = spec.strip().partition(" ")
        found[name] = rest.strip() or "*"
    return found


def document(lock: Lock, *, source: str, platform: str | None = None) -> dict[str, Any]:
    platforms = list(lock.platforms) if platform is None else [lock.target(platform).platform]
    entries: list[tuple[tuple[str, str, str], dict[str, Any]]] = []
    hashes: dict[str, str] = {}
    for subdir in platforms:
        installed = lock.packages_for(subdir)
        names = {p.name for p in installed}
        rows: list[list[Any]] = []
        for conda in lock.conda_for(subdir):
            entries.append(
                (
                    ("conda", conda.name, subdir),
                    {
                        "name": conda.name,
                        "version": conda.version,
                        "manager": "conda",
                        "platform": subdir,
                        "dependencies": dependencies(conda.depends),
                        "url": conda.url,
                        "hash": {"md5": conda.md5, "sha256": conda.sha256},
                        "build": conda.build,
                        "category": "main",
                        "optional": False,
                    },
                )
            )
            rows.append(["conda", conda.name, conda.version, conda.sha256])
        for package in installed:
            files = package.files_for(subdir, lock.python)
            if not files:
                continue
            chosen = files[0]
            entries.append(
                (
                    ("pip", package.name, subdir),
                    {
                        "name": package.name,
                        "version": str(package.version),
                        "manager": "pip",
                        "platform": subdir,
                        "dependencies": {d: "*" for d in package.dependencies if d in names},
                        "url": chosen.url,
                        "hash": {"sha256": chosen.sha256},
                        "category": "main",
                        "optional": False,
                    },
                )
            )
            rows.append(["pip", package.name, str(package.version), chosen.sha256])
        text = json.dumps([lock.inputs.digest, rows], separators=(",", ":"))
        hashes[subdir] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    entries.sort(key=lambda e: (e[0][0] != "conda", e[0][1], e[0][2]))
    return {
        "version": CONDA_LOCK_VERSION,
        "metadata": {
            "content_hash": hashes,
            "channels": [{"url": c, "used_env_vars": []} for c in channels(lock)],
            "platforms": platforms,
            "sources": [source],
        },
        "package": [e[1] for e in entries],
    }


def render(lock: Lock, *, source: str, platform: str | None = None) -> str:
    header = [
        f"# Exported by torchlock from {source}; do not edit by hand.",
        "# Install: conda-lock install -n NAME <this file>",
    ]
    return (
        "\n".join([*header, *yamlout.dump(document(lock, source=source, platform=platform))]) + "\n"
    )
