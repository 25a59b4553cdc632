"""``torchlock init``: a spec from the host, refusing to overwrite, kept in pyproject.toml."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cli.lockhelp import isolate
from tests.support.cli import run_cli
from torchlock.lockfiles import spec as specs

GIVEN = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--platform", "linux-64"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


def test_writes_torchlock_toml_from_the_host(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(["init", *GIVEN, "--with", "requests>=2.31"], capsys)
    assert code == 0, err
    assert "wrote torchlock.toml" in out
    loaded = specs.load(tmp_path / "torchlock.toml")
    assert loaded.spec.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert loaded.spec.platforms == ("linux-64",)
    assert loaded.spec.driver == "580.65.06"
    assert loaded.spec.gpu_cc == ("8.0",)
    assert [str(r) for r in loaded.requirements] == ["requests>=2.31"]
    assert loaded.lock_path == tmp_path / "pylock.toml"


def test_refuses_to_overwrite_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_cli(["init", *GIVEN], capsys)[0] == 0
    before = (tmp_path / "torchlock.toml").read_bytes()
    code, _, err = run_cli(["init", *GIVEN, "--python", "3.12"], capsys)
    assert code == 2
    assert "error: torchlock.toml: a project spec is already there" in err
    assert "--force" in err
    assert (tmp_path / "torchlock.toml").read_bytes() == before
    code, _, err = run_cli(["init", *GIVEN, "--python", "3.12", "--force"], capsys)
    assert code == 0, err
    assert specs.load(tmp_path / "torchlock.toml").spec.python == "3.12"


def test_adds_a_table_to_pyproject_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    original = (
        '[project]\nname = "demo"  # the name\nversion = "1"\n\n[tool.ruff]\nline-length = 99\n'
    )
    (tmp_path / "pyproject.toml").write_text(original)
    code, _out, err = run_cli(["init", *GIVEN, "--lock", "pylock.cu121.toml"], capsys)
    assert code == 0, err
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    assert "[tool.torchlock]" in text
    loaded = specs.load(tmp_path / "pyproject.toml")
    assert loaded.lock_path == tmp_path / "pylock.cu121.toml"
    code, _, err = run_cli(["init", *GIVEN], capsys)
    assert code == 2
    assert "pyproject.toml: a project spec is already there" in err


def test_no_driver_means_a_cpu_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["init", "--driver", "none", "--platform", "win-64"], capsys)
    assert code == 0, err
    spec = specs.load(tmp_path / "torchlock.toml").spec
    assert spec.driver == "none"
    assert spec.gpu_cc == ()


def test_index_urls_are_written_without_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["init", *GIVEN, "--index-url", "https://alice:s3cret@mirror.example/simple"]
    argv += ["--extra-index-url", "https://tok3n@private.example/simple"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    text = (tmp_path / "torchlock.toml").read_text(encoding="utf-8")
    assert 'index-url = "https://mirror.example/simple"' in text
    assert 'extra-index-urls = ["https://private.example/simple"]' in text
    for word in ("alice", "s3cret", "tok3n"):
        assert word not in text + out + err


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--gpu-cc", "x", "malformed GPU compute capability"),
        ("--python", "3.x", "malformed Python version"),
        ("--torch", "garbage", "malformed torch requirement"),
        ("--policy", "fast", "unknown policy"),
        ("--mirror", "nosuch", "unknown mirror"),
        ("--index-url", "notaurl", "not an http(s) URL"),
    ],
)
def test_a_bad_value_writes_no_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, value: str, words: str
) -> None:
    code, out, err = run_cli(["init", *GIVEN, flag, value], capsys)
    assert out == ""
    assert code == 2
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "torchlock.toml").exists()
