"""``torchlock create`` end to end with the venv backend.

Locks are solved against loopback fixture indexes whose torch family are fixture builds
(tests/support/fake_index.py), so that the real installer (uv, or pip) installs them into
a real virtual environment and the verification probe runs in it. Only PyTorch itself is
a stand-in; torchlock's own code runs as shipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.cli.lockhelp import isolate
from tests.support.cli import run_cli
from tests.support.fake_index import build_fake_torch_index, build_mirror_index, fake_build
from tests.support.fake_torch import FakeTorch
from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import TLS_CA, IndexServer, serve
from torchlock.lockfiles import pylock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
DRIVER = "580.65.06"
TOO_OLD = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). "
    "Please update your GPU driver by downloading and installing a new version."
)


def _cu124_too_old(*healthy: str) -> dict[tuple[str, str], FakeTorch]:
    """torch 2.5.1 whose cu124 build fails "driver too old", and ``healthy`` variants."""
    builds = {
        ("2.5.1", "cu124"): fake_build(
            "2.5.1", "cu124", cuda_available=False, availability_warning=TOO_OLD
        )
    }
    builds.update({("2.5.1", variant): fake_build("2.5.1", variant) for variant in healthy})
    return builds


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
    builds = _cu124_too_old("cu121", "cu118")
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
    """name -> version of every distribution the lock put in the environment's
    site-packages (pip and setuptools, which the base brings along, left out)."""
    found = {}
    for info in prefix.glob("lib/python*/site-packages/*.dist-info"):
        meta = (info / "METADATA").read_text().splitlines()
        fields = dict(line.split(": ", 1) for line in meta if ": " in line)
        if fields["Name"] not in ("pip", "setuptools"):
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
    _imports_from_its_own_bytecode(prefix)
    _has_a_working_pip(prefix)
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
def test_downloads_over_https_trust_pips_cert_setting(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    builds = {("2.5.1", "cu124"): fake_build("2.5.1", "cu124")}
    tree = build_fake_torch_index(tmp_path / "index", builds)
    server = serve(tree.root, tree, tls=True)
    try:
        monkeypatch.setenv("PIP_CERT", str(TLS_CA))
        solve_lock(capsys, server, tmp_path / "pylock.toml")
        monkeypatch.delenv("PIP_CERT")
        code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", json_out=False)
        assert code == 6, err
        assert "the server's certificate is not trusted" in err
        assert "PIP_CERT" in err
        assert not (tmp_path / "env").exists()
        monkeypatch.setenv("PIP_CERT", str(TLS_CA))
        code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    finally:
        server.stop()
    assert code == 0, err
    assert installed(tmp_path / "env")["torch"] == "2.5.1+cu124"


@needs_linux
def test_a_private_index_with_a_netrc_login_serves_downloads_and_the_fallback(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    builds = _cu124_too_old("cu121")
    tree = build_fake_torch_index(tmp_path / "index", builds)
    server = serve(tree.root, tree)
    server.require_auth("alice", "s3cret")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    try:
        solve_lock(capsys, server, tmp_path / "pylock.toml")
        monkeypatch.setenv("TORCHLOCK_CACHE_DIR", str(tmp_path / "fresh-cache"))
        code, doc, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", "--fallback")
    finally:
        server.stop()
    assert code == 0, err  # every download and the fallback's solve sent the login
    assert [a["variant"] for a in doc["attempts"]] == ["cu124", "cu121"]
    assert installed(tmp_path / "env")["torch"] == "2.5.1+cu121"
    assert "s3cret" not in (tmp_path / "pylock.toml").read_text(encoding="utf-8")
    assert all(r.headers.get("authorization") for r in server.requests())


@needs_linux
def test_a_fallback_over_https_trusts_pips_cert_setting(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    builds = _cu124_too_old("cu121")
    tree = build_fake_torch_index(tmp_path / "index", builds)
    server = serve(tree.root, tree, tls=True)
    monkeypatch.setenv("PIP_CERT", str(TLS_CA))
    try:
        solve_lock(capsys, server, tmp_path / "pylock.toml")
        monkeypatch.setenv("TORCHLOCK_CACHE_DIR", str(tmp_path / "fresh-cache"))
        code, doc, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", "--fallback")
    finally:
        server.stop()
    assert code == 0, err  # the fallback solved again over https, trusting the same CA
    assert [(a["variant"], a["ok"]) for a in doc["attempts"]] == [
        ("cu124", False),
        ("cu121", True),
    ]


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
def test_without_uv_installer_installs_the_wheels_and_pip_is_there(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    (bin_dir / "uv").unlink(missing_ok=True)
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml", "--variant", "cu121")
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    assert code == 0, err
    prefix = tmp_path / "env"
    assert installed(prefix)["torch"] == "2.5.1+cu121"
    assert (prefix / "bin" / "pip").is_file()  # the bundled pip, installed with the rest
    # the wheels were installed by installer (pip's file layout), and compiled
    [record] = prefix.glob("lib/python*/site-packages/torch-*.dist-info/INSTALLER")
    assert record.read_text() == "torchlock\n"
    _imports_from_its_own_bytecode(prefix)
    _has_a_working_pip(prefix)


@pytest.fixture(scope="session")
def sdist_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """torch 2.5.1 cu124, and on the default index two projects that publish only sdists:
    one whose PKG-INFO fixes its dependencies (PEP 643), one whose backend must be asked."""
    builds = {("2.5.1", "cu124"): fake_build("2.5.1", "cu124")}
    tree = build_fake_torch_index(tmp_path_factory.mktemp("sdist-index"), builds)
    tree.add_sdist("simple", "static-helper", "1.0", requires_dist=["tiny-dep"])
    tree.add_sdist(
        "simple",
        "dynamic-helper",
        "2.0",
        requires_dist=["never-built"],  # PKG-INFO 2.1 says this; the backend says otherwise
        static=False,
        built_requires_dist=["tiny-dep>=1"],
    )
    tree.add_wheel("simple", "tiny-dep", "1.2")
    # flash-attn's shape: its backend imports torch, and must meet the locked one
    tree.add_sdist(
        "simple",
        "cuda-ext",
        "2.0",
        static=False,
        built_requires_dist=["tiny-dep"],
        backend_prelude=CUDA_EXT_PRELUDE,
    )
    tree.write()
    server = serve(tree.root, tree)
    yield server
    server.stop()


CUDA_EXT_PRELUDE = """
import torch
assert torch.__version__ == "2.5.1+cu124", "built against torch " + torch.__version__
"""


@needs_linux
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_sdist_only_dependencies_are_locked_and_built_into_the_environment(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    sdist_index: IndexServer,
    tmp_path: Path,
    installer: str,
) -> None:
    if installer == "pip":
        (bin_dir / "uv").unlink(missing_ok=True)
    lock = solve_lock(
        capsys,
        sdist_index,
        tmp_path / "pylock.toml",
        "--with",
        "static-helper",
        "--with",
        "dynamic-helper",
    )
    packages = {str(p.name): p for p in lock.packages}
    assert sorted(packages) == sorted(
        ["dynamic-helper", "static-helper", "tiny-dep", "torch", "torchaudio", "torchvision"]
    )
    for name in ("static-helper", "dynamic-helper"):
        assert packages[name].wheels == ()
        sdist = packages[name].sdist
        assert sdist is not None
        assert sdist.name.endswith(".tar.gz")
        assert re.fullmatch(r"[0-9a-f]{64}", sdist.sha256)
    # the backend's answer, not PKG-INFO's (which PEP 643 does not let us trust here)
    assert packages["dynamic-helper"].dependencies == ("tiny-dep",)
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    assert code == 0, err
    found = installed(tmp_path / "env")
    assert found["static-helper"] == "1.0"
    assert found["dynamic-helper"] == "2.0"
    assert found["tiny-dep"] == "1.2"


@needs_linux
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_an_sdist_that_imports_torch_is_locked_and_built_against_the_locked_torch(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    sdist_index: IndexServer,
    tmp_path: Path,
    installer: str,
) -> None:
    if installer == "pip":
        (bin_dir / "uv").unlink(missing_ok=True)
    path = tmp_path / "pylock.toml"
    argv = ["--with", "cuda-ext", "--build-with-torch", "Cuda_Ext"]
    lock = solve_lock(capsys, sdist_index, path, *argv)
    packages = {str(p.name): p for p in lock.packages}
    assert packages["cuda-ext"].dependencies == ("tiny-dep",)  # its backend's answer
    assert lock.inputs.build_with_torch == ("cuda-ext",)
    assert 'build-with-torch = ["cuda-ext"]' in path.read_text()
    code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", json_out=False)
    assert code == 0, err
    assert "  build " in err
    assert "cuda-ext against the environment's torch" in err
    # the wheel built against the environment's torch; nothing else was added to it
    assert installed(tmp_path / "env") == {
        "cuda-ext": "2.0",
        "tiny-dep": "1.2",
        "torch": "2.5.1+cu124",
        "torchvision": "0.20.1+cu124",
        "torchaudio": "2.5.1+cu124",
    }


@needs_linux
def test_without_the_switch_a_torch_importing_sdist_says_what_to_do(
    capsys: pytest.CaptureFixture[str], sdist_index: IndexServer, tmp_path: Path
) -> None:
    argv = ["solve", "--driver", DRIVER, "--gpu-cc", "8.0", "--python", PYTHON]
    argv += ["--platform", "linux-64", "--torch", "2.5.1", "--torch-index", "pytorch"]
    argv += ["--index-url", sdist_index.index_url(), "--pytorch-index-url"]
    argv += [f"{sdist_index.url}/whl/{{variant}}", "--no-conda", "--with", "cuda-ext"]
    code, _, err = run_cli(argv, capsys)
    assert code == 8, err
    assert err.startswith("error: cuda-ext 2.0 needs torch installed to build")
    assert "build it against the locked torch with --build-with-torch cuda-ext" in err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a/b", "error: 'a/b' is not a project name"),
        ("", "error: invalid value for '--build-with-torch': an empty value"),
        ("torch", "error: torch cannot build against torch: it is of the torch family"),
    ],
)
def test_a_bad_build_with_torch_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str, message: str
) -> None:
    for command in (["solve", "--no-conda"], ["create", "--prefix", str(tmp_path / "env")]):
        code, _, err = run_cli([*command, "--build-with-torch", value], capsys)
        assert code == 2, err
        assert err.splitlines()[0].startswith(message)
    assert not (tmp_path / "env").exists()


@needs_linux
def test_a_pylock_written_by_uv_is_created_and_verified(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed")
    (tmp_path / "requirements.in").write_text(
        "torch==2.5.1+cu124\ntorchvision==0.20.1+cu124\ntorchaudio==2.5.1+cu124\n"
    )
    argv = [uv, "pip", "compile", "requirements.in", "-o", "pylock.toml", "--quiet"]
    argv += ["--index-url", f"{healthy_index.url}/whl/cu124", "--python-version", PYTHON]
    argv += ["--python", getattr(sys, "_base_executable", sys.executable)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env |= {"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'created-by = "uv"' in (tmp_path / "pylock.toml").read_text()
    code, doc, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    assert code == 0, err
    assert installed(tmp_path / "env") == {
        "torch": "2.5.1+cu124",
        "torchvision": "0.20.1+cu124",
        "torchaudio": "2.5.1+cu124",
    }
    checks = {c["id"]: c for c in doc["report"]["checks"]}
    assert checks["torch.installed"]["status"] == "pass"
    _has_a_working_pip(tmp_path / "env")
    # a fallback solves the lock's inputs again: a lock without them cannot
    code, _, err = create(capsys, "--prefix", "env2", "--lock", "pylock.toml", "--fallback")
    assert code == 2
    assert "--fallback needs a lock torchlock wrote" in err
    assert not (tmp_path / "env2").exists()


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
def test_fallback_resolves_again_with_the_locks_extra_index(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    old_driver_index: IndexServer,
    index_tree: FixtureIndex,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    index_tree.add_wheel("simple", "private-helper", "1.0")
    index_tree.write()
    extra = ["--with", "private-helper", "--extra-index-url", index_server.index_url()]
    lock = solve_lock(capsys, old_driver_index, tmp_path / "pylock.toml", *extra)
    assert lock.inputs.extra_index_urls == (index_server.index_url(),)
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback")
    assert code == 0, err  # the re-solve of the fallback found private-helper again
    assert [a["variant"] for a in doc["attempts"]] == ["cu124", "cu121"]
    relocked = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert relocked.inputs.extra_index_urls == (index_server.index_url(),)
    assert "private-helper" in {str(p.name) for p in relocked.packages}


def _walk_past_an_unsolvable_cu121(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    **limits: int,
) -> tuple[int, Any, str]:
    """create --fallback where cu124 fails verification, cu121 no longer solves and cu118
    is healthy, with the fallback's limits set to ``limits``."""
    from torchlock.workflows import creating

    builds = _cu124_too_old("cu121", "cu118")
    tree = build_fake_torch_index(tmp_path / "index", builds)
    server = serve(tree.root, tree)
    try:
        solve_lock(capsys, server, tmp_path / "pylock.toml")
        del tree.projects["whl/cu121"]["torchvision"]  # cu121 no longer solves
        shutil.rmtree(tree.root / "whl" / "cu121" / "torchvision")
        tree.write()
        monkeypatch.setenv("TORCHLOCK_CACHE_DIR", str(tmp_path / "fresh-cache"))
        for name, value in limits.items():
            monkeypatch.setattr(creating, name, value)
        return create(capsys, "demo", "--lock", "pylock.toml", "--fallback")
    finally:
        server.stop()


@needs_linux
def test_fallback_candidates_that_do_not_solve_do_not_use_up_the_builds(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # the failed build and one more may be built
    code, doc, err = _walk_past_an_unsolvable_cu121(capsys, monkeypatch, tmp_path, FALLBACK_LIMIT=2)
    assert code == 0, err
    attempts = [(a["variant"], a["ok"]) for a in doc["attempts"]]
    assert attempts == [("cu124", False), ("cu121", False), ("cu118", True)]
    assert "could not solve" in doc["attempts"][1]["abandoned"]


@needs_linux
def test_fallback_stops_after_its_limit_of_unsolvable_candidates(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    code, doc, err = _walk_past_an_unsolvable_cu121(
        capsys, monkeypatch, tmp_path, UNSOLVABLE_LIMIT=1
    )
    assert code == 1, err
    assert [a["variant"] for a in doc["attempts"]] == ["cu124", "cu121"]  # not on to cu118
    assert "could not solve" in doc["attempts"][1]["abandoned"]
    assert not (tmp_path / "data" / "torchlock" / "envs" / "demo").exists()


@needs_linux
def test_force_never_replaces_what_is_not_an_environment(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    afile = tmp_path / "afile"
    afile.write_text("also mine")
    for place in (folder, afile):
        for force in ([], ["--force"]):
            argv = ["--prefix", str(place), "--lock", "pylock.toml", *force]
            code, _, err = create(capsys, *argv, json_out=False)
            assert code == 2
            assert f"{place} exists and is not an environment" in err
    assert (folder / "notes.txt").read_text() == "mine"
    assert afile.read_text() == "also mine"
    assert sorted(p.name for p in tmp_path.iterdir() if "torchlock-" in p.name) == []


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
            targets=tuple(msgspec.structs.replace(t, platform="win-64") for t in lock.targets),
            packages=tuple(
                msgspec.structs.replace(p, platforms=("win-64",)) for p in lock.packages
            ),
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
    # built at its final prefix: nothing in it is rewritten afterwards
    assert create_call == ["create", "-y", "-p", str(envs / "demo"), f"python={PYTHON}", "pip"]
    assert installed(envs / "demo")["torch"] == "2.5.1+cu124"
    assert sorted(p.name for p in envs.iterdir()) == ["demo"]
    _imports_from_its_own_bytecode(envs / "demo")
    _has_a_working_pip(envs / "demo")


def _has_a_working_pip(prefix: Path) -> None:
    """Users pip install into what they were given: pip is there and sees no conflict."""
    python = str(prefix / "bin" / "python")
    for argv in ([python, "-m", "pip", "--version"], [python, "-m", "pip", "check"]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)


def _imports_from_its_own_bytecode(prefix: Path) -> None:
    """The environment imports torch from its bytecode (compiled at install, and written
    by the verification: bytecode writing is on, as on a user's machine); every .pyc names
    the final prefix."""
    python = prefix / "bin" / "python"
    caches = list(prefix.glob("lib/python*/site-packages/torch/__pycache__/*.pyc"))
    assert caches, "no bytecode in the environment"
    # compiled at install, every module: not only what the verification imported
    # (pip's own install command, say, which nothing has run yet)
    site = next(prefix.glob("lib/python*/site-packages"))
    command = site / "pip" / "_internal" / "commands" / "install.py"
    if command.is_file():
        assert list(command.parent.glob("__pycache__/install.*.pyc")), "not compiled"
    for pyc in caches:
        assert b".torchlock-" not in pyc.read_bytes(), pyc
    done = subprocess.run(
        [str(python), "-c", "import torch, torchvision; print(torch.__file__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(prefix))


# --- --fallback to an older torch release -------------------------------------------------

NO_KERNEL = "CUDA error: no kernel image is available for execution on the device"
NVJITLINK = (
    "libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12"
)


def _serve_builds(
    factory: pytest.TempPathFactory, name: str, builds: dict[tuple[str, str], Any]
) -> IndexServer:
    tree = build_fake_torch_index(factory.mktemp(name), builds)
    return serve(tree.root, tree)


@pytest.fixture(scope="session")
def old_torch_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """Every variant of torch 2.5.1 fails in a way an older build fixes; 2.5.0 has no cu124
    build on the index and a healthy cu121 one."""
    server = _serve_builds(
        tmp_path_factory,
        "old-torch-index",
        {
            ("2.5.1", "cu124"): fake_build(
                "2.5.1", "cu124", cuda_available=False, availability_warning=TOO_OLD
            ),
            ("2.5.1", "cu121"): fake_build("2.5.1", "cu121", kernel_error=NO_KERNEL),
            ("2.5.1", "cu118"): fake_build("2.5.1", "cu118", kernel_error=NO_KERNEL),
            ("2.5.0", "cu121"): fake_build("2.5.0", "cu121"),
            ("2.5.0", "cu118"): fake_build("2.5.0", "cu118"),
        },
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nothing_passes_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """torch 2.5.1 and 2.5.0, every variant failing with a fallback-able failure."""
    builds = {}
    for release in ("2.5.1", "2.5.0"):
        for variant in ("cu124", "cu121"):
            builds[(release, variant)] = fake_build(
                release, variant, cuda_available=False, availability_warning=TOO_OLD
            )
        builds[(release, "cu118")] = fake_build(release, "cu118", kernel_error=NO_KERNEL)
    server = _serve_builds(tmp_path_factory, "nothing-passes-index", builds)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nvjitlink_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """torch 2.5.1+cu124 fails to import (nvJitLink undefined symbol); cu121 is healthy."""
    server = _serve_builds(
        tmp_path_factory,
        "nvjitlink-index",
        {
            ("2.5.1", "cu124"): fake_build("2.5.1", "cu124", import_error=NVJITLINK),
            ("2.5.1", "cu121"): fake_build("2.5.1", "cu121"),
        },
    )
    yield server
    server.stop()


def _attempt_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("attempt: ")]


@needs_linux
def test_fallback_walks_past_every_variant_to_an_older_torch_release(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    old_torch_index: IndexServer,
    tmp_path: Path,
) -> None:
    lock = solve_lock(capsys, old_torch_index, tmp_path / "pylock.toml", "--torch", "2.5")
    assert (str(lock.selection.torch), lock.target("linux-64").variant) == ("2.5.1", "cu124")
    code, out, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback", json_out=False)
    assert code == 0, err
    # older variants of the same torch first, then the older torch; each abandoned one
    # printed with its reason
    lines = _attempt_lines(err)
    assert lines[0] == (
        "attempt: torch 2.5.1+cu124: abandoned: verification failed: driver-too-old "
        "(an older build may fix it)"
    )
    assert lines[1] == (
        "attempt: torch 2.5.1+cu121: abandoned: verification failed: gpu-arch-unsupported "
        "(an older build may fix it)"
    )
    assert lines[2] == (
        "attempt: torch 2.5.1+cu118: abandoned: verification failed: gpu-arch-unsupported "
        "(an older build may fix it)"
    )
    assert lines[3].startswith("attempt: torch 2.5.0+cu124: abandoned: could not solve: ")
    assert lines[4] == "attempt: torch 2.5.0+cu121: verified"
    assert len(lines) == 5
    prefix = tmp_path / "data" / "torchlock" / "envs" / "demo"
    assert f"created {prefix}: torch 2.5.0+cu121, 3 packages, verified" in out
    assert "wrote pylock.toml (the build that passed)" in out
    assert installed(prefix) == {
        "torch": "2.5.0+cu121",
        "torchvision": "0.20.0+cu121",
        "torchaudio": "2.5.0+cu121",
    }
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["demo"]  # no staging left
    # the lock now pins the build that passed, and says why
    written = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert str(written.selection.torch) == "2.5.0"
    assert written.target("linux-64").variant == "cu121"
    versions = {str(p.name): str(p.version) for p in written.packages}
    assert versions == {
        "torch": "2.5.0+cu121",
        "torchvision": "0.20.0+cu121",
        "torchaudio": "2.5.0+cu121",
    }
    reason = next(r for r in written.selection.reasons if "--fallback" in r)
    assert "2.5.1+cu124 (driver-too-old)" in reason
    assert "2.5.1+cu118 (gpu-arch-unsupported)" in reason
    assert written.inputs == lock.inputs  # what the user asked for stays as it was
    # ... and the environment verifies against it
    code, out, err = run_cli(
        ["verify", "demo", "--lock", "pylock.toml", "--driver", DRIVER], capsys
    )
    assert code == 0, out + err


@needs_linux
def test_fallback_with_no_passing_candidate_lists_every_attempt_and_leaves_nothing(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    nothing_passes_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, nothing_passes_index, tmp_path / "pylock.toml", "--torch", "2.5")
    before = (tmp_path / "pylock.toml").read_bytes()
    code, out, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback", json_out=False)
    assert code == 1
    builds = [line.split(":")[1].strip() for line in _attempt_lines(err)]
    assert builds == [
        "torch 2.5.1+cu124",
        "torch 2.5.1+cu121",
        "torch 2.5.1+cu118",
        "torch 2.5.0+cu124",
        "torch 2.5.0+cu121",
        "torch 2.5.0+cu118",
    ]
    for line in _attempt_lines(err):
        assert ": abandoned: verification failed: " in line, line
        assert line.endswith("(an older build may fix it)"), line
    assert "error: the environment did not verify; nothing was created at" in err
    assert "gpu-arch-unsupported" in out  # the last build's report, with cause and fix
    assert "cause: " in out
    assert "fix: " in out
    envs = tmp_path / "data" / "torchlock" / "envs"
    assert list(envs.iterdir()) == []
    assert (tmp_path / "pylock.toml").read_bytes() == before
    # the same with --json: every attempt in the document
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback")
    assert code == 1
    assert doc["ok"] is False
    assert [(a["torch"], a["variant"], a["ok"]) for a in doc["attempts"]] == [
        (torch, variant, False)
        for torch in ("2.5.1", "2.5.0")
        for variant in ("cu124", "cu121", "cu118")
    ]
    assert all(a["report"]["ok"] is False for a in doc["attempts"])
    assert list(envs.iterdir()) == []
    assert (tmp_path / "pylock.toml").read_bytes() == before


@needs_linux
def test_a_failure_an_older_build_cannot_fix_stops_at_once_with_cause_and_fix(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    nvjitlink_index: IndexServer,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, nvjitlink_index, tmp_path / "pylock.toml")
    before = (tmp_path / "pylock.toml").read_bytes()
    start = len(nvjitlink_index.requests())
    code, out, err = create(capsys, "demo", "--lock", "pylock.toml", "--fallback", json_out=False)
    assert code == 1
    assert _attempt_lines(err) == [
        "attempt: torch 2.5.1+cu124: abandoned: verification failed: "
        "nvjitlink-undefined-symbol (an older build cannot fix this: no fallback)"
    ]
    assert "undefined symbol: __nvJitLinkAddData_12_1" in out
    assert "[nvjitlink-undefined-symbol]" in out
    cause = out.split("cause: ", 1)[1]
    fix = " ".join(cause.split("fix: ", 1)[1].split())
    assert fix.startswith("Take the CUDA toolkit's lib64 directory out of LD_LIBRARY_PATH")
    assert "error: the environment did not verify" in err
    # no fallback: the healthy cu121 build was never solved for nor downloaded
    later = nvjitlink_index.requests()[start:]
    assert later, "the cu124 files were downloaded"
    assert not [r.path for r in later if "cu121" in r.path]
    envs = tmp_path / "data" / "torchlock" / "envs"
    assert list(envs.iterdir()) == []
    assert (tmp_path / "pylock.toml").read_bytes() == before


# --- --mirror -----------------------------------------------------------------------------


@pytest.fixture
def mirror_of(tmp_path: Path) -> Iterator[Any]:
    """Serves a mirror of a fixture index's torch wheels on a second loopback server."""
    servers: list[IndexServer] = []

    def start(
        source: IndexServer, *, lacking: tuple[str, ...] = (), altered: tuple[str, ...] = ()
    ) -> IndexServer:
        assert source.tree is not None
        tree = build_mirror_index(
            tmp_path / f"mirror-{len(servers)}", source.tree, lacking=lacking, altered=altered
        )
        server = serve(tree.root, tree)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _wheel_requests(server: IndexServer, since: int) -> list[str]:
    return sorted(
        r.path.rsplit("/", 1)[1] for r in server.requests()[since:] if r.path.endswith(".whl")
    )


LOCKED_CU124 = [
    "torch-2.5.1+cu124-py3-none-any.whl",
    "torchaudio-2.5.1+cu124-py3-none-any.whl",
    "torchvision-0.20.1+cu124-py3-none-any.whl",
]


@needs_linux
def test_mirror_url_serves_every_locked_file_and_the_index_serves_none(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    mirror_of: Any,
    tmp_path: Path,
) -> None:
    lock = solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    mirror = mirror_of(healthy_index)
    assert mirror.url != healthy_index.url
    assert all(healthy_index.url in f.url for p in lock.packages for f in p.files)
    start = len(healthy_index.requests())
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml", "--mirror", mirror.index_url())
    assert code == 0, err
    assert doc["downloaded"] == 3
    assert _wheel_requests(mirror, 0) == LOCKED_CU124
    assert _wheel_requests(healthy_index, start) == []
    prefix = tmp_path / "data" / "torchlock" / "envs" / "demo"
    assert installed(prefix)["torch"] == "2.5.1+cu124"


@needs_linux
def test_a_file_the_mirror_lacks_comes_from_the_lock_url(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    mirror_of: Any,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    mirror = mirror_of(healthy_index, lacking=("torchaudio-2.5.1+cu124-py3-none-any.whl",))
    start = len(healthy_index.requests())
    code, doc, err = create(capsys, "demo", "--lock", "pylock.toml", "--mirror", mirror.index_url())
    assert code == 0, err
    assert _wheel_requests(mirror, 0) == [
        "torch-2.5.1+cu124-py3-none-any.whl",
        "torchvision-0.20.1+cu124-py3-none-any.whl",
    ]
    assert _wheel_requests(healthy_index, start) == ["torchaudio-2.5.1+cu124-py3-none-any.whl"]
    assert doc["packages"] == {
        "torch": "2.5.1+cu124",
        "torchvision": "0.20.1+cu124",
        "torchaudio": "2.5.1+cu124",
    }


@needs_linux
def test_a_mirror_file_whose_hash_differs_from_the_lock_aborts_and_leaves_nothing(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    mirror_of: Any,
    tmp_path: Path,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    altered = "torchvision-0.20.1+cu124-py3-none-any.whl"
    mirror = mirror_of(healthy_index, altered=(altered,))
    start = len(healthy_index.requests())
    code, _, err = create(
        capsys, "demo", "--lock", "pylock.toml", "--mirror", mirror.index_url(), json_out=False
    )
    assert code == 1
    assert f"error: {altered}: sha256 does not match the lock" in err
    assert f"from {mirror.url}/" in err
    assert altered in _wheel_requests(mirror, 0)
    assert altered not in _wheel_requests(healthy_index, start)  # no silent second source
    envs = tmp_path / "data" / "torchlock" / "envs"
    assert list(envs.iterdir()) == []
    assert list((tmp_path / "cache" / "files").rglob("torchvision-*")) == []


@needs_linux
@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("nowhere", "error: unknown mirror 'nowhere'"),
        ("http://192.0.2.1/simple", "error: --mirror: refusing plain-http package index"),
    ],
)
def test_a_bad_mirror_is_a_usage_error_before_any_work(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
    mirror: str,
    message: str,
) -> None:
    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    code, _, err = create(
        capsys, "demo", "--lock", "pylock.toml", "--mirror", mirror, json_out=False
    )
    assert code == 2, err
    assert err.startswith(message), err
    assert "hint: " in err
    assert not (tmp_path / "data" / "torchlock" / "envs").exists()


# --- progress -----------------------------------------------------------------------------


@needs_linux
def test_progress_bars_only_on_a_terminal_in_text_mode_and_never_with_json(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    healthy_index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    solve_lock(capsys, healthy_index, tmp_path / "pylock.toml")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # as on a terminal
    # text mode: a line per phase with its time on stderr, the download bar there too
    code, out, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml", json_out=False)
    assert code == 0, err
    assert "downloading 3 files" in err  # the bar (a terminal's stderr only)
    # what the terminal shows once the (transient) bar is gone
    shown = [
        line.rsplit("\r", 1)[-1] for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err).split("\n")
    ]
    phases = [
        m.groups() for line in shown if (m := re.match(r"  (\w+) +.+ \((\d+\.\d) s\)$", line))
    ]
    assert [name for name, _ in phases] == ["base", "download", "install", "verify", "place"]
    assert "downloading" not in out
    assert "\x1b" not in out
    assert out.splitlines()[0].startswith(f"created {tmp_path / 'env'}: torch 2.5.1+cu124")
    # --json, with downloads to do again: stdout is the document alone, no bar anywhere
    code, doc, err = create(
        capsys, "--prefix", "env2", "--lock", "pylock.toml", "--cache-dir", "other-cache"
    )
    assert code == 0, err
    assert doc["downloaded"] == 3
    assert "downloading" not in err
    assert "\x1b" not in err
    assert not re.search(r"\(\d+\.\d s\)", err)


def _create_in_stalled_downloads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *, every_file: bool
) -> tuple[IndexServer, subprocess.Popen[bytes], Path]:
    """(server, the running create, the download cache): a create whose downloads hang
    (torch's, or ``every_file``), started in a process of its own and waited for until
    its partial files are there."""
    import time

    from tests.support.index_server import Fault

    builds = {("2.5.1", "cu124"): fake_build("2.5.1", "cu124")}
    tree = build_fake_torch_index(tmp_path / "index", builds)
    server = serve(tree.root, tree)
    lock = solve_lock(capsys, server, tmp_path / "pylock.toml")
    stalled = [p for p in lock.packages if every_file or str(p.name) == "torch"]
    for package in stalled:
        server.fail("/files/" + package.wheels[0].name, Fault.slow(60))
    argv = [sys.executable, "-m", "torchlock", "create", "--driver", DRIVER]
    argv += ["--prefix", "env", "--lock", "pylock.toml"]
    running = subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    cache = Path(os.environ["TORCHLOCK_CACHE_DIR"])
    deadline = time.monotonic() + 60
    while len(list(cache.rglob(".part-*"))) < len(stalled) and time.monotonic() < deadline:
        time.sleep(0.05)  # the downloads have begun (their partial files are there)
    time.sleep(0.3)  # the requests are out, their answers awaited
    return server, running, cache


@needs_linux
def test_a_create_killed_mid_download_leaves_nothing_the_next_one_trips_on(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import signal

    server, killed, cache = _create_in_stalled_downloads(capsys, tmp_path, every_file=False)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert list(cache.rglob(".part-*")), "the killed run left its partial download"
        assert (tmp_path / ".env.torchlock-building").exists()
        server.faults.clear()
        code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    finally:
        killed.kill()
        server.stop()
    assert code == 0, err  # the half-built environment did not stand in the way
    assert installed(tmp_path / "env")["torch"] == "2.5.1+cu124"
    assert list(cache.rglob(".part-*")) == []
    assert not (tmp_path / ".env.torchlock-building").exists()


@needs_linux
def test_ctrl_c_in_a_stalled_download_stops_at_once_and_leaves_nothing(
    bin_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import signal
    import time

    # every download stalls, in every thread
    server, running, cache = _create_in_stalled_downloads(capsys, tmp_path, every_file=True)
    try:
        sent = time.monotonic()
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        took = time.monotonic() - sent
        assert running.returncode == 130, err
        assert took < 1.0, f"exited {took:.2f} s after Ctrl-C"
        assert not (tmp_path / "env").exists()
        assert not (tmp_path / ".env.torchlock-building").exists()
        # the partial files of downloads that were waiting for an answer carry its
        # process id: the next run removes them, and builds the environment
        for partial in cache.rglob(".part-*"):
            assert partial.name.startswith(f".part-{running.pid}-")
        server.faults.clear()
        code, _, err = create(capsys, "--prefix", "env", "--lock", "pylock.toml")
    finally:
        running.kill()
        server.stop()
    assert code == 0, err
    assert list(cache.rglob(".part-*")) == []
