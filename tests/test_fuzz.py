"""Fuzzing the readers of what strangers write: index pages (PEP 691 JSON, PEP 503 HTML),
core metadata and locks. Whatever the bytes, a reader returns a value or raises one of
torchlock's errors (a clear line, an exit code), never another exception; and what it
returns holds only plain file names and remote http(s) URLs.

The budget is fixed (examples per test, no deadline) and the seed derandomized, so the
suite takes the same few seconds on every run and machine.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchlock.artifacts import is_safe_filename
from torchlock.errors import TorchlockError
from torchlock.index.metadata import parse_metadata
from torchlock.index.pages import MalformedPage, parse_page
from torchlock.lockfiles import pylock

BUDGET = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
PAGE = "https://index.example/simple/victim/"

# pieces of names, URLs and markup that have broken parsers, mixed with anything at all
_names = st.sampled_from(
    [
        "victim-1.0-py3-none-any.whl",
        "victim-1.0.tar.gz",
        "victim-2.0-1/../../x-py3-none-any.whl",
        "victim-2.0-py3-none-any.whl%2F..%2F..%2Fx.whl",
        "..",
        "/etc/passwd",
        "C:\\x.whl",
        "victim-1.0-py3-none-any.whl\x00.txt",
        "",
    ]
) | st.text(max_size=40)
_urls = st.sampled_from(
    [
        "victim-1.0-py3-none-any.whl",
        "file:///etc/passwd",
        "https://files.example/victim-1.0-py3-none-any.whl#sha256=" + "a" * 64,
        "//evil.example/x.whl",
        "javascript:alert(1)",
        "http://[::1/x.whl",
        "../../../victim-1.0-py3-none-any.whl",
    ]
) | st.text(max_size=60)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _check_artifacts(found: object) -> None:
    for artifact in found:  # type: ignore[attr-defined]
        assert is_safe_filename(artifact.filename)
        assert artifact.url.startswith(("https://", "http://")), artifact.url


@BUDGET
@given(
    files=st.lists(
        st.fixed_dictionaries(
            {"filename": _names, "url": _urls},
            optional={
                "hashes": st.dictionaries(st.sampled_from(["sha256", "md5", "x"]), _json_values),
                "requires-python": _json_values,
                "yanked": _json_values,
                "core-metadata": _json_values,
                "size": _json_values,
            },
        ),
        max_size=6,
    ),
    extra=_json_values,
)
def test_json_pages(files: list[dict[str, object]], extra: object) -> None:
    page = {"meta": {"api-version": "1.1"}, "name": "victim", "files": files, "x": extra}
    try:
        found = parse_page(
            json.dumps(page).encode(), kind="json", page_url=PAGE, project="victim", index=PAGE
        )
    except (MalformedPage, TorchlockError):
        return
    _check_artifacts(found)


@BUDGET
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_json_pages_from_raw_bytes(content: bytes) -> None:
    try:
        found = parse_page(content, kind="json", page_url=PAGE, project="victim", index=PAGE)
    except (MalformedPage, TorchlockError):
        return
    _check_artifacts(found)


@BUDGET
@given(
    anchors=st.lists(
        st.tuples(
            _urls,
            _names,
            st.sampled_from(
                [
                    "",
                    ' data-yanked=""',
                    ' data-requires-python="&gt;=3"',
                    " data-dist-info-metadata=true",
                ]
            ),
        ),
        max_size=6,
    ),
    base=st.sampled_from(
        ["", '<base href="file:///etc/">', '<base href="https://other.example/x/">']
    ),
    noise=st.text(max_size=80),
)
def test_html_pages(anchors: list[tuple[str, str, str]], base: str, noise: str) -> None:
    links = "".join(f'<a href="{href}"{attrs}>{text}</a>{noise}' for href, text, attrs in anchors)
    html = f"<!DOCTYPE html><html><head>{base}</head><body>{links}</body></html>"
    try:
        found = parse_page(html, kind="html", page_url=PAGE, project="victim", index=PAGE)
    except (MalformedPage, TorchlockError):
        return
    _check_artifacts(found)


_fields = st.sampled_from(
    [
        "Metadata-Version: 2.1",
        "Metadata-Version: 9.9",
        "Name: victim",
        "Version: 1.0",
        "Version: not a version",
        "Requires-Dist: six>=1.5",
        'Requires-Dist: pkg[extra]; extra == "x"',
        "Requires-Dist: ; ;",
        "Requires-Python: >=3.8",
        "Requires-Python: ???",
        "Provides-Extra: x",
        "Dynamic: requires-dist",
        "License: a\n        \n        b",
        " folded continuation",
        "",
    ]
) | st.text(max_size=40)


@BUDGET
@given(lines=st.lists(_fields, max_size=12), body=st.text(max_size=60))
def test_core_metadata(lines: list[str], body: str) -> None:
    text = "\n".join(lines) + "\n\n" + body
    try:
        meta = parse_metadata(text)
    except TorchlockError:
        return
    assert meta.name
    assert str(meta.version)


@pytest.fixture(scope="module")
def lock_text() -> str:
    from tests.lockfiles.sample import sample_lock

    return pylock.render(sample_lock())


@BUDGET
@given(data=st.data())
def test_locks_edited_anywhere(lock_text: str, data: st.DataObject) -> None:
    lines = lock_text.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    replacement = data.draw(
        st.sampled_from(
            [
                'name = "../../x"',
                'url = "file:///etc/passwd"',
                "hashes = {}",
                'sha256 = "zz"',
                "[[packages]]",
                "[",
                '"unterminated',
                "",
            ]
        )
        | st.text(max_size=30)
    )
    lines[index] = replacement
    try:
        lock = pylock.parse("\n".join(lines) + "\n", "pylock.toml")
    except TorchlockError:
        return
    for package in lock.packages:
        for file in (*package.wheels, *([package.sdist] if package.sdist else [])):
            assert is_safe_filename(file.name)
