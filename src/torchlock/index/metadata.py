"""Core metadata (pure): METADATA text into :class:`CoreMetadata`, and METADATA out of a wheel.

METADATA is a block of RFC 822-style headers; only the headers are read (up to the first
blank line), with continuation lines (starting with a space or tab) folded into the header
above. ``packaging.metadata`` and the ``email`` package are not used on purpose: together
they cost tens of milliseconds of import time, and the five fields needed here are simple.
"""

from __future__ import annotations

import re
from typing import IO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from torchlock.artifacts import CoreMetadata
from torchlock.errors import PackageIndexError
from torchlock.index.pages import parse_requires_python

# A Requires-Dist whose whole marker is one `extra == "NAME"`: nothing before the ';' can
# hold one (a direct URL ends at whitespace), and nothing may follow the name.
_EXTRA_ONLY = re.compile(r""";\s*extra\s*==\s*(?:"([^"]+)"|'([^']+)')\s*$""")


def parse_headers(text: str) -> list[tuple[str, str]]:
    """(lower-cased name, value) for each header before the first blank line, in order."""
    headers: list[tuple[str, str]] = []
    for raw in text.splitlines():
        if not raw.strip():
            break
        if raw[0] in " \t":
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {raw.strip()}".strip())
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            continue  # not a header line: ignore, as email.parser would (defect)
        headers.append((name.strip().lower(), value.strip()))
    return headers


def parse_metadata(text: str, *, source: str = "METADATA") -> CoreMetadata:
    """The fields resolution needs; PackageIndexError naming ``source`` when they are unusable.

    Extras (Provides-Extra) are normalised as PEP 685 says; an unparseable Requires-Python
    counts as absent.
    """
    headers = parse_headers(text)
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name, []).append(value)

    def problem(what: str) -> PackageIndexError:
        return PackageIndexError(
            f"invalid core metadata in {source}",
            evidence=[what],
            hint="the file on the index is broken; pin another version or report it upstream",
        )

    names, versions = values.get("name"), values.get("version")
    if not names or not names[0]:
        raise problem("no Name header")
    if not versions or not versions[0]:
        raise problem("no Version header")
    try:
        version = Version(versions[0])
    except InvalidVersion:
        raise problem(f"Version {versions[0]!r} is not a PEP 440 version") from None
    requirements: list[Requirement] = []
    extra_only: list[tuple[str, str]] = []
    for line in values.get("requires-dist", ()):
        only = _EXTRA_ONLY.search(line)
        if only is not None:  # parsed if ever that extra is asked for
            extra_only.append((canonicalize_name(only[1] or only[2]), line))
            continue
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise problem(f"Requires-Dist {line!r}: {exc}") from None
    python = values.get("requires-python")
    return CoreMetadata(
        name=canonicalize_name(names[0]),
        version=version,
        requires_dist=tuple(requirements),
        requires_python=parse_requires_python(python[0]) if python else None,
        provides_extra=frozenset(canonicalize_name(e) for e in values.get("provides-extra", ())),
        extra_requires=tuple(extra_only),
    )


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def metadata_member(names: list[str], project: str | None = None) -> str | None:
    """The ``*.dist-info/METADATA`` member of a wheel (the project's own when several)."""
    found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    if project is not None and len(found) > 1:
        want = canonicalize_name(project)
        own = [n for n in found if canonicalize_name(n.split("-", 1)[0]) == want]
        found = own or found
    return found[0] if found else None


def read_wheel_metadata(file: IO[bytes], *, source: str, project: str | None = None) -> str:
    """The METADATA text of the wheel in ``file`` (any seekable binary file)."""
    import zipfile  # not at module level: it imports bz2 and lzma, and only this needs it

    try:
        with zipfile.ZipFile(file) as archive:
            member = metadata_member(archive.namelist(), project)
            if member is None:
                raise PackageIndexError(
                    f"no METADATA in wheel {source}",
                    evidence=["the archive has no NAME-VERSION.dist-info/METADATA member"],
                )
            return decode(archive.read(member))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError) as exc:
        raise PackageIndexError(
            f"cannot read wheel {source}",
            evidence=[f"not a valid zip archive: {exc}"],
        ) from None
