"""Finding an environment's interpreter by conda name, prefix, path or the active one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from torchlock.envs.interpreters import Located, locate
from torchlock.errors import InputError
from torchlock.system.runner import Completed, NotFound, RunResult
from torchlock.target import OS


class CondaRunner:
    """Plays `conda info --json` with a prepared answer (or a missing program)."""

    def __init__(self, info: Mapping[str, object] | None) -> None:
        self.info = info
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, timeout: float) -> RunResult:
        self.calls.append(tuple(argv))
        if self.info is None:
            return NotFound(argv=tuple(argv))
        return Completed(argv=tuple(argv), returncode=0, stdout=json.dumps(self.info), stderr="")


def find(
    files: set[str],
    *,
    name: str | None = None,
    prefix: str | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    info: Mapping[str, object] | None = None,
    on_path: Mapping[str, str] | None = None,
    os_kind: OS = OS.LINUX,
) -> Located:
    dirs = {
        path.replace("\\", "/").rsplit("/", i)[0].replace("/", "\\" if "\\" in path else "/")
        for path in files
        for i in (1, 2, 3)
    }
    paths = dict(on_path or {})
    return locate(
        name=name,
        prefix=prefix,
        python=python,
        env=env or {},
        runner=CondaRunner(info),
        which=paths.get,
        is_file=files.__contains__,
        is_dir=dirs.__contains__,
        home="/home/u",
        os_kind=os_kind,
    )


def test_conda_name_from_conda_info() -> None:
    found = find(
        {"/data/envs/test/bin/python"},
        name="test",
        env={"CONDA_EXE": "/opt/c/bin/conda"},
        info={"envs_dirs": ["/data/envs"], "envs": ["/data/envs/test"], "root_prefix": "/opt/c"},
    )
    assert found == Located(
        python="/data/envs/test/bin/python", how="conda environment 'test' at /data/envs/test"
    )


def test_conda_name_in_the_usual_places_without_conda() -> None:
    found = find({"/home/u/miniforge3/envs/test/bin/python"}, name="test")
    assert found.python == "/home/u/miniforge3/envs/test/bin/python"
    found = find({"/home/u/.conda/envs/t2/bin/python3"}, name="t2")
    assert found.python == "/home/u/.conda/envs/t2/bin/python3"


def test_base_is_the_root_prefix() -> None:
    found = find(
        {"/opt/c/bin/python"},
        name="base",
        on_path={"conda": "/opt/c/bin/conda"},
        info={"envs_dirs": [], "envs": ["/opt/c"], "root_prefix": "/opt/c"},
    )
    assert found.python == "/opt/c/bin/python"


def test_unknown_name() -> None:
    with pytest.raises(InputError) as caught:
        find(set(), name="nope")
    assert "no environment named 'nope'" in str(caught.value)
    assert "looked in /home/u/miniforge3/envs" in str(caught.value)
    assert "looked in /home/u/.local/share/torchlock/envs (torchlock create" in str(caught.value)


def test_name_made_by_torchlock_create_with_the_venv_backend() -> None:
    """`torchlock create NAME --backend venv` puts NAME in torchlock's own envs folder."""
    found = find({"/home/u/.local/share/torchlock/envs/demo/bin/python"}, name="demo")
    assert found == Located(
        python="/home/u/.local/share/torchlock/envs/demo/bin/python",
        how="torchlock environment 'demo' at /home/u/.local/share/torchlock/envs/demo",
    )
    found = find({"/x/demo/bin/python3"}, name="demo", env={"TORCHLOCK_ENVS_DIR": "/x"})
    assert found.python == "/x/demo/bin/python3"
    found = find({"/d/torchlock/envs/demo/bin/python"}, name="demo", env={"XDG_DATA_HOME": "/d"})
    assert found.how == "torchlock environment 'demo' at /d/torchlock/envs/demo"
    found = find(
        {"C:\\Users\\u\\AppData\\Local\\torchlock\\envs\\demo\\Scripts\\python.exe"},
        name="demo",
        env={"LOCALAPPDATA": "C:\\Users\\u\\AppData\\Local"},
        os_kind=OS.WINDOWS,
    )
    assert found.python.endswith("\\torchlock\\envs\\demo\\Scripts\\python.exe")


def test_a_name_that_is_both_a_conda_and_a_torchlock_environment_is_ambiguous() -> None:
    files = {
        "/home/u/miniforge3/envs/demo/bin/python",
        "/home/u/.local/share/torchlock/envs/demo/bin/python",
    }
    with pytest.raises(InputError) as caught:
        find(files, name="demo")
    text = str(caught.value)
    assert text.startswith("environment name 'demo' is ambiguous")
    assert "conda environment 'demo' at /home/u/miniforge3/envs/demo" in text
    assert "torchlock environment 'demo' at /home/u/.local/share/torchlock/envs/demo" in text
    assert "--prefix" in text
    # the same folder named twice (a rattler environment in conda's envs dir) is one
    found = find(
        {"/e/demo/bin/python"},
        name="demo",
        env={"TORCHLOCK_ENVS_DIR": "/e/", "CONDA_EXE": "/c/bin/conda"},
        info={"envs_dirs": ["/e"], "envs": [], "root_prefix": "/c"},
    )
    assert found.how == "conda environment 'demo' at /e/demo"


def test_windows_prefix_layouts() -> None:
    found = find({"C:\\envs\\t\\python.exe"}, prefix="C:\\envs\\t", os_kind=OS.WINDOWS)
    assert found.python == "C:\\envs\\t\\python.exe"
    found = find({"C:\\v\\Scripts\\python.exe"}, prefix="C:\\v", os_kind=OS.WINDOWS)
    assert found.python == "C:\\v\\Scripts\\python.exe"


def test_python_path_and_name_on_path() -> None:
    assert find({"/e/bin/python"}, python="/e/bin/python").python == "/e/bin/python"
    found = find(set(), python="python3.10", on_path={"python3.10": "/usr/bin/python3.10"})
    assert found.python == "/usr/bin/python3.10"
    with pytest.raises(InputError, match="no Python interpreter at"):
        find(set(), python="/nope/python")


def test_active_environment_then_path() -> None:
    found = find({"/v/bin/python"}, env={"VIRTUAL_ENV": "/v", "CONDA_PREFIX": "/c"})
    assert found.how == "$VIRTUAL_ENV"
    found = find({"/c/bin/python"}, env={"CONDA_PREFIX": "/c"})
    assert found.how == "$CONDA_PREFIX"
    found = find(set(), on_path={"python3": "/usr/bin/python3"})
    assert found == Located(python="/usr/bin/python3", how="python3 on PATH")
    with pytest.raises(InputError, match="no environment to verify"):
        find(set())


def test_prefix_without_python() -> None:
    with pytest.raises(InputError, match="no Python interpreter in environment"):
        find({"/p/bin/other"}, prefix="/p")
    with pytest.raises(InputError, match="no environment folder"):
        find(set(), prefix="/missing")
