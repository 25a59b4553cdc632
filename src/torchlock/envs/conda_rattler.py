"""The ``rattler`` backend: py-rattler solves and installs the conda base, no conda program.

``solve_base`` locks the conda base (``python X.Y.*`` and ``pip``) of one target platform
from the configured channels, with fixed virtual packages per platform (never this
host's), so that a lock is the same on every machine.

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
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from msgspec import Struct

from torchlock.credentials import redact
from torchlock.envs.backends import conda_for
from torchlock.envs.install import BuildError
from torchlock.envs.locked import CondaLike
from torchlock.errors import InputError, PackageIndexError, ResolutionError
from torchlock.hosts import plain_http_allowed

DEFAULT_CHANNELS = ("conda-forge",)
CHANNEL_HOST = "https://conda.anaconda.org"
MIRROR_EXAMPLE = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge"
REQUEST_TIMEOUT_S = 60

# The virtual packages a target platform is solved with: what the oldest supported host
# of that platform has (glibc 2.28 as pixi assumes by default; macOS 11 on arm64). They
# are fixed, so that the lock depends on its inputs only.
_VIRTUAL: dict[str, tuple[tuple[str, str], ...]] = {
    "linux": (("__unix", "0"), ("__linux", "4.18"), ("__glibc", "2.28")),
    "osx-64": (("__unix", "0"), ("__osx", "10.15")),
    "osx-arm64": (("__unix", "0"), ("__osx", "11.0")),
    "win": (("__win", "0"),),
}


class CondaRecord(Struct, frozen=True, kw_only=True):
    """One solved conda package: where it is (channel, subdir, url) and its hashes."""

    name: str
    version: str
    build: str
    channel: str  # the channel URL, no trailing slash
    subdir: str  # the package's own subdir (noarch for pure packages)
    url: str
    sha256: str
    md5: str
    size: int | None
    depends: tuple[str, ...] = ()


def channel_url(channel: str, trusted_hosts: Collection[str] = ()) -> str:
    """A named channel (conda-forge) on conda.anaconda.org; a URL as it is.

    A plain-http URL is refused unless its host is loopback or in ``trusted_hosts``, as
    for package indexes: repodata read over an open network could be changed on the way,
    and the hashes a lock pins come from it.
    """
    text = channel.strip().rstrip("/")
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() == "http" and not plain_http_allowed(parts, trusted_hosts):
            host = parts.hostname or "(none)"
            raise PackageIndexError(
                f"refusing the plain-http conda channel {redact(text)}",
                evidence=[f"{host} is not a loopback address and not a trusted host"],
                hint=f"use https, or pass --trusted-host {host} if you trust this network",
            )
        return text
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text) is None:
        raise InputError(
            f"conda channel {channel!r} is neither a channel name nor a URL",
            hint="give a name (conda-forge), an https:// URL or a file:// URL",
        )
    return f"{CHANNEL_HOST}/{text}"


def virtual_packages(subdir: str) -> tuple[tuple[str, str], ...]:
    """(name, version) of the virtual packages a ``subdir`` target is solved with."""
    if subdir in _VIRTUAL:
        return _VIRTUAL[subdir]
    return _VIRTUAL.get(subdir.split("-", 1)[0], ())


def solve_base(
    *,
    channels: Sequence[str],
    python: str,
    subdir: str,
    cache_dir: Path | None = None,
    offline: bool = False,
    trusted_hosts: Collection[str] = (),
) -> tuple[CondaRecord, ...]:
    """The conda base of a ``subdir`` target: ``python X.Y.*`` and ``pip`` with everything
    they need, from ``channels`` (names or URLs, in priority order), sorted by name.

    Raises PackageIndexError when a channel cannot be read, ResolutionError when the
    channels do not have what the base needs.
    """
    urls = [channel_url(c, trusted_hosts) for c in (channels or DEFAULT_CHANNELS)]
    try:
        records = asyncio.run(_solve(urls, python, subdir, cache_dir, offline))
    except Exception as exc:  # py-rattler raises its own exception types for every failure
        raise _solve_error(exc, urls, python, subdir) from exc
    return tuple(sorted((_record(r) for r in records), key=lambda r: r.name))


async def _solve(
    urls: list[str], python: str, subdir: str, cache_dir: Path | None, offline: bool
) -> list[Any]:
    import rattler

    config = rattler.SourceConfig(cache_action="force-cache-only" if offline else "cache-or-fetch")
    gateway = rattler.Gateway(
        cache_dir=cache_dir,
        default_config=config,
        client=rattler.Client(timeout=REQUEST_TIMEOUT_S),
    )
    virtual: list[Any] = [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in virtual_packages(subdir)
    ]
    platforms: list[Any] = [subdir, "noarch"]
    result: list[Any] = await rattler.solve(
        [rattler.Channel(u) for u in urls],
        [f"python {python}.*", "pip"],
        gateway=gateway,
        platforms=platforms,
        virtual_packages=virtual,
    )
    return result


def _record(record: Any) -> CondaRecord:
    url = str(record.url)
    if record.sha256 is None or record.md5 is None:
        raise PackageIndexError(
            f"conda package {record.file_name} has no sha256 or md5 in its channel's repodata",
            evidence=[url],
            hint="a lock pins every file by its hashes; use a channel that publishes them",
        )
    return CondaRecord(
        name=record.name.normalized,
        version=str(record.version),
        build=str(record.build),
        channel=channel_of(url),
        subdir=str(record.subdir),
        url=url,
        sha256=record.sha256.hex(),
        md5=record.md5.hex(),
        size=record.size,
        depends=tuple(record.depends),
    )


def _solve_error(exc: Exception, urls: list[str], python: str, subdir: str) -> Exception:
    from torchlock.errors import TorchlockError

    if isinstance(exc, TorchlockError):
        return exc
    kind = type(exc).__name__
    lines = [line for line in str(exc).splitlines()[:12] if line.strip()]
    if kind == "SolverError":
        return ResolutionError(
            f"the conda channels have no python {python}.* with pip for {subdir}",
            evidence=[f"channels: {', '.join(urls)}", *lines],
            hint="add a channel that has it (--channel), or lock without conda (--no-conda)",
        )
    named = [u for u in urls if u in str(exc)] or urls
    which = ", ".join(named)
    return PackageIndexError(
        f"conda channel {which} could not be read ({kind})",
        evidence=lines,
        hint=f"pass --channel with a reachable channel or mirror (e.g. --channel "
        f"{MIRROR_EXAMPLE}), or --no-conda to lock without the conda base",
    )


# py-rattler's errors for a channel it could not fetch from (repodata or a package)
_CHANNEL_FAILURES = frozenset({"GatewayError", "FetchRepoDataError"})


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
        evidence = [line for line in str(exc).splitlines()[:12] if line.strip()]
        kind = type(exc).__name__
        if kind in _CHANNEL_FAILURES:  # the channel could not be read: as for an index, exit 6
            sources = sorted({channel_of(p.url) for p in conda_for(packages, platform)})
            which = ", ".join(sources) or ", ".join(channels or DEFAULT_CHANNELS)
            raise PackageIndexError(
                f"conda channel {which} could not be read ({kind})",
                evidence=evidence,
                hint="check the network (and HTTPS_PROXY), or try again later; the lock "
                "names the channel each conda package comes from",
            ) from exc
        raise BuildError(
            f"py-rattler could not create the conda base: {kind}", evidence=evidence
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

    packages = conda_for(packages, platform)
    if packages:
        sources: list[Any] = [
            rattler.Channel(c) for c in dict.fromkeys(channel_of(p.url) for p in packages)
        ]
        specs = locked_specs(packages)
    else:
        sources = [rattler.Channel(channel_url(c)) for c in (channels or DEFAULT_CHANNELS)]
        specs = [f"python {python}.*", "pip"]
    # this host's: the locked base needs (say) __glibc >=2.17, and this host must have it
    virtual: list[Any] = list(rattler.VirtualPackage.detect())
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
