"""Closure parity with uv on real ML projects, against the real default index.

Marked ``network`` (run with ``pytest -m network``). For each requirement set, torchlock
solves it beside the torch family and ``uv pip compile`` resolves the same requirements
(the family pinned to torchlock's pins) for the same target on the same index; both must
pin the same names and versions. The default index is the one a user's pip would use: the
root fixture clears this machine's pip configuration, so it is pip's own default.

Targets: linux-64 (torch 2.1.2, whose Linux x86_64 wheels on the default index are the
cu121 build) and win-64 with the CPU build (the default index's Windows wheel). Every
accepted difference is written beside its set, with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from torchlock.pipconfig import pip_default_index

pytestmark = pytest.mark.network

# (id, requirements, xfail reason or None). Chosen to cover what ML engineers lock.
SETS: list[tuple[str, list[str], str | None]] = [
    ("data-science", ["pandas==2.3.3", "scikit-learn", "matplotlib", "seaborn"], None),
    ("notebooks", ["jupyterlab", "ipywidgets"], None),
    ("fine-tuning", ["transformers", "datasets", "accelerate", "peft", "bitsandbytes"], None),
    ("speech", ["librosa", "soundfile", "openai-whisper"], None),  # openai-whisper: sdist only
    ("image-generation", ["diffusers", "safetensors", "invisible-watermark"], None),
    ("web-ui", ["gradio"], None),
    ("serving", ["fastapi", "uvicorn[standard]", "pydantic"], None),
    ("chinese-nlp", ["jieba", "transformers", "sentencepiece"], None),  # jieba: sdist only
    ("evaluation", ["evaluate", "rouge-score", "nltk"], None),  # rouge-score: sdist only
    ("vision", ["timm", "opencv-python-headless", "albumentations"], None),
    ("tracking", ["tensorboard", "wandb", "omegaconf", "hydra-core"], None),
    ("lightning", ["lightning", "torchmetrics"], None),
]

TARGETS = {
    # platform: (selection flags, uv's --python-platform)
    "linux-64": (["--driver", "525.85.05", "--gpu-cc", "7.5"], "x86_64-manylinux_2_39"),
    "win-64": (["--driver", "none"], "x86_64-pc-windows-msvc"),
}


def _uv() -> str:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed")
    return uv


def _torchlock(
    capsys: pytest.CaptureFixture[str], platform: str, requirements: list[str], cache: Path
) -> dict[str, str]:
    select, _ = TARGETS[platform]
    argv = ["solve", *select, "--python", "3.10", "--torch", "2.1.2", "--platform", platform]
    argv += ["--no-conda", "--cache-dir", str(cache), "--json"]
    for requirement in requirements:
        argv += ["--with", requirement]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    [target] = json.loads(out)["targets"]
    return {p["name"]: p["version"] for p in target["packages"]}


def _uv_compile(
    platform: str, requirements: list[str], family: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    _, uv_platform = TARGETS[platform]
    source = tmp_path / "requirements.in"
    pinned = [f"{name}=={version}" for name, version in sorted(family.items())]
    source.write_text("\n".join([*pinned, *requirements]) + "\n")
    argv = [_uv(), "pip", "compile", str(source), "--index-url", pip_default_index()]
    argv += ["--python-version", "3.10", "--python-platform", uv_platform]
    argv += ["--no-header", "--no-annotate", "--quiet"]
    # no Python download: uv needs no interpreter of the target's version to resolve for it
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stderr
    pins: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
    return pins


@pytest.mark.parametrize("platform", sorted(TARGETS))
@pytest.mark.parametrize(
    "requirements",
    [
        pytest.param(
            reqs,
            id=name,
            marks=[pytest.mark.xfail(reason=why, strict=True)] if why else [],
        )
        for name, reqs, why in SETS
    ],
)
def test_the_closure_equals_uvs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, platform: str, requirements: list[str]
) -> None:
    ours = _torchlock(capsys, platform, requirements, tmp_path / "cache")
    family = {name: ours[name] for name in ("torch", "torchvision", "torchaudio") if name in ours}
    theirs = _uv_compile(platform, requirements, family, tmp_path)
    assert ours == theirs
