"""Finding the project spec and its lock, shared by solve, check and export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torchlock.errors import InputError

if TYPE_CHECKING:
    from torchlock.lockfiles.model import Lock
    from torchlock.lockfiles.spec import LoadedSpec


def relative(path: Path) -> Path:
    """``path`` relative to the current directory when under it (messages name it so)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def load_spec(spec_file: str | None) -> LoadedSpec | None:
    """The spec named, else the one in the current directory, else None."""
    from torchlock.lockfiles import spec as specs

    if spec_file is not None:
        return specs.load(Path(spec_file))
    found = specs.find_spec(Path.cwd())
    return None if found is None else specs.load(relative(found))


def lock_location(lock_file: str | None, spec_file: str | None) -> tuple[Path, LoadedSpec | None]:
    """(the lock to read, the spec if one is used): --lock, else the spec's lock."""
    loaded = load_spec(spec_file)
    if lock_file is not None:
        return Path(lock_file), loaded
    if loaded is not None:
        return loaded.lock_path, loaded
    default = Path("pylock.toml")
    if default.is_file():
        return default, None
    raise InputError(
        "no lock given and no project spec here",
        hint="give --lock FILE, or run `torchlock init` and `torchlock solve`",
    )


def read_lock(path: Path) -> Lock:
    from torchlock.lockfiles import pylock
    from torchlock.lockfiles.files import read_text

    return pylock.parse(read_text(path), str(path))
