"""Build an environment at its final place, with the old one kept aside until it verified.

Programs write the environment's path into what they install (script shebangs,
``activate``, ``pyvenv.cfg``, conda's prefix placeholders, the file names inside every
``.pyc``), so the environment is built where it will live: nothing is rewritten after
the fact (rewriting a staging path in a conda prefix shifted bytes inside marshal data,
and ``import torch`` failed with "bad marshal data").

:class:`Placement` owns the final path while a build runs: an existing environment (with
``replace``) is renamed aside first; a build that fails or does not verify is removed and
the old environment renamed back; only a verified build stays, and the old one is then
deleted. A marker file beside the environment (``.NAME.torchlock-building``) records the
builder's process and the aside folder, so that a run that was killed is cleaned up by
the next one: its half-built environment removed, the old one put back.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from torchlock.envs.install import BuildError, remove_tree
from torchlock.system.processes import alive

log = logging.getLogger(__name__)

MARK = ".torchlock-"


def marker_path(final: Path) -> Path:
    """The file that says a torchlock is building at ``final`` (beside it, hidden)."""
    return final.parent / f".{final.name}{MARK}building"


class Placement:
    """The final path of one build: set the old environment aside, keep or roll back."""

    def __init__(self, final: Path, *, replace: bool) -> None:
        self.final = final
        self.replace = replace
        self.aside: Path | None = None
        self._marker = marker_path(final)

    def begin(self) -> None:
        """Clean up after a killed run, then make ``final`` free to build at.

        BuildError when an environment is there and ``replace`` was not given, or when
        another torchlock is building at the same place right now.
        """
        self.final.parent.mkdir(parents=True, exist_ok=True)
        recover(self.final)
        if self.final.exists() or self.final.is_symlink():
            if not self.replace:
                raise BuildError(
                    f"an environment already exists at {self.final}",
                    hint="give --force to replace it (the old one stays until the new one "
                    "verified)",
                )
            self.aside = self.final.parent / f".{self.final.name}{MARK}old-{secrets.token_hex(4)}"
        # the marker first: a kill before the rename still leaves a trail (and recover()
        # then finds no aside folder, so it leaves the old environment where it is)
        self._write("building")
        if self.aside is not None:
            os.replace(self.final, self.aside)

    def _write(self, state: str) -> None:
        record = {
            "pid": os.getpid(),
            "state": state,
            "aside": None if self.aside is None else str(self.aside),
        }
        partial = self._marker.with_name(self._marker.name + ".part")
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, self._marker)

    def keep(self) -> None:
        """The build verified: delete the old environment, if any."""
        self._write("verified")  # from here on a kill keeps the new environment
        try:
            if self.aside is not None:
                remove_tree(self.aside)
        finally:
            self._marker.unlink(missing_ok=True)

    def roll_back(self) -> None:
        """The build failed: remove what it made at ``final`` and put the old one back."""
        try:
            if self.final.exists() or self.final.is_symlink():
                remove_tree(self.final)
            if self.aside is not None and (self.aside.exists() or self.aside.is_symlink()):
                os.replace(self.aside, self.final)
        finally:
            self._marker.unlink(missing_ok=True)


def recover(final: Path) -> bool:
    """Undo a killed build at ``final``, if its marker says one was there; whether one was.

    BuildError when the marker's process is still running (two builds of one place).
    """
    marker = marker_path(final)
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        record = {}
    pid = record.get("pid") if isinstance(record, dict) else None
    if isinstance(pid, int) and pid != os.getpid() and alive(pid):
        raise BuildError(
            f"another torchlock (process {pid}) is building an environment at {final}",
            hint=f"wait for it to finish, or remove {marker} if that process is not torchlock",
        )
    text = record.get("aside") if isinstance(record, dict) else None
    aside = Path(text) if isinstance(text, str) else None
    # only a sibling of ours: the marker is a file anyone could have written
    if aside is not None and not (
        aside.parent == final.parent and aside.name.startswith(f".{final.name}{MARK}old-")
    ):
        log.warning("ignoring the marker %s: it names no folder of torchlock's", marker)
        marker.unlink(missing_ok=True)
        return False
    verified = isinstance(record, dict) and record.get("state") == "verified"
    log.warning("cleaning up after an interrupted build at %s", final)
    if verified:  # killed while deleting the old one: the new one stays
        if aside is not None and aside.exists():
            remove_tree(aside)
    elif aside is None or aside.exists():
        # a half-built environment (and the old one aside, if there was one)
        if final.exists() or final.is_symlink():
            remove_tree(final)
        if aside is not None:
            os.replace(aside, final)
    # else: killed before the old one was set aside: it is still at final, untouched
    marker.unlink(missing_ok=True)
    return True
