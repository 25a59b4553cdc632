"""The project names no package-registry host and no path of a developer's machine."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.hosts import REGISTRY_HOSTS

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PATHS = re.compile(r"(?<![\w.])/(root|work)/|/opt/(wheels|pypi)")
SCANNED = ("src", "tests", "scripts", "bench", ".ci")


def _files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for top in SCANNED:
        base = ROOT / top
        if base.exists():
            found.extend(
                p
                for p in base.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and ".tools" not in p.parts
            )
    return found


def test_no_registry_host_names() -> None:
    hits = [str(p.relative_to(ROOT)) for p in _files() if REGISTRY_HOSTS.search(_text(p))]
    assert hits == []


def test_no_local_machine_paths() -> None:
    hits = [str(p.relative_to(ROOT)) for p in _files() if LOCAL_PATHS.search(_text(p))]
    assert hits == []


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")
