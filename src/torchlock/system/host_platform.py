"""What the :mod:`platform` module says about this host, captured once as a value."""

from __future__ import annotations

import platform
import sys

from msgspec import Struct


class PlatformInfo(Struct, frozen=True, kw_only=True):
    system: str  # platform.system(): "Linux", "Windows", "Darwin"
    machine: str  # platform.machine(): "x86_64", "AMD64", "arm64", "aarch64"
    release: str = ""  # platform.release(): "5.15.0-1030-gcp", "10"
    version: str = ""  # platform.version(): "10.0.19045" on Windows
    mac_release: str = ""  # platform.mac_ver()[0]: "14.4.1"
    python_version: str = ""  # "3.11.7"
    python_executable: str = ""


def current_platform() -> PlatformInfo:
    return PlatformInfo(
        system=platform.system(),
        machine=platform.machine(),
        release=platform.release(),
        version=platform.version(),
        mac_release=platform.mac_ver()[0],
        python_version=platform.python_version(),
        python_executable=sys.executable,
    )
