"""The index client: a :class:`~torchlock.resolver.finder.Finder` over HTTP.

Project pages come from the one index the routing names for the project (find-links
folders first, for every project); metadata from PEP 658 files, else HTTP range requests
on the wheel, else a full download. Pages and metadata go through an on-disk HTTP cache
when a cache directory is given; ``offline=True`` answers from that cache only.

The HTTP stack (:mod:`torchlock.index.transport`) is imported when the first request is
made, never at module import.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, cast
from urllib.parse import unquote, urlsplit

import msgspec
from msgspec import Struct, field
from msgspec.structs import force_setattr
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from torchlock.artifacts import Artifact, ArtifactKind, BuildTorch, CoreMetadata
from torchlock.errors import PackageIndexError
from torchlock.index import limits
from torchlock.index.cache import HttpCache, metadata_key, parse_max_age
from torchlock.index.logins import NetrcLogins
from torchlock.index.metadata import decode, parse_metadata, read_wheel_metadata
from torchlock.index.pages import (
    ACCEPT,
    CachedPage,
    MalformedPage,
    page_kind,
    parse_page,
    wheel_filter,
)
from torchlock.index.sdists import SdistBuilder, is_static, read_pkg_info
from torchlock.index.urls import check_index_url, origin, redact, split_credentials

if TYPE_CHECKING:
    from torchlock.index.transport import Session, TransportError
    from torchlock.index.wheelhouse import Wheelhouse

log = logging.getLogger("torchlock.index")

T = TypeVar("T")

OFFLINE_HINT = "run the same command once without --offline to fill the cache"


class Routing(Struct, frozen=True, kw_only=True):
    """Which index serves which project.

    ``indexes`` maps a project to the index that must serve it (the torch family to the
    PyTorch variant index); every other project comes from ``default_index``, or, when that
    index does not have it at all, from the first of ``extra_indexes`` that does (one index
    per project, never a merge: an extra index cannot shadow a project of the default
    index, the dependency-confusion attack). Find-links
    folders are searched first for every project: when any folder has a file of the project,
    those files are its candidates and no index is asked. Index URLs may carry credentials
    (``https://user:token@host/simple``); they are used for that host and never shown.
    """

    default_index: str
    indexes: Mapping[str, str] = field(default_factory=dict)
    # Projects asked at another index first (the torch ecosystem at the PyTorch variant
    # index): when that index does not list the project at all (404), the default answers.
    first_indexes: Mapping[str, str] = field(default_factory=dict)
    extra_indexes: tuple[str, ...] = ()
    find_links: tuple[Path, ...] = ()
    # Index URLs that are one flat HTML listing of files for every project (pip's
    # --find-links over HTTP, as some mirrors publish PyTorch wheels), not PEP 503 roots.
    flat_indexes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        normal = {canonicalize_name(k): v for k, v in self.indexes.items()}
        force_setattr(self, "indexes", normal)
        first = {canonicalize_name(k): v for k, v in self.first_indexes.items()}
        force_setattr(self, "first_indexes", first)
        force_setattr(self, "find_links", tuple(Path(p) for p in self.find_links))

    def index_for(self, project: str) -> str:
        """The index asked first for ``project``."""
        name = canonicalize_name(project)
        return self.indexes.get(name) or self.first_indexes.get(name) or self.default_index

    def asked_in_order(self, project: str) -> tuple[str, ...]:
        """The indexes that may serve ``project``, in the order they are asked.

        The first one whose page exists serves it, even when that page lists no file for
        the target: only a missing page (404) lets the next one answer.
        """
        name = canonicalize_name(project)
        pinned = self.indexes.get(name)
        if pinned is not None:
            return (pinned,)
        first = self.first_indexes.get(name)
        return (*([first] if first is not None else []), self.default_index, *self.extra_indexes)


class Timeouts(Struct, frozen=True, kw_only=True):
    connect: float = limits.CONNECT_TIMEOUT
    read: float = limits.READ_TIMEOUT  # the longest silence while an answer is read
    # a page or metadata file, read to its end (a server that trickles a byte at a time
    # never trips the read timeout); files downloaded whole have none
    total: float = limits.REQUEST_DEADLINE


class RetryPolicy(Struct, frozen=True, kw_only=True):
    """Retries on connection errors, resets, timeouts, 429 and 5xx, with exponential backoff."""

    retries: int = limits.RETRIES
    backoff: float = 0.2  # seconds before the first retry; doubled each time
    max_wait: float = 30.0  # cap on one wait, Retry-After included

    def wait(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            try:
                return min(self.max_wait, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: fall back to the backoff
        return min(self.max_wait, self.backoff * 2.0 ** (attempt - 1))


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


class Limits(Struct, frozen=True, kw_only=True):
    """What a solve's requests may take, each with a default and a ``solve`` option.

    ``read_timeout`` (--timeout): seconds of silence while an answer is read;
    ``retries`` (--retries): tries after the first; ``request_deadline``
    (--request-deadline): seconds a page or metadata file may take in all;
    ``solve_deadline`` (--solve-deadline): seconds for all of one solve's requests, None
    for no limit; ``max_page_bytes`` (--max-page-size): a page or metadata file,
    decompressed.
    """

    read_timeout: float = limits.READ_TIMEOUT
    retries: int = limits.RETRIES
    request_deadline: float = limits.REQUEST_DEADLINE
    solve_deadline: float | None = limits.SOLVE_DEADLINE
    max_page_bytes: int = limits.MAX_PAGE_BYTES

    def timeouts(self) -> Timeouts:
        return Timeouts(read=self.read_timeout, total=self.request_deadline)

    def retry(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries)


class ClientStats(Struct):
    """What the client did: requests sent (retries included), answers from the cache."""

    requests: int = 0
    cache_hits: int = 0
    revalidated: int = 0  # 304 answers: cached page reused after a conditional request
    retries: int = 0
    bytes: int = 0  # body bytes received


class _Reply(Struct, frozen=True, kw_only=True):
    status: int
    reason: str
    headers: Mapping[str, str]  # by lowercase name
    content: bytes
    url: str


class _RangeUnsupported(Exception):
    """The server answered a range request with something other than those bytes."""


class _Cell(Generic[T]):
    """One computation, run once, awaited by anyone (prefetch threads and callers alike)."""

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self, compute: Callable[[], T]) -> None:
        try:
            self._value = compute()
        except BaseException as exc:
            self._error = exc
            if not isinstance(exc, Exception):
                self._done.set()
                raise
        self._done.set()

    def get(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class _Workers:
    """Worker threads running jobs in order; a thread is started only when a job finds
    every started one busy, up to ``limit``.

    What concurrent.futures' pool does for this client, without its import and futures
    (results travel through :class:`_Cell`). A job's exception never stops its worker.
    """

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._jobs: deque[Callable[[], object]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, job: Callable[[], object]) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("the index client is closed")
            self._jobs.append(job)
            if self._idle > 0 or len(self._threads) >= self._limit:
                self._ready.notify()
                return
            thread = threading.Thread(
                target=self._work, name=f"torchlock-index-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Run what is queued, then stop every worker and wait for it.

        ``wait=False`` (an interrupted solve): drop what is queued and leave at once; the
        workers, daemon threads, end with their request or with the process.
        """
        with self._ready:
            self._closed = True
            if not wait:
                self._jobs.clear()
            self._ready.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                if not self._jobs:
                    return
                job = self._jobs.popleft()
            with contextlib.suppress(BaseException):  # _Cell keeps it for whoever waits
                job()


# What one answer may hold, decompressed: a project page or a metadata file (the largest
# real pages are a few MB), and a file downloaded whole (a CUDA wheel is some GB).
MAX_BODY_BYTES = limits.MAX_PAGE_BYTES
MAX_FILE_BYTES = 8 << 30


class SolveMemo:
    """What the targets of one solve share: decoded pages by URL, metadata by file URL.

    A solve for linux-64 and win-64 reads mostly the same pages and metadata files; each
    target's client asks here before it reads the HTTP cache or the network. The clients
    must parse pages for every target's tags (pass their union as ``tags``): a target
    ranks and skips the wheels of the others itself.
    """

    def __init__(self, *, deadline: float | None = None) -> None:
        self._lock = threading.Lock()
        # seconds all the solve's requests may take; None: no limit
        self.deadline = deadline
        self.expires = None if deadline is None else time.monotonic() + deadline
        self._pages: dict[str, tuple[tuple[Artifact, ...] | None, str | None]] = {}
        self.metadata: dict[str, CoreMetadata] = {}  # dict operations are atomic
        # the connections too: the first client that needs a session makes it, the others
        # reuse it, and :meth:`close` (the solve) closes it
        self.http: Session | None = None

    def close(self) -> None:
        """Close the shared HTTP session, if one was made."""
        if self.http is not None:
            self.http.close()
            self.http = None

    def page(self, url: str) -> tuple[tuple[Artifact, ...] | None, str | None] | None:
        """(the files, or None for a 404; the body's sha256) of a page read before."""
        with self._lock:
            return self._pages.get(url)

    def remember_page(
        self, url: str, artifacts: tuple[Artifact, ...] | None, sha256: str | None
    ) -> None:
        with self._lock:
            self._pages.setdefault(url, (artifacts, sha256))


class IndexClient:
    """Artifacts and metadata from package indexes, find-links folders and the HTTP cache.

    ``http`` is a :class:`~torchlock.index.transport.Session` to share; by default one is
    created on the first request (proxies from the environment, the system's certificates)
    and closed by :meth:`close`. ``clock`` and ``sleep`` are the time source for cache
    freshness and the retry waits.
    """

    def __init__(
        self,
        routing: Routing,
        *,
        http: Session | None = None,
        cache_dir: Path | None = None,
        offline: bool = False,
        trusted_hosts: Iterable[str] = (),
        netrc_path: Path | None = None,
        ca_file: Path | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 8,
        tags: Sequence[Tag] | None = None,
        sdist_builder: SdistBuilder | None = None,
        build_torch: BuildTorch | None = None,
        memo: SolveMemo | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.routing = routing
        # Shared by the clients of one solve's targets (their tags all in ``tags``).
        self._memo = memo
        # Runs an sdist's build backend when its PKG-INFO does not settle its dependencies
        # (PEP 643); None: such an sdist is an error that says so.
        self._sdist_builder = sdist_builder
        self._max_body = max_body  # a page or metadata file, decompressed
        # The target's torch, for the sdists the builder builds against torch (flash-attn).
        self._build_torch = build_torch
        # Only the target's wheels (and sdists) are parsed from a page; None: every file.
        self._accept = None if tags is None else wheel_filter(tags)
        # URL -> sha256 of the body of every project page an answer was built from
        self.pages_used: dict[str, str] = {}
        self.stats = ClientStats()
        self._http = http
        self._own_http = http is None
        self._cache = HttpCache(cache_dir) if cache_dir is not None else None
        self._offline = offline
        self._trusted = frozenset(h.strip().lower() for h in trusted_hosts)
        self._ca_file = ca_file
        self._logins = NetrcLogins(netrc_path)
        self._timeouts = timeouts
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._workers = max(1, workers)
        self._wheelhouse: Wheelhouse | None = None
        if routing.find_links:  # the module only when there are folders to search
            from torchlock.index.wheelhouse import Wheelhouse

            self._wheelhouse = Wheelhouse(routing.find_links)
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._pages: dict[NormalizedName, _Cell[tuple[Artifact, ...]]] = {}
        self._metadata: dict[str, _Cell[CoreMetadata]] = {}
        self._executor: _Workers | None = None
        self._closed = False
        self._credentials: dict[str, tuple[str, str] | None] = {}
        self._served: dict[NormalizedName, str] = {}  # project -> the index whose page it is
        # (scheme, netloc) of the URLs check_index_url allowed: a solve sends dozens of
        # requests to one or two hosts
        self._allowed: set[tuple[str, str]] = set()
        self._clean: dict[str, str] = {}
        every = (*routing.indexes.values(), *routing.first_indexes.values())
        for url in (routing.default_index, *every, *routing.extra_indexes):
            clean, credentials = split_credentials(url)
            self._clean[url] = clean
            if credentials is not None:
                self._credentials[origin(clean)] = credentials

    # -- the Finder protocol -------------------------------------------------------------

    def artifacts(self, project: NormalizedName | str) -> tuple[Artifact, ...]:
        """Every file of ``project`` on the one index (or find-links folders) serving it."""
        name = canonicalize_name(project)
        cell, created = self._claim(self._pages, name)
        if created:
            cell.run(lambda: self._find(name))
        return cell.get()

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        """The core metadata of one file (PEP 658, else range requests, else download).

        An sdist without PEP 658 metadata stands for its version: a wheel of that version is
        read instead, and PackageIndexError says so when there is none.
        """
        cell, created = self._claim(self._metadata, artifact.url)
        if created:
            cell.run(lambda: self._read_metadata(artifact))
        return cell.get()

    def listed(self, project: NormalizedName | str) -> bool:
        """Whether a folder or index has ``project`` (its page exists, fitting files or not)."""
        name = canonicalize_name(project)
        return name in self._served or bool(self.artifacts(name))

    def source(self, project: NormalizedName | str) -> str:
        """The page that served ``project`` (else the pages and folders asked, in order),
        credentials redacted."""
        name = canonicalize_name(project)
        asked = [str(folder) for folder in self.routing.find_links]
        served = self._served.get(name)
        for index in (served,) if served is not None else self.routing.asked_in_order(name):
            clean = self._clean.get(index, index)
            flat = index in self.routing.flat_indexes
            asked.append(clean if flat else f"{clean.rstrip('/')}/{name}/")
        return ", then ".join(redact(url) for url in asked)

    def prefetch(
        self,
        projects: Iterable[NormalizedName | str],
        pick: Callable[[NormalizedName, Sequence[Artifact]], Artifact | None] | None = None,
    ) -> None:
        """Start fetching these projects' pages in the thread pool; errors surface later.

        With ``pick``, the metadata of the file it picks from each page is read next, in
        the same worker, so the resolver finds it ready.
        """
        for project in projects:
            name = canonicalize_name(project)
            cell, created = self._claim(self._pages, name)
            if created:
                self._submit(cell, lambda name=name: self._find(name))  # type: ignore[misc]
                if pick is not None:
                    self._submit_after(cell, name, pick)

    def _submit_after(
        self,
        page: _Cell[tuple[Artifact, ...]],
        name: NormalizedName,
        pick: Callable[[NormalizedName, Sequence[Artifact]], Artifact | None],
    ) -> None:
        def read_ahead() -> None:
            try:
                chosen = pick(name, page.get())
            except Exception:  # the page's own error surfaces when it is asked for
                return
            if chosen is not None:
                cell, created = self._claim(self._metadata, chosen.url)
                if created:
                    cell.run(lambda: self._read_metadata(chosen))

        pool = self._pool()
        if pool is not None:
            pool.submit(read_ahead)

    def prefetch_metadata(self, artifacts: Iterable[Artifact]) -> None:
        """Start reading these files' metadata in the thread pool."""
        for artifact in artifacts:
            cell, created = self._claim(self._metadata, artifact.url)
            if created:
                self._submit(cell, lambda a=artifact: self._read_metadata(a))  # type: ignore[misc]

    def close(self, *, wait: bool = True) -> None:
        """Wait for the work already started, then release the threads and connections.

        A prefetch that arrives while closing (a read-ahead job still walking the closure)
        starts nothing: no thread, no request, outlives the client. ``wait=False`` (Ctrl-C,
        or an error that ends the solve): nothing is waited for, queued work is dropped.
        """
        with self._lock:
            executor, self._executor = self._executor, None
            self._closed = True
        if executor is not None:
            executor.shutdown(wait=wait)
        if self._own_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- pages ---------------------------------------------------------------------------

    def page_url(self, project: str) -> str:
        """The project page URL the client asks (credentials removed)."""
        index = self.routing.index_for(project)
        return f"{self._clean.get(index, index).rstrip('/')}/{canonicalize_name(project)}/"

    def _find(self, project: NormalizedName) -> tuple[Artifact, ...]:
        local = self._wheelhouse.artifacts(project) if self._wheelhouse is not None else ()
        if local:
            log.debug("%s: %d files from find-links folders", project, len(local))
            return local
        for index in self.routing.asked_in_order(project):
            found = self._fetch_page(
                self._clean.get(index, index), project, flat=index in self.routing.flat_indexes
            )
            if found is not None:  # this index has the project: it alone serves it
                if index != self.routing.default_index:
                    log.debug("%s: from %s", project, redact(index))
                with self._lock:
                    self._served[project] = index
                return found
        return ()

    def _fetch_page(
        self, index: str, project: NormalizedName, *, flat: bool = False
    ) -> tuple[Artifact, ...] | None:
        """The files ``index`` lists for ``project`` that may fit; None when it has no page.

        With a :class:`SolveMemo`, a page another target of the same solve already read is
        not read (nor decoded) again.
        """
        url = index if flat else f"{index.rstrip('/')}/{project}/"
        if self._memo is None:
            return self._load_page(url, index, project)
        key = f"{url}#{project}" if flat else url  # a flat page lists every project
        known = self._memo.page(key)
        if known is not None:
            artifacts, sha256 = known
            if sha256 is not None:
                with self._lock:
                    self.pages_used[url] = sha256
            return artifacts
        artifacts = self._load_page(url, index, project)
        self._memo.remember_page(key, artifacts, self.pages_used.get(url))
        return artifacts

    def _load_page(
        self, url: str, index: str, project: NormalizedName
    ) -> tuple[Artifact, ...] | None:
        if url[:5].lower() == "file:":
            return self._local_page(url, index, project)
        self._check(url)
        cached = self._cache.load_page(url) if self._cache is not None else None
        now = self._clock()
        if cached is not None and (self._offline or cached.is_fresh(now)):
            self._count(cache_hits=1)
            return self._parse(cached, project, index)
        if self._offline:
            raise PackageIndexError(
                f"offline, and the project page {redact(url)} is not in the cache",
                evidence=[f"cache: {self._cache.directory if self._cache else '(none given)'}"],
                hint=OFFLINE_HINT,
            )
        headers = {"Accept": ACCEPT}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        reply = self._send(url, headers)
        if reply.status == 304 and cached is not None:
            max_age = parse_max_age(reply.headers.get("cache-control"))
            page = cached.refreshed(now, cached.max_age if max_age is None else max_age)
            self._count(revalidated=1)
            self._store(page)
            return self._parse(page, project, index)
        if reply.status == 404:
            log.info("%s: not on %s", project, redact(index))
            return None
        if reply.status != 200:
            raise self._status_error("project page", url, reply)
        content_type = reply.headers.get("content-type", "")
        if page_kind(content_type) is None:
            raise PackageIndexError(
                f"unexpected content type from {redact(url)}: {content_type or '(none)'!r}",
                evidence=[
                    "expected application/vnd.pypi.simple.v1+json, "
                    "application/vnd.pypi.simple.v1+html or text/html"
                ],
                hint="the index URL should be the root of a simple repository (…/simple)",
            )
        page = CachedPage(
            url=url,
            base_url=reply.url,
            content=reply.content,
            content_type=content_type,
            fetched_at=now,
            etag=reply.headers.get("etag"),
            last_modified=reply.headers.get("last-modified"),
            max_age=parse_max_age(reply.headers.get("cache-control")),
        )
        artifacts = self._parse(page, project, index)  # before storing: never cache garbage
        self._store(page)
        return artifacts

    def _local_page(
        self, url: str, index: str, project: NormalizedName
    ) -> tuple[Artifact, ...] | None:
        """A project page of a ``file:`` simple index the user named: its folder's
        index.html (PEP 503's layout, as pip reads it); None when the project has none."""
        folder = Path(unquote(urlsplit(url).path))
        page = folder / "index.html" if folder.is_dir() else folder
        try:
            if not page.is_file():
                return None
            content = page.read_bytes()
        except OSError as exc:
            raise PackageIndexError(f"cannot read {page}", evidence=[str(exc)]) from None
        local = CachedPage(
            url=url,
            base_url=page.as_uri(),
            content=content,
            content_type="text/html",
            fetched_at=self._clock(),
        )
        return self._parse(local, project, index)

    def _parse(self, page: CachedPage, project: NormalizedName, index: str) -> tuple[Artifact, ...]:
        with self._lock:
            self.pages_used[page.url] = page.sha256
        kind = page_kind(page.content_type) or "html"
        try:
            found = parse_page(
                page.content,
                kind=kind,
                page_url=page.base_url or page.url,
                project=project,
                index=index,
                accept=self._accept,
            )
        except MalformedPage as exc:
            raise PackageIndexError(
                f"malformed project page {redact(page.url)}",
                evidence=[str(exc)],
                hint="the index sent a damaged or truncated page; try again later",
            ) from None
        return tuple(self._without_credentials(a) for a in found)

    def _without_credentials(self, artifact: Artifact) -> Artifact:
        """``artifact`` with ``user:password@`` taken out of its URL (an index may hand
        out such URLs): results, locks and the cache never hold them. The login is kept
        for that host, in memory, for this client's own requests."""
        if "@" not in artifact.url:
            return artifact
        clean, login = split_credentials(artifact.url)
        if login is None:
            return artifact
        with self._lock:
            self._credentials.setdefault(origin(clean), login)
        return msgspec.structs.replace(artifact, url=clean)

    def _store(self, page: CachedPage) -> None:
        if self._cache is not None:
            self._cache.store_page(page)

    # -- metadata ------------------------------------------------------------------------

    def _read_metadata(self, artifact: Artifact) -> CoreMetadata:
        if self._memo is None:
            return self._load_metadata(artifact)
        known = self._memo.metadata.get(artifact.url)
        if known is None:
            known = self._load_metadata(artifact)
            self._memo.metadata[artifact.url] = known
        return known

    def _load_metadata(self, artifact: Artifact) -> CoreMetadata:
        if artifact.kind is ArtifactKind.SDIST:
            wheel = self._wheel_of_same_version(artifact)
            if wheel is not None:  # a wheel of the same version has the same metadata
                return self.metadata(wheel)
            return self._sdist_metadata(artifact)
        if artifact.url.startswith("file:"):
            return self._local_metadata(artifact)
        key = metadata_key(artifact.sha256, artifact.url)
        if self._cache is not None:
            cached = self._cache.load_metadata(key)
            if cached is not None:
                try:
                    found = self._checked(parse_metadata(decode(cached)), artifact)
                except PackageIndexError as exc:
                    log.warning(
                        "ignoring damaged cached metadata of %s: %s", artifact.filename, exc
                    )
                    self._cache.forget_metadata(key)
                else:
                    self._count(cache_hits=1)
                    return found
        if self._offline:
            raise PackageIndexError(
                f"offline, and the metadata of {artifact.filename} is not in the cache",
                evidence=[f"file: {redact(artifact.url)}"],
                hint=OFFLINE_HINT,
            )
        text = self._pep658(artifact) if artifact.has_metadata else None
        if text is None:
            text = self._wheel_metadata(artifact)
        found = self._checked(parse_metadata(text, source=artifact.filename), artifact)
        if self._cache is not None:
            self._cache.store_metadata(key, text.encode("utf-8"))
        return found

    def _sdist_metadata(self, artifact: Artifact) -> CoreMetadata:
        """An sdist's metadata: its PKG-INFO where PEP 643 makes it static, else built.

        The sdist is read only after its bytes matched the sha256 the index gave, and what
        is learnt from it is cached under that verified hash.
        """
        key = metadata_key(artifact.sha256, artifact.url)
        torch = self._build_torch
        builder = self._sdist_builder
        if torch is not None and builder is not None and builder.uses_torch(artifact.project):
            # built against this torch: what another torch gives may differ
            against = f"{torch.requirement} {torch.index}".encode()
            key += "-" + hashlib.sha256(against).hexdigest()[:16]
        if self._cache is not None and artifact.sha256:
            cached = self._cache.load_metadata(key)
            if cached is not None:
                self._count(cache_hits=1)
                return self._checked(parse_metadata(decode(cached)), artifact)
        if self._offline and not artifact.url.startswith("file:"):
            raise PackageIndexError(
                f"offline, and the metadata of {artifact.filename} is not in the cache",
                evidence=[f"file: {redact(artifact.url)}"],
                hint=OFFLINE_HINT,
            )
        import tempfile  # only sdists pay for it

        with tempfile.TemporaryFile() as sink:
            self._sdist_bytes(artifact, sink)
            sink.seek(0)
            text = read_pkg_info(sink, filename=artifact.filename)
            found = None if text is None else parse_metadata(text, source=artifact.filename)
            if found is None or not is_static(found):
                if self._sdist_builder is None:
                    raise PackageIndexError(
                        f"{artifact.project} {artifact.version} must be built to learn its "
                        "dependencies",
                        evidence=[
                            f"only the sdist {artifact.filename} fits the target, and its "
                            "PKG-INFO does not fix its dependencies (PEP 643)",
                        ],
                        hint="pin a version that has wheels, or allow building sdists",
                    )
                sink.seek(0)
                text = self._sdist_builder.wheel_metadata(sink, artifact, torch=torch)
                found = parse_metadata(text, source=f"the wheel built from {artifact.filename}")
        found = self._checked(found, artifact)
        if self._cache is not None and artifact.sha256 and text is not None:
            self._cache.store_metadata(key, text.encode("utf-8"))
        return found

    def _sdist_bytes(self, artifact: Artifact, sink: IO[bytes]) -> None:
        """The sdist's bytes into ``sink``, checked against the sha256 the index gave."""
        if artifact.url.startswith("file:"):
            import shutil  # only an sdist in a find-links folder needs it

            try:
                with self._local_path(artifact).open("rb") as handle:
                    shutil.copyfileobj(handle, sink)
            except OSError as exc:
                raise PackageIndexError(
                    f"cannot read sdist {artifact.filename}", evidence=[str(exc)]
                ) from None
        else:
            reply = self._send(artifact.url, {"Accept-Encoding": "identity"}, sink=sink)
            if reply.status != 200:
                raise self._status_error("sdist", artifact.url, reply)
        _check_sha256(sink, artifact)

    def _local_path(self, artifact: Artifact) -> Path:
        path = Path(unquote(urlsplit(artifact.url).path))
        if sys.platform == "win32" and str(path).startswith("\\"):
            path = Path(str(path).lstrip("\\"))
        return path

    def _wheel_of_same_version(self, sdist: Artifact) -> Artifact | None:
        for candidate in self.artifacts(sdist.project):
            if candidate.kind is ArtifactKind.WHEEL and candidate.version == sdist.version:
                return candidate
        return None

    def _checked(self, found: CoreMetadata, artifact: Artifact) -> CoreMetadata:
        if found.name != artifact.project or found.version != artifact.version:
            raise PackageIndexError(
                f"metadata of {artifact.filename} describes another distribution",
                evidence=[
                    f"file name: {artifact.project} {artifact.version}",
                    f"METADATA:  {found.name} {found.version}",
                ],
            )
        return found

    def _local_metadata(self, artifact: Artifact) -> CoreMetadata:
        path = self._local_path(artifact)
        try:
            with path.open("rb") as handle:
                text = read_wheel_metadata(handle, source=str(path), project=artifact.project)
        except OSError as exc:
            raise PackageIndexError(f"cannot read wheel {path}", evidence=[str(exc)]) from None
        return self._checked(parse_metadata(text, source=str(path)), artifact)

    def _pep658(self, artifact: Artifact) -> str | None:
        url = f"{artifact.url}.metadata"
        reply = self._send(url, {})
        if reply.status == 404:
            log.info("advertised metadata missing: %s", redact(url))
            return None
        if reply.status != 200:
            raise self._status_error("metadata file", url, reply)
        if artifact.metadata_sha256:
            actual = hashlib.sha256(reply.content).hexdigest()
            if actual != artifact.metadata_sha256.lower():
                raise PackageIndexError(
                    f"metadata hash mismatch for {artifact.filename}",
                    evidence=[
                        f"the index advertises sha256={artifact.metadata_sha256}",
                        f"{redact(url)} has sha256={actual}",
                    ],
                    hint="the index or a proxy served a damaged file; try again later "
                    "or report it to the index",
                )
        return decode(reply.content)

    def _wheel_metadata(self, artifact: Artifact) -> str:
        """METADATA via range requests; the whole wheel when the server cannot do ranges."""
        url = artifact.url
        identity = {"Accept-Encoding": "identity"}
        source = artifact.filename
        import tempfile  # only the slow path pays for it

        from torchlock.index.lazyzip import TAIL_BYTES, RangeFile, parse_content_range

        with tempfile.TemporaryFile() as sink:
            reply = self._send(url, {**identity, "Range": f"bytes=-{TAIL_BYTES}"}, sink=sink)
            if reply.status == 206:
                span = parse_content_range(reply.headers.get("content-range"))
                if span is not None:

                    def fetch(start: int, end: int) -> bytes:
                        more = self._send(url, {**identity, "Range": f"bytes={start}-{end}"})
                        got = parse_content_range(more.headers.get("content-range"))
                        if more.status != 206 or got is None or got[0] != start:
                            raise _RangeUnsupported(f"HTTP {more.status}")
                        return more.content

                    remote = RangeFile(span[2], fetch, {span[0]: reply.content})
                    try:
                        return read_wheel_metadata(
                            cast("IO[bytes]", remote), source=source, project=artifact.project
                        )
                    except (_RangeUnsupported, OSError) as exc:
                        log.info("range requests failed for %s (%s): downloading", source, exc)
            elif reply.status == 200:
                log.info("%s ignores Range: using the whole body", redact(origin(url)))
                return self._downloaded_metadata(sink, artifact)
            elif reply.status not in (416, 501):
                raise self._status_error("wheel", url, reply)
            reply = self._send(url, identity, sink=sink)
            if reply.status != 200:
                raise self._status_error("wheel", url, reply)
            return self._downloaded_metadata(sink, artifact)

    def _downloaded_metadata(self, sink: IO[bytes], artifact: Artifact) -> str:
        _check_sha256(sink, artifact)
        sink.seek(0)
        return read_wheel_metadata(sink, source=artifact.filename, project=artifact.project)

    # -- HTTP ----------------------------------------------------------------------------

    def _send(
        self, url: str, headers: Mapping[str, str], *, sink: IO[bytes] | None = None
    ) -> _Reply:
        """GET ``url`` with retries; a 200 body goes to ``sink`` when one is given."""
        self._check(url)  # before any connection is made
        from torchlock.index import transport

        http = self._client()
        auth = self._auth_for(url)
        attempts = max(1, self._retry.retries + 1)
        problem = ""
        timed_out = False
        retry_after: str | None = None
        for attempt in range(attempts):
            self._check_deadline(url)
            if attempt:
                self._count(retries=1)
                wait = self._retry.wait(attempt, retry_after)
                log.info("retrying %s in %.2f s: %s", redact(url), wait, problem)
                self._sleep(wait)
            retry_after = None
            try:
                deadline = None if sink is not None else self._timeouts.total
                with http.stream(
                    url, headers, auth=auth, check=self._check, deadline=deadline
                ) as response:
                    self._count(requests=1)
                    status = response.status
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("GET %s -> %d", redact(url), status)
                    if status == 429 or status >= 500:
                        problem = f"HTTP {status} {response.reason}".strip()
                        retry_after = response.headers.get("retry-after")
                        timed_out = False
                        continue
                    size = 0
                    content = b""
                    try:
                        if sink is not None and status == 200:
                            sink.seek(0)
                            sink.truncate()
                            for chunk in response.iter_bytes():
                                size += len(chunk)
                                if size > MAX_FILE_BYTES:
                                    raise transport.BodyTooLarge(MAX_FILE_BYTES)
                                sink.write(chunk)
                        else:
                            content = response.read(limit=self._max_body)
                            size = len(content)
                    except transport.BodyTooLarge as exc:
                        raise PackageIndexError(
                            f"{redact(url)} is too large: over {exc.limit} bytes",
                            evidence=["decompressed, as it would be read"],
                            hint="a page or metadata file of a real index is a few MB; "
                            "this one is broken or hostile (--max-page-size sets the limit)",
                        ) from None
                    self._count(bytes=size)
                    return _Reply(
                        status=status,
                        reason=response.reason,
                        headers=response.headers,
                        content=content,
                        url=response.url,
                    )
            except (transport.ConnectTimeout, transport.ReadTimeout) as exc:
                self._count(requests=1)
                timed_out = True
                problem = self._describe_timeout(exc)
            except transport.TransportError as exc:
                if exc.lasting:  # the same on every try: said at once
                    raise lasting_failure("fetch", url, exc) from None
                self._count(requests=1)
                timed_out = False
                problem = f"{type(exc).__name__}: {redact(str(exc)) or 'connection failed'}"
        raise PackageIndexError(
            f"{'timed out fetching' if timed_out else 'cannot fetch'} {redact(url)}",
            evidence=[problem, f"gave up after {attempts} attempts"],
            hint=(
                "the index is slow or unreachable; check the network (and HTTPS_PROXY), "
                "or try again later"
            ),
        )

    def _check_deadline(self, url: str) -> None:
        memo = self._memo
        if memo is None or memo.expires is None or time.monotonic() <= memo.expires:
            return
        raise PackageIndexError(
            f"the solve ran past its deadline of {memo.deadline:g} s",
            evidence=[f"before fetching {redact(url)}"],
            hint="the index is slow or stalled; give --solve-deadline SECONDS for a longer "
            "one (0: none)",
        )

    def _describe_timeout(self, exc: Exception) -> str:
        name = type(exc).__name__
        if name == "ConnectTimeout":
            return f"no connection within {self._timeouts.connect:g} s (connect timeout)"
        if name == "ReadTimeout" and "deadline" in str(exc):
            return f"the answer took longer than {self._timeouts.total:g} s in all"
        if name == "ReadTimeout":
            return f"no answer within {self._timeouts.read:g} s (read timeout)"
        return f"{name}: {exc}"

    def _status_error(self, what: str, url: str, reply: _Reply) -> PackageIndexError:
        if reply.status == 401:
            hint = (
                "the index wants credentials: put them in the index URL "
                "(https://USER:TOKEN@host/…) or in your netrc file"
            )
        elif reply.status == 403:
            hint = "the index refused access: check the credentials and the index URL"
        else:
            hint = "check the index URL: it should be the root of a simple repository (…/simple)"
        return PackageIndexError(
            f"cannot fetch {what} {redact(url)}",
            evidence=[f"HTTP {reply.status} {reply.reason}".strip()],
            hint=hint,
        )

    def _client(self) -> Session:
        with self._lock:
            if self._http is None and self._memo is not None and self._memo.http is not None:
                self._http, self._own_http = self._memo.http, False
            if self._http is None:
                from torchlock.index.transport import Session

                self._http = Session(
                    connect_timeout=self._timeouts.connect,
                    read_timeout=self._timeouts.read,
                    max_idle=self._workers * 2,
                    ca_file=self._ca_file,
                )
                if self._memo is not None:  # the solve's, for its other targets
                    self._memo.http, self._own_http = self._http, False
            return self._http

    def _check(self, url: str) -> None:
        """check_index_url (PackageIndexError when ``url`` must not be fetched)."""
        parts = urlsplit(url)  # remembered by urllib
        site = (parts.scheme, parts.netloc)  # all that check_index_url looks at
        if site not in self._allowed:
            check_index_url(url, self._trusted)
            self._allowed.add(site)

    def _auth_for(self, url: str) -> tuple[str, str] | None:
        key = origin(url)
        with self._lock:
            if key in self._credentials:
                return self._credentials[key]
        found = self._logins.for_host(urlsplit(url).hostname or "")
        with self._lock:
            self._credentials.setdefault(key, found)
            return self._credentials[key]

    # -- plumbing ------------------------------------------------------------------------

    def _claim(self, table: dict[Any, _Cell[T]], key: object) -> tuple[_Cell[T], bool]:
        with self._lock:
            cell = table.get(key)
            if cell is not None:
                return cell, False
            cell = table[key] = _Cell()
            return cell, True

    def _submit(self, cell: _Cell[Any], compute: Callable[[], Any]) -> None:
        pool = self._pool()
        if pool is not None:
            pool.submit(lambda: cell.run(compute))
        else:  # closing: whoever waits for this cell gets an error, never a hang
            cell.run(_closed)

    def _pool(self) -> _Workers | None:
        """The worker threads, started on first use; None once the client is closing."""
        with self._lock:
            if self._closed:
                return None
            if self._executor is None:
                self._executor = _Workers(self._workers)
            return self._executor

    def _count(self, **amounts: int) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)


def _check_sha256(sink: IO[bytes], artifact: Artifact) -> None:
    """PackageIndexError unless the bytes in ``sink`` have the sha256 the index gave."""
    if not artifact.sha256:
        return
    sink.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: sink.read(1 << 20), b""):
        digest.update(block)
    if digest.hexdigest() != artifact.sha256.lower():
        raise PackageIndexError(
            f"hash mismatch for {artifact.filename}",
            evidence=[
                f"the index advertises sha256={artifact.sha256}",
                f"{redact(artifact.url)} has sha256={digest.hexdigest()}",
            ],
            hint="the index or a proxy served a damaged file; try again later",
        )


def lasting_failure(verb: str, url: str, exc: TransportError) -> PackageIndexError:
    """The error for a transport failure that trying again cannot mend (``exc.lasting``)."""
    from torchlock.index import transport

    what = f"cannot {verb} {redact(url)}"
    if isinstance(exc, transport.CertificateError):
        what += ": the server's certificate is not trusted"
    return PackageIndexError(what, evidence=[redact(str(exc))], hint=exc.hint)


def _closed() -> Any:
    raise PackageIndexError("the index client was closed before this was fetched")


def pick_metadata_artifact(artifacts: Sequence[Artifact]) -> Artifact | None:
    """The file whose metadata stands for a version: the first wheel, else the first sdist."""
    for artifact in artifacts:
        if artifact.kind is ArtifactKind.WHEEL:
            return artifact
    return artifacts[0] if artifacts else None
