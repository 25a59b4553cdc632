"""Fixtures shared by every test directory.

The root fixture makes each test run look like a user's machine: development machines set
things users' machines don't (PYTHONDONTWRITEBYTECODE, PIP_* variables, pip configuration
files with local indexes, a wheelhouse and version caps, uv settings, proxies), and a suite
that runs under them never sees bytecode being written or the default index being read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.index_server import (  # noqa: F401  (fixtures, registered by import)
    _pypi_index_session,
    _pytorch_index_session,
    index_server,
    index_tree,
    pypi_index,
    pytorch_index,
)

# Variables cleared for the whole run, on top of every PIP_*, UV_* and TORCHLOCK_* one.
# The system's certificate settings (SSL_CERT_FILE, SSL_CERT_DIR) stay: they say which
# authorities this machine trusts, and the network-marked tests reach a real index.
_CLEARED = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONNOUSERSITE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "NETRC",
    "CONDA_PREFIX",
    "VIRTUAL_ENV",
)
_PREFIXES = ("PIP_", "UV_", "TORCHLOCK_")
_KEPT = ("TORCHLOCK_UPDATE_GOLDEN",)  # the suite's own switch (tests/lockfiles/sample.py)


def _machine_find_links() -> tuple[str, ...]:
    """The wheelhouses this machine's pip is configured with, read before they are cleared.

    Only the tests that install the real CPU build of torch use them, by passing them to pip
    as ``--find-links`` explicitly; without one (a user's machine) those tests skip.
    """
    found = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ""
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".find-links"):
            found += value.strip().strip("'\"").split()
    return tuple(dict.fromkeys(found))


MACHINE_FIND_LINKS = _machine_find_links()


@pytest.fixture(autouse=True, scope="session")
def _like_a_users_machine() -> Iterator[None]:
    """Clear what development machines set and users' machines don't, for the whole run."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            upper = name.upper()
            if upper in _KEPT:
                continue
            if upper in _CLEARED or upper.startswith(_PREFIXES):
                patch.delenv(name)
        # pip reads no configuration file at all when PIP_CONFIG_FILE is os.devnull
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        patch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        patch.setenv("UV_NO_CONFIG", "1")
        patch.setattr(sys, "dont_write_bytecode", False)
        yield


@pytest.fixture(scope="session")
def machine_find_links() -> tuple[str, ...]:
    """This machine's wheelhouses (see :func:`_machine_find_links`); empty on most machines."""
    return MACHINE_FIND_LINKS
