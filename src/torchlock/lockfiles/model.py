"""The neutral lock model every format renders from (and the native one parses back to)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from msgspec import Struct
from msgspec.structs import force_setattr
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.credentials import without_credentials
from torchlock.errors import InputError
from torchlock.target import OS, Arch, Platform

LOCK_FORMAT = 1  # the version of torchlock's [tool.torchlock] table
CREATED_BY = "torchlock"


def platform_marker(subdir: str) -> Marker:
    """The PEP 508 marker that holds on a platform named the conda way (linux-64, win-64)."""
    platform = Platform.parse(subdir)
    if platform.os is OS.WINDOWS:
        machine = "AMD64" if platform.arch is Arch.X86_64 else "ARM64"
        return Marker(f"sys_platform == 'win32' and platform_machine == '{machine}'")
    if platform.os is OS.MACOS:
        machine = "arm64" if platform.arch is Arch.AARCH64 else "x86_64"
        return Marker(f"sys_platform == 'darwin' and platform_machine == '{machine}'")
    return Marker(f"sys_platform == 'linux' and platform_machine == '{platform.arch.value}'")


def platforms_marker(subdirs: Sequence[str]) -> Marker:
    """The marker that holds on any of the platforms (in the order given)."""
    parts = [str(platform_marker(s)) for s in subdirs]
    if len(parts) == 1:
        return Marker(parts[0])
    return Marker(" or ".join(f"({p})" for p in parts))


class LockedFile(Struct, frozen=True, kw_only=True):
    """One distribution file, pinned by name and sha256 (the URL is where it was found)."""

    name: str
    url: str
    sha256: str
    size: int | None = None
    upload_time: datetime | None = None  # PEP 700's, as the index gave it (UTC)


class LockedPackage(Struct, frozen=True, kw_only=True):
    """One project at one version, for the targets (platforms) that install it."""

    name: NormalizedName
    version: Version
    index: str
    platforms: tuple[str, ...]  # conda subdirs, in the lock's target order
    marker: Marker | None = None  # None: every target of the lock installs it
    requires_python: SpecifierSet | None = None
    dependencies: tuple[NormalizedName, ...] = ()  # sorted
    wheels: tuple[LockedFile, ...] = ()  # sorted by name
    sdist: LockedFile | None = None

    @property
    def files(self) -> tuple[LockedFile, ...]:
        return (*self.wheels, *(() if self.sdist is None else (self.sdist,)))

    def files_for(self, platform: str, python: str) -> tuple[LockedFile, ...]:
        """The files a ``platform`` target on CPython ``python`` can install, best first.

        Wheels whose tags fit (platform-specific before pure ones), then the sdist.
        """
        ranked: list[tuple[int, str, LockedFile]] = []
        for wheel in self.wheels:
            rank = _wheel_rank(wheel.name, platform, python)
            if rank is not None:
                ranked.append((rank, wheel.name, wheel))
        ranked.sort(key=lambda r: (r[0], r[1]))
        found = [r[2] for r in ranked]
        if self.sdist is not None:
            found.append(self.sdist)
        return tuple(found)


_PLATFORM_TAGS = {
    "linux-64": re.compile(r"^(many|musl)?linux[\w.]*_x86_64$"),
    "linux-aarch64": re.compile(r"^(many|musl)?linux[\w.]*_aarch64$"),
    "win-64": re.compile(r"^win_amd64$"),
    "osx-arm64": re.compile(r"^macosx_[\w.]*_(arm64|universal2)$"),
    "osx-64": re.compile(r"^macosx_[\w.]*_(x86_64|intel|universal2?)$"),
}


def _wheel_rank(filename: str, platform: str, python: str) -> int | None:
    """0 for a platform wheel, 1 for a pure one, None when the wheel does not fit."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return None
    digits = python.replace(".", "")
    interpreters = {f"cp{digits}", f"py{digits}", f"py{digits[0]}"}
    abis = {f"cp{digits}", "none"}
    pattern = _PLATFORM_TAGS.get(platform)
    best: int | None = None
    for tag in tags:
        stable = tag.abi == "abi3" and _abi3_fits(tag.interpreter, digits)
        if tag.interpreter not in interpreters and not stable:
            continue
        if tag.abi not in abis and not stable:
            continue
        if tag.platform == "any":
            rank = 1
        elif pattern is not None and pattern.match(tag.platform):
            rank = 0
        else:
            continue
        best = rank if best is None else min(best, rank)
    return best


def _abi3_fits(interpreter: str, digits: str) -> bool:
    """cp3N with the abi3 ABI runs on CPython 3.M for every M >= N."""
    if not interpreter.startswith("cp3") or not interpreter[2:].isdigit():
        return False
    return int(interpreter[3:] or "0") <= int(digits[1:])


class LockInputs(Struct, frozen=True, kw_only=True):
    """What the lock was solved from, as declared (the spec with flags over it).

    Detected facts (the driver found on a host) are not inputs: they are in
    :class:`LockSelection`. The digest covers exactly these fields. URLs are kept without
    their credentials (a lock is checked into a repository): they are left out here, so a
    lock can never carry them and a spec with a token digests like one without.
    """

    python: str
    platforms: tuple[str, ...]  # conda subdirs; the first is where the build is chosen
    torch: str | None = None
    variant: str | None = None
    policy: str = "compat"
    driver: str = "auto"  # VERSION, "none" or "auto"
    gpu_cc: tuple[str, ...] = ()
    family: tuple[str, ...] = ()  # the torch family members locked; empty: all the matrix pairs
    build_with_torch: tuple[str, ...] = ()  # projects whose sdist builds against the torch
    requirements: tuple[Requirement, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()  # asked, in order, for what the default lacks
    mirror: str | None = None
    torch_index: str = "auto"
    pytorch_index_url: str | None = None
    conda_channels: tuple[str, ...] = ()  # names or URLs; empty: conda-forge
    no_conda: bool = False  # the lock carries no conda base (--no-conda)

    def __post_init__(self) -> None:
        def clean(url: str | None) -> str | None:
            return None if url is None else without_credentials(url)

        force_setattr(self, "index_url", clean(self.index_url))
        force_setattr(self, "pytorch_index_url", clean(self.pytorch_index_url))
        force_setattr(
            self, "extra_index_urls", tuple(map(without_credentials, self.extra_index_urls))
        )
        force_setattr(self, "conda_channels", tuple(map(without_credentials, self.conda_channels)))

    def document(self) -> dict[str, Any]:
        """The canonical form: TOML keys, requirements sorted, absent values left out."""
        values: dict[str, Any] = {
            "python": self.python,
            "platforms": list(self.platforms),
            "torch": self.torch,
            "variant": self.variant,
            "policy": self.policy,
            "driver": self.driver,
            "gpu-cc": list(self.gpu_cc),
            # left out when empty, so locks solved before this key existed keep their digest
            "family": list(self.family) or None,
            # left out when empty, so locks solved before this key existed keep their digest
            "build-with-torch": list(self.build_with_torch) or None,
            "requirements": sorted(str(r) for r in self.requirements),
            "index-url": self.index_url,
            # left out when empty, so locks solved before this key existed keep their digest
            "extra-index-urls": list(self.extra_index_urls) or None,
            "mirror": self.mirror,
            "torch-index": self.torch_index,
            "pytorch-index-url": self.pytorch_index_url,
            "conda-channels": list(self.conda_channels),
            "no-conda": True if self.no_conda else None,
        }
        return {k: v for k, v in values.items() if v is not None}

    @property
    def digest(self) -> str:
        text = json.dumps(self.document(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class LockSelection(Struct, frozen=True, kw_only=True):
    """The outcome of choosing the build, and why."""

    torch: Version
    variant: str
    policy: str
    driver: str | None  # the driver planned for (given or detected); None: no driver
    max_cuda: str | None
    gpu_archs: tuple[str, ...] = ()  # compute capabilities of the target GPUs
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class LockTarget(Struct, frozen=True, kw_only=True):
    """One target platform of the lock and where its torch family comes from."""

    platform: str  # conda subdir
    torch: Version
    variant: str
    cuda: str | None
    torch_index: str
    default_index: str

    @property
    def environment(self) -> Marker:
        return platform_marker(self.platform)


class CondaPackage(Struct, frozen=True, kw_only=True):
    """A conda package of the environment's base (Python, pip), pinned by URL and hashes.

    ``platform`` is the lock's target that installs it; ``subdir`` the package's own
    (``noarch`` for pure packages, which every target lists for itself).
    """

    name: str
    version: str
    build: str
    platform: str  # the target (conda subdir) whose base it is
    subdir: str  # the channel subdir it comes from: the platform's, or noarch
    channel: str  # the channel's URL
    url: str
    sha256: str
    md5: str
    size: int | None = None
    depends: tuple[str, ...] = ()  # match specs, as the channel lists them


class Lock(Struct, frozen=True, kw_only=True):
    python: str  # X.Y
    inputs: LockInputs
    selection: LockSelection
    targets: tuple[LockTarget, ...]
    packages: tuple[LockedPackage, ...]  # sorted by (name, version, platforms)
    conda: tuple[CondaPackage, ...] = ()  # sorted by (platform, name)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(t.platform for t in self.targets)

    @property
    def requires_python(self) -> SpecifierSet:
        return SpecifierSet(f"=={self.python}.*")

    def target(self, platform: str) -> LockTarget:
        for target in self.targets:
            if target.platform == platform:
                return target
        raise InputError(
            f"the lock has no target {platform!r}",
            evidence=[f"its targets: {', '.join(self.platforms)}"],
            hint="solve again with --platform " + platform,
        )

    def packages_for(self, platform: str) -> tuple[LockedPackage, ...]:
        """What the target ``platform`` installs."""
        self.target(platform)
        return tuple(p for p in self.packages if platform in p.platforms)

    def conda_for(self, platform: str) -> tuple[CondaPackage, ...]:
        """The conda base of the target ``platform``."""
        self.target(platform)
        return tuple(c for c in self.conda if c.platform == platform)

    @property
    def content_digest(self) -> str:
        """A digest of what gets installed, to notice a hand-edited package list."""
        rows = []
        for p in self.packages:
            files = [[f.name, f.sha256, f.url, f.size] for f in p.files]
            rows.append(
                [
                    p.name,
                    str(p.version),
                    p.index,
                    list(p.platforms),
                    None if p.marker is None else str(p.marker),
                    None if p.requires_python is None else str(p.requires_python),
                    list(p.dependencies),
                    files,
                ]
            )
        document: list[Any] = rows
        if self.conda:  # locks without a conda base keep the digest they always had
            conda: list[list[Any]] = [
                [c.platform, c.name, c.version, c.build, c.subdir, c.channel, c.url, c.sha256]
                for c in self.conda
            ]
            for row, c in zip(conda, self.conda, strict=True):
                row.extend([c.md5, c.size, list(c.depends)])
            document = [rows, conda]
        text = json.dumps(document, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
