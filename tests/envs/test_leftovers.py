"""What killed runs leave (partial downloads, cache writes, build folders, half-built
environments) is removed by a later run, and what a running torchlock owns never is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torchlock.envs import leftovers
from torchlock.system.processes import alive


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process that has ended."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not alive(done.pid)
    return done.pid


def test_alive() -> None:
    assert alive(os.getpid())
    assert not alive(0)
    assert not alive(-5)


def test_the_cache_loses_the_partial_files_of_dead_runs_once_a_day(
    tmp_path: Path, dead_pid: int
) -> None:
    live = os.getppid()  # the shell or pytest's parent: running
    folder = tmp_path / "files" / "ab" / ("ab" + "0" * 62)
    folder.mkdir(parents=True)
    dead_part = folder / f".part-{dead_pid}-x1y2"
    live_part = folder / f".part-{live}-x1y2"
    dead_tmp = tmp_path / "pages" / f".torch.json.{dead_pid}-140234-7.tmp"
    dead_tmp.parent.mkdir()
    kept = [live_part, folder / "torch-2.5.1-py3-none-any.whl", tmp_path / ".part-notours"]
    for path in (dead_part, dead_tmp, *kept):
        path.write_bytes(b"x")
    assert leftovers.sweep_cache(tmp_path) == 2
    assert not dead_part.exists()
    assert not dead_tmp.exists()
    assert all(path.exists() for path in kept)
    dead_part.write_bytes(b"x")  # another killed run, within the day: left until tomorrow
    assert leftovers.sweep_cache(tmp_path) == 0
    assert leftovers.sweep_cache(tmp_path, now=time.time() + leftovers.EVERY + 1) == 1
    assert leftovers.sweep_partials(folder) == 0  # the live run's part stays


def test_build_folders_of_dead_runs_are_removed_from_the_temporary_folder(
    tmp_path: Path, dead_pid: int
) -> None:
    dead = tmp_path / f"torchlock-build-{dead_pid}-abc"
    (dead / "src").mkdir(parents=True)
    wheels = tmp_path / f"torchlock-wheels-{dead_pid}-abc"
    wheels.mkdir()
    mine = tmp_path / f"torchlock-build-{os.getpid()}-abc"
    mine.mkdir()
    other = tmp_path / f"someone-build-{dead_pid}-abc"
    other.mkdir()
    assert leftovers.sweep_temp(tmp_path) == 2
    assert not dead.exists()
    assert not wheels.exists()
    assert mine.exists()
    assert other.exists()


def test_a_killed_environment_build_is_undone_and_a_running_one_left(
    tmp_path: Path, dead_pid: int
) -> None:
    # killed while replacing: the half-built one at its place, the old one set aside
    half = tmp_path / "proj"
    half.mkdir()
    (half / "pyvenv.cfg").write_text("half built\n")
    aside = tmp_path / ".proj.torchlock-old-1234"
    aside.mkdir()
    (aside / "pyvenv.cfg").write_text("the old one\n")
    marker = tmp_path / ".proj.torchlock-building"
    marker.write_text(json.dumps({"pid": dead_pid, "state": "building", "aside": str(aside)}))
    (tmp_path / ".proj.torchlock-requirements.txt").write_text("torch @ file:///x\n")
    # one being built right now, by a running process
    busy = tmp_path / "busy"
    busy.mkdir()
    busy_marker = tmp_path / ".busy.torchlock-building"
    busy_marker.write_text(json.dumps({"pid": os.getppid(), "state": "building", "aside": None}))
    assert leftovers.sweep_places(tmp_path) == 1
    assert (half / "pyvenv.cfg").read_text() == "the old one\n"
    assert not aside.exists()
    assert not marker.exists()
    assert not (tmp_path / ".proj.torchlock-requirements.txt").exists()
    assert busy.exists()
    assert busy_marker.exists()
