"""The torch ecosystem (xformers, torchao, ...) comes from the chosen variant's index.

The PyTorch index builds these per variant (src/torchlock/matrix/data/ecosystem.json).
When torch comes from a variant index, they are asked there first: a default-index build
compiled for another CUDA must never be locked beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.fixture_index import build_pypi_index, build_pytorch_index
from tests.support.index_server import IndexServer, serve

SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--python", "3.10", "--torch", "2.1.2"]
LINUX_CP310 = "cp310-cp310-linux_x86_64"


@pytest.fixture(scope="module")
def variant_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    tree = build_pytorch_index(tmp_path_factory.mktemp("variant-index"))
    for variant in ("cu121", "cu118"):
        index = f"whl/{variant}"
        # xformers without a local label, as the PyTorch index lists it
        tree.add_wheel(index, "xformers", "0.0.23", tags=LINUX_CP310, requires_dist=["torch"])
        # torchao with labels; the cu121 listing also carries a cu118 build (newer)
        tree.add_wheel(index, "torchao", f"0.6.0+{variant}", tags=LINUX_CP310)
    tree.add_wheel("whl/cu121", "torchao", "0.7.0+cu118", tags=LINUX_CP310)
    # torchtext is listed on the variant index, but with nothing for this Python
    tree.add_wheel("whl/cu121", "torchtext", "0.16.2+cu121", tags="cp38-cp38-linux_x86_64")
    tree.write()
    server = serve(tree.root, tree)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def default_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    tree = build_pypi_index(tmp_path_factory.mktemp("default-index"))
    # the default index's newer xformers and torchtext, built against another torch and CUDA
    tree.add_wheel("simple", "xformers", "0.0.29", tags="cp310-cp310-manylinux1_x86_64")
    tree.add_wheel("simple", "torchtext", "0.18.0", tags="cp310-cp310-manylinux1_x86_64")
    # torchdata is routed too, but this variant index does not list it at all
    tree.add_wheel("simple", "torchdata", "0.7.1")
    tree.write()
    server = serve(tree.root, tree)
    yield server
    server.stop()


def _solve(
    capsys: pytest.CaptureFixture[str],
    variant_index: IndexServer,
    default_index: IndexServer,
    tmp_path: Path,
    *requirements: str,
) -> tuple[int, dict[str, Any], str]:
    argv = ["solve", *SELECT, "--variant", "cu121", "--torch-index", "pytorch", "--no-conda"]
    argv += ["--pytorch-index-url", f"{variant_index.url}/whl/{{variant}}"]
    argv += ["--index-url", default_index.index_url(), "--platform", "linux-64"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--json"]
    for requirement in requirements:
        argv += ["--with", requirement]
    code, out, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    pins = {}
    if code == 0:
        [target] = json.loads(out)["targets"]
        pins = {p["name"]: p for p in target["packages"]}
    return code, pins, err


def test_ecosystem_packages_come_from_the_variant_index(
    capsys: pytest.CaptureFixture[str],
    variant_index: IndexServer,
    default_index: IndexServer,
    tmp_path: Path,
) -> None:
    code, pins, err = _solve(
        capsys, variant_index, default_index, tmp_path, "xformers", "torchao", "torchdata"
    )
    assert code == 0, err
    cu121 = variant_index.index_url("whl/cu121")
    assert pins["torch"]["version"] == "2.1.2+cu121"
    # the variant index's own build, never the default index's newer one
    assert pins["xformers"]["version"] == "0.0.23"
    assert pins["xformers"]["index"] == cu121
    # a build labelled for another variant is never chosen, even when newer
    assert pins["torchao"]["version"] == "0.6.0+cu121"
    assert pins["torchao"]["index"] == cu121
    # a project the variant index does not list at all comes from the default index
    assert pins["torchdata"]["index"] == default_index.index_url()
    assert default_index.count("/simple/xformers/") == 0


def test_a_variant_index_without_a_fitting_build_is_an_error_not_a_fallback(
    capsys: pytest.CaptureFixture[str],
    variant_index: IndexServer,
    default_index: IndexServer,
    tmp_path: Path,
) -> None:
    code, _, err = _solve(capsys, variant_index, default_index, tmp_path, "torchtext")
    assert code == 7, err
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: torchtext has no file for this target (Python 3.10, ")
    assert line.endswith(f"on {variant_index.index_url('whl/cu121')}/torchtext/")
    assert default_index.count("/simple/torchtext/") == 0
