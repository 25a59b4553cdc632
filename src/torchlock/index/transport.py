"""A small HTTP/1.1 client on the standard library (sockets, ssl), for GET only.

What the index client and the downloader need and no more: kept-alive connections pooled
per origin and shared by threads, separate connect and read timeouts, redirects, gzip
bodies, basic auth, and proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
NO_PROXY; the registry on Windows). TLS verifies against the system's certificate store,
as OpenSSL finds it (SSL_CERT_FILE and SSL_CERT_DIR honoured), so a company's own CA works.
The messages themselves are read and written by :mod:`torchlock.index.wire`.

Why not httpx, or http.client: a cold ``torchlock solve`` spends much of its time in its
HTTP stack. On the benchmark index httpx cost ~30 ms to import and ~2.5x the CPU per
request of http.client, and http.client in turn ~12 ms to import (the email package, ssl
even for plain http); this module and wire.py import in about one. Errors are this
module's own (:class:`TransportError` and subclasses); HTTP statuses are answers, not
errors: the caller reads ``status``.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from msgspec import Struct

from torchlock.index.urls import is_loopback, origin
from torchlock.index.wire import Answer, ClosedError, Connection, WireError, host_field

if TYPE_CHECKING:
    import ssl

Key = tuple[str, str, int, "Proxy | None"]  # scheme, host, port, proxy: one pool each

CHUNK = 1 << 16  # what iter_bytes reads at a time
WHOLE_CHUNK = 1 << 20  # what read() does: a project page in one read, a fraction of the CPU
DECODED_PIECE = 1 << 20  # the most one decompression step may inflate to
MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}


class TransportError(Exception):
    """The request got no complete HTTP answer (connection, TLS, protocol or timeout).

    ``lasting`` errors come out the same on every try (a setting, the server's set-up):
    callers report them at once instead of retrying. ``hint`` says what to change.
    """

    lasting = False
    hint: str | None = None


class ConnectError(TransportError):
    """No connection (refused, unreachable, name not resolved, TLS handshake failed)."""


class CertificateError(ConnectError):
    """The server's certificate did not verify (an unknown CA, a wrong host name)."""

    lasting = True
    hint = (
        "when a proxy or mirror uses its own certificate authority, point pip's cert "
        "setting (PIP_CERT) or SSL_CERT_FILE at its CA bundle"
    )


class CertificateBundleError(ConnectError):
    """The certificates to trust could not be loaded (pip's cert setting names no bundle)."""

    lasting = True
    hint = "check pip's cert setting (PIP_CERT or cert in pip.conf): it must name a PEM bundle"


class ConnectTimeout(TransportError):
    """No connection within the connect timeout."""


class ReadTimeout(TransportError):
    """The server stopped sending within the read timeout."""


class ProtocolError(TransportError):
    """The connection broke or the server spoke something other than HTTP/1.1."""


class RedirectError(ProtocolError):
    """Redirects that go round, or somewhere this client will not follow."""

    lasting = True
    hint = "check the index URL; the server sends the client round in redirects"


class UnsupportedURL(TransportError):
    """Not an http(s) URL, or a proxy this client cannot speak through."""

    lasting = True


class Proxy(Struct, frozen=True):
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization header value


class BodyTooLarge(Exception):
    """A body grew past the limit its reader set (after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class Response:
    """An answer being read: status, headers (by lowercase name), the final URL."""

    __slots__ = ("_answer", "_decoder", "headers", "reason", "status", "url")

    def __init__(self, answer: Answer, url: str) -> None:
        self._answer = answer
        self.status: int = answer.status
        self.reason: str = answer.reason
        self.headers: Mapping[str, str] = answer.fields
        self.url = url
        encoding = self.headers.get("content-encoding", "").strip().lower()
        self._decoder = (
            zlib.decompressobj(47)  # gzip or zlib header, detected
            if encoding in ("gzip", "x-gzip", "deflate")
            else None
        )

    def iter_bytes(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The body, decoded, in pieces (of at most ``chunk_size`` bytes as received)."""
        try:
            while True:
                block = self._answer.read(chunk_size)
                if not block:
                    break
                if self._decoder is None:
                    yield block
                    continue
                # at most DECODED_PIECE bytes per call: a small compressed body can inflate
                # a thousandfold (a "zip bomb"), and the caller counts what it is given
                piece = self._decoder.decompress(block, DECODED_PIECE)
                while piece:
                    yield piece
                    tail = self._decoder.unconsumed_tail
                    piece = self._decoder.decompress(tail, DECODED_PIECE) if tail else b""
            if self._decoder is not None:
                tail = self._decoder.flush()
                if tail:
                    yield tail
        except zlib.error as exc:
            raise ProtocolError(f"damaged compressed body: {exc}") from None
        except TimeoutError:
            raise ReadTimeout("the server stopped sending (read timeout)") from None
        except WireError as exc:
            raise ProtocolError(str(exc)) from None
        except OSError as exc:
            raise ProtocolError(_describe(exc)) from None

    def read(self, limit: int | None = None) -> bytes:
        """The whole body, decoded; BodyTooLarge past ``limit`` bytes (decoded)."""
        pieces: list[bytes] = []
        size = 0
        for piece in self.iter_bytes(WHOLE_CHUNK):
            size += len(piece)
            if limit is not None and size > limit:
                raise BodyTooLarge(limit)
            pieces.append(piece)
        return b"".join(pieces)


class Session:
    """Pooled connections for GET requests; safe to share between threads.

    ``proxies`` maps a URL scheme to a proxy URL; None reads them from the environment.
    ``ca_file`` is a bundle of certificates trusted instead of the system's (pip's cert).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        proxies: Mapping[str, str] | None = None,
        max_idle: int = 16,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._proxies = dict(proxies) if proxies is not None else environment_proxies()
        self._no_proxy = _no_proxy_rules(self._proxies.pop("no", ""))
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: dict[Key, list[Connection]] = {}
        self._keys: dict[tuple[str, str], Key] = {}  # (scheme, netloc) of a URL -> its pool
        self._tls: ssl.SSLContext | None = None
        self._ca_file = ca_file
        self._closed = False
        self._user_agent = _user_agent()

    @contextmanager
    def stream(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        auth: tuple[str, str] | None = None,
        read_timeout: float | None = None,
        check: Callable[[str], object] | None = None,
    ) -> Iterator[Response]:
        """GET ``url``, following redirects; the answer's body is read inside the block.

        ``auth`` (user, password) is sent as basic auth to the URL's own origin only: a
        redirect to another host drops it. A redirect from https to plain http is refused;
        ``check`` is called with every other redirect's target first (it raises to refuse).
        """
        sent = dict(headers or {})
        sent.setdefault("Accept-Encoding", "gzip, deflate")
        sent.setdefault("User-Agent", self._user_agent)
        first = origin(url) if auth is not None else None
        for _ in range(MAX_REDIRECTS + 1):
            these = dict(sent)
            if auth is not None and origin(url) == first:
                these["Authorization"] = _basic(*auth)
            conn, key, answer = self._request(url, these, read_timeout)
            response = Response(answer, url)
            location = answer.fields.get("location") if answer.status in REDIRECTS else None
            if location:
                target = urljoin(url, location)
                try:
                    answer.read_all()  # drain, so the connection can be reused
                except (OSError, WireError):
                    conn.close()
                else:
                    self._release(key, conn, answer)
                if url.lower().startswith("https:") and not target.lower().startswith("https:"):
                    raise UnsupportedURL(f"refusing a redirect from https to {target}")
                if check is not None:
                    check(target)
                url = target
                continue
            try:
                yield response
            except BaseException:
                conn.close()
                raise
            if answer.complete:
                self._release(key, conn, answer)
            else:  # the caller stopped reading: the rest of the body is not worth draining
                conn.close()
            return
        raise RedirectError(f"more than {MAX_REDIRECTS} redirects")

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[Response, bytes]:
        with self.stream(url, headers) as response:
            return response, response.read()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
            self._closed = True
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections ---------------------------------------------------------------------

    def _request(
        self, url: str, headers: dict[str, str], read_timeout: float | None
    ) -> tuple[Connection, Key, Answer]:
        parts = urlsplit(url)
        key = self._pool_key(parts)
        scheme, host, port, proxy = key
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if proxy is not None and scheme == "http":
            target = url.split("#", 1)[0]  # absolute form through an http proxy
            if proxy.authorization:
                headers["Proxy-Authorization"] = proxy.authorization
        host_header = host_field(host, port, DEFAULT_PORTS[scheme])
        read = self._read_timeout if read_timeout is None else read_timeout
        while True:
            conn, reused = self._checkout(key)
            if read_timeout is not None:
                conn.sock.settimeout(read)
            try:
                conn.send("GET", target, host_header, headers)
                answer = conn.read_head()
            except TimeoutError:
                conn.close()
                raise ReadTimeout(f"no answer within {read:g} s") from None
            except (ConnectionError, ClosedError) as exc:
                conn.close()
                if reused:  # the server closed a kept-alive connection: a fresh one
                    continue
                raise ProtocolError(_describe(exc)) from None
            except WireError as exc:
                conn.close()
                raise ProtocolError(str(exc)) from None
            except OSError as exc:
                conn.close()
                raise ProtocolError(_describe(exc)) from None
            return conn, key, answer

    def _pool_key(self, parts: SplitResult) -> Key:
        """The pool of a URL's scheme and host part; remembered, as the proxies are fixed."""
        site = (parts.scheme, parts.netloc)
        key = self._keys.get(site)
        if key is not None:
            return key
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsupportedURL(f"unsupported URL scheme {parts.scheme!r} (http or https only)")
        host = parts.hostname
        if not host:
            raise UnsupportedURL("the URL has no host")
        if not host.isascii():  # an international name: its ASCII form, everywhere after
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise UnsupportedURL(f"{host!r} is not a valid host name") from None
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UnsupportedURL("the URL has an invalid port") from None
        key = self._keys[site] = (scheme, host, port, self._proxy_for(scheme, host))
        return key

    def _checkout(self, key: Key) -> tuple[Connection, bool]:
        with self._lock:
            pool = self._idle.get(key)
            if pool:
                return pool.pop(), True
        return self._connect(key), False

    def _connect(self, key: Key) -> Connection:
        scheme, host, port, proxy = key
        connect = self._connect_timeout
        where = f"{host}:{port}"
        if proxy is not None:
            where = f"{where} through the proxy {proxy.host}:{proxy.port}"
        tls = self._tls_context() if scheme == "https" else None  # a bad bundle: said first
        sock: socket.socket | None = None
        try:
            peer = (proxy.host, proxy.port) if proxy else (host, port)
            # create_connection hands the host to getaddrinfo, which takes bytes as well
            address = (_resolvable(peer[0]), peer[1])
            sock = socket.create_connection(address, timeout=connect)  # type: ignore[arg-type]
            if tls is not None:
                if proxy is not None:
                    self._tunnel(sock, host, port, proxy, where)
                sock = tls.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            if sock is not None:
                sock.close()
            raise ConnectTimeout(f"no connection to {where} within {connect:g} s") from None
        except OSError as exc:
            if sock is not None:
                sock.close()
            if "ssl" in sys.modules:  # a certificate can only fail once ssl is loaded
                import ssl

                if isinstance(exc, ssl.SSLCertVerificationError):
                    reason = exc.verify_message or exc.reason or str(exc)
                    raise CertificateError(f"{where}: certificate not trusted ({reason})") from None
            raise ConnectError(f"cannot connect to {where}: {_describe(exc)}") from None
        except TransportError:
            if sock is not None:
                sock.close()
            raise
        sock.settimeout(self._read_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Connection(sock)

    def _tunnel(self, sock: socket.socket, host: str, port: int, proxy: Proxy, where: str) -> None:
        """Ask the proxy on ``sock`` for a tunnel to ``host:port`` (CONNECT)."""
        authority = host_field(host, port, 0)
        headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
        wire = Connection(sock)
        try:
            wire.send("CONNECT", authority, authority, headers)
            answer = wire.read_head()  # its body, if any, is never read: the tunnel follows
        except WireError as exc:
            raise ConnectError(f"cannot connect to {where}: {exc}") from None
        finally:
            wire.detach()
        if answer.status != 200:
            raise ConnectError(
                f"cannot connect to {where}: the proxy refused the tunnel "
                f"({answer.status} {answer.reason})".replace(" )", ")")
            )

    def _release(self, key: Key, conn: Connection, answer: Answer) -> None:
        if answer.will_close:
            conn.close()
            return
        if conn.sock.gettimeout() != self._read_timeout:  # a system call: only when changed
            conn.sock.settimeout(self._read_timeout)
        with self._lock:
            if not self._closed:
                pool = self._idle.setdefault(key, [])
                if len(pool) < self._max_idle:
                    pool.append(conn)
                    return
        conn.close()

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                import ssl

                # the system's store (SSL_CERT_FILE / SSL_CERT_DIR honoured), or the bundle
                # given instead of it (pip's cert setting); hostnames checked
                try:
                    self._tls = ssl.create_default_context(cafile=self._ca_file)
                except OSError as exc:  # a missing or unreadable bundle (ssl.SSLError too)
                    raise CertificateBundleError(
                        f"cannot load the certificates {os.fspath(self._ca_file or '')}: "
                        f"{_describe(exc)}"
                    ) from None
            return self._tls

    def _proxy_for(self, scheme: str, host: str) -> Proxy | None:
        if is_loopback(host) or _bypassed(host, self._no_proxy):
            return None
        url = self._proxies.get(scheme) or self._proxies.get("all")
        if not url:
            return None
        return parse_proxy(url)


def parse_proxy(url: str) -> Proxy:
    """``http://[user:pass@]host[:port]`` (the scheme may be left out) as a Proxy."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        raise UnsupportedURL(
            f"proxy scheme {parts.scheme!r} is not supported (use an http:// proxy URL)"
        )
    if not parts.hostname:
        raise UnsupportedURL("the proxy URL has no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise UnsupportedURL("the proxy URL has an invalid port") from None
    authorization = None
    if parts.username is not None:
        authorization = _basic(unquote(parts.username), unquote(parts.password or ""))
    return Proxy(host=parts.hostname, port=port, authorization=authorization)


def environment_proxies() -> dict[str, str]:
    """scheme -> proxy URL from ``<scheme>_proxy`` variables (lowercase wins), plus ``no``.

    On Windows, the system's proxy settings as urllib reads them (the registry) are used
    when no variable is set.
    """
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        lower = name.lower()
        if value and lower.endswith("_proxy") and (name == lower or lower not in found):
            found[lower[: -len("_proxy")]] = value
    if "REQUEST_METHOD" in os.environ:  # a CGI context: HTTP_PROXY is a request header
        found.pop("http", None)
    if sys.platform == "win32" and not (found.keys() - {"no"}):
        import urllib.request

        found = dict(urllib.request.getproxies())
    return found


def _no_proxy_rules(value: str) -> tuple[str, ...]:
    return tuple(p.strip().lower().lstrip(".") for p in value.split(",") if p.strip())


def _bypassed(host: str, rules: tuple[str, ...]) -> bool:
    host = host.lower()
    for rule in rules:
        if rule == "*":
            return True
        rule = rule.split(":", 1)[0] if rule.count(":") == 1 else rule
        if host == rule or host.endswith("." + rule):
            return True
    return False


def _resolvable(host: str) -> str | bytes:
    """The host as getaddrinfo takes it: an ASCII name as bytes (a str would make it load
    the IDNA codec, ~1 ms, for nothing), any other name as text for IDNA encoding."""
    return host.encode("ascii") if host.isascii() else host


def _basic(user: str, password: str) -> str:
    import base64  # ~1 ms of tables at import; only credentials need it

    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _user_agent() -> str:
    from torchlock import __version__

    return f"torchlock/{__version__}"
