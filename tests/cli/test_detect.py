"""``torchlock detect`` on this very host, in-process and as a subprocess.

These runs look at the real machine (which may have no GPU at all), so they
check the shape of the answer and that it never fails, not its values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.host import FakeHost, Reply, detect, fixture, smi
from torchlock.cli.detect import print_table

KEYS = {"os", "driver", "gpus", "toolkit", "tools", "pythons", "cuda_library_paths", "notes"}


@pytest.fixture(autouse=True)
def _no_stated_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHLOCK_DRIVER", raising=False)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["detect", "--json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == KEYS
    assert document["driver"]["status"] in {"ok", "absent", "broken"}
    assert set(document["driver"]) >= {"status", "version", "source", "cuda", "detail"}
    for gpu in document["gpus"]:
        assert set(gpu) >= {
            "index",
            "name",
            "memory_mib",
            "compute_capability",
            "cc_source",
            "uuid",
        }
    assert out == json.dumps(document, sort_keys=True, indent=2) + "\n"
    assert any(python["source"] == "running" for python in document["pythons"])


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["detect"], capsys)
    assert code == 0, err
    assert "driver status" in out
    assert "architecture" in out
    assert "Traceback" not in out + err


def test_driver_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["detect", "--json", "--driver", "525.85.05"], capsys)
    assert code == 0
    driver = json.loads(out)["driver"]
    assert (driver["status"], driver["version"], driver["source"]) == (
        "ok",
        "525.85.05",
        "--driver",
    )


def test_driver_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHLOCK_DRIVER", "536.23")
    code, out, _ = run_cli(["detect", "--json"], capsys)
    assert code == 0
    driver = json.loads(out)["driver"]
    assert (driver["version"], driver["source"]) == ("536.23", "TORCHLOCK_DRIVER")


def test_option_beats_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHLOCK_DRIVER", "536.23")
    code, out, _ = run_cli(["detect", "--json", "--driver", "550.54.15"], capsys)
    assert code == 0
    assert json.loads(out)["driver"]["source"] == "--driver"


def test_bad_driver_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["detect", "--driver", "52a.85"], capsys)
    assert code == 2
    assert out == ""
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "52a.85" in error_lines[0]
    assert "Traceback" not in err


def test_bad_driver_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHLOCK_DRIVER", "latest")
    code, _, err = run_cli(["detect", "--json"], capsys)
    assert code == 2
    assert err.startswith("error: ")
    assert "'latest'" in err.splitlines()[0]
    assert "TORCHLOCK_DRIVER" in err.splitlines()[0]


def _env_without_driver() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "TORCHLOCK_DRIVER"}


def test_subprocess_json_never_tracebacks() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torchlock", "detect", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env_without_driver(),
        check=False,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == KEYS


def test_command_module_imports_no_heavy_modules() -> None:
    code = (
        "import sys, torchlock.cli.detect, torchlock.system.detect; "
        "print(sorted(m for m in ('rich', 'http.client') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


@pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")
def test_table_of_a_gpu_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    host = FakeHost(root=tmp_path)
    host.write("/etc/os-release", fixture("os-release/ubuntu-22.04.txt"))
    host.write("/proc/driver/nvidia/version", fixture("proc/driver-nvidia-version-470.182.03.txt"))
    host.program(
        "/usr/bin/nvidia-smi",
        Reply(stdout=fixture("nvidia-smi/t4-470.182.03.txt")),
        when={
            "*compute_cap*": Reply(
                stdout=fixture("nvidia-smi/t4-470.182.03.query-compute-cap.txt"), exit_code=2
            ),
            "--query-gpu=*": Reply(stdout=fixture("nvidia-smi/t4-470.182.03.query.csv")),
        },
    )
    host.program("/usr/local/cuda/bin/nvcc", Reply(stdout=fixture("nvcc/11.8.txt")))

    print_table(detect(host))

    out = capsys.readouterr().out
    for text in (
        "Ubuntu 22.04.3 LTS",
        "470.182.03",
        "/proc/driver/nvidia/version",
        "Tesla T4, 15109 MiB",
        "7.5 (sm_75)",
        "GPU name table",
        "11.8 (V11.8.89)",
        "note: nvidia-smi rejects the compute_cap field",
    ):
        assert text in out


@pytest.mark.skipif(sys.platform == "win32", reason="fake programs are sh scripts")
def test_table_of_a_broken_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = FakeHost(root=tmp_path)
    smi(host, "h200-580.65.06")
    host.program(
        "/usr/bin/nvidia-smi", Reply(stdout=fixture("nvidia-smi/broken-driver.txt"), exit_code=9)
    )

    print_table(detect(host))

    out = capsys.readouterr().out
    assert "broken" in out
    assert "couldn't communicate" in out
    assert "none found" in out
