"""HTTP/1.1 message framing as the transport (urllib3, http.client) reads it, against raw
answers a loopback socket sends byte for byte: what the spec defines, the limits, and the
framing a hostile server or proxy could use to smuggle an answer (RFC 9112 6.3, 11.2).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.index_server import TLS_CA, IndexServer
from tests.support.loopback import accept_forever, tunnel
from torchlock.index import transport
from torchlock.index.transport import Session

Script = Callable[[bytes], bytes]  # the request's head -> the bytes to answer


class RawServer:
    """Accepts connections; for each request head read, sends ``script(head)``.

    ``close_after`` closes the connection after that many answers on it (0: never).
    """

    def __init__(self, script: Script, *, close_after: int = 0) -> None:
        self.script = script
        self.close_after = close_after
        self.heads: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        accept_forever(self.listener, self._serve, on_accept=self._count)

    def _count(self) -> None:
        self.connections += 1

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        answered = 0
        with conn, contextlib.suppress(OSError):  # a client that closes first
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                self.heads.append(head)
                conn.sendall(self.script(head))
                answered += 1
                if self.close_after and answered >= self.close_after:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(script: Script | bytes, **kwargs: int) -> RawServer:
        answer = script
        server = RawServer(
            (lambda _head: answer) if isinstance(answer, bytes) else answer,  # type: ignore[arg-type,return-value]
            **kwargs,
        )
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def test_informational_answers_are_skipped(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\nX-Ignored: 1\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    response, body = session.get(f"{server.url}/a")
    assert (response.status, body) == (200, b"ok")
    assert "x-ignored" not in response.headers


def test_folded_and_repeated_header_fields(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\nETag: a\r\nETag: b\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    response, _ = session.get(f"{server.url}/a")
    assert response.headers["x-long"].split() == ["first", "second"]
    assert response.headers["etag"] == "a, b"  # repeated fields joined (RFC 9110 5.3)


def test_a_body_to_the_end_of_the_connection(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nwhole body", close_after=1)
    for _ in range(2):  # the connection is not kept: the second request opens another
        assert session.get(f"{server.url}/a")[1] == b"whole body"
    assert server.connections == 2


def test_http_1_0_keep_alive_and_http_1_1_close(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    kept = raw(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nk")
    for _ in range(3):
        assert session.get(f"{kept.url}/a")[1] == b"k"
    assert kept.connections == 1
    closing = raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc")
    for _ in range(2):
        assert session.get(f"{closing.url}/a")[1] == b"c"
    assert closing.connections == 2


def test_chunk_extensions_and_trailer_fields(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;name=value\r\nabc\r\n"
        b"A\r\n0123456789\r\n"
        b"0\r\nX-Checksum: 1\r\n\r\n"
    )
    assert session.get(f"{server.url}/a")[1] == b"abc0123456789"
    assert session.get(f"{server.url}/b")[1] == b"abc0123456789"
    assert server.connections == 1  # the trailer was read: the connection is reusable


def test_no_body_after_304_whatever_its_length_says(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: x\r\n\r\n")
    for _ in range(2):
        response, body = session.get(f"{server.url}/a")
        assert (response.status, body) == (304, b"")
    assert server.connections == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "BadStatusLine"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "more than 100 headers"),
        # two lengths: which one frames the body is the smuggler's choice (RFC 9112 6.3)
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nabcde", "Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
            "Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "base 16"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "IncompleteRead"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "IncompleteRead"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n", "IncompleteRead"),
        ("HTTP/1.1 2\u00b20 OK\r\n\r\n".encode("latin-1"), "invalid literal"),
    ],
)
def test_malformed_answers_are_protocol_errors(
    raw, session: Session, answer: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    server = raw(answer, close_after=1)
    with pytest.raises(transport.ProtocolError, match=message):
        session.get(f"{server.url}/a")


class Smuggler(RawServer):
    """Answers each request, then sends a second, unasked-for answer on the same
    connection a moment later: a reused connection would hand it out as the answer to
    the next request, whatever that asks for."""

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client drops the connection
            while data := conn.recv(65536):
                self.heads.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                time.sleep(0.1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")


def test_bytes_past_the_body_are_never_read_as_the_next_answer(session: Session) -> None:
    server = Smuggler(lambda _head: b"")
    try:
        for path in ("/a", "/b", "/c"):
            assert session.get(f"{server.url}{path}")[1] == b"ok"
            time.sleep(0.3)  # the smuggled answer has arrived
        assert server.connections == 3  # a connection with unread bytes is never reused
    finally:
        server.close()


def test_no_body_after_204_and_bare_line_feeds_end_lines(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 204 No Content\nX-A: 1\n\n")
    for _ in range(2):
        response, body = session.get(f"{server.url}/a")
        assert (response.status, body, response.headers["x-a"]) == (204, b"", "1")
    assert server.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",  # 1.0 closes unless kept alive
        b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\n\r\nx",  # no length: the body runs to the end
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nx",  # chunked not last
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nx",
    ],
)
def test_answers_that_end_their_connection_are_not_kept(
    raw, session: Session, answer: bytes
) -> None:  # type: ignore[no-untyped-def]
    server = raw(answer, close_after=1)
    for _ in range(2):  # the second request opens a connection of its own
        assert session.get(f"{server.url}/a")[1] == b"x"
    assert server.connections == 2


def test_limits_hold_exactly(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    many = b"".join(b"X-%d: y\r\n" % i for i in range(98)) + b"Content-Length: 2\r\n"
    ok = raw(b"HTTP/1.1 200 OK\r\n" + many + b"\r\nok")
    assert session.get(f"{ok.url}/a")[1] == b"ok"  # 99 fields are allowed
    sized = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")
    assert session.get(f"{sized.url}/a")[1] == b"ok"  # one length said twice


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/2 200 OK\r\n\r\n", "UnknownProtocol"),
        (b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\n\r\n", "LineTooLong"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70_000 + b"\r\n\r\n", "LineTooLong"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 70_000, "chunk"),
    ],
)
def test_more_malformed_answers(raw, session: Session, answer: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    server = raw(answer, close_after=1)
    with pytest.raises(transport.ProtocolError, match=message):
        session.get(f"{server.url}/a")


@pytest.mark.parametrize(
    ("name", "value"),
    [("If-None-Match", "a\nb"), ("If-None-Match", "a\rb"), ("X\nY", "v"), ("A:B", "v")],
)
def test_no_header_that_could_split_the_request_is_sent(  # type: ignore[no-untyped-def]
    raw, session: Session, name: str, value: str
) -> None:
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(transport.UnsupportedURL, match="refusing the header field"):
        session.get(f"{server.url}/a", {name: value})
    assert server.heads == []


def test_an_empty_path_is_sent_as_slash(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    session.get(server.url)
    assert server.heads[0].startswith(b"GET / HTTP/1.1\r\n")


def test_a_connection_closed_without_an_answer(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"", close_after=1)
    with pytest.raises(transport.ProtocolError, match="closed connection without response"):
        session.get(f"{server.url}/a")


def test_request_line_and_header(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    session.get(f"{server.url}/files/a b/caf\u00e9.whl?x=1#sha256=00", {"Accept": "text/html"})
    lines = server.heads[0].decode("latin-1").split("\r\n")
    assert lines[0] == "GET /files/a%20b/caf%C3%A9.whl?x=1 HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Host"] == f"127.0.0.1:{server.port}"
    assert fields["Accept"] == "text/html"


def test_a_header_value_with_a_line_break_is_never_sent(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(transport.UnsupportedURL, match="refusing the header field"):
        session.get(f"{server.url}/a", {"If-None-Match": 'x"\r\nX-Injected: 1'})
    assert server.heads == []


# --- https through a proxy: CONNECT, then TLS inside the tunnel --------------------------


class TunnelProxy:
    """A loopback proxy that answers CONNECT with 200 and then relays bytes both ways."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        # an address the test certificate does not name: TLS must check the target's name
        self.listener = socket.create_server(("127.0.0.2", 0))
        self.port = self.listener.getsockname()[1]
        accept_forever(self.listener, self._tunnel)

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        self.requests.append(head)
        authority = head.split(b" ")[1].decode()
        port = authority.rpartition(":")[2]
        # the certificate names 127.0.0.1: any host the client asks for is sent there
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n")
        tunnel(client, upstream)

    def close(self) -> None:
        self.listener.close()


def test_https_through_a_tunnel_verifies_the_server_not_the_proxy(
    https_server: IndexServer,
) -> None:
    proxy = TunnelProxy()
    try:
        # a name the certificate carries and the proxy sends to 127.0.0.1 (loopback itself
        # is never proxied)
        url = https_server.index_url().replace("127.0.0.1", "index.test")
        port = url.split(":")[2].split("/")[0]
        proxies = {"https": f"http://u:p@127.0.0.2:{proxy.port}"}
        with Session(proxies=proxies, ca_file=TLS_CA) as session:
            for _ in range(2):
                response, body = session.get(f"{url}/demo/")
                assert response.status == 200
                assert b"demo-1.0" in body
        assert len(proxy.requests) == 1  # one tunnel, kept alive for the second request
        head = proxy.requests[0].decode()
        assert head.startswith(f"CONNECT index.test:{port} HTTP/1.")
        assert "Proxy-Authorization: Basic dTpw" in head
        with (
            Session(proxies=proxies) as session,
            pytest.raises(
                transport.CertificateError,
                match=r"index\.test:\d+ through the proxy http://127\.0\.0\.2",
            ),
        ):
            session.get(f"{url}/demo/")  # TLS runs end to end: the proxy cannot vouch
    finally:
        proxy.close()


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", "302"),
        (b"SSH-2.0-not-a-proxy\r\n", "SSH-2.0-not-a-proxy"),
    ],
)
def test_a_proxy_that_does_not_open_the_tunnel_is_an_error(  # type: ignore[no-untyped-def]
    raw, answer: bytes, words: str
) -> None:
    proxy = raw(answer, close_after=1)
    with (
        Session(proxies={"https": proxy.url}, ca_file=TLS_CA) as session,
        pytest.raises(transport.TransportError, match=words),
    ):
        session.get("https://index.test/simple/demo/")


def test_a_read_timeout_given_for_one_request_applies(raw) -> None:  # type: ignore[no-untyped-def]
    stalled = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # then nothing
    started = time.monotonic()
    with (
        Session(read_timeout=30, proxies={}) as session,
        pytest.raises(transport.ReadTimeout),
        session.stream(f"{stalled.url}/a", read_timeout=0.3) as response,
    ):
        response.read()
    assert time.monotonic() - started < 10  # the request's 0.3 s, not the session's 30 s


def test_the_pool_keeps_at_most_max_idle(raw) -> None:  # type: ignore[no-untyped-def]
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    with Session(max_idle=1, proxies={}) as session:
        with session.stream(f"{server.url}/a") as first, session.stream(f"{server.url}/b") as two:
            assert (first.read(), two.read()) == (b"ok", b"ok")
        assert server.connections == 2
        for _ in range(3):  # one of the two was kept, and serves them all
            assert session.get(f"{server.url}/c")[1] == b"ok"
        assert server.connections == 2


def test_decoded_pieces_are_never_empty(raw, session: Session) -> None:  # type: ignore[no-untyped-def]
    import gzip

    body = gzip.compress(b"hello " * 50)
    server = raw(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    with session.stream(f"{server.url}/z") as response:
        pieces = list(response.iter_bytes(1))
    assert b"".join(pieces) == b"hello " * 50
    assert all(pieces)
