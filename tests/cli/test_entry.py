"""The console script's exit: complete output, the right code, exit handlers run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.support.cli import run_cli

ENTRY = "import sys; from torchlock.console import run; sys.argv[0] = 'torchlock'; run()"


def run(*args: str, code: str = ENTRY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_output_is_complete_and_the_code_is_zero() -> None:
    done = run("matrix", "--driver", "525.85.05", "--python", "3.10", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # every byte arrived
    assert doc["candidates"]


def test_a_usage_error_exits_2_with_one_line() -> None:
    done = run("matrix", "--driver", "not-a-driver")
    assert done.returncode == 2
    assert done.stdout == ""
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in done.stderr


def test_exit_handlers_run_before_the_process_ends_and_the_collector_waited() -> None:
    code = (
        "import atexit, gc, sys; from torchlock.console import run; "
        "atexit.register(lambda: print('handler ran, threshold', gc.get_threshold()[0], "
        "file=sys.stderr)); sys.argv = ['torchlock', '--version']; run()"
    )
    done = run(code=code)
    assert done.returncode == 0
    assert "torchlock" in done.stdout
    # the exit handler ran, and the collector waits for 100k allocations
    assert "handler ran, threshold 100000" in done.stderr


def test_python_dash_m_uses_the_same_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "torchlock", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("torchlock")


def test_buffered_output_is_flushed_before_the_quick_exit() -> None:
    code = (
        "import sys; from torchlock.console import run; sys.stdout.write('buffered'); "
        "sys.argv = ['torchlock', 'matrix', '--driver', 'not-a-driver']; run()"
    )
    done = run(code=code)
    assert done.returncode == 2
    assert done.stdout == "buffered"


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ("sys.exit('boom')", 1, "boom"),  # as Python itself ends sys.exit(text)
        ("return None", 1, ""),  # main always exits: a return is a bug, not a success
    ],
)
def test_other_endings_of_main(body: str, status: int, said: str) -> None:
    code = (
        "import sys, torchlock.cli\n"
        f"def main(argv=None):\n    {body}\n"
        "torchlock.cli.main = main\n"
        "from torchlock.console import run\nrun()"
    )
    done = run(code=code)
    assert done.returncode == status
    assert said in done.stderr


@pytest.mark.parametrize(
    ("argv", "message", "help_of"),
    [
        (["solve", "--drivr", "1"], "no such option '--drivr'", "torchlock solve"),
        (["export", "--format", "bogus"], "invalid value for '--format'", "torchlock export"),
        (["bogus"], "no such command 'bogus'", "torchlock"),
        (["matrix", "--gpu-cc"], "option '--gpu-cc' requires an argument", "torchlock matrix"),
        (["--bogus"], "no such option '--bogus'", "torchlock"),
        (["--bogus", "matrix"], "no such option '--bogus'", "torchlock"),  # a group option
        (["system", "plan", "--bogus"], "no such option '--bogus'", "torchlock system plan"),
        (["matrix", "--python", ""], "invalid value for '--python': an empty", "torchlock matrix"),
        (["solve", "--torch", " "], "invalid value for '--torch': an empty", "torchlock solve"),
        (
            ["matrix", "--gpu-cc", "8.0", "--gpu-cc", ""],
            "invalid value for '--gpu-cc'",
            "torchlock matrix",
        ),
        (
            ["export", "--format", "environment", "--name", ""],
            "invalid value for '--name'",
            "torchlock export",
        ),
        (
            ["export", "--format", "environment", "--name", "a/b"],
            "invalid value for '--name': 'a/b' is not a conda",
            "torchlock export",
        ),
    ],
)
def test_clicks_usage_errors_are_one_line_naming_the_help(
    argv: list[str], message: str, help_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"error: {message}")
    assert line.endswith(f"(see '{help_of} --help')")


def test_no_command_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli([], capsys)
    assert code == 2
    assert "Commands:" in out + err
    assert "solve" in out + err
    assert "error:" not in out + err


def test_clicks_message_becomes_one_line() -> None:
    from torchlock.cli import _one_line

    assert (
        _one_line("Invalid value for 'X'.\n  Choose  one.") == "invalid value for 'X'. Choose one"
    )


def test_a_usage_error_attached_to_the_group_names_the_command_from_argv() -> None:
    done = run("matrix", "--gpu-cc")  # Click gives the group's context here; argv says more
    assert done.returncode == 2
    assert done.stderr.strip().endswith("(see 'torchlock matrix --help')")


class _Raise(click.Command):
    def __init__(self, error: BaseException) -> None:
        super().__init__("boom")
        self.error = error

    def invoke(self, ctx: click.Context) -> object:
        raise self.error


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (
            click.FileError("x.toml", hint="gone.\nreally"),
            1,
            "error: could not open file 'x.toml': gone. really",
        ),
        (click.exceptions.Abort(), 130, "error: aborted"),
        (KeyboardInterrupt(), 130, "\nerror: aborted"),  # Click ends the ^C line first
        (BrokenPipeError(), 141, None),
        (click.exceptions.Exit(3), 3, None),
    ],
)
def test_each_way_out_has_its_code_and_at_most_one_line(
    error: BaseException,
    code: int,
    line: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torchlock.cli as cli_module

    monkeypatch.setitem(cli_module._COMMANDS, "boom", ("tests.cli.test_entry", "_BOOM", "x"))
    monkeypatch.setattr(sys.modules[__name__], "_BOOM", _Raise(error), raising=False)
    got, out, err = run_cli(["boom"], capsys)
    assert got == code
    assert out == ""
    assert err.splitlines() == (line.split("\n") if line else [])


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--python", ""],
        ["verify", "--prefix", "  "],
        ["solve", "--index-url", ""],
        ["export", "--format", "requirements", "--lock", ""],
        ["create", "demo", "--lock", ""],
    ],
)
def test_an_empty_value_is_refused_by_every_command(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert "an empty value; leave the option out for its default" in line
    assert line.startswith("error: invalid value for '")


@pytest.mark.parametrize("option", ["--cache-dir", "--find-links"])
def test_a_path_too_long_for_the_file_system_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    too_long = str(tmp_path / ("x" * 300))
    argv = ["solve", "--driver", "none", "--python", "3.10", "--torch", "2.1.2", "--no-conda"]
    argv += ["--index-url", "http://127.0.0.1:9/simple", option, too_long]
    code, out, err = run_cli(argv, capsys)
    assert code == 2, err
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("error: ")
    assert "too long" in line
    assert "Traceback" not in err
