"""``torchlock verify`` end to end against fixture environments.

Each environment is a real virtual environment with fixture ``torch`` /
``torchvision`` / ``torchaudio`` wheels installed by pip; the wheels reproduce one
known failure each (see tests/support/fake_torch.py). The probe really runs in the
environment's interpreter; only PyTorch itself is a stand-in.
"""

from __future__ import annotations

import json
import platform
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from tests.lockfiles.sample import sample_lock
from tests.support.cli import run_cli
from tests.support.fake_torch import FakeTorch, install_fake_env
from torchlock.lockfiles import pylock
from torchlock.system.detect import detect_from_environment

NVJITLINK = (
    "/env/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
    "undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12"
)
TOO_OLD = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). "
    "Please update your GPU driver by downloading and installing a new version from the URL: "
    "http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to "
    "install a PyTorch version that has been compiled with your version of the CUDA driver."
)
SM120 = (
    "\nNVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
    "PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 "
    "sm_70 sm_75 sm_80 sm_86 sm_90.\n"
)
NO_KERNEL = (
    "CUDA error: no kernel image is available for execution on the device\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the "
    "stacktrace below might be incorrect."
)
CPU = {"version": "2.1.2+cpu", "cuda": None, "cuda_available": False, "gpus": (), "cudnn": None}

SCENARIOS: dict[str, FakeTorch] = {
    "healthy": FakeTorch(),
    "nvjitlink": FakeTorch(import_error=NVJITLINK, wheel_libraries=("libnvJitLink.so.12",)),
    "driver-too-old": FakeTorch(cuda_available=False, availability_warning=TOO_OLD),
    "driver-insufficient": FakeTorch(
        kernel_error="CUDA error: CUDA driver version is insufficient for CUDA runtime version"
    ),
    "sm120": FakeTorch(
        gpus=(("NVIDIA GeForce RTX 5090", (12, 0)),), init_warning=SM120, kernel_error=NO_KERNEL
    ),
    "nms": FakeTorch(
        **CPU,
        torchvision="0.17.1",
        torchvision_error="operator torchvision::nms does not exist",
        torchaudio=None,
    ),
    "cudnn": FakeTorch(
        import_error="libcudnn.so.8: cannot open shared object file: No such file or directory"
    ),
    "cublas": FakeTorch(
        import_error="libcublas.so.11: cannot open shared object file: No such file or directory"
    ),
    "cpu": FakeTorch(**CPU, torchvision="0.16.2+cpu", torchaudio="2.1.2+cpu"),
}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fixture envs use POSIX layouts")


@pytest.fixture(scope="session")
def envs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every scenario's environment, installed in parallel once per test session."""
    root = tmp_path_factory.mktemp("fake-envs")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(install_fake_env, root / name, fake)
            for name, fake in SCENARIOS.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "TORCHLOCK_DRIVER",
        "LD_LIBRARY_PATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_EXE",
        "MAMBA_EXE",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def host_has_gpu() -> bool:
    return bool(detect_from_environment("none", gpu_only=True).gpus)


def verify(
    capsys: pytest.CaptureFixture[str], python: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(["verify", "--python", str(python), "--json", *args], capsys)
    assert "Traceback" not in err, err
    return code, json.loads(out)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in report["checks"]}


def diagnosis(report: dict[str, Any], failure_id: str) -> dict[str, Any]:
    found = {d["id"]: d for d in report["diagnoses"]}
    assert failure_id in found, sorted(found)
    return found[failure_id]


def test_healthy_environment_passes(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(
        capsys,
        envs["healthy"],
        "--driver",
        "535.129.03",
        "--expect",
        "torch==2.1.2+cu121",
        "--expect",
        "torchvision==0.16.2+cu121",
        "--expect",
        "torchaudio==2.1.2+cu121",
    )
    assert code == 0
    assert report["ok"] is True
    by_id = checks(report)
    assert {c["status"] for c in report["checks"]} == {"pass"}
    assert by_id["torch.installed"]["detail"] == "2.1.2+cu121 as --expect wants"
    assert by_id["torch.cuda_build"]["detail"] == "CUDA 12.1 build, as --expect wants"
    assert "NVIDIA A100-SXM4-80GB, compute capability 8.0 (sm_80)" in by_id["gpu.0"]["detail"]
    assert by_id["matmul"]["title"] == "matrix product on the GPU"
    assert "kept [0, 2]" in by_id["torchvision.nms"]["detail"]
    assert by_id["cudnn"]["detail"] == "cuDNN 8.9.2 (8902)"
    assert report["diagnoses"] == []
    assert report["probe"]["torch"]["version"] == "2.1.2+cu121"


def test_text_report(envs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["verify", "--python", str(envs["healthy"]), "--driver", "535.129.03"], capsys
    )
    assert code == 0
    assert "pass  torch.cuda.is_available()" in out
    assert "versions not compared: no --expect or --lock given" in out
    assert out.rstrip().endswith("result: ok: 0 failed, 0 warned, 15 passed, 0 skipped")


def test_expected_versions_differ(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(
        capsys, envs["healthy"], "--driver", "535.129.03", "--expect", "torch==2.1.0+cu118"
    )
    assert code == 1
    by_id = checks(report)
    assert by_id["torch.installed"]["status"] == "fail"
    assert by_id["torch.installed"]["detail"] == "2.1.2+cu121 installed, --expect wants 2.1.0+cu118"
    assert by_id["torch.cuda_build"]["status"] == "fail"
    assert "wants CUDA 11.8 (cu118)" in by_id["torch.cuda_build"]["detail"]


def test_nvjitlink_undefined_symbol_and_shadowing_library_path(
    envs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    toolkit = tmp_path / "cuda-12.1" / "lib64"
    toolkit.mkdir(parents=True)
    (toolkit / "libnvJitLink.so.12").write_bytes(b"")
    (toolkit / "libcudart.so.12").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(toolkit))
    code, report = verify(capsys, envs["nvjitlink"], "--driver", "535.129.03")
    assert code == 1
    by_id = checks(report)
    assert by_id["torch.import"]["status"] == "fail"
    assert "undefined symbol: __nvJitLinkAddData_12_1" in by_id["torch.import"]["evidence"][0]
    assert by_id["torch.import"]["diagnoses"] == ["nvjitlink-undefined-symbol"]
    shadow = by_id["host.ld_library_path"]
    assert shadow["status"] == "warn"
    assert shadow["detail"] == (
        f"LD_LIBRARY_PATH entry {toolkit} shadows libnvJitLink.so.12 that the wheels bring"
    )
    found = diagnosis(report, "nvjitlink-undefined-symbol")
    assert found["checks"] == ["torch.import"]
    assert "LD_LIBRARY_PATH" in found["fix"]
    assert "https://github.com/pytorch/pytorch/issues/111469" in found["sources"]
    assert diagnosis(report, "cuda-libraries-shadowed")["checks"] == ["host.ld_library_path"]


def test_driver_too_old(envs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify(capsys, envs["driver-too-old"], "--driver", "470.182.03")
    assert code == 1
    by_id = checks(report)
    assert by_id["driver"]["status"] == "fail"
    assert "CUDA 12.1 needs (>= 530.30.02)" in by_id["driver"]["detail"]
    assert by_id["cuda.available"]["status"] == "fail"
    assert any("found version 11040" in line for line in by_id["cuda.available"]["evidence"])
    found = diagnosis(report, "driver-too-old")
    assert found["checks"] == ["driver", "cuda.available"]
    assert "older CUDA variant" in found["fix"]
    assert by_id["matmul"]["title"] == "matrix product on the CPU"


def test_driver_insufficient(envs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify(capsys, envs["driver-insufficient"], "--driver", "535.129.03")
    assert code == 1
    by_id = checks(report)
    assert by_id["matmul"]["status"] == "fail"
    assert by_id["matmul"]["diagnoses"] == ["driver-insufficient"]
    assert by_id["torchvision.nms"]["diagnoses"] == ["driver-insufficient"]
    assert "Update the NVIDIA driver" in diagnosis(report, "driver-insufficient")["fix"]


def test_gpu_newer_than_the_build(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(capsys, envs["sm120"], "--driver", "575.51.03")
    assert code == 1
    by_id = checks(report)
    gpu = by_id["gpu.0"]
    assert gpu["status"] == "fail"
    assert gpu["detail"].startswith(
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
        "PyTorch installation"
    )
    assert gpu["diagnoses"] == ["gpu-arch-unsupported"]
    assert by_id["matmul"]["diagnoses"] == ["gpu-arch-unsupported"]
    assert any("sm_120 is not compatible" in line for line in by_id["matmul"]["evidence"])
    found = diagnosis(report, "gpu-arch-unsupported")
    assert found["checks"] == ["gpu.0", "matmul", "torchvision.nms"]
    assert "torchlock matrix --gpu-cc" in found["fix"]


def test_torchvision_nms_missing(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str], host_has_gpu: bool
) -> None:
    code, out, _ = run_cli(["verify", "--python", str(envs["nms"]), "--driver", "none"], capsys)
    assert code == 1
    if not host_has_gpu:
        assert out.splitlines()[1] == "no NVIDIA GPU on this host: GPU checks skipped"
    assert "FAIL  import torchvision" in out
    assert "RuntimeError: operator torchvision::nms does not exist" in out
    assert "known failure: torchvision-nms-missing" in out
    assert "[torchvision-nms-missing], seen in: torchvision.import" in out
    assert "source: https://github.com/pytorch/pytorch/issues/122494" in out
    if not host_has_gpu:
        assert "result: FAILED: 1 failed" in out


@pytest.mark.parametrize(
    ("scenario", "failure", "fix"),
    [
        ("cudnn", "cudnn-missing", "Reinstall torch together with its dependencies"),
        ("cublas", "cuda-library-missing", "Reinstall torch with its dependencies"),
    ],
)
def test_missing_cuda_libraries(
    envs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    failure: str,
    fix: str,
) -> None:
    code, report = verify(capsys, envs[scenario], "--driver", "535.129.03")
    assert code == 1
    by_id = checks(report)
    assert by_id["torch.import"]["diagnoses"] == [failure]
    assert by_id["torchvision.import"]["status"] == "skip"
    assert "matmul" not in by_id
    assert diagnosis(report, failure)["fix"].startswith(fix)


def test_cpu_build_on_a_host_with_a_driver(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(capsys, envs["cpu"], "--driver", "535.129.03")
    assert code == 1
    by_id = checks(report)
    assert by_id["torch.cuda_build"]["status"] == "fail"
    assert by_id["torch.cuda_build"]["detail"] == (
        "a CPU-only build of torch on a host with an NVIDIA driver (535.129.03)"
    )
    assert by_id["cuda.available"]["detail"].startswith(
        "torch.cuda.is_available() is False and torch.version.cuda is None"
    )
    found = diagnosis(report, "cpu-only-build")
    assert found["checks"] == ["torch.cuda_build", "cuda.available"]
    assert "--index-url https://download.pytorch.org/whl/cuXYZ" in found["fix"]


def test_cpu_build_without_a_gpu_passes(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str], host_has_gpu: bool
) -> None:
    if host_has_gpu:
        pytest.skip("this host has an NVIDIA GPU")
    code, report = verify(capsys, envs["cpu"], "--driver", "none")
    assert code == 0
    assert report["notes"][0] == "no NVIDIA GPU on this host: GPU checks skipped"
    by_id = checks(report)
    assert by_id["cuda.available"]["status"] == "skip"
    assert by_id["matmul"]["status"] == "pass"
    assert by_id["torchvision.nms"]["title"] == "torchvision.ops.nms on the CPU"
    assert by_id["cudnn"]["status"] == "skip"


def test_prefix_and_active_environment(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = envs["healthy"].parent.parent
    code, out, _ = run_cli(["verify", "--prefix", str(prefix), "--driver", "535.129.03"], capsys)
    assert code == 0
    assert "(--prefix): Python 3." in out.splitlines()[0]
    monkeypatch.setenv("VIRTUAL_ENV", str(prefix))
    code, out, _ = run_cli(["verify", "--driver", "535.129.03"], capsys)
    assert code == 0
    assert "($VIRTUAL_ENV)" in out.splitlines()[0]


def test_conda_environment_by_name(
    envs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    prefix = envs["healthy"].parent.parent  # the venv folder: its name is "venv"
    conda = tmp_path / "conda"
    info = {"envs_dirs": [str(tmp_path / "envs")], "envs": [str(prefix)], "root_prefix": "/x"}
    conda.write_text("#!/bin/sh\ncat <<'EOF'\n" + json.dumps(info) + "\nEOF\n")
    conda.chmod(conda.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CONDA_EXE", str(conda))
    code, out, err = run_cli(["verify", "venv", "--driver", "535.129.03"], capsys)
    assert code == 0, err
    assert f"(conda environment 'venv' at {prefix})" in out.splitlines()[0]
    code, _, err = run_cli(["verify", "nope", "--driver", "535.129.03"], capsys)
    assert code == 2
    assert "no environment named 'nope'" in err


def test_environment_by_name_that_torchlock_create_made_with_venv(
    envs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """NAME is also looked for in torchlock's own envs folder (the venv backend's)."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no conda to ask
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("TORCHLOCK_ENVS_DIR", raising=False)
    monkeypatch.delenv("MAMBA_ROOT_PREFIX", raising=False)
    own = tmp_path / "data" / "torchlock" / "envs"
    own.mkdir(parents=True)
    (own / "demo").symlink_to(envs["healthy"].parent.parent)
    code, out, err = run_cli(["verify", "demo", "--driver", "535.129.03"], capsys)
    assert code == 0, out + err
    assert f"(torchlock environment 'demo' at {own / 'demo'})" in out.splitlines()[0]
    # $TORCHLOCK_ENVS_DIR moves the folder, as it moves where create puts NAME
    monkeypatch.setenv("TORCHLOCK_ENVS_DIR", str(tmp_path / "elsewhere"))
    code, _, err = run_cli(["verify", "demo", "--driver", "535.129.03"], capsys)
    assert code == 2
    assert "no environment named 'demo'" in err
    assert f"looked in {tmp_path / 'elsewhere'} (torchlock create --backend venv)" in err
    # a conda environment of the same name makes NAME ambiguous: both are named
    conda_envs = tmp_path / "home" / "miniforge3" / "envs"
    conda_envs.mkdir(parents=True)
    (conda_envs / "demo").symlink_to(envs["cpu"].parent.parent)
    monkeypatch.delenv("TORCHLOCK_ENVS_DIR")
    code, _, err = run_cli(["verify", "demo", "--driver", "535.129.03"], capsys)
    assert code == 2
    assert "environment name 'demo' is ambiguous" in err
    assert f"conda environment 'demo' at {conda_envs / 'demo'}" in err
    assert f"torchlock environment 'demo' at {own / 'demo'}" in err


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="linux-64 lock")
def test_versions_variant_and_python_from_a_lock(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The sample lock installs torch 2.1.2 (cu121, from the default index) on linux-64."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    lock = tmp_path / "pylock.toml"
    lock.write_text(pylock.render(replace(sample_lock(), python=here)))
    code, report = verify(capsys, envs["healthy"], "--driver", "535.129.03", "--lock", str(lock))
    assert code == 0
    by_id = checks(report)
    assert by_id["torch.installed"]["detail"] == f"2.1.2+cu121 as the lock {lock} wants"
    assert by_id["torch.cuda_build"]["detail"] == f"CUDA 12.1 build, as the lock {lock} wants"
    assert by_id["torchvision.installed"]["detail"] == "0.16.2+cu121 (not expected)"

    lock.write_text(pylock.render(replace(sample_lock(), python="3.9")))
    code, report = verify(
        capsys,
        envs["cpu"],
        "--driver",
        "535.129.03",
        "--lock",
        str(lock),
        "--expect",
        "torch==2.1.2",
    )
    assert code == 1
    by_id = checks(report)
    assert by_id["python"]["status"] == "fail"
    assert by_id["python"]["detail"].endswith(f"but the lock {lock} and --expect is for Python 3.9")
    assert by_id["torch.installed"]["status"] == "pass"
    assert by_id["torch.cuda_build"]["detail"] == (
        f"CPU-only build (torch.version.cuda is None), but the lock {lock} and --expect wants "
        "CUDA 12.1 (cu121)"
    )


def test_missing_lock(
    envs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(
        ["verify", "--python", str(envs["healthy"]), "--lock", str(tmp_path / "nope.toml")], capsys
    )
    assert code == 2
    assert "no such lockfile" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(["verify", "--python", str(tmp_path / "missing")], capsys)
    assert code == 2
    assert "no Python interpreter at" in err
    code, _, err = run_cli(["verify", "--python", sys.executable, "--expect", "torch>=2"], capsys)
    assert code == 2
    assert "malformed expectation 'torch>=2'" in err
    code, _, err = run_cli(["verify", "a", "--python", sys.executable], capsys)
    assert code == 2
    assert "give one of NAME, --prefix and --python" in err
    if sys.platform != "win32":  # a file that cannot be run: bad input, not a failed check
        plain = tmp_path / "python"
        plain.write_text("not a program\n")
        plain.chmod(0o644)
        code, out, err = run_cli(["verify", "--python", str(plain)], capsys)
        assert (code, out) == (2, "")
        assert err.splitlines()[0] == f"error: {plain} is not executable"


def test_interpreter_without_the_probe_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\necho 'ImportError: libcudnn.so.9: cannot open shared object file' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    code, report = verify(capsys, fake, "--driver", "none")
    assert code == 1
    assert report["checks"][0]["id"] == "probe"
    assert report["checks"][0]["diagnoses"] == ["cudnn-missing"]
