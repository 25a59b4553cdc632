"""Project pages of a simple repository (pure): PEP 691 JSON and PEP 503 HTML into artifacts.

Relative URLs are resolved against the page URL (or an HTML ``<base href>``); the URL of a
file is kept as the index wrote it (``%2Bcu121`` stays encoded), only its ``#sha256=``
fragment is moved into :attr:`Artifact.sha256`. File names are decoded for parsing. Files
that are neither wheels nor sdists, whose names do not parse, or that belong to another
project are skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from msgspec import UNSET, DecodeError, Struct, ValidationError, field
from msgspec.json import Decoder
from msgspec.structs import force_setattr, replace
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from torchlock.artifacts import Artifact, ArtifactKind, is_safe_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

log = logging.getLogger(__name__)


class MalformedPage(ValueError):
    """The page could not be read at all (the client turns this into a PackageIndexError)."""


class CachedPage(Struct, frozen=True, kw_only=True):
    """A project page as fetched, with what is needed to reuse or revalidate it."""

    url: str  # credentials removed
    content: bytes
    content_type: str
    fetched_at: float  # seconds since the epoch, from the clock passed to the client
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None  # Cache-Control max-age; None: always revalidate
    base_url: str | None = None  # where the page was found (after redirects), for relative links
    sha256: str = ""  # of ``content``; computed when not given

    def __post_init__(self) -> None:
        if not self.sha256:
            force_setattr(self, "sha256", hashlib.sha256(self.content).hexdigest())

    def is_fresh(self, now: float) -> bool:
        return self.max_age is not None and 0 <= now - self.fetched_at < self.max_age

    def refreshed(self, now: float, max_age: float | None) -> CachedPage:
        return replace(self, fetched_at=now, max_age=max_age)


class FileEntry(Struct, frozen=True, kw_only=True):
    """One file as a page lists it, before its name is parsed."""

    filename: str
    url: str  # absolute, fragment removed
    sha256: str | None = None
    requires_python: str | None = None
    yanked: str | None = None
    has_metadata: bool = False
    metadata_sha256: str | None = None
    size: int | None = None
    upload_time: str | None = None


def page_kind(content_type: str) -> str | None:
    """ "json", "html", or None for a content type that is neither."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_TYPE:
        return "json"
    if media in HTML_TYPES:
        return "html"
    return None


_REQUIRES_PYTHON: dict[str, SpecifierSet | None] = {}  # a page repeats a few dozen strings


def parse_requires_python(text: str | None) -> SpecifierSet | None:
    """The specifier, or None when absent or unparseable (indexes do hold junk here).

    Parsed once per distinct string and shared: specifier sets are values, never changed.
    """
    if text is None:
        return None
    try:
        return _REQUIRES_PYTHON[text]
    except KeyError:
        pass
    found: SpecifierSet | None = None
    if text.strip():
        try:
            found = SpecifierSet(text)
        except InvalidSpecifier:
            found = None
    if len(_REQUIRES_PYTHON) < 4096:
        _REQUIRES_PYTHON[text] = found
    return found


def _metadata_flag(value: object) -> tuple[bool, str | None]:
    """PEP 658/714: ``true``, ``{"sha256": ...}`` or ``"sha256=..."``; anything falsy is no."""
    if isinstance(value, Mapping):
        digest = value.get("sha256")
        return True, digest.lower() if isinstance(digest, str) and digest else None
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "false":
            return False, None
        name, sep, digest = text.partition("=")
        if sep and name.strip().lower() == "sha256" and digest.strip():
            return True, digest.strip().lower()
        return True, None
    return bool(value), None


def _split_fragment(url: str) -> tuple[str, str | None]:
    base, _, fragment = url.partition("#")
    name, sep, value = fragment.partition("=")
    if sep and name.lower() == "sha256" and value:
        return base, value.lower()
    return base, None


def _joiner(base: str) -> Callable[[str], str]:
    """``urljoin(base, href)`` for the hrefs of one page, resolving each folder only once.

    A page's files share one or a few folders (``../../files/torch/``); only the part
    before the last ``/`` needs urljoin's dot-segment resolution. Absolute URLs are kept
    as they are; anything unusual (a query, a bare dot segment) takes urljoin itself.
    """
    folders: dict[str, str] = {}

    def join(href: str) -> str:
        if href.startswith(("https://", "http://")):
            return href
        folder, slash, name = href.rpartition("/")
        if "?" in href or name in ("", ".", "..") or href.startswith("//"):
            return urljoin(base, href)
        key = folder + slash
        resolved = folders.get(key)
        if resolved is None:
            resolved = folders[key] = urljoin(base, key) if key else urljoin(base, ".")
        return resolved + name

    return join


class _JsonFile(Struct, gc=False):
    """A file of a PEP 691 page as decoded: names and URLs typed, the rest checked below
    (an index may hold junk in them; such a value counts as absent, as before decoding
    was typed)."""

    filename: str
    url: str
    hashes: Any = None
    requires_python: Any = field(default=None, name="requires-python")
    core_metadata: Any = field(default=UNSET, name="core-metadata")  # PEP 714 name first
    dist_info_metadata: Any = field(default=False, name="dist-info-metadata")
    yanked: Any = False
    size: Any = None
    upload_time: Any = field(default=None, name="upload-time")


class _JsonPage(Struct, gc=False):
    files: list[_JsonFile]


_JSON_PAGE = Decoder(_JsonPage)


def json_entries(
    content: bytes | str, page_url: str, accept: FilenameFilter | None = None
) -> tuple[FileEntry, ...]:
    """The files of a PEP 691 JSON project page (those ``accept`` keeps, when given).

    Decoded into typed objects in one pass (msgspec: a third of the time of json.loads and
    walking dictionaries); a page whose file list does not fit that shape (an entry that
    is not an object, a file name that is not a string) or in a JSON dialect msgspec does
    not take is read entry by entry instead, skipping what cannot be used.
    """
    try:
        files = _JSON_PAGE.decode(content).files
    except (ValidationError, DecodeError):
        # another shape, or JSON that only the standard library reads (a byte order
        # mark, UTF-16, NaN): entry by entry, which says what is wrong when nothing reads it
        return _loose_json_entries(content, page_url, accept)
    entries: list[FileEntry] = []
    join = _joiner(page_url)
    for item in files:
        if accept is not None and not accept(item.filename):
            continue
        meta = item.core_metadata if item.core_metadata is not UNSET else item.dist_info_metadata
        entries.append(
            _file_entry(
                join,
                item.filename,
                item.url,
                item.hashes,
                meta,
                item.yanked,
                item.requires_python,
                item.size,
                item.upload_time,
            )
        )
    return tuple(entries)


def _loose_json_entries(
    content: bytes | str, page_url: str, accept: FilenameFilter | None
) -> tuple[FileEntry, ...]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPage(f"not JSON: {exc}") from None
    except RecursionError:  # arrays nested deeper than Python's stack: no index writes that
        raise MalformedPage("JSON nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise MalformedPage("no 'files' list in the JSON page")
    entries: list[FileEntry] = []
    join = _joiner(page_url)
    for item in data["files"]:
        if not isinstance(item, dict):
            continue
        filename, href = item.get("filename"), item.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            continue
        if accept is not None and not accept(filename):
            continue
        entries.append(
            _file_entry(
                join,
                filename,
                href,
                item.get("hashes"),
                item.get("core-metadata", item.get("dist-info-metadata", False)),
                item.get("yanked", False),
                item.get("requires-python"),
                item.get("size"),
                item.get("upload-time"),
            )
        )
    return tuple(entries)


def _file_entry(
    join: Callable[[str], str],
    filename: str,
    href: str,
    hashes: object,
    meta_value: object,
    yanked_value: object,
    requires_python: object,
    size: object,
    upload_time: object,
) -> FileEntry:
    """One file's entry from the values a JSON page gives for it (junk counts as absent)."""
    url, fragment_hash = _split_fragment(join(href))
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    has_metadata, metadata_sha256 = _metadata_flag(meta_value)
    yanked = yanked_value if isinstance(yanked_value, str) else ("" if yanked_value else None)
    return FileEntry(
        filename=filename,
        url=url,
        sha256=sha256.lower() if isinstance(sha256, str) and sha256 else fragment_hash,
        requires_python=requires_python if isinstance(requires_python, str) else None,
        yanked=yanked,
        has_metadata=has_metadata,
        metadata_sha256=metadata_sha256,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
    )


def _anchors(text: str, page_url: str) -> tuple[str, list[dict[str, str | None]]]:
    """(the base URL, the attributes of every <a>) of an HTML page."""
    from html.parser import HTMLParser  # imported here: JSON pages and the warm path skip it

    base = page_url
    anchors: list[dict[str, str | None]] = []

    class AnchorParser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            nonlocal base
            if tag == "base":
                href = dict(attrs).get("href")
                if href:
                    base = urljoin(base, href)
            elif tag == "a":
                anchors.append(dict(attrs))

    parser = AnchorParser(convert_charrefs=True)
    parser.feed(text)
    parser.close()
    return base, anchors


def html_entries(
    content: bytes | str, page_url: str, accept: FilenameFilter | None = None
) -> tuple[FileEntry, ...]:
    """The files of a PEP 503 HTML project page (attribute entities such as ``&gt;`` decoded)."""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    base, anchors = _anchors(text, page_url)
    entries: list[FileEntry] = []
    join = _joiner(base)
    for attrs in anchors:
        href = attrs.get("href")
        if not href:
            continue
        try:
            url, sha256 = _split_fragment(join(href))
            filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        except ValueError:  # an href no URL parser takes ("http://[::1/x.whl")
            log.warning("ignoring the link %r of %s: not a URL", href[:200], page_url)
            continue
        if accept is not None and not accept(filename):
            continue
        has_metadata, metadata_sha256 = False, None
        for attribute in ("data-core-metadata", "data-dist-info-metadata"):  # PEP 714 order
            if attribute in attrs:
                raw = attrs[attribute]  # None for a bare attribute: <a data-core-metadata ...>
                has_metadata, metadata_sha256 = (True, None) if raw is None else _metadata_flag(raw)
                break
        entries.append(
            FileEntry(
                filename=filename,
                url=url,
                sha256=sha256,
                requires_python=attrs.get("data-requires-python"),
                yanked=(attrs["data-yanked"] or "") if "data-yanked" in attrs else None,
                has_metadata=has_metadata,
                metadata_sha256=metadata_sha256,
            )
        )
    return tuple(entries)


def to_artifact(entry: FileEntry, project: NormalizedName, index: str) -> Artifact | None:
    """The artifact for one listed file, or None when it is not a wheel or sdist of ``project``.

    A file name that is not one plain name (a path separator, ``..``, NUL or a control
    character: see :func:`~torchlock.artifacts.is_safe_filename`) is refused, with a
    warning: it can only come from a broken or hostile index.
    """
    name = entry.filename
    if not is_safe_filename(name):
        log.warning("ignoring a file whose name is not a plain file name: %r", name)
        return None
    try:
        if name.endswith(".whl"):
            dist, version, build, tags = parse_wheel_filename(name)
            kind = ArtifactKind.WHEEL
        elif name.endswith((".tar.gz", ".zip")):
            dist, version = parse_sdist_filename(name)
            build, tags, kind = (), frozenset(), ArtifactKind.SDIST
        else:
            return None
    except ValueError:
        return None
    if dist != project:
        return None
    return Artifact(
        project=project,
        version=version,
        filename=name,
        url=entry.url,
        index=index,
        kind=kind,
        tags=tags,
        build=build,
        sha256=entry.sha256,
        size=entry.size,
        requires_python=parse_requires_python(entry.requires_python),
        yanked=entry.yanked,
        metadata_sha256=entry.metadata_sha256,
        has_metadata=entry.has_metadata,
        upload_time=entry.upload_time,
    )


def to_artifacts(entries: Iterable[FileEntry], project: str, index: str) -> tuple[Artifact, ...]:
    name = canonicalize_name(project)
    found = (to_artifact(entry, name, index) for entry in entries)
    return tuple(artifact for artifact in found if artifact is not None)


def parse_page(
    content: bytes | str,
    *,
    kind: str,
    page_url: str,
    project: str,
    index: str,
    accept: FilenameFilter | None = None,
) -> tuple[Artifact, ...]:
    """The artifacts of ``project`` on a page of ``kind`` ("json" or "html").

    ``accept`` (see :func:`wheel_filter`) drops files by name before they are parsed: a
    page of torch lists hundreds of wheels for other Pythons and platforms.
    """
    if kind == "json":
        entries = json_entries(content, page_url, accept)
    else:
        entries = html_entries(content, page_url, accept)
    return to_artifacts(_remote_only(entries, page_url), project, index)


def _remote_only(entries: Iterable[FileEntry], page_url: str) -> list[FileEntry]:
    """The entries whose URL is http(s): a remote page never points at local files (a
    ``file:`` index the user named may).

    ``file:`` hrefs, a ``<base href="file:///...">`` or a JSON ``"url": "file://..."`` would
    make torchlock read (and lock) a file of the user's machine, a FIFO or ``/dev/zero``
    among them. Local files come only from a ``--find-links`` folder the user names. The
    http rule of the index itself (https, or http to loopback or a trusted host) is
    applied when a file is fetched.
    """
    kept = []
    allowed = ("http", "https", "file") if page_url[:5].lower() == "file:" else ("http", "https")
    for entry in entries:
        scheme = entry.url.partition(":")[0].lower()
        if scheme not in allowed:
            log.warning("ignoring %s listed by %s: not an http(s) URL", entry.filename, page_url)
        elif not _parses(entry.url):
            log.warning(
                "ignoring %s listed by %s: its URL does not parse", entry.filename, page_url
            )
        else:
            kept.append(entry)
    return kept


def _parses(url: str) -> bool:
    """Whether ``url`` has a host and port the URL parser takes (``http://[::1/x`` has not:
    it would fail only when fetched)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() == "file" or bool(parts.hostname)


FilenameFilter = Callable[[str], bool]


def wheel_filter(tags: Iterable[Tag]) -> FilenameFilter:
    """Keep sdists and the wheels with a tag in ``tags``; judged from the file name alone."""
    # platform -> the (interpreter, abi) pairs accepted with it: a wheel for another
    # platform (most of a page) is turned down by one dictionary miss per platform
    pairs_of: dict[str, set[tuple[str, str]]] = {}
    for tag in tags:
        pairs_of.setdefault(tag.platform, set()).add((tag.interpreter, tag.abi))
    # a page repeats the same few tag triples hundreds of times: each is judged once, keyed
    # by the three pieces rsplit gives (the platforms keep ".whl": no string is built)
    known: dict[tuple[str, str, str], bool] = {}

    def judge(interpreters: str, abis: str, platforms: str) -> bool:
        for platform in platforms.split("."):
            pairs = pairs_of.get(platform)
            if pairs is not None and any(
                (i, a) in pairs for i in interpreters.split(".") for a in abis.split(".")
            ):
                return True
        return False

    def accept(filename: str) -> bool:
        if not filename.endswith(".whl"):
            return filename.endswith((".tar.gz", ".zip"))
        try:
            _, interpreters, abis, platforms_whl = filename.rsplit("-", 3)
        except ValueError:  # fewer than three dashes
            return False
        key = (interpreters, abis, platforms_whl)
        verdict = known.get(key)
        if verdict is None:
            verdict = known[key] = judge(interpreters, abis, platforms_whl[:-4])
        return verdict

    return accept
