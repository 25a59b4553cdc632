"""``torchlock solve``, ``create`` and ``verify`` end to end with the real CPU build of torch.

Where packages come from, as a user of these machines would set it up:

* a local ``--find-links`` folder holds the real ``torch-2.13.0+cpu`` wheel, taken by
  ``pip download --no-index`` from the wheelhouses this machine's pip is configured with
  (the root fixture reads them, then clears pip's configuration; nothing is downloaded
  for it, and where no such wheelhouse has it, as on a user's machine, the tests skip);
* the default index is a loopback PEP 503 index (tests/support) serving torch's real
  dependencies (filelock, sympy, jinja2, ...), which ``pip download`` fetched once per
  session from pip's default index;
* torchvision and torchaudio, which every lock pins beside torch, have no CPU build for
  torch 2.13.0 on these machines: two small stand-in wheels of the matrix's versions
  (``+cpu``), built by the tests, sit in the find-links folder. They play an external
  component: torchvision's ``ops.nms`` is a plain greedy NMS over real torch tensors.

Then ``torchlock create NAME --backend venv`` builds the environment with an interpreter
of Python 3.11 found by its own search (PATH, pyenv, uv), installs exactly the locked
files, verifies, and places it; ``torchlock verify NAME`` finds it again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from tests.cli.lockhelp import isolate
from tests.support.cli import run_cli
from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import IndexServer, serve
from tests.support.wheels import build_wheel
from torchlock.lockfiles import pylock
from torchlock.matrix.load import load_matrix
from torchlock.system.detect import detect_from_environment

TORCH = "2.13.0"
PYTHON = "3.11"  # the CPU wheel on these machines is for CPython 3.11

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.platform != "linux" or platform.machine() != "x86_64",
        reason="the CPU wheel on disk is for Linux x86_64",
    ),
]

_TORCHVISION = '''"""A stand-in for torchvision (tests): a version, and ops.nms over real torch."""

import torch

__version__ = "{version}"


def _iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area(a) + area(b) - inter)


class ops:
    @staticmethod
    def nms(boxes, scores, iou_threshold):
        box_list, score_list = boxes.tolist(), scores.tolist()
        order = sorted(range(len(score_list)), key=lambda i: -score_list[i])
        keep = []
        for i in order:
            if all(_iou(box_list[i], box_list[k]) <= iou_threshold for k in keep):
                keep.append(i)
        return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
'''

_TORCHAUDIO = '''"""A stand-in for torchaudio (tests): it imports torch and has a version."""

import torch

__version__ = "{version}"
'''


@dataclass(frozen=True, slots=True, kw_only=True)
class RealWheels:
    find_links: Path  # the real torch wheel, and the torchvision/torchaudio stand-ins
    index: FixtureIndex  # torch's real dependencies, as a PEP 503 tree under "simple"
    torchvision: str
    torchaudio: str


def _pip(*args: str, cwd: Path, links: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pip", *args, "--quiet", "--no-input"]
    for folder in links:
        argv += ["--find-links", folder]
    argv += ["--disable-pip-version-check", "--only-binary", ":all:"]
    argv += ["--retries", "1", "--timeout", "20"]  # an index it cannot reach fails fast
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip {args[0]} took over 5 minutes")


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    return ((result.stderr or result.stdout).strip().splitlines() or ["?"])[-1]


@pytest.fixture(scope="session")
def real_wheels(
    tmp_path_factory: pytest.TempPathFactory, machine_find_links: tuple[str, ...]
) -> RealWheels:
    """The wheels, obtained once per session (torch from disk, its dependencies by pip)."""
    root = tmp_path_factory.mktemp("real-wheels")
    links = root / "find-links"
    links.mkdir()
    # torch: only from this machine's wheelhouses (--no-index), so never a download
    got = _pip(
        "download",
        "--no-index",
        "--no-deps",
        "-d",
        str(links),
        f"torch=={TORCH}+cpu",
        cwd=root,
        links=machine_find_links,
    )
    if got.returncode != 0 or not list(links.glob("torch-*.whl")):
        pytest.skip(f"no torch=={TORCH}+cpu wheel on this machine: {_last_line(got)}")
    # its dependencies: resolved by pip against torch's own metadata, into the same folder
    got = _pip(
        "download", "--find-links", str(links), "-d", str(links), f"torch=={TORCH}+cpu", cwd=root
    )
    if got.returncode != 0:
        pytest.skip(f"the dependencies of torch {TORCH} cannot be had here: {_last_line(got)}")
    index = FixtureIndex(root=root / "index")
    index.files.mkdir(parents=True)
    for wheel in sorted(links.glob("*.whl")):
        project = str(parse_wheel_filename(wheel.name)[0])
        if project != "torch":
            index.add_file("simple", project, Path(shutil.move(wheel, index.files / wheel.name)))
    index.write()
    release = next(r for r in load_matrix().releases if r.torch == Version(TORCH))
    assert release.torchvision is not None
    assert release.torchaudio is not None
    vision, audio = f"{release.torchvision}+cpu", f"{release.torchaudio}+cpu"
    for name, version, source, needs in (
        ("torchvision", vision, _TORCHVISION, f"torch=={TORCH}"),
        ("torchaudio", audio, _TORCHAUDIO, f"torch>={TORCH}"),
    ):
        build_wheel(
            links,
            name,
            version,
            requires_dist=[needs],
            extra_files={f"{name}/__init__.py": source.format(version=version)},
        )
    return RealWheels(find_links=links, index=index, torchvision=vision, torchaudio=audio)


@pytest.fixture(scope="session")
def deps_index(real_wheels: RealWheels) -> Iterator[IndexServer]:
    server = serve(real_wheels.index.root, real_wheels.index)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def python311() -> str:
    """An interpreter of Python 3.11 the way `create` finds one, or a skip."""
    from torchlock.envs.create import list_dir
    from torchlock.envs.pythons import find_python
    from torchlock.errors import InputError
    from torchlock.system.files import which_in
    from torchlock.system.runner import SubprocessRunner
    from torchlock.target import OS

    try:
        found = find_python(
            PYTHON,
            env=os.environ,
            runner=SubprocessRunner(),
            which=which_in(os.environ),
            list_dir=list_dir,
            home=str(Path.home()),
            os_kind=OS.LINUX,
        )
    except InputError as error:
        pytest.skip(str(error).splitlines()[0])
    return found.path


@pytest.fixture
def workdir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    python311: str,
) -> Path:
    """This test's folder: no pip configuration, torchlock's data and caches inside it.

    PATH and HOME stay as they are, so that `create` finds Python 3.11 by its own search;
    uv (beside the interpreter running the tests) goes first on PATH when it is there.
    """
    isolate(monkeypatch, tmp_path)
    for var in ("TORCHLOCK_ENVS_DIR", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "uv-cache"))
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        tools = tmp_path / "tools"
        tools.mkdir()
        (tools / "uv").symlink_to(uv)
        monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _gpu_host() -> bool:
    host = detect_from_environment("none", gpu_only=True)
    return bool(host.gpus)


def test_real_cpu_torch_from_find_links_and_the_default_index(
    workdir: Path,
    real_wheels: RealWheels,
    deps_index: IndexServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["solve", "--find-links", str(real_wheels.find_links), "--variant", "cpu"]
    argv += ["--torch", TORCH, "--python", PYTHON, "--driver", "none"]
    argv += ["--index-url", deps_index.index_url(), "--no-conda"]  # venv: no conda base
    argv += ["-o", "pylock.toml", "--json"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    lock = pylock.parse((workdir / "pylock.toml").read_text(), "pylock.toml")
    assert lock.python == PYTHON
    versions = {str(p.name): str(p.version) for p in lock.packages}
    assert versions["torch"] == f"{TORCH}+cpu"
    assert versions["torchvision"] == real_wheels.torchvision
    assert {"filelock", "sympy", "mpmath", "jinja2", "markupsafe"} <= set(versions)
    urls = {str(p.name): [f.url for f in p.files] for p in lock.packages}
    assert all(url.startswith("file:") for url in urls["torch"])  # from the find-links folder
    assert all(url.startswith(deps_index.url) for url in urls["sympy"])  # the default index

    code, out, err = run_cli(
        ["create", "cpu", "--lock", "pylock.toml", "--backend", "venv", "--driver", "none"], capsys
    )
    assert "Traceback" not in err
    prefix = workdir / "data" / "torchlock" / "envs" / "cpu"
    if _gpu_host():
        # a CPU build on a host with an NVIDIA GPU is what verification exists to catch
        assert code == 1, out + err
        assert "[cpu-only-build]" in out
        assert not prefix.exists()
        return
    assert code == 0, out + err
    assert "backend: venv (--backend venv)" in err
    assert f"venv with Python {PYTHON} (" in err
    created, note = out.splitlines()[:2]
    assert created.startswith(
        f"created {prefix}: torch {TORCH}+cpu, {len(versions)} packages, verified ("
    )
    assert note == "no NVIDIA GPU on this host: GPU checks skipped"
    assert (prefix / "bin" / "python").exists()
    info = list(prefix.glob("lib/python3.11/site-packages/torch-*.dist-info"))
    assert [p.name for p in info] == [f"torch-{TORCH}+cpu.dist-info"]
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["cpu"]

    # verify by NAME finds what create made; the report says CPU build, no GPU
    code, out, err = run_cli(["verify", "cpu", "--lock", "pylock.toml", "--driver", "none"], capsys)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith(f"verifying {prefix}/bin/python (torchlock environment 'cpu' at ")
    assert lines[1] == "no NVIDIA GPU on this host: GPU checks skipped"
    assert f"{TORCH}+cpu as the lock pylock.toml wants" in out
    build = "CPU-only build (torch.version.cuda is None), as the lock pylock.toml wants"
    assert any(line.split()[:3] == ["pass", "torch", "build"] and build in line for line in lines)
    assert "FAIL" not in out
    assert "8x8 matrix product on cpu: sum 512.0" in out
    assert "result: ok: 0 failed" in out

    code, out, _ = run_cli(["verify", "cpu", "--driver", "none", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["probe"]["torch"]["version"] == f"{TORCH}+cpu"
    assert report["probe"]["torch"]["cuda"] is None
    assert report["notes"][0] == "no NVIDIA GPU on this host: GPU checks skipped"
