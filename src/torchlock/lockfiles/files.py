"""Reading and writing lockfiles and exports: atomic writes, errors that name the file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torchlock.errors import LockfileError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, LF as given) to ``path`` all at once.

    The bytes go to a temporary file in the same directory, are flushed to disk, then
    renamed over ``path``: a reader sees the old file or the new one, never a part, and a
    failure leaves the old file as it was.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise LockfileError(str(path), f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise LockfileError(str(path), f"cannot write: {exc.strerror}") from None
        raise


def read_text(
    path: Path, *, what: str = "lockfile", hint: str = "run `torchlock solve` to write it"
) -> str:
    """The UTF-8 text of ``path``; a LockfileError (exit 2) when missing or unreadable.

    A byte order mark at the start (Windows editors write one) is dropped: TOML allows
    none, and the parser would report it as an odd key.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LockfileError(str(path), f"no such {what}", hint=hint) from None
    except OSError as exc:
        raise LockfileError(str(path), f"cannot read the {what}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockfileError(
            str(path), f"not UTF-8 text (byte {exc.start})", place=f"byte {exc.start}"
        ) from None
    return text.removeprefix("\ufeff")
