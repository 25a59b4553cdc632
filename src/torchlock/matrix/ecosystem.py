"""The torch ecosystem the PyTorch index builds per variant (``data/ecosystem.json``).

Pure: :func:`parse_ecosystem` turns the parsed JSON into an :class:`Ecosystem`;
:func:`load_ecosystem` reads the shipped file once per process.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from msgspec import Struct
from packaging.utils import NormalizedName, canonicalize_name

from torchlock.errors import DataError
from torchlock.matrix.load import read_data_file

ECOSYSTEM_FILE = "ecosystem.json"

# A local version label that names a build variant of the PyTorch index (cu126, cpu,
# rocm6.2.4, xpu), as opposed to a commit hash (pytorch-triton's +cf34004b8a).
_VARIANT_LABEL = re.compile(r"^(cpu|xpu|cu\d{2,3}|rocm\d+(\.\d+)*)$")


class Ecosystem(Struct, frozen=True, kw_only=True):
    """Projects asked on the variant's index first, and those bound to its CUDA or ROCm."""

    routed: frozenset[NormalizedName]
    variant_bound: frozenset[NormalizedName]


def is_variant_label(label: str | None) -> bool:
    """Whether a local version label names a PyTorch build variant (``cu126``, ``cpu``)."""
    return label is not None and _VARIANT_LABEL.match(label) is not None


def parse_ecosystem(document: Any) -> Ecosystem:
    """The :class:`Ecosystem` of a parsed ``ecosystem.json``; DataError when malformed."""
    if not isinstance(document, dict) or document.get("schema") != 1:
        raise DataError(f"{ECOSYSTEM_FILE}: expected an object with schema 1")
    projects = document.get("projects")
    if not isinstance(projects, list) or not projects:
        raise DataError(f"{ECOSYSTEM_FILE}: 'projects' must be a non-empty list")
    routed: set[NormalizedName] = set()
    bound: set[NormalizedName] = set()
    for i, entry in enumerate(projects):
        name = entry.get("name") if isinstance(entry, dict) else None
        flag = entry.get("variant_bound") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(flag, bool):
            raise DataError(f"{ECOSYSTEM_FILE}: projects[{i}] needs a name and variant_bound")
        routed.add(canonicalize_name(name))
        if flag:
            bound.add(canonicalize_name(name))
    return Ecosystem(routed=frozenset(routed), variant_bound=frozenset(bound))


@cache
def load_ecosystem() -> Ecosystem:
    """The shipped ecosystem list (read once per process)."""
    return parse_ecosystem(read_data_file(ECOSYSTEM_FILE))
