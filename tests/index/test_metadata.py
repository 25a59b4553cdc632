"""METADATA headers into CoreMetadata, and METADATA out of wheels (whole or by ranges)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.support.wheels import build_wheel
from torchlock.errors import PackageIndexError
from torchlock.index.lazyzip import RangeFile, parse_content_range
from torchlock.index.metadata import parse_headers, parse_metadata, read_wheel_metadata

METADATA = """Metadata-Version: 2.1
Name: Torch_Vision
Version: 0.16.2+cu121
Summary: image and video datasets and models
 for torch deep learning
Requires-Python: >=3.8
Provides-Extra: Scipy_Extra
Requires-Dist: numpy
Requires-Dist: torch ==2.1.2
Requires-Dist: pillow !=8.3.*,>=5.3.0
Requires-Dist: scipy ; extra == 'scipy-extra'
Requires-Dist: nvidia-cublas-cu12==12.1.3.1; platform_system == "Linux" and
\tplatform_machine == "x86_64"
Description-Content-Type: text/markdown

Requires-Dist: not-a-header-anymore
"""


def test_parse_metadata() -> None:
    meta = parse_metadata(METADATA)
    assert meta.name == "torch-vision"
    assert meta.version == Version("0.16.2+cu121")
    assert meta.requires_python == SpecifierSet(">=3.8")
    assert meta.provides_extra == frozenset({"scipy-extra"})
    names = [r.name for r in meta.requires_dist]
    assert names == ["numpy", "torch", "pillow", "nvidia-cublas-cu12"]
    cublas = meta.requires_dist[3]
    assert cublas.marker == Marker('platform_system == "Linux" and platform_machine == "x86_64"')
    assert str(meta.requires_dist[2].specifier) == "!=8.3.*,>=5.3.0"
    # a line whose marker is the extra alone waits, unparsed, for that extra
    assert [extra for extra, _ in meta.extra_requires] == ["scipy-extra"]
    assert meta.requirements_of_extras(frozenset()) == []
    (scipy,) = meta.requirements_of_extras(frozenset({"scipy-extra"}))
    assert scipy.name == "scipy"
    assert scipy.marker == Marker("extra == 'scipy-extra'")


@pytest.mark.parametrize(
    ("line", "extra"),
    [
        ('a; extra == "tests"', "tests"),
        ("a>=1 ; extra=='Doc_Build'", "doc-build"),  # normalised, as PEP 685 says
        ('a; extra == "x" or python_version < "3.8"', None),  # more than the extra
        ('a; python_version < "3.8" and extra == "x"', None),
        ('a; "x" == extra', None),  # unusual order: parsed at once, still right
        ("a", None),
    ],
)
def test_which_lines_wait_for_their_extra(line: str, extra: str | None) -> None:
    meta = parse_metadata(f"Name: p\nVersion: 1\nRequires-Dist: {line}\n")
    assert [e for e, _ in meta.extra_requires] == ([extra] if extra else [])
    assert len(meta.requires_dist) == (0 if extra else 1)


def test_a_broken_line_of_an_extra_fails_when_that_extra_is_asked_for() -> None:
    meta = parse_metadata('Name: p\nVersion: 1\nRequires-Dist: a b c; extra == "x"\n')
    assert meta.requirements_of_extras(frozenset({"y"})) == []
    with pytest.raises(PackageIndexError, match="invalid core metadata of p 1") as caught:
        meta.requirements_of_extras(frozenset({"x"}))
    assert "a b c" in str(caught.value)


def test_continuation_lines_fold() -> None:
    headers = dict(parse_headers("Name: a\nSummary: one\n  two\n\tthree\nVersion: 1\n"))
    assert headers["summary"] == "one two three"


def test_crlf_and_junk_requires_python() -> None:
    meta = parse_metadata("Name: a\r\nVersion: 1.0\r\nRequires-Python: >=3.6.*\r\n\r\n")
    assert meta.requires_python is None
    assert meta.requires_dist == ()


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("Version: 1\n", "no Name header"),
        ("Name: a\n", "no Version header"),
        ("Name: a\nVersion: one\n", "not a PEP 440 version"),
        ("Name: a\nVersion: 1\nRequires-Dist: b >=< 2\n", "Requires-Dist 'b >=< 2'"),
    ],
)
def test_invalid_metadata(text: str, evidence: str) -> None:
    with pytest.raises(PackageIndexError) as caught:
        parse_metadata(text, source="a-1-py3-none-any.whl")
    message = str(caught.value)
    assert message.startswith("invalid core metadata in a-1-py3-none-any.whl")
    assert evidence in message


def test_read_wheel_metadata(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo-pkg", "1.2", requires_dist=["idna>=3"])
    with wheel.open("rb") as handle:
        text = read_wheel_metadata(handle, source=wheel.name, project="demo-pkg")
    assert parse_metadata(text).requires_dist[0].name == "idna"


def test_read_wheel_metadata_not_a_zip() -> None:
    with pytest.raises(PackageIndexError, match=r"cannot read wheel broken\.whl"):
        read_wheel_metadata(io.BytesIO(b"PK but not really"), source="broken.whl")


def test_range_file_reads_metadata_with_few_fetches(tmp_path: Path) -> None:
    noise = random.Random(0)
    big = {f"demo/data{i}.bin": noise.randbytes(100_000) for i in range(8)}  # 800 kB
    data = build_wheel(tmp_path, "demo", "1.0", extra_files=big).read_bytes()
    fetches: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        fetches.append((start, end))
        return data[start : end + 1]

    tail = 4096
    remote = RangeFile(len(data), fetch, {len(data) - tail: data[-tail:]})
    text = read_wheel_metadata(remote, source="demo.whl", project="demo")  # type: ignore[arg-type]
    assert parse_metadata(text).name == "demo"
    assert len(fetches) <= 2
    assert sum(end - start + 1 for start, end in fetches) < len(data) // 4


def test_parse_content_range() -> None:
    assert parse_content_range("bytes 10-19/100") == (10, 19, 100)
    assert parse_content_range("bytes */100") is None
    assert parse_content_range(None) is None
    assert parse_content_range("items 1-2/3") is None
