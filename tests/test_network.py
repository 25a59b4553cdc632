"""``torchlock solve`` against the real index this machine's pip is configured with.

Marked ``network``: it runs only when asked for (``pytest -m network``). It checks the
pins of the torch 2.1.2 cu121 closure on linux-64 and that torch's dependencies in the
result are exactly what torch's published metadata asks for on that target.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.cli import run_cli
from torchlock.index.client import IndexClient, Routing
from torchlock.pipconfig import default_index, pip_default_index, read_pip_settings

pytestmark = pytest.mark.network

HEX64 = re.compile(r"^[0-9a-f]{64}$")
EXPECTED = {
    "torch": "2.1.2",
    "torchvision": "0.16.2",
    "torchaudio": "2.1.2",
    "nvidia-cuda-runtime-cu12": "12.1.105",
    "triton": "2.1.0",
}
# The PEP 508 environment of CPython 3.10 on Linux x86_64, spelled out here rather than
# taken from torchlock, so that the check does not share torchlock's answer.
LINUX_X86_64_CP310 = {
    "implementation_name": "cpython",
    "implementation_version": "3.10.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.10.0",
    "python_version": "3.10",
    "sys_platform": "linux",
    "extra": "",
}


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _configured_index() -> str:
    """The index ``torchlock solve`` uses without --index-url: pip's configured one."""
    settings = read_pip_settings(
        os.environ, _read_text, platform.system(), str(Path.home()), sys.prefix
    )
    url, _source = default_index(settings, pip_default_index())
    return url


def test_solve_against_the_configured_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        [
            "solve",
            "--driver",
            "580.65.06",
            "--gpu-cc",
            "8.0",
            "--python",
            "3.10",
            "--platform",
            "linux-64",
            "--torch",
            "2.1.2",
            "--variant",
            "cu121",
            "--torch-index",
            "default",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    [target] = json.loads(out)["targets"]
    pins: dict[str, dict[str, Any]] = {p["name"]: p for p in target["packages"]}
    for name, version in EXPECTED.items():
        assert name in pins, name
        assert pins[name]["version"] == version, name
    for pin in pins.values():
        assert pin["files"], pin["name"]
        for entry in pin["files"]:
            assert HEX64.match(entry["sha256"]), entry

    # torch's dependencies equal its published Requires-Dist that apply to the target
    torch_file = pins["torch"]["files"][0]["filename"]
    with IndexClient(
        Routing(default_index=_configured_index()), cache_dir=tmp_path / "metadata-cache"
    ) as client:
        [artifact] = [a for a in client.artifacts("torch") if a.filename == torch_file]
        assert artifact.version == Version("2.1.2")
        metadata = client.metadata(artifact)
    environment = LINUX_X86_64_CP310  # every PEP 508 variable, and no extra asked
    wanted = sorted(
        {
            canonicalize_name(requirement.name)
            for requirement in metadata.requires_dist
            if _applies(requirement, environment)
        }
    )
    assert "triton" in wanted
    assert "nvidia-cuda-runtime-cu12" in wanted
    assert sorted(pins["torch"]["dependencies"]) == wanted


def _applies(requirement: Requirement, environment: dict[str, str]) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(environment)
