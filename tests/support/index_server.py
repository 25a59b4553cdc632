"""A real HTTP server on 127.0.0.1 serving a fixture index tree, with fault injection.

Static files under ``root`` (see fixture_index.py); for a directory the server picks
``index.json`` (PEP 691, when the Accept header asks for it and the file exists) or
``index.html``. Pages carry an ETag and ``Cache-Control: max-age=600`` and answer 304 to a
matching If-None-Match; files honour Range (206). Every request is logged.

Faults are set per path (the URL path, percent-decoded) and consumed in order::

    server.fail("/simple/numpy/", Fault.status(500, times=2))
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.support.fixture_index import FixtureIndex, build_pypi_index, build_pytorch_index

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


@dataclass(kw_only=True)
class Fault:
    """What to do instead of (or to) the normal answer; ``times`` None means always."""

    kind: str  # status | reset | delay | truncate | drop | content_type | ignore_range | body
    times: int | None = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    content_type: str = "text/plain"
    body: bytes = b""

    @classmethod
    def error(cls, status: int = 500, *, times: int | None = 1) -> Fault:
        return cls(kind="status", status=status, times=times)

    @classmethod
    def too_many(cls, *, retry_after: str = "0", times: int | None = 1) -> Fault:
        return cls(kind="status", status=429, retry_after=retry_after, times=times)

    @classmethod
    def reset(cls, *, times: int | None = 1) -> Fault:
        """Close the connection (with a TCP reset) without answering."""
        return cls(kind="reset", times=times)

    @classmethod
    def slow(cls, seconds: float, *, times: int | None = None) -> Fault:
        """Wait ``seconds`` before answering (longer than the client's read timeout)."""
        return cls(kind="delay", delay=seconds, times=times)

    @classmethod
    def truncated(cls, *, times: int | None = None) -> Fault:
        """Send only the first half of the body (with a matching Content-Length)."""
        return cls(kind="truncate", times=times)

    @classmethod
    def dropped(cls, *, times: int | None = None) -> Fault:
        """Promise the whole body (its Content-Length), send half, and close the connection:
        a download that drops mid-file. A 206 answer to a Range request drops the same way."""
        return cls(kind="drop", times=times)

    @classmethod
    def wrong_type(cls, content_type: str = "text/plain", *, times: int | None = None) -> Fault:
        return cls(kind="content_type", content_type=content_type, times=times)

    @classmethod
    def ignore_range(cls, *, times: int | None = None) -> Fault:
        """Answer 200 with the whole file to a Range request."""
        return cls(kind="ignore_range", times=times)

    @classmethod
    def replace_body(cls, body: bytes, *, times: int | None = None) -> Fault:
        return cls(kind="body", body=body, times=times)


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    headers: dict[str, str]  # lower-cased names
    status: int | None  # None when the connection was reset


@dataclass(kw_only=True)
class IndexServer:
    root: Path
    tree: FixtureIndex | None = None
    log: list[Request] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    max_age: int = 600
    tls: bool = False  # serve https with tests/fixtures/tls (a CA of its own: ca.pem)
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def index_url(self, index: str = "simple", *, login: tuple[str, str] | None = None) -> str:
        """The index's URL; with ``login``, carrying that user and password in it."""
        if login is None:
            return f"{self.url}/{index}"
        user, password = login
        return f"{self.url.replace('://', f'://{user}:{password}@', 1)}/{index}"

    def fail(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self.faults.setdefault(path, []).extend(faults)

    def require_auth(self, user: str, password: str) -> None:
        self.auth = (user, password)

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.faults.clear()
        self.auth = None

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def _take_fault(self, path: str, kinds: tuple[str, ...] | None = None) -> Fault | None:
        with self._lock:
            queue = self.faults.get(path, [])
            for fault in queue:
                if kinds is not None and fault.kind not in kinds:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.remove(fault)
                return fault
            return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)

    def start(self) -> IndexServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        if self.tls:
            wrap_tls(self._httpd)
        thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out or hang up are part of the tests


class _Handler(BaseHTTPRequestHandler):
    owner: IndexServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        owner = self.owner
        path = unquote(urlsplit(self.path).path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        fault = owner._take_fault(path, ("status", "reset", "delay"))
        if fault is not None and fault.kind == "reset":
            owner._record(Request(method=self.command, path=path, headers=headers, status=None))
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._answer(path, headers, fault.status, b"fault injected\n", "text/plain", extra)
            return
        if owner.auth is not None and not self._authorized(headers, owner.auth):
            extra = {"WWW-Authenticate": 'Basic realm="index"'}
            self._answer(path, headers, 401, b"unauthorized\n", "text/plain", extra)
            return
        target = (owner.root / path.lstrip("/")).resolve()
        if owner.root.resolve() not in (target, *target.parents):
            self._answer(path, headers, 404, b"not found\n", "text/plain")
            return
        if target.is_dir():
            self._page(path, headers, target)
        elif target.is_file():
            self._file(path, headers, target)
        else:
            self._answer(path, headers, 404, b"not found\n", "text/plain")

    def _authorized(self, headers: dict[str, str], auth: tuple[str, str]) -> bool:
        expected = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return headers.get("authorization", "") == f"Basic {expected}"

    def _page(self, path: str, headers: dict[str, str], folder: Path) -> None:
        if not path.endswith("/"):
            self._answer(path, headers, 301, b"", "text/plain", {"Location": path + "/"})
            return
        accept = headers.get("accept", "")
        wants_json = JSON_TYPE in accept and f"{JSON_TYPE};q=0" not in accept.replace(" ", "")
        if wants_json and (folder / "index.json").is_file():
            body, content_type = (folder / "index.json").read_bytes(), JSON_TYPE
        elif (folder / "index.html").is_file():
            body = (folder / "index.html").read_bytes()
            content_type = HTML_TYPE if HTML_TYPE in accept else "text/html; charset=utf-8"
        else:
            self._answer(path, headers, 404, b"not found\n", "text/plain")
            return
        etag = '"' + hashlib.sha256(body + content_type.encode()).hexdigest()[:32] + '"'
        extra = {
            "ETag": etag,
            "Cache-Control": f"max-age={self.owner.max_age}, public",
            "Last-Modified": LAST_MODIFIED,
            "Vary": "Accept",
        }
        if headers.get("if-none-match") == etag:
            self._answer(path, headers, 304, b"", None, extra)
            return
        self._answer(path, headers, 200, body, content_type, extra)

    def _file(self, path: str, headers: dict[str, str], file: Path) -> None:
        body = file.read_bytes()
        content_type = "application/octet-stream"
        if file.name.endswith(".metadata"):
            content_type = "text/plain; charset=utf-8"
        ranged = headers.get("range")
        if ranged and self.owner._take_fault(path, ("ignore_range",)) is None:
            span = _parse_range(ranged, len(body))
            if span is None:
                extra = {"Content-Range": f"bytes */{len(body)}"}
                self._answer(path, headers, 416, b"", "text/plain", extra)
                return
            start, end = span
            extra = {"Content-Range": f"bytes {start}-{end}/{len(body)}", "Accept-Ranges": "bytes"}
            self._answer(path, headers, 206, body[start : end + 1], content_type, extra)
            return
        self._answer(path, headers, 200, body, content_type, {"Accept-Ranges": "bytes"})

    def _answer(
        self,
        path: str,
        headers: dict[str, str],
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        owner = self.owner
        length = len(body)
        drop = False
        if status in (200, 206):
            drop = owner._take_fault(path, ("drop",)) is not None
        if status == 200:
            fault = owner._take_fault(path, ("truncate", "content_type", "body"))
            if fault is not None and fault.kind == "content_type":
                content_type = fault.content_type
            elif fault is not None and fault.kind == "body":
                body = fault.body
                length = len(body)
            elif fault is not None and fault.kind == "truncate":
                body = body[: len(body) // 2]
                length = len(body)
        owner._record(Request(method=self.command, path=path, headers=headers, status=status))
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length if status != 304 else 0))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            if drop:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    unit, _, spec = value.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            count = int(last)
            return (max(0, size - count), size - 1) if count > 0 and size else None
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    return (start, end) if start <= end and start < size else None


TLS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "tls"
TLS_CA = TLS_DIR / "ca.pem"  # what a client must trust to talk to a tls=True server


def wrap_tls(httpd: ThreadingHTTPServer) -> None:
    """Serve https on ``httpd``'s socket with the fixture certificate (trust TLS_CA).

    The handshake runs in each connection's own thread, as a real server's does: done in
    the accept loop, one client slow to finish it (or one refusing the certificate
    while others connect) held every other connection for its whole timeout.
    """
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DIR / "server.pem", TLS_DIR / "server.key")
    accept = httpd.get_request
    finish = httpd.finish_request

    def get_request() -> tuple[socket.socket, Any]:
        plain, address = accept()
        return context.wrap_socket(plain, server_side=True, do_handshake_on_connect=False), address

    def finish_request(request: Any, client_address: Any) -> None:
        try:
            request.settimeout(10)
            request.do_handshake()
            request.settimeout(None)
        except OSError:  # ssl.SSLError too: a client that refused the certificate
            request.close()
            return
        finish(request, client_address)

    httpd.get_request = get_request  # type: ignore[method-assign]
    httpd.finish_request = finish_request  # type: ignore[method-assign]


def serve(root: Path, tree: FixtureIndex | None = None, *, tls: bool = False) -> IndexServer:
    return IndexServer(root=root, tree=tree, tls=tls).start()


# --- pytest fixtures (registered in tests/conftest.py) -------------------------------------


@pytest.fixture
def index_tree(tmp_path: Path) -> FixtureIndex:
    """An empty tree for this test; add files, then call ``write()``."""
    return FixtureIndex(root=tmp_path / "index")


@pytest.fixture
def index_server(index_tree: FixtureIndex) -> Iterator[IndexServer]:
    """A server over this test's ``index_tree`` (faults and log start empty)."""
    index_tree.root.mkdir(parents=True, exist_ok=True)
    server = serve(index_tree.root, index_tree)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _pytorch_index_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    tree = build_pytorch_index(tmp_path_factory.mktemp("pytorch-index"))
    server = serve(tree.root, tree)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _pypi_index_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    tree = build_pypi_index(tmp_path_factory.mktemp("pypi-index"))
    server = serve(tree.root, tree)
    yield server
    server.stop()


@pytest.fixture
def pytorch_index(_pytorch_index_session: IndexServer) -> Iterator[IndexServer]:
    """The PyTorch-like variant index (session-wide; log and faults reset for each test).

    Index URLs: ``pytorch_index.index_url("whl/cu121")`` (also cpu, cu118, cu124).
    """
    _pytorch_index_session.reset()
    yield _pytorch_index_session
    _pytorch_index_session.reset()


@pytest.fixture
def pypi_index(_pypi_index_session: IndexServer) -> Iterator[IndexServer]:
    """The PyPI-like index (session-wide; log and faults reset for each test).

    Index URL: ``pypi_index.index_url()`` (…/simple).
    """
    _pypi_index_session.reset()
    yield _pypi_index_session
    _pypi_index_session.reset()
