"""A local conda channel, built by the tests: small noarch packages in the real format.

Each package is a ``.tar.bz2`` archive holding ``info/index.json``, ``info/paths.json``
and its files; the channel is indexed by py-rattler's own ``index_fs`` (which writes
``noarch/repodata.json``). Archives are deterministic (fixed times, sorted members).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torchlock.lockfiles.model import CondaPackage

_MTIME = 1704067200


@dataclass(frozen=True, kw_only=True)
class CondaSpec:
    name: str
    version: str
    build: str = "0"
    depends: Sequence[str] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # path in the prefix -> text


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    entry = tarfile.TarInfo(name)
    entry.size = len(data)
    entry.mtime = _MTIME
    entry.mode = 0o644
    archive.addfile(entry, io.BytesIO(data))


def build_conda_package(subdir: Path, spec: CondaSpec) -> Path:
    """Write ``NAME-VERSION-BUILD.tar.bz2`` (noarch: generic) into ``subdir``."""
    subdir.mkdir(parents=True, exist_ok=True)
    files = dict(spec.files) or {f"share/{spec.name}/README.txt": f"{spec.name} {spec.version}\n"}
    index = {
        "name": spec.name,
        "version": spec.version,
        "build": spec.build,
        "build_number": 0,
        "depends": list(spec.depends),
        "license": "MIT",
        "noarch": "generic",
        "platform": None,
        "arch": None,
        "subdir": "noarch",
        "timestamp": _MTIME * 1000,
    }
    paths = {
        "paths_version": 1,
        "paths": [
            {
                "_path": path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "size_in_bytes": len(text.encode()),
            }
            for path, text in sorted(files.items())
        ],
    }
    members = {
        "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
        "info/paths.json": json.dumps(paths, indent=2, sort_keys=True).encode(),
        "info/files": "".join(f"{p}\n" for p in sorted(files)).encode(),
        **{path: text.encode() for path, text in files.items()},
    }
    target = subdir / f"{spec.name}-{spec.version}-{spec.build}.tar.bz2"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        for name in sorted(members):
            _add(archive, name, members[name])
    target.write_bytes(buffer.getvalue())
    return target


def build_channel(root: Path, specs: Sequence[CondaSpec]) -> Path:
    """A channel folder with the packages under ``noarch/``, indexed by py-rattler."""
    from rattler.index import index_fs

    for spec in specs:
        build_conda_package(root / "noarch", spec)
    (root / "linux-64").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(root, write_zst=False, write_shards=False))
    return root


def locked(root: Path, spec: CondaSpec) -> CondaPackage:
    """The lock entry of a package of the channel at ``root`` (URL, sha256, md5)."""
    path = root / "noarch" / f"{spec.name}-{spec.version}-{spec.build}.tar.bz2"
    data = path.read_bytes()
    return CondaPackage(
        name=spec.name,
        version=spec.version,
        build=spec.build,
        platform="noarch",
        url=path.resolve().as_uri(),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
    )
