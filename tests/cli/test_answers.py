"""Stored answers of ``solve --json``: reused only while every page behind them is fresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.cli.test_solve import CU121, _isolated, solve  # noqa: F401  (autouse fixture)
from tests.support.index_server import IndexServer
from torchlock.cli.answers import answer_key
from torchlock.index.cache import HttpCache

PARAMS: dict[str, object] = {
    "as_json": True,
    "output": None,
    "spec_file": None,
    "find_links": (),
    "req_files": (),
    "channels": (),
    "driver": "580.65.06",
    "gpu_cc": ("8.0",),
    "torch_spec": "2.1.2",
}


def test_key_is_stable_and_follows_every_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = answer_key(PARAMS, default_index="https://index.test/simple", env={})
    assert key is not None
    assert key == answer_key(dict(PARAMS), default_index="https://index.test/simple", env={})
    assert key != answer_key(
        {**PARAMS, "torch_spec": "2.1.1"}, default_index="https://index.test/simple", env={}
    )
    assert key != answer_key(PARAMS, default_index="https://mirror.test/simple", env={})


@pytest.mark.parametrize(
    "change",
    [
        {"as_json": False},
        {"output": "pylock.toml"},
        {"spec_file": "torchlock.toml"},
        {"find_links": ("wheels",)},
        {"req_files": ("requirements.txt",)},
        {"channels": ("conda-forge",)},
        {"driver": None},  # auto: the host would be detected
        {"gpu_cc": ()},  # GPUs detected
    ],
)
def test_no_stored_answer_when_something_outside_the_command_counts(
    change: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert answer_key({**PARAMS, **change}, default_index="https://i.test/simple", env={}) is None


def test_a_spec_in_the_folder_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.torchlock]\npython = "3.10"\n')
    assert answer_key(PARAMS, default_index="https://i.test/simple", env={}) is None


def test_driver_none_needs_no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    params = {**PARAMS, "driver": None, "gpu_cc": ()}
    assert answer_key(params, default_index="https://i.test/simple", env={}) is None
    assert answer_key(
        params, default_index="https://i.test/simple", env={"TORCHLOCK_DRIVER": "none"}
    )


class Solved(NamedTuple):
    index: str
    cache: Path
    stdout: str  # of the first solve, which stored the answer


@pytest.fixture
def solved(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Solved:
    """A first `solve --json` in an empty folder, its answer stored in tmp_path/cache."""
    monkeypatch.chdir(tmp_path)
    index = pypi_index.index_url()
    cache = tmp_path / "cache"
    code, first, err = solve(capsys, index, cache, *CU121, "--json")
    assert code == 0, err
    return Solved(index, cache, first)


def test_a_stale_page_means_solving_again(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, solved: Solved
) -> None:
    index, cache, first = solved
    assert list((cache / "answers").glob("*.json"))

    pypi_index.log.clear()
    code, second, err = solve(capsys, index, cache, *CU121, "--json")
    assert (code, second) == (0, first), err
    assert pypi_index.requests() == []

    # Age one page past its max-age: the answer is not reused; the page is revalidated.
    http = HttpCache(cache)
    url = f"{index.rstrip('/')}/torch/"
    page = http.load_page(url)
    assert page is not None
    http.store_page(page.refreshed(0.0, page.max_age))
    pypi_index.log.clear()
    code, third, err = solve(capsys, index, cache, *CU121, "--json")
    assert (code, third) == (0, first), err
    assert pypi_index.count("/simple/torch/") == 1
    assert json.loads(third)["targets"][0]["packages"]


def test_a_stored_answer_is_printed_without_the_solve_machinery(
    solved: Solved, tmp_path: Path
) -> None:
    index, cache, first = solved
    argv = ["solve", *CU121, "--json", "--cache-dir", str(cache), "--index-url", index]
    argv += ["--platform", "linux-64"]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "torchlock", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout) == (0, first), done.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    heavy_ones = ("msgspec", "packaging", "resolvelib", "torchlock.index.client", "rich", "urllib3")
    for heavy in heavy_ones:
        assert heavy not in loaded, f"a warm solve imported {heavy}"
