"""The ``rattler`` backend: py-rattler solves and installs the conda base, no conda program.

With locked conda packages (``[tool.torchlock] conda-packages``) the solve is pinned to
exactly them (``name ==version build`` from their own channels) and every solved record
must be one of them with the locked sha256; without any (locks written before conda
locking exists) it solves ``python X.Y.*`` and ``pip`` from the lock's conda channels.
The packages are linked into the staging folder with the final prefix patched into
their files (py-rattler's ``alternative_target_prefix``), so the later rename needs no
rewriting of conda's prefix placeholders. py-rattler is imported only here, lazily.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchlock.envs.install import BuildError
from torchlock.envs.locked import CondaLike

DEFAULT_CHANNELS = ("conda-forge",)


def channel_of(url: str) -> str:
    """The channel a package URL belongs to: the URL without ``/<subdir>/<file>``."""
    return url.rsplit("/", 2)[0]


def locked_specs(packages: Sequence[CondaLike]) -> list[str]:
    return [f"{p.name} =={p.version} {p.build}" for p in packages]


def install_conda_base(
    *,
    packages: Sequence[CondaLike],
    python: str,
    channels: Sequence[str],
    staging: Path,
    final: Path,
    platform: str,
    cache_dir: Path,
) -> tuple[str, ...]:
    """Solve and link the conda base into ``staging`` (prefix ``final``); the names linked."""
    try:
        return asyncio.run(
            _install(
                packages=packages,
                python=python,
                channels=channels,
                staging=staging,
                final=final,
                platform=platform,
                cache_dir=cache_dir,
            )
        )
    except BuildError:
        raise
    except Exception as exc:  # py-rattler raises its own exception types for every failure
        raise BuildError(
            f"py-rattler could not create the conda base: {type(exc).__name__}",
            evidence=[line for line in str(exc).splitlines()[:12] if line.strip()],
        ) from exc


async def _install(
    *,
    packages: Sequence[CondaLike],
    python: str,
    channels: Sequence[str],
    staging: Path,
    final: Path,
    platform: str,
    cache_dir: Path,
) -> tuple[str, ...]:
    import rattler

    if packages:
        sources: list[Any] = [
            rattler.Channel(c) for c in dict.fromkeys(channel_of(p.url) for p in packages)
        ]
        specs = locked_specs(packages)
        virtual: list[Any] = []
    else:
        sources = [rattler.Channel(c) for c in (channels or DEFAULT_CHANNELS)]
        specs = [f"python {python}.*", "pip"]
        virtual = list(rattler.VirtualPackage.detect())
    platforms: list[Any] = [platform, "noarch"]
    records = await rattler.solve(
        sources,
        specs,
        platforms=platforms,
        virtual_packages=virtual,
    )
    if packages:
        wanted = {p.name: p for p in packages}
        for record in records:
            name = record.name.normalized
            locked = wanted.get(name)
            got = record.sha256.hex() if record.sha256 is not None else None
            if locked is None:
                raise BuildError(
                    f"the locked conda packages are not complete: the solve added {name}",
                    hint="solve the lock again",
                )
            if got is not None and got != locked.sha256.lower():
                raise BuildError(
                    f"conda package {name}: sha256 on its channel does not match the lock",
                    evidence=[f"the lock: {locked.sha256}", f"channel:  {got}"],
                )
    staging.mkdir(parents=True, exist_ok=True)
    await rattler.install(
        records,
        target_prefix=str(staging),
        alternative_target_prefix=str(final),
        cache_dir=cache_dir,
        show_progress=False,
        execute_link_scripts=False,
    )
    return tuple(sorted(r.name.normalized for r in records))
