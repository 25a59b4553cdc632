"""The HTTP stack against real loopback servers: reuse, redirects, gzip, proxies, faults."""

from __future__ import annotations

import base64
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.index_server import TLS_CA, IndexServer, wrap_tls
from tests.support.loopback import accept_forever, tunnel
from torchlock.index import transport
from torchlock.index.transport import Session, environment_proxies, parse_proxy

Handler = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback HTTP/1.1 server; ``routes`` maps a path to a handler; it logs requests."""

    def __init__(self, routes: dict[str, Handler], *, tls: bool = False) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # (command, path, headers)
        self.connections = 0
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                owner.connections += 1
                super().setup()

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.seen.append((self.command, self.path, dict(self.headers.items())))
                route = owner.routes.get(self.path) or owner.routes.get("*")
                if route is None:
                    send(self, 404, b"missing")
                else:
                    route(self)

            do_CONNECT = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        if tls:
            wrap_tls(self.httpd)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


MakeServer = Callable[..., Server]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    made: list[Server] = []

    def make(routes: dict[str, Handler], *, tls: bool = False) -> Server:
        made.append(Server(routes, tls=tls))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_kept_alive_connection_is_reused(make_server: MakeServer, session: Session) -> None:
    server = make_server({"*": lambda h: send(h, 200, h.path.encode())})
    bodies = [session.get(f"{server.url}/p{i}")[1] for i in range(5)]
    assert bodies == [f"/p{i}".encode() for i in range(5)]
    assert server.connections == 1
    assert server.seen[0][2]["User-Agent"].startswith("torchlock/")


def test_gzip_body_is_decoded(make_server: MakeServer, session: Session) -> None:
    payload = b'{"files": []}' * 100
    server = make_server(
        {"/z": lambda h: send(h, 200, gzip.compress(payload), {"Content-Encoding": "gzip"})}
    )
    response, body = session.get(f"{server.url}/z")
    assert body == payload
    assert response.headers["content-encoding"] == "gzip"
    assert "gzip" in server.seen[0][2]["Accept-Encoding"]


def test_damaged_gzip_body_is_a_protocol_error(make_server: MakeServer, session: Session) -> None:
    server = make_server({"/z": lambda h: send(h, 200, b"not gzip", {"Content-Encoding": "gzip"})})
    with pytest.raises(transport.ProtocolError, match="compressed"):
        session.get(f"{server.url}/z")


def test_chunked_body(make_server: MakeServer, session: Session) -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for part in (b"abc", b"defg"):
            h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    server = make_server({"/c": chunked, "/n": lambda h: send(h, 200, b"next")})
    assert session.get(f"{server.url}/c")[1] == b"abcdefg"
    assert session.get(f"{server.url}/n")[1] == b"next"
    assert server.connections == 1


def test_connection_closed_by_the_server_between_requests(
    make_server: MakeServer, session: Session
) -> None:
    def once(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, b"ok")
        h.close_connection = True  # closed without saying so (no Connection: close)

    server = make_server({"*": once})
    assert session.get(f"{server.url}/a")[1] == b"ok"
    time.sleep(0.05)
    assert session.get(f"{server.url}/b")[1] == b"ok"  # a fresh connection, no error
    assert server.connections == 2


def test_relative_redirect_is_followed_and_the_final_url_reported(
    make_server, session: Session
) -> None:  # type: ignore[no-untyped-def]
    server = make_server(
        {
            "/simple/Torch": lambda h: send(h, 301, b"", {"Location": "/simple/torch/"}),
            "/simple/torch/": lambda h: send(h, 200, b"page"),
        }
    )
    response, body = session.get(f"{server.url}/simple/Torch")
    assert body == b"page"
    assert response.url == f"{server.url}/simple/torch/"


def test_credentials_are_not_sent_to_another_origin(
    make_server: MakeServer, session: Session
) -> None:
    other = make_server({"*": lambda h: send(h, 200, b"elsewhere")})
    first = make_server({"/r": lambda h: send(h, 302, b"", {"Location": f"{other.url}/x"})})
    with session.stream(f"{first.url}/r", auth=("user", "s3cret")) as response:
        assert response.read() == b"elsewhere"
    token = base64.b64encode(b"user:s3cret").decode()
    assert first.seen[0][2]["Authorization"] == f"Basic {token}"
    assert "Authorization" not in other.seen[0][2]


def test_redirect_loop_stops(make_server: MakeServer, session: Session) -> None:
    server = make_server({"/loop": lambda h: send(h, 302, b"", {"Location": "/loop"})})
    with pytest.raises(transport.ProtocolError, match="redirects"):
        session.get(f"{server.url}/loop")
    assert len(server.seen) == transport.MAX_REDIRECTS + 1


def test_truncated_body_is_a_protocol_error(make_server: MakeServer, session: Session) -> None:
    def short(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        h.wfile.write(b'{"files": [')
        h.close_connection = True

    server = make_server({"/t": short})
    with pytest.raises(transport.ProtocolError, match="IncompleteRead"):
        session.get(f"{server.url}/t")


def test_read_timeout(make_server: MakeServer) -> None:
    def slow(h: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)
        send(h, 200, b"late")

    server = make_server({"/slow": slow})
    with Session(read_timeout=0.2, proxies={}) as session, pytest.raises(transport.ReadTimeout):
        session.get(f"{server.url}/slow")


def test_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nobody listens
    with (
        Session(proxies={}) as session,
        pytest.raises(transport.ConnectError, match=f"127.0.0.1:{port}"),
    ):
        session.get(f"http://127.0.0.1:{port}/")


def test_unsupported_scheme(session: Session) -> None:
    with pytest.raises(transport.UnsupportedURL, match="ftp"):
        session.get("ftp://mirror.example/simple/")


def test_reader_that_stops_early_does_not_poison_the_pool(
    make_server: MakeServer, session: Session
) -> None:
    server = make_server(
        {"/big": lambda h: send(h, 200, b"x" * 500_000), "/s": lambda h: send(h, 200, b"s")}
    )
    with session.stream(f"{server.url}/big") as response:
        next(response.iter_bytes())
    assert session.get(f"{server.url}/s")[1] == b"s"


def test_read_takes_a_body_larger_than_one_read(make_server: MakeServer, session: Session) -> None:
    body = bytes(range(256)) * (transport.WHOLE_CHUNK // 100)  # about 2.5 reads
    server = make_server({"/big": lambda h: send(h, 200, body)})
    assert session.get(f"{server.url}/big")[1] == body
    with session.stream(f"{server.url}/big") as response:
        pieces = list(response.iter_bytes())
    assert b"".join(pieces) == body
    assert max(len(p) for p in pieces) <= transport.CHUNK
    assert server.connections == 1


def test_a_read_timeout_for_one_request_does_not_stay_with_the_connection(
    make_server: MakeServer,
) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/slow":
            time.sleep(0.6)
        send(handler, 200, b"ok")

    server = make_server({"*": slow})
    with Session(read_timeout=5.0, proxies={}) as session:
        with session.stream(f"{server.url}/a", read_timeout=0.3) as response:
            assert response.read() == b"ok"
        # the same connection, and the session's 5 s again: a 0.6 s answer is in time
        assert session.get(f"{server.url}/slow")[1] == b"ok"
        assert server.connections == 1


def test_a_bad_url_is_refused_every_time(session: Session) -> None:
    for _ in range(2):
        with pytest.raises(transport.UnsupportedURL, match="not a valid host name"):
            session.get("https://b\u00fccher..example/simple/")  # an empty label
        with pytest.raises(transport.UnsupportedURL, match="no host"):
            session.get("http:///simple/")
        with pytest.raises(transport.UnsupportedURL, match="invalid port"):
            session.get("http://127.0.0.1:99999/simple/")
        with pytest.raises(transport.UnsupportedURL, match="not a valid URL"):
            session.get("http://[::1/x.whl")


def test_http_request_through_a_proxy_uses_the_absolute_form(make_server: MakeServer) -> None:
    proxy = make_server({"*": lambda h: send(h, 200, b"via proxy")})
    proxies = {"http": f"http://me:pw@127.0.0.1:{proxy.port}"}
    with Session(proxies=proxies) as session:
        _, body = session.get("http://mirror.example/simple/torch/t.whl#sha256=ab")
    assert body == b"via proxy"
    command, path, headers = proxy.seen[0]
    assert (command, path) == ("GET", "http://mirror.example/simple/torch/t.whl")
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"me:pw").decode()


def test_https_through_a_proxy_opens_a_tunnel(make_server: MakeServer) -> None:
    proxy = make_server({"*": lambda h: send(h, 403, b"no")})
    with (
        Session(proxies={"https": f"127.0.0.1:{proxy.port}"}) as session,
        pytest.raises(transport.ConnectError, match="proxy"),
    ):
        session.get("https://mirror.example/simple/torch/")
    assert proxy.seen[0][:2] == ("CONNECT", "mirror.example:443")


def test_no_proxy_and_loopback_bypass_the_proxy(make_server: MakeServer) -> None:
    target = make_server({"*": lambda h: send(h, 200, b"direct")})
    proxies = {"http": "http://127.0.0.1:9", "no": "internal.example,.corp.example"}
    with Session(proxies=proxies) as session:
        assert session.get(f"{target.url}/x")[1] == b"direct"  # loopback: never proxied
        assert session._proxy_for("http", "pkgs.corp.example") is None
        assert session._proxy_for("http", "internal.example") is None
        assert session._proxy_for("http", "other.example") == parse_proxy("127.0.0.1:9")
        assert session._proxy_for("http", "127.0.0.2") is None  # all of 127/8 is loopback
        assert session._proxy_for("http", "localhost") is None
    with Session(proxies={"http": "http://127.0.0.1:9", "no": "*"}) as session:
        assert session._proxy_for("http", "other.example") is None
    with Session(proxies={"http": "http://127.0.0.1:9", "no": "internal.example:8080"}) as session:
        assert session._proxy_for("http", "internal.example") is None  # a rule with a port


def test_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://upper:3128")
    monkeypatch.setenv("https_proxy", "http://lower:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.example")
    found = environment_proxies()
    assert found["https"] == "http://lower:3128"
    assert found["no"] == "localhost,.example"
    assert "http" not in found


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:21", "'ftp' is not supported"),
        ("http://:3128", "no host"),
        ("http://proxy.example:port", "invalid port"),
    ],
)
def test_bad_proxy_urls(url: str, message: str) -> None:
    with pytest.raises(transport.UnsupportedURL, match=message):
        parse_proxy(url)


# --- TLS: a loopback https server with a certificate authority of its own ------------------


def test_https_with_the_servers_ca_given(https_server: IndexServer) -> None:
    with Session(proxies={}, ca_file=TLS_CA) as session:
        response, body = session.get(f"{https_server.index_url()}/demo/")
    assert response.status == 200
    assert b"demo-1.0" in body


def test_https_certificate_of_an_unknown_ca_is_refused(https_server: IndexServer) -> None:
    with (
        Session(proxies={}) as session,
        pytest.raises(transport.CertificateError, match="certificate not trusted"),
    ):
        session.get(f"{https_server.index_url()}/demo/")
    assert https_server.count() == 0  # nothing was sent to a server not trusted


def test_https_certificate_for_another_host_name_is_refused(https_server: IndexServer) -> None:
    # 127.1 reaches the same server, but the certificate names 127.0.0.1 and localhost only
    url = https_server.index_url().replace("127.0.0.1", "127.1")
    with (
        Session(proxies={}, ca_file=TLS_CA) as session,
        pytest.raises(transport.CertificateError, match=r"127\.1"),
    ):
        session.get(f"{url}/demo/")


def test_a_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bundle.pem"
    with (
        Session(proxies={}, ca_file=missing) as session,
        pytest.raises(transport.ConnectError, match="cannot load the certificates"),
    ):
        session.get("https://127.0.0.1:9/simple/")


def test_a_redirect_from_https_to_http_is_refused(make_server: MakeServer) -> None:
    plain = make_server({"*": lambda h: send(h, 200, b"downgraded")})
    secure = make_server(
        {"/simple/x/": lambda h: send(h, 302, b"", {"Location": f"{plain.url}/simple/x/"})},
        tls=True,
    )
    with (
        Session(proxies={}, ca_file=TLS_CA) as session,
        pytest.raises(transport.UnsupportedURL, match="from https to http"),
    ):
        session.get(f"{secure.url}/simple/x/")
    assert plain.seen == []


def test_every_redirect_target_is_checked_first(make_server: MakeServer) -> None:
    target = make_server({"*": lambda h: send(h, 200, b"elsewhere")})
    first = make_server({"/r": lambda h: send(h, 302, b"", {"Location": f"{target.url}/x"})})
    checked: list[str] = []

    def refuse(url: str) -> None:
        checked.append(url)
        raise PermissionError(url)

    with (
        Session(proxies={}) as session,
        pytest.raises(PermissionError),
        session.stream(f"{first.url}/r", check=refuse) as response,
    ):
        response.read()
    assert checked == [f"{target.url}/x"]
    assert target.seen == []


def test_no_proxy_takes_ip_addresses_and_cidr_ranges() -> None:
    rules = "10.0.0.0/8,192.168.1.7,[fd00::1]:8080,fc00::/7,pkgs.example:443"
    with Session(proxies={"http": "http://127.0.0.1:9", "no": rules}) as session:
        for host in ("10.1.2.3", "192.168.1.7", "fd00::1", "fc12::5", "pkgs.example"):
            assert session._proxy_for("http", host) is None, host
        for host in ("11.0.0.1", "192.168.1.8", "fe80::1", "other.example", "pkgs.example.org"):
            assert session._proxy_for("http", host) is not None, host


def test_proxy_urls_of_every_scheme() -> None:
    assert parse_proxy("socks5h://u:p%40ss@proxy.example:1081") == transport.Proxy(
        url="socks5h://proxy.example:1081", authorization=None, username="u", password="p@ss"
    )
    assert parse_proxy("socks5://proxy.example").url == "socks5://proxy.example:1080"
    secure = parse_proxy("https://me:pw@proxy.example")
    assert secure.url == "https://proxy.example:443"
    assert secure.authorization == "Basic " + base64.b64encode(b"me:pw").decode()
    assert parse_proxy("[::1]:3128").url == "http://[::1]:3128"


class Socks5Proxy:
    """A loopback SOCKS5 proxy (no authentication, CONNECT only) that sends every host name
    it is asked for to 127.0.0.1, and records the names."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        accept_forever(self.listener, self._serve)

    def _serve(self, client: socket.socket) -> None:
        import contextlib

        with client, contextlib.suppress(OSError):
            greeting = client.recv(2)
            client.recv(greeting[1])  # the methods offered
            client.sendall(b"\x05\x00")  # no authentication
            head = client.recv(4)  # VER CMD RSV ATYP
            assert head[3] == 3, "a host name (socks5h)"
            name = client.recv(client.recv(1)[0]).decode()
            port = int.from_bytes(client.recv(2), "big")
            self.asked.append(f"{name}:{port}")
            upstream = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"\x05\x00\x00\x01" + bytes(6))
            tunnel(client, upstream)

    def close(self) -> None:
        self.listener.close()


def test_a_socks5_proxy_carries_http_and_https(
    make_server: MakeServer, https_server: IndexServer
) -> None:
    plain = make_server({"*": lambda h: send(h, 200, b"through socks")})
    proxy = Socks5Proxy()
    proxies = {
        "http": f"socks5h://127.0.0.1:{proxy.port}",
        "https": f"socks5h://127.0.0.1:{proxy.port}",
    }
    try:
        with Session(proxies=proxies, ca_file=TLS_CA) as session:
            assert session.get(f"http://index.test:{plain.port}/x")[1] == b"through socks"
            url = https_server.index_url().replace("127.0.0.1", "index.test")
            response, body = session.get(f"{url}/demo/")
            assert response.status == 200
            assert b"demo-1.0" in body  # TLS end to end, the certificate's name checked
    finally:
        proxy.close()
    assert proxy.asked[0] == f"index.test:{plain.port}"
    assert len(proxy.asked) == 2
