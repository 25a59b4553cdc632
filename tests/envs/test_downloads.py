"""create's downloads against a loopback server: resumed, restarted, from the mirror and
then the lock, several at once, and the sha256 checked as the bytes stream."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import Fault, IndexServer
from tests.support.wheels import build_wheel
from torchlock.envs.install import BuildError, PlannedFile, cached_file, ensure_cached
from torchlock.index.download import HttpFetcher


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    """The real downloader create uses, its connections closed after the test."""
    downloader = HttpFetcher()
    yield downloader
    downloader.close()


def _big_wheel(tree: FixtureIndex, name: str = "big") -> tuple[Path, PlannedFile, str]:
    noise = random.Random(7)
    files = {f"{name}/blob{i}.bin": noise.randbytes(200_000) for i in range(5)}  # ~1 MB
    wheel = build_wheel(tree.files, name, "1.0", extra_files=files)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    planned = PlannedFile(
        project=name,
        version=Version("1.0"),
        filename=wheel.name,
        url="",
        sha256=digest,
        size=wheel.stat().st_size,
    )
    return wheel, planned, f"/files/{wheel.name}"


def _planned_at(planned: PlannedFile, url: str) -> PlannedFile:
    import msgspec

    return msgspec.structs.replace(planned, url=url)


def test_a_download_that_drops_is_resumed_with_a_range_request(
    index_tree: FixtureIndex, index_server: IndexServer, tmp_path: Path, fetcher: HttpFetcher
) -> None:
    wheel, planned, path = _big_wheel(index_tree)
    index_server.fail(path, Fault.dropped(times=1))
    got: list[int] = []
    found, fresh = ensure_cached(
        _planned_at(planned, index_server.url + path),
        cache_dir=tmp_path / "cache",
        fetcher=fetcher,
        progress=got.append,
    )
    assert fresh
    assert found.read_bytes() == wheel.read_bytes()
    ranges = [r.headers.get("range") for r in index_server.requests(path)]
    assert ranges[0] is None
    assert ranges[1] is not None
    assert ranges[1].startswith("bytes=")
    assert int(ranges[1].removeprefix("bytes=").rstrip("-")) > 0  # from where it dropped
    assert sum(got) == wheel.stat().st_size  # each byte counted once
    assert found == cached_file(tmp_path / "cache", planned.sha256, planned.filename)


def test_a_server_that_ignores_range_sends_the_whole_file_again(
    index_tree: FixtureIndex, index_server: IndexServer, tmp_path: Path, fetcher: HttpFetcher
) -> None:
    wheel, planned, path = _big_wheel(index_tree)
    index_server.fail(path, Fault.dropped(times=1), Fault.ignore_range(times=1))
    found, _ = ensure_cached(
        _planned_at(planned, index_server.url + path),
        cache_dir=tmp_path / "cache",
        fetcher=fetcher,
    )
    assert found.read_bytes() == wheel.read_bytes()
    assert len(index_server.requests(path)) == 2


def test_the_mirror_first_then_the_locks_url(
    index_tree: FixtureIndex, index_server: IndexServer, tmp_path: Path, fetcher: HttpFetcher
) -> None:
    wheel, planned, path = _big_wheel(index_tree)
    mirror = f"{index_server.url}/mirror/{wheel.name}"  # the mirror lacks it: 404
    found, _ = ensure_cached(
        _planned_at(planned, index_server.url + path),
        cache_dir=tmp_path / "cache",
        fetcher=fetcher,
        url=mirror,
    )
    assert found.read_bytes() == wheel.read_bytes()
    assert index_server.count(f"/mirror/{wheel.name}") >= 1
    assert index_server.count(path) == 1


def test_bytes_that_do_not_match_stop_at_once_and_leave_nothing(
    index_tree: FixtureIndex, index_server: IndexServer, tmp_path: Path, fetcher: HttpFetcher
) -> None:
    _, planned, path = _big_wheel(index_tree)
    index_server.fail(path, Fault.replace_body(b"not the wheel", times=None))
    with pytest.raises(BuildError, match="sha256 does not match the lock"):
        ensure_cached(
            _planned_at(planned, index_server.url + path),
            cache_dir=tmp_path / "cache",
            fetcher=fetcher,
        )
    assert index_server.count(path) == 1  # not tried again: the bytes were wrong, not cut
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_file_no_source_can_give_is_one_error_naming_the_attempts(
    index_tree: FixtureIndex, index_server: IndexServer, tmp_path: Path, fetcher: HttpFetcher
) -> None:
    _, planned, path = _big_wheel(index_tree)
    index_server.fail(path, Fault.dropped(times=None))
    with pytest.raises(BuildError, match="cannot download it") as caught:
        ensure_cached(
            _planned_at(planned, index_server.url + path),
            cache_dir=tmp_path / "cache",
            fetcher=fetcher,
        )
    assert index_server.url in str(caught.value)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "url",
    ["http://files.example.invalid/big-1.0-py3-none-any.whl", "ftp://h/big-1.0-py3-none-any.whl"],
)
def test_a_lock_url_follows_the_index_rules(url: str, fetcher: HttpFetcher) -> None:
    from torchlock.errors import PackageIndexError

    with pytest.raises(PackageIndexError, match=r"refusing plain-http|unsupported"):
        fetcher.fetch(url, lambda _: None)


def test_a_lock_naming_a_fifo_never_hangs(tmp_path: Path) -> None:
    import os

    from torchlock.errors import InputError

    fifo = tmp_path / "big-1.0-py3-none-any.whl"
    os.mkfifo(fifo)
    planned = PlannedFile(
        project="big",
        version=Version("1.0"),
        filename=fifo.name,
        url=fifo.as_uri(),
        sha256="0" * 64,
    )
    with pytest.raises(InputError, match="not a regular file"):
        ensure_cached(planned, cache_dir=tmp_path / "cache", fetcher=HttpFetcher())
