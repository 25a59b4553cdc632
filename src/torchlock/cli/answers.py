"""Stored answers of ``torchlock solve --json``, reused without solving again.

A solve whose inputs are all stated (driver, GPUs, target, index) and that writes no
lock stores its JSON with the sha256 of every project page it was built from. The same
command later prints the stored answer while each of those pages is still cached with
that body and fresh by its max-age (or at all, with --offline), so a repeated solve
costs little more than starting Python. Anything that could change the answer without
changing the command (a spec file, a wheelhouse, requirement files, detection) turns
this off.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from torchlock import __version__

_KIND = "answers"


def answer_key(
    params: Mapping[str, object], *, default_index: str | None, env: Mapping[str, str]
) -> str | None:
    """The key of this solve's stored answer, or None when it must not be reused."""
    if not params.get("as_json") or params.get("output") or params.get("spec_file"):
        return None
    if params.get("find_links") or params.get("req_files") or params.get("channels"):
        return None
    if Path("torchlock.toml").exists() or _pyproject_has_spec(Path("pyproject.toml")):
        return None
    driver = params.get("driver") or env.get("TORCHLOCK_DRIVER", "").strip() or "auto"
    if driver == "auto" or (not params.get("gpu_cc") and driver != "none"):
        return None  # the host would be detected: not part of the command
    document = {
        "torchlock": __version__,
        "params": {k: _plain(v) for k, v in sorted(params.items())},
        "driver": driver,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "host": [platform.system(), platform.machine()],
        "default_index": default_index,
        "data": _data_stamp(),
    }
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_answer(cache_dir: Path, key: str, *, offline: bool) -> str | None:
    from torchlock.index.cache import HttpCache

    cache = HttpCache(cache_dir)
    stored = cache.load_json(_KIND, key)
    if not isinstance(stored, dict) or not isinstance(stored.get("stdout"), str):
        return None
    if not cache.pages_unchanged(stored.get("pages"), time.time(), offline=offline):
        return None
    answer: str = stored["stdout"]
    return answer


def store_answer(cache_dir: Path, key: str, pages: Mapping[str, str], stdout: str) -> None:
    if not pages:
        return
    from torchlock.index.cache import HttpCache

    HttpCache(cache_dir).store_json(_KIND, key, {"pages": dict(pages), "stdout": stdout})


def _plain(value: object) -> object:
    if isinstance(value, tuple | list):
        return [str(v) for v in value]
    return value


def _pyproject_has_spec(path: Path) -> bool:
    try:
        return "[tool.torchlock" in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _data_stamp() -> list[object]:
    """Size and mtime of the shipped matrix data: an edited data file is a new answer."""
    import torchlock.matrix

    folder = Path(torchlock.matrix.__file__).parent / "data"
    stamp: list[object] = []
    for name in sorted(os.listdir(folder)):
        info = (folder / name).stat()
        stamp.append([name, info.st_size, info.st_mtime_ns])
    return stamp
