"""The on-disk cache and find-links folders, with plain files."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from tests.support.wheels import build_sdist, build_wheel
from torchlock.artifacts import ArtifactKind
from torchlock.index.cache import HttpCache, metadata_key, parse_max_age
from torchlock.index.pages import CachedPage
from torchlock.index.wheelhouse import Wheelhouse, list_folder


def _page(**changes: object) -> CachedPage:
    values: dict[str, object] = {
        "url": "https://index.example/simple/a/",
        "content": b"<html></html>",
        "content_type": "text/html",
        "fetched_at": 1000.0,
        "etag": '"abc"',
        "max_age": 600.0,
    }
    values.update(changes)
    return CachedPage(**values)  # type: ignore[arg-type]


def test_page_round_trip_and_freshness(tmp_path: Path) -> None:
    cache = HttpCache(tmp_path)
    page = _page()
    cache.store_page(page)
    loaded = cache.load_page(page.url)
    assert loaded == page
    assert loaded.is_fresh(1599.0)
    assert not loaded.is_fresh(1600.0)
    assert not _page(max_age=None).is_fresh(1000.0)
    assert not list(tmp_path.rglob("*.tmp"))


def test_damaged_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    cache = HttpCache(tmp_path)
    page = _page()
    cache.store_page(page)
    (path,) = tmp_path.glob("pages/*.page")
    path.write_bytes(path.read_bytes()[:-3])
    assert cache.load_page(page.url) is None
    path.write_bytes(b"\xff\xfe not json\n")
    assert cache.load_page(page.url) is None
    assert cache.load_page("https://index.example/simple/other/") is None


def test_parse_max_age() -> None:
    assert parse_max_age("public, max-age=600") == 600.0
    assert parse_max_age("no-cache") == 0.0
    assert parse_max_age("max-age=oops") == 0.0
    assert parse_max_age(None) is None


def test_metadata_key() -> None:
    assert metadata_key("ABC", "u").startswith("sha256-abc-")
    # the same advertised hash from another URL is another entry: no cross-index poisoning
    assert metadata_key("ABC", "u") != metadata_key("ABC", "v")
    assert metadata_key(None, "u").startswith("url-")


def test_list_folder(tmp_path: Path) -> None:
    build_wheel(tmp_path, "Demo.Pkg", "1.0", tags="cp310-cp310-win_amd64")
    build_sdist(tmp_path, "demo-pkg", "1.1")
    (tmp_path / "README.txt").write_text("not a distribution")
    (tmp_path / "broken-.whl").write_bytes(b"")
    found = list_folder(tmp_path)
    assert list(found) == ["demo-pkg"]
    wheel, sdist = found["demo-pkg"]  # type: ignore[index]
    assert wheel.kind is ArtifactKind.WHEEL
    assert sdist.kind is ArtifactKind.SDIST
    assert sdist.version == Version("1.1")
    assert wheel.url == (tmp_path / wheel.filename).resolve().as_uri()
    assert wheel.index == tmp_path.resolve().as_uri()
    assert wheel.size == (tmp_path / wheel.filename).stat().st_size
    assert list_folder(tmp_path / "missing") == {}


def test_wheelhouse_merges_folders(tmp_path: Path) -> None:
    build_wheel(tmp_path / "a", "x", "1.0")
    build_wheel(tmp_path / "b", "x", "2.0")
    build_wheel(tmp_path / "b", "y", "1.0")
    house = Wheelhouse([tmp_path / "a", tmp_path / "b"])
    assert [str(a.version) for a in house.artifacts("x")] == ["1.0", "2.0"]  # type: ignore[arg-type]
    assert house.artifacts("z") == ()  # type: ignore[arg-type]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    from torchlock.index.cache import atomic_write

    target = tmp_path / "entry"
    target.mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(IsADirectoryError):
        atomic_write(target, (b"header\n", b"body"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]
    assert list(target.iterdir()) == []


def test_a_page_is_hashed_once_on_its_way_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from torchlock.index import cache as cache_module
    from torchlock.index.cache import HttpCache
    from torchlock.index.pages import CachedPage

    calls: list[int] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> object:
        calls.append(len(data))
        return real(data)

    store = HttpCache(tmp_path)
    page = CachedPage(
        url="https://i.example/simple/x/",
        content=b"{}" * 1000,
        content_type="application/vnd.pypi.simple.v1+json",
        fetched_at=1.0,
        max_age=600.0,
    )
    monkeypatch.setattr(cache_module.hashlib, "sha256", counting)
    store.store_page(page)
    assert [n for n in calls if n == 2000] == []  # the page already knew its digest
    loaded = store.load_page(page.url)
    assert loaded is not None
    assert loaded.sha256 == page.sha256
    assert [n for n in calls if n == 2000] == [2000]  # read back: checked once
