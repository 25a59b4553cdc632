"""The mirror catalog: sourced, well-formed, and queried by name and variant."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from tests.support.hosts import REGISTRY_HOSTS
from torchlock.errors import DataError, InputError
from torchlock.matrix.mirrors import (
    IndexLayout,
    MirrorCatalog,
    build_catalog,
    load_catalog,
    mirror_by_name,
    official_pytorch_index,
    pytorch_index_for,
)
from torchlock.matrix.model import Variant


def _raw() -> Any:
    text = resources.files("torchlock.matrix").joinpath("data/mirrors.json").read_text("utf-8")
    return json.loads(text)


@pytest.fixture(scope="module")
def catalog() -> MirrorCatalog:
    return load_catalog()


def test_every_mirror_cites_sources(catalog: MirrorCatalog) -> None:
    assert catalog.mirrors
    for mirror in catalog.mirrors:
        assert mirror.sources, mirror.name
        assert all(s.startswith("https://") for s in mirror.sources)
        for index in (mirror.pypi, mirror.pytorch):
            if index is not None:
                assert index.source.startswith("https://"), mirror.name


def test_every_layout_is_valid(catalog: MirrorCatalog) -> None:
    for mirror in catalog.mirrors:
        if mirror.pypi is not None:
            assert mirror.pypi.layout is IndexLayout.SIMPLE
        if mirror.pytorch is not None:
            assert isinstance(mirror.pytorch.layout, IndexLayout)
            assert mirror.pytorch.url_template.count("{variant}") == 1
    assert catalog.official_pytorch.layout is IndexLayout.SIMPLE


def test_names_are_sorted_and_unique(catalog: MirrorCatalog) -> None:
    assert list(catalog.names) == sorted(set(catalog.names))


def test_the_json_names_no_pypi_host() -> None:
    text = resources.files("torchlock.matrix").joinpath("data/mirrors.json").read_text("utf-8")
    assert not REGISTRY_HOSTS.search(text)


def test_unknown_name_lists_the_known_ones(catalog: MirrorCatalog) -> None:
    with pytest.raises(InputError) as info:
        mirror_by_name("nosuchmirror", catalog)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "nosuchmirror" in message.splitlines()[0]
    for name in catalog.names:
        assert name in message


def test_lookup_ignores_case_and_spaces(catalog: MirrorCatalog) -> None:
    assert mirror_by_name(" TUNA ", catalog).name == "tuna"


def test_no_pytorch_index_on_a_pypi_only_mirror(catalog: MirrorCatalog) -> None:
    tuna = mirror_by_name("tuna", catalog)
    assert tuna.pytorch is None
    assert pytorch_index_for(tuna, "cu121") is None


def test_pytorch_index_substitutes_the_variant(catalog: MirrorCatalog) -> None:
    aliyun = pytorch_index_for(mirror_by_name("aliyun", catalog), Variant.parse("cu121"))
    assert aliyun is not None
    assert aliyun.url == "https://mirrors.aliyun.com/pytorch-wheels/cu121/"
    assert aliyun.layout is IndexLayout.FLAT
    nju = pytorch_index_for(mirror_by_name("nju", catalog), "cpu")
    assert nju is not None
    assert nju.url.endswith("/pytorch/whl/cpu/")
    assert nju.layout is IndexLayout.SIMPLE


def test_enumerated_variants_limit_what_a_mirror_carries() -> None:
    data = _raw()
    data["mirrors"] = [
        {
            "name": "example",
            "title": "Example",
            "country": "XX",
            "pypi": None,
            "pytorch": {
                "url_template": "https://mirror.example/whl/{variant}/",
                "layout": "flat",
                "variants": ["cpu", "cu118"],
                "source": "https://mirror.example/help",
            },
            "sources": ["https://mirror.example/help"],
        }
    ]
    example = mirror_by_name("example", build_catalog(data))
    found = pytorch_index_for(example, "cu118")
    assert found is not None
    assert found.url == "https://mirror.example/whl/cu118/"
    assert pytorch_index_for(example, "cu121") is None


def test_malformed_variant_is_an_input_error(catalog: MirrorCatalog) -> None:
    with pytest.raises(InputError):
        pytorch_index_for(mirror_by_name("aliyun", catalog), "cu121/../x")


def test_official_index() -> None:
    index = official_pytorch_index("cu128")
    assert index.url == "https://download.pytorch.org/whl/cu128"
    assert index.layout is IndexLayout.SIMPLE


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["mirrors"][0].update(sources=[]), "sources"),
        (lambda d: d["mirrors"][0]["pytorch"].update(layout="tree"), "layout"),
        (lambda d: d["mirrors"][0]["pytorch"].update(url_template="https://x/"), "{variant}"),
        (lambda d: d["mirrors"].append(copy.deepcopy(d["mirrors"][0])), "duplicate"),
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d["mirrors"][0]["pypi"].update(url="http://insecure/simple"), "https"),
    ],
)
def test_broken_data_is_a_data_error(edit: Any, fragment: str) -> None:
    data = _raw()
    assert data["mirrors"][0]["pytorch"] is not None  # the edits above assume it
    edit(data)
    with pytest.raises(DataError) as info:
        build_catalog(data)
    assert fragment in str(info.value)
    assert str(info.value).startswith("mirrors.json: $")
