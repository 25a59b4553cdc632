"""The warm path stays light: importing the client must not import httpx (or rich)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import torchlock.index.client as client
assert "httpx" not in sys.modules, "httpx imported at module import"
assert "email" not in sys.modules and "packaging.metadata" not in sys.modules
client.import_httpx()
assert "httpx" in sys.modules
assert "rich" not in sys.modules, "httpx pulled in its CLI (rich)"
"""


def test_client_import_is_light() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
