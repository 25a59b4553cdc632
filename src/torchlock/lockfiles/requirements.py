"""Export: pip requirements with ``--hash`` for every file and the index options.

``pip install --require-hashes -r FILE`` installs it. Without a platform, every package of
the lock is listed with its marker (pip skips lines whose marker does not hold); with one,
only that target's packages, without markers.

:class:`RequirementsFile` is the document: :func:`from_lock` builds it from a lock,
:func:`render` writes it and :func:`parse` reads back exactly what :func:`render` writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import overload

from msgspec import Struct
from packaging.markers import InvalidMarker, Marker
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from torchlock.errors import LockfileError
from torchlock.lockfiles.model import Lock, LockedPackage
from torchlock.lockfiles.yamlin import check_canonical

Fail = Callable[[str], LockfileError]  # the error for a problem found at a known place

EVERY_TARGET = "every target"
_HASH = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_HINT = "the file may be truncated or hand-edited; export it again with `torchlock export`"
_OPTIONS = ("--index-url", "--extra-index-url", "--find-links")


class IndexOptions(Struct, frozen=True, kw_only=True):
    """Where pip looks: the default index, other (torch) indexes, and find-links folders."""

    index_url: str
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [
            f"--index-url {self.index_url}",
            *(f"--extra-index-url {url}" for url in self.extra_index_urls),
            *(f"--find-links {url}" for url in self.find_links),
        ]


class PinnedRequirement(Struct, frozen=True, kw_only=True):
    """``name==version[ ; marker]`` with the sha256 of every file it may install."""

    name: NormalizedName
    version: Version
    marker: Marker | None = None
    hashes: tuple[str, ...] = ()  # sha256 hex digests, sorted

    @property
    def head(self) -> str:
        head = f"{self.name}=={self.version}"
        return head if self.marker is None else f"{head} ; {self.marker}"

    @property
    def hash_options(self) -> list[str]:
        return [f"--hash=sha256:{h}" for h in self.hashes]

    @classmethod
    def from_package(cls, package: LockedPackage, *, marker: bool) -> PinnedRequirement:
        return cls(
            name=package.name,
            version=package.version,
            marker=package.marker if marker else None,
            hashes=tuple(sorted({f.sha256 for f in package.files})),
        )


class RequirementsFile(Struct, frozen=True, kw_only=True):
    """A requirements export: where it came from, the index options and the pins."""

    exported_from: str  # the lock's file name
    platform: str | None  # None: every target (lines carry markers)
    python: str  # X.Y
    index: IndexOptions
    requirements: tuple[PinnedRequirement, ...]


# --- from a lock ------------------------------------------------------------------------------


def index_options(lock: Lock, platform: str | None = None) -> IndexOptions:
    """``--index-url`` (the default index), ``--extra-index-url`` (other torch indexes) and
    ``--find-links`` (folders that packages came from), each once, in a stable order."""
    targets = lock.targets if platform is None else (lock.target(platform),)
    default = targets[0].default_index
    extra = sorted({t.torch_index for t in targets} - {default})
    packages = lock.packages if platform is None else lock.packages_for(platform)
    indexes = {default, *extra}
    links = sorted({p.index for p in packages} - indexes)
    return IndexOptions(index_url=default, extra_index_urls=tuple(extra), find_links=tuple(links))


def from_lock(lock: Lock, *, source: str, platform: str | None = None) -> RequirementsFile:
    """The requirements export of ``lock`` (read from the file named ``source``)."""
    packages = lock.packages if platform is None else lock.packages_for(platform)
    return RequirementsFile(
        exported_from=source,
        platform=platform,
        python=lock.python,
        index=index_options(lock, platform),
        requirements=tuple(
            PinnedRequirement.from_package(p, marker=platform is None) for p in packages
        ),
    )


# --- render -----------------------------------------------------------------------------------


def requirement_lines(requirement: PinnedRequirement) -> str:
    """The head followed by one ``--hash`` per file, continued lines."""
    hashes = (f"    {h}" for h in requirement.hash_options)
    return " \\\n".join([requirement.head, *hashes])


@overload
def render(document: RequirementsFile) -> str: ...
@overload
def render(document: Lock, *, source: str, platform: str | None = None) -> str: ...
def render(
    document: RequirementsFile | Lock, *, source: str | None = None, platform: str | None = None
) -> str:
    """The text of ``document``; given a lock, of its export (``from_lock``) from ``source``."""
    if isinstance(document, Lock):
        if source is None:
            raise TypeError("render(lock) needs source=")
        document = from_lock(document, source=source, platform=platform)
    scope = EVERY_TARGET if document.platform is None else document.platform
    lines = [
        f"# Exported by torchlock from {document.exported_from} for {scope}; do not edit by hand.",
        f"# Python {document.python}. Install: pip install --require-hashes -r <this file>",
        *document.index.lines(),
        "",
    ]
    lines.extend(requirement_lines(r) for r in document.requirements)
    return "\n".join(lines) + "\n"


# --- parse ------------------------------------------------------------------------------------

_HEADER = re.compile(
    r"# Exported by torchlock from (?P<source>.+) for (?P<scope>[^;]+); do not edit by hand\."
)
_PYTHON = re.compile(
    r"# Python (?P<python>[0-9]+\.[0-9]+)\. Install: pip install --require-hashes -r <this file>"
)


def parse(text: str, *, source: str) -> RequirementsFile:
    """The requirements export in ``text`` (read from ``source``, named in every error)."""
    if not text.strip():
        raise LockfileError(source, "the file is empty", hint=_HINT)
    if not text.endswith("\n"):
        raise LockfileError(
            source,
            "the last line has no newline: the file looks truncated",
            place=f"line {text.count(chr(10)) + 1}",
            hint=_HINT,
        )
    lines = text[:-1].split("\n")

    def fail(number: int, problem: str) -> LockfileError:
        return LockfileError(source, problem, place=f"line {number}", hint=_HINT)

    def at_line(number: int) -> Fail:
        return lambda problem: fail(number, problem)

    header = _HEADER.fullmatch(lines[0])
    if header is None:
        raise fail(1, "not a torchlock requirements export: the first line is not its header")
    if len(lines) < 2 or (python := _PYTHON.fullmatch(lines[1])) is None:
        raise fail(2, "expected '# Python X.Y. Install: pip install --require-hashes -r ...'")
    at = 2
    options: dict[str, list[str]] = {}
    while at < len(lines) and lines[at]:
        if not parse_index_line(lines[at], options):
            raise fail(at + 1, f"expected an index option ({', '.join(_OPTIONS)} URL)")
        at += 1
    if at >= len(lines):
        raise fail(at, "no blank line after the index options: the file looks truncated")
    index = index_from_options(options, at_line(3))
    at += 1
    requirements: list[PinnedRequirement] = []
    while at < len(lines):
        start = at
        head = lines[at]
        hashes: list[str] = []
        continued = head.endswith(" \\")
        head = head.removesuffix(" \\")
        at += 1
        while continued:
            if at >= len(lines):
                raise fail(at, f"{head.split(' ')[0]}: the file ends after a continuation '\\'")
            line = lines[at]
            continued = line.endswith(" \\")
            option = line.removesuffix(" \\")
            if not option.startswith("    --hash="):
                raise fail(at + 1, f"expected '    --hash=sha256:HEX' for {head.split(' ')[0]}")
            hashes.append(option.strip())
            at += 1
        requirements.append(parse_requirement(head, hashes, at_line(start + 1)))
    document = RequirementsFile(
        exported_from=header["source"],
        platform=None if header["scope"] == EVERY_TARGET else header["scope"],
        python=python["python"],
        index=index,
        requirements=tuple(requirements),
    )
    check_canonical(text, render(document), source=source)
    return document


def index_from_options(options: dict[str, list[str]], fail: Fail) -> IndexOptions:
    """The index options collected by :func:`parse_index_line`; exactly one --index-url."""
    urls = options.get("--index-url", [])
    if len(urls) != 1:
        raise fail(f"expected one --index-url, found {len(urls)}")
    return IndexOptions(
        index_url=urls[0],
        extra_index_urls=tuple(options.get("--extra-index-url", ())),
        find_links=tuple(options.get("--find-links", ())),
    )


def parse_index_line(line: str, options: dict[str, list[str]]) -> bool:
    """Add ``line`` to ``options`` when it is an index option; False when it is not one."""
    option, _, value = line.partition(" ")
    if option not in _OPTIONS or not value or " " in value:
        return False
    options.setdefault(option, []).append(value)
    return True


def parse_requirement(head: str, hashes: list[str], fail: Fail) -> PinnedRequirement:
    """``name==version[ ; marker]`` and its ``--hash=sha256:HEX`` options, checked."""
    pin, semicolon, marker_text = head.partition(" ; ")
    name, equals, version_text = pin.partition("==")
    if not equals or not name:
        raise fail(f"expected 'name==version', found {head!r}")
    if _NAME.fullmatch(name) is None or canonicalize_name(name) != name:
        raise fail(f"{name!r} is not a normalized project name")
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise fail(f"{name}: malformed version {version_text!r}") from None
    marker = None
    if semicolon:
        if "\\" in marker_text:  # packaging would read it as a Python escape
            raise fail(f"{name}=={version}: backslash in the marker {marker_text!r}")
        try:
            marker = Marker(marker_text)
        except InvalidMarker as exc:
            reason = str(exc).splitlines()[0]
            raise fail(f"{name}=={version}: malformed marker {marker_text!r}: {reason}") from None
    if not hashes:
        raise fail(
            f"{name}=={version} has no --hash (pip --require-hashes needs one for every file)"
        )
    digests = []
    for option in hashes:
        kind, _, digest = option.removeprefix("--hash=").partition(":")
        if not option.startswith("--hash=") or kind != "sha256" or not _HASH.fullmatch(digest):
            raise fail(
                f"{name}=={version}: expected --hash=sha256:<64 hex digits>, found {option!r}"
            )
        digests.append(digest)
    return PinnedRequirement(
        name=canonicalize_name(name), version=version, marker=marker, hashes=tuple(digests)
    )
