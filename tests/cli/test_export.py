"""``torchlock export``: each format from a solved lock, and a lock for another platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.lockhelp import isolate, spec_text
from tests.support.cli import run_cli
from tests.support.index_server import IndexServer


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def solved(capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path) -> Path:
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index))
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    return tmp_path / "pylock.toml"


def test_pylock_export_is_the_lock_itself(capsys: pytest.CaptureFixture[str], solved: Path) -> None:
    code, out, err = run_cli(["export", "--format", "pylock"], capsys)
    assert code == 0, err
    assert out == solved.read_text()


def test_requirements_to_stdout_and_file(
    capsys: pytest.CaptureFixture[str], solved: Path, pypi_index: IndexServer, tmp_path: Path
) -> None:
    code, out, err = run_cli(["export", "--format", "requirements"], capsys)
    assert code == 0, err
    assert f"--index-url {pypi_index.index_url()}\n" in out
    assert "torch==2.1.2 \\\n    --hash=sha256:" in out
    code, _, err = run_cli(["export", "--format", "requirements", "-o", "r.txt"], capsys)
    assert code == 0, err
    assert (tmp_path / "r.txt").read_text() == out


@pytest.mark.parametrize("fmt", ["conda-lock", "environment"])
def test_conda_formats(capsys: pytest.CaptureFixture[str], solved: Path, fmt: str) -> None:
    code, out, err = run_cli(["export", "--format", fmt, "--platform", "linux-64"], capsys)
    assert code == 0, err
    if fmt == "environment":  # each package by its file: torch's Linux wheel
        assert '"torch @ http' in out
        assert "#sha256=" in out
    else:
        assert 'name: "torch"' in out


def test_lock_for_another_platform_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], solved: Path
) -> None:
    code, out, err = run_cli(["export", "--format", "requirements", "--platform", "win-64"], capsys)
    assert code == 2
    assert out == ""
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line == (
        "error: pylock.toml: tool.torchlock.targets: the lock is not for win-64: "
        "its targets are linux-64"
    )


def test_missing_hash_in_the_lock_names_the_file_and_place(
    capsys: pytest.CaptureFixture[str], solved: Path
) -> None:
    text = solved.read_text()
    start = text.index("hashes = {sha256 = ")
    end = text.index("}}", start) + 2
    solved.write_text(text[:start] + "hashes = {}}" + text[end:])
    code, _, err = run_cli(["export", "--format", "requirements"], capsys)
    assert code == 2
    assert "error: pylock.toml: packages[0] (" in err
    assert ".wheels[0].hashes: no sha256 hash" in err


def test_a_pylock_export_must_have_a_lock_name(
    capsys: pytest.CaptureFixture[str], solved: Path
) -> None:
    code, out, err = run_cli(["export", "--format", "pylock", "-o", "lock.toml"], capsys)
    assert code == 2
    assert out == ""
    assert "pylock.toml or pylock.<name>.toml" in err
    assert not (solved.parent / "lock.toml").exists()
    code, _, err = run_cli(["export", "--format", "pylock", "-o", "pylock.copy.toml"], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("alias", "fmt"),
    [
        ("requirements.txt", "requirements"),
        ("conda-lock.yml", "conda-lock"),
        ("environment.yml", "environment"),
        ("pylock.toml", "pylock"),
    ],
)
def test_the_file_names_people_type_are_formats_too(
    capsys: pytest.CaptureFixture[str], solved: Path, alias: str, fmt: str
) -> None:
    code, by_alias, err = run_cli(["export", "--format", alias], capsys)
    assert code == 0, err
    code, by_name, err = run_cli(["export", "--format", fmt], capsys)
    assert code == 0, err
    assert by_alias == by_name


def test_help_lists_every_platform_solve_takes(capsys: pytest.CaptureFixture[str]) -> None:
    from torchlock.target import Platform

    for command in ("solve", "export", "init"):
        code, out, _ = run_cli([command, "--help"], capsys)
        assert code == 0
        for name in ("linux-64", "linux-aarch64", "win-64", "osx-arm64", "osx-64"):
            Platform.parse(name)  # every name listed is one --platform takes
            assert name in out, (command, name)


def test_a_lock_without_a_conda_base_names_no_channel_in_the_conda_lock_export(
    capsys: pytest.CaptureFixture[str], solved: Path
) -> None:
    from torchlock.lockfiles import pylock

    yaml = pytest.importorskip("yaml")
    lock = pylock.parse(solved.read_text(), "pylock.toml")
    assert lock.conda == ()  # the fixture spec says no-conda
    code, out, err = run_cli(["export", "--format", "conda-lock"], capsys)
    assert code == 0, err
    assert "the environment needs a Python of its own" in out.splitlines()[2]
    assert yaml.safe_load(out)["metadata"]["channels"] == []
    assert "conda-forge" not in out
