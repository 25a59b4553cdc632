"""``torchlock solve`` writing the lock: where, atomically, reproducibly; real installers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.lockhelp import isolate, spec_text
from tests.support.cli import run_cli
from tests.support.conda_channel import base_channel
from tests.support.index_server import Fault, IndexServer, serve
from torchlock.lockfiles import pylock

SELECT = ["--driver", "580.65.06", "--gpu-cc", "8.0", "--torch", "2.1.2", "--variant", "cu121"]
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def conda_base_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """A conda channel with python and pip (tests/support/conda_channel.py) on 127.0.0.1."""
    server = serve(base_channel(tmp_path_factory.mktemp("conda-base")))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


def test_output_writes_a_valid_lock_and_json_still_prints(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64"]
    argv += ["--index-url", pypi_index.index_url(), "-o", "pylock.toml", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["targets"][0]["platform"] == "linux-64"
    assert "wrote pylock.toml" in err
    text = (tmp_path / "pylock.toml").read_text(encoding="utf-8")
    lock = pylock.parse(text, "pylock.toml")
    assert pylock.render(lock) == text
    assert {p.name for p in lock.packages} == {p["name"] for p in doc["targets"][0]["packages"]}
    assert lock.inputs.driver == "580.65.06"
    assert lock.selection.max_cuda is not None
    assert lock.selection.reasons
    assert lock.targets[0].variant == "cu121"
    for package in lock.packages:
        assert package.marker is None  # one target: environments says where
        assert package.files
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".pylock")] == []


def test_without_spec_or_output_no_lock_is_written(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64"]
    code, _, err = run_cli([*argv, "--index-url", pypi_index.index_url(), "--json"], capsys)
    assert code == 0, err
    assert not list(tmp_path.glob("pylock*.toml"))


def test_output_must_be_a_pylock_name(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer
) -> None:
    code, _out, err = run_cli(["solve", *SELECT, "-o", "lock.toml"], capsys)
    assert code == 2
    assert "pylock.<name>.toml" in err
    assert pypi_index.count() == 0


def test_spec_is_used_and_the_lock_goes_next_to_it(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "torchlock.toml").write_text(
        spec_text(pypi_index, requirements=("requests>=2.31",), lock="pylock.cu121.toml")
    )
    code, _, err = run_cli(["solve", "--spec", str(project / "torchlock.toml")], capsys)
    assert code == 0, err
    lock = pylock.parse((project / "pylock.cu121.toml").read_text(), "pylock.cu121.toml")
    names = {p.name for p in lock.packages}
    assert {"torch", "requests", "urllib3"} <= names
    assert lock.inputs.requirements[0].name == "requests"
    # flags override the spec: another Python, no extra requirement
    code, _, err = run_cli(
        ["solve", "--spec", str(project / "torchlock.toml"), "--python", "3.11", "--with", "idna"],
        capsys,
    )
    assert code == 0, err
    lock = pylock.parse((project / "pylock.cu121.toml").read_text(), "pylock.cu121.toml")
    assert lock.python == "3.11"
    assert "requests" not in {p.name for p in lock.packages}


def test_spec_in_the_current_directory_is_found(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["idna"]\n\n'
        "[tool.torchlock]\n" + spec_text(pypi_index) + "project-dependencies = true\n"
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert "idna" in {p.name for p in lock.packages}


def test_failed_solve_leaves_the_old_lock_intact(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index))
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    before = (tmp_path / "pylock.toml").read_bytes()
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index, requirements=("requests",)))
    pypi_index.fail("/simple/requests/", Fault.error(500, times=None))
    shutil.rmtree(tmp_path / "cache")
    code, _, err = run_cli(["solve"], capsys)
    assert code == 6
    assert (tmp_path / "pylock.toml").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "pylock.toml", "torchlock.toml"]


def test_two_platforms_in_one_lock_with_markers(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    (tmp_path / "torchlock.toml").write_text(
        spec_text(pypi_index, platforms=("linux-64", "win-64"), pytorch=pytorch_index)
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert lock.platforms == ("linux-64", "win-64")
    by_version = {(p.name, str(p.version)): p for p in lock.packages}
    linux = 'sys_platform == "linux" and platform_machine == "x86_64"'
    assert str(by_version[("torch", "2.1.2")].marker) == linux
    assert str(by_version[("triton", "2.1.0")].marker) == linux
    assert "win32" in str(by_version[("torch", "2.1.2+cu121")].marker)
    assert by_version[("torch", "2.1.2+cu121")].index == pytorch_index.index_url("whl/cu121")
    assert by_version[("filelock", "3.16.1")].marker is None


# --- the conda base ----------------------------------------------------------------------


def test_the_lock_carries_the_conda_base_of_each_platform(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    conda_base_server: IndexServer,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")
    (tmp_path / "torchlock.toml").write_text(
        spec_text(
            pypi_index,
            platforms=("linux-64", "win-64"),
            pytorch=pytorch_index,
            conda_channel=conda_base_server.url,
        )
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    assert "6 conda packages" in err
    text = (tmp_path / "pylock.toml").read_text()
    lock = pylock.parse(text, "pylock.toml")
    assert pylock.render(lock) == text
    assert lock.inputs.conda_channels == (conda_base_server.url,)
    assert [(c.platform, c.name, c.version) for c in lock.conda] == [
        ("linux-64", "libzlib", "1.3.1"),
        ("linux-64", "pip", "24.0"),
        ("linux-64", "python", "3.10.14"),
        ("win-64", "pip", "24.0"),
        ("win-64", "python", "3.10.14"),
        ("win-64", "ucrt", "10.0.22621.0"),
    ]
    for conda in lock.conda:
        assert conda.url.startswith(f"{conda_base_server.url}/{conda.subdir}/")
        assert conda.channel == conda_base_server.url
        assert len(conda.sha256) == 64
        assert len(conda.md5) == 32
    # the conda-lock export lists them, with both hashes, per platform
    code, out, err = run_cli(["export", "--format", "conda-lock"], capsys)
    assert code == 0, err
    yaml = pytest.importorskip("yaml")
    rows = [p for p in yaml.safe_load(out)["package"] if p["manager"] == "conda"]
    assert [(p["name"], p["platform"]) for p in rows] == [
        ("libzlib", "linux-64"),
        ("pip", "linux-64"),
        ("pip", "win-64"),
        ("python", "linux-64"),
        ("python", "win-64"),
        ("ucrt", "win-64"),
    ]
    assert all(set(p["hash"]) == {"md5", "sha256"} for p in rows)


def test_channel_flag_overrides_the_spec_and_json_shows_the_base(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pypi_index: IndexServer,
    conda_base_server: IndexServer,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")
    (tmp_path / "torchlock.toml").write_text(spec_text(pypi_index, python="3.11"))  # no-conda
    code, out, err = run_cli(["solve", "--channel", conda_base_server.url, "--json"], capsys)
    assert code == 0, err
    [target] = json.loads(out)["targets"]
    assert [(c["name"], c["version"]) for c in target["conda"]] == [
        ("libzlib", "1.3.1"),
        ("pip", "24.0"),
        ("python", "3.11.9"),
    ]
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert not lock.inputs.no_conda
    assert [c.name for c in lock.conda] == ["libzlib", "pip", "python"]


def _dead_channel() -> str:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/conda-forge"


@pytest.mark.parametrize(
    ("make_channel", "first_line", "hint"),
    [
        (_dead_channel, "error: conda channel {channel} could not be read", "--no-conda"),
        (
            lambda: "http://conda.example/conda-forge",
            "error: refusing the plain-http conda channel {channel}",
            "--trusted-host conda.example",
        ),
    ],
)
def test_a_channel_that_cannot_be_used_fails_before_resolving_and_keeps_the_lock(
    make_channel: Callable[[], str],
    first_line: str,
    hint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pypi_index: IndexServer,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")
    (tmp_path / "pylock.toml").write_text("old\n")
    channel = make_channel()
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64"]
    argv += ["--index-url", pypi_index.index_url(), "-o", "pylock.toml", "--channel", channel]
    code, out, err = run_cli(argv, capsys)
    assert code == 6
    assert out == ""
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(first_line.format(channel=channel))
    assert hint in err
    assert pypi_index.count() == 0  # the conda base is solved first
    assert (tmp_path / "pylock.toml").read_text() == "old\n"


def test_an_unreachable_channels_hint_names_a_mirror(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pypi_index: IndexServer,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64", "--json"]
    argv += ["--index-url", pypi_index.index_url(), "--channel", _dead_channel()]
    code, _, err = run_cli(argv, capsys)
    assert code == 6
    assert "hint: pass --channel" in err
    assert "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge" in err


def test_no_conda_locks_without_the_base_and_says_so(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pypi_index: IndexServer,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TORCHLOCK_NO_CONDA")
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64", "--no-conda"]
    code, _, err = run_cli(
        [*argv, "--index-url", pypi_index.index_url(), "-o", "pylock.toml"], capsys
    )
    assert code == 0, err
    assert "no conda base" in err
    text = (tmp_path / "pylock.toml").read_text()
    assert "no-conda = true" in text
    assert "conda-packages" not in text
    lock = pylock.parse(text, "pylock.toml")
    assert lock.inputs.no_conda
    assert lock.conda == ()


def _solve_in_subprocess(workdir: Path, seed: str, spec: str) -> bytes:
    workdir.mkdir()
    (workdir / "torchlock.toml").write_text(spec)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TORCHLOCK_"))}
    env |= {
        "PYTHONHASHSEED": seed,
        "PIP_CONFIG_FILE": os.devnull,
        "TORCHLOCK_CACHE_DIR": str(workdir / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "torchlock", "solve"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return (workdir / "pylock.toml").read_bytes()


def test_same_inputs_give_the_same_bytes_across_directories_and_hash_seeds(
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    conda_base_server: IndexServer,
    tmp_path: Path,
) -> None:
    spec = spec_text(
        pypi_index,
        platforms=("linux-64", "win-64"),
        requirements=("requests>=2.31", "numpy<2"),
        pytorch=pytorch_index,
        conda_channel=conda_base_server.url,
    )
    first = _solve_in_subprocess(tmp_path / "one", "1", spec)
    second = _solve_in_subprocess(tmp_path / "elsewhere", "4242", spec)
    assert first == second
    assert b"[[tool.torchlock.conda-packages]]" in first
    assert first.endswith(b"\n")
    assert b"\r" not in first
    assert str(tmp_path).encode() not in first


# --- real installers ---------------------------------------------------------------------


def _lock_for_this_host(
    capsys: pytest.CaptureFixture[str], index: IndexServer, tmp_path: Path
) -> Path:
    (tmp_path / "torchlock.toml").write_text(
        spec_text(index, python=HOST_PYTHON, requirements=("requests",))
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    return tmp_path / "pylock.toml"


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=False).create(path)
    return path / "bin" / "python"


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    command = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    command += ["--disable-pip-version-check", "--no-input", "--no-cache-dir", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _installed(python: Path) -> set[str]:
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; "
            "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip().lower() for line in out.splitlines() if line.strip()}


@pytest.mark.skipif(sys.platform != "linux", reason="the fixture lock is for linux-64")
def test_pip_installs_the_requirements_export_with_require_hashes(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    _lock_for_this_host(capsys, pypi_index, tmp_path)
    code, _, err = run_cli(["export", "--format", "requirements", "-o", "req.txt"], capsys)
    assert code == 0, err
    python = _fresh_venv(tmp_path / "venv")
    result = _pip(python, "--require-hashes", "-r", str(tmp_path / "req.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"torch", "torchvision", "torchaudio", "requests", "triton"} <= _installed(python)


@pytest.mark.skipif(sys.platform != "linux", reason="the fixture lock is for linux-64")
def test_a_tampered_hash_makes_pip_refuse(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    lock_path = _lock_for_this_host(capsys, pypi_index, tmp_path)
    code, _, err = run_cli(["export", "--format", "requirements", "-o", "req.txt"], capsys)
    assert code == 0, err
    lock = pylock.parse(lock_path.read_text(), "pylock.toml")
    idna = next(p for p in lock.packages if p.name == "idna")
    digest = idna.files[0].sha256
    tampered = ("0" if digest[0] != "0" else "1") + digest[1:]
    # in the lock: torchlock refuses to export it
    lock_path.write_text(lock_path.read_text().replace(digest, tampered))
    code, _out, err = run_cli(["export", "--format", "requirements"], capsys)
    assert code == 2
    assert "pylock.toml: tool.torchlock.content-digest" in err
    # in the export: pip refuses to install
    requirements = tmp_path / "req.txt"
    requirements.write_text(requirements.read_text().replace(digest, tampered))
    python = _fresh_venv(tmp_path / "venv")
    result = _pip(python, "--require-hashes", "-r", str(requirements))
    assert result.returncode != 0
    assert "HASHES" in result.stderr or "hash" in result.stderr.lower()
    assert "idna" not in _installed(python)


@pytest.mark.skipif(sys.platform != "linux", reason="the fixture lock is for linux-64")
def test_uv_installs_the_pylock_file(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed")
    lock_path = _lock_for_this_host(capsys, pypi_index, tmp_path)
    python = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env |= {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_OFFLINE": "0"}
    result = subprocess.run(
        [uv, "pip", "install", "--python", str(python), "-r", str(lock_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"torch", "torchvision", "requests", "triton"} <= _installed(python)


def test_credentials_in_index_urls_never_reach_the_lock(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    pypi_index.require_auth("alice", "secret")
    index = pypi_index.index_url(login=("alice", "secret"))
    extra = index_server.index_url(login=("bob", "hunter2"))
    argv = ["solve", *SELECT, "--python", "3.10", "--platform", "linux-64"]
    argv += ["--index-url", index, "--extra-index-url", extra, "-o", "pylock.toml"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    text = (tmp_path / "pylock.toml").read_text(encoding="utf-8")
    for word in ("secret", "hunter2", "alice", "bob"):
        assert word not in text + out + err


def _uv_install_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed")
    code, _, err = run_cli(["export", "--format", "requirements", "-o", "req.txt", *extra], capsys)
    assert code == 0, err
    python = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env |= {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    argv = [uv, "pip", "install", "--python", str(python), "--require-hashes"]
    argv += ["-r", str(tmp_path / "req.txt")]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(sys.platform != "linux", reason="the fixture lock is for linux-64")
@pytest.mark.parametrize(
    "platforms",
    [
        pytest.param(("linux-64",), id="one-target"),
        pytest.param(("linux-64", "win-64"), id="two-targets"),
    ],
)
@pytest.mark.parametrize(
    "variant",
    [
        # cu121: the default index serves Linux's torch, the PyTorch index Windows's
        pytest.param("cu121", id="torch-from-both"),
        # cu118: the torch family from the PyTorch-like index on every target
        pytest.param("cu118", id="torch-from-pytorch"),
    ],
)
def test_uv_installs_the_requirements_export_with_require_hashes(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
    platforms: tuple[str, ...],
    variant: str,
) -> None:
    (tmp_path / "torchlock.toml").write_text(
        spec_text(
            pypi_index,
            python=HOST_PYTHON,
            platforms=platforms,
            requirements=("requests",),
            pytorch=pytorch_index,
        ).replace('variant = "cu121"', f'variant = "{variant}"')
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    result = _uv_install_export(capsys, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = _installed(tmp_path / "venv" / "bin" / "python")
    assert {"torch", "torchvision", "torchaudio", "requests"} <= installed
    text = (tmp_path / "req.txt").read_text()
    named = {line.split()[1] for line in text.splitlines() if line.startswith("--")}
    lock = pylock.parse((tmp_path / "pylock.toml").read_text(), "pylock.toml")
    assert named <= {p.index for p in lock.packages}  # no index that supplies nothing
    split = variant == "cu121" and len(platforms) == 2
    # torch from two indexes (2.1.2 for Linux, 2.1.2+cu121 for Windows): by URL, one line
    # per target, so that neither index's build can stand in for the other's
    assert ("torch @ http" in text) is split
    by_name: dict[str, set[str]] = {}
    for package in lock.packages:
        by_name.setdefault(str(package.name), set()).add(package.index)
    assert named == {i for found in by_name.values() if len(found) == 1 for i in found}


@pytest.mark.skipif(sys.platform != "linux", reason="the fixture lock is for linux-64")
def test_the_environment_pip_section_installs_the_way_conda_runs_it(
    capsys: pytest.CaptureFixture[str], pypi_index: IndexServer, tmp_path: Path
) -> None:
    yaml = pytest.importorskip("yaml")
    _lock_for_this_host(capsys, pypi_index, tmp_path)
    code, out, err = run_cli(["export", "--format", "environment"], capsys)
    assert code == 0, err
    [pip_section] = [d["pip"] for d in yaml.safe_load(out)["dependencies"] if isinstance(d, dict)]
    # conda writes the pip section to a requirements file and runs pip install -r on it
    requirements = tmp_path / "condaenv.requirements.txt"
    requirements.write_text("\n".join(pip_section) + "\n")
    python = _fresh_venv(tmp_path / "venv")
    result = _pip(python, "-U", "-r", str(requirements))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"torch", "torchvision", "torchaudio", "requests"} <= _installed(python)
    # the sha256 in each URL is checked: another file's hash is refused
    line = next(x for x in pip_section if x.startswith("idna @ "))
    digest = line.split("#sha256=")[1][:64]
    tampered = ("0" if digest[0] != "0" else "1") + digest[1:]
    requirements.write_text(line.replace(digest, tampered) + "\n")
    result = _pip(_fresh_venv(tmp_path / "venv2"), "-r", str(requirements))
    assert result.returncode != 0
    assert "hash" in (result.stdout + result.stderr).lower()


def test_a_two_target_lock_names_which_entry_a_dependency_is_and_when_it_was_uploaded(
    capsys: pytest.CaptureFixture[str],
    pypi_index: IndexServer,
    pytorch_index: IndexServer,
    tmp_path: Path,
) -> None:
    import tomlkit
    from packaging.pylock import Pylock

    (tmp_path / "torchlock.toml").write_text(
        spec_text(pypi_index, platforms=("linux-64", "win-64"), pytorch=pytorch_index)
    )
    code, _, err = run_cli(["solve"], capsys)
    assert code == 0, err
    data = tomlkit.parse((tmp_path / "pylock.toml").read_text()).unwrap()
    Pylock.from_dict(data)  # packaging's PEP 751 model takes it
    vision = {p["version"]: p for p in data["packages"] if p["name"] == "torchvision"}
    # torch has two entries (2.1.2 for Linux from the default index, 2.1.2+cu121 for
    # Windows from the PyTorch index): each torchvision names its own
    assert {"name": "torch", "version": "2.1.2"} in vision["0.16.2"]["dependencies"]
    assert {"name": "torch", "version": "2.1.2+cu121"} in vision["0.16.2+cu121"]["dependencies"]
    # PEP 700's upload-time, where the index's JSON page gives it (the PyTorch one is HTML)
    numpy = next(p for p in data["packages"] if p["name"] == "numpy")
    assert str(numpy["wheels"][0]["upload-time"]) == "2024-01-01 12:34:56+00:00"
    assert "upload-time" not in vision["0.16.2+cu121"]["wheels"][0]
