"""``torchlock matrix`` through the real CLI: the JSON shape, the table, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.cli import run_cli

BASE = ["matrix", "--os", "linux", "--arch", "x86_64", "--python", "3.10"]


@pytest.fixture(autouse=True)
def _no_stated_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHLOCK_DRIVER", raising=False)


def test_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        [*BASE, "--driver", "525.85.05", "--gpu-cc", "7.5", "--torch", "2.1.2", "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc) == [
        "input",
        "max_cuda",
        "recommended",
        "candidates",
        "excluded",
        "warnings",
        "reasons",
    ]
    assert doc["input"] == {
        "driver": "525.85.05",
        "os": "linux",
        "arch": "x86_64",
        "gpu_cc": ["7.5"],
        "python": "3.10",
        "torch": "==2.1.2",
        "variant": None,
        "policy": "compat",
    }
    assert doc["max_cuda"] == "12.0"
    # torch 2.1.2 was built for cu118 and cu121; 12.1 runs on 525.85.05 through
    # CUDA 12 minor version compatibility (floor 525.60.13).
    assert doc["recommended"] == {
        "torch": "2.1.2",
        "torchvision": "0.16.2",
        "torchaudio": "2.1.2",
        "variant": "cu121",
        "cuda": "12.1",
        "index_url": "https://download.pytorch.org/whl/cu121",
        "default_index_has_it": True,
    }
    assert doc["candidates"] == [doc["recommended"]]
    assert any("minor version compatibility" in w for w in doc["warnings"])
    assert all(set(e) == {"torch", "variant", "reason"} for e in doc["excluded"])


def test_table_names_the_choice_and_the_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli([*BASE, "--driver", "525.85.05", "--gpu-cc", "7.5"], capsys)
    assert code == 0, err
    assert "max CUDA" in out
    assert "12.0" in out
    assert "why" in out
    assert "cu12" in out


def test_driver_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHLOCK_DRIVER", "470.182.03")
    code, out, err = run_cli([*BASE, "--gpu-cc", "7.5", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["input"]["driver"] == "470.182.03"
    assert doc["max_cuda"] == "11.4"


def test_a_bad_driver_in_the_environment_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHLOCK_DRIVER", "525.85.05 ")  # spaces around are fine
    assert run_cli([*BASE, "--gpu-cc", "7.5", "--json"], capsys)[0] == 0
    monkeypatch.setenv("TORCHLOCK_DRIVER", "latest")
    code, out, err = run_cli([*BASE, "--json"], capsys)
    assert (code, out) == (2, "")
    assert (
        err.splitlines()[0] == "error: $TORCHLOCK_DRIVER is 'latest', not an NVIDIA driver version"
    )
    code, out, err = run_cli([*BASE, "--driver", "none", "--json"], capsys)
    assert code == 0, err  # the option wins over the variable


def test_no_driver_gives_the_cpu_build_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli([*BASE, "--driver", "none", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["max_cuda"] is None
    assert doc["recommended"]["variant"] == "cpu"
    assert doc["recommended"]["index_url"] == "https://download.pytorch.org/whl/cpu"
    assert any("no NVIDIA driver" in r for r in doc["reasons"])


def test_driver_too_old_for_every_cuda_variant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli([*BASE, "--driver", "418.67", "--gpu-cc", "7.0", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["max_cuda"] is None
    assert doc["recommended"]["variant"] == "cpu"
    assert any("CPU build" in w for w in doc["warnings"])
    assert any("418.67" in r for r in doc["reasons"])


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--driver", "52a.85"], "'52a.85'"),
        (["--python", "2.7"], "2.7"),
        (["--python", "3.99"], "3.99"),
        (["--python", "three"], "'three'"),
        (["--torch", "9.9"], "'9.9'"),
        (["--torch", ">=2.1,<2.0"], "'>=2.1,<2.0'"),
        (["--torch", "==>2"], "'==>2'"),
        (["--gpu-cc", "eleven"], "'eleven'"),
        (["--variant", "cu999"], "'cu999'"),
        (["--variant", "cu-12"], "'cu-12'"),
        (["--os", "solaris"], "'solaris'"),
        (["--arch", "ppc64le"], "'ppc64le'"),
        (["--policy", "loose"], "'loose'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    full = ["matrix", "--driver", "525.85.05", "--gpu-cc", "7.5", "--python", "3.10", *argv]
    code, out, err = run_cli(full, capsys)
    assert code == 2
    assert out == ""
    first, *rest = err.splitlines()
    assert first.startswith("error: ")
    assert named in first
    assert all(line.startswith(("  ", "hint: ")) for line in rest)
    assert "Traceback" not in err


def test_a_forced_rocm_variant_warns_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli([*BASE, "--driver", "none", "--variant", "rocm6.1", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["candidates"]) > 1  # several releases, each with a rocm6.1 build
    rocm = [w for w in doc["warnings"] if "not for NVIDIA GPUs" in w]
    assert rocm == [
        "rocm6.1 builds are not for NVIDIA GPUs; torchlock does not check their drivers"
    ]


def test_forced_variant_that_nothing_admits_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(
        [*BASE, "--driver", "470.182.03", "--gpu-cc", "7.5", "--variant", "cu121"], capsys
    )
    assert code == 4
    assert err.startswith("error: no torch build fits the request")
    assert "470.182.03" in err


def test_subprocess_never_tracebacks() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torchlock", "matrix", "--driver", "52a.85"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: malformed NVIDIA driver version '52a.85'")
    assert "Traceback" not in proc.stderr
