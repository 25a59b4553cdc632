"""Exports: golden files, and the shapes their readers expect (conda-lock's own parser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lockfiles.sample import INDEX, TORCH_INDEX, golden, sample_lock
from torchlock.lockfiles import condalock, environment, requirements


def test_requirements_golden() -> None:
    text = requirements.render(sample_lock(), source="pylock.toml")
    assert text == golden("requirements.txt", text)


def test_requirements_for_one_platform_golden() -> None:
    text = requirements.render(sample_lock(), source="pylock.toml", platform="linux-64")
    assert text == golden("requirements.linux-64.txt", text)
    assert " ; " not in text  # one target: no markers
    assert "torch==2.1.2 " in text
    assert "+cu121" not in text


def test_requirements_hash_every_file_and_name_the_indexes() -> None:
    lock = sample_lock()
    text = requirements.render(lock, source="pylock.toml")
    assert f"--index-url {INDEX}\n" in text
    assert f"--extra-index-url {TORCH_INDEX}\n" in text
    for package in lock.packages:
        for file in package.files:
            assert f"--hash=sha256:{file.sha256}" in text, file.name
    entries = re.findall(r"^([a-z0-9-]+)==(\S+)", text, re.MULTILINE)
    assert ("torch", "2.1.2+cu121") in entries
    assert len(entries) == len(lock.packages)


def test_environment_golden() -> None:
    text = environment.render(sample_lock(), source="pylock.toml", name="demo")
    assert text == golden("environment.yml", text)


def test_conda_lock_golden() -> None:
    text = condalock.render(sample_lock(), source="pylock.toml")
    assert text == golden("conda-lock.yml", text)


def test_conda_lock_picks_each_platforms_file() -> None:
    doc = condalock.document(sample_lock(), source="pylock.toml")
    assert doc["version"] == 1
    assert doc["metadata"]["platforms"] == ["linux-64", "win-64"]
    rows = {(p["name"], p["platform"]): p for p in doc["package"]}
    assert rows[("numpy", "linux-64")]["url"].endswith("manylinux2014_x86_64.whl")
    assert rows[("numpy", "win-64")]["url"].endswith("win_amd64.whl")
    assert rows[("torch", "win-64")]["version"] == "2.1.2+cu121"
    assert ("triton", "win-64") not in rows
    assert rows[("torch", "linux-64")]["dependencies"] == {
        "filelock": "*",
        "nvidia-cublas-cu12": "*",
        "triton": "*",
    }
    assert rows[("mpmath", "linux-64")]["url"].endswith("py3-none-any.whl")
    assert all(p["manager"] == "pip" and len(p["hash"]["sha256"]) == 64 for p in doc["package"])


def test_conda_lock_parses_with_conda_lock(tmp_path: Path) -> None:
    lockfile = pytest.importorskip("conda_lock.lockfile")
    path = tmp_path / "conda-lock.yml"
    path.write_text(condalock.render(sample_lock(), source="pylock.toml"), encoding="utf-8")
    parsed = lockfile.parse_conda_lock_file(path)
    assert sorted(parsed.metadata.platforms) == ["linux-64", "win-64"]
    found = {(p.name, p.platform): p for p in parsed.package}
    assert found[("torch", "win-64")].version == "2.1.2+cu121"
    assert found[("torch", "linux-64")].manager == "pip"
    assert len(found) == 10
    for package in parsed.package:
        assert package.hash.sha256 is not None


def test_environment_parses_as_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(environment.render(sample_lock(), source="pylock.toml", name="demo"))
    assert doc["name"] == "demo"
    assert doc["channels"] == ["conda-forge"]
    assert doc["dependencies"][:2] == ["python=3.10", "pip"]
    pip = doc["dependencies"][2]["pip"]
    assert pip[0] == f"--index-url {INDEX}"
    assert any(line.startswith("torch==2.1.2+cu121 ; ") for line in pip)
