"""Hostile indexes and locks: names and URLs that must never steer a path or a read.

Every case runs the real CLI against a loopback server over pages written by hand (the
way a hostile or broken mirror would write them), or against a lock edited by hand (the
way a pull request could), and checks that nothing is written or read where it does not
belong, with one clear error line where the command cannot go on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.cli.lockhelp import isolate, spec_text
from tests.support.cli import run_cli
from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import IndexServer
from tests.support.loopback import accept_forever, handler_server
from tests.support.wheels import build_wheel
from torchlock.artifacts import is_safe_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--python", "3.10", "--torch", "2.1.2"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


def _victim_page(index_tree: FixtureIndex, files: list[dict[str, object]], html: str) -> None:
    """simple/victim/ as a PEP 691 JSON page and an HTML page, written as given."""
    folder = index_tree.root / "simple" / "victim"
    folder.mkdir(parents=True, exist_ok=True)
    page = {"meta": {"api-version": "1.1"}, "name": "victim", "files": files}
    (folder / "index.json").write_text(json.dumps(page))
    (folder / "index.html").write_text(f"<!DOCTYPE html><html><body>{html}</body></html>")


def _solve(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, extra: IndexServer, *args: str
) -> tuple[int, str]:
    argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64"]
    argv += ["--index-url", pypi_index.index_url(), "--extra-index-url", extra.index_url()]
    argv += ["--with", "victim", *args]
    code, _, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    "name",
    [
        "victim-2.0-1/../../../../escaped/x-py3-none-any.whl",  # the build tag takes "/.."
        "victim-2.0-py3-none-any.whl/../../escaped.whl",
        "victim-2.0-1\\..\\..\\escaped-py3-none-any.whl",
        "victim-2.0-1\x00-py3-none-any.whl",
    ],
)
def test_a_file_name_with_a_path_in_it_is_never_locked(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
    name: str,
) -> None:
    wheel = build_wheel(index_tree.files, "victim", "2.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    entry = {"filename": name, "url": f"../../files/{wheel.name}", "hashes": {"sha256": digest}}
    _victim_page(index_tree, [entry], "")
    code, err = _solve(capsys, pypi_index, index_server, "-o", "pylock.toml")
    assert code == 7, err  # the only file was refused: nothing can be locked
    assert err.startswith("error: victim has no file for this target")
    assert not (tmp_path / "pylock.toml").exists()
    assert not list(tmp_path.rglob("escaped*"))


def test_an_html_href_with_an_encoded_slash_is_never_locked(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
) -> None:
    wheel = build_wheel(index_tree.files, "victim", "2.0")
    (index_tree.files / "victim-2.0-1%2F..%2F..%2Fx-py3-none-any.whl").write_bytes(
        wheel.read_bytes()
    )
    href = "../../files/victim-2.0-1%2F..%2F..%2Fx-py3-none-any.whl"
    folder = index_tree.root / "simple" / "victim"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(f'<html><body><a href="{href}">x</a></body></html>')
    code, err = _solve(capsys, pypi_index, index_server)
    assert code == 7, err
    assert "victim has no file for this target" in err


@pytest.mark.parametrize(
    "html",
    [
        '<a href="file:///etc/passwd#sha256={digest}">victim-2.0-py3-none-any.whl</a>',
        '<base href="file:///tmp/"><a href="victim-2.0-py3-none-any.whl#sha256={digest}">x</a>',
    ],
)
def test_a_remote_page_never_points_at_local_files(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    html: str,
) -> None:
    folder = index_tree.root / "simple" / "victim"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(f"<html><body>{html.format(digest='0' * 64)}</body></html>")
    code, err = _solve(capsys, pypi_index, index_server)
    assert code == 7, err
    assert "victim has no file for this target" in err


def test_a_json_url_to_a_local_file_is_refused(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would hang forever
    entry = {
        "filename": "victim-2.0-py3-none-any.whl",
        "url": fifo.as_uri(),
        "hashes": {"sha256": "0" * 64},
    }
    _victim_page(index_tree, [entry], "")
    code, err = _solve(capsys, pypi_index, index_server)
    assert code == 7, err


def test_a_hand_made_lock_with_a_path_in_a_file_name_is_refused(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index))
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    lock = tmp_path / "pylock.toml"
    text = lock.read_text()
    # the first wheel name in the lock becomes a path out of the cache
    start = text.index('{name = "') + len('{name = "')
    first = text[start : text.index('"', start)]
    assert first.endswith(".whl")
    text = text.replace(f'name = "{first}"', f'name = "../../../../escaped/{first}"', 1)
    lock.write_text(text)
    for argv in (
        ["create", "--prefix", "env", "--driver", "580.65.06"],
        ["export", "--format", "requirements"],
    ):
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, out, err)
        first_line = err.splitlines()[0]
        assert first_line.startswith("error: ")
        assert "not a plain file name" in first_line
    assert not list(tmp_path.rglob("escaped"))
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl", True),
        ("numpy-1.26.4.tar.gz", True),
        ("a/b.whl", False),
        ("a\\b.whl", False),
        ("..", False),
        (".", False),
        ("", False),
        ("c:evil.whl", False),
        ("x\x1b[31m.whl", False),
        ("x\x7f.whl", False),
    ],
)
def test_what_counts_as_a_plain_file_name(name: str, safe: bool) -> None:
    assert is_safe_filename(name) is safe


def test_metadata_from_a_hostile_mirror_never_reaches_a_solve_against_another_index(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    # the real wheel, on a clean index (this test's own tree, served by index_server)
    clean = index_tree
    wheel = build_wheel(clean.files, "victim", "1.0")
    clean.add_file("simple", "victim", wheel)
    clean.add_wheel("simple", "malware-payload", "6.6.6")
    clean.write()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    # the mirror: the same file name and advertised sha256, but metadata of its own
    mirror = FixtureIndex(root=tmp_path / "mirror")
    mirror.files.mkdir(parents=True)
    (mirror.files / wheel.name).write_bytes(wheel.read_bytes())
    fake = b"Metadata-Version: 2.1\nName: victim\nVersion: 1.0\nRequires-Dist: malware-payload\n"
    (mirror.files / f"{wheel.name}.metadata").write_bytes(fake)
    folder = mirror.root / "simple" / "victim"
    folder.mkdir(parents=True)
    entry = {
        "filename": wheel.name,
        "url": f"../../files/{wheel.name}",
        "hashes": {"sha256": digest},
        "core-metadata": {"sha256": hashlib.sha256(fake).hexdigest()},
    }
    (folder / "index.json").write_text(
        json.dumps({"meta": {"api-version": "1.1"}, "name": "victim", "files": [entry]})
    )
    from tests.support.index_server import serve

    hostile = serve(mirror.root, mirror)
    cache = tmp_path / "shared-cache"
    try:

        def pins(index: str) -> dict[str, object]:
            argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64"]
            argv += ["--index-url", pypi_index.index_url(), "--extra-index-url", index]
            argv += ["--with", "victim", "--cache-dir", str(cache), "--json"]
            code, out, err = run_cli(argv, capsys)
            assert code in (0, 7), err
            if code == 7:
                return {"error": err}
            [target] = json.loads(out)["targets"]
            return {p["name"]: p["dependencies"] for p in target["packages"]}

        poisoned = pins(hostile.index_url())  # the mirror's own answer: its fake metadata
        assert "malware-payload" in str(poisoned)
        found = pins(index_server.index_url())  # the same cache, against the clean index
    finally:
        hostile.stop()
    assert "victim" in found
    assert "malware-payload" not in found
    assert found["victim"] == []


def _oversized_pages(mode: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    """A handler whose every page is, as ``mode["kind"]`` says at the time: "bomb", 200 MB
    of JSON whitespace in a 200 kB gzip body, or "huge", 3 GiB sent as it is."""
    import gzip

    bomb = gzip.compress(b"{" + b" " * (200 << 20) + b"}", compresslevel=9)

    class Oversized(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", JSON_TYPE)
            if mode["kind"] == "bomb":
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(bomb)))
                self.end_headers()
                self.wfile.write(bomb)
                return
            self.send_header("Content-Length", str(3 << 30))
            self.end_headers()
            chunk = b" " * (1 << 20)
            with contextlib.suppress(OSError):  # the client stops reading
                for _ in range(3 << 10):
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Oversized


def test_a_page_that_inflates_past_the_limit_is_refused_without_reading_it_all(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer
) -> None:
    with handler_server(_oversized_pages({"kind": "bomb"})) as url:
        argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64"]
        argv += ["--index-url", pypi_index.index_url(), "--extra-index-url", f"{url}/simple"]
        argv += ["--with", "bomb"]
        code, _, err = run_cli(argv, capsys)
    assert code == 6, err
    assert err.splitlines()[0].endswith("/simple/bomb/ is too large: over 67108864 bytes")
    assert "Traceback" not in err


def test_credentials_in_file_urls_an_index_hands_out_never_reach_the_lock(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    wheel = build_wheel(index_tree.files, "victim", "2.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    host = index_server.url.removeprefix("http://")
    entry = {
        "filename": wheel.name,
        "url": f"http://deploy:s3cr3t-pass@{host}/files/{wheel.name}",
        "hashes": {"sha256": digest},
    }
    _victim_page(index_tree, [entry], "")
    argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64"]
    argv += ["--index-url", pypi_index.index_url(), "--extra-index-url", index_server.index_url()]
    argv += ["--with", "victim", "-o", "pylock.toml", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    text = (tmp_path / "pylock.toml").read_text()
    assert f"http://{host}/files/{wheel.name}" in text
    for shown in (text, out, err):
        assert "s3cr3t" not in shown


class _Trickle:
    """A loopback server that answers every request with a page one byte at a time, a
    byte every ``gap`` seconds (no read timeout ever trips), or never answers at all
    (``gap=None``: it accepts and stays silent)."""

    def __init__(self, gap: float | None) -> None:
        self.gap = gap
        self.accepted = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/simple"
        accept_forever(self.listener, self._serve, on_accept=self.accepted.set)

    def _serve(self, conn: socket.socket) -> None:
        import time

        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            if self.gap is None:
                time.sleep(3600)
            body = b'{"meta": {"api-version": "1.1"}, "name": "x", "files": []}' * 100
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (JSON_TYPE.encode(), len(body))
            )
            for byte in body:
                conn.sendall(bytes([byte]))
                time.sleep(self.gap)

    def close(self) -> None:
        self.listener.close()


def test_an_index_that_trickles_its_answer_meets_the_deadline() -> None:
    import time

    from torchlock.errors import PackageIndexError
    from torchlock.index.client import IndexClient, RetryPolicy, Routing, Timeouts

    server = _Trickle(gap=0.05)
    client = IndexClient(
        Routing(default_index=server.url),
        timeouts=Timeouts(read=5.0, total=1.0),
        retry=RetryPolicy(retries=1, backoff=0.0),
    )
    started = time.monotonic()
    try:
        with pytest.raises(PackageIndexError) as caught:
            client.artifacts("torch")  # type: ignore[arg-type]
    finally:
        client.close()
        server.close()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith(f"timed out fetching {server.url}/torch/")
    assert "the answer took longer than 1 s in all" in message
    assert elapsed < 4  # two attempts of 1 s, not a byte every 50 ms for 6,000 bytes


@pytest.mark.skipif(os.name == "nt", reason="SIGINT is POSIX")
def test_ctrl_c_on_a_stalled_index_stops_within_a_second(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    server = _Trickle(gap=None)  # accepts, never answers: every request waits 30 s
    argv = [sys.executable, "-m", "torchlock", "solve", *SELECT, "--variant", "cu121"]
    argv += ["--platform", "linux-64", "--index-url", server.url, "--with", "numpy"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.accepted.wait(30), "the solve never reached the index"
        time.sleep(0.5)  # requests in flight, in the worker threads and the main one
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        process.kill()
        server.close()
    assert process.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "error: aborted"  # exit 130
    assert took < 1.0, f"exited {took:.2f} s after Ctrl-C"


def test_the_page_size_limit_is_an_option(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer
) -> None:
    argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64", "--no-conda"]
    argv += ["--index-url", pypi_index.index_url(), "--max-page-size", "1K"]
    code, _, err = run_cli(argv, capsys)
    assert code == 6, err
    assert err.splitlines()[0].endswith("is too large: over 1024 bytes")
    assert "--max-page-size sets the limit" in err


def test_a_solve_stops_at_its_deadline_however_many_retries_are_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    server = _Trickle(gap=None)  # accepts, never answers
    argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64", "--no-conda"]
    argv += ["--index-url", server.url, "--timeout", "0.3", "--retries", "20"]
    argv += ["--solve-deadline", "1"]
    started = time.monotonic()
    try:
        code, _, err = run_cli(argv, capsys)
    finally:
        server.close()
    assert code == 6, err
    assert err.splitlines()[0] == "error: the solve ran past its deadline of 1 s"
    assert time.monotonic() - started < 5  # not 21 tries of 0.3 s and their backoff


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout", "0"),
        ("--timeout", "soon"),
        ("--retries", "-1"),
        ("--retries", "100"),
        ("--request-deadline", "0"),
        ("--solve-deadline", "-1"),
        ("--max-page-size", "12X"),
        ("--max-page-size", "0"),
        ("--max-page-size", "-5M"),
    ],
)
def test_a_bad_limit_is_refused(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    code, _, err = run_cli(["solve", "--no-conda", option, value], capsys)
    assert code == 2, err
    assert err.startswith(f"error: invalid value for '{option}'")
    assert "Traceback" not in err


def test_a_page_nested_past_any_decoder_is_a_malformed_page(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
) -> None:
    folder = index_tree.root / "simple" / "victim"
    folder.mkdir(parents=True)
    deep = '{"meta": {"api-version": "1.1"}, "name": "victim", "files": [' + "[" * 200_000
    (folder / "index.json").write_text(deep + "]" * 200_000 + "]}")
    (folder / "index.html").write_text(deep)  # a client asking for HTML gets junk too
    code, err = _solve(capsys, pypi_index, index_server)
    assert code == 6, err
    assert err.startswith("error: ")
    assert "victim" in err.splitlines()[0]


def test_a_file_the_index_gives_no_sha256_for_cannot_be_locked(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    wheel = build_wheel(index_tree.files, "victim", "1.0")
    entry = {"filename": wheel.name, "url": f"../../files/{wheel.name}", "hashes": {}}
    _victim_page(index_tree, [entry], "")
    code, err = _solve(capsys, pypi_index, index_server, "-o", str(tmp_path / "pylock.toml"))
    assert code == 6, err  # the index's fault, as its other faults
    assert err.splitlines()[0] == f"error: {wheel.name} has no sha256: the index did not give one"
    assert not (tmp_path / "pylock.toml").exists()


@pytest.mark.skipif(os.name == "nt", reason="resource limits are POSIX")
def test_huge_and_inflating_pages_stay_within_a_memory_cap(tmp_path: Path) -> None:
    """Under a 1.5 GiB address-space cap, a 3 GiB page and a page that inflates to 200 MB
    end in the size error, never in a MemoryError traceback."""
    import subprocess
    import sys

    mode = {"kind": "huge"}  # what every page is, for the run at hand
    cap = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29)); "
    run = cap + "import sys; from torchlock.cli import main; main(sys.argv[1:])"
    with handler_server(_oversized_pages(mode)) as url:
        for kind in ("huge", "bomb"):
            mode["kind"] = kind
            argv = [sys.executable, "-c", run, "solve", *SELECT, "--variant", "cu121"]
            argv += ["--platform", "linux-64", "--index-url", f"{url}/simple", "--no-conda"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert done.returncode == 6, done.stderr
            assert "is too large: over 67108864 bytes" in done.stderr.splitlines()[0]
            assert "Traceback" not in done.stderr
            assert "MemoryError" not in done.stderr
