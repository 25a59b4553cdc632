"""Find-links folders: local directories of wheels and sdists, listed like an index page."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from torchlock.artifacts import Artifact
from torchlock.index.pages import FileEntry, to_artifact

# (path, size, mtime_ns) -> sha256: a file is hashed once per process unless it changes
_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _HASHES_LOCK:
        _HASHES[key] = value
    return value


def _project_of(filename: str) -> NormalizedName | None:
    if filename.endswith(".whl"):
        return canonicalize_name(filename.split("-", 1)[0])
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, _ = stem.rpartition("-")
            return canonicalize_name(name) if sep else None
    return None


def list_folder(folder: Path) -> dict[NormalizedName, tuple[Artifact, ...]]:
    """Every wheel and sdist directly in ``folder``, by project, each with its sha256.

    A missing folder lists nothing.
    """
    folder = Path(folder).resolve()
    index = folder.as_uri()
    found: dict[NormalizedName, list[Artifact]] = {}
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    for name in names:
        project = _project_of(name)
        path = folder / name
        if project is None or not path.is_file():
            continue
        entry = FileEntry(
            filename=name,
            url=path.as_uri(),
            sha256=file_sha256(path),
            size=path.stat().st_size,
        )
        artifact = to_artifact(entry, project, index)
        if artifact is not None:
            found.setdefault(project, []).append(artifact)
    return {project: tuple(items) for project, items in found.items()}


class Wheelhouse:
    """Several find-links folders together; each is listed once, on first use."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = tuple(Path(f) for f in folders)
        self._listing: dict[NormalizedName, tuple[Artifact, ...]] | None = None
        self._lock = threading.Lock()

    def artifacts(self, project: NormalizedName) -> tuple[Artifact, ...]:
        """The project's files from all folders (empty when no folder has any)."""
        if not self.folders:
            return ()
        with self._lock:
            if self._listing is None:
                merged: dict[NormalizedName, list[Artifact]] = {}
                for folder in self.folders:
                    for name, items in list_folder(folder).items():
                        merged.setdefault(name, []).extend(items)
                self._listing = {name: tuple(items) for name, items in merged.items()}
            return self._listing.get(canonicalize_name(project), ())
