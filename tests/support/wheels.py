"""Tiny but valid wheels (and sdists), built by the tests: installable by a real pip.

Archives are deterministic (fixed timestamps, sorted members), so the same arguments give
the same bytes and the same sha256 across runs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

_DATE = (2024, 1, 1, 0, 0, 0)


def dist_name(name: str) -> str:
    """The file-name form of a project name: nvidia-cublas-cu12 → nvidia_cublas_cu12."""
    return canonicalize_name(name).replace("-", "_")


def metadata_text(
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    summary: str = "A tiny test distribution",
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Provides-Extra: {extra}" for extra in provides_extra)
    lines.extend(f"Requires-Dist: {req}" for req in requires_dist)
    return "\n".join(lines) + "\n\n" + f"The {name} distribution, built by the tests.\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_filename(name: str, version: str, tags: str, build: str | None = None) -> str:
    parts = [dist_name(name), version, *([build] if build else []), tags]
    return "-".join(parts) + ".whl"


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    tags: str = "py3-none-any",
    build: str | None = None,
    extra_files: Mapping[str, bytes | str] | None = None,
    metadata: str | None = None,
) -> Path:
    """Write ``NAME-VERSION[-BUILD]-TAGS.whl`` into ``directory`` and return its path.

    ``tags`` is the compressed tag set of the file name (``cp310-cp310-manylinux_2_17_x86_64``).
    The wheel holds a top-level package named after the project, METADATA, WHEEL and a RECORD
    with real hashes. ``metadata``, when given, is the METADATA text as is (for shapes
    real projects have: folded fields, multi-line licenses, other Metadata-Versions).
    """
    directory.mkdir(parents=True, exist_ok=True)
    package = dist_name(name)
    info = f"{package}-{version}.dist-info"
    python_tag, abi_tag, platform_tag = tags.split("-")
    wheel_lines = ["Wheel-Version: 1.0", "Generator: torchlock-tests", "Root-Is-Purelib: "]
    wheel_lines[-1] += "true" if platform_tag == "any" else "false"
    if build:
        wheel_lines.append(f"Build: {build}")
    for py in python_tag.split("."):
        for abi in abi_tag.split("."):
            wheel_lines.extend(f"Tag: {py}-{abi}-{plat}" for plat in platform_tag.split("."))
    files: dict[str, bytes] = {
        f"{package}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    for path, content in (extra_files or {}).items():
        files[path] = content.encode() if isinstance(content, str) else content
    if metadata is None:
        metadata = metadata_text(
            name,
            version,
            requires_dist=requires_dist,
            requires_python=requires_python,
            provides_extra=provides_extra,
        )
    files[f"{info}/METADATA"] = metadata.encode()
    files[f"{info}/WHEEL"] = ("\n".join(wheel_lines) + "\n").encode()
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    target = directory / wheel_filename(name, version, tags, build)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return target


# A PEP 517 backend in the sdist itself (``backend-path``), needing nothing but the standard
# library: the tests build sdists with the real front ends (build, pip, uv) and no index.
# It answers with the METADATA kept in ``_backend/METADATA`` (what the build "computes"),
# which may differ from PKG-INFO, so that tests see which of the two was read.
_BACKEND = """\
import base64, hashlib, os, zipfile
{prelude}
HERE = os.path.dirname(os.path.abspath(__file__))
NAME, VERSION, PACKAGE = {name!r}, {version!r}, {package!r}
INFO = PACKAGE + "-" + VERSION + ".dist-info"
WHEEL = (
    "Wheel-Version: 1.0\\nGenerator: torchlock-tests\\n"
    "Root-Is-Purelib: true\\nTag: py3-none-any\\n"
)


def _metadata():
    with open(os.path.join(HERE, "METADATA"), encoding="utf-8") as handle:
        return handle.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    folder = os.path.join(metadata_directory, INFO)
    os.makedirs(folder)
    with open(os.path.join(folder, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(_metadata())
    with open(os.path.join(folder, "WHEEL"), "w", encoding="utf-8") as handle:
        handle.write(WHEEL)
    return INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{
        PACKAGE + "/__init__.py": ("__version__ = %r\\n" % VERSION).encode(),
        INFO + "/METADATA": _metadata().encode(),
        INFO + "/WHEEL": WHEEL.encode(),
    }}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(INFO + "/RECORD,,")
    files[INFO + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = PACKAGE + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
"""

_PYPROJECT = """\
[build-system]
requires = []
build-backend = "tl_backend"
backend-path = ["_backend"]
"""


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    static: bool = True,
    built_requires_dist: Iterable[str] | None = None,
    backend_prelude: str = "",
) -> Path:
    """Write ``name-version.tar.gz``: a real sdist that pip, uv and ``build`` can build.

    ``static``: PKG-INFO is Metadata-Version 2.2 with nothing Dynamic, so PEP 643 makes its
    Requires-Dist the built wheel's; otherwise it is 2.1 and only the backend can tell.
    The backend answers with ``built_requires_dist`` (default: ``requires_dist``);
    ``backend_prelude`` is code the backend runs on import (``import torch``, say).
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{dist_name(name)}-{version}"
    pkg_info = metadata_text(
        name, version, requires_dist=requires_dist, requires_python=requires_python
    )
    if static:
        pkg_info = pkg_info.replace("Metadata-Version: 2.1", "Metadata-Version: 2.2", 1)
    built = metadata_text(
        name,
        version,
        requires_dist=requires_dist if built_requires_dist is None else built_requires_dist,
        requires_python=requires_python,
    )
    backend = _BACKEND.format(
        prelude=backend_prelude, name=name, version=version, package=dist_name(name)
    )
    members = {
        f"{stem}/PKG-INFO": pkg_info,
        f"{stem}/pyproject.toml": _PYPROJECT,
        f"{stem}/_backend/tl_backend.py": backend,
        f"{stem}/_backend/METADATA": built,
    }
    target = directory / f"{stem}.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member, text in members.items():
            data = text.encode()
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            entry.mtime = 1704067200
            entry.mode = 0o644
            archive.addfile(entry, io.BytesIO(data))
    import gzip

    target.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return target


def wheel_metadata(path: Path) -> bytes:
    """The METADATA bytes of a built wheel (what an index serves as ``<file>.metadata``)."""
    with zipfile.ZipFile(path) as archive:
        # top-level only: a real wheel may vendor others' .dist-info folders deeper down
        (member,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
        ]
        return archive.read(member)
