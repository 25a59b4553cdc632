"""The HostReport as a plain, stable JSON document."""

from __future__ import annotations

import json
from typing import Any

from torchlock.system.model import Gpu, HostReport


def _gpu(gpu: Gpu) -> dict[str, Any]:
    return {
        "index": gpu.index,
        "name": gpu.name,
        "memory_mib": gpu.memory_mib,
        "compute_capability": str(gpu.compute_capability) if gpu.compute_capability else None,
        "cc_source": gpu.cc_source,
        "uuid": gpu.uuid,
        "source": gpu.source,
    }


def report_to_dict(report: HostReport) -> dict[str, Any]:
    """JSON-ready values; every key is always present (null when unknown)."""
    os_info, driver, toolkit = report.os, report.driver, report.toolkit
    return {
        "os": {
            "os": os_info.os.value,
            "arch": os_info.arch.value,
            "distro": os_info.distro,
            "version": os_info.version,
            "pretty": os_info.pretty,
            "wsl": os_info.wsl,
            "source": os_info.source,
        },
        "driver": {
            "status": driver.status.value,
            "version": str(driver.version) if driver.version else None,
            "source": driver.source,
            "cuda": driver.cuda,
            "cuda_source": driver.cuda_source,
            "detail": driver.detail,
        },
        "gpus": [_gpu(gpu) for gpu in report.gpus],
        "toolkit": None
        if toolkit is None
        else {
            "version": toolkit.version,
            "build": toolkit.build,
            "path": toolkit.path,
            "source": toolkit.source,
        },
        "tools": [
            {"name": tool.name, "path": tool.path, "version": tool.version} for tool in report.tools
        ],
        "pythons": [
            {"version": py.version, "path": py.path, "source": py.source} for py in report.pythons
        ],
        "cuda_library_paths": list(report.cuda_library_paths),
        "notes": list(report.notes),
    }


def report_to_json(report: HostReport) -> str:
    """Sorted keys, two-space indent, ASCII only (any console can print it), trailing newline."""
    return json.dumps(report_to_dict(report), sort_keys=True, indent=2) + "\n"
