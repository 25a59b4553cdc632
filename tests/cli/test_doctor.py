"""``torchlock doctor`` on this very host: shape of the answer and the exit-code rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["doctor", "--json"], capsys)
    document = json.loads(out)
    assert set(document) == {"checks", "summary", "ok"}
    statuses = [check["status"] for check in document["checks"]]
    assert set(statuses) <= {"pass", "warn", "fail"}
    assert code == (1 if "fail" in statuses else 0), err
    assert document["ok"] is (code == 0)
    ids = [check["id"] for check in document["checks"]]
    for needed in ("driver", "nvcc", "disk", "conda", "nginx", "git"):
        assert needed in ids
    for check in document["checks"]:
        assert set(check) == {"id", "title", "status", "detail", "fix"}
        if check["status"] != "pass":
            assert check["fix"]
    assert out == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(["doctor", "--path", str(tmp_path)], capsys)
    assert code in (0, 1)
    assert "Traceback" not in out + err
    assert f"at {tmp_path}" in out
    assert out.splitlines()[-1].endswith("failed")
