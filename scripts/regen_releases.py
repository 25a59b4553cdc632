#!/usr/bin/env python3
"""Regenerate ``src/torchlock/matrix/data/releases.json`` from a package index.

The script reads the PEP 691 JSON listings of ``torch``, ``torchvision`` and
``torchaudio`` on a "simple" index (normally the default index, PyPI) and the
core metadata (``METADATA``) of a handful of wheels per release, then writes,
for every final torch release at or above ``--min-torch``:

* the torchvision / torchaudio release that pairs with it,
* the Python versions that have torch wheels, per platform,
* the CUDA variant of the torch wheel the index serves on each platform,
* the release date and ``Requires-Python`` of torch.

Core metadata is taken from the PEP 658/714 ``<wheel url>.metadata`` file when
the listing advertises it (``core-metadata`` / ``data-dist-info-metadata``);
otherwise the ``.dist-info/METADATA`` member is read straight out of the wheel
with HTTP range requests (only the zip central directory and that member are
transferred, never the whole wheel).

Only the standard library and ``packaging`` are used.  Usage::

    python scripts/regen_releases.py --index-url https://<index>/simple/

The output is deterministic: the same index content gives the same bytes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import io
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

SCHEMA: Final = 1
GENERATED_BY: Final = "scripts/regen_releases.py"
SOURCE: Final = (
    "PEP 691 listings and PEP 658 wheel metadata of torch, torchvision and "
    "torchaudio on the default package index (PyPI)"
)
DEFAULT_OUTPUT: Final = (
    Path(__file__).resolve().parent.parent
    / "src"
    / "torchlock"
    / "matrix"
    / "data"
    / "releases.json"
)
PEP691_JSON: Final = "application/vnd.pypi.simple.v1+json"
USER_AGENT: Final = "torchlock-regen-releases/1 (+scripts/regen_releases.py)"
COMPANIONS: Final = ("torchvision", "torchaudio")

# A companion release counts as "released alongside" a torch release when its
# first file was uploaded in [torch upload - LEAD, next torch upload - LEAD).
LOCKSTEP_LEAD: Final = dt.timedelta(hours=12)

# Platform keys used in releases.json and the environment markers of each.
PLATFORM_ENV: Final[Mapping[str, Mapping[str, str]]] = {
    "linux-x86_64": {
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
        "os_name": "posix",
    },
    "linux-aarch64": {
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "sys_platform": "linux",
        "os_name": "posix",
    },
    "windows-x86_64": {
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "sys_platform": "win32",
        "os_name": "nt",
    },
    "windows-aarch64": {
        "platform_system": "Windows",
        "platform_machine": "ARM64",
        "sys_platform": "win32",
        "os_name": "nt",
    },
    "macos-x86_64": {
        "platform_system": "Darwin",
        "platform_machine": "x86_64",
        "sys_platform": "darwin",
        "os_name": "posix",
    },
    "macos-aarch64": {
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "sys_platform": "darwin",
        "os_name": "posix",
    },
}

# Which wheel of a companion release to read the torch requirement from:
# the aarch64 wheels of some older releases (torchvision 0.14.x, torchaudio
# 0.13.x / 2.0.0) omit the ``torch==`` pin that the other wheels carry.
COMPANION_PLATFORM_PREFERENCE: Final = (
    "linux-x86_64",
    "windows-x86_64",
    "macos-aarch64",
    "macos-x86_64",
    "linux-aarch64",
    "windows-aarch64",
)

STATIC_NOTES: Final = (
    "torchvision/torchaudio pairing rule, in order: (1) the newest non-yanked companion "
    "release whose wheel metadata pins torch==<this version> (a local label such as "
    "+cu117 is ignored); (2) otherwise the companion release published alongside this "
    "torch release (first upload between 12 h before this torch release and 12 h before "
    "the next torch release) whose torch requirement is a range that admits this version "
    "or is missing; (3) otherwise the newest companion release whose torch requirement is "
    "a range that admits this version; (4) otherwise null. The requirement is read from "
    "one wheel per companion release, preferring Linux x86_64 (the aarch64 wheels of "
    "torchvision 0.14.x and torchaudio 0.13.x/2.0.0 carry an unpinned 'torch').",
    "Yanked companion releases are never paired; companion releases first uploaded more "
    "than 12 h before the oldest torch release in this file are not considered.",
    "python: CPython versions with a torch wheel for that platform, from wheel filename "
    "tags (cp312 -> 3.12; a free-threaded ABI tag such as cp313t is listed separately as "
    "3.13t); macOS universal2 wheels count for both macOS keys; yanked files are ignored; "
    "platforms without a torch wheel are omitted.",
    "default_variant: the build a plain install from this index gets on that platform. It "
    "comes from the Requires-Dist of the inspected wheel (highest build tag, then newest "
    "non-free-threaded CPython), evaluating environment markers for that platform: a pin "
    "of the CUDA runtime (nvidia-cuda-runtime-cuXY, nvidia-cuda-runtime, or "
    "cuda-toolkit[cudart]) == X.Y.z gives 'cuXY' (12.1 -> cu121, 13.0 -> cu130). When no "
    "CUDA runtime requirement applies, torch/version.py inside the wheel decides: a CUDA "
    "version there means the CUDA libraries are bundled in the wheel (how PyPI Linux "
    "x86_64 wheels were built before torch 1.13, e.g. 1.12.1+cu102), otherwise 'cpu'. "
    "default_variant_evidence holds the Requires-Dist line (or version.py line) behind "
    "each non-cpu variant.",
    "released: UTC date of the earliest PEP 700 upload-time among the files of that torch "
    "version (omitted when the index gives no upload time). requires_python: the "
    "Requires-Python the listing gives for torch's wheels.",
    "When the index does not advertise PEP 658 metadata for a wheel, METADATA (and "
    "torch/version.py) are read from the wheel itself with HTTP range requests.",
)


# --------------------------------------------------------------------------- HTTP


class IndexDataError(RuntimeError):
    """The index answered something this script cannot use."""


def _request(
    url: str,
    headers: Mapping[str, str],
    timeout: float,
    retries: int = 4,
    *,
    partial: bool = False,
) -> tuple[int, bytes, str]:
    """GET ``url``; returns (status, body, content type). Retries transient errors.

    With ``partial`` (a Range request) a response other than 206 is returned
    without reading its body, so an index that ignores ranges never makes us
    download a whole wheel.
    """
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    delay = 1.0
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                ctype = resp.headers.get("Content-Type", "")
                if partial and resp.status != 206:
                    return resp.status, b"", ctype
                return resp.status, resp.read(), ctype
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503, 504) or attempt == retries - 1:
                raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == retries - 1:
                raise
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


class HTTPRangeFile(io.RawIOBase):
    """Read-only, seekable view of a remote file fetched with HTTP range requests."""

    MIN_FETCH: Final = 256 * 1024

    def __init__(self, url: str, size: int, timeout: float) -> None:
        super().__init__()
        self._url = url
        self._size = size
        self._timeout = timeout
        self._pos = 0
        self._chunks: list[tuple[int, bytes]] = []
        self.bytes_fetched = 0
        # zipfile starts at the end: prefetch the tail (EOCD + most central directories).
        self._fetch(max(0, size - self.MIN_FETCH), size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        elif whence == io.SEEK_END:
            self._pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        return self._pos

    def _fetch(self, start: int, end: int) -> bytes:
        status, body, _ = _request(
            self._url, {"Range": f"bytes={start}-{end - 1}"}, self._timeout, partial=True
        )
        if status != 206 or len(body) != end - start:
            raise IndexDataError(
                f"{self._url}: HTTP range requests not honoured (status {status}); "
                "cannot read wheel metadata without downloading the whole wheel"
            )
        self.bytes_fetched += len(body)
        self._chunks.append((start, body))
        return body

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        for start, data in self._chunks:
            if start <= self._pos and end <= start + len(data):
                out = data[self._pos - start : end - start]
                self._pos = end
                return out
        fetch_end = min(self._size, max(end, self._pos + self.MIN_FETCH))
        data = self._fetch(self._pos, fetch_end)
        out = data[: end - self._pos]
        self._pos = end
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# ------------------------------------------------------------------------ listing


@dataclass(frozen=True)
class DistFile:
    project: str
    filename: str
    url: str
    version: Version
    is_wheel: bool
    build: tuple[int, str] | tuple[()]
    tags: frozenset[Tag]
    size: int | None
    upload_time: dt.datetime | None
    requires_python: str | None
    yanked: str | None  # None when not yanked, else the reason ("" if none given)
    metadata_sha256: str | None
    metadata_advertised: bool


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def fetch_listing(index_url: str, project: str, timeout: float) -> list[DistFile]:
    """Fetch and parse the PEP 691 JSON listing of ``project``."""
    page = urllib.parse.urljoin(index_url, f"{canonicalize_name(project)}/")
    status, body, ctype = _request(page, {"Accept": PEP691_JSON}, timeout)
    if PEP691_JSON not in ctype:
        raise IndexDataError(f"{page}: expected {PEP691_JSON}, got {ctype!r} (status {status})")
    doc = json.loads(body)
    api = str(doc.get("meta", {}).get("api-version", "1.0"))
    if not api.startswith("1."):
        raise IndexDataError(f"{page}: unsupported PEP 691 api-version {api}")
    files: list[DistFile] = []
    for entry in doc.get("files", []):
        filename = entry["filename"]
        build: tuple[int, str] | tuple[()] = ()
        tags: frozenset[Tag] = frozenset()
        try:
            if filename.endswith(".whl"):
                name, version, build, tags = parse_wheel_filename(filename)
                is_wheel = True
            else:
                name, version = parse_sdist_filename(filename)
                is_wheel = False
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if name != canonicalize_name(project):
            continue
        yanked_raw = entry.get("yanked", False)
        yanked = None if yanked_raw is False else ("" if yanked_raw is True else str(yanked_raw))
        meta_raw = entry.get("core-metadata", entry.get("data-dist-info-metadata", False))
        advertised = meta_raw is True or isinstance(meta_raw, dict)
        meta_sha = meta_raw.get("sha256") if isinstance(meta_raw, dict) else None
        size = entry.get("size")
        files.append(
            DistFile(
                project=project,
                filename=filename,
                url=urllib.parse.urljoin(page, entry["url"]),
                version=version,
                is_wheel=is_wheel,
                build=build,
                tags=tags,
                size=size if isinstance(size, int) else None,
                upload_time=_parse_time(entry.get("upload-time")),
                requires_python=entry.get("requires-python") or None,
                yanked=yanked,
                metadata_sha256=meta_sha,
                metadata_advertised=advertised,
            )
        )
    return files


# ---------------------------------------------------------------------- wheel tags

_MACOS_RE: Final = re.compile(r"^macosx_\d+_\d+_(?P<arch>.+)$")
_LINUX_RE: Final = re.compile(r"^(?:many|musl)?linux(?:\d+|_\d+_\d+)?_(?P<arch>.+)$")
_CP_RE: Final = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)(?P<flags>[a-z]*)$")


def platform_keys(platform_tag: str) -> set[str]:
    """Map a wheel platform tag to releases.json platform keys (may be empty)."""
    if platform_tag == "win_amd64":
        return {"windows-x86_64"}
    if platform_tag == "win_arm64":
        return {"windows-aarch64"}
    if m := _MACOS_RE.match(platform_tag):
        arch = m["arch"]
        if arch in ("x86_64", "intel"):
            return {"macos-x86_64"}
        if arch == "arm64":
            return {"macos-aarch64"}
        if arch == "universal2":
            return {"macos-x86_64", "macos-aarch64"}
        return set()
    if m := _LINUX_RE.match(platform_tag):
        arch = m["arch"]
        if arch == "x86_64":
            return {"linux-x86_64"}
        if arch == "aarch64":
            return {"linux-aarch64"}
    return set()


def python_label(tag: Tag) -> str | None:
    """``cp312``/``cp312`` -> "3.12"; free-threaded ABI ``cp313t`` -> "3.13t"."""
    interp = _CP_RE.match(tag.interpreter)
    if not interp:
        return None
    label = f"{interp['major']}.{interp['minor']}"
    abi = _CP_RE.match(tag.abi)
    if abi and "t" in abi["flags"]:
        label += "t"
    return label


def python_sort_key(label: str) -> tuple[Version, int]:
    return (Version(label.rstrip("t")), 1 if label.endswith("t") else 0)


def wheel_platforms(wheel: DistFile) -> set[str]:
    keys: set[str] = set()
    for tag in wheel.tags:
        keys |= platform_keys(tag.platform)
    return keys


def wheel_pythons(wheel: DistFile) -> set[str]:
    return {label for tag in wheel.tags if (label := python_label(tag))}


def pick_wheel(wheels: Iterable[DistFile], platform: str) -> DistFile | None:
    """The wheel to inspect for ``platform``: highest build tag (what installers
    prefer), then a regular (not free-threaded) CPython, newest first."""

    def key(w: DistFile) -> tuple[Any, ...]:
        pys = sorted(wheel_pythons(w), key=python_sort_key)
        regular = [p for p in pys if not p.endswith("t")]
        best = python_sort_key(regular[-1]) if regular else (Version("0"), 0)
        return (w.build, bool(regular), best, w.filename)

    candidates = [w for w in wheels if platform in wheel_platforms(w)]
    return max(candidates, key=key) if candidates else None


def marker_env(platform: str, wheel: DistFile) -> dict[str, str]:
    pys = sorted(wheel_pythons(wheel), key=python_sort_key)
    py = pys[-1].rstrip("t") if pys else "3"
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{py}.0",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "python_version": py,
        "python_full_version": f"{py}.0",
        "extra": "",
        **PLATFORM_ENV[platform],
    }


# ---------------------------------------------------------------- wheel contents


@dataclass
class WheelInspector:
    """Reads core metadata and other members of one wheel, fetching as little as possible."""

    wheel: DistFile
    timeout: float
    _zip: zipfile.ZipFile | None = field(default=None, init=False)
    _rangefile: HTTPRangeFile | None = field(default=None, init=False)

    def _open_zip(self) -> zipfile.ZipFile:
        if self._zip is None:
            size = self.wheel.size
            if size is None:
                req = urllib.request.Request(
                    self.wheel.url, method="HEAD", headers={"User-Agent": USER_AGENT}
                )
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    size = int(resp.headers["Content-Length"])
            self._rangefile = HTTPRangeFile(self.wheel.url, size, self.timeout)
            self._zip = zipfile.ZipFile(self._rangefile)
        return self._zip

    def metadata(self) -> str:
        if self.wheel.metadata_advertised:
            _, body, _ = _request(self.wheel.url + ".metadata", {}, self.timeout)
            if (
                self.wheel.metadata_sha256
                and hashlib.sha256(body).hexdigest() != self.wheel.metadata_sha256
            ):
                raise IndexDataError(f"{self.wheel.filename}.metadata: sha256 mismatch")
            return body.decode("utf-8")
        zf = self._open_zip()
        names = [
            n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if not names:
            raise IndexDataError(f"{self.wheel.filename}: no .dist-info/METADATA")
        prefix = f"{canonicalize_name(self.wheel.project).replace('-', '_')}-"
        names.sort(key=lambda n: (not n.lower().startswith(prefix), n))
        return zf.read(names[0]).decode("utf-8")

    def member(self, name: str) -> str | None:
        zf = self._open_zip()
        try:
            return zf.read(name).decode("utf-8")
        except KeyError:
            return None

    @property
    def bytes_fetched(self) -> int:
        return self._rangefile.bytes_fetched if self._rangefile else 0


def requires_dist(metadata: str) -> list[Requirement]:
    headers = HeaderParser().parsestr(metadata)
    out: list[Requirement] = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            out.append(Requirement(line))
        except InvalidRequirement:
            continue
    return out


def applicable(reqs: Iterable[Requirement], env: Mapping[str, str]) -> list[Requirement]:
    return [r for r in reqs if r.marker is None or r.marker.evaluate(dict(env))]


def exact_pin(req: Requirement) -> Version | None:
    specs = list(req.specifier)
    if (
        len(specs) == 1
        and specs[0].operator in ("==", "===")
        and not specs[0].version.endswith(".*")
    ):
        try:
            return Version(specs[0].version)
        except InvalidVersion:
            return None
    return None


_CUDA_RUNTIME_RE: Final = re.compile(r"^nvidia-cuda-runtime(?:-cu\d+)?$")


def cuda_runtime_pin(reqs: Iterable[Requirement]) -> tuple[Version, Requirement] | None:
    """The CUDA runtime version pinned by these (already applicable) requirements."""
    ranked: list[tuple[int, str, Version, Requirement]] = []
    for req in reqs:
        name = canonicalize_name(req.name)
        pin = exact_pin(req)
        if pin is None:
            continue
        if _CUDA_RUNTIME_RE.match(name):
            ranked.append((0, str(req), pin, req))
        elif name == "cuda-toolkit" and "cudart" in {canonicalize_name(e) for e in req.extras}:
            ranked.append((1, str(req), pin, req))
    if not ranked:
        return None
    ranked.sort(key=lambda item: (item[0], item[1]))
    return ranked[0][2], ranked[0][3]


def cuda_tag(version: Version) -> str:
    major, minor = (*version.release, 0)[:2]
    return f"cu{major}{minor}"


_VERSION_PY_VERSION: Final = re.compile(r"""^__version__\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]""", re.M)
_VERSION_PY_CUDA: Final = re.compile(r"""^cuda\s*(?::[^=]*)?=\s*(None|['"]([^'"]*)['"])""", re.M)


def variant_from_version_py(text: str) -> tuple[str, str | None]:
    """(variant, evidence) from torch/version.py; evidence is None for 'cpu'."""
    ver_m = _VERSION_PY_VERSION.search(text)
    cuda_m = _VERSION_PY_CUDA.search(text)
    cuda = cuda_m.group(2) if cuda_m and cuda_m.group(2) else None
    local = None
    if ver_m:
        try:
            local = Version(ver_m.group(1)).local
        except InvalidVersion:
            local = None
    if cuda:
        variant = local if local and local.startswith("cu") else cuda_tag(Version(cuda))
        evidence = (
            f"torch/version.py: __version__ = '{ver_m.group(1) if ver_m else '?'}', "
            f"cuda = '{cuda}' (CUDA runtime bundled in the wheel; no CUDA runtime Requires-Dist)"
        )
        return variant, evidence
    if local and local != "cpu":
        return local, f"torch/version.py: __version__ = '{ver_m.group(1) if ver_m else '?'}'"
    return "cpu", None


# ------------------------------------------------------------------------ results


@dataclass(frozen=True)
class TorchPlatformResult:
    version: Version
    platform: str
    variant: str
    evidence: str | None
    bytes_fetched: int


@dataclass(frozen=True)
class CompanionInfo:
    project: str
    version: Version
    first_upload: dt.datetime | None
    requirement: Requirement | None  # the applicable Requires-Dist on torch, if any
    pin: Version | None  # public version of an exact torch== pin
    bytes_fetched: int

    @property
    def kind(self) -> str:
        if self.pin is not None:
            return "pin"
        if self.requirement is not None and len(self.requirement.specifier) > 0:
            return "range"
        return "none"

    def admits(self, torch: Version) -> bool:
        if self.kind == "none":
            return True
        assert self.requirement is not None
        return self.requirement.specifier.contains(torch, prereleases=True)

    def describe_requirement(self) -> str:
        if self.requirement is None or not len(self.requirement.specifier):
            return "no torch version requirement"
        return f"torch{self.requirement.specifier}"


def inspect_torch(wheel: DistFile, platform: str, timeout: float) -> TorchPlatformResult:
    inspector = WheelInspector(wheel, timeout)
    reqs = applicable(requires_dist(inspector.metadata()), marker_env(platform, wheel))
    found = cuda_runtime_pin(reqs)
    evidence: str | None
    if found is not None:
        version, req = found
        variant, evidence = cuda_tag(version), str(req)
    else:
        version_py = inspector.member("torch/version.py")
        variant, evidence = variant_from_version_py(version_py) if version_py else ("cpu", None)
    return TorchPlatformResult(wheel.version, platform, variant, evidence, inspector.bytes_fetched)


def inspect_companion(
    project: str, wheel: DistFile, first_upload: dt.datetime | None, timeout: float
) -> CompanionInfo:
    inspector = WheelInspector(wheel, timeout)
    platform = next(p for p in COMPANION_PLATFORM_PREFERENCE if p in wheel_platforms(wheel))
    reqs = applicable(requires_dist(inspector.metadata()), marker_env(platform, wheel))
    torch_reqs = sorted((r for r in reqs if canonicalize_name(r.name) == "torch"), key=str)
    req = torch_reqs[0] if torch_reqs else None
    pin = exact_pin(req) if req is not None else None
    public_pin = Version(pin.public) if pin is not None else None
    return CompanionInfo(
        project, wheel.version, first_upload, req, public_pin, inspector.bytes_fetched
    )


def pick_companion_wheel(wheels: Sequence[DistFile]) -> DistFile | None:
    for platform in COMPANION_PLATFORM_PREFERENCE:
        wheel = pick_wheel(wheels, platform)
        if wheel is not None:
            return wheel
    return None


# ----------------------------------------------------------------------- pairing


@dataclass(frozen=True)
class Pairing:
    companion: CompanionInfo | None
    method: str  # "pin" | "lockstep" | "range" | "none"


def pair(
    torch: Version,
    window: tuple[dt.datetime | None, dt.datetime | None],
    companions: Sequence[CompanionInfo],
) -> Pairing:
    pinned = [c for c in companions if c.pin == torch]
    if pinned:
        return Pairing(max(pinned, key=lambda c: c.version), "pin")
    start, end = window
    if start is not None:
        alongside = [
            c
            for c in companions
            if c.kind != "pin"
            and c.admits(torch)
            and c.first_upload is not None
            and start <= c.first_upload
            and (end is None or c.first_upload < end)
        ]
        if alongside:
            return Pairing(min(alongside, key=lambda c: (c.first_upload, c.version)), "lockstep")
    ranged = [c for c in companions if c.kind == "range" and c.admits(torch)]
    if ranged:
        return Pairing(max(ranged, key=lambda c: c.version), "range")
    return Pairing(None, "none")


def _date(value: dt.datetime | None) -> str:
    return value.date().isoformat() if value else "unknown date"


def torchaudio_note(
    torch: Version,
    pairing: Pairing,
    yanked_alongside: Sequence[tuple[Version, str]],
    companions: Sequence[CompanionInfo],
) -> str | None:
    parts: list[str] = []
    c = pairing.companion
    if pairing.method == "lockstep" and c is not None:
        parts.append(
            f"torchaudio {c.version} was published alongside torch {torch} "
            f"({_date(c.first_upload)}); it declares {c.describe_requirement()} instead of an "
            f"exact torch=={torch} pin, so it is paired by release date."
        )
        newer = [
            o for o in companions if o.kind == "range" and o.version > c.version and o.admits(torch)
        ]
        if newer:
            n = max(newer, key=lambda o: o.version)
            parts.append(
                f"The newer torchaudio {n.version} ({n.describe_requirement()}) also accepts "
                "this torch."
            )
    elif pairing.method == "range" and c is not None:
        parts.append(
            f"No torchaudio release was published for torch {torch}. torchaudio {c.version} "
            f"({_date(c.first_upload)}) declares {c.describe_requirement()}, i.e. it is not "
            "tied to one torch version; it is the newest torchaudio that accepts this torch, "
            "so install that."
        )
    elif pairing.method == "none":
        parts.append(
            f"No torchaudio release pins or accepts torch {torch}; there is no torchaudio for it."
        )
    for version, reason in yanked_alongside:
        parts.append(
            f"torchaudio {version} was yanked"
            + (f" ({reason.strip()})." if reason.strip() else ".")
        )
    return " ".join(parts) if parts else None


# -------------------------------------------------------------------------- main


def _final_versions(files: Iterable[DistFile]) -> dict[Version, list[DistFile]]:
    by_version: dict[Version, list[DistFile]] = {}
    for f in files:
        if f.version.is_prerelease or f.version.is_devrelease:
            continue
        by_version.setdefault(f.version, []).append(f)
    return by_version


def _first_upload(files: Iterable[DistFile]) -> dt.datetime | None:
    times = [f.upload_time for f in files if f.upload_time is not None]
    return min(times) if times else None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(index_url: str, min_torch: Version, jobs: int, timeout: float) -> dict[str, Any]:
    if not index_url.endswith("/"):
        index_url += "/"
    listings = {p: fetch_listing(index_url, p, timeout) for p in ("torch", *COMPANIONS)}

    torch_all = _final_versions(listings["torch"])
    torch_times = sorted(
        t for t in (_first_upload(fs) for fs in torch_all.values()) if t is not None
    )
    selected: dict[Version, list[DistFile]] = {}
    for version, files in sorted(torch_all.items()):
        live = [f for f in files if f.yanked is None]
        if version >= min_torch and any(f.is_wheel for f in live):
            selected[version] = files
    if not selected:
        raise IndexDataError(f"no torch wheels >= {min_torch} on the index")
    oldest_time = min(
        (t for t in (_first_upload(fs) for fs in selected.values()) if t), default=None
    )

    tasks: dict[concurrent.futures.Future[Any], str] = {}
    torch_results: list[TorchPlatformResult] = []
    companion_infos: dict[str, list[CompanionInfo]] = {p: [] for p in COMPANIONS}
    yanked_companions: dict[str, list[tuple[Version, dt.datetime | None, str]]] = {
        p: [] for p in COMPANIONS
    }
    python_map: dict[Version, dict[str, set[str]]] = {}
    build_tagged: dict[Version, set[str]] = {}

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for version, files in selected.items():
            wheels = [f for f in files if f.is_wheel and f.yanked is None]
            pys: dict[str, set[str]] = {}
            for w in wheels:
                for platform in wheel_platforms(w):
                    pys.setdefault(platform, set()).update(wheel_pythons(w))
                if w.build:
                    build_tagged.setdefault(version, set()).update(wheel_platforms(w))
            python_map[version] = {k: v for k, v in pys.items() if v}
            for platform in sorted(python_map[version]):
                wheel = pick_wheel(wheels, platform)
                if wheel is not None:
                    tasks[pool.submit(inspect_torch, wheel, platform, timeout)] = (
                        f"torch {wheel.filename}"
                    )

        for project in COMPANIONS:
            for version, files in sorted(_final_versions(listings[project]).items()):
                first = _first_upload(files)
                if (
                    oldest_time is not None
                    and first is not None
                    and first < oldest_time - LOCKSTEP_LEAD
                ):
                    continue
                live = [f for f in files if f.is_wheel and f.yanked is None]
                if not live:
                    reasons = sorted({f.yanked for f in files if f.yanked is not None})
                    if reasons:
                        yanked_companions[project].append(
                            (version, first, "; ".join(r for r in reasons if r))
                        )
                    continue
                wheel = pick_companion_wheel(live)
                if wheel is None:
                    continue
                tasks[pool.submit(inspect_companion, project, wheel, first, timeout)] = (
                    f"{project} {wheel.filename}"
                )

        _log(f"inspecting {len(tasks)} wheels ...")
        fetched = 0
        for future in concurrent.futures.as_completed(tasks):
            try:
                result = future.result()
            except Exception as exc:  # report which wheel failed
                raise IndexDataError(f"{tasks[future]}: {exc}") from exc
            fetched += result.bytes_fetched
            if isinstance(result, TorchPlatformResult):
                torch_results.append(result)
            else:
                companion_infos[result.project].append(result)
        _log(f"done; {fetched / 1e6:.1f} MB read from wheels with range requests")

    variants: dict[Version, dict[str, TorchPlatformResult]] = {}
    for r in torch_results:
        variants.setdefault(r.version, {})[r.platform] = r
    for project in COMPANIONS:
        companion_infos[project].sort(key=lambda c: c.version)

    releases: list[dict[str, Any]] = []
    pair_log: dict[str, list[tuple[Version, Pairing]]] = {p: [] for p in COMPANIONS}
    for version, files in selected.items():
        released = _first_upload(files)
        later = [t for t in torch_times if released is not None and t > released]
        window = (
            released - LOCKSTEP_LEAD if released else None,
            later[0] - LOCKSTEP_LEAD if later else None,
        )
        pairings = {p: pair(version, window, companion_infos[p]) for p in COMPANIONS}
        for p in COMPANIONS:
            pair_log[p].append((version, pairings[p]))
        wheels = [f for f in files if f.is_wheel and f.yanked is None]
        rp_values = sorted({f.requires_python for f in wheels if f.requires_python})
        entry: dict[str, Any] = {"torch": str(version)}
        for p in COMPANIONS:
            c = pairings[p].companion
            entry[p] = str(c.version) if c else None
        yanked_alongside = [
            (v, reason)
            for v, t, reason in yanked_companions["torchaudio"]
            if t is not None
            and window[0] is not None
            and window[0] <= t
            and (window[1] is None or t < window[1])
        ]
        note = torchaudio_note(
            version, pairings["torchaudio"], yanked_alongside, companion_infos["torchaudio"]
        )
        if note:
            entry["torchaudio_note"] = note
        if released is not None:
            entry["released"] = released.date().isoformat()
        entry["requires_python"] = " || ".join(rp_values) if rp_values else None
        entry["python"] = {
            k: sorted(v, key=python_sort_key) for k, v in sorted(python_map[version].items())
        }
        entry["default_variant"] = {
            k: r.variant for k, r in sorted(variants.get(version, {}).items())
        }
        entry["default_variant_evidence"] = {
            k: r.evidence
            for k, r in sorted(variants.get(version, {}).items())
            if r.evidence is not None
        }
        releases.append(entry)

    notes = list(STATIC_NOTES) + derived_notes(
        releases, pair_log, companion_infos, yanked_companions, build_tagged
    )
    return {
        "schema": SCHEMA,
        "generated_by": GENERATED_BY,
        "source": SOURCE,
        "notes": notes,
        "releases": releases,
    }


def derived_notes(
    releases: Sequence[Mapping[str, Any]],
    pair_log: Mapping[str, Sequence[tuple[Version, Pairing]]],
    companion_infos: Mapping[str, Sequence[CompanionInfo]],
    yanked_companions: Mapping[str, Sequence[tuple[Version, dt.datetime | None, str]]],
    build_tagged: Mapping[Version, set[str]],
) -> list[str]:
    notes: list[str] = []

    # torchaudio: when did lockstep releases stop?
    audio = companion_infos["torchaudio"]
    pinned = [c for c in audio if c.kind == "pin"]
    if pinned:
        last = max(pinned, key=lambda c: c.version)
        after = [c for c in audio if c.version > last.version]
        text = (
            f"torchaudio: up to torchaudio {last.version} (torch=={last.pin}, "
            f"{_date(last.first_upload)}) every torchaudio release pins exactly one torch version."
        )
        if after:
            text += (
                " Later torchaudio releases: "
                + "; ".join(
                    f"{c.version} ({_date(c.first_upload)}, {c.describe_requirement()})"
                    for c in after
                )
                + "."
            )
        text += (
            " torchaudio is in maintenance mode (its README: features deprecated in 2.8 were "
            "removed in 2.9) and is no longer released in lockstep with torch."
        )
        unpaired_lockstep = [
            str(v)
            for v, p in pair_log["torchaudio"]
            if p.method in ("range", "none") and v > last.version
        ]
        ranged = [c for c in after if c.kind == "range"]
        if ranged:
            newest = max(ranged, key=lambda c: c.version)
            text += (
                f" torchaudio {newest.version} declares {newest.describe_requirement()}: it is "
                "not tied to a torch version, so torch releases without their own torchaudio"
                + (f" ({', '.join(unpaired_lockstep)})" if unpaired_lockstep else "")
                + " are paired with it (rule 3, explained in torchaudio_note)."
            )
        nulls = [str(v) for v, p in pair_log["torchaudio"] if p.method == "none"]
        if nulls:
            text += f" No torchaudio accepts torch {', '.join(nulls)}: torchaudio is null there."
        notes.append(text)

    for project in COMPANIONS:
        fallbacks = [
            f"{v} -> {p.companion.version} ({p.companion.describe_requirement()}, "
            f"{'published alongside' if p.method == 'lockstep' else 'newest accepting release'})"
            for v, p in pair_log[project]
            if p.companion is not None and p.method != "pin"
        ]
        if fallbacks:
            notes.append(
                f"{project} paired without an exact torch pin (rules 2-3): "
                + "; ".join(fallbacks)
                + "."
            )
        missing = [str(v) for v, p in pair_log[project] if p.companion is None]
        if missing and project != "torchaudio":
            notes.append(f"No {project} release pins or accepts torch {', '.join(missing)}.")
        yanked = yanked_companions[project]
        if yanked:
            notes.append(
                f"Yanked {project} releases skipped: "
                + "; ".join(f"{v} ({reason})" if reason else str(v) for v, _, reason in yanked)
                + "."
            )

    # aarch64 CPU -> CUDA switch, and non-Linux variants.
    aarch = [(r["torch"], r["default_variant"].get("linux-aarch64")) for r in releases]
    aarch = [(t, v) for t, v in aarch if v is not None]
    cuda_from = next((t for t, v in aarch if v != "cpu"), None)
    if aarch:
        if cuda_from is None:
            notes.append(
                "Linux aarch64 torch wheels on this index are CPU builds for every release listed."
            )
        else:
            last_cpu = [t for t, v in aarch if v == "cpu" and Version(t) < Version(cuda_from)]
            notes.append(
                "Linux aarch64 torch wheels on this index are CPU builds"
                + (f" up to torch {last_cpu[-1]}" if last_cpu else "")
                + f" and CUDA builds from torch {cuda_from} on (the CUDA requirements of earlier "
                'releases carry a platform_machine == "x86_64" marker; later ones only '
                'platform_system == "Linux").'
            )
    other = sorted(
        {
            v
            for r in releases
            for k, v in r["default_variant"].items()
            if k.startswith(("windows-", "macos-"))
        }
    )
    if other:
        notes.append(
            "Windows and macOS torch wheels on this index: default_variant "
            f"{', '.join(other)} throughout."
        )
    bundled = [
        r["torch"]
        for r in releases
        if any("bundled" in e for e in r["default_variant_evidence"].values())
    ]
    if bundled:
        notes.append(
            "These releases declare no CUDA runtime dependency but bundle the CUDA libraries "
            f"in the Linux wheel (variant from torch/version.py): {', '.join(bundled)}."
        )
    if build_tagged:
        notes.append(
            "Releases with re-uploaded wheels carrying a build tag (the highest build tag is "
            "inspected, as installers prefer it): "
            + "; ".join(f"{v} ({', '.join(sorted(p))})" for v, p in sorted(build_tagged.items()))
            + "."
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--index-url",
        required=True,
        help="PEP 503/691 'simple' root URL of the index to read (the default index's /simple/)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="output file (default: src/torchlock/matrix/data/releases.json of this repository)",
    )
    parser.add_argument(
        "--min-torch",
        type=Version,
        default=Version("1.13"),
        help="oldest torch release (default 1.13)",
    )
    parser.add_argument(
        "--jobs", type=int, default=16, help="concurrent metadata fetches (default 16)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="per-request timeout in seconds"
    )
    args = parser.parse_args(argv)

    try:
        data = build(args.index_url, args.min_torch, args.jobs, args.timeout)
    except (IndexDataError, urllib.error.URLError, OSError) as exc:
        _log(f"error: {exc}")
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    _log(f"wrote {len(data['releases'])} torch releases to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
