"""apply through the real streaming runner: skip, run, stop at the first failure, resume.

Plans here are made of real steps (bash commands on this machine); the NVIDIA download
step is the real one, pointed at a closed port on 127.0.0.1 so it fails at once.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import msgspec
import pytest

from torchlock.system.apply import ApplyError, Privilege, StepStatus, apply_plan
from torchlock.system.components import download_step, plan
from torchlock.system.runner import SubprocessStreamingRunner
from torchlock.system.steps import (
    Check,
    Checksum,
    Download,
    Edit,
    Plan,
    Shell,
    Step,
    TargetOs,
    edit_commands,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="steps are bash commands")

ROOT = Privilege(is_root=True)


def _clock() -> str:
    return "2024-01-01T00:00:00+00:00"


def _step(id: str, commands: tuple[str, ...], check: str | None, **kwargs: object) -> Step:
    return Step(
        id=id,
        title=f"step {id}",
        why="test",
        shell=Shell.BASH,
        commands=commands,
        check=Check(command=check, means=f"{id} done") if check else None,
        **kwargs,  # type: ignore[arg-type]
    )


def _plan(*steps: Step) -> Plan:
    return Plan(component="demo", os=TargetOs.DEBIAN_12, version="1", source="test", steps=steps)


def _apply(p: Plan, state: Path, **kwargs: object) -> object:
    lines: list[str] = []
    result = apply_plan(
        p,
        runner=SubprocessStreamingRunner(),
        state_dir=state,
        privilege=kwargs.pop("privilege", ROOT),  # type: ignore[arg-type]
        clock=_clock,
        report=lines.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return result, lines


def test_skip_run_fail_then_resume(tmp_path: Path) -> None:
    work, state = tmp_path / "w", tmp_path / "state"
    work.mkdir()
    a, b, c = work / "a", work / "b", work / "c"
    a.write_text("x")
    gate = work / "gate"
    steps = _plan(
        _step("a", (f"touch {a}",), f"test -f {a}"),
        _step("b", (f"echo making b; touch {b}",), f"test -f {b}"),
        _step(
            "c",
            (
                f"echo preparing c; test -f {gate} || {{ echo 'gate is shut' >&2; exit 3; }}",
                f"touch {c}",
            ),
            f"test -f {c}",
        ),
    )
    with pytest.raises(ApplyError) as caught:
        _apply(steps, state)
    message = str(caught.value)
    assert caught.value.exit_code == 1
    assert message.startswith("step 'c' failed: `echo preparing c;")
    assert "exited with status 3" in message
    assert "gate is shut" in message
    assert "preparing c" in message
    assert f"log: {state / 'apply.log'}" in message
    assert b.exists()
    assert not c.exists()
    saved = json.loads((state / "state.json").read_text())
    assert saved["demo@debian-12"]["status"] == "failed"
    assert saved["demo@debian-12"]["step"] == "c"
    log = (state / "apply.log").read_text()
    assert "check passed: a done" in log
    assert "  | making b" in log
    assert "FAILED c" in log

    gate.write_text("open")  # the fix
    result, lines = _apply(steps, state)
    assert [o.status for o in result.outcomes] == [  # type: ignore[attr-defined]
        StepStatus.SKIPPED,
        StepStatus.SKIPPED,
        StepStatus.DONE,
    ]
    assert lines[0] == "continuing: the last run stopped at step c"
    assert c.exists()
    assert json.loads((state / "state.json").read_text())["demo@debian-12"]["status"] == "done"


def test_check_still_failing_after_the_commands_is_a_failure(tmp_path: Path) -> None:
    p = _plan(_step("x", ("true",), "false"))
    with pytest.raises(ApplyError, match="ran but its check still fails: x done"):
        _apply(p, tmp_path)


def test_reboot_stops_the_run_and_the_next_run_continues(tmp_path: Path) -> None:
    marker, after = tmp_path / "marker", tmp_path / "after"
    p = _plan(
        _step("edit", (f"touch {marker}",), f"test -f {marker}", reboot_after=True),
        _step("next", (f"touch {after}",), f"test -f {after}"),
    )
    result, _ = _apply(p, tmp_path / "s")
    assert result.reboot_required  # type: ignore[attr-defined]
    assert not after.exists()
    result, lines = _apply(p, tmp_path / "s")
    assert not result.reboot_required  # type: ignore[attr-defined]
    assert "stopped at step edit" in lines[0]
    assert after.exists()


def test_root_steps_go_through_sudo_or_are_refused(tmp_path: Path) -> None:
    fake_sudo = tmp_path / "sudo"
    fake_sudo.write_text('#!/bin/sh\n[ "$1" = -n ] || exit 9\nshift\nexec "$@"\n')
    fake_sudo.chmod(0o755)
    out = tmp_path / "out"
    p = _plan(_step("r", (f"touch {out}",), f"test -f {out}", needs_root=True))
    _apply(p, tmp_path / "s", privilege=Privilege(is_root=False, sudo=str(fake_sudo)))
    assert out.exists()
    out.unlink()
    with pytest.raises(ApplyError, match="needs root and this process is not root") as caught:
        _apply(p, tmp_path / "s", privilege=Privilege(is_root=False, sudo=None))
    assert "install sudo" in str(caught.value)


def test_edits_are_written_and_appended_once(tmp_path: Path) -> None:
    conf, rc = tmp_path / "etc" / "demo.conf", tmp_path / "bashrc"
    rc.write_text("existing\n")
    edits = (
        Edit(file=str(conf), content="a = 1\nb = 'two'\n", why="t"),
        Edit(
            file=str(rc), content="export PATH=/opt/x/bin${PATH:+:${PATH}}\n", why="t", append=True
        ),
    )
    commands = tuple(
        c for e in edits for c in edit_commands(e, shell=Shell.BASH, step_id="demo-edit")
    )
    p = _plan(_step("demo-edit", commands, None))
    _apply(p, tmp_path / "s")
    _apply(p, tmp_path / "s")  # no check: runs again, and the append stays single
    assert conf.read_text() == "a = 1\nb = 'two'\n"
    assert rc.read_text() == (
        "existing\n# torchlock: demo-edit\nexport PATH=/opt/x/bin${PATH:+:${PATH}}\n"
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nvidia_download_failing_stops_cleanly(tmp_path: Path) -> None:
    real = plan("cuda", TargetOs.UBUNTU_2204, "12.0.1")
    original = next(step for step in real.steps if step.id == "download-cuda")
    download = original.downloads[0]
    port = _closed_port()
    dest = tmp_path / "dl" / download.dest.rsplit("/", 1)[-1]
    broken = msgspec.structs.replace(
        download,
        url=download.url.replace(
            "https://developer.download.nvidia.com", f"http://127.0.0.1:{port}"
        ),
        dest=str(dest),
    )
    assert isinstance(broken.checksum, Checksum)
    step = download_step("download-cuda", original.title, broken, shell=Shell.BASH)
    p = msgspec.structs.replace(real, steps=(step,))
    with pytest.raises(ApplyError) as caught:
        _apply(p, tmp_path / "s")
    message = str(caught.value)
    assert message.startswith("step 'download-cuda' failed: `curl -fL")
    assert f"127.0.0.1:{port}" in message
    assert "exited with status 7" in message  # curl: failed to connect
    assert not dest.exists()  # only a finished, verified download is moved into place


def test_checksum_mismatch_stops_before_the_file_is_used(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"payload")
    dest = tmp_path / "dl" / "src.bin"
    download = Download(
        url=source.as_uri(),
        dest=str(dest),
        checksum=Checksum(algorithm="sha256", value="0" * 64),
        published="test",
    )
    p = _plan(download_step("dl", "download", download, shell=Shell.BASH))
    with pytest.raises(ApplyError, match=r"sha256sum -c -` exited with status 1"):
        _apply(p, tmp_path / "s")
    assert not dest.exists()
