"""Source distributions (pure): their PKG-INFO, and whether it can be trusted as is.

An sdist is a ``.tar.gz`` (or, for old projects, a ``.zip``) holding one top folder
``{name}-{version}/`` with ``PKG-INFO`` in it (the source distribution format
specification). Only that one member is read here; nothing is extracted.

PEP 643: from Metadata-Version 2.2 on, "if a field is not marked as Dynamic, then the
value of the field in any wheel built from the sdist MUST match the value in the sdist".
So a PKG-INFO of 2.2 or newer whose Requires-Dist, Requires-Python and Provides-Extra are
not Dynamic is the metadata of the wheel the sdist builds, and locking needs no build.
"""

from __future__ import annotations

from typing import IO, Protocol

from packaging.version import InvalidVersion, Version

from torchlock.artifacts import Artifact, BuildTorch, CoreMetadata
from torchlock.errors import PackageIndexError

# A PKG-INFO larger than this is refused (real ones are a few kB to a few hundred kB,
# the long description included).
MAX_PKG_INFO_BYTES = 4 << 20

# The fields resolution reads; when any of them is Dynamic the backend must be asked.
RESOLUTION_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})


class SdistBuilder(Protocol):
    """Runs an sdist's build backend to learn the metadata of the wheel it would build."""

    def wheel_metadata(
        self, sdist: IO[bytes], artifact: Artifact, *, torch: BuildTorch | None = None
    ) -> str:
        """The METADATA text of the wheel ``sdist`` (the verified file) builds.

        ``torch``: the target's torch, installed into the build environment of the
        projects this builder was told build against it (and only theirs).
        """
        ...

    def uses_torch(self, project: str) -> bool:
        """Whether ``project``'s build environment gets the target's torch (its metadata
        then depends on which torch, and is remembered per torch)."""
        ...


def is_static(metadata: CoreMetadata) -> bool:
    """Whether PEP 643 makes this PKG-INFO's dependency fields those of the built wheel."""
    try:
        version = Version(metadata.metadata_version or "1.0")
    except InvalidVersion:
        return False
    return version >= Version("2.2") and not (metadata.dynamic & RESOLUTION_FIELDS)


def read_pkg_info(file: IO[bytes], *, filename: str) -> str | None:
    """The text of ``{top}/PKG-INFO`` in the sdist ``file``; None when it has none.

    ``top`` is the archive's single top folder. A PKG-INFO deeper in the tree (a vendored
    project's) never stands for the sdist. PackageIndexError when the archive is unreadable
    or the member too large.
    """
    # Only a solve that meets an sdist reads one: tarfile and zipfile (with bz2 and lzma)
    # cost every cold solve 2.5 ms if imported with the index client.
    import tarfile
    import zipfile

    try:
        if filename.endswith(".zip"):
            return _from_zip(file, filename)
        return _from_tar(file, filename)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise PackageIndexError(
            f"cannot read sdist {filename}",
            evidence=[f"not a valid archive: {exc}"],
            hint="the file on the index is broken; pin another version or report it upstream",
        ) from None


def _top_level_pkg_info(names: list[str]) -> str | None:
    tops = {name.split("/", 1)[0] for name in names if name and not name.startswith("/")}
    if len(tops) != 1:
        return None
    wanted = f"{tops.pop()}/PKG-INFO"
    return wanted if wanted in names else None


def _too_large(filename: str, size: int) -> PackageIndexError:
    return PackageIndexError(
        f"the PKG-INFO of {filename} is too large",
        evidence=[f"{size} bytes; at most {MAX_PKG_INFO_BYTES} are read"],
    )


def _from_tar(file: IO[bytes], filename: str) -> str | None:
    import tarfile

    with tarfile.open(fileobj=file, mode="r:*") as archive:
        members = {m.name: m for m in archive.getmembers()}
        name = _top_level_pkg_info(list(members))
        if name is None or not members[name].isfile():
            return None
        if members[name].size > MAX_PKG_INFO_BYTES:
            raise _too_large(filename, members[name].size)
        handle = archive.extractfile(members[name])
        if handle is None:
            return None
        return handle.read(MAX_PKG_INFO_BYTES).decode("utf-8", errors="replace")


def _from_zip(file: IO[bytes], filename: str) -> str | None:
    import zipfile

    with zipfile.ZipFile(file) as archive:
        name = _top_level_pkg_info(archive.namelist())
        if name is None:
            return None
        size = archive.getinfo(name).file_size
        if size > MAX_PKG_INFO_BYTES:
            raise _too_large(filename, size)
        with archive.open(name) as handle:
            return handle.read(MAX_PKG_INFO_BYTES).decode("utf-8", errors="replace")
