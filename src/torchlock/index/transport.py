"""HTTP for the index client and the downloader, on urllib3 (what pip uses): GET only.

What this module adds to urllib3, and why:

- **Errors of our own.** :class:`TransportError` and its subclasses, each saying what broke
  in words a user can act on; HTTP statuses are answers, not errors (``status``).
- **Redirects, followed here.** Every target is shown to ``check`` first (it refuses
  ``file:`` and plain http to an untrusted host), https never redirects to http, and
  credentials go to the first URL's origin only.
- **Limits.** A body is read in pieces with ``read1``: urllib3 (2.6 and later) inflates a
  compressed body at most one piece at a time, so a small "zip bomb" never holds more than
  a piece in memory, and the caller counts what it gets (:meth:`Response.read`'s
  ``limit``). A ``deadline`` bounds a whole request, however slowly a server trickles.
- **Proxies, as pip reads them.** ``http_proxy``, ``https_proxy``, ``all_proxy`` and
  ``no_proxy`` (lowercase first; the registry on Windows): http, https and SOCKS proxies
  (SOCKS through urllib3's contrib module and PySocks); ``no_proxy`` takes host names,
  domain suffixes, IP addresses and CIDR ranges; loopback is never proxied.
- **Trust.** The system's certificate store through truststore, as pip does (on Linux that
  is OpenSSL's, so SSL_CERT_FILE and SSL_CERT_DIR are honoured); a bundle given instead
  (pip's ``cert``) replaces it.

Message framing is urllib3's and http.client's: conflicting Content-Length values are
refused, a connection with bytes left unread is never reused (urllib3 drops a pooled
connection that is readable before a request), and a body shorter than its length is an
error. urllib3 is imported on the first request: a solve answered from its cache, and every
command that makes no request, never pays for it (about 30 ms).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from msgspec import Struct

from torchlock.index.urls import is_loopback, origin

if TYPE_CHECKING:
    import ssl

CHUNK = 1 << 16  # what iter_bytes reads at a time
WHOLE_CHUNK = 1 << 20  # what read() does: a project page in one read
DECODED_PIECE = 1 << 20  # the most one read may inflate a compressed body to
MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# a field name (RFC 9110 5.6.2)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
PROXY_SCHEMES = frozenset({"http", "https", "socks4", "socks4a", "socks5", "socks5h"})


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
    """The server stopped sending within the read timeout, or the request its deadline."""


class ProtocolError(TransportError):
    """The server's answer was not valid HTTP, or the connection broke mid-answer."""


class RedirectError(ProtocolError):
    """Redirects that go round, or somewhere this client will not follow."""

    lasting = True
    hint = "check the index URL; the server sends the client round in redirects"


class Aborted(TransportError):
    """The session was aborted (Ctrl-C): no request is made, and reads in flight end."""

    lasting = True


class UnsupportedURL(TransportError):
    """Not an http(s) URL, a header that would split the request, or a proxy this client
    cannot speak through."""

    lasting = True


class Proxy(Struct, frozen=True):
    url: str  # scheme://host:port, without credentials
    authorization: str | None  # a Proxy-Authorization header value (http and https proxies)
    username: str | None = None  # SOCKS credentials
    password: str | None = None


class BodyTooLarge(Exception):
    """A body grew past the limit its reader set (after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


def _urllib3() -> Any:
    import urllib3

    return urllib3


class Response:
    """An answer being read: status, headers (by lowercase name), the final URL."""

    __slots__ = ("_deadline", "_raw", "headers", "reason", "status", "url")

    def __init__(self, raw: Any, url: str, deadline: float | None) -> None:
        self._raw = raw
        self._deadline = deadline  # time.monotonic() by which the body must be read
        self.status: int = raw.status
        self.reason: str = raw.reason or ""
        # repeated fields joined with ", " (RFC 9110 5.3)
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in raw.headers.itermerged()}
        self.url = url

    def iter_bytes(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The body, decoded, in pieces of at most ``chunk_size`` bytes (never empty)."""
        exceptions = _urllib3().exceptions
        amount = min(chunk_size, DECODED_PIECE)
        # nothing to inflate: the bytes as they come (urllib3 would copy each piece through
        # its buffer of decoded data, a third of a request's CPU on a 170 kB page)
        decode = "content-encoding" in self.headers
        try:
            while True:
                piece = self._raw.read1(amount, decode_content=decode)
                if not piece:
                    break
                yield piece
                if self._deadline is not None and time.monotonic() > self._deadline:
                    raise ReadTimeout("the answer took longer than its deadline")
        except exceptions.ReadTimeoutError:
            raise ReadTimeout("the server stopped sending (read timeout)") from None
        except exceptions.DecodeError as exc:
            raise ProtocolError(f"damaged compressed body: {_cause(exc)}") from None
        except (exceptions.HTTPError, OSError) as exc:
            raise ProtocolError(_cause(exc)) from None

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

    ``proxies`` maps a URL scheme to a proxy URL (and ``no`` to the no-proxy rules); None
    reads them from the environment. ``ca_file`` is a bundle of certificates trusted
    instead of the system's (pip's cert). ``deadline``: seconds a whole request (its body
    read to the end) may take; None: only the connect and read timeouts apply.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        proxies: Mapping[str, str] | None = None,
        max_idle: int = 16,
        ca_file: str | os.PathLike[str] | None = None,
        deadline: float | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._proxies = dict(proxies) if proxies is not None else environment_proxies()
        self._no_proxy = _no_proxy_rules(self._proxies.pop("no", ""))
        self._max_idle = max_idle
        self._deadline = deadline
        self._lock = threading.Lock()
        self._managers: dict[tuple[Proxy | None, bool], Any] = {}  # (proxy, https) -> pools
        self._routes: dict[tuple[str, str], tuple[str, Proxy | None]] = {}
        self._tls: ssl.SSLContext | None = None
        self._ca_file = ca_file
        self._closed = False
        self._aborted = False
        self._reading: set[Any] = set()  # answers being read now, for abort()
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
        deadline: float | None = None,
    ) -> Iterator[Response]:
        """GET ``url``, following redirects; the answer's body is read inside the block.

        ``auth`` (user, password) is sent as basic auth to the URL's own origin only: a
        redirect to another host drops it. A redirect from https to plain http is refused;
        ``check`` is called with every other redirect's target first (it raises to refuse).
        ``deadline`` (seconds) overrides the session's for this request.
        """
        seconds = self._deadline if deadline is None else deadline
        expires = None if seconds is None else time.monotonic() + seconds
        sent = dict(headers or {})
        sent.setdefault("Accept-Encoding", "gzip, deflate")
        sent.setdefault("User-Agent", self._user_agent)
        first = origin(url) if auth is not None else None
        for _ in range(MAX_REDIRECTS + 1):
            these = dict(sent)
            if auth is not None and origin(url) == first:
                these["Authorization"] = _basic(*auth)
            raw = self._request(url, these, read_timeout)
            location = raw.headers.get("location") if raw.status in REDIRECTS else None
            if location:
                target = urljoin(url, location)
                _finish(raw)  # its body unread: the connection goes
                if url.lower().startswith("https:") and not target.lower().startswith("https:"):
                    raise UnsupportedURL(f"refusing a redirect from https to {target}")
                if check is not None:
                    check(target)
                if expires is not None and time.monotonic() > expires:
                    raise ReadTimeout("the answer took longer than its deadline")
                url = target
                continue
            response = Response(raw, url, expires)
            with self._lock:
                self._reading.add(raw)
            try:
                yield response
            finally:
                with self._lock:
                    self._reading.discard(raw)
                # a body read to its end leaves a connection to reuse; any other is closed
                _finish(raw)
            return
        raise RedirectError(f"more than {MAX_REDIRECTS} redirects")

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[Response, bytes]:
        with self.stream(url, headers) as response:
            return response, response.read()

    def close(self) -> None:
        with self._lock:
            managers, self._managers = self._managers, {}
            self._closed = True
        for manager in managers.values():
            manager.clear()

    def abort(self) -> None:
        """End every read in flight (other threads' too) and refuse new requests: what
        Ctrl-C needs, when threads wait on a stalled server for a read timeout each."""
        with self._lock:
            self._aborted = True
            reading = list(self._reading)
        for raw in reading:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                raw.shutdown()  # the blocked read returns at once
        self.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def _request(self, url: str, headers: dict[str, str], read_timeout: float | None) -> Any:
        """The answer's head (urllib3's response, its body unread); errors are ours."""
        if self._aborted:
            raise Aborted("interrupted")
        scheme, where, proxy = self._route(url)
        urllib3 = _urllib3()
        exceptions = urllib3.exceptions
        for name, value in headers.items():  # nothing that could split the request
            if not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
                raise UnsupportedURL(
                    f"refusing the header field {name!r}: a name is a token (RFC 9110 5.1), "
                    "a value has no line break"
                )
        manager = self._manager(proxy, scheme)
        read = self._read_timeout if read_timeout is None else read_timeout
        timeout = urllib3.Timeout(connect=self._connect_timeout, read=read)
        if proxy is not None:
            where = f"{where} through the proxy {proxy.url}"
        try:
            return manager.urlopen(
                "GET",
                url.split("#", 1)[0],
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                timeout=timeout,
                assert_same_host=False,
            )
        except exceptions.SSLError as exc:
            raise _tls_failure(exc, where) from None
        except exceptions.ProxyError as exc:
            raise ConnectError(f"cannot connect to {where}: {_cause(exc)}") from None
        except exceptions.NewConnectionError as exc:  # before ConnectTimeoutError: a kind of
            if isinstance(_root(exc), TimeoutError):
                raise ConnectTimeout(
                    f"no connection to {where} within {self._connect_timeout:g} s"
                ) from None
            raise ConnectError(f"cannot connect to {where}: {_cause(exc)}") from None
        except exceptions.ConnectTimeoutError:
            raise ConnectTimeout(
                f"no connection to {where} within {self._connect_timeout:g} s"
            ) from None
        except exceptions.ReadTimeoutError:
            raise ReadTimeout(f"no answer within {read:g} s") from None
        except exceptions.ProtocolError as exc:
            # urllib3 drops a pooled connection it finds closed before sending on it;
            # one the server closes as the request goes out is the caller's to retry
            raise ProtocolError(_cause(exc)) from None
        except (exceptions.LocationValueError, exceptions.ProxySchemeUnknown) as exc:
            raise UnsupportedURL(str(exc)) from None
        except exceptions.HTTPError as exc:  # InvalidHeader (two Content-Lengths), ...
            raise ProtocolError(_cause(exc)) from None
        except (OSError, ValueError) as exc:
            raise ProtocolError(_cause(exc)) from None

    def _route(self, url: str) -> tuple[str, str, Proxy | None]:
        """(scheme, host:port, proxy) of a URL, checked; remembered per scheme and host."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL"
            raise UnsupportedURL(f"not a valid URL: {exc}") from None
        site = (parts.scheme, parts.netloc)
        known = self._routes.get(site)
        if known is not None:
            return parts.scheme.lower(), known[0], known[1]
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsupportedURL(f"unsupported URL scheme {parts.scheme!r} (http or https only)")
        try:
            host = parts.hostname
        except ValueError as exc:
            raise UnsupportedURL(f"not a valid URL: {exc}") from None
        if not host:
            raise UnsupportedURL("the URL has no host")
        if not host.isascii():  # an international name: its ASCII form
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise UnsupportedURL(f"{host!r} is not a valid host name") from None
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UnsupportedURL("the URL has an invalid port") from None
        route = (f"{host}:{port}", self._proxy_for(scheme, host))
        self._routes[site] = route
        return scheme, route[0], route[1]

    def _manager(self, proxy: Proxy | None, scheme: str) -> Any:
        """The pool manager of a proxy (None: direct) for http or https, made on first use
        (the TLS context only for https, or for a proxy spoken to over TLS)."""
        key = (proxy, scheme == "https")
        with self._lock:
            found = self._managers.get(key)
            if found is not None:
                return found
        tls = key[1] or (proxy is not None and proxy.url.startswith("https:"))
        context = self._tls_context() if tls else None
        urllib3 = _urllib3()
        common: dict[str, Any] = {
            "num_pools": 32,
            "maxsize": self._max_idle,
            "block": False,
            "ssl_context": context,
        }
        if proxy is None:
            made = urllib3.PoolManager(**common)
        elif proxy.url.startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise UnsupportedURL("a SOCKS proxy needs PySocks (pip install PySocks)") from None
            made = SOCKSProxyManager(
                proxy.url, username=proxy.username, password=proxy.password, **common
            )
        else:
            login = proxy.authorization
            extra = {} if login is None else {"Proxy-Authorization": login}
            made = urllib3.ProxyManager(
                proxy.url, proxy_headers=extra, proxy_ssl_context=context, **common
            )
        with self._lock:
            if self._closed:
                made.clear()
                raise UnsupportedURL("the session is closed")
            kept = self._managers.setdefault(key, made)
        if kept is not made:  # another thread made one first: ours goes
            made.clear()
        return kept

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                import ssl

                try:
                    if self._ca_file is not None:  # the bundle trusted instead (pip's cert)
                        self._tls = ssl.create_default_context(cafile=self._ca_file)
                    else:  # the system's store, as pip reads it
                        import truststore

                        self._tls = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
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


def _finish(raw: Any) -> None:
    """Give the connection back to its pool when the answer was read to its end; close it
    otherwise, so that no unread byte is ever taken for the next answer."""
    if not raw.isclosed():
        raw.close()
    raw.release_conn()


def _tls_failure(exc: BaseException, where: str) -> ConnectError:
    import ssl

    root = _root(exc)
    if isinstance(root, ssl.SSLCertVerificationError):
        reason = root.verify_message or root.reason or str(root)
        return CertificateError(f"{where}: certificate not trusted ({reason})")
    return ConnectError(f"cannot connect to {where}: {_cause(exc)}")


def _root(exc: BaseException) -> BaseException:
    """The innermost cause urllib3 wrapped (its errors keep the original in ``reason`` or
    as ``__context__``)."""
    seen = exc
    for _ in range(8):
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = seen.__cause__ or seen.__context__
        if inner is None or inner is seen:
            break
        seen = inner
    return seen


def _cause(exc: BaseException) -> str:
    root = _root(exc)
    return _describe(root if root is not exc else exc)


def parse_proxy(url: str) -> Proxy:
    """``[scheme://][user:pass@]host[:port]`` as a Proxy (http when no scheme is given).

    http and https proxies get the credentials as a Proxy-Authorization header; SOCKS ones
    (socks4, socks4a, socks5, socks5h) as the handshake's user name and password.
    """
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise UnsupportedURL(
            f"proxy scheme {parts.scheme!r} is not supported "
            "(use http://, https:// or socks5:// proxy URLs)"
        )
    if not parts.hostname:
        raise UnsupportedURL("the proxy URL has no host")
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme, 1080)
    except ValueError:
        raise UnsupportedURL("the proxy URL has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    bare = f"{scheme}://{host}:{port}"
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if scheme.startswith("socks"):
        return Proxy(url=bare, authorization=None, username=user, password=password)
    authorization = None if user is None else _basic(user, password or "")
    return Proxy(url=bare, authorization=authorization)


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
    """Whether ``no_proxy``'s ``rules`` exempt ``host``: ``*``, a host name or domain suffix
    (``corp.example`` covers ``pkgs.corp.example``; a ``:port`` is ignored), an IP address,
    or a CIDR range (``10.0.0.0/8``) that holds the host's address."""
    host = host.lower().strip("[]")
    for rule in rules:
        if rule == "*":
            return True
        if "/" in rule:
            if _in_network(host, rule):
                return True
            continue
        if rule.startswith("["):  # [IPv6] or [IPv6]:port
            bare = rule[1:].partition("]")[0]
        elif rule.count(":") == 1:  # host:port (a bare IPv6 address has more colons)
            bare = rule.partition(":")[0]
        else:
            bare = rule
        if host == bare or host.endswith("." + bare):
            return True
    return False


def _in_network(host: str, rule: str) -> bool:
    """Whether ``host`` is an IP address inside the CIDR range ``rule``."""
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(rule, strict=False)
    except ValueError:  # a host name, or a rule that is no range
        return False


def _basic(user: str, password: str) -> str:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _user_agent() -> str:
    from torchlock import __version__

    return f"torchlock/{__version__}"
