"""The real readers of host files and the program finder.

:mod:`torchlock.system.detect` takes these as plain callables so that tests
can hand it a directory tree of captured files instead of the real host.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping

ReadText = Callable[[str], str | None]
ListDir = Callable[[str], tuple[str, ...] | None]
Which = Callable[[str], str | None]

_MAX_READ = 1 << 20  # host files we read are small; never slurp a huge one


def read_text(path: str) -> str | None:
    """The text of ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(_MAX_READ)
    except (OSError, ValueError):
        return None


def list_dir(path: str) -> tuple[str, ...] | None:
    """The sorted entry names of directory ``path``, or None when it cannot be listed."""
    try:
        return tuple(sorted(os.listdir(path)))
    except (OSError, ValueError):
        return None


def which_in(env: Mapping[str, str]) -> Which:
    """A finder that looks programs up on ``env``'s PATH.

    A name with a directory part (``/usr/local/cuda/bin/nvcc``) is checked as
    it is: the result is that path when it is an executable file.
    """
    search_path = env.get("PATH", os.defpath)

    def which(name: str) -> str | None:
        try:
            return shutil.which(name, path=search_path)
        except (OSError, ValueError):
            return None

    return which
