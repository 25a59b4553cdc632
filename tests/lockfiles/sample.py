"""A small lock built from plain values (fixed loopback URLs and hashes) for golden files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from torchlock.lockfiles.model import (
    CondaPackage,
    Lock,
    LockedFile,
    LockedPackage,
    LockInputs,
    LockSelection,
    LockTarget,
    platforms_marker,
)

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "lockfiles"
INDEX = "http://127.0.0.1:8000/simple"
TORCH_INDEX = "http://127.0.0.1:8001/whl/cu121"
BOTH = ("linux-64", "win-64")
CHANNEL = "https://conda.anaconda.org/conda-forge"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file(name: str, host: str = "http://127.0.0.1:8000") -> LockedFile:
    return LockedFile(name=name, url=f"{host}/files/{name}", sha256=sha(name), size=len(name))


def conda(
    platform: str,
    name: str,
    version: str,
    build: str,
    *,
    subdir: str | None = None,
    depends: tuple[str, ...] = (),
) -> CondaPackage:
    where = subdir or platform
    filename = f"{name}-{version}-{build}.conda"
    return CondaPackage(
        name=name,
        version=version,
        build=build,
        platform=platform,
        subdir=where,
        channel=CHANNEL,
        url=f"{CHANNEL}/{where}/{filename}",
        sha256=sha(f"{where}/{filename}"),
        md5=hashlib.md5(filename.encode()).hexdigest(),
        size=len(filename) * 1000,
        depends=depends,
    )


def sample_conda() -> tuple[CondaPackage, ...]:
    """The conda base of both targets (sorted by platform and name, as locks keep it)."""
    pip = ("python >=3.8,<3.13.0a0",)
    return (
        conda("linux-64", "libzlib", "1.3.1", "hb9d3cd8_2", depends=("__glibc >=2.17,<3.0.a0",)),
        conda("linux-64", "pip", "24.2", "pyh8b19718_1", subdir="noarch", depends=pip),
        conda(
            "linux-64",
            "python",
            "3.10.14",
            "hd12c33a_0_cpython",
            depends=("__glibc >=2.17,<3.0.a0", "libzlib >=1.2.13,<2.0.0a0"),
        ),
        conda("win-64", "pip", "24.2", "pyh8b19718_1", subdir="noarch", depends=pip),
        conda(
            "win-64", "python", "3.10.14", "h4de0772_0_cpython", depends=("ucrt >=10.0.20348.0",)
        ),
        conda("win-64", "ucrt", "10.0.22621.0", "h57928b3_1"),
    )


def package(
    name: str,
    version: str,
    files: list[LockedFile],
    *,
    platforms: tuple[str, ...] = BOTH,
    index: str = INDEX,
    dependencies: tuple[str, ...] = (),
    requires_python: str | None = None,
    sdist: LockedFile | None = None,
) -> LockedPackage:
    return LockedPackage(
        name=canonicalize_name(name),
        version=Version(version),
        index=index,
        platforms=platforms,
        marker=None if platforms == BOTH else platforms_marker(platforms),
        requires_python=None if requires_python is None else SpecifierSet(requires_python),
        dependencies=tuple(canonicalize_name(d) for d in dependencies),
        wheels=tuple(files),
        sdist=sdist,
    )


def sample_lock() -> Lock:
    """Two targets: torch 2.1.2 on linux-64 (with nvidia and triton), 2.1.2+cu121 on win-64."""
    packages = (
        package(
            "filelock",
            "3.16.1",
            [file("filelock-3.16.1-py3-none-any.whl")],
            requires_python=">=3.8",
        ),
        package(
            "mpmath",
            "1.3.0",
            [file("mpmath-1.3.0-py3-none-any.whl")],
            sdist=file("mpmath-1.3.0.tar.gz"),
        ),
        package(
            "numpy",
            "1.26.4",
            [
                file("numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
                file("numpy-1.26.4-cp310-cp310-win_amd64.whl"),
            ],
            requires_python=">=3.9",
        ),
        package(
            "nvidia-cublas-cu12",
            "12.1.3.1",
            [file("nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl")],
            platforms=("linux-64",),
            requires_python=">=3",
        ),
        package(
            "torch",
            "2.1.2",
            [file("torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl")],
            platforms=("linux-64",),
            dependencies=("filelock", "nvidia-cublas-cu12", "triton"),
            requires_python=">=3.8.0",
        ),
        package(
            "torch",
            "2.1.2+cu121",
            [file("torch-2.1.2+cu121-cp310-cp310-win_amd64.whl", "http://127.0.0.1:8001")],
            platforms=("win-64",),
            index=TORCH_INDEX,
            dependencies=("filelock",),
            requires_python=">=3.8.0",
        ),
        package(
            "triton",
            "2.1.0",
            [file("triton-2.1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")],
            platforms=("linux-64",),
            dependencies=("filelock",),
        ),
    )
    return Lock(
        python="3.10",
        inputs=LockInputs(
            python="3.10",
            platforms=BOTH,
            torch="==2.1.2",
            variant="cu121",
            driver="580.65.06",
            gpu_cc=("8.0",),
            requirements=(Requirement("numpy<2"),),
            index_url=INDEX,
        ),
        selection=LockSelection(
            torch=Version("2.1.2"),
            variant="cu121",
            policy="compat",
            driver="580.65.06",
            max_cuda="13.0",
            gpu_archs=("8.0",),
            reasons=("driver 580.65.06 supports CUDA up to 13.0", "torch 2.1.2 (cu121) fits"),
        ),
        targets=(
            LockTarget(
                platform="linux-64",
                torch=Version("2.1.2"),
                variant="cu121",
                cuda="12.1",
                torch_index=INDEX,
                default_index=INDEX,
            ),
            LockTarget(
                platform="win-64",
                torch=Version("2.1.2+cu121"),
                variant="cu121",
                cuda="12.1",
                torch_index=TORCH_INDEX,
                default_index=INDEX,
            ),
        ),
        packages=packages,
        conda=sample_conda(),
    )


def golden(name: str, text: str) -> str:
    """The golden file's text; TORCHLOCK_UPDATE_GOLDEN=1 rewrites it from ``text`` first."""
    path = GOLDEN / name
    if os.environ.get("TORCHLOCK_UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    return path.read_bytes().decode("utf-8")
