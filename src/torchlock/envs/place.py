"""Build an environment beside its final place, then move it there in one rename.

The new environment is built in a hidden sibling folder (``.NAME.torchlock-XXXX`` in
the same parent, so the final ``os.replace`` is a rename on one file system). Programs
write the folder's path into what they install (script shebangs, ``activate``,
``pyvenv.cfg``, conda's prefix placeholders), so before the move :func:`relocate`
rewrites the staging path to the final one: in text files as text, in binary files the
way conda does it, inside the NUL-terminated string, padded with NULs (the final path
is always the shorter one: the staging name adds to it).

:func:`move_into_place` never leaves the final path empty or half-built: an existing
environment is renamed aside, the new one renamed in, and only then the old one deleted;
if the second rename fails the old one is put back.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from torchlock.envs.install import BuildError, remove_tree

STAGING_MARK = ".torchlock-"
LARGEST_REWRITTEN = 256 * 1024 * 1024  # larger files (CUDA libraries) are never prefixed


def staging_dir(final: Path) -> Path:
    """A new, empty-named sibling of ``final`` to build in (not created here)."""
    return final.parent / f".{final.name}{STAGING_MARK}{secrets.token_hex(4)}"


def _rewrite_binary(data: bytes, old: bytes, new: bytes) -> bytes:
    """``old`` → ``new`` in each NUL-terminated string holding it, padded to its length."""
    pattern = re.compile(re.escape(old) + rb"([^\0]*?)\0")

    def replace(match: re.Match[bytes]) -> bytes:
        whole = match.group(0)
        text = whole.replace(old, new)
        return text[:-1] + b"\0" * (len(whole) - len(text) + 1)

    return pattern.sub(replace, data)


def _rewrite_file(path: Path, old: bytes, new: bytes) -> bool:
    try:
        if path.stat().st_size > LARGEST_REWRITTEN:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    if old not in data:
        return False
    if b"\0" in data:
        if len(new) > len(old):
            return False
        changed = _rewrite_binary(data, old, new)
    else:
        changed = data.replace(old, new)
    mode = path.stat().st_mode
    partial = path.with_name(path.name + STAGING_MARK + "part")
    partial.write_bytes(changed)
    os.chmod(partial, mode)
    os.replace(partial, path)
    return True


def relocate(staging: Path, final: Path, *, folders: tuple[str, ...] | None = None) -> int:
    """Rewrite ``staging``'s path to ``final``'s in the files under it; how many changed.

    ``folders`` limits the walk (a venv: its bin/ or Scripts/ and pyvenv.cfg); None walks
    everything (a conda prefix, where any file may hold the prefix). Symbolic links that
    point into the staging folder are pointed at the final one.
    """
    old, new = str(staging), str(final)
    changed = 0
    roots = [staging] if folders is None else [staging / f for f in folders]
    for root in roots:
        if root.is_symlink():
            continue
        if root.is_file():
            changed += _rewrite_file(root, old.encode(), new.encode())
            continue
        for directory, dirnames, filenames in os.walk(root):
            for name in [*filenames, *dirnames]:
                path = Path(directory) / name
                if path.is_symlink():
                    target = os.readlink(path)
                    if target.startswith(old):
                        path.unlink()
                        path.symlink_to(new + target[len(old) :])
                        changed += 1
                elif name in filenames:
                    changed += _rewrite_file(path, old.encode(), new.encode())
    return changed


def move_into_place(staging: Path, final: Path, *, replace: bool) -> None:
    """Rename ``staging`` to ``final``; with ``replace`` an existing ``final`` goes last."""
    if not final.exists() and not final.is_symlink():
        os.replace(staging, final)
        return
    if not replace:
        raise BuildError(
            f"an environment already exists at {final}",
            hint="give --force to replace it (the old one stays until the new one verified)",
        )
    aside = final.parent / f".{final.name}{STAGING_MARK}old-{secrets.token_hex(4)}"
    os.replace(final, aside)
    try:
        os.replace(staging, final)
    except BaseException:
        os.replace(aside, final)
        raise
    remove_tree(aside)
