"""Shared by the lockfile CLI tests: isolation from this machine, and a spec over fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer

PIP_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "PIP_NO_INDEX",
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
    "PIP_CERT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "TORCHLOCK_DRIVER",
    "TORCHLOCK_CACHE_DIR",
    "TORCHLOCK_PYTORCH_INDEX_URL",
    "TORCHLOCK_NO_CONDA",
)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in PIP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("TORCHLOCK_CACHE_DIR", str(tmp_path / "cache"))
    # no conda channel is reachable from the tests: a lock's conda base is solved only
    # where a test serves a channel of its own (and removes this)
    monkeypatch.setenv("TORCHLOCK_NO_CONDA", "1")


def spec_text(
    index: IndexServer,
    *,
    python: str = "3.10",
    platforms: tuple[str, ...] = ("linux-64",),
    requirements: tuple[str, ...] = (),
    pytorch: IndexServer | None = None,
    lock: str | None = None,
    conda_channel: str | None = None,
) -> str:
    """A spec over the fixture indexes; without ``conda_channel`` it says ``no-conda``."""
    lines = [
        f'python = "{python}"',
        "platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]",
        'torch = "2.1.2"',
        'variant = "cu121"',
        'driver = "580.65.06"',
        'gpu-cc = ["8.0"]',
        f'index-url = "{index.index_url()}"',
    ]
    if requirements:
        lines.append("requirements = [" + ", ".join(f'"{r}"' for r in requirements) + "]")
    if pytorch is not None:
        lines.append(f'pytorch-index-url = "{pytorch.url}/whl/{{variant}}"')
    if lock is not None:
        lines.append(f'lock = "{lock}"')
    if conda_channel is None:
        lines.append("no-conda = true")
    else:
        lines.append(f'conda-channels = ["{conda_channel}"]')
    return "\n".join(lines) + "\n"
