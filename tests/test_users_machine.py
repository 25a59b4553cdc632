"""The root fixture (tests/conftest.py) makes every test run look like a user's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_nothing_of_this_machines_pip_uv_or_bytecode_settings_is_seen() -> None:
    leaked = [
        name
        for name in os.environ
        if name.upper().startswith(("UV_", "TORCHLOCK_"))
        or (
            name.upper().startswith("PIP_")
            and name not in ("PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK")
        )
        or name.upper() in ("PYTHONDONTWRITEBYTECODE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    ]
    assert leaked == ["UV_NO_CONFIG"]
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull  # pip reads no configuration file
    assert sys.dont_write_bytecode is False


def test_a_child_python_writes_bytecode(tmp_path: Path) -> None:
    (tmp_path / "module_here.py").write_text("VALUE = 1\n")
    subprocess.run(
        [sys.executable, "-c", "import module_here"], cwd=tmp_path, check=True, timeout=60
    )
    assert list((tmp_path / "__pycache__").glob("module_here.*.pyc"))


def test_pip_sees_no_index_or_wheelhouse_of_this_machine() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # only the two settings the root fixture itself makes, both from the environment
    assert sorted(done.stdout.split()) == [
        f":env:.config-file='{os.devnull}'",
        ":env:.disable-pip-version-check='1'",
    ]
