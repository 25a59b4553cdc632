"""The warm path stays light: importing the client must not import the HTTP stack.

(The core-metadata reader, packaging.metadata and the email parser under it, is imported
with the client: it is the library made for the format, and a cold solve needs it.)
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import torchlock.index.client as client
assert "http.client" not in sys.modules, "the HTTP stack imported at module import"
import torchlock.index.transport
assert "rich" not in sys.modules and "httpx" not in sys.modules
# urllib3 (and with it http.client and ssl) is imported by the first request
assert "urllib3" not in sys.modules
assert "http.client" not in sys.modules
assert "ssl" not in sys.modules
"""


def test_client_import_is_light() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
