"""The parts of ``torchlock create`` on their own: interpreters, backends, placement."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec
import pytest

from torchlock.envs.backends import (
    Backend,
    ChosenBackend,
    check_name,
    choose_backend,
    conda_create_argv,
    conda_for,
    explicit_list,
    venv_home,
)
from torchlock.envs.install import BuildError, installer_argv, requirements_text
from torchlock.envs.place import Placement, marker_path, recover
from torchlock.envs.pythons import find_python
from torchlock.errors import InputError
from torchlock.lockfiles.model import CondaPackage
from torchlock.system.runner import Completed, NotFound, RunResult
from torchlock.target import OS


class Pythons:
    """Plays interpreters: each path answers with its version and executable."""

    def __init__(self, versions: Mapping[str, str], uv_finds: str | None = None) -> None:
        self.versions = versions
        self.uv_finds = uv_finds
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, timeout: float) -> RunResult:
        args = tuple(argv)
        self.calls.append(args)
        if args[1:3] == ("python", "find"):
            if self.uv_finds is None:
                return Completed(argv=args, returncode=2, stdout="", stderr="not found")
            return Completed(argv=args, returncode=0, stdout=self.uv_finds + "\n", stderr="")
        key = " ".join(args[:-2])
        if key not in self.versions:
            return NotFound(argv=args)
        exe = args[0] if len(args) == 3 else f"/launcher/{self.versions[key]}/python.exe"
        return Completed(
            argv=args, returncode=0, stdout=f"{self.versions[key]}\n{exe}\n", stderr=""
        )


def _find(
    version: str,
    runner: Pythons,
    *,
    on_path: Mapping[str, str] | None = None,
    dirs: Mapping[str, Sequence[str]] | None = None,
    env: Mapping[str, str] | None = None,
    os_kind: OS = OS.LINUX,
) -> tuple[str, str]:
    found = find_python(
        version,
        env=env or {},
        runner=runner,
        which=(on_path or {}).get,
        list_dir=lambda path: (dirs or {}).get(path, ()),
        home="/home/u",
        os_kind=os_kind,
    )
    return found.path, found.how


def test_python_on_path_first() -> None:
    runner = Pythons({"/usr/bin/python3.11": "3.11"})
    assert _find("3.11", runner, on_path={"python3.11": "/usr/bin/python3.11"}) == (
        "/usr/bin/python3.11",
        "python3.11 on PATH",
    )


def test_pyenv_newest_patch_and_a_stale_shim_passed_over() -> None:
    runner = Pythons(
        {
            "/shims/python3.10": "3.12",  # a shim answering for another version
            "/home/u/.pyenv/versions/3.10.13/bin/python3.10": "3.10",
            "/home/u/.pyenv/versions/3.10.2/bin/python3.10": "3.10",
        }
    )
    dirs = {"/home/u/.pyenv/versions": ["3.10.2", "3.10.13", "3.11.7", "3.10-dev", "system"]}
    path, how = _find("3.10", runner, on_path={"python3.10": "/shims/python3.10"}, dirs=dirs)
    assert (path, how) == ("/home/u/.pyenv/versions/3.10.13/bin/python3.10", "pyenv 3.10.13")


def test_pyenv_root_from_the_environment() -> None:
    runner = Pythons({"/srv/pyenv/versions/3.12.1/bin/python3.12": "3.12"})
    dirs = {"/srv/pyenv/versions": ["3.12.1"]}
    path, _ = _find("3.12", runner, dirs=dirs, env={"PYENV_ROOT": "/srv/pyenv"})
    assert path == "/srv/pyenv/versions/3.12.1/bin/python3.12"


def test_uv_managed_python() -> None:
    managed = "/home/u/.local/share/uv/python/cpython-3.13.0-linux-x86_64-gnu/bin/python3.13"
    runner = Pythons({managed: "3.13"}, uv_finds=managed)
    path, how = _find("3.13", runner, on_path={"uv": "/bin/uv"})
    assert (path, how) == (managed, "uv python find 3.13")


def test_windows_py_launcher() -> None:
    runner = Pythons({"C:\\py.exe -3.11": "3.11"})
    path, how = _find("3.11", runner, on_path={"py": "C:\\py.exe"}, os_kind=OS.WINDOWS)
    assert (path, how) == ("/launcher/3.11/python.exe", "py -3.11")


def test_no_interpreter_says_where_it_looked() -> None:
    runner = Pythons({"/usr/bin/python3": "3.12"})
    with pytest.raises(InputError) as caught:
        _find("3.9", runner, on_path={"python3": "/usr/bin/python3"})
    text = str(caught.value)
    assert text.startswith("no Python 3.9 interpreter on this machine")
    assert "python3.9: not on PATH" in text
    assert "python3 on PATH: /usr/bin/python3 is Python 3.12" in text
    assert "uv python install 3.9" in text


def test_auto_backend_prefers_conda_family_and_says_why() -> None:
    on_path = {"mamba": "/m/bin/mamba", "micromamba": "/mm/micromamba"}
    chosen = choose_backend(Backend.AUTO, env={}, which=on_path.get)
    assert (chosen.backend, chosen.program) == (Backend.MAMBA, "/m/bin/mamba")
    assert chosen.why == "auto: mamba found at /m/bin/mamba"
    chosen = choose_backend(Backend.AUTO, env={}, which={}.get)
    assert chosen.backend is Backend.VENV
    assert chosen.why == "auto: no conda, mamba or micromamba found"
    with pytest.raises(InputError, match="conda is not installed"):
        choose_backend(Backend.CONDA, env={}, which={}.get)
    with pytest.raises(InputError, match="unknown backend 'docker'"):
        Backend.parse("docker")


def test_venv_home_follows_xdg_and_the_platform() -> None:
    assert venv_home(env={}, home="/home/u", os_kind=OS.LINUX) == Path(
        "/home/u/.local/share/torchlock/envs"
    )
    assert venv_home(env={"XDG_DATA_HOME": "/data"}, home="/h", os_kind=OS.LINUX) == Path(
        "/data/torchlock/envs"
    )
    assert venv_home(env={"TORCHLOCK_ENVS_DIR": "/e"}, home="/h", os_kind=OS.LINUX) == Path("/e")
    assert "Application Support" in str(venv_home(env={}, home="/h", os_kind=OS.MACOS))


@pytest.mark.parametrize("name", ["a/b", "..", ".hidden", "c:d", "a\\b", ""])
def test_names_are_plain(name: str) -> None:
    with pytest.raises(InputError):
        check_name(name)


def test_conda_commands() -> None:
    chosen = ChosenBackend(backend=Backend.MICROMAMBA, program="/bin/micromamba", why="")
    assert conda_create_argv(
        chosen, prefix=Path("/e/.x"), python="3.11", channels=("conda-forge",), explicit=None
    ) == [
        "/bin/micromamba",
        "create",
        "-y",
        "-p",
        "/e/.x",
        "--override-channels",
        "-c",
        "conda-forge",
        "python=3.11",
        "pip",
    ]
    assert conda_create_argv(
        chosen, prefix=Path("/e/.x"), python="3.11", channels=(), explicit=Path("/t/list")
    )[-2:] == ["--file", "/t/list"]
    package = CondaPackage(
        name="python",
        version="3.11.7",
        build="h1_0",
        platform="linux-64",
        subdir="linux-64",
        channel="https://conda.example/conda-forge",
        url="https://conda.example/conda-forge/linux-64/python-3.11.7-h1_0.conda",
        sha256="a" * 64,
        md5="b" * 32,
    )
    assert explicit_list([package]) == (
        "@EXPLICIT\nhttps://conda.example/conda-forge/linux-64/python-3.11.7-h1_0.conda#"
        + "b" * 32
        + "\n"
    )
    # A two-platform lock lists each target's base: the host gets only its own.
    windows = msgspec.structs.replace(
        package, platform="win-64", subdir="win-64", url=package.url.replace("linux", "win")
    )
    assert conda_for([package, windows], "linux-64") == [package]
    assert conda_for([package, windows], "win-64") == [windows]
    assert conda_for([package, windows], "osx-arm64") == []


def test_installer_never_resolves_and_checks_hashes(tmp_path: Path) -> None:
    uv = installer_argv(python="/e/bin/python", requirements=Path("r.txt"), uv="/bin/uv")
    assert {"--require-hashes", "--no-deps", "--no-index", "--compile-bytecode"} <= set(uv)
    pip = installer_argv(python="/e/bin/python", requirements=Path("r.txt"), uv=None)
    assert pip[:4] == ["/e/bin/python", "-m", "pip", "install"]
    assert {"--require-hashes", "--no-deps", "--no-index", "--isolated"} <= set(pip)
    assert "--no-compile" not in pip  # pip compiles bytecode at install by default
    from packaging.version import Version

    from torchlock.envs.install import PlannedFile

    wheel = tmp_path / "torch-2.5.1+cu124-py3-none-any.whl"
    planned = PlannedFile(
        project="torch",
        version=Version("2.5.1+cu124"),
        filename=wheel.name,
        url="https://x/torch.whl",
        sha256="c" * 64,
    )
    assert requirements_text([(planned, wheel)]) == (
        f"torch @ {wheel.as_uri()} --hash=sha256:{'c' * 64}\n"
    )


def _old_env(tmp_path: Path) -> Path:
    final = tmp_path / "env"
    final.mkdir()
    (final / "old").write_text("old")
    return final


def _siblings(final: Path) -> list[str]:
    return sorted(p.name for p in final.parent.iterdir())


def test_an_existing_environment_needs_replace(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    with pytest.raises(BuildError, match="already exists"):
        Placement(final, replace=False).begin()
    assert (final / "old").is_file()
    assert _siblings(final) == ["env"]


def test_a_verified_build_replaces_the_old_one(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    placement = Placement(final, replace=True)
    placement.begin()
    assert not final.exists()  # set aside: the build happens at the final path itself
    final.mkdir()
    (final / "new").write_text("new")
    placement.keep()
    assert sorted(p.name for p in final.iterdir()) == ["new"]
    assert _siblings(final) == ["env"]


def test_a_failed_build_is_removed_and_the_old_one_put_back(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    placement = Placement(final, replace=True)
    placement.begin()
    final.mkdir()
    (final / "half").write_text("half-built")
    placement.roll_back()
    assert sorted(p.name for p in final.iterdir()) == ["old"]
    assert _siblings(final) == ["env"]


def test_a_killed_build_is_undone_by_the_next_run(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    placement = Placement(final, replace=True)
    placement.begin()
    final.mkdir()
    (final / "half").write_text("half-built")
    # the process dies here: no keep(), no roll_back(); its pid is given to a dead one
    marker = marker_path(final)
    record = json.loads(marker.read_text())
    record["pid"] = 2**22 + 12345  # above any pid the kernel hands out by default
    marker.write_text(json.dumps(record))
    assert recover(final) is True
    assert sorted(p.name for p in final.iterdir()) == ["old"]
    assert _siblings(final) == ["env"]


def test_a_build_killed_after_it_verified_keeps_the_new_environment(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    placement = Placement(final, replace=True)
    placement.begin()
    final.mkdir()
    (final / "new").write_text("new")
    placement._write("verified")  # killed between verifying and deleting the old one
    marker = marker_path(final)
    record = json.loads(marker.read_text())
    record["pid"] = 2**22 + 12345
    marker.write_text(json.dumps(record))
    assert recover(final) is True
    assert sorted(p.name for p in final.iterdir()) == ["new"]
    assert _siblings(final) == ["env"]


def test_a_build_killed_before_setting_aside_leaves_the_old_one(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    marker = marker_path(final)
    aside = tmp_path / ".env.torchlock-old-abcd"  # planned, never made
    marker.write_text(json.dumps({"pid": 2**22 + 12345, "state": "building", "aside": str(aside)}))
    assert recover(final) is True
    assert sorted(p.name for p in final.iterdir()) == ["old"]


def test_a_running_build_of_the_same_place_is_refused(tmp_path: Path) -> None:
    final = tmp_path / "env"
    placement = Placement(final, replace=False)
    placement.begin()
    marker = marker_path(final)
    record = json.loads(marker.read_text())
    record["pid"] = os.getppid()  # a live process that is not this one
    marker.write_text(json.dumps(record))
    with pytest.raises(BuildError, match="is building an environment at"):
        Placement(final, replace=True).begin()
    assert marker.is_file()


def test_a_marker_naming_a_foreign_folder_is_ignored(tmp_path: Path) -> None:
    final = _old_env(tmp_path)
    elsewhere = tmp_path / "precious"
    elsewhere.mkdir()
    marker_path(final).write_text(
        json.dumps({"pid": 2**22 + 12345, "state": "building", "aside": str(elsewhere)})
    )
    assert recover(final) is False
    assert (final / "old").is_file()
    assert elsewhere.is_dir()
    assert not marker_path(final).exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX layout")
def test_interrupt_mid_install_leaves_nothing_and_the_old_environment_intact(
    tmp_path: Path,
) -> None:
    """Ctrl-C while the installer runs: what was built goes, the old env is put back."""
    import time

    from tests.lockfiles.sample import sample_lock
    from torchlock.envs.create import BuildRequest, Seams, SilentReporter, build_environment
    from torchlock.system.detect import detect_from_environment
    from torchlock.system.runner import SubprocessRunner

    class Interrupting:
        def __init__(self) -> None:
            self.real = SubprocessRunner()

        def run(self, argv: Sequence[str], *, timeout: float) -> RunResult:
            if "install" in argv:
                raise KeyboardInterrupt
            if argv[1] == "-c":  # "which version are you?": the lock's
                stdout = f"{lock.python}\n{argv[0]}\n"
                return Completed(argv=tuple(argv), returncode=0, stdout=stdout, stderr="")
            return self.real.run(argv, timeout=timeout)

    class CachedOnly:
        def fetch(self, url: str, sink: object) -> None:
            raise AssertionError("every file is in the cache")

    lock = sample_lock()
    final = tmp_path / "envs" / "demo"
    final.mkdir(parents=True)
    (final / "marker").write_text("the old one")
    cache = tmp_path / "cache"

    from torchlock.envs.install import cached_file, plan_files

    files = plan_files(lock, "linux-64")
    # fill the cache with stand-ins under the locked hashes (the check happens on download)
    for planned in files:
        path = cached_file(cache, planned.sha256, planned.filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(planned.sha256.encode()).digest())
    base = getattr(sys, "_base_executable", sys.executable)
    request = BuildRequest(
        lock=lock,
        platform="linux-64",
        final=final,
        chosen=ChosenBackend(backend=Backend.VENV, program=None, why="test"),
        cache_dir=cache,
        host=detect_from_environment("none", gpu_only=True),
        replace=True,
    )
    seams = Seams(
        runner=Interrupting(),
        fetcher=CachedOnly(),
        env={},
        which={f"python{lock.python}": base, "uv": "uv-is-not-reached"}.get,
        list_dir=lambda _: [],
        home=str(tmp_path),
        os_kind=OS.LINUX,
        clock=time.monotonic,
    )
    with pytest.raises(KeyboardInterrupt):
        build_environment(request, seams, SilentReporter())
    assert sorted(p.name for p in final.parent.iterdir()) == ["demo"]
    assert (final / "marker").read_text() == "the old one"
