"""Run the torchlock CLI in-process, the way the console script does."""

from __future__ import annotations

import pytest

from torchlock.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``torchlock ARGV``; main() always ends in SystemExit."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    out, err = capsys.readouterr()
    code = caught.value.code
    assert isinstance(code, int)
    return code, out, err
