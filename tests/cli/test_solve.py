"""``torchlock solve`` end to end: the real CLI against the loopback fixture indexes.

The default index is the PyPI-like fixture (``--index-url``); the PyTorch-like fixture
stands in for the PyTorch index through ``--pytorch-index-url URL`` (or
``$TORCHLOCK_PYTORCH_INDEX_URL``), ``{variant}`` in it replaced by the build variant.

Every run passes ``--driver``, ``--gpu-cc``, ``--python``, ``--platform`` and
``--cache-dir`` explicitly and reads no pip configuration of this machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.lockhelp import PIP_VARIABLES
from tests.support.cli import run_cli
from tests.support.fixture_index import FixtureIndex, build_pypi_index
from tests.support.index_server import TLS_CA, Fault, IndexServer, serve
from tests.support.wheels import build_wheel

# torch 2.1.2 cu121 is what the real PyPI serves for Linux x86_64: with --torch-index auto
# the torch family comes from the default index, as plain 2.1.2 wheels.
SELECT = [
    "--driver",
    "580.65.06",
    "--gpu-cc",
    "8.0",
    "--python",
    "3.10",
    "--torch",
    "2.1.2",
]
CU121 = [*SELECT, "--variant", "cu121"]
TRIPLE = {"torch": "2.1.2", "torchvision": "0.16.2", "torchaudio": "2.1.2"}
NVIDIA_CU12 = {
    "nvidia-cuda-runtime-cu12": "12.1.105",
    "nvidia-cublas-cu12": "12.1.3.1",
    "nvidia-cudnn-cu12": "8.9.2.26",
}
COMMON = {"filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No pip configuration, proxy, netrc or torchlock setting of this machine."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in PIP_VARIABLES:  # pip's, the proxies and torchlock's own (lockhelp)
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def solve(
    capsys: pytest.CaptureFixture[str],
    index: str | None,
    cache: Path,
    *args: str,
    platforms: tuple[str, ...] = ("linux-64",),
) -> tuple[int, str, str]:
    argv = ["solve", *args, "--cache-dir", str(cache)]
    if index is not None:
        argv += ["--index-url", index]
    for platform in platforms:
        argv += ["--platform", platform]
    return run_cli(argv, capsys)


def solve_json(
    capsys: pytest.CaptureFixture[str],
    index: str | None,
    cache: Path,
    *args: str,
    platforms: tuple[str, ...] = ("linux-64",),
) -> dict[str, Any]:
    code, out, err = solve(capsys, index, cache, *args, "--json", platforms=platforms)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def packages(target: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in target["packages"]}


def versions(target: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["version"] for p in target["packages"]}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def wheelhouse(folder: Path, *sources: tuple[IndexServer, str]) -> Path:
    """A find-links folder holding copies of the fixture files whose names match a pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    for server, pattern in sources:
        assert server.tree is not None
        found = sorted(server.tree.files.glob(pattern))
        assert found, pattern
        for path in found:
            shutil.copy(path, folder / path.name)
    return folder


def torch_family_files(version_suffix: str, python: str = "cp310") -> list[str]:
    """Glob patterns for one build of the 2.1.2 triple (suffix "" or "+cu121")."""
    return [
        f"{name}-{version}{version_suffix}-{python}-*.whl"
        for name, version in (
            ("torch", "2.1.2"),
            ("torchvision", "0.16.2"),
            ("torchaudio", "2.1.2"),
        )
    ]


# --- the closure on linux-64 -----------------------------------------------------------------


def test_linux_closure_pins_the_triple_with_hashes_edges_and_index(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    doc = solve_json(capsys, index, tmp_path / "cache", *CU121)

    assert doc["selection"]["recommended"]["variant"] == "cu121"
    [target] = doc["targets"]
    assert target["platform"] == "linux-64"
    assert target["python"] == "3.10"
    assert target["build"]["torch"] == "2.1.2"
    assert target["build"]["variant"] == "cu121"
    assert target["torch_index"] == index
    assert target["default_index"] == index
    pins = packages(target)
    found = versions(target)
    for name, version in {**TRIPLE, **NVIDIA_CU12, "triton": "2.1.0"}.items():
        assert found.get(name) == version, name
    assert set(found) >= COMMON
    assert [p["name"] for p in target["packages"]] == sorted(found)

    # edges
    for name in TRIPLE:
        assert "<root>" in pins[name]["required_by"], name
    assert "torch" in pins["triton"]["required_by"]
    assert "torch" in pins["nvidia-cuda-runtime-cu12"]["required_by"]
    assert set(pins["nvidia-cublas-cu12"]["required_by"]) == {"nvidia-cudnn-cu12", "torch"}
    assert "torchvision" in pins["torch"]["required_by"]
    assert {"numpy", "pillow", "torch"} <= set(pins["torchvision"]["dependencies"])
    assert {*NVIDIA_CU12, "triton", *COMMON} <= set(pins["torch"]["dependencies"])
    assert pins["torch"]["requires_python"] == ">=3.8.0"

    # every project from the one fixture index, every file hashed like the served bytes
    assert {p["index"] for p in target["packages"]} == {index}
    for pin in target["packages"]:
        assert pin["files"], pin["name"]
        for entry in pin["files"]:
            assert HEX64.match(entry["sha256"]), entry
            assert entry["url"].startswith(pypi_index.url + "/"), entry
            with urllib.request.urlopen(entry["url"]) as response:
                body = response.read()
            assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["filename"]
            assert entry["size"] == len(body)
    [torch_file] = pins["torch"]["files"]
    assert torch_file["filename"] == "torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl"
    [triton_file] = pins["triton"]["files"]
    assert "cp310" in triton_file["filename"]
    assert "x86_64" in triton_file["filename"]


def test_text_output_names_the_build_and_the_pins(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a table wide enough not to cut the names
    code, out, err = solve(capsys, pypi_index.index_url(), tmp_path / "cache", *CU121)
    assert code == 0, err
    assert "linux-64" in out
    assert "torch 2.1.2 (cu121)" in out
    assert "nvidia-cuda-runtime-cu12" in out
    assert "triton" in out


# --- other targets ---------------------------------------------------------------------------


def test_windows_target_drops_the_linux_only_dependencies(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    # The default index serves the CPU build of torch 2.1.2 on Windows; its torch wheels
    # (like the Linux ones) list nvidia-* and triton behind a Linux x86_64 marker.
    index = pypi_index.index_url()
    doc = solve_json(
        capsys, index, tmp_path / "cache", *SELECT, "--variant", "cpu", platforms=("win-64",)
    )
    [target] = doc["targets"]
    assert target["platform"] == "win-64"
    assert target["build"]["variant"] == "cpu"
    assert target["torch_index"] == index
    found = versions(target)
    for name, version in TRIPLE.items():
        assert found.get(name) == version, name
    assert set(found) >= COMMON
    assert not [n for n in found if n.startswith("nvidia-") or n == "triton"], found
    pins = packages(target)
    assert not [d for d in pins["torch"]["dependencies"] if d.startswith("nvidia-")]
    assert "triton" not in pins["torch"]["dependencies"]
    assert pins["torch"]["files"][0]["filename"] == "torch-2.1.2-cp310-cp310-win_amd64.whl"
    for pin in target["packages"]:
        for entry in pin["files"]:
            assert "linux" not in entry["filename"], entry["filename"]
    assert pypi_index.count("/simple/triton/") == 0
    assert not [r for r in pypi_index.requests() if r.path.startswith("/simple/nvidia-")]


def test_two_platforms_give_two_targets(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    # linux-64 takes the plain build (the default index serves cu121 there); win-64 needs
    # the +cu121 build of the PyTorch index. A wheelhouse holding both builds of the
    # triple stands in for both indexes for the torch family.
    folder = wheelhouse(
        tmp_path / "wheels",
        *((pypi_index, p) for p in torch_family_files("")),
        *((pytorch_index, p) for p in torch_family_files("+cu121")),
    )
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *CU121,
        "--find-links",
        str(folder),
        platforms=("linux-64", "win-64"),
    )
    linux, windows = doc["targets"]
    assert (linux["platform"], windows["platform"]) == ("linux-64", "win-64")
    assert linux["build"]["variant"] == windows["build"]["variant"] == "cu121"
    assert versions(linux)["torch"] == "2.1.2"
    assert versions(windows)["torch"] == "2.1.2+cu121"
    assert versions(windows)["torchvision"] == "0.16.2+cu121"
    assert set(NVIDIA_CU12) <= set(versions(linux))
    assert "triton" in versions(linux)
    assert not [n for n in versions(windows) if n.startswith("nvidia-") or n == "triton"]
    linux_torch = packages(linux)["torch"]["files"][0]["filename"]
    windows_torch = packages(windows)["torch"]["files"][0]["filename"]
    assert linux_torch == "torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl"
    assert windows_torch == "torch-2.1.2+cu121-cp310-cp310-win_amd64.whl"
    assert packages(linux)["torch"]["index"] == folder.resolve().as_uri()
    assert packages(linux)["numpy"]["index"] == pypi_index.index_url()
    assert pytorch_index.count() == 0
    # the text output names the folder torch came from, not an index it never asked
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "--find-links", str(folder)
    )
    assert code == 0, err
    banner = out.split("┏")[0].replace("\n", "")  # the line above the table, unwrapped
    assert banner.startswith("linux-64 · Python 3.10 · torch 2.1.2 (cu121) from ")
    assert banner.strip().endswith(f"from {folder.resolve().as_uri()}")


# --- extra requirements ----------------------------------------------------------------------


def test_with_adds_to_the_closure(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    doc = solve_json(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "--with", "requests>=2.31"
    )
    [target] = doc["targets"]
    pins = packages(target)
    assert pins["requests"]["version"] == "2.32.3"  # 2.32.0 is yanked
    assert pins["requests"]["required_by"] == ["<root>"]
    for name in ("charset-normalizer", "idna", "urllib3", "certifi"):
        assert pins[name]["required_by"] == ["requests"], name
    assert "pysocks" not in pins  # behind extra == "socks"
    assert versions(target)["torch"] == "2.1.2"


def test_an_extra_asked_for_brings_its_requirements(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    # requests' METADATA has PySocks behind `extra == "socks"` alone (read only when asked);
    # the fixture index has no PySocks, so asking for the extra fails naming it
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "--with", "requests[socks]"
    )
    assert (code, out) == (7, "")
    assert "pysocks is not on the index" in err
    assert "requests[socks]" in err


def test_requirements_file_adds_to_the_closure(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# extra packages\n\nrequests>=2.31,<2.32  # the older line\nnumpy<2\n",
        encoding="utf-8",
    )
    doc = solve_json(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "-r", str(requirements)
    )
    [target] = doc["targets"]
    pins = packages(target)
    assert pins["requests"]["version"] == "2.31.0"
    assert pins["requests"]["required_by"] == ["<root>"]
    assert pins["numpy"]["version"] == "1.26.4"
    assert set(pins["numpy"]["required_by"]) == {"<root>", "torchvision"}
    assert {"urllib3", "idna", "certifi", "charset-normalizer"} <= set(pins)


def test_malformed_with_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "--with", "requests[[>=2"
    )
    assert code == 2
    assert out == ""
    [line] = error_lines(err)
    assert "requests[[>=2" in line
    assert "--with" in line
    assert "Traceback" not in err
    assert pypi_index.count() == 0


def test_missing_requirements_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.txt"
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "-r", str(missing)
    )
    assert code == 2
    assert out == ""
    [line] = error_lines(err)
    assert "nope.txt" in line
    assert "Traceback" not in err
    assert pypi_index.count() == 0


def test_option_line_in_requirements_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests\n--extra-index-url https://example.test/simple\n")
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "-r", str(requirements)
    )
    assert code == 2
    assert out == ""
    [line] = error_lines(err)
    assert "requirements.txt:2" in line
    assert "--extra-index-url" in line
    assert "Traceback" not in err
    assert pypi_index.count() == 0


def test_conflicting_extra_requirement_names_both(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    code, out, err = solve(
        capsys, pypi_index.index_url(), tmp_path / "cache", *CU121, "--with", "torch==2.0.1"
    )
    assert code == 7
    assert out == ""
    assert len(error_lines(err)) == 1
    assert "torch==2.1.2" in err
    assert "torch==2.0.1" in err
    assert "Traceback" not in err


def test_a_project_no_index_has_names_every_page_asked(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    pypi_index.require_auth("alice", "secret")
    index = pypi_index.index_url(login=("alice", "secret"))
    code, out, err = solve(
        capsys,
        index,
        tmp_path / "cache",
        *CU121,
        "--with",
        "no-such-project",
        "--extra-index-url",
        index_server.index_url(),
    )
    assert code == 7
    assert out == ""
    assert "no-such-project is not on the index: " in err
    default = pypi_index.index_url().rstrip("/")  # its credentials are left out
    extra = index_server.index_url().rstrip("/")
    assert f"{default}/no-such-project/, then {extra}/no-such-project/ lists no file" in err
    assert "secret" not in err
    assert "Traceback" not in err


# --- where the torch family comes from -------------------------------------------------------


def test_torch_index_default_refuses_a_build_the_default_index_lacks(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    code, out, err = solve(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *SELECT,
        "--variant",
        "cu118",
        "--torch-index",
        "default",
    )
    assert code == 2
    assert out == ""
    [line] = error_lines(err)
    assert "cu118" in line
    assert "2.1.2" in line
    hints = [h for h in err.splitlines() if h.startswith("hint:")]
    assert len(hints) == 1
    assert "--torch-index pytorch" in hints[0]
    assert "--variant cu121" in hints[0]  # the build the default index does serve
    assert pypi_index.count() == 0


def test_torch_index_default_takes_the_family_from_the_default_index(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    doc = solve_json(capsys, index, tmp_path / "cache", *CU121, "--torch-index", "default")
    [target] = doc["targets"]
    assert target["torch_index"] == index
    assert packages(target)["torch"]["index"] == index
    assert versions(target)["torch"] == "2.1.2"
    assert pypi_index.count("/simple/torch/") == 1


def test_extra_index_adds_a_project_the_default_lacks_but_never_shadows_one(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    index_tree.add_wheel("simple", "private-helper", "1.0")
    index_tree.add_wheel("simple", "numpy", "99.0")  # must never win over the default's
    index_tree.write()
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *CU121,
        "--with",
        "private-helper",
        "--with",
        "numpy",
        "--extra-index-url",
        index_server.index_url(),
    )
    pins = packages(doc["targets"][0])
    assert pins["private-helper"]["version"] == "1.0"
    assert pins["private-helper"]["index"] == index_server.index_url()
    assert pins["numpy"]["index"] == pypi_index.index_url()
    assert pins["numpy"]["version"] != "99.0"
    assert index_server.count("/simple/numpy/") == 0


@pytest.mark.parametrize(
    "default_files",
    [
        pytest.param(["win_amd64"], id="only-another-platform"),
        pytest.param(["cp27"], id="only-another-python"),
    ],
)
def test_a_project_the_default_index_lists_is_never_taken_from_an_extra_index(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    default_files: list[str],
) -> None:
    # dependency confusion: the default index has a page for "victim", with no file this
    # target can use; the extra index offers a newer one that would fit
    default = build_pypi_index(tmp_path / "default")
    for kind in default_files:
        tags = "py3-none-win_amd64" if kind == "win_amd64" else "cp27-cp27mu-manylinux1_x86_64"
        default.add_wheel("simple", "victim", "2.0", tags=tags)
    default.write()
    server = serve(default.root, default)
    default_url = server.index_url()
    try:
        index_tree.add_wheel("simple", "victim", "99.0")
        index_tree.write()
        code, _, err = solve(
            capsys,
            default_url,
            tmp_path / "cache",
            *CU121,
            "--with",
            "victim",
            "--extra-index-url",
            index_server.index_url(),
        )
    finally:
        server.stop()
    assert code == 7, err
    [line] = error_lines(err)
    assert line.startswith("error: victim has no file for this target")
    assert line.endswith(f"on {default_url}/victim/")
    assert index_server.count("/simple/victim/") == 0


def test_find_links_wins_over_the_index_for_its_projects(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    folder = tmp_path / "wheels"
    wheel = build_wheel(folder, "requests", "2.31.0", requires_dist=("idna>=2.5",))
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *CU121,
        "--with",
        "requests",
        "--find-links",
        str(folder),
    )
    [target] = doc["targets"]
    pins = packages(target)
    # the index has the newer 2.32.3: the folder's only version wins all the same
    assert pins["requests"]["version"] == "2.31.0"
    assert pins["requests"]["index"] == folder.resolve().as_uri()
    [entry] = pins["requests"]["files"]
    assert entry["filename"] == wheel.name
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert entry["url"].startswith("file:")
    assert pins["idna"]["index"] == pypi_index.index_url()
    assert "urllib3" not in pins  # the folder's wheel does not need it
    assert pypi_index.count("/simple/requests/") == 0


# --- the cache and offline runs --------------------------------------------------------------


def test_offline_with_an_empty_cache_names_the_missing_page(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    code, out, err = solve(capsys, index, tmp_path / "cache", *CU121, "--offline")
    assert code == 6
    assert out == ""
    [line] = error_lines(err)
    assert re.search(re.escape(index) + r"/torch(vision|audio)?/", line), line
    assert "hint:" in err
    assert pypi_index.count() == 0


def test_offline_after_an_online_run_makes_no_request(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    cache = tmp_path / "cache"
    online = solve_json(capsys, index, cache, *CU121)
    assert pypi_index.count() > 0
    pypi_index.log.clear()
    offline = solve_json(capsys, index, cache, *CU121, "--offline")
    assert pypi_index.count() == 0
    assert offline == online


def test_second_online_run_is_served_by_the_cache(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    cache = tmp_path / "cache"
    first = solve_json(capsys, index, cache, *CU121)
    assert pypi_index.count("/simple/torch/") == 1
    pypi_index.log.clear()
    second = solve_json(capsys, index, cache, *CU121)
    assert pypi_index.requests() == []  # pages fresh by max-age, metadata cached
    assert second == first


def test_determinism_across_cache_dirs(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    index = pypi_index.index_url()
    args = [*CU121, "--with", "requests>=2.31", "--json"]
    code1, out1, err1 = solve(capsys, index, tmp_path / "one", *args)
    code2, out2, err2 = solve(capsys, index, tmp_path / "two", *args)
    assert (code1, code2) == (0, 0), err1 + err2
    assert out1 == out2
    assert out1.endswith("\n")
    assert "\r" not in out1


# --- index failures --------------------------------------------------------------------------


def test_transient_server_errors_are_retried(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    pypi_index.fail("/simple/sympy/", Fault.error(500, times=2))
    doc = solve_json(capsys, pypi_index.index_url(), tmp_path / "cache", *CU121)
    assert "sympy" in versions(doc["targets"][0])
    statuses = [r.status for r in pypi_index.requests("/simple/sympy/")]
    assert statuses == [500, 500, 200]


def test_a_failing_index_is_one_error_line(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    pypi_index.fail("/simple/sympy/", Fault.error(500, times=None))
    code, out, err = solve(capsys, pypi_index.index_url(), tmp_path / "cache", *CU121)
    assert code == 6
    assert out == ""
    [line] = error_lines(err)
    assert f"{pypi_index.index_url()}/sympy/" in line
    assert "500" in err
    assert "Traceback" not in err
    assert pypi_index.count("/simple/sympy/") == 4  # the first try and three retries


def test_credentials_in_the_index_url_are_used(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    pypi_index.require_auth("alice", "secret")
    plain = pypi_index.index_url()
    index = pypi_index.index_url(login=("alice", "secret"))
    code, out, err = solve(capsys, index, tmp_path / "cache", *CU121, "--json")
    assert code == 0, err
    assert "secret" not in err
    requests = pypi_index.requests()
    assert requests
    assert all(r.status in (200, 206) for r in requests)
    assert all(r.headers.get("authorization", "").startswith("Basic ") for r in requests)
    target = json.loads(out)["targets"][0]
    assert versions(target)["torch"] == "2.1.2"
    for pin in target["packages"]:
        assert "secret" not in pin["index"], pin["name"]
        for entry in pin["files"]:
            assert "secret" not in entry["url"]
    # without the credentials the same index answers 401
    code, out, err = solve(capsys, plain, tmp_path / "other-cache", *CU121)
    assert code == 6
    assert "401" in err


def test_credentials_never_appear_in_the_output(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    pypi_index.require_auth("alice", "secret")
    index = pypi_index.index_url(login=("alice", "secret"))
    for extra in (["--json"], []):
        code, out, err = solve(capsys, index, tmp_path / "cache", *CU121, *extra)
        assert code == 0, err
        assert "secret" not in out
        assert "secret" not in err
    # nor in an error naming the index
    pypi_index.fail("/simple/sympy/", Fault.error(503, times=None))
    code, out, err = solve(capsys, index, tmp_path / "fresh-cache", *CU121)
    assert code == 6
    assert "/simple/sympy/" in err
    assert "secret" not in out + err


@pytest.fixture(scope="module")
def https_pypi_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """The PyPI-like index over https, with a certificate authority of its own."""
    tree = build_pypi_index(tmp_path_factory.mktemp("https-pypi-index"))
    server = serve(tree.root, tree, tls=True)
    yield server
    server.stop()


def test_https_index_with_pips_cert_setting(
    capsys: pytest.CaptureFixture[str],
    https_pypi_index: IndexServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    index = https_pypi_index.index_url()
    assert index.startswith("https://")
    # without the CA: one clear error, no retries, nothing sent
    https_pypi_index.reset()
    code, out, err = solve(capsys, index, tmp_path / "cache", *CU121)
    assert code == 6
    assert out == ""
    [line] = error_lines(err)
    assert "certificate is not trusted" in line
    assert "PIP_CERT" in err
    assert "SSL_CERT_FILE" in err
    assert https_pypi_index.count() == 0
    assert "Traceback" not in err
    # with the CA given as pip's cert setting: the same solve as over http
    monkeypatch.setenv("PIP_CERT", str(TLS_CA))
    doc = solve_json(capsys, index, tmp_path / "cache", *CU121)
    assert versions(doc["targets"][0])["torch"] == "2.1.2"
    assert https_pypi_index.count() > 0


@pytest.mark.parametrize("option", ["--index-url", "--extra-index-url", "--pytorch-index-url"])
def test_a_malformed_index_url_is_one_error_line(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, option: str, tmp_path: Path
) -> None:
    args = [*CU121, option, "http://127.0.0.1:99999/simple"]
    index = None if option == "--index-url" else pypi_index.index_url()
    code, out, err = solve(capsys, index, tmp_path / "cache", *args)
    assert code == 6
    assert out == ""
    [line] = error_lines(err)
    assert line.startswith("error: malformed package index URL http://127.0.0.1:99999/")
    assert "Traceback" not in err
    assert pypi_index.count() == 0


def test_plain_http_to_a_remote_host_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = solve(capsys, "http://index.invalid/simple", tmp_path / "cache", *CU121)
    assert code == 6
    assert out == ""
    [line] = error_lines(err)
    assert "refusing plain-http" in line
    assert "index.invalid" in line
    assert "--trusted-host index.invalid" in err
    assert "Traceback" not in err
    assert "ConnectError" not in err  # refused before any connection was tried


# --- the PyTorch-like index ------------------------------------------------------------------


def pytorch_template(server: IndexServer) -> str:
    return f"{server.url}/whl/{{variant}}"


def test_a_refused_default_index_fails_before_the_pytorch_index_is_asked(
    capsys: pytest.CaptureFixture[str], pytorch_index: IndexServer, tmp_path: Path
) -> None:
    pytorch_index.log.clear()
    code, out, err = solve(
        capsys,
        "http://index.invalid/simple",
        tmp_path / "cache",
        *SELECT,
        "--variant",
        "cu118",
        "--pytorch-index-url",
        pytorch_template(pytorch_index),
    )
    assert code == 6
    assert out == ""
    assert "refusing plain-http package index http://index.invalid/simple" in err
    assert pytorch_index.requests() == []  # nothing fetched from any index


def test_pytorch_index_serves_a_build_the_default_index_lacks(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *SELECT,
        "--variant",
        "cu118",
        "--pytorch-index-url",
        pytorch_template(pytorch_index),
    )
    [target] = doc["targets"]
    torch_index = pytorch_index.index_url("whl/cu118")
    assert target["torch_index"] == torch_index
    pins = packages(target)
    assert pins["torch"]["version"] == "2.1.2+cu118"
    assert pins["torchvision"]["version"] == "0.16.2+cu118"
    assert pins["torchaudio"]["version"] == "2.1.2+cu118"
    for name in TRIPLE:
        assert pins[name]["index"] == torch_index
    assert pins["nvidia-cuda-runtime-cu11"]["version"] == "11.8.89"
    assert pins["nvidia-cuda-runtime-cu11"]["index"] == pypi_index.index_url()
    assert not [n for n in pins if n.endswith("-cu12")]
    assert pins["torch"]["files"][0]["filename"] == "torch-2.1.2+cu118-cp310-cp310-linux_x86_64.whl"
    # the index has no PEP 658 file for torchaudio: its METADATA came by range requests
    [audio] = pins["torchaudio"]["files"]
    assert audio["filename"] == "torchaudio-2.1.2+cu118-cp310-cp310-linux_x86_64.whl"
    reads = pytorch_index.requests(f"/files/{audio['filename']}")
    assert reads
    assert all(r.status == 206 and "range" in r.headers for r in reads)
    for name in TRIPLE:
        for entry in pins[name]["files"]:
            assert entry["url"].startswith(pytorch_index.url + "/files/"), entry
            with urllib.request.urlopen(entry["url"]) as response:
                body = response.read()
            assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["filename"]
    assert pypi_index.count("/simple/torch/") == 0
    assert pytorch_index.count("/whl/cu118/torch/") == 1


def test_pytorch_index_url_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TORCHLOCK_PYTORCH_INDEX_URL", pytorch_template(pytorch_index))
    doc = solve_json(
        capsys, pypi_index.index_url(), tmp_path / "cache", *SELECT, "--variant", "cu118"
    )
    [target] = doc["targets"]
    assert target["torch_index"] == pytorch_index.index_url("whl/cu118")
    assert versions(target)["torch"] == "2.1.2+cu118"
    assert pytorch_index.count("/whl/cu118/torch/") == 1


def test_torch_index_pytorch_takes_the_family_from_the_pytorch_index(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *CU121,
        "--torch-index",
        "pytorch",
        "--pytorch-index-url",
        pytorch_template(pytorch_index),
    )
    [target] = doc["targets"]
    assert target["torch_index"] == pytorch_index.index_url("whl/cu121")
    assert versions(target)["torch"] == "2.1.2+cu121"
    assert set(NVIDIA_CU12) <= set(versions(target))
    assert pypi_index.count("/simple/torch/") == 0


def test_two_platforms_take_the_torch_family_from_each_ones_index(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    doc = solve_json(
        capsys,
        pypi_index.index_url(),
        tmp_path / "cache",
        *CU121,
        "--pytorch-index-url",
        pytorch_template(pytorch_index),
        platforms=("linux-64", "win-64"),
    )
    linux, windows = doc["targets"]
    assert linux["torch_index"] == pypi_index.index_url()
    assert windows["torch_index"] == pytorch_index.index_url("whl/cu121")
    assert versions(linux)["torch"] == "2.1.2"
    assert versions(windows)["torch"] == "2.1.2+cu121"
    assert set(NVIDIA_CU12) <= set(versions(linux))
    assert not [n for n in versions(windows) if n.startswith("nvidia-") or n == "triton"]


def test_a_cache_dir_that_is_a_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("keep me")
    code, out, err = solve(capsys, pypi_index.index_url(), blocker, *CU121, "--json")
    assert code == 2
    assert out == ""
    [line] = error_lines(err)
    assert "is not a folder" in line
    assert blocker.read_text() == "keep me"
    assert pypi_index.count() == 0


def test_a_cache_that_cannot_be_used_is_one_warning(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for kind in ("pages", "metadata", "results", "answers"):
        (cache / kind).write_text("a file where a folder should be")
    code, out, err = solve(capsys, pypi_index.index_url(), cache, *CU121, "--json")
    assert code == 0, err
    assert json.loads(out)["targets"]
    assert len([line for line in err.splitlines() if "cache" in line]) <= 3  # not per entry


def test_a_file_simple_index_is_an_index_as_pip_takes_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tree = build_pypi_index(tmp_path / "on-disk")  # PEP 503 folders, no server
    index = (tree.root / "simple").as_uri()
    doc = solve_json(capsys, index, tmp_path / "cache", *CU121, "--with", "requests")
    pins = packages(doc["targets"][0])
    assert versions(doc["targets"][0])["torch"] == "2.1.2"
    assert pins["requests"]["index"] == index
    assert all(f["url"].startswith("file:") for f in pins["requests"]["files"])
    # a remote index's rules are unchanged: no host in a file: URL
    code, _, err = solve(capsys, "file://elsewhere/simple", tmp_path / "cache", *CU121)
    assert code == 6
    assert "a file: URL names a local folder" in err
