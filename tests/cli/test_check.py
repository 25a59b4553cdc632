"""``torchlock check``: 0 up to date, 1 stale with what changed, 2 missing or unreadable."""

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


def _solved(capsys: pytest.CaptureFixture[str], index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "torchlock.toml").write_text(spec_text(index, requirements=("idna",)))
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err


def test_up_to_date_lock_exits_0(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    _solved(capsys, pypi_index, tmp_path)
    pypi_index.log.clear()
    code, out, err = run_cli(["check"], capsys)
    assert code == 0, err
    assert "pylock.toml is up to date with torchlock.toml" in out
    assert pypi_index.count() == 0  # no request


def test_changed_spec_exits_1_with_a_readable_diff(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    _solved(capsys, pypi_index, tmp_path)
    spec = tmp_path / "torchlock.toml"
    text = spec.read_text().replace('variant = "cu121"', 'variant = "cu118"')
    spec.write_text(text.replace('["idna"]', '["idna", "requests>=2.31"]'))
    code, out, err = run_cli(["check"], capsys)
    assert code == 1, err
    assert "pylock.toml is stale" in out
    assert '  - variant = "cu121"  (lock)' in out
    assert '  + variant = "cu118"  (spec)' in out
    assert '  + requirements: "requests>=2.31"' in out
    assert "torchlock solve" in out


def test_missing_lock_exits_2(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index))
    code, _out, err = run_cli(["check"], capsys)
    assert code == 2
    assert "error: pylock.toml: no such lockfile" in err
    assert "Traceback" not in err


def test_unreadable_lock_exits_2_naming_the_place(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    _solved(capsys, pypi_index, tmp_path)
    lock = tmp_path / "pylock.toml"
    lock.write_text(lock.read_text()[:200])
    code, _, err = run_cli(["check"], capsys)
    assert code == 2
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: pylock.toml: ")


def test_no_spec_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["check"], capsys)
    assert code == 2
    assert "torchlock init" in err


def test_explicit_spec_and_lock(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    _solved(capsys, pypi_index, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "pylock.toml").rename(elsewhere / "pylock.toml")
    argv = ["check", "--spec", "torchlock.toml", "--lock", str(elsewhere / "pylock.toml")]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err


def test_a_changed_extra_index_makes_the_lock_stale(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    spec = tmp_path / "torchlock.toml"
    extra = f'extra-index-urls = ["{index_server.index_url()}"]\n'
    spec.write_text(spec_text(pypi_index, requirements=("idna",)) + extra)
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    assert f'extra-index-urls = ["{index_server.index_url()}"]' in (
        tmp_path / "pylock.toml"
    ).read_text(encoding="utf-8")
    code, out, err = run_cli(["check"], capsys)
    assert code == 0, err
    spec.write_text(spec_text(pypi_index, requirements=("idna",)))
    code, out, err = run_cli(["check"], capsys)
    assert code == 1, err
    assert f'  - extra-index-urls = ["{index_server.index_url()}"]  (lock)' in out
    assert "  + extra-index-urls = (unset)  (spec)" in out


def test_a_solve_whose_flags_leave_the_spec_says_so_and_check_agrees(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index, requirements=("idna",)))
    code, _, err = run_cli(["solve", "--family", "torch"], capsys)
    assert code == 0, err
    [note] = [line for line in err.splitlines() if line.startswith("note:")]
    assert note.startswith("note: the lock records family other than torchlock.toml says")
    assert "`torchlock check` will call it stale" in note
    code, out, _ = run_cli(["check"], capsys)
    assert code == 1  # as the note said
    assert "family" in out
    code, _, err = run_cli(["solve"], capsys)  # the spec's own values: no note
    assert code == 0, err
    assert not [line for line in err.splitlines() if line.startswith("note:")]
