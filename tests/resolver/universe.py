"""Targets and a small torch-like world of projects for the resolver tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.support.memory_finder import LINUX_CP310, WIN_CP310, Dist, MemoryFinder, dist
from torchlock.resolver.resolve import resolve
from torchlock.resolver.result import Resolution


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    environment: Mapping[str, str]
    tags: tuple[Tag, ...]
    python_version: Version


def _linux_platforms() -> list[str]:
    modern = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 4, -1)]
    legacy = ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    return [*modern, *legacy, "linux_x86_64"]


def _target(python: tuple[int, int], platforms: list[str], **environment: str) -> Target:
    interpreter = f"cp{python[0]}{python[1]}"
    tags = [
        *cpython_tags(python, platforms=platforms),
        *compatible_tags(python, interpreter, platforms),
    ]
    full = f"{python[0]}.{python[1]}.0"
    return Target(
        environment={
            "python_version": f"{python[0]}.{python[1]}",
            "python_full_version": full,
            "implementation_name": "cpython",
            "implementation_version": full,
            "platform_python_implementation": "CPython",
            **environment,
        },
        tags=tuple(tags),
        python_version=Version(full),
    )


LINUX = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
WINDOWS = {
    "sys_platform": "win32",
    "platform_system": "Windows",
    "platform_machine": "AMD64",
    "os_name": "nt",
}
LINUX_310 = _target((3, 10), _linux_platforms(), **LINUX)
LINUX_38 = _target((3, 8), _linux_platforms(), **LINUX)
WINDOWS_310 = _target((3, 10), ["win_amd64"], **WINDOWS)
BOTH = (LINUX_CP310, WIN_CP310)
CUDA = 'platform_system == "Linux" and platform_machine == "x86_64"'


def torch_requires(cuda: bool = True) -> tuple[str, ...]:
    base = ("filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec")
    if not cuda:
        return base
    return (
        *base,
        f"nvidia-cuda-runtime-cu12==12.1.105; {CUDA}",
        f"nvidia-cublas-cu12==12.1.3.1; {CUDA}",
        f"nvidia-cudnn-cu12==8.9.2.26; {CUDA}",
        f"triton==2.1.0; {CUDA}",
    )


def torchvision(version: str, torch: str, **options: object) -> Dist:
    return dist(
        version,
        "numpy",
        "requests",
        f"torch=={torch}",
        "pillow!=8.3.*,>=5.3.0",
        wheels=BOTH,
        **options,
    )


NVIDIA = "py3-none-manylinux1_x86_64"
LINUX_CP38 = "cp38-cp38-manylinux_2_17_x86_64"

WORLD: dict[str, list[Dist]] = {
    "torch": [
        dist("2.0.1", *torch_requires(), wheels=BOTH, requires_python=">=3.8.0"),
        dist("2.1.1", *torch_requires(), wheels=BOTH, requires_python=">=3.8.0"),
        dist("2.1.2", *torch_requires(), wheels=BOTH, requires_python=">=3.8.0"),
    ],
    "torchvision": [
        torchvision("0.15.2", "2.0.1"),
        torchvision("0.16.1", "2.1.1"),
        torchvision("0.16.2", "2.1.2"),
    ],
    "nvidia-cuda-runtime-cu12": [dist("12.1.105", wheels=(NVIDIA,))],
    "nvidia-cublas-cu12": [dist("12.1.3.1", wheels=(NVIDIA,))],
    "nvidia-cudnn-cu12": [dist("8.9.2.26", "nvidia-cublas-cu12", wheels=(NVIDIA,))],
    "triton": [dist("2.1.0", "filelock", wheels=(LINUX_CP310,))],
    "filelock": [dist("3.13.1")],
    "typing-extensions": [dist("4.9.0")],
    "sympy": [dist("1.12", "mpmath>=0.19")],
    "mpmath": [dist("1.3.0")],
    "networkx": [dist("3.2.1", requires_python=">=3.9")],
    "jinja2": [dist("3.1.3", "MarkupSafe>=2.0")],
    "markupsafe": [dist("2.1.4", wheels=BOTH)],
    "fsspec": [dist("2023.12.2")],
    "numpy": [
        dist("1.24.4", wheels=(*BOTH, LINUX_CP38), requires_python=">=3.8"),
        dist("1.26.3", wheels=(*BOTH, LINUX_CP38), requires_python=">=3.9"),
        dist("2.0.0rc1", wheels=BOTH, requires_python=">=3.9"),
    ],
    "pillow": [dist("10.1.0", wheels=BOTH), dist("10.2.0", wheels=BOTH)],
    "requests": [
        dist(
            "2.31.0",
            "charset-normalizer<4,>=2",
            "idna<4,>=2.5",
            "urllib3<3,>=1.21.1",
            "certifi>=2017.4.17",
            'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
            'chardet<6,>=3.0.2; extra == "use-chardet-on-py3"',
            requires_python=">=3.7",
        )
    ],
    "pysocks": [dist("1.7.1")],
    "charset-normalizer": [dist("3.3.2", wheels=BOTH)],
    "idna": [dist("3.6")],
    "urllib3": [dist("2.1.0")],
    "certifi": [dist("2023.11.17")],
    "chardet": [dist("5.2.0")],
}

VARIANT_PROJECTS = ("torch", "torchvision", "torchaudio")


def variant_world(*labels: str, plain: bool = False) -> dict[str, list[Dist]]:
    world = dict(WORLD)
    torch = [dist(f"2.1.2+{label}", *torch_requires(cuda=False), wheels=BOTH) for label in labels]
    vision = [torchvision(f"0.16.2+{label}", "2.1.2") for label in labels]
    if plain:
        torch.append(dist("2.1.2", *torch_requires(cuda=False), wheels=BOTH))
        vision.append(torchvision("0.16.2", "2.1.2"))
    world["torch"] = torch
    world["torchvision"] = vision
    return world


CLOSURE_LINUX = {
    "certifi": "2023.11.17",
    "charset-normalizer": "3.3.2",
    "filelock": "3.13.1",
    "fsspec": "2023.12.2",
    "idna": "3.6",
    "jinja2": "3.1.3",
    "markupsafe": "2.1.4",
    "mpmath": "1.3.0",
    "networkx": "3.2.1",
    "numpy": "1.26.3",
    "nvidia-cublas-cu12": "12.1.3.1",
    "nvidia-cuda-runtime-cu12": "12.1.105",
    "nvidia-cudnn-cu12": "8.9.2.26",
    "pillow": "10.2.0",
    "requests": "2.31.0",
    "sympy": "1.12",
    "torch": "2.1.2",
    "torchvision": "0.16.2",
    "triton": "2.1.0",
    "typing-extensions": "4.9.0",
    "urllib3": "2.1.0",
}


def lock(
    finder: MemoryFinder,
    *requirements: str,
    target: Target = LINUX_310,
    variant: str | None = None,
    variant_projects: Sequence[str] = (),
    max_rounds: int = 200_000,
) -> Resolution:
    return resolve(
        [Requirement(r) for r in requirements],
        finder=finder,
        environment=target.environment,
        tags=target.tags,
        python_version=target.python_version,
        variant=variant,
        variant_projects=frozenset(canonicalize_name(p) for p in variant_projects),
        max_rounds=max_rounds,
    )


def versions(resolution: Resolution) -> dict[str, str]:
    return {pin.name: str(pin.version) for pin in resolution.pins}


def names(*projects: str) -> tuple[NormalizedName, ...]:
    return tuple(canonicalize_name(p) for p in projects)
