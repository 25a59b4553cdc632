"""The HTTP cache on disk: project pages with their validators, and content-addressed metadata.

Layout under the directory passed in::

    pages/<sha256 of the URL>.page      one JSON header line, then the body
    metadata/<key>.metadata             METADATA text; key = sha256-<hex> of the file, or
                                        url-<sha256 of its URL> when the index gave no hash

Every write is atomic (a temporary file in the same folder, then ``os.replace``); every
read that finds a damaged entry logs it and answers "not cached", so the caller refetches.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchlock.index.pages import CachedPage


def _warn(message: str, *args: object) -> None:
    # logging is imported only when there is something to say: a stored answer is checked
    # against this cache on every warm run, and importing logging would be a tenth of it
    import logging

    logging.getLogger("torchlock.index").warning(message, *args)


_FORMAT = 1


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` of a Cache-Control header; 0 for no-cache/no-store; None when absent."""
    if not cache_control:
        return None
    max_age: float | None = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age":
            try:
                max_age = max(0.0, float(value.strip().strip('"')))
            except ValueError:
                max_age = 0.0
    return max_age


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def metadata_key(sha256: str | None, url: str) -> str:
    """The cache key of a file's metadata: its URL, and the sha256 its index gives for it.

    Not the hash alone: a PEP 658 file (or the part of a wheel a range request reads) is
    not checked against the wheel's own bytes, so a hostile mirror that advertises a real
    wheel's hash beside fake metadata (``Requires-Dist: malware-payload``) would otherwise
    poison every later solve that shares the cache, against any index. Keyed by the URL
    too, what one index said is only ever used for that index's file.
    """
    where = url_key(url)
    return f"sha256-{sha256.lower()}-{where}" if sha256 else f"url-{where}"


_names = itertools.count()


def atomic_write(
    path: Path, data: bytes | tuple[bytes, ...], *, made: set[Path] | None = None
) -> None:
    """Write ``data`` (bytes, or pieces written one after another) to a temporary file
    beside ``path``, then rename it over ``path``.

    The temporary name is unique to this process and thread (no random names: a cold solve
    writes dozens of entries and tempfile's naming cost more than the writes). ``made``
    remembers the folders already created.
    """
    parent = path.parent
    if made is None or parent not in made:
        parent.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(parent)
    temporary = parent / f".{path.name}.{os.getpid()}-{threading.get_ident()}-{next(_names)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(temporary, flags, 0o600)
        try:
            for piece in (data,) if isinstance(data, bytes) else data:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class HttpCache:
    """Pages and metadata under ``directory`` (created on first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._made: set[Path] = set()  # folders known to exist
        self._warned = False

    def _page_path(self, url: str) -> Path:
        return self.directory / "pages" / f"{url_key(url)}.page"

    def _metadata_path(self, key: str) -> Path:
        return self.directory / "metadata" / f"{key}.metadata"

    def load_page(self, url: str) -> CachedPage | None:
        path = self._page_path(url)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._problem("cannot read cache entry %s: %s", path, exc)
            return None
        try:
            header_line, _, body = raw.partition(b"\n")
            header = json.loads(header_line)
            digest = hashlib.sha256(body).hexdigest()
            if (
                header.get("format") != _FORMAT
                or header.get("url") != url
                or header.get("length") != len(body)
                or header.get("sha256") != digest
            ):
                raise ValueError("header does not match the body")
            max_age = header.get("max_age")
            from torchlock.index.pages import CachedPage  # not for the warm path's checks

            return CachedPage(
                url=url,
                content=body,
                content_type=str(header["content_type"]),
                fetched_at=float(header["fetched_at"]),
                etag=header.get("etag"),
                last_modified=header.get("last_modified"),
                max_age=None if max_age is None else float(max_age),
                base_url=header.get("base_url"),
                sha256=digest,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._problem("ignoring a damaged cache entry for %s: %s", url, exc)
            return None

    def page_state(self, url: str) -> tuple[str, float, float | None] | None:
        """(sha256 of the body, fetched_at, max_age) of a cached page, reading its header only.

        Cheap enough to check dozens of pages on every run; a damaged header is None.
        """
        try:
            with self._page_path(url).open("rb") as handle:
                header = json.loads(handle.readline())
            max_age = header.get("max_age")
            if header.get("format") != _FORMAT or header.get("url") != url:
                return None
            return (
                str(header["sha256"]),
                float(header["fetched_at"]),
                None if max_age is None else float(max_age),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def pages_unchanged(self, pages: object, now: float, *, offline: bool = False) -> bool:
        """Whether every page of ``pages`` (URL -> body sha256) is cached with that body and,
        unless ``offline``, still fresh by its max-age: what a stored answer was built from."""
        if not isinstance(pages, dict) or not pages:
            return False
        for url, digest in pages.items():
            state = self.page_state(url) if isinstance(url, str) else None
            if state is None or state[0] != digest:
                return False
            _, fetched_at, max_age = state
            fresh = max_age is not None and 0 <= now - fetched_at < max_age
            if not (fresh or offline):
                return False
        return True

    def load_json(self, kind: str, key: str) -> object | None:
        """A JSON document torchlock stored under ``kind/key.json``; None when absent or bad."""
        try:
            return json.loads((self.directory / kind / f"{key}.json").read_bytes())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def store_json(self, kind: str, key: str, document: object) -> None:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
        self._write(self.directory / kind / f"{key}.json", data)

    def store_page(self, page: CachedPage) -> None:
        header = {
            "format": _FORMAT,
            "url": page.url,
            "content_type": page.content_type,
            "fetched_at": page.fetched_at,
            "etag": page.etag,
            "last_modified": page.last_modified,
            "max_age": page.max_age,
            "base_url": page.base_url,
            "length": len(page.content),
            "sha256": page.sha256,
        }
        line = json.dumps(header, sort_keys=True).encode("utf-8")
        self._write(self._page_path(page.url), (line, b"\n", page.content))  # no copy of a page

    def load_metadata(self, key: str) -> bytes | None:
        path = self._metadata_path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._problem("cannot read cache entry %s: %s", path, exc)
            return None

    def store_metadata(self, key: str, data: bytes) -> None:
        self._write(self._metadata_path(key), data)

    def forget_metadata(self, key: str) -> None:
        self._metadata_path(key).unlink(missing_ok=True)

    def _problem(self, message: str, *args: object) -> None:
        """Warn about the first problem only: a cache folder that cannot be used (a file
        in its place, no permission) would otherwise repeat it for every entry."""
        if not self._warned:
            self._warned = True
            _warn(message + " (further cache problems in this run are not shown)", *args)

    def _write(self, path: Path, data: bytes | tuple[bytes, ...]) -> None:
        try:
            atomic_write(path, data, made=self._made)
        except OSError as exc:  # a cache that cannot be written is not an error
            self._problem("cannot write cache entry %s: %s", path, exc)
