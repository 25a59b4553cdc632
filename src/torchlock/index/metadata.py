"""Core metadata (pure): METADATA text into :class:`CoreMetadata`, and METADATA out of a wheel.

The text is parsed by ``packaging.metadata.parse_email``, which reads it with the standard
library's email parser exactly as the core metadata specification describes (folded
headers, continuation lines that look blank, the description in the body, any
Metadata-Version). Only the typing of the few fields resolution needs is ours: fields the
library could not read (an undecodable value, an unknown header) are left in its
"unparsed" map and ignored here, as pip and uv ignore them, unless resolution needs them.
"""

from __future__ import annotations

import re
from typing import IO

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from torchlock.artifacts import CoreMetadata
from torchlock.errors import PackageIndexError
from torchlock.index.pages import parse_requires_python

# A Requires-Dist whose whole marker is one `extra == "NAME"`: nothing before the ';' can
# hold one (a direct URL ends at whitespace), and nothing may follow the name. Such lines
# (most lines of most projects: test and docs extras) are parsed only when the extra is
# asked for; this is a speed-up on top of the library's result, not a parser of the format.
_EXTRA_ONLY = re.compile(r""";\s*extra\s*==\s*(?:"([^"]+)"|'([^']+)')\s*$""")

# RFC 5322 section 2.2.3: "Unfolding is accomplished by simply removing any CRLF that is
# immediately followed by WSP." The email parser (compat32 policy) keeps the folds in a
# value; a Requires-Dist folded over two lines is unfolded before it is parsed, as uv does.
_FOLD = re.compile(r"\r?\n(?=[ \t])")

# Fields resolution cannot do without: when the email parser could not read one of them
# (it lands in the "unparsed" map), the file is refused rather than half-read.
_NEEDED = ("name", "version", "requires-dist", "provides-extra")


def parse_metadata(text: str, *, source: str = "METADATA") -> CoreMetadata:
    """The fields resolution needs; PackageIndexError naming ``source`` when they are unusable.

    Extras (Provides-Extra) are normalised as PEP 685 says; an unparseable Requires-Python
    counts as absent (as pip does). ``Dynamic`` is kept: for an sdist's PKG-INFO it says
    whether Requires-Dist may be trusted (PEP 643).
    """
    raw, unparsed = parse_email(text)

    def problem(what: str) -> PackageIndexError:
        return PackageIndexError(
            f"invalid core metadata in {source}",
            evidence=[what],
            hint="the file on the index is broken; pin another version or report it upstream",
        )

    for field_name in _NEEDED:
        if field_name in unparsed:
            raise problem(f"{field_name.title()} could not be read: {unparsed[field_name]!r}")
    name, version_text = raw.get("name"), raw.get("version")
    if not name:
        raise problem("no Name header")
    if not version_text:
        raise problem("no Version header")
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise problem(f"Version {version_text!r} is not a PEP 440 version") from None
    requirements: list[Requirement] = []
    extra_only: list[tuple[str, str]] = []
    for folded in raw.get("requires_dist", ()):
        line = _FOLD.sub("", folded)
        only = _EXTRA_ONLY.search(line)
        if only is not None:  # parsed if ever that extra is asked for
            extra_only.append((canonicalize_name(only[1] or only[2]), line))
            continue
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise problem(f"Requires-Dist {line!r}: {exc}") from None
    python = raw.get("requires_python")
    return CoreMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(requirements),
        requires_python=parse_requires_python(python) if python else None,
        provides_extra=frozenset(canonicalize_name(e) for e in raw.get("provides_extra", ())),
        extra_requires=tuple(extra_only),
        dynamic=frozenset(d.lower() for d in raw.get("dynamic", ())),
        metadata_version=raw.get("metadata_version"),
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
