"""``torchlock create`` end to end with the venv backend.

Locks are solved against loopback fixture indexes whose torch family are fixture builds
(tests/support/fake_index.py), so that the real installer (uv, or pip) installs them into
a real virtual environment and the verification probe runs in it. Only PyTorch itself is
a stand-in; torchlock's own code runs as shipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.lockhelp import isolate
from tests.support.cli import run_cli
from tests.support.fake_index import build_fake_torch_index, fake_build
from tests.support.index_server import IndexServer, serve
from torchlock.lockfiles import pylock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
DRIVER = "580.65.06"
TOO_OLD = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). "
    "Please update your GPU driver by downloading and installing a new version."
)


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


@pytest.fixture(scope="session")
def healthy_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """torch 2.5.1 for cu124, cu121 and cu118, every build healthy."""
    builds = {("2.5.1", v): fake_build("2.5.1", v) for v in ("cu124", "cu121", "cu118")}
    tree = build_fake_torch_index(tmp_path_factory.mktemp("healthy-index"), builds)
    server = serve(tree.root, tree)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def old_driver_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """torch 2.5.1: the cu124 build fails "driver too old", cu121 and cu118 are healthy."""
    builds = {
        ("2.5.1", "cu124"): fake_build(
            "2.5.1", "cu124", cuda_available=False, availability_warning=TOO_OLD
        ),
        ("2.5.1", "cu121"): fake_build("2.5.1", "cu121"),
        ("2.5.1", "cu118"): fake_build("2.5.1", "cu118"),
    }
    tree = build_fake_torch_index(tmp_path_factory.mktemp("old-driver-index"), builds)
    server = serve(tree.root, tree)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uv_cache: Path) -> Path:
    """This test's PATH: python{X.Y} (the interpreter running the tests) and uv; nothing else."""
    isolate(monkeypatch, tmp_path)
    folder = tmp_path / "bin"
    folder.mkdir()
    base = getattr(sys, "_base_executable", sys.executable)
    (folder / f"python{PYTHON}").symlink_to(base)
    uv = _uv()
    if uv is not None:
        (folder / "uv").symlink_to(uv)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    for var in ("TORCHLOCK_DRIVER", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_EXE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    monkeypatch.delenv("PYENV_ROOT", raising=False)
    monkeypatch.delenv("TORCHLOCK_ENVS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


def solve_lock(
    capsys: pytest.CaptureFixture[str],
    server: IndexServer,
    path: Path,
    *extra: str,
) -> pylock.Lock:
    argv = ["solve", "--driver", DRIVER, "--gpu-cc", "8.0", "--python", PYTHON]
    argv += ["--platform", "linux-64", "--torch", "2.5.1", "--torch-index", "pytorch"]
    argv += ["--index-url", server.index_url(), "--pytorch-index-url"]
    argv += [f"{server.url}/whl/{{variant}}", "--no-conda"]  # no conda channel to reach
    argv += ["-o", str(path), "--json", *extra]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    return pylock.parse(path.read_text(), str(path))


def create(
    capsys: pytest.CaptureFixture[str], *args: str, json_out: bool = True
) -> tuple[int, Any, str]:
    argv = ["create", "--driver", DRIVER, *args]
    code, out, err = run_cli([*argv, "--json"] if json_out else argv, capsys)
    assert "Traceback" not in err, err
    return code, json.loads(out) if json_out and out.strip() else out, err


def installed(prefix: Path) -> dict[str, str]:
    """name -> version of every distribution in the environment's site-packages."""
    found = {}
    for info in prefix.glob("lib/python*/site-packages/*.dist-info"):
        meta = (info / "METADATA").read_text().splitlines()
        fields = dict(line.split(": ", 1) for line in meta if ": " in line)
        found[fields["Name"]] = fields["Version"]
    return found


needs_linux = pytest.mark.skipif(sys.platform != "linux", reason="the fixture locks are linux-64")


@needs_linux
def test_create_by_name_installs_exactly_the_lock_and_verifies(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    lock = solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    assert lock.target("linux-64").variant == "cu124"
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml")
    assert code == 0, err
    prefix = tmp_path / "data" / "torchlock" / "envs" / "demo"
    assert doc["prefix"] == str(prefix)
    assert doc["backend"] == "venv"
    assert doc["backend_why"] == "auto: no conda, mamba or micromamba found"
    assert doc["report"]["ok"] is True
    assert installed(prefix) == {
        "torch": "2.5.1+cu124",
        "torchvision": "0.20.1+cu124",
        "torchaudio": "2.5.1+cu124",
    }
    checks = {c["id"]: c for c in doc["report"]["checks"]}
    assert checks["torch.installed"]["detail"] == "2.5.1+cu124 as the lock wants"
    # the environment works at its final place: its scripts name it, not the staging folder
    activate = (prefix / "bin" / "activate").read_text()
    assert str(prefix) in activate
    assert ".torchlock-" not in activate
    assert ".torchlock-" not in (prefix / "pyvenv.cfg").read_text()
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["demo"]
    # verify finds it again, by prefix, against the lock
    code, out, err = run_cli(
        ["verify", "--prefix", str(prefix), "--lock", "pylock.toml", "--driver", DRIVER], capsys
    )
    assert code == 0, out + err
    # ... and by the NAME create was given (torchlock's envs folder, not conda's)
    code, out, err = run_cli(
        ["verify", "demo", "--lock", "pylock.toml", "--driver", DRIVER], capsys
    )
    assert code == 0, out + err
    assert out.splitlines()[0].startswith(
        f"verifying {prefix}/bin/python (torchlock environment 'demo' at {prefix})"
    )
    # a second create of another name downloads nothing: every file is in the cache
    downloads = healthy_index.count()
    code, doc, err = create(capsys, "again", "--lock", "pylock.toml")
    assert code == 0, err
    assert doc["downloaded"] == 0
    assert healthy_index.count() == downloads


@needs_linux
def test_text_output_names_backend_phases_and_activation(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    code, out, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", json_out=False)
    assert code == 0, err
    assert "backend: venv (auto: no conda, mamba or micromamba found)" in err
    for phase in ("base", "download", "install", "verify", "place"):
        assert f"  {phase} " in err, err
    assert "attempt: torch 2.5.1+cu124: verified" in err
    prefix = tmp_path / "env"
    assert f"created {prefix}: torch 2.5.1+cu124, 3 packages, verified" in out
    assert f"activate: source {prefix}/bin/activate" in out


@needs_linux
def test_pip_installs_when_uv_is_absent(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    (bin_dir / "uv").unlink(missing_ok=True)
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml", "--variant", "cu121")
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    assert code == 0, err
    assert installed(tmp_path / "env")["torch"] == "2.5.1+cu121"
    assert (tmp_path / "env" / "bin" / "pip").is_file()  # the venv got pip to install with


@needs_linux
def test_failed_verification_leaves_nothing_and_no_fallback_without_the_flag(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    old_driver_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, old_driver_index, tmp_path / "pylock.toml")
    before = (tmp_path / "pylock.toml").read_bytes()
    code, out, err = create(capsys, "demo", "--lock", "pylock.toml", json_out=False)
    assert code == 1
    assert "attempt: torch 2.5.1+cu124: abandoned: verification failed: driver-too-old" in err
    assert "FAIL  torch.cuda.is_available()" in out
    assert "The NVIDIA driver on your system is too old" in out
    assert err.rstrip().splitlines()[-2].startswith("error: the environment did not verify")
    envs = tmp_path / "data" / "torchlock" / "envs"
    assert list(envs.iterdir()) == []
    assert (tmp_path / "pylock.toml").read_bytes() == before


@needs_linux
def test_fallback_walks_to_an_older_variant_and_writes_the_lock_that_passed(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    old_driver_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, old_driver_index, tmp_path / "pylock.toml")
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback")
    assert code == 0, err
    attempts = [(a["torch"], a["variant"], a["ok"]) for a in doc["attempts"]]
    assert attempts == [("2.5.1", "cu124", False), ("2.5.1", "cu121", True)]
    assert "driver-too-old" in doc["attempts"][0]["abandoned"]
    assert doc["lock_written"] == "pylock.toml"
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert lock.target("linux-64").variant == "cu121"
    assert {str(p.name): str(p.version) for p in lock.packages}["torch"] == "2.5.1+cu121"
    assert any("--fallback" in reason for reason in lock.selection.reasons)
    prefix = tmp_path / "data" / "torchlock" / "envs" / "demo"
    assert installed(prefix)["torch"] == "2.5.1+cu121"


@needs_linux
def test_existing_environment_needs_force_and_survives_a_failed_replacement(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    old_driver_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.good.toml")
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.good.toml")
    assert code == 0, err
    marker = tmp_path / "env" / "marker"
    marker.write_text("the old one")
    # without --force: a usage error, nothing built, the old one untouched
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.good.toml", json_out=False)
    assert code == 2
    assert err.startswith("error: an environment already exists at")
    assert "--force" in err
    assert marker.read_text() == "the old one"
    # --force with a build that fails verification: the old one stays
    solve_lock(capsys, old_driver_index, tmp_path / "pylock.bad.toml")
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.bad.toml", "--force")
    assert code == 1
    assert marker.read_text() == "the old one"
    assert sorted(p.name for p in tmp_path.iterdir() if "torchlock-" in p.name) == []
    # --force with a good build: replaced, and only then
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.good.toml", "--force")
    assert code == 0, err
    assert not marker.exists()
    assert installed(tmp_path / "env")["torch"] == "2.5.1+cu124"
    assert sorted(p.name for p in tmp_path.iterdir() if "torchlock-" in p.name) == []


@needs_linux
def test_a_file_whose_hash_does_not_match_the_lock_aborts_and_leaves_nothing(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    from tests.support.index_server import Fault

    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml", "--variant", "cu118")
    torchaudio = "/files/torchaudio-2.5.1+cu118-py3-none-any.whl"
    healthy_index.fail(torchaudio, Fault.replace_body(b"not the locked wheel", times=None))
    try:
        code, _, err = create(capsys, "demo", "--lock", "pylock.toml", json_out=False)
    finally:
        healthy_index.reset()
    assert code == 1
    assert "error: torchaudio-2.5.1+cu118-py3-none-any.whl: sha256 does not match the lock" in err
    envs = tmp_path / "data" / "torchlock" / "envs"
    assert list(envs.iterdir()) == []
    cache_files = list((tmp_path / "cache" / "files").rglob("torchaudio-*"))
    assert cache_files == []  # a bad download never enters the cache


@needs_linux
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--backend", "podman"], "error: unknown backend 'podman'"),
        (["demo", "--lock", "missing.pylock.toml"], "error: no lock at 'missing.pylock.toml'"),
        (["a/b", "--lock", "pylock.toml"], "error: environment name 'a/b' is not a plain name"),
        (["--lock", "pylock.toml"], "error: give the environment's NAME or --prefix DIR"),
        (["demo", "--prefix", "x", "--lock", "pylock.toml"], "error: give NAME or --prefix"),
        (
            ["demo", "--lock", "pylock.win.toml"],
            "error: the lock has no target 'linux-64'",
        ),
        (
            ["demo", "--backend", "micromamba", "--lock", "pylock.toml"],
            "error: --backend micromamba: micromamba is not installed",
        ),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    text = (tmp_path / "pylock.toml").read_text()
    lock = pylock.parse(text, "pylock.toml")
    windows = pylock.render(
        pylock.Lock(
            python=lock.python,
            inputs=lock.inputs,
            selection=lock.selection,
            targets=tuple(dataclasses.replace(t, platform="win-64") for t in lock.targets),
            packages=tuple(dataclasses.replace(p, platforms=("win-64",)) for p in lock.packages),
        )
    )
    (tmp_path / "pylock.win.toml").write_text(windows)
    code, _, err = run_cli(["create", *args], capsys)
    assert code == 2, err
    assert err.startswith(message), err
    assert "Traceback" not in err
    assert not any((tmp_path / "data").rglob("demo"))
    assert "demo" not in os.listdir(tmp_path)


@needs_linux
def test_auto_picks_conda_when_installed_and_builds_in_its_envs_directory(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    from tests.support.fake_conda import write_fake_conda

    envs = tmp_path / "conda" / "envs"
    log = tmp_path / "conda.log"
    conda = write_fake_conda(bin_dir, envs_dir=envs, log=log)
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    code, out, err = create(capsys, "demo", "--lock", "pylock.toml", json_out=False)
    assert code == 0, err
    assert f"backend: conda (auto: conda found at {conda})" in err
    assert "activate: conda activate demo" in out
    calls = log.read_text().splitlines()
    assert calls[0] == "info --json"
    create_call = calls[1].split()
    assert create_call[:3] == ["create", "-y", "-p"]
    assert Path(create_call[3]).parent == envs
    assert Path(create_call[3]).name.startswith(".demo.torchlock-")
    assert create_call[4:] == [f"python={PYTHON}", "pip"]
    assert installed(envs / "demo")["torch"] == "2.5.1+cu124"
    assert sorted(p.name for p in envs.iterdir()) == ["demo"]
    # the prefix was rewritten from the staging name to the final one
    assert ".torchlock-" not in (envs / "demo" / "pyvenv.cfg").read_text()
