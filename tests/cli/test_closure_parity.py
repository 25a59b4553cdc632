"""The closure ``torchlock solve`` locks equals the one ``uv pip compile`` finds.

uv is the reference for a dependency closure: both resolve the same requirements against
the same loopback index for the same target, and must pin the same names and versions.
The index holds the metadata shapes real projects publish and that a hand-written reader
once got wrong (a multi-line License with blank-looking continuation lines lost pandas its
dependencies; jupyterlab lost 84 of its 116), beside the torch family of the PyPI fixture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.fixture_index import FixtureIndex, build_pypi_index
from tests.support.index_server import IndexServer, serve

PYTHON = "3.10"
TRIPLE = {"torch": "2.1.2", "torchvision": "0.16.2", "torchaudio": "2.1.2"}
SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--python", PYTHON, "--torch", "2.1.2"]

# pandas' own METADATA layout: License spans lines, two of them spaces only.
DATAFRAME = """Metadata-Version: 2.1
Name: dataframe
Version: 2.3.3
Summary: Powerful data structures
License: BSD 3-Clause License
       \x20
        Copyright (c) 2008-2011, AQR Capital Management, LLC
        \t
        All rights reserved.
Requires-Python: >=3.9
Requires-Dist: numpy>=1.22.4; python_version < "3.11"
Requires-Dist: python-dateutil>=2.8.2
Requires-Dist: tz>=2020.1
Requires-Dist: tzdata>=2022.7
Provides-Extra: test
Requires-Dist: hypothesis>=6.46.1; extra == "test"
Description-Content-Type: text/markdown

# dataframe

Requires-Dist: from-the-description
"""

# Metadata-Version 2.4 with License-Expression, a folded Requires-Dist, an extra that asks
# for the project's own other extras, and markers that keep a dependency off this target.
NOTEBOOK = """Metadata-Version: 2.4
Name: notebook-lab
Version: 4.2.0
License-Expression: BSD-3-Clause
License-File: LICENSE
Requires-Python: >=3.8
Requires-Dist: server-core>=2.0;
 python_version >= "3.8"
Requires-Dist: winpty; sys_platform == "win32"
Provides-Extra: all
Provides-Extra: docs
Provides-Extra: gpu
Requires-Dist: notebook-lab[docs,gpu]; extra == "all"
Requires-Dist: doc-theme; extra == "docs"
Requires-Dist: gpu-kernels; extra == "gpu" and platform_machine == "x86_64"
Dynamic: license-file

A notebook.
"""


def _uv() -> str:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed")
    return uv


@pytest.fixture(scope="module")
def shaped_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    tree: FixtureIndex = build_pypi_index(tmp_path_factory.mktemp("shaped-index"))
    tree.add_wheel("simple", "dataframe", "2.3.3", metadata_text=DATAFRAME)
    tree.add_wheel("simple", "python-dateutil", "2.9.0", requires_dist=["six>=1.5"])
    tree.add_wheel("simple", "six", "1.16.0")
    tree.add_wheel("simple", "tz", "2024.2")
    tree.add_wheel("simple", "tzdata", "2024.2")
    tree.add_wheel("simple", "hypothesis", "6.100.0")
    tree.add_wheel("simple", "from-the-description", "1.0")
    tree.add_wheel("simple", "notebook-lab", "4.2.0", metadata_text=NOTEBOOK)
    tree.add_wheel("simple", "server-core", "2.1.0")
    tree.add_wheel("simple", "winpty", "2.0.0")
    tree.add_wheel("simple", "doc-theme", "1.0")
    tree.add_wheel("simple", "gpu-kernels", "0.3")
    # sdist-only projects: one PEP 643-static PKG-INFO, one only its backend can answer for
    tree.add_sdist("simple", "static-sdist", "1.0", requires_dist=["six"])
    tree.add_sdist("simple", "dynamic-sdist", "3.1", static=False, built_requires_dist=["tz>=2020"])
    tree.add_sdist(
        "simple", "needs-torch-to-build", "2.6", static=False, backend_prelude="import torch"
    )
    tree.write()
    server = serve(tree.root, tree)
    yield server
    server.stop()


def _torchlock_pins(
    capsys: pytest.CaptureFixture[str], index: str, cache: Path, requirements: list[str]
) -> dict[str, str]:
    argv = ["solve", *SELECT, "--variant", "cu121", "--no-conda", "--json"]
    argv += ["--index-url", index, "--cache-dir", str(cache), "--platform", "linux-64"]
    for requirement in requirements:
        argv += ["--with", requirement]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    [target] = json.loads(out)["targets"]
    return {p["name"]: p["version"] for p in target["packages"]}


def _uv_pins(index: str, tmp_path: Path, requirements: list[str]) -> dict[str, str]:
    source = tmp_path / "requirements.in"
    family = [f"{name}=={version}" for name, version in TRIPLE.items()]
    source.write_text("\n".join([*family, *requirements]) + "\n")
    argv = [_uv(), "pip", "compile", str(source), "--index-url", index, "--no-header"]
    argv += ["--python-version", PYTHON, "--python-platform", "x86_64-manylinux_2_17"]
    argv += ["--no-annotate", "--quiet", "--cache-dir", str(tmp_path / "uv-cache")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    pins = {}
    for line in done.stdout.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[name] = version
    return pins


@pytest.mark.parametrize(
    "requirements",
    [
        pytest.param(["dataframe==2.3.3"], id="multi-line-license"),
        pytest.param(["dataframe[test]"], id="an-extra"),
        pytest.param(["notebook-lab[all]"], id="self-referencing-extras"),
        pytest.param(["notebook-lab", "dataframe"], id="both"),
        pytest.param(["static-sdist", "dynamic-sdist"], id="sdist-only"),
    ],
)
def test_the_closure_is_uvs(
    capsys: pytest.CaptureFixture[str],
    shaped_index: IndexServer,
    tmp_path: Path,
    requirements: list[str],
) -> None:
    index = shaped_index.index_url()
    ours = _torchlock_pins(capsys, index, tmp_path / "cache", requirements)
    theirs = _uv_pins(index, tmp_path, requirements)
    assert ours == theirs


def test_the_dependencies_after_a_multi_line_license_are_locked(
    capsys: pytest.CaptureFixture[str], shaped_index: IndexServer, tmp_path: Path
) -> None:
    pins = _torchlock_pins(capsys, shaped_index.index_url(), tmp_path / "cache", ["dataframe"])
    assert {"python-dateutil", "six", "tz", "tzdata", "numpy"} <= set(pins)
    assert "from-the-description" not in pins  # the body is the description, not headers
    assert "hypothesis" not in pins  # an extra nobody asked for


def _solve(
    capsys: pytest.CaptureFixture[str], index: str, cache: Path, *extra: str
) -> tuple[int, str]:
    argv = ["solve", *SELECT, "--variant", "cu121", "--no-conda", "--platform", "linux-64"]
    argv += ["--index-url", index, "--cache-dir", str(cache), *extra]
    code, _, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    return code, err


def test_no_build_locks_a_static_sdist_and_refuses_a_dynamic_one(
    capsys: pytest.CaptureFixture[str], shaped_index: IndexServer, tmp_path: Path
) -> None:
    index = shaped_index.index_url()
    code, err = _solve(capsys, index, tmp_path / "c1", "--no-build", "--with", "static-sdist")
    assert code == 0, err
    code, err = _solve(capsys, index, tmp_path / "c2", "--no-build", "--with", "dynamic-sdist")
    assert code == 6
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line == "error: dynamic-sdist 3.1 must be built to learn its dependencies"


def test_an_sdist_that_needs_torch_to_build_is_named_with_what_to_do(
    capsys: pytest.CaptureFixture[str], shaped_index: IndexServer, tmp_path: Path
) -> None:
    code, err = _solve(
        capsys, shaped_index.index_url(), tmp_path / "c", "--with", "needs-torch-to-build"
    )
    assert code == 8
    assert err.startswith(
        "error: needs-torch-to-build 2.6 needs torch installed to build, and only its sdist "
        "fits the target"
    )
    hint = "hint: build it against the locked torch with --build-with-torch needs-torch-to-build"
    assert hint in err
