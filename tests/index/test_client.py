"""The index client end to end, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import Fault, IndexServer
from tests.support.wheels import build_wheel
from torchlock.artifacts import Artifact, ArtifactKind
from torchlock.errors import PackageIndexError
from torchlock.index.client import IndexClient, RetryPolicy, Routing, SolveMemo, Timeouts

NO_WAIT = RetryPolicy(backoff=0.0)
MakeClient = Callable[..., IndexClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    clients: list[IndexClient] = []

    def make(routing: Routing | str, **options: object) -> IndexClient:
        if isinstance(routing, str):
            routing = Routing(default_index=routing)
        options.setdefault("retry", NO_WAIT)
        options.setdefault("timeouts", Timeouts(connect=2.0, read=2.0))
        client = IndexClient(routing, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def demo(index_tree: FixtureIndex) -> FixtureIndex:
    """demo 1.0 (PEP 658), 1.1 (no metadata: range requests), 2.0 yanked; dep 1.0."""
    index_tree.add_wheel("simple", "demo", "1.0", requires_dist=["dep>=1"])
    index_tree.add_wheel(
        "simple", "demo", "1.1", requires_dist=["dep>=1", 'extra-dep; extra == "x"'],
        provides_extra=["x"], metadata=False,
    )  # fmt: skip
    index_tree.add_wheel("simple", "demo", "2.0", yanked="broken", requires_python=">=3.12")
    index_tree.add_wheel("simple", "dep", "1.0")
    return index_tree.write()


def _by_version(artifacts: tuple[Artifact, ...], version: str) -> Artifact:
    (found,) = [a for a in artifacts if a.version == Version(version)]
    return found


def test_json_page(demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient) -> None:
    client = make_client(index_server.index_url())
    artifacts = client.artifacts(canonicalize_name("Demo"))
    assert [str(a.version) for a in artifacts] == ["1.0", "1.1", "2.0"]
    (request,) = index_server.requests("/simple/demo/")
    assert request.headers["accept"].startswith("application/vnd.pypi.simple.v1+json")
    assert _by_version(artifacts, "2.0").yanked == "broken"
    assert str(_by_version(artifacts, "2.0").requires_python) == ">=3.12"
    assert all(a.url.startswith(index_server.url + "/files/") for a in artifacts)
    assert all(a.index == index_server.index_url() for a in artifacts)
    assert client.stats.requests == 1


def test_html_page_with_percent_encoded_local_versions(
    pytorch_index: IndexServer, make_client: MakeClient
) -> None:
    client = make_client(pytorch_index.index_url("whl/cu121"))
    torch = client.artifacts(canonicalize_name("torch"))
    assert pytorch_index.requests("/whl/cu121/torch/")[0].status == 200
    names = {a.filename for a in torch}
    assert "torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl" in names
    plus = next(a for a in torch if a.filename.startswith("torch-2.1.2+cu121-cp310"))
    assert "%2Bcu121" in plus.url
    assert plus.version == Version("2.1.2+cu121")
    meta = client.metadata(plus)
    assert meta.version == Version("2.1.2+cu121")
    assert any(r.name == "nvidia-cublas-cu12" for r in meta.requires_dist)


def test_unknown_project_is_empty(index_server: IndexServer, make_client: MakeClient) -> None:
    client = make_client(index_server.index_url())
    assert client.artifacts(canonicalize_name("nothing-here")) == ()


def test_pep658_metadata(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    client = make_client(index_server.index_url())
    artifact = _by_version(client.artifacts(canonicalize_name("demo")), "1.0")
    assert artifact.has_metadata
    meta = client.metadata(artifact)
    assert [str(r) for r in meta.requires_dist] == ["dep>=1"]
    assert index_server.count(f"/files/{artifact.filename}.metadata") == 1
    assert index_server.count(f"/files/{artifact.filename}") == 0
    assert client.metadata(artifact) is meta  # asked once


def test_range_requests_when_no_metadata(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    client = make_client(index_server.index_url())
    artifact = _by_version(client.artifacts(canonicalize_name("demo")), "1.1")
    assert not artifact.has_metadata
    meta = client.metadata(artifact)
    assert meta.provides_extra == frozenset({"x"})
    (request,) = index_server.requests(f"/files/{artifact.filename}")
    assert request.headers["range"].startswith("bytes=-")
    assert request.status == 206


def test_range_requests_on_a_large_wheel(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    noise = random.Random(0)
    big = {f"big/blob{i}.bin": noise.randbytes(256 * 1024) for i in range(4)}  # 1 MiB
    path = build_wheel(index_tree.files, "big", "1.0", extra_files=big, requires_dist=["dep"])
    index_tree.add_file("simple", "big", path, metadata=False)
    index_tree.write()
    client = make_client(index_server.index_url())
    (artifact,) = client.artifacts(canonicalize_name("big"))
    assert [r.name for r in client.metadata(artifact).requires_dist] == ["dep"]
    assert client.stats.bytes < path.stat().st_size // 4


def test_full_download_when_range_is_ignored(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    client = make_client(index_server.index_url())
    artifact = _by_version(client.artifacts(canonicalize_name("demo")), "1.1")
    index_server.fail(f"/files/{artifact.filename}", Fault.ignore_range())
    meta = client.metadata(artifact)
    assert meta.version == Version("1.1")
    (request,) = index_server.requests(f"/files/{artifact.filename}")
    assert request.status == 200


def test_an_sdist_only_version_is_read_from_its_pkg_info(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_tree.add_sdist("simple", "old", "0.1", requires_dist=["static-dep"])
    index_tree.add_sdist("simple", "old", "0.2")
    index_tree.add_wheel("simple", "old", "0.2", requires_dist=["dep"])
    index_tree.write()
    client = make_client(index_server.index_url())
    artifacts = client.artifacts(canonicalize_name("old"))
    # PKG-INFO 2.2 with nothing Dynamic: its Requires-Dist is the built wheel's (PEP 643)
    sdist_01 = _by_version(artifacts, "0.1")
    assert [r.name for r in client.metadata(sdist_01).requires_dist] == ["static-dep"]
    # the same version's wheel stands for an sdist
    sdist_02 = next(
        a for a in artifacts if a.kind is ArtifactKind.SDIST and a.version == Version("0.2")
    )
    assert [r.name for r in client.metadata(sdist_02).requires_dist] == ["dep"]


def test_a_dynamic_sdist_without_a_builder_says_it_must_be_built(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_tree.add_sdist("simple", "dyn", "1.0", requires_dist=["a"], static=False)
    index_tree.write()
    client = make_client(index_server.index_url())
    [sdist] = client.artifacts(canonicalize_name("dyn"))
    with pytest.raises(PackageIndexError) as caught:
        client.metadata(sdist)
    message = str(caught.value)
    assert message.startswith("dyn 1.0 must be built to learn its dependencies")
    assert "PEP 643" in message


def test_the_targets_of_one_solve_read_each_page_and_metadata_file_once(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    memo = SolveMemo()
    try:
        found = []
        for _ in range(3):  # three targets, no HTTP cache: only the memo can spare requests
            client = make_client(index_server.index_url(), memo=memo)
            artifacts = client.artifacts(canonicalize_name("demo"))
            meta = client.metadata(_by_version(artifacts, "1.0"))
            assert client.artifacts(canonicalize_name("nothing-here")) == ()
            found.append((artifacts, meta))
            # each target still records the pages its answer was built from
            assert f"{index_server.index_url()}/demo/" in client.pages_used
        assert found[0] == found[1] == found[2]
        assert index_server.count("/simple/demo/") == 1
        assert index_server.count("/simple/nothing-here/") == 1  # a 404 is remembered too
        assert index_server.count("/files/demo-1.0-py3-none-any.whl.metadata") == 1
    finally:
        memo.close()


# --- faults -------------------------------------------------------------------------------


def test_500_then_success(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.error(500, times=2))
    client = make_client(index_server.index_url())
    assert len(client.artifacts(canonicalize_name("demo"))) == 3
    assert client.stats.retries == 2
    assert client.stats.requests == 3
    assert [r.status for r in index_server.requests("/simple/demo/")] == [500, 500, 200]


def test_429_with_retry_after(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.too_many(retry_after="0"))
    waits: list[float] = []
    client = make_client(index_server.index_url(), sleep=waits.append)
    assert client.artifacts(canonicalize_name("demo"))
    assert waits == [0.0]


def test_backoff_is_exponential() -> None:
    policy = RetryPolicy(backoff=0.2)
    assert [policy.wait(n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert policy.wait(1, "5") == 5.0
    assert RetryPolicy(max_wait=1.0).wait(1, "120") == 1.0


def test_500_forever_gives_up(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.error(503, times=None))
    client = make_client(index_server.index_url())
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert message.startswith(f"cannot fetch {index_server.index_url()}/demo/")
    assert "HTTP 503" in message
    assert "gave up after 4 attempts" in message
    assert index_server.count("/simple/demo/") == 4


def test_reset_then_success(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.reset())
    client = make_client(index_server.index_url())
    assert len(client.artifacts(canonicalize_name("demo"))) == 3
    assert client.stats.retries == 1


def test_timeout_is_a_clear_error(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.slow(1.0))
    client = make_client(
        index_server.index_url(),
        timeouts=Timeouts(connect=1.0, read=0.1),
        retry=RetryPolicy(retries=1, backoff=0.0),
    )
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert message.startswith(f"timed out fetching {index_server.index_url()}/demo/")
    assert "no answer within 0.1 s (read timeout)" in message
    assert "hint:" in message


def test_truncated_json(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.truncated())
    client = make_client(index_server.index_url())
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    assert str(caught.value).startswith(f"malformed project page {index_server.index_url()}/demo/")


def test_wrong_content_type(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.wrong_type("text/plain"))
    client = make_client(index_server.index_url())
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert message.startswith(f"unexpected content type from {index_server.index_url()}/demo/")
    assert "'text/plain'" in message


def test_metadata_hash_mismatch(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_tree.add_wheel("simple", "bad", "1.0", wrong_metadata_hash=True)
    index_tree.write()
    client = make_client(index_server.index_url())
    (artifact,) = client.artifacts(canonicalize_name("bad"))
    with pytest.raises(PackageIndexError) as caught:
        client.metadata(artifact)
    message = str(caught.value)
    assert message.startswith(f"metadata hash mismatch for {artifact.filename}")
    assert f"sha256={'0' * 64}" in message
    actual = message.rsplit("has sha256=", 1)[1].split()[0]
    assert len(actual) == 64
    assert actual != "0" * 64


def test_metadata_body_replaced_is_caught(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    client = make_client(index_server.index_url())
    artifact = _by_version(client.artifacts(canonicalize_name("demo")), "1.0")
    index_server.fail(f"/files/{artifact.filename}.metadata", Fault.replace_body(b"Name: x\n"))
    with pytest.raises(PackageIndexError, match="metadata hash mismatch"):
        client.metadata(artifact)


def test_only_yanked_project(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_tree.add_wheel("simple", "gone", "1.0", yanked="")
    index_tree.add_wheel("simple", "gone", "1.1", yanked="security")
    index_tree.write()
    client = make_client(index_server.index_url())
    artifacts = client.artifacts(canonicalize_name("gone"))
    assert [a.yanked for a in artifacts] == ["", "security"]


def test_other_4xx_is_an_error_with_a_hint(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.error(410))
    client = make_client(index_server.index_url())
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert "HTTP 410" in message
    assert "hint: check the index URL" in message
    assert index_server.count() == 1


# --- credentials and plain http -------------------------------------------------------------


def test_credentials_from_the_url_are_sent_and_never_shown(
    demo: FixtureIndex,
    index_server: IndexServer,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    index_server.require_auth("alice", "s3cr3t-pw")
    authed = index_server.index_url(login=("alice", "s3cr3t-pw"))
    caplog.set_level(logging.DEBUG, logger="torchlock.index")
    client = make_client(authed)
    artifact = _by_version(client.artifacts(canonicalize_name("demo")), "1.0")
    assert "s3cr3t" not in artifact.url
    assert "s3cr3t" not in artifact.index
    assert client.metadata(artifact).name == "demo"
    index_server.fail("/simple/dep/", Fault.error(500, times=None))
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("dep"))
    message = str(caught.value)
    assert "s3cr3t" not in message
    assert "s3cr3t" not in caplog.text


def test_wrong_password_redacted(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.require_auth("alice", "right")
    client = make_client(
        Routing(
            default_index="http://x",
            indexes={"demo": index_server.index_url(login=("alice", "wr0ng"))},
        )
    )
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert "HTTP 401" in message
    assert "wr0ng" not in message
    assert "netrc" in message


def test_credentials_from_netrc(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    index_server.require_auth("bob", "from-netrc")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password from-netrc\n")
    netrc.chmod(0o600)
    client = make_client(index_server.index_url(), netrc_path=netrc)
    assert len(client.artifacts(canonicalize_name("demo"))) == 3


def test_plain_http_to_other_hosts_is_refused_before_connecting(make_client: MakeClient) -> None:
    client = make_client("http://user:hunter2@index.invalid/simple")
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert message.startswith("refusing plain-http package index http://index.invalid/simple/")
    assert "hunter2" not in message
    assert client.stats.requests == 0


@contextlib.contextmanager
def _redirecting(location: Callable[[str], str]) -> Iterator[str]:
    """A loopback server answering every GET with a 302 to ``location(path)``; its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location(self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_redirect_to_a_plain_http_host_is_refused_before_connecting(
    make_client: MakeClient,
) -> None:
    with _redirecting(lambda _path: "http://index.invalid/simple/demo/") as url:
        client = make_client(f"{url}/simple")
        with pytest.raises(PackageIndexError) as caught:
            client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert message.startswith("refusing plain-http package index http://index.invalid/")
    assert client.stats.retries == 0  # refused at once, not retried as a network failure


def test_failures_that_trying_again_cannot_mend_are_said_at_once(
    make_client: MakeClient, tmp_path: Path
) -> None:
    with _redirecting(lambda path: path) as url:  # round and round
        looping = make_client(f"{url}/simple")
        with pytest.raises(PackageIndexError) as loop:
            looping.artifacts(canonicalize_name("demo"))
    assert "more than 10 redirects" in str(loop.value)
    assert looping.stats.retries == 0
    no_bundle = make_client("https://127.0.0.1:9/simple", ca_file=tmp_path / "missing.pem")
    with pytest.raises(PackageIndexError) as bundle:
        no_bundle.artifacts(canonicalize_name("demo"))
    assert "cannot load the certificates" in str(bundle.value)
    assert "PIP_CERT" in (bundle.value.hint or "")
    assert no_bundle.stats.retries == 0


def test_trusted_host_is_allowed(make_client: MakeClient) -> None:
    client = make_client("http://index.invalid/simple", trusted_hosts=["index.invalid"])
    with pytest.raises(PackageIndexError) as caught:  # allowed, but the name does not resolve
        client.artifacts(canonicalize_name("demo"))
    assert str(caught.value).startswith("cannot fetch http://index.invalid/simple/demo/")


def test_each_host_and_port_is_checked_on_its_own(make_client: MakeClient) -> None:
    client = make_client("http://index.invalid:8080/simple", trusted_hosts=["index.invalid:8080"])
    for _ in range(2):  # allowed both times (the second from what the first check found)
        with pytest.raises(PackageIndexError, match=r"^cannot fetch http://index\.invalid:8080/"):
            client.artifacts(canonicalize_name("demo"))
    for _ in range(2):  # the same host on another port is still refused, every time
        with pytest.raises(PackageIndexError, match=r"^refusing plain-http package index"):
            client._send("http://index.invalid/files/demo-1.0.tar.gz", {})


# --- routing, find-links, concurrency -------------------------------------------------------


def test_routing_never_merges_indexes(
    pypi_index: IndexServer, pytorch_index: IndexServer, make_client: MakeClient
) -> None:
    routing = Routing(
        default_index=pypi_index.index_url(),
        indexes={"Torch": pytorch_index.index_url("whl/cu124")},
    )
    client = make_client(routing)
    torch = client.artifacts(canonicalize_name("torch"))
    assert {a.version.local for a in torch} == {"cu124"}
    numpy = client.artifacts(canonicalize_name("numpy"))
    assert numpy
    assert pypi_index.count("/simple/torch/") == 0
    assert pytorch_index.count("/whl/cu124/numpy/") == 0


def test_extra_index_serves_only_what_the_default_lacks(
    pypi_index: IndexServer, pytorch_index: IndexServer, make_client: MakeClient
) -> None:
    # The PyTorch-like index has torch, but so does the default: the default wins whole,
    # and the extra index is never asked for it (no dependency confusion).
    routing = Routing(
        default_index=pypi_index.index_url(),
        extra_indexes=(pytorch_index.index_url("whl/cu124"),),
    )
    client = make_client(routing)
    torch = client.artifacts(canonicalize_name("torch"))
    assert torch
    assert {a.version.local for a in torch} == {None}
    assert pytorch_index.count("/whl/cu124/torch/") == 0
    # Only the extra index has "nothing-here"? Neither has it: empty, both asked once.
    assert client.artifacts(canonicalize_name("nothing-here")) == ()
    assert pypi_index.count("/simple/nothing-here/") == 1
    assert pytorch_index.count("/whl/cu124/nothing-here/") == 1


def test_extra_index_is_asked_for_a_project_the_default_lacks(
    demo: FixtureIndex,
    index_server: IndexServer,
    pypi_index: IndexServer,
    make_client: MakeClient,
) -> None:
    routing = Routing(
        default_index=pypi_index.index_url(), extra_indexes=(index_server.index_url(),)
    )
    client = make_client(routing)
    demo_files = client.artifacts(canonicalize_name("demo"))
    assert {str(a.version) for a in demo_files} == {"1.0", "1.1", "2.0"}
    assert all(a.index == index_server.index_url() for a in demo_files)
    assert pypi_index.count("/simple/demo/") == 1


def test_flat_listing_serves_every_project_from_one_page(
    index_tree: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    # Like a mirror's pytorch-wheels/<variant>/ folder: one HTML listing of all files.
    folder = index_tree.root / "flat" / "cu121"
    built = [
        build_wheel(folder, "demo", "1.0+cu121"),
        build_wheel(folder, "demo", "1.1+cu121"),
        build_wheel(folder, "other", "3.0+cu121"),
    ]
    links = "".join(f'<a href="{p.name}">{p.name}</a><br>' for p in built)
    (folder / "index.html").write_text(f"<html><body>{links}</body></html>")
    flat = f"{index_server.url}/flat/cu121/"
    routing = Routing(
        default_index=index_server.index_url(),
        indexes={"demo": flat, "other": flat},
        flat_indexes=frozenset({flat}),
    )
    client = make_client(routing)
    demo_files = client.artifacts(canonicalize_name("demo"))
    assert sorted(str(a.version) for a in demo_files) == ["1.0+cu121", "1.1+cu121"]
    assert all(a.sha256 is None and a.url.startswith(flat) for a in demo_files)
    assert [str(a.version) for a in client.artifacts(canonicalize_name("other"))] == ["3.0+cu121"]
    assert index_server.count("/flat/cu121/") >= 1
    assert index_server.count("/simple/demo/") == 0


def test_find_links_wins(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    folder_a, folder_b = tmp_path / "wheels-a", tmp_path / "wheels-b"
    build_wheel(folder_a, "demo", "9.0", requires_dist=["dep"])
    build_wheel(folder_b, "demo", "9.1")
    routing = Routing(default_index=index_server.index_url(), find_links=(folder_a, folder_b))
    client = make_client(routing)
    artifacts = client.artifacts(canonicalize_name("demo"))
    assert [str(a.version) for a in artifacts] == ["9.0", "9.1"]
    assert all(a.url.startswith("file://") for a in artifacts)
    assert all(a.sha256 is not None and len(a.sha256) == 64 for a in artifacts)
    assert index_server.count("/simple/demo/") == 0
    assert [r.name for r in client.metadata(artifacts[0]).requires_dist] == ["dep"]
    assert client.artifacts(canonicalize_name("dep"))  # not in the folders: from the index
    assert client.stats.requests == 1


def test_prefetch_fetches_each_page_once(pypi_index: IndexServer, make_client: MakeClient) -> None:
    client = make_client(pypi_index.index_url())
    projects = ["numpy", "pillow", "requests", "idna", "certifi", "urllib3", "sympy", "mpmath"]
    client.prefetch(canonicalize_name(p) for p in projects)
    client.prefetch(canonicalize_name(p) for p in projects)
    for project in projects:
        assert client.artifacts(canonicalize_name(project))
    assert pypi_index.count() == len(projects)
    wheels = [client.artifacts(canonicalize_name(p))[0] for p in projects]
    client.prefetch_metadata(wheels)
    assert {client.metadata(w).name for w in wheels} == set(projects)
    assert client.stats.requests == 2 * len(projects)


def test_prefetch_errors_surface_on_ask(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient
) -> None:
    index_server.fail("/simple/demo/", Fault.error(404 + 1, times=None))
    client = make_client(index_server.index_url())
    client.prefetch([canonicalize_name("demo")])
    with pytest.raises(PackageIndexError, match="HTTP 405"):
        client.artifacts(canonicalize_name("demo"))


def test_a_read_ahead_that_outlives_the_client_starts_nothing(
    pypi_index: IndexServer, make_client: MakeClient
) -> None:
    import threading

    client = make_client(pypi_index.index_url())
    closing = threading.Event()
    late: list[str] = []

    def pick(project: NormalizedName, artifacts: Sequence[Artifact]) -> Artifact | None:
        # a read-ahead still walking the closure while the client closes (as when a
        # resolution fails with prefetches under way)
        closing.wait(5)
        client.prefetch([canonicalize_name("idna")], pick=lambda *_: None)
        late.append(project)
        return None

    client.prefetch([canonicalize_name("requests")], pick=pick)
    closer = threading.Thread(target=client.close)
    closer.start()
    deadline = time.monotonic() + 10
    while not client._closed:  # close() has begun and waits for the running job
        assert time.monotonic() < deadline, "close() never began"
    closing.set()
    closer.join(10)
    assert not closer.is_alive()
    assert late == ["requests"]
    assert pypi_index.requests("/simple/idna/") == []  # no request after close began
    with pytest.raises(PackageIndexError, match="closed"):  # an error, not a hang
        client.artifacts(canonicalize_name("idna"))


# --- the HTTP cache ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_cache_makes_no_requests(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    clock = Clock()
    first = make_client(index_server.index_url(), cache_dir=cache, clock=clock)
    for artifact in first.artifacts(canonicalize_name("demo"))[:2]:
        first.metadata(artifact)
    assert first.stats.requests == 3
    second = make_client(index_server.index_url(), cache_dir=cache, clock=clock)
    artifacts = second.artifacts(canonicalize_name("demo"))
    metas = [second.metadata(a) for a in artifacts[:2]]
    assert [str(m.version) for m in metas] == ["1.0", "1.1"]
    assert second.stats.requests == 0
    assert second.stats.cache_hits == 3


def test_stale_page_is_revalidated(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    clock = Clock()
    cache = tmp_path / "cache"
    make_client(index_server.index_url(), cache_dir=cache, clock=clock).artifacts(
        canonicalize_name("demo")
    )
    clock.now += 601  # the server says max-age=600
    client = make_client(index_server.index_url(), cache_dir=cache, clock=clock)
    assert len(client.artifacts(canonicalize_name("demo"))) == 3
    first, second = index_server.requests("/simple/demo/")
    assert second.headers["if-none-match"] == first.headers.get(
        "if-none-match", second.headers["if-none-match"]
    )
    assert second.status == 304
    assert client.stats.revalidated == 1
    assert client.stats.bytes == 0
    clock.now += 300  # revalidated: fresh again for max-age
    again = make_client(index_server.index_url(), cache_dir=cache, clock=clock)
    again.artifacts(canonicalize_name("demo"))
    assert again.stats.requests == 0


def test_offline_with_empty_cache_names_the_url(
    index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(index_server.index_url(), cache_dir=tmp_path / "cache", offline=True)
    with pytest.raises(PackageIndexError) as caught:
        client.artifacts(canonicalize_name("demo"))
    message = str(caught.value)
    assert f"{index_server.index_url()}/demo/" in message
    assert message.startswith("offline")
    assert "without --offline" in message
    assert index_server.count() == 0


def test_offline_with_warm_cache(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    clock = Clock()
    warm = make_client(index_server.index_url(), cache_dir=cache, clock=clock)
    warm.metadata(warm.artifacts(canonicalize_name("demo"))[0])
    clock.now += 10_000  # stale pages still answer offline
    index_server.reset()
    offline = make_client(index_server.index_url(), cache_dir=cache, clock=clock, offline=True)
    artifacts = offline.artifacts(canonicalize_name("demo"))
    assert offline.metadata(artifacts[0]).name == "demo"
    with pytest.raises(PackageIndexError, match=r"offline, and the metadata of demo-1\.1"):
        offline.metadata(artifacts[1])
    assert index_server.count() == 0


def test_corrupt_cache_entry_is_ignored(
    demo: FixtureIndex, index_server: IndexServer, make_client: MakeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = make_client(index_server.index_url(), cache_dir=cache)
    first.metadata(first.artifacts(canonicalize_name("demo"))[0])
    for entry in [*cache.glob("pages/*"), *cache.glob("metadata/*")]:
        entry.write_bytes(entry.read_bytes()[:20] + b"\x00garbage")
    second = make_client(index_server.index_url(), cache_dir=cache)
    artifact = second.artifacts(canonicalize_name("demo"))[0]
    assert second.metadata(artifact).name == "demo"
    assert second.stats.requests == 2
    third = make_client(index_server.index_url(), cache_dir=cache)
    third.metadata(third.artifacts(canonicalize_name("demo"))[0])
    assert third.stats.requests == 0


def test_worker_pool_runs_every_job_within_its_limit() -> None:
    import threading
    import time

    from torchlock.index.client import _Workers

    pool = _Workers(3)
    done: list[int] = []
    names: set[str] = set()
    lock = threading.Lock()

    def job(n: int) -> None:
        time.sleep(0.01)
        with lock:
            done.append(n)
            names.add(threading.current_thread().name)
        if n % 5 == 0:
            raise RuntimeError("a failing job does not stop its worker")

    for n in range(30):
        pool.submit(lambda n=n: job(n))  # type: ignore[misc]
    pool.shutdown()
    assert sorted(done) == list(range(30))
    assert 1 <= len(names) <= 3
    assert len(names) == 3  # jobs that found every thread busy started new ones
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(lambda: None)


def test_source_names_every_place_asked_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    routing = Routing(
        default_index="https://default.example/simple",
        indexes={"torch": "https://download.example/whl/cu121"},
        extra_indexes=("https://tok3n@extra.example/simple",),
        find_links=(folder,),
        flat_indexes=frozenset({"https://download.example/whl/cu121"}),
    )
    client = IndexClient(routing)
    assert client.source(canonicalize_name("numpy")) == (
        f"{folder}, then https://default.example/simple/numpy/, "
        "then https://extra.example/simple/numpy/"
    )
    # a project routed to its own index never goes to the extra indexes; a flat listing
    # is named itself, not as a project page under it
    assert client.source(canonicalize_name("torch")) == (
        f"{folder}, then https://download.example/whl/cu121"
    )


def test_index_checks_are_remembered_per_scheme_and_host(make_client: MakeClient) -> None:
    client = make_client("https://h.example/simple")
    client._check("https://h.example/simple/")
    with pytest.raises(PackageIndexError, match="refusing plain-http"):
        client._check("http://h.example/simple/")  # the same host over http: asked again
