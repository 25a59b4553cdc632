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
from torchlock.index.metadata import parse_metadata, read_wheel_metadata

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
    meta = parse_metadata("Name: a\nSummary: one\n  two\n\tthree\nVersion: 1\n")
    assert meta.version == Version("1")


# The shape that lost pandas its dependencies: a multi-line License whose continuation
# lines look blank (spaces only). The header block goes on after them.
LICENSE_WITH_BLANK_LOOKING_LINES = (
    "Metadata-Version: 2.1\n"
    "Name: pandas\n"
    "Version: 2.3.3\n"
    "License: BSD 3-Clause License\n"
    "        \n"
    "        Copyright (c) 2008-2011, AQR Capital Management, LLC\n"
    "        \t\n"
    "        All rights reserved.\n"
    "Requires-Python: >=3.9\n"
    'Requires-Dist: numpy>=1.22.4; python_version < "3.11"\n'
    "Requires-Dist: python-dateutil>=2.8.2\n"
    "Requires-Dist: pytz>=2020.1\n"
    "Requires-Dist: tzdata>=2022.7\n"
    "Provides-Extra: test\n"
    'Requires-Dist: pytest>=7.3.2; extra == "test"\n'
    "\n"
    "# pandas\n"
    "Requires-Dist: in-the-description\n"
)


def test_blank_looking_continuation_lines_do_not_end_the_headers() -> None:
    meta = parse_metadata(LICENSE_WITH_BLANK_LOOKING_LINES)
    names = [r.name for r in meta.requires_dist]
    assert names == ["numpy", "python-dateutil", "pytz", "tzdata"]
    assert meta.requires_python == SpecifierSet(">=3.9")
    assert meta.provides_extra == frozenset({"test"})
    assert [r.name for r in meta.requirements_of_extras(frozenset({"test"}))] == ["pytest"]


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5"])
def test_every_metadata_version(version: str) -> None:
    text = (
        f"Metadata-Version: {version}\nName: a\nVersion: 1\n"
        "Requires-Dist: b>=1\nDynamic: Requires-Dist\nDescription: one\n        two\n"
    )
    meta = parse_metadata(text)
    assert meta.metadata_version == version
    assert [r.name for r in meta.requires_dist] == ["b"]
    assert meta.dynamic == frozenset({"requires-dist"})


def test_folded_requires_dist_and_description_in_the_body() -> None:
    text = (
        "Metadata-Version: 2.4\nName: a\nVersion: 1\n"
        'Requires-Dist: b>=1;\n python_version >= "3.8"\n'
        "Description-Content-Type: text/markdown\n\n"
        "Name: not-me\nRequires-Dist: not-a-dependency\n"
    )
    meta = parse_metadata(text)
    (b,) = meta.requires_dist
    assert b.name == "b"
    assert b.marker == Marker('python_version >= "3.8"')


def test_an_extra_that_requires_its_own_other_extras() -> None:
    text = (
        "Metadata-Version: 2.1\nName: a\nVersion: 1\n"
        "Provides-Extra: all\nProvides-Extra: gpu\n"
        'Requires-Dist: a[gpu]; extra == "all"\n'
        'Requires-Dist: cupy; extra == "gpu" and sys_platform == "linux"\n'
    )
    meta = parse_metadata(text)
    (own,) = meta.requirements_of_extras(frozenset({"all"}))
    assert own.name == "a"
    assert own.extras == {"gpu"}
    # a marker that is more than the extra is parsed at once and keeps its marker
    (cupy,) = meta.requires_dist
    assert cupy.marker == Marker('extra == "gpu" and sys_platform == "linux"')


def test_unknown_headers_and_undecodable_fields_are_ignored() -> None:
    text = "Name: a\nVersion: 1\nX-Whatever: yes\nSummary: \udcff\nRequires-Dist: b\n"
    assert [r.name for r in parse_metadata(text).requires_dist] == ["b"]


def test_two_names_are_refused() -> None:
    with pytest.raises(PackageIndexError, match="Name could not be read"):
        parse_metadata("Name: a\nName: b\nVersion: 1\n")


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
