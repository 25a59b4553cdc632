"""The probe: run by the environment's own interpreter, it prints one JSON document.

This file is standalone on purpose: it imports nothing from torchlock and only the
standard library at module level, because it runs inside the environment under test
(``python -c SOURCE``), whatever Python that is (3.8 or newer). It never raises: every
failure, exception text and warning becomes data in the document.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import platform
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

SCHEMA = 1
PACKAGES = ("torch", "torchvision", "torchaudio")
CUDA_LIBRARY_PREFIXES = (
    "libcublas",
    "libcudart",
    "libcudnn",
    "libcufft",
    "libcufile",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnccl",
    "libnvJitLink",
    "libnvrtc",
    "libnvToolsExt",
    "libcupti",
)

WARNINGS: list[dict[str, Any]] = []


def _error(exc: BaseException) -> dict[str, Any]:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(lines)[-4000:],
    }


def _step(name: str, func: Callable[..., Any], *args: Any) -> tuple[Any, dict[str, Any] | None]:
    """(result, error) of func(*args), recording the warnings it issued under ``name``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = func(*args)
            error = None
        except BaseException as exc:  # the probe reports everything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            result, error = None, _error(exc)
    for item in caught:
        WARNINGS.append(
            {"step": name, "category": item.category.__name__, "message": str(item.message)}
        )
    return result, error


def _distribution(name: str) -> dict[str, Any] | None:
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return None
    try:
        dist = metadata.distribution(name)
    except Exception:
        return None
    return {"version": dist.version}


def _cuda_libraries_in(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(CUDA_LIBRARY_PREFIXES) and ".so" in n)


def _wheel_cuda_libraries() -> dict[str, str]:
    """soname -> directory for the CUDA libraries that nvidia-* wheels put in site-packages."""
    found: dict[str, str] = {}
    for entry in sys.path:
        base = os.path.join(entry, "nvidia")
        if not entry or not os.path.isdir(base):
            continue
        for sub in sorted(os.listdir(base)):
            lib = os.path.join(base, sub, "lib")
            for name in _cuda_libraries_in(lib):
                found.setdefault(name, lib)
    return found


def _ld_library_path() -> list[dict[str, Any]]:
    value = os.environ.get("LD_LIBRARY_PATH", "")
    return [
        {"entry": entry, "libraries": _cuda_libraries_in(entry)}
        for entry in value.split(os.pathsep)
        if entry.strip()
    ]


def _import(name: str) -> Any:
    return importlib.import_module(name)


def _torch_facts(torch: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "version": str(getattr(torch, "__version__", "")) or None,
        "file": getattr(torch, "__file__", None),
    }
    version = getattr(torch, "version", None)
    facts["cuda"] = getattr(version, "cuda", None)
    facts["hip"] = getattr(version, "hip", None)
    available, error = _step("cuda.is_available", lambda: bool(torch.cuda.is_available()))
    facts["cuda_available"] = available
    facts["cuda_available_error"] = error
    count, error = _step("cuda.device_count", lambda: int(torch.cuda.device_count()))
    facts["device_count"] = count
    facts["device_count_error"] = error
    arch, error = _step("cuda.get_arch_list", lambda: [str(a) for a in torch.cuda.get_arch_list()])
    facts["arch_list"] = arch
    facts["arch_list_error"] = error
    cudnn, error = _step("cudnn.version", lambda: torch.backends.cudnn.version())
    facts["cudnn"] = cudnn if isinstance(cudnn, int) else None
    facts["cudnn_error"] = error
    devices: list[dict[str, Any]] = []
    for index in range(count or 0) if available else ():
        name, name_error = _step("cuda.get_device_name", torch.cuda.get_device_name, index)
        cap, cap_error = _step(
            "cuda.get_device_capability", torch.cuda.get_device_capability, index
        )
        devices.append(
            {
                "index": index,
                "name": name,
                "capability": list(cap) if cap is not None else None,
                "error": name_error or cap_error,
            }
        )
    facts["devices"] = devices
    return facts


def _matmul(torch: Any, device: str) -> dict[str, Any]:
    def run() -> float:
        a = torch.ones((8, 8), device=device)
        product = a @ a
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return float(product.sum().item())

    value, error = _step("matmul", run)
    return {"device": device, "value": value, "expected": 512.0, "error": error}


def _nms(torch: Any, torchvision: Any, device: str) -> dict[str, Any]:
    def run() -> list[int]:
        boxes = torch.tensor(
            [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]],
            device=device,
        )
        scores = torch.tensor([0.9, 0.8, 0.7], device=device)
        keep = torchvision.ops.nms(boxes, scores, 0.5)
        return [int(i) for i in keep.tolist()]

    value, error = _step("nms", run)
    return {"device": device, "kept": value, "expected": [0, 2], "error": error}


def probe() -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": sys.platform,
        },
        "distributions": {name: _distribution(name) for name in PACKAGES},
        "wheel_cuda_libraries": _wheel_cuda_libraries(),
        "ld_library_path": _ld_library_path(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    torch, error = _step("import torch", _import, "torch")
    document["torch"] = {"imported": torch is not None, "error": error}
    if torch is not None:
        document["torch"].update(_torch_facts(torch))
    modules: dict[str, Any] = {}
    for name in ("torchvision", "torchaudio"):
        module, error = (None, None)
        if torch is not None:
            module, error = _step("import " + name, _import, name)
        modules[name] = module
        version = getattr(module, "__version__", None) if module is not None else None
        document[name] = {
            "imported": module is not None,
            "attempted": torch is not None,
            "error": error,
            "version": str(version) if version else None,
        }
    torchvision = modules["torchvision"]
    checks: dict[str, Any] = {}
    if torch is not None:
        device = "cuda:0" if document["torch"].get("cuda_available") else "cpu"
        checks["matmul"] = _matmul(torch, device)
        if torchvision is not None:
            checks["nms"] = _nms(torch, torchvision, device)
    document["operations"] = checks
    document["warnings"] = WARNINGS
    return document


def main() -> None:
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # a torch/ folder in the working directory must not shadow the real one
    stdout = sys.stdout
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise):
        try:
            document = probe()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            document = {"schema": SCHEMA, "probe_error": _error(exc)}
    document["printed"] = noise.getvalue()[-4000:]
    stdout.write(json.dumps(document, sort_keys=True, default=str) + "\n")
    stdout.flush()


if __name__ == "__main__":
    main()
