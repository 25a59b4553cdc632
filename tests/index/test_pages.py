"""Project pages into artifacts: PEP 691 JSON and PEP 503 HTML, with plain values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import Version

from torchlock.artifacts import ArtifactKind
from torchlock.index.pages import (
    MalformedPage,
    html_entries,
    page_kind,
    parse_page,
    parse_requires_python,
    wheel_filter,
)

PAGE = "https://index.example/simple/torch/"
SHA = "a" * 64
META_SHA = "b" * 64


def _json(files: list[object]) -> str:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "torch", "files": files})


def test_json_page_with_every_field() -> None:
    page = _json(
        [
            {
                "filename": "torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl",
                "url": "../../files/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl",
                "hashes": {"sha256": SHA.upper()},
                "requires-python": ">=3.8.0",
                "core-metadata": {"sha256": META_SHA},
                "yanked": False,
                "size": 123,
                "upload-time": "2024-01-01T00:00:00Z",
            }
        ]
    )
    (artifact,) = parse_page(page, kind="json", page_url=PAGE, project="torch", index="idx")
    assert artifact.project == "torch"
    assert artifact.version == Version("2.1.2+cu121")
    assert (
        artifact.url
        == "https://index.example/files/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl"
    )
    assert artifact.kind is ArtifactKind.WHEEL
    assert artifact.tags == frozenset({Tag("cp310", "cp310", "linux_x86_64")})
    assert artifact.sha256 == SHA
    assert artifact.requires_python == SpecifierSet(">=3.8.0")
    assert artifact.has_metadata
    assert artifact.metadata_sha256 == META_SHA
    assert artifact.yanked is None
    assert artifact.size == 123
    assert artifact.upload_time == "2024-01-01T00:00:00Z"
    assert artifact.index == "idx"


@pytest.mark.parametrize(
    ("yanked", "expected"), [(True, ""), ("broken build", "broken build"), (False, None)]
)
def test_json_yanked(yanked: object, expected: str | None) -> None:
    page = _json([{"filename": "torch-1.0-py3-none-any.whl", "url": "x.whl", "yanked": yanked}])
    (artifact,) = parse_page(page, kind="json", page_url=PAGE, project="torch", index="i")
    assert artifact.yanked == expected


def test_json_dist_info_metadata_fallback_and_true() -> None:
    page = _json(
        [
            {"filename": "torch-1.0-py3-none-any.whl", "url": "a.whl", "dist-info-metadata": True},
            {"filename": "torch-1.1-py3-none-any.whl", "url": "b.whl", "core-metadata": False},
        ]
    )
    first, second = parse_page(page, kind="json", page_url=PAGE, project="torch", index="i")
    assert first.has_metadata
    assert first.metadata_sha256 is None
    assert not second.has_metadata


def test_json_skips_other_files_silently() -> None:
    page = _json(
        [
            {"filename": "torch-1.0.exe", "url": "a"},
            {"filename": "not a wheel.whl", "url": "b"},
            {"filename": "numpy-1.0-py3-none-any.whl", "url": "c"},
            {"filename": "torch-1.0.tar.gz", "url": "d"},
            {"filename": "torch-1.0.tar.bz2", "url": "e"},
        ]
    )
    (sdist,) = parse_page(page, kind="json", page_url=PAGE, project="Torch", index="i")
    assert sdist.kind is ArtifactKind.SDIST
    assert sdist.version == Version("1.0")


JUNK = {
    "hashes": ["not", "a", "mapping"],
    "requires-python": 3.8,
    "core-metadata": None,
    "dist-info-metadata": True,  # core-metadata is present (null): it decides
    "yanked": 0,
    "size": "123",
    "upload-time": 20240101,
}


@pytest.mark.parametrize("odd", [None, 7])  # None: the typed path; 7 (an odd entry): the other
def test_json_defaults_and_the_filter_on_both_paths(odd: object) -> None:
    files: list[object] = [
        {"filename": "torch-1.0-cp310-cp310-linux_x86_64.whl", "url": "a.whl#sha256=AB"},
        {"filename": "torch-1.0-cp310-cp310-win_amd64.whl", "url": "b.whl"},
        {"filename": "torch-1.1-py3-none-any.whl", "url": "c.whl#sha256=cd", "size": True,
         "hashes": {"sha256": ""}},
    ]  # fmt: skip
    if odd is not None:
        files.append(odd)
    accept = wheel_filter([Tag("cp310", "cp310", "linux_x86_64"), Tag("py3", "none", "any")])
    found = parse_page(
        _json(files), kind="json", page_url=PAGE, project="torch", index="i", accept=accept
    )
    assert [a.filename for a in found] == [
        "torch-1.0-cp310-cp310-linux_x86_64.whl",
        "torch-1.1-py3-none-any.whl",
    ]  # the Windows wheel filtered out
    assert [a.yanked for a in found] == [None, None]  # no "yanked": not yanked
    assert [a.sha256 for a in found] == ["ab", "cd"]  # an empty hash leaves the fragment's
    assert found[1].size is None  # true is not a size


def test_json_junk_values_count_as_absent() -> None:
    page = _json([{"filename": "torch-1.0-py3-none-any.whl", "url": "a.whl#sha256=AB", **JUNK}])
    (artifact,) = parse_page(page, kind="json", page_url=PAGE, project="torch", index="i")
    assert artifact.sha256 == "ab"  # from the URL fragment, the hashes being junk
    assert artifact.requires_python is None
    assert not artifact.has_metadata
    assert artifact.yanked is None
    assert artifact.size is None
    assert artifact.upload_time is None


@pytest.mark.parametrize(
    "odd",
    [
        "a string, not an object",
        {"url": "no-filename.whl"},
        {"filename": 7, "url": "x.whl"},
        {"filename": "torch-0.9-py3-none-any.whl", "url": None},
    ],
)
def test_json_entries_of_another_shape_are_skipped_and_the_rest_read_alike(odd: object) -> None:
    good = {"filename": "torch-1.0-py3-none-any.whl", "url": "a.whl", **JUNK, "size": 5}
    files: list[object] = [good, odd, {**good, "filename": "torch-1.1.tar.gz"}]
    mixed = parse_page(_json(files), kind="json", page_url=PAGE, project="torch", index="i")
    clean = parse_page(
        _json([files[0], files[2]]), kind="json", page_url=PAGE, project="torch", index="i"
    )
    assert mixed == clean
    assert [a.filename for a in mixed] == ["torch-1.0-py3-none-any.whl", "torch-1.1.tar.gz"]
    assert mixed[0].size == 5


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: b"\xef\xbb\xbf" + text.encode(),  # a byte order mark
        lambda text: text.encode("utf-16"),
        lambda text: text.replace('"size": 5', '"size": NaN').encode(),
    ],
)
def test_json_that_only_the_standard_library_reads_is_still_read(encode: Any) -> None:
    page = _json([{"filename": "torch-1.0-py3-none-any.whl", "url": "a.whl", "size": 5}])
    (artifact,) = parse_page(encode(page), kind="json", page_url=PAGE, project="torch", index="i")
    assert artifact.filename == "torch-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    "content",
    [
        '{"files": [',
        "[]",
        '{"meta": {}}',
        b"\xff\xfe",
        '{"files": {}}',
        "null",
        '{"files": ' + "[" * 100_000 + "]" * 100_000 + "}",  # deeper than Python's stack
    ],
)
def test_json_malformed(content: str | bytes) -> None:
    with pytest.raises(MalformedPage):
        parse_page(content, kind="json", page_url=PAGE, project="torch", index="i")


HTML = f"""<!DOCTYPE html><html><body>
<a href="/whl/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl#sha256={SHA}"
   data-requires-python="&gt;=3.8.0" data-dist-info-metadata="sha256={META_SHA}">
   torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl</a><br/>
<a href="torch-2.0.1-cp310-none-macosx_11_0_arm64.whl" data-yanked="">x</a>
<a href="torch-2.0.0-cp310-none-macosx_11_0_arm64.whl" data-yanked="bad &amp; broken"
   data-core-metadata="true" data-dist-info-metadata="sha256={META_SHA}">x</a>
<a href="torch-1.0-py3-none-any.whl#md5=abc" data-requires-python="junk!!">x</a>
<a href="other-1.0-py3-none-any.whl">other</a>
<a>no href</a>
</body></html>"""


def test_html_page() -> None:
    plus, yanked_plain, yanked_reason, junk = parse_page(
        HTML, kind="html", page_url=PAGE, project="torch", index="i"
    )
    assert plus.filename == "torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl"
    assert plus.url == "https://index.example/whl/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl"
    assert plus.version == Version("2.1.2+cu121")
    assert plus.sha256 == SHA
    assert plus.requires_python == SpecifierSet(">=3.8.0")
    assert plus.has_metadata
    assert plus.metadata_sha256 == META_SHA
    assert plus.yanked is None
    assert yanked_plain.yanked == ""
    assert (
        yanked_plain.url
        == "https://index.example/simple/torch/torch-2.0.1-cp310-none-macosx_11_0_arm64.whl"
    )
    assert yanked_reason.yanked == "bad & broken"
    # PEP 714: data-core-metadata wins over data-dist-info-metadata
    assert yanked_reason.has_metadata
    assert yanked_reason.metadata_sha256 is None
    assert junk.requires_python is None
    assert junk.sha256 is None
    assert not junk.has_metadata


def test_html_base_href() -> None:
    page = '<base href="https://files.example/pkgs/"><a href="torch-1.0-py3-none-any.whl">x</a>'
    (entry,) = html_entries(page, PAGE)
    assert entry.url == "https://files.example/pkgs/torch-1.0-py3-none-any.whl"


def test_html_bare_metadata_attribute() -> None:
    (entry,) = html_entries('<a href="torch-1.0-py3-none-any.whl" data-core-metadata>x</a>', PAGE)
    assert entry.has_metadata


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/vnd.pypi.simple.v1+json", "json"),
        ("application/vnd.pypi.simple.v1+html", "html"),
        ("text/html; charset=utf-8", "html"),
        ("text/plain", None),
        ("application/json", None),
        ("", None),
    ],
)
def test_page_kind(content_type: str, kind: str | None) -> None:
    assert page_kind(content_type) == kind


def test_requires_python_tolerates_junk() -> None:
    assert parse_requires_python(">=3.8, <4") == SpecifierSet(">=3.8,<4")
    assert parse_requires_python("  ") is None
    assert parse_requires_python(None) is None
    assert parse_requires_python(">=3.6.*") is None


@pytest.mark.parametrize(
    "base",
    [
        "https://index.example/simple/torch/",
        "https://index.example/simple/torch",
        "http://127.0.0.1:8000/a/b/c/",
        "https://mirror.example/whl/cu121/torch_stable.html",
    ],
)
def test_links_resolve_exactly_as_urljoin_does(base: str) -> None:
    from urllib.parse import urljoin

    from torchlock.index.pages import _joiner

    hrefs = [
        "torch-2.1.2-cp310-cp310-linux_x86_64.whl#sha256=" + SHA,
        "../../files/torch/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl",
        "../../files/torch/other.whl",
        "./x/y.whl",
        "/packages/ab/cd/torch-2.1.2.tar.gz",
        "//files.example/packages/torch.whl",
        "https://files.example/p/torch.whl#sha256=" + SHA,
        "http://files.example/p/torch.whl",
        "cu121/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl",
        "../..",
        ".",
        "a/b/..",
        "x.whl?download=1",
        "../../../../../../too-far.whl",
        "?x.whl",
        "x.whl?",
        "//x.whl",
    ]
    join = _joiner(base)
    for href in hrefs + hrefs:  # the second pass answers from the resolved folders
        assert join(href) == urljoin(base, href), href


def test_requires_python_strings_are_parsed_once() -> None:
    first = parse_requires_python(">=3.8, !=3.9.1")
    assert first is parse_requires_python(">=3.8, !=3.9.1")
    assert parse_requires_python("not a specifier") is None
    assert parse_requires_python("  ") is None


def test_wheel_filter_judges_by_the_tag_triple() -> None:
    accept = wheel_filter([Tag("cp310", "cp310", "manylinux1_x86_64"), Tag("py3", "none", "any")])
    assert accept("torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl")
    assert accept("torch-2.1.3-cp310-cp310-manylinux1_x86_64.whl")  # the same triple again
    assert accept("six-1.16.0-py2.py3-none-any.whl")  # a compressed tag set
    assert accept("numpy-2.0-cp310-cp310-manylinux_2_17_x86_64.manylinux1_x86_64.whl")
    assert not accept("torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl")
    assert not accept("torch-2.1.2-cp310-cp310-win_amd64.whl")
    assert not accept("pkg-py3-none.whl")  # too few parts to hold a tag triple
    assert not accept("pkg.whl")
    assert accept("pkg-1.0.tar.gz")
    assert accept("pkg-1.0.zip")
    assert not accept("pkg-1.0.exe")
    # each part of the triple counts: the same interpreters or ABIs alone are not enough
    assert not accept("x-1.0-cp310-cp311-manylinux1_x86_64.whl")
    assert not accept("x-1.0-cp311-cp310-manylinux1_x86_64.whl")
