"""What killed runs of torchlock leave behind, removed by a later run.

A run that is killed (SIGKILL, a power cut, a closed terminal) cannot clean up after
itself. What it can leave, each name carrying the id of the process that made it:

- partial downloads, ``.part-PID-*``, in the download cache (``<cache>/files/...``);
- temporary files of the HTTP cache, ``.NAME.PID-THREAD-N.tmp``;
- sdist build folders, ``torchlock-build-PID-*`` and ``torchlock-wheels-PID-*``, in the
  temporary folder;
- a half-built environment, found by its marker ``.NAME.torchlock-building`` beside it
  (:mod:`torchlock.envs.place` puts the old environment back).

A later run removes those whose process is gone, never those of a torchlock running now.
The cache is walked at most once a day (a stamp file in it says when): a solve pays one
``stat`` for it otherwise. The top of the temporary folder and the folder of
environments are looked at by every run that uses them.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from torchlock.system.processes import alive

log = logging.getLogger(__name__)

STAMP = ".torchlock-swept"
EVERY = 24 * 3600.0  # seconds between two walks of one cache
# the names torchlock gives its own temporary files and folders, and where the PID is
_FILE_NAMES = (
    re.compile(r"\.part-(?P<pid>\d+)-[^/]+"),  # envs/install.py, a partial download
    re.compile(r"\..+\.(?P<pid>\d+)-\d+-\d+\.tmp"),  # index/cache.py, an atomic write
)
_FOLDER_NAMES = re.compile(r"torchlock-(?:build|wheels)-(?P<pid>\d+)-[^/]+")


def _dead_owner(pattern: re.Pattern[str], name: str) -> bool:
    found = pattern.fullmatch(name)
    if found is None:
        return False
    pid = int(found["pid"])
    return pid != os.getpid() and not alive(pid)


def sweep_cache(root: Path, *, now: float | None = None) -> int:
    """Remove the partial downloads and cache writes of dead runs under ``root``; at most
    once every :data:`EVERY` seconds per cache. The number of files removed."""
    stamp = root / STAMP
    now = time.time() if now is None else now
    try:
        if now - stamp.stat().st_mtime < EVERY:
            return 0
    except FileNotFoundError:
        pass
    except OSError:
        return 0
    removed = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and any(_dead_owner(p, name) for p in _FILE_NAMES):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    try:
        root.mkdir(parents=True, exist_ok=True)
        stamp.write_bytes(b"")
        os.utime(stamp, (now, now))
    except OSError:
        pass
    if removed:
        log.info("removed %d partial files of interrupted runs from %s", removed, root)
    return removed


def sweep_partials(folder: Path) -> int:
    """Remove the partial downloads of dead runs in ``folder`` (one file's folder of the
    download cache, before it is downloaded again). The number removed."""
    removed = 0
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError:
        return 0
    for name in names:
        if name.startswith(".part-") and _dead_owner(_FILE_NAMES[0], name):
            try:
                os.unlink(folder / name)
                removed += 1
            except OSError:
                pass
    return removed


def sweep_temp(folder: Path) -> int:
    """Remove the sdist build folders of dead runs at the top of ``folder`` (the
    temporary folder). The number of folders removed."""
    from torchlock.envs.install import remove_tree

    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        ours = entry.name.startswith("torchlock-") and entry.is_dir(follow_symlinks=False)
        if ours and _dead_owner(_FOLDER_NAMES, entry.name):
            remove_tree(Path(entry.path))
            removed += 1
    return removed


def sweep_places(folder: Path) -> int:
    """Undo the killed environment builds in ``folder`` (half-built environments removed,
    old ones put back), leaving those a running torchlock owns. How many were undone."""
    from torchlock.envs.install import BuildError
    from torchlock.envs.place import MARK, recover

    undone = 0
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError:
        return 0
    suffix = f"{MARK}building"
    for name in names:
        if not (name.startswith(".") and name.endswith(suffix)):
            continue
        final = folder / name[1 : -len(suffix)]
        try:
            if recover(final):
                undone += 1
        except BuildError:  # being built right now
            continue
        (folder / f".{final.name}{MARK}requirements.txt").unlink(missing_ok=True)
    return undone
