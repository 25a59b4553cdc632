"""Pure parser for ``nvcc --version``."""

from __future__ import annotations

import re

from msgspec import Struct

_RELEASE_RE = re.compile(r"release\s+(\d+\.\d+)(?:,\s*(V\d+(?:\.\d+)*))?")


class NvccVersion(Struct, frozen=True, kw_only=True):
    version: str  # "12.0"
    build: str | None  # "V12.0.140"


def parse_nvcc_version(text: str) -> NvccVersion | None:
    """The toolkit release from "Cuda compilation tools, release 12.0, V12.0.140"."""
    match = _RELEASE_RE.search(text)
    if match is None:
        return None
    return NvccVersion(version=match.group(1), build=match.group(2))
