"""Compute capability from a GPU's marketing name, for drivers that cannot say.

The table is ``torchlock/matrix/data/gpus.json``::

    {"gpus": [{"match": "<regex, re.search, case-insensitive>", "cc": "7.5",
               "arch": "Turing", "examples": ["Tesla T4"]}]}

The first entry whose ``match`` is found in the name wins.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files

from msgspec import Struct

from torchlock.errors import DataError, InputError
from torchlock.target import ComputeCapability

TABLE_RESOURCE = "data/gpus.json"
CC_SOURCE = "GPU name table"


class GpuNameRule(Struct, frozen=True, kw_only=True):
    pattern: re.Pattern[str]
    cc: ComputeCapability
    arch: str | None


class GpuNameTable(Struct, frozen=True, kw_only=True):
    rules: tuple[GpuNameRule, ...]

    def lookup(self, name: str) -> GpuNameRule | None:
        for rule in self.rules:
            if rule.pattern.search(name):
                return rule
        return None


def parse_gpu_table(text: str, *, origin: str = TABLE_RESOURCE) -> GpuNameTable:
    """Validate and compile the table's JSON text; a broken table is a :class:`DataError`."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"GPU name table {origin} is not valid JSON", evidence=[str(exc)]) from exc
    entries = document.get("gpus") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise DataError(f'GPU name table {origin} has no "gpus" list')
    rules: list[GpuNameRule] = []
    for position, entry in enumerate(entries):
        where = f"{origin}: gpus[{position}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} is not an object")
        match, cc, arch = entry.get("match"), entry.get("cc"), entry.get("arch")
        if not isinstance(match, str) or not isinstance(cc, str):
            raise DataError(f'{where} needs string fields "match" and "cc"')
        try:
            pattern = re.compile(match, re.IGNORECASE)
        except re.error as exc:
            raise DataError(f"{where} has a bad regex {match!r}", evidence=[str(exc)]) from exc
        try:
            capability = ComputeCapability.parse(cc)
        except InputError as exc:
            raise DataError(f"{where} has a malformed cc {cc!r}") from exc
        rules.append(
            GpuNameRule(
                pattern=pattern, cc=capability, arch=arch if isinstance(arch, str) else None
            )
        )
    return GpuNameTable(rules=tuple(rules))


@lru_cache(maxsize=1)
def load_gpu_table() -> GpuNameTable:
    """The table shipped in :mod:`torchlock.matrix`, read once per process."""
    origin = f"torchlock/matrix/{TABLE_RESOURCE}"
    try:
        text = files("torchlock.matrix").joinpath(TABLE_RESOURCE).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError, TypeError, ValueError) as exc:
        raise DataError(f"GPU name table {origin} cannot be read", evidence=[str(exc)]) from exc
    return parse_gpu_table(text, origin=origin)


def compute_capability_for(
    name: str, table: GpuNameTable | None = None
) -> ComputeCapability | None:
    """The compute capability of the GPU called ``name``, or None when no rule matches.

    Without ``table`` the shipped one is used; a broken shipped table raises
    :class:`DataError`.
    """
    rule = (table or load_gpu_table()).lookup(name)
    return rule.cc if rule else None
