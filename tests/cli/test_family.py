"""Choosing the torch family: torch alone, or with torchvision and/or torchaudio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.lockhelp import isolate
from tests.support.cli import run_cli
from tests.support.index_server import IndexServer
from torchlock.lockfiles import pylock

SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--python", "3.10", "--torch", "2.1.2"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


def _pins(capsys: pytest.CaptureFixture[str], index: IndexServer, *args: str) -> dict[str, Any]:
    argv = ["solve", *SELECT, "--variant", "cu121", "--platform", "linux-64"]
    argv += ["--index-url", index.index_url(), "--json", *args]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    [target] = json.loads(out)["targets"]
    return {p["name"]: p["version"] for p in target["packages"]}


@pytest.mark.parametrize(
    ("family", "locked"),
    [
        ("torch", {"torch"}),
        ("torch,torchvision", {"torch", "torchvision"}),
        ("torchaudio, TORCH", {"torch", "torchaudio"}),
        ("torch,torchvision,torchaudio", {"torch", "torchvision", "torchaudio"}),
    ],
)
def test_the_family_choice_decides_which_members_are_locked(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, family: str, locked: set[str]
) -> None:
    pins = _pins(capsys, pypi_index, "--family", family)
    assert {n for n in ("torch", "torchvision", "torchaudio") if n in pins} == locked
    assert pins["torch"] == "2.1.2"
    if "torchvision" not in locked:
        assert "pillow" not in pins  # torchvision's own dependencies go with it


def test_the_default_is_the_whole_family(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer
) -> None:
    pins = _pins(capsys, pypi_index)
    assert pins["torchvision"] == "0.16.2"
    assert pins["torchaudio"] == "2.1.2"


@pytest.mark.parametrize(
    ("family", "message"),
    [
        ("torchvision", "error: the torch family 'torchvision' leaves out torch"),
        ("torch,torchtext", "error: unknown torch family member 'torchtext'"),
    ],
)
def test_a_bad_family_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, family: str, message: str
) -> None:
    argv = ["solve", *SELECT, "--index-url", pypi_index.index_url(), "--family", family]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.splitlines()[0] == message
    assert "Traceback" not in err


def test_init_family_and_no_conda_then_solve_then_check_is_clean(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")  # the spec itself says no-conda
    argv = ["init", *SELECT, "--platform", "linux-64", "--variant", "cu121"]
    argv += ["--index-url", pypi_index.index_url(), "--family", "torch", "--no-conda"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    spec = (tmp_path / "torchlock.toml").read_text()
    assert 'family = ["torch"]' in spec
    assert "no-conda = true" in spec
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    names = {str(p.name) for p in lock.packages}
    assert "torch" in names
    assert not names & {"torchvision", "torchaudio"}
    assert lock.inputs.family == ("torch",)
    assert lock.conda == ()
    code, out, err = run_cli(["check"], capsys)
    assert code == 0, out + err


def test_a_family_in_the_spec_is_checked_as_the_flag_is(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "torchlock.toml").write_text(
        f'python = "3.10"\nindex-url = "{pypi_index.index_url()}"\nfamily = ["torchaudio"]\n'
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith("error: ")
    assert "torchlock.toml" in first
    assert "family" in first
    assert "leaves out torch" in first
