"""Exports: golden files, and the shapes their readers expect (conda-lock's own parser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lockfiles.sample import INDEX, golden, sample_lock
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
    # torch comes from two indexes (2.1.2 for linux-64, 2.1.2+cu121 for win-64): its files
    # are named by URL, so the PyTorch index supplies nothing by name and is not named
    assert "--extra-index-url" not in text
    torch = [p for p in lock.packages if p.name == "torch"]
    for package in lock.packages:
        files = package.files if package.name != "torch" else ()
        for file in files:
            assert f"--hash=sha256:{file.sha256}" in text, file.name
    for package in torch:
        for subdir in package.platforms:
            best = package.files_for(subdir, lock.python)[0]
            assert f"torch @ {best.url} ; " in text
            assert f"--hash=sha256:{best.sha256}" in text
    entries = re.findall(r"^([a-z0-9-]+)==(\S+)", text, re.MULTILINE)
    assert len(entries) == len(lock.packages) - len(torch)


def test_environment_golden() -> None:
    text = environment.render(sample_lock(), source="pylock.toml", name="demo")
    assert text == golden("environment.yml", text)


def test_conda_lock_golden() -> None:
    text = condalock.render(sample_lock(), source="pylock.toml")
    assert text == golden("conda-lock.yml", text)


def test_conda_lock_picks_each_platforms_file() -> None:
    doc = condalock.from_lock(sample_lock(), source="pylock.toml")
    assert doc.version == 1
    assert doc.platforms == ("linux-64", "win-64")
    rows = {(p.name, p.platform): p for p in doc.packages}
    assert rows[("numpy", "linux-64")].url.endswith("manylinux2014_x86_64.whl")
    assert rows[("numpy", "win-64")].url.endswith("win_amd64.whl")
    assert rows[("torch", "win-64")].version == "2.1.2+cu121"
    assert ("triton", "win-64") not in rows
    assert rows[("torch", "linux-64")].dependencies == (
        ("filelock", "*"),
        ("nvidia-cublas-cu12", "*"),
        ("triton", "*"),
    )
    assert rows[("mpmath", "linux-64")].url.endswith("py3-none-any.whl")
    pip = [p for p in doc.packages if p.manager is condalock.Manager.PIP]
    assert all(len(p.sha256) == 64 and p.md5 is None and p.build is None for p in pip)


def test_conda_lock_lists_the_conda_base_per_platform() -> None:
    lock = sample_lock()
    doc = condalock.from_lock(lock, source="pylock.toml")
    conda = [p for p in doc.packages if p.manager is condalock.Manager.CONDA]
    assert [(p.name, p.platform) for p in conda] == [
        ("libzlib", "linux-64"),
        ("pip", "linux-64"),
        ("pip", "win-64"),
        ("python", "linux-64"),
        ("python", "win-64"),
        ("ucrt", "win-64"),
    ]
    by_key = {(c.name, c.platform): c for c in lock.conda}
    for entry in conda:
        locked = by_key[(entry.name, entry.platform)]
        assert (entry.md5, entry.sha256) == (locked.md5, locked.sha256)
        assert entry.url == locked.url
        assert entry.build == locked.build
    python = next(p for p in conda if (p.name, p.platform) == ("python", "linux-64"))
    assert python.dependencies == (("__glibc", ">=2.17,<3.0.a0"), ("libzlib", ">=1.2.13,<2.0.0a0"))
    only_win = condalock.from_lock(lock, source="pylock.toml", platform="win-64")
    names = [p.name for p in only_win.packages if p.manager is condalock.Manager.CONDA]
    assert names == ["pip", "python", "ucrt"]


def test_conda_lock_parses_with_conda_lock(tmp_path: Path) -> None:
    lockfile = pytest.importorskip("conda_lock.lockfile")
    path = tmp_path / "conda-lock.yml"
    path.write_text(condalock.render(sample_lock(), source="pylock.toml"), encoding="utf-8")
    parsed = lockfile.parse_conda_lock_file(path)
    assert sorted(parsed.metadata.platforms) == ["linux-64", "win-64"]
    found = {(p.name, p.platform): p for p in parsed.package}
    assert found[("torch", "win-64")].version == "2.1.2+cu121"
    assert found[("torch", "linux-64")].manager == "pip"
    assert found[("python", "win-64")].manager == "conda"
    assert found[("python", "win-64")].hash.md5 is not None
    assert len(found) == 10 + len(sample_lock().conda)
    for package in parsed.package:
        assert package.hash.sha256 is not None


def test_environment_for_one_platform_pins_its_conda_builds() -> None:
    doc = environment.from_lock(sample_lock(), source="pylock.toml", name="demo", platform="win-64")
    assert [str(c) for c in doc.conda] == [
        "pip=24.2=pyh8b19718_1",
        "python=3.10.14=h4de0772_0_cpython",
        "ucrt=10.0.22621.0=h57928b3_1",
    ]


def test_environment_parses_as_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(environment.render(sample_lock(), source="pylock.toml", name="demo"))
    assert doc["name"] == "demo"
    assert doc["channels"] == ["conda-forge"]
    assert doc["dependencies"][:2] == ["python=3.10.14", "pip=24.2"]
    pip = doc["dependencies"][2]["pip"]
    # every package by the file it installs, its sha256 in the URL: no index option and
    # no --hash, which conda-lock's parser refuses
    assert all(re.match(r"^[a-z0-9-]+ @ http\S+#sha256=[0-9a-f]{64}( ; .+)?$", p) for p in pip)
    assert any(line.startswith("torch @ http") and "win32" in line for line in pip)


def test_environment_is_read_by_conda_lock(tmp_path: Path) -> None:
    pytest.importorskip("conda_lock")
    from conda_lock.src_parser.environment_yaml import parse_environment_file

    path = tmp_path / "environment.yml"
    path.write_text(environment.render(sample_lock(), source="pylock.toml", name="demo"))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("{}\n")  # the PyPI-to-conda name mapping conda-lock would fetch
    with pytest.warns(UserWarning, match="platform_machine"):  # conda-lock's, on markers
        spec = parse_environment_file(path, ["linux-64", "win-64"], mapping_url=str(mapping))
    for platform, has in (("linux-64", "triton"), ("win-64", None)):
        names = {d.name for d in spec.dependencies[platform] if d.manager == "pip"}
        assert {"torch", "numpy", "filelock"} <= names
        assert ("triton" in names) is (has is not None)
