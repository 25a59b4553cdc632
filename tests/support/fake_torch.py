"""Fixture ``torch``, ``torchvision`` and ``torchaudio`` wheels standing in for the real ones.

They play an external component: the probe surface of PyTorch (``torch.__version__``,
``torch.version.cuda``, ``torch.cuda.*``, ``torch.backends.cudnn.version()``, tensors
enough for a matrix product, ``torchvision.ops.nms``) with behaviour chosen when the
wheels are built, so that each known failure can be reproduced on a machine without a
GPU: an ImportError at ``import torch``, a warning from ``torch.cuda.is_available()``,
a CUDA error from the first kernel, a torchvision that cannot register its operators.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.support.wheels import build_wheel

A100 = ("NVIDIA A100-SXM4-80GB", (8, 0))
CU121_ARCH = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeTorch:
    """How the fixture packages behave; the defaults are a healthy cu121 install on an A100."""

    version: str = "2.1.2+cu121"
    cuda: str | None = "12.1"
    import_error: str | None = None  # `import torch` raises ImportError(this)
    cuda_available: bool = True
    availability_warning: str | None = None  # torch.cuda.is_available() warns this
    gpus: tuple[tuple[str, tuple[int, int]], ...] = (A100,)
    arch_list: tuple[str, ...] = CU121_ARCH
    cudnn: int | None = 8902
    init_warning: str | None = None  # the first CUDA kernel warns this (lazy init)
    kernel_error: str | None = None  # ... then raises RuntimeError(this)
    torchvision: str | None = "0.16.2+cu121"  # None: not installed
    torchvision_error: str | None = None  # `import torchvision` raises RuntimeError(this)
    torchaudio: str | None = "2.1.2+cu121"
    torchaudio_error: str | None = None
    # sonames an nvidia-* stand-in wheel puts under site-packages/nvidia/<lib>/lib
    wheel_libraries: tuple[str, ...] = field(default=())


_TORCH = """
import json as _json
import os as _os
import warnings as _warnings

with open(_os.path.join(_os.path.dirname(__file__), "_fake.json")) as _f:
    _C = _json.load(_f)
if _C["import_error"]:
    raise ImportError(_C["import_error"])

__version__ = _C["version"]


class _Namespace:
    pass


version = _Namespace()
version.cuda = _C["cuda"]
version.hip = None
version.__version__ = __version__
_state = {"initialized": False}


def _lazy_init():
    if _C["cuda"] is None:
        raise AssertionError("Torch not compiled with CUDA enabled")
    if not (_C["cuda_available"] and _C["gpus"]):
        raise RuntimeError("No CUDA GPUs are available")
    if not _state["initialized"]:
        _state["initialized"] = True
        if _C["init_warning"]:
            _warnings.warn(_C["init_warning"], UserWarning)
    if _C["kernel_error"]:
        raise RuntimeError(_C["kernel_error"])


class Tensor:
    def __init__(self, data, device):
        self.data = data
        self.device = device

    def __matmul__(self, other):
        rows = [
            [sum(a * b for a, b in zip(row, col)) for col in zip(*other.data)]
            for row in self.data
        ]
        return Tensor(rows, self.device)

    def sum(self):
        def total(x):
            return sum(total(i) for i in x) if isinstance(x, list) else x

        return Tensor(total(self.data), self.device)

    def item(self):
        return self.data

    def tolist(self):
        return self.data


def _device(device):
    device = str(device)
    if device.startswith("cuda"):
        _lazy_init()
    return device


def ones(shape, device="cpu"):
    rows, cols = shape
    return Tensor([[1.0] * cols for _ in range(rows)], _device(device))


def tensor(data, device="cpu"):
    return Tensor(data, _device(device))


cuda = _Namespace()


def _is_available():
    if _C["availability_warning"]:
        _warnings.warn(_C["availability_warning"], UserWarning)
    return bool(_C["cuda"] and _C["cuda_available"] and _C["gpus"])


cuda.is_available = _is_available
cuda.device_count = lambda: len(_C["gpus"]) if _is_available() else 0
cuda.get_arch_list = lambda: list(_C["arch_list"]) if _is_available() else []
cuda.get_device_name = lambda index=0: _C["gpus"][index][0]
cuda.get_device_capability = lambda index=0: tuple(_C["gpus"][index][1])
cuda.synchronize = lambda: None
backends = _Namespace()
backends.cudnn = _Namespace()
backends.cudnn.version = lambda: _C["cudnn"] if _C["cuda"] else None
"""

_TORCHVISION = """
import json as _json
import os as _os

import torch

with open(_os.path.join(_os.path.dirname(__file__), "_fake.json")) as _f:
    _C = _json.load(_f)
if _C["torchvision_error"]:
    raise RuntimeError(_C["torchvision_error"])

__version__ = _C["torchvision"]


def _iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area(a) + area(b) - inter)


class _Ops:
    @staticmethod
    def nms(boxes, scores, iou_threshold):
        torch._device(boxes.device)
        order = sorted(range(len(scores.data)), key=lambda i: -scores.data[i])
        keep = []
        for i in order:
            if all(_iou(boxes.data[i], boxes.data[k]) <= iou_threshold for k in keep):
                keep.append(i)
        return torch.tensor(keep, device=boxes.device)


ops = _Ops()
"""

_TORCHAUDIO = """
import json as _json
import os as _os

import torch

with open(_os.path.join(_os.path.dirname(__file__), "_fake.json")) as _f:
    _C = _json.load(_f)
if _C["torchaudio_error"]:
    raise OSError(_C["torchaudio_error"])

__version__ = _C["torchaudio"]
"""


def build_fake_wheels(directory: Path, fake: FakeTorch) -> list[Path]:
    """The wheels of one fixture install: torch, and torchvision/torchaudio/nvidia as asked."""
    config = json.dumps(asdict(fake), sort_keys=True)
    wheels = [
        build_wheel(
            directory,
            "torch",
            fake.version,
            extra_files={"torch/__init__.py": _TORCH, "torch/_fake.json": config},
        )
    ]
    for name, version, source in (
        ("torchvision", fake.torchvision, _TORCHVISION),
        ("torchaudio", fake.torchaudio, _TORCHAUDIO),
    ):
        if version is not None:
            wheels.append(
                build_wheel(
                    directory,
                    name,
                    version,
                    extra_files={f"{name}/__init__.py": source, f"{name}/_fake.json": config},
                )
            )
    if fake.wheel_libraries:
        wheels.append(
            build_wheel(
                directory,
                "nvidia-stand-in-cu12",
                "12.1.105",
                extra_files={f"nvidia/stand_in/lib/{name}": b"" for name in fake.wheel_libraries},
            )
        )
    return wheels


def venv_python(venv: Path) -> Path:
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def pip_env() -> dict[str, str]:
    """This process's environment without any pip configuration (no index, no constraints)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def install_fake_env(directory: Path, fake: FakeTorch) -> Path:
    """A new virtual environment holding the fixture packages; returns its interpreter."""
    wheels = build_fake_wheels(directory / "wheels", fake)
    venv = directory / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
    )
    python = venv_python(venv)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--no-deps",
            "--no-compile",
            *map(str, wheels),
        ],
        check=True,
        capture_output=True,
        env=pip_env(),
    )
    return python
