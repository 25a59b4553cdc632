"""``torchlock fleet detect`` with the real engine: ansible-playbook over an inventory of
hosts on this machine (``ansible_connection=local``), each with facts of its own, and one
that cannot be reached."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli

BIN = Path(sys.executable).parent


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("ansible-playbook", path=str(BIN)) is None:
        pytest.skip("ansible-core is not installed (pip install 'torchlock[fleet]')")
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-tmp"))
    monkeypatch.setenv("ANSIBLE_REMOTE_TEMP", str(tmp_path / "ansible-remote"))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    path = tmp_path / "hosts.ini"
    path.write_text(
        "[pascal]\n"
        "p100 torchlock_driver=470.82.01\n"
        "[hopper]\n"
        "h100-a torchlock_driver=580.65.06\n"
        "h100-b torchlock_driver=580.65.06\n"
        "[gpu:children]\n"
        "pascal\n"
        "hopper\n"
        "[gpu:vars]\n"
        "ansible_connection=local\n"
        f"ansible_python_interpreter={sys.executable}\n"
        f"torchlock_command={BIN / 'torchlock'}\n"
        "[gone]\n"
        "lost ansible_host=192.0.2.1 ansible_connection=ssh "
        "ansible_ssh_common_args='-o ConnectTimeout=2 -o BatchMode=yes'\n"
    )
    return path


def test_every_host_is_detected_and_an_unreachable_one_reported(
    capsys: pytest.CaptureFixture[str], inventory: Path
) -> None:
    code, out, err = run_cli(["fleet", "detect", "-i", str(inventory), "--json"], capsys)
    assert code == 1, err  # one host could not be reached
    doc = json.loads(out)
    drivers = {h["host"]: h["detect"]["driver"]["version"] for h in doc["hosts"]}
    assert drivers == {"p100": "470.82.01", "h100-a": "580.65.06", "h100-b": "580.65.06"}
    assert doc["hosts"][0]["stated"] == {"torchlock_driver": "580.65.06"}  # sorted: h100-a
    assert doc["unreachable"] == ["lost"]
    assert doc["failed"] == []


def test_limit_keeps_to_a_group_and_all_reached_is_exit_0(
    capsys: pytest.CaptureFixture[str], inventory: Path
) -> None:
    code, out, err = run_cli(["fleet", "detect", "-i", str(inventory), "--limit", "hopper"], capsys)
    assert code == 0, err
    assert "h100-a" in out
    assert "p100" not in out
    assert "580.65.06" in out


def test_a_host_whose_detection_fails_is_reported(
    capsys: pytest.CaptureFixture[str], inventory: Path
) -> None:
    text = inventory.read_text().replace(
        "p100 torchlock_driver=470.82.01", "p100 torchlock_driver=4x7"
    )
    inventory.write_text(text)
    code, out, err = run_cli(["fleet", "detect", "-i", str(inventory), "--limit", "gpu"], capsys)
    assert code == 1, err
    assert "failed: p100" in err
    assert "h100-b" in out


def test_without_ansible_the_command_says_how_to_get_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchlock.system import ansible

    monkeypatch.setattr(ansible.shutil, "which", lambda name, path=None: None)
    (tmp_path / "hosts.ini").write_text("a ansible_connection=local\n")
    code, _, err = run_cli(["fleet", "detect", "-i", str(tmp_path / "hosts.ini")], capsys)
    assert code == 2
    assert (
        err.splitlines()[0]
        == "error: ansible-inventory not found: the fleet commands run on Ansible"
    )
    assert "pip install 'torchlock[fleet]'" in err


def test_an_inventory_with_no_host_is_refused(
    capsys: pytest.CaptureFixture[str], inventory: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-inventory.ini"  # Ansible warns and lists nothing
    code, _, err = run_cli(["fleet", "detect", "-i", str(missing)], capsys)
    assert code == 2, err
    assert err.splitlines()[0] == f"error: the inventory {missing} holds no host"
    code, _, err = run_cli(["fleet", "detect", "-i", str(inventory), "--limit", "nope"], capsys)
    assert code == 2, err
    assert "holds no host that --limit nope keeps" in err.splitlines()[0]
