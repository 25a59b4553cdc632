"""A local conda channel, built by the tests: small packages in the real format.

Each package is a ``.tar.bz2`` archive holding ``info/index.json``, ``info/paths.json``
and its files; the channel is indexed by py-rattler's own ``index_fs`` (which writes
``<subdir>/repodata.json``). Archives are deterministic (fixed times, sorted members).
``base_channel`` holds a Python-like conda base (python for linux-64 and win-64, their
platform libraries, a noarch pip) for solving the base of a lock.
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
    subdir: str = "noarch"  # noarch: a generic noarch package


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    entry = tarfile.TarInfo(name)
    entry.size = len(data)
    entry.mtime = _MTIME
    entry.mode = 0o644
    archive.addfile(entry, io.BytesIO(data))


def build_conda_package(subdir: Path, spec: CondaSpec) -> Path:
    """Write ``NAME-VERSION-BUILD.tar.bz2`` (for ``spec.subdir``) into the folder ``subdir``."""
    subdir.mkdir(parents=True, exist_ok=True)
    files = dict(spec.files) or {f"share/{spec.name}/README.txt": f"{spec.name} {spec.version}\n"}
    index: dict[str, object] = {
        "name": spec.name,
        "version": spec.version,
        "build": spec.build,
        "build_number": 0,
        "depends": list(spec.depends),
        "license": "MIT",
        "subdir": spec.subdir,
        "timestamp": _MTIME * 1000,
    }
    if spec.subdir == "noarch":
        index |= {"noarch": "generic", "platform": None, "arch": None}
    else:
        system, _, bits = spec.subdir.partition("-")
        index |= {"platform": system, "arch": "x86_64" if bits == "64" else bits}
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
    """A channel folder with the packages under their subdirs, indexed by py-rattler."""
    from rattler.index import index_fs

    for spec in specs:
        build_conda_package(root / spec.subdir, spec)
    (root / "noarch").mkdir(parents=True, exist_ok=True)
    (root / "linux-64").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(root, write_zst=False, write_shards=False))
    return root


def locked(root: Path, spec: CondaSpec) -> CondaPackage:
    """The lock entry of a package of the channel at ``root`` (URL, sha256, md5)."""
    path = root / spec.subdir / f"{spec.name}-{spec.version}-{spec.build}.tar.bz2"
    data = path.read_bytes()
    return CondaPackage(
        name=spec.name,
        version=spec.version,
        build=spec.build,
        platform="linux-64" if spec.subdir == "noarch" else spec.subdir,
        subdir=spec.subdir,
        channel=root.resolve().as_uri(),
        url=path.resolve().as_uri(),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        size=len(data),
        depends=tuple(spec.depends),
    )


def _python(version: str, subdir: str, depends: tuple[str, ...]) -> CondaSpec:
    tag = "linux" if subdir.startswith("linux") else "win"
    return CondaSpec(
        name="python",
        version=version,
        build=f"h{tag}_0_cpython",
        subdir=subdir,
        depends=depends,
        files={f"share/python/{subdir}.txt": f"python {version} for {subdir}\n"},
    )


BASE_SPECS = (
    CondaSpec(name="libzlib", version="1.3.1", build="h0_0", subdir="linux-64"),
    CondaSpec(
        name="libzlib", version="1.3.1", build="h0_1", subdir="linux-64", depends=("__glibc >=99",)
    ),
    CondaSpec(name="ucrt", version="10.0.22621.0", build="h57928b3_1", subdir="win-64"),
    _python("3.10.14", "linux-64", ("__glibc >=2.17,<3.0.a0", "libzlib >=1.3.1,<2.0a0")),
    _python("3.11.9", "linux-64", ("__glibc >=2.17,<3.0.a0", "libzlib >=1.3.1,<2.0a0")),
    _python("3.10.14", "win-64", ("ucrt >=10.0.20348.0",)),
    _python("3.11.9", "win-64", ("ucrt >=10.0.20348.0",)),
    CondaSpec(name="pip", version="24.0", build="pyhd8ed1ab_0", depends=("python >=3.7",)),
    CondaSpec(name="pip", version="23.3", build="pyhd8ed1ab_0", depends=("python >=3.7",)),
)


def base_channel(root: Path) -> Path:
    """A channel with the conda base of a lock (python 3.10/3.11 for linux-64 and win-64,
    a noarch pip); one libzlib build needs a glibc no target has, so it is never chosen."""
    return build_channel(root, BASE_SPECS)
