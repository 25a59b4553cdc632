"""HTTP/1.1 on one socket: a GET request out, its answer in (RFC 9112 message framing).

Only what :mod:`torchlock.index.transport` needs: request lines and headers, status lines
(informational 1xx answers skipped), header fields (obsolete line folding joined), and
bodies framed by Content-Length, by chunked transfer coding or by the end of the
connection. Connection handling, TLS, proxies and redirects are the transport's.

Why not http.client: it parses every answer's header with the email package, which costs
more to import (~7 ms, with ssl ~12 ms, against a cold solve of ~200 ms) and to run than
this whole module; ssl is imported only for https here.

Errors are :class:`WireError` (the message says what broke) and the socket's own
``OSError`` / ``TimeoutError``; the transport turns them into its errors.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import BinaryIO, cast

MAX_LINE = 65536  # longest status, header or chunk-size line read
MAX_HEADERS = 100
MAX_INFORMATIONAL = 16  # 1xx answers skipped before the real one, at most
_NO_BODY = frozenset({204, 304})
# bytes a request target may carry as they are: printable ASCII but the space
_PLAIN = frozenset(range(0x21, 0x7F))


class WireError(Exception):
    """The peer sent something that is not a well-formed HTTP/1.1 answer, or too little."""


class ClosedError(WireError):
    """The connection was closed before the status line: a kept-alive connection the
    server dropped meanwhile; a fresh connection can send the request again."""


class Connection:
    """One open socket speaking HTTP/1.1, answers read through a buffer."""

    __slots__ = ("_reader", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = cast("BinaryIO", sock.makefile("rb"))

    def send(self, method: str, target: str, host: str, headers: Mapping[str, str]) -> None:
        """Send a request without a body: ``method target``, a Host header and ``headers``."""
        lines = [f"{method} {request_target(target)} HTTP/1.1", f"Host: {host}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise WireError(f"invalid header field {name!r}")
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        self.sock.sendall("\r\n".join(lines).encode("latin-1"))

    def read_head(self) -> Answer:
        """The next answer's status line and header (1xx answers skipped)."""
        for _ in range(MAX_INFORMATIONAL + 1):
            line = self._reader.readline(MAX_LINE + 1)
            if not line:
                raise ClosedError("the server closed the connection without an answer")
            version, status, reason = _status_line(line)
            fields = self._fields()
            if 100 <= status < 200 and status != 101:
                continue
            if status == 101:
                raise WireError("the server switched protocols (101), which was not asked")
            return Answer(self._reader, version, status, reason, fields)
        raise WireError(f"more than {MAX_INFORMATIONAL} informational (1xx) answers")

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self.sock.close()

    def detach(self) -> None:
        """Stop reading through this object; the socket stays open (for TLS on top)."""
        self._reader.close()

    def _fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        last = ""
        for _ in range(MAX_HEADERS + 1):
            raw = self._reader.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                raise WireError("a header line longer than 64 KiB")
            if raw in (b"\r\n", b"\n"):
                return fields
            if not raw:
                raise WireError("the connection ended inside the answer's header")
            line = raw.decode("latin-1").rstrip("\r\n")
            if line[:1] in (" ", "\t"):  # obsolete line folding: part of the last field
                if last:
                    fields[last] = f"{fields[last]} {line.strip()}".strip()
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise WireError(f"malformed header line {line[:80]!r}")
            last = name.lower()
            fields[last] = value.strip()
        raise WireError(f"more than {MAX_HEADERS} header fields")


class Answer:
    """A status line, the header (by lowercase name; a repeated field keeps its last
    value) and a body read with :meth:`read` until it returns ``b""``."""

    __slots__ = (
        "_chunk_left",
        "_chunked",
        "_done",
        "_reader",
        "_remaining",
        "fields",
        "reason",
        "status",
        "will_close",
    )

    def __init__(
        self,
        reader: BinaryIO,
        version: str,
        status: int,
        reason: str,
        fields: dict[str, str],
    ) -> None:
        self._reader = reader
        self.status = status
        self.reason = reason
        self.fields = fields
        connection = _tokens(fields.get("connection", ""))
        if version == "HTTP/1.0":
            self.will_close = "keep-alive" not in connection
        else:
            self.will_close = "close" in connection
        self._chunked = False
        self._chunk_left = 0
        self._remaining: int | None = None  # None: the body runs to the end of the connection
        self._done = False
        coding = fields.get("transfer-encoding")
        if status in _NO_BODY:
            self._remaining = 0
        elif coding is not None:
            codings = _tokens(coding)
            if codings and codings[-1] == "chunked":
                self._chunked = True
            else:
                self.will_close = True
        elif "content-length" in fields:
            self._remaining = _content_length(fields["content-length"])
        else:
            self.will_close = True
        if self._remaining == 0:
            self._done = True

    @property
    def complete(self) -> bool:
        """The whole body has been read."""
        return self._done

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body; ``b""`` once it is all read.

        Raises WireError when the connection ends before the body does.
        """
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        if self._remaining is None:
            block = self._reader.read(size)
            if not block:
                self._done = True
            return block
        block = self._reader.read(min(size, self._remaining))
        if not block:
            raise WireError(f"IncompleteRead: the body ended {self._remaining} bytes short")
        self._remaining -= len(block)
        if self._remaining == 0:
            self._done = True
        return block

    def read_all(self) -> bytes:
        pieces = []
        while block := self.read(1 << 20):
            pieces.append(block)
        return b"".join(pieces)

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._reader.readline(MAX_LINE + 1)
            if not line:
                raise WireError("IncompleteRead: the chunked body ended early")
            text = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(text, 16)
            except ValueError:
                raise WireError(f"malformed chunk size {text[:20]!r}") from None
            if self._chunk_left < 0:
                raise WireError(f"malformed chunk size {text[:20]!r}")
            if self._chunk_left == 0:
                self._trailer()
                self._done = True
                return b""
        block = self._reader.read(min(size, self._chunk_left))
        if not block:
            raise WireError("IncompleteRead: the chunked body ended early")
        self._chunk_left -= len(block)
        if self._chunk_left == 0 and self._reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise WireError("malformed chunked body: no line end after a chunk")
        return block

    def _trailer(self) -> None:
        for _ in range(MAX_HEADERS + 1):
            line = self._reader.readline(MAX_LINE + 1)
            if not line:
                raise WireError("IncompleteRead: the chunked body ended early")
            if line in (b"\r\n", b"\n"):
                return
        raise WireError(f"more than {MAX_HEADERS} trailer fields")


def request_target(target: str) -> str:
    """``target`` with spaces, control characters and non-ASCII percent-encoded (UTF-8),
    as browsers and pip send an href that an index did not encode itself."""
    if target.isascii() and target.isprintable() and " " not in target:
        return target
    data = target.encode("utf-8")
    return "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in data)


def host_field(host: str, port: int, default_port: int) -> str:
    """The Host header of ``host`` and ``port`` (IPv6 in brackets, IDNA for non-ASCII)."""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


def _status_line(raw: bytes) -> tuple[str, int, str]:
    if len(raw) > MAX_LINE:
        raise WireError("a status line longer than 64 KiB")
    line = raw.decode("latin-1").rstrip("\r\n")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not _digits(code):
        raise WireError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return version, int(code), reason.strip()


def _content_length(value: str) -> int:
    lengths = {v.strip() for v in value.split(",")}  # "10, 10" is one length said twice
    if len(lengths) != 1:
        raise WireError(f"conflicting Content-Length {value[:40]!r}")
    (text,) = lengths
    if not _digits(text):
        raise WireError(f"malformed Content-Length {value[:40]!r}")
    return int(text)


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def _tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",") if t.strip()]
