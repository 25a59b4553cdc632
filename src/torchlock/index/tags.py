"""What a TARGET accepts (pure): its wheel tags and its marker environment, never the host's.

``python`` is a feature release such as "3.10" (or "3.13t"); ``platform`` a key such as
"linux-x86_64" or the conda-style "win-64" (see :class:`torchlock.target.Platform`).
"""

from __future__ import annotations

import functools

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from torchlock.target import OS, Arch, Platform, PythonVersion

# The newest glibc a Linux target is assumed to have; manylinux tags go down from here.
MAX_GLIBC_MINOR = 39
_MACOS_NEWEST = (14, 0)
_MACOS_X86_OLDEST_MINOR = 9  # macosx_10_9 and newer


def _manylinux(arch: str) -> list[str]:
    names: list[str] = []
    oldest = 5 if arch == "x86_64" else 17
    for minor in range(MAX_GLIBC_MINOR, oldest - 1, -1):
        names.append(f"manylinux_2_{minor}_{arch}")
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
        if legacy:
            names.append(f"{legacy}_{arch}")
    names.append(f"linux_{arch}")
    return names


def _macos(arch: str) -> list[str]:
    names = list(mac_platforms(_MACOS_NEWEST, arch))
    if arch == "x86_64":
        kept = []
        for name in names:
            _, major, minor, _ = name.split("_", 3)
            if int(major) > 10 or int(minor) >= _MACOS_X86_OLDEST_MINOR:
                kept.append(name)
        names = kept
    return names


@functools.cache
def platform_names(platform: str) -> tuple[str, ...]:
    """The platform parts of wheel tags a target accepts, most specific first."""
    target = Platform.parse(platform)
    if target.os is OS.LINUX:
        return tuple(_manylinux(target.arch.value))
    if target.os is OS.WINDOWS:
        return ("win_amd64",) if target.arch is Arch.X86_64 else ("win_arm64",)
    return tuple(_macos("arm64" if target.arch is Arch.AARCH64 else "x86_64"))


@functools.cache
def supported_tags(python: str, platform: str) -> tuple[Tag, ...]:
    """Every wheel tag the target accepts, best first (pip's order: cpython, then compatible)."""
    version = PythonVersion.parse(python)
    nodot = f"{version.major}{version.minor}"
    abi = f"cp{nodot}t" if version.freethreaded else f"cp{nodot}"
    platforms = platform_names(platform)
    pair = (version.major, version.minor)
    tags = list(cpython_tags(pair, [abi], platforms))
    if version.freethreaded:
        tags = [tag for tag in tags if tag.abi != "abi3"]  # the limited API is not free-threaded
    tags.extend(compatible_tags(pair, f"cp{nodot}", platforms))
    return tuple(dict.fromkeys(tags))


@functools.cache
def tag_priorities(python: str, platform: str) -> dict[Tag, int]:
    """Tag → rank (0 is best) for the target; a wheel is installable when any tag is here."""
    return {tag: rank for rank, tag in enumerate(supported_tags(python, platform))}


_SYSTEMS = {
    OS.LINUX: ("linux", "Linux", "posix"),
    OS.WINDOWS: ("win32", "Windows", "nt"),
    OS.MACOS: ("darwin", "Darwin", "posix"),
}


def _machine(target: Platform) -> str:
    if target.os is OS.WINDOWS:
        return "AMD64" if target.arch is Arch.X86_64 else "ARM64"
    if target.os is OS.MACOS:
        return "arm64" if target.arch is Arch.AARCH64 else "x86_64"
    return target.arch.value


def marker_environment(
    python: str, platform: str, *, full_version: str | None = None
) -> dict[str, str]:
    """The PEP 508 marker environment of the target.

    ``python_full_version`` is ``full_version`` when given, else "<python>.0";
    ``platform_release`` and ``platform_version`` are unknown for a target: empty.
    """
    version = PythonVersion.parse(python)
    feature = f"{version.major}.{version.minor}"
    full = full_version or f"{feature}.0"
    target = Platform.parse(platform)
    sys_platform, system, os_name = _SYSTEMS[target.os]
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": os_name,
        "platform_machine": _machine(target),
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "python_version": feature,
        "sys_platform": sys_platform,
    }
