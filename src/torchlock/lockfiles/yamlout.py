"""A small, deterministic YAML writer for the conda exports (no YAML library needed).

Every string is written double-quoted (JSON escaping, which YAML reads the same), so
versions such as ``1.10`` stay strings.
"""

from __future__ import annotations

import json
from typing import Any


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def dump(value: Any, indent: int = 0) -> list[str]:
    """The lines of ``value`` (dicts keep their order; keys are plain identifiers)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(dump(item, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_empty_or_scalar(item)}")
        return lines
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = dump(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_empty_or_scalar(item)}")
        return lines
    return [pad + scalar(value)]


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def header(exported_from: str, instruction: str) -> list[str]:
    """The two comment lines every YAML export starts with."""
    return [
        f"# Exported by torchlock from {exported_from}; do not edit by hand.",
        f"# {instruction}",
    ]
