"""Typed values of the compatibility matrix."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

from msgspec import Struct, field
from packaging.version import Version

from torchlock.errors import InputError
from torchlock.target import OS, ComputeCapability, DriverVersion, PythonVersion

PYTORCH_INDEX = "https://download.pytorch.org/whl"


class CudaToolkit(Struct, frozen=True, kw_only=True):
    """One CUDA toolkit release and the oldest driver NVIDIA says it needs."""

    version: Version  # e.g. 12.0.1
    name: str  # e.g. "CUDA 12.0 Update 1"
    linux: DriverVersion | None
    windows: DriverVersion | None
    source: str

    def min_driver(self, os: OS) -> DriverVersion | None:
        """NVIDIA's minimum driver for ``os``.

        Where NVIDIA lists none for Windows (CUDA 13 tables say N/A), the driver
        branch of the Linux minimum stands in: Windows and Linux drivers of one
        branch share its number (R580: 580.65.06 on Linux, 580.88 on Windows).
        """
        if os is not OS.WINDOWS:
            return self.linux
        if self.windows is None and self.linux is not None:
            return DriverVersion.parse(str(self.linux.parts[0]))
        return self.windows

    @property
    def major_minor(self) -> tuple[int, int]:
        return (self.version.major, self.version.minor)


class CudaFamily(Struct, frozen=True, kw_only=True):
    """The minor-version-compatibility floor of one CUDA major release."""

    major: int
    linux: DriverVersion | None
    windows: DriverVersion | None
    source: str

    def min_driver(self, os: OS) -> DriverVersion | None:
        return self.windows if os is OS.WINDOWS else self.linux


class VariantKind(enum.Enum):
    CPU = "cpu"
    CUDA = "cuda"
    ROCM = "rocm"
    OTHER = "other"


_CUDA_VARIANT = re.compile(r"^cu(\d{2,3})$")
_ROCM_VARIANT = re.compile(r"^rocm(\d+(?:\.\d+)*)$")
_OTHER_VARIANT = re.compile(r"^[a-z][a-z0-9.]*$")


class Variant(Struct, frozen=True, kw_only=True):
    """A build variant as the PyTorch index names it: cpu, cu121, rocm6.1, xpu."""

    name: str
    kind: VariantKind
    cuda: tuple[int, int] | None = None  # (12, 1) for cu121

    @classmethod
    def parse(cls, name: str) -> Variant:
        text = name.strip().lower()
        if text == "cpu":
            return cls(name="cpu", kind=VariantKind.CPU)
        match = _CUDA_VARIANT.match(text)
        if match:
            digits = match.group(1)
            return cls(name=text, kind=VariantKind.CUDA, cuda=(int(digits[:-1]), int(digits[-1])))
        if _ROCM_VARIANT.match(text):
            return cls(name=text, kind=VariantKind.ROCM)
        if _OTHER_VARIANT.match(text):
            return cls(name=text, kind=VariantKind.OTHER)
        raise InputError(
            f"malformed build variant {name!r}",
            hint="variants are named as on the PyTorch index: cpu, cu118, cu121, rocm6.1, ...",
        )

    @property
    def cuda_version(self) -> str | None:
        return None if self.cuda is None else f"{self.cuda[0]}.{self.cuda[1]}"

    @property
    def index_url(self) -> str:
        return f"{PYTORCH_INDEX}/{self.name}"

    def sort_key(self) -> tuple[int, tuple[int, ...], str]:
        order = {VariantKind.CPU: 0, VariantKind.CUDA: 1, VariantKind.ROCM: 2, VariantKind.OTHER: 3}
        numbers: tuple[int, ...] = self.cuda or ()
        if self.kind is VariantKind.ROCM:
            numbers = tuple(int(p) for p in self.name[4:].split("."))
        return (order[self.kind], numbers, self.name)

    def __str__(self) -> str:
        return self.name


_ARCH_ENTRY = re.compile(r"^(\d{1,2})\.(\d)([af]?)(\+PTX)?$")


class ArchTarget(Struct, frozen=True, kw_only=True):
    """One entry of TORCH_CUDA_ARCH_LIST: SASS for a compute capability, maybe with PTX."""

    cc: ComputeCapability
    ptx: bool = False
    exact: bool = False  # "9.0a": architecture-specific code, runs on 9.0 only

    def runs_on(self, device: ComputeCapability) -> bool:
        if self.exact:
            return device == self.cc
        if self.cc.major == device.major and self.cc.minor <= device.minor:
            return True
        return self.ptx and self.cc <= device


class ArchList(Struct, frozen=True, kw_only=True):
    """The GPU architectures compiled into one CUDA build, e.g. '5.0;6.0;7.0;7.5;8.0;8.6;9.0'."""

    text: str
    targets: tuple[ArchTarget, ...]

    @classmethod
    def parse(cls, text: str) -> ArchList:
        targets = []
        for raw in text.replace(" ", ";").split(";"):
            if not raw:
                continue
            match = _ARCH_ENTRY.match(raw)
            if not match:
                raise ValueError(f"bad architecture entry {raw!r} in {text!r}")
            cc = ComputeCapability(major=int(match.group(1)), minor=int(match.group(2)))
            targets.append(ArchTarget(cc=cc, ptx=bool(match.group(4)), exact=match.group(3) == "a"))
        return cls(text=text, targets=tuple(targets))

    def runs_on(self, device: ComputeCapability) -> bool:
        return any(t.runs_on(device) for t in self.targets)

    @property
    def sm_names(self) -> tuple[str, ...]:
        return tuple(t.cc.sm for t in self.targets)

    @property
    def ptx_names(self) -> tuple[str, ...]:
        return tuple(f"compute_{t.cc.major}{t.cc.minor}" for t in self.targets if t.ptx)


class Release(Struct, frozen=True, kw_only=True):
    """One torch release: its companions, its wheels per platform and its builds."""

    torch: Version
    torchvision: Version | None
    torchaudio: Version | None
    released: str | None
    python: Mapping[str, tuple[PythonVersion, ...]]  # platform key -> Pythons with wheels
    default_variant: Mapping[str, str]  # platform key -> variant plain PyPI serves
    variants: Mapping[str, tuple[Variant, ...]]  # platform key -> variants on the PyTorch index
    arch: Mapping[str, ArchList]  # variant name -> archs
    arch_overrides: Mapping[str, Mapping[str, ArchList]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def arch_for(self, platform_key: str, variant: str) -> ArchList | None:
        override = self.arch_overrides.get(platform_key, {}).get(variant)
        return override if override is not None else self.arch.get(variant)


class Matrix(Struct, frozen=True, kw_only=True):
    toolkits: tuple[CudaToolkit, ...]  # ascending by version
    families: tuple[CudaFamily, ...]
    releases: tuple[Release, ...]  # ascending by torch version

    def family(self, major: int) -> CudaFamily | None:
        for family in self.families:
            if family.major == major:
                return family
        return None

    def first_toolkit(self, major: int, minor: int) -> CudaToolkit | None:
        """The first (GA) toolkit release of CUDA major.minor."""
        for toolkit in self.toolkits:
            if toolkit.major_minor == (major, minor):
                return toolkit
        return None

    def known_pythons(self) -> tuple[PythonVersion, ...]:
        found = {py for r in self.releases for pys in r.python.values() for py in pys}
        return tuple(sorted(found))

    def known_variants(self) -> tuple[str, ...]:
        found = {v.name for r in self.releases for vs in r.variants.values() for v in vs}
        return tuple(sorted(found))
