"""PEP 751 locks written by other tools (uv, pip), read for this host.

A ``pylock.toml`` without ``[tool.torchlock]`` holds no selection facts (the driver it
was planned for, the variant's reasons) and no targets: it is read with packaging's PEP
751 model (``packaging.pylock``), each package's marker evaluated for this host, and
turned into one target of torchlock's :class:`~torchlock.lockfiles.model.Lock`. The
variant is the torch build's own local label (``+cu121``) when it has one, else the one
the compatibility matrix says the default index serves for that release; verification
then checks what it can, and says that the facts are unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import Version

from torchlock.artifacts import is_safe_filename
from torchlock.errors import LockfileError
from torchlock.lockfiles.model import (
    Lock,
    LockedFile,
    LockedPackage,
    LockInputs,
    LockSelection,
    LockTarget,
)
from torchlock.matrix.ecosystem import is_variant_label
from torchlock.matrix.load import load_matrix
from torchlock.target import Platform

UNKNOWN = "unknown"


def is_foreign(data: Mapping[str, Any]) -> bool:
    """Whether a parsed ``pylock.toml`` was written by another tool (no torchlock table)."""
    tool = data.get("tool")
    return not (isinstance(tool, dict) and "torchlock" in tool)


def from_pylock(
    data: dict[str, Any], path: str, *, platform: Platform, python: str, environment: dict[str, str]
) -> Lock:
    """The lock in ``data`` (another tool's PEP 751 document) for ``platform``.

    ``python`` (X.Y) is the interpreter the environment gets; ``environment`` the PEP 508
    marker values of this host, which decide what it installs.
    """
    from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError

    try:
        document = Pylock.from_dict(data)
    except (PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise LockfileError(path, f"not a valid PEP 751 lock: {exc}") from None
    if document.requires_python is not None and not document.requires_python.contains(
        f"{python}.0", prereleases=True
    ):
        raise LockfileError(
            path,
            f"the lock requires Python {document.requires_python}, and this host's is {python}",
            place="requires-python",
        )
    subdir = platform.conda_subdir
    packages = []
    for i, package in enumerate(document.packages):
        where = f"packages[{i}] ({package.name})"
        if package.marker is not None and not package.marker.evaluate(environment):
            continue
        if package.vcs or package.directory or package.archive:
            raise LockfileError(
                path,
                "a VCS, directory or archive package: torchlock installs wheels and sdists",
                place=where,
            )
        if package.version is None:
            raise LockfileError(path, "no version: torchlock installs pinned packages", place=where)
        wheels = tuple(
            _file(w.name, w.url, w.hashes, w.size, path, where) for w in package.wheels or ()
        )
        sdist = None
        if package.sdist is not None:
            s = package.sdist
            sdist = _file(s.name, s.url, s.hashes, s.size, path, f"{where}.sdist")
        if not wheels and sdist is None:
            raise LockfileError(path, "no wheel and no sdist", place=where)
        packages.append(
            LockedPackage(
                name=canonicalize_name(package.name),
                version=package.version,
                index=package.index or "",
                platforms=(subdir,),
                marker=None,
                requires_python=package.requires_python,
                dependencies=(),
                wheels=wheels,
                sdist=sdist,
            )
        )
    packages.sort(key=lambda p: (p.name, p.version))
    torch = next((p.version for p in packages if p.name == "torch"), None)
    variant = _variant(torch, platform)
    by = document.created_by or "another tool"
    return Lock(
        python=python,
        inputs=LockInputs(python=python, platforms=(subdir,), no_conda=True),
        selection=LockSelection(
            torch=torch or Version("0"),
            variant=variant,
            policy="compat",
            driver=None,
            max_cuda=None,
            reasons=(
                f"the lock was written by {by}: the facts its build was chosen by are unknown",
            ),
        ),
        targets=(
            LockTarget(
                platform=subdir,
                torch=torch or Version("0"),
                variant=variant,
                cuda=None,
                torch_index="",
                default_index="",
            ),
        ),
        packages=tuple(packages),
    )


def _variant(torch: Version | None, platform: Platform) -> str:
    if torch is None:
        return UNKNOWN
    if is_variant_label(torch.local):
        assert torch.local is not None
        return torch.local
    for release in load_matrix().releases:
        if release.torch == Version(torch.public):
            return release.default_variant.get(platform.key) or UNKNOWN
    return UNKNOWN


def _file(
    name: str | None,
    url: str | None,
    hashes: Mapping[str, str],
    size: int | None,
    path: str,
    where: str,
) -> LockedFile:
    if url is None:
        raise LockfileError(path, "a file without a URL: torchlock downloads by URL", place=where)
    filename = name or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not is_safe_filename(filename):
        raise LockfileError(path, f"not a plain file name: {filename!r}", place=where)
    sha256 = hashes.get("sha256")
    if not sha256:
        raise LockfileError(path, "no sha256 hash: every file is pinned by its sha256", place=where)
    return LockedFile(name=filename, url=url, sha256=sha256.lower(), size=size)
