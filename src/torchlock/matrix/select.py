"""Choose torch builds for a driver, GPUs, Python and platform.

Pure: takes a :class:`Matrix` and a :class:`Request`, returns a :class:`Selection`.
The rules, in order:

* ``max_cuda`` is the newest CUDA toolkit release whose own minimum driver the
  driver meets.
* A CUDA variant is admitted by the driver when the driver meets the variant's
  own toolkit minimum (the GA release of that CUDA major.minor) or, under the
  ``compat`` policy, the minor-version-compatibility floor of its CUDA major.
* A variant serves the GPUs when its compiled architectures run on every one of
  them (same major and not newer minor, or PTX for an older-or-equal arch).
* Each torch release matching the request with wheels for the Python and
  platform gives one candidate: its best admitted variant (highest CUDA).
  Releases with no admitted CUDA variant are excluded with the reason, unless no
  release has one, in which case the candidates are CPU builds.
"""

from __future__ import annotations

import enum

from msgspec import Struct
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from torchlock.matrix.model import (
    CudaToolkit,
    Matrix,
    Release,
    Variant,
    VariantKind,
)
from torchlock.target import OS, ComputeCapability, DriverVersion, Platform, PythonVersion


class Policy(enum.Enum):
    COMPAT = "compat"
    STRICT = "strict"


class Request(Struct, frozen=True, kw_only=True):
    platform: Platform
    python: PythonVersion
    driver: DriverVersion | None  # None: no NVIDIA driver
    gpus: tuple[ComputeCapability, ...] = ()  # empty: not known, architectures unchecked
    torch: SpecifierSet | None = None
    variant: str | None = None
    policy: Policy = Policy.COMPAT


class Candidate(Struct, frozen=True, kw_only=True):
    release: Release
    variant: Variant
    index_url: str
    default_index_has_it: bool

    @property
    def torch(self) -> Version:
        return self.release.torch


class Exclusion(Struct, frozen=True, kw_only=True):
    torch: Version
    variant: str | None
    reason: str


class Selection(Struct, frozen=True, kw_only=True):
    request: Request
    max_cuda: CudaToolkit | None
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    warnings: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def recommended(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def max_cuda_version(self) -> str | None:
        if self.max_cuda is None:
            return None
        return f"{self.max_cuda.version.major}.{self.max_cuda.version.minor}"


def max_cuda(matrix: Matrix, driver: DriverVersion | None, os: OS) -> CudaToolkit | None:
    """The newest CUDA toolkit release whose own minimum driver ``driver`` meets."""
    if driver is None or os is OS.MACOS:
        return None
    best = None
    for toolkit in matrix.toolkits:
        needed = toolkit.min_driver(os)
        if needed is not None and driver >= needed:
            best = toolkit
    return best


class DriverVerdict(Struct, frozen=True, kw_only=True):
    admitted: bool
    by_compat: bool  # admitted only through minor version compatibility
    reason: str


def judge_driver(
    matrix: Matrix, variant: Variant, driver: DriverVersion | None, os: OS, policy: Policy
) -> DriverVerdict:
    """Whether ``driver`` runs CUDA ``variant`` under ``policy``, with the reason."""
    assert variant.cuda is not None
    major, minor = variant.cuda
    if driver is None:
        return DriverVerdict(admitted=False, by_compat=False, reason="no NVIDIA driver")
    toolkit = matrix.first_toolkit(major, minor)
    own = toolkit.min_driver(os) if toolkit else None
    family = matrix.family(major)
    floor = family.min_driver(os) if family else None
    if own is None:
        return DriverVerdict(
            admitted=False,
            by_compat=False,
            reason=f"no minimum driver known for CUDA {major}.{minor} on {os.value}",
        )
    if driver >= own:
        return DriverVerdict(
            admitted=True, by_compat=False, reason=f"CUDA {major}.{minor} needs driver >= {own}"
        )
    if policy is Policy.COMPAT and floor is not None and driver >= floor:
        return DriverVerdict(
            admitted=True,
            by_compat=True,
            reason=(
                f"CUDA {major}.{minor} needs driver >= {own}; driver {driver} runs it through "
                f"CUDA {major}.x minor version compatibility (>= {floor})"
            ),
        )
    if policy is Policy.COMPAT and floor is not None:
        return DriverVerdict(
            admitted=False,
            by_compat=False,
            reason=(
                f"driver {driver} is older than CUDA {major}.{minor} needs (>= {own}) "
                f"and than the CUDA {major}.x compatibility floor (>= {floor})"
            ),
        )
    return DriverVerdict(
        admitted=False,
        by_compat=False,
        reason=f"driver {driver} is older than CUDA {major}.{minor} needs (>= {own})",
    )


def unserved_gpus(
    release: Release, platform: Platform, variant: Variant, gpus: tuple[ComputeCapability, ...]
) -> tuple[ComputeCapability, ...] | None:
    """The GPUs the variant's compiled architectures cannot run on; None if archs unknown."""
    archs = release.arch_for(platform.key, variant.name)
    if archs is None:
        return None
    return tuple(gpu for gpu in gpus if not archs.runs_on(gpu))


def select(matrix: Matrix, request: Request) -> Selection:
    platform = request.platform
    os = platform.os
    top = max_cuda(matrix, request.driver, os)
    excluded: list[Exclusion] = []
    warnings: list[str] = []
    reasons: list[str] = []
    cuda_candidates: list[Candidate] = []
    cpu_candidates: list[Candidate] = []
    compat_used: dict[str, str] = {}
    unknown_archs: set[str] = set()

    releases = [
        r
        for r in reversed(matrix.releases)
        if request.torch is None or request.torch.contains(r.torch, prereleases=True)
    ]
    for release in releases:
        pythons = release.python.get(platform.key, ())
        if not pythons:
            excluded.append(
                Exclusion(torch=release.torch, variant=None, reason=f"no wheels for {platform}")
            )
            continue
        if request.python not in pythons:
            excluded.append(
                Exclusion(
                    torch=release.torch,
                    variant=None,
                    reason=(
                        f"no wheels for Python {request.python} on {platform} "
                        f"(has {_span(pythons)})"
                    ),
                )
            )
            continue
        variants = release.variants.get(platform.key, ())
        if request.variant is not None:
            variants = tuple(v for v in variants if v.name == request.variant)
            if not variants:
                excluded.append(
                    Exclusion(
                        torch=release.torch,
                        variant=request.variant,
                        reason=f"not built for {platform}",
                    )
                )
                continue
        admitted: list[tuple[Variant, DriverVerdict]] = []
        for variant in variants:
            if variant.kind is VariantKind.CUDA:
                verdict = judge_driver(matrix, variant, request.driver, os, request.policy)
                if not verdict.admitted:
                    excluded.append(
                        Exclusion(torch=release.torch, variant=variant.name, reason=verdict.reason)
                    )
                    continue
                missing = unserved_gpus(release, platform, variant, request.gpus)
                if missing is None:
                    if request.gpus:
                        unknown_archs.add(f"{variant.name} of torch {release.torch}")
                elif missing:
                    archs = release.arch_for(platform.key, variant.name)
                    assert archs is not None
                    excluded.append(
                        Exclusion(
                            torch=release.torch,
                            variant=variant.name,
                            reason=(
                                "GPU compute capability "
                                + ", ".join(str(g) for g in missing)
                                + f" not in its architectures ({archs.text})"
                            ),
                        )
                    )
                    continue
                admitted.append((variant, verdict))
            elif variant.kind is not VariantKind.CPU and request.variant == variant.name:
                # ROCm and other non-NVIDIA builds: only when asked for by name.
                admitted.append((variant, DriverVerdict(admitted=True, by_compat=False, reason="")))
                warnings.append(
                    f"{variant.name} builds are not for NVIDIA GPUs; torchlock does not "
                    "check their drivers"
                )
        if admitted:
            variant, verdict = max(admitted, key=lambda pair: pair[0].sort_key())
            if verdict.by_compat:
                compat_used[f"{release.torch}+{variant.name}"] = verdict.reason
            cuda_candidates.append(_candidate(release, platform, variant))
        else:
            cpu = next((v for v in variants if v.kind is VariantKind.CPU), None)
            if cpu is not None:
                cpu_candidates.append(_candidate(release, platform, cpu))

    candidates: list[Candidate]
    if cuda_candidates:
        candidates = cuda_candidates
    else:
        candidates = cpu_candidates
        if candidates and request.variant != "cpu":
            if os is OS.MACOS:
                reasons.append(
                    "macOS wheels are CPU builds (Apple silicon GPUs are used through MPS)"
                )
            elif request.driver is None:
                reasons.append("no NVIDIA driver: the CPU build is the one that runs")
            else:
                reasons.append(
                    f"no CUDA variant of a matching torch release runs with driver {request.driver}"
                    + (" on the given GPUs" if request.gpus else "")
                    + ": the CPU build is the one that runs"
                )
                warnings.append(
                    "CPU build chosen on a host with an NVIDIA driver; update the driver "
                    "(see `excluded` for what each CUDA variant needs) to use the GPU"
                )

    if top is not None:
        reasons.insert(
            0,
            f"driver {request.driver} supports CUDA up to {top.version.major}.{top.version.minor} "
            f"({top.name} needs >= {top.min_driver(os)})",
        )
    elif request.driver is not None and os is not OS.MACOS:
        reasons.insert(0, f"driver {request.driver} is older than every known CUDA toolkit needs")
    if request.driver is not None and not request.gpus and os is not OS.MACOS:
        warnings.append(
            "GPU compute capability not known: compiled architectures were not checked "
            "(give --gpu-cc)"
        )
    if unknown_archs:
        warnings.append(
            "compiled architectures not recorded for " + ", ".join(sorted(unknown_archs))
        )

    best = candidates[0] if candidates else None
    if best is not None:
        key = f"{best.torch}+{best.variant.name}"
        if key in compat_used:
            newer = (
                f"newer than the driver's CUDA {top.version.major}.{top.version.minor}"
                if top is not None
                else "newer than the driver supports"
            )
            warnings.append(
                f"{best.variant.name} is {newer}: {compat_used[key]}. Kernels run under "
                "minor version compatibility, but features that need a newer driver (PTX JIT "
                "of newer code) fail; --policy strict avoids relying on it"
            )
        reasons.append(_why_best(best, request, releases))
        if request.gpus and best.variant.kind is VariantKind.CUDA:
            archs = best.release.arch_for(platform.key, best.variant.name)
            if archs is not None:
                reasons.append(
                    f"{best.variant.name} of torch {best.torch} is compiled for {archs.text}, "
                    + "which runs on GPU compute capability "
                    + ", ".join(str(g) for g in request.gpus)
                )
        if best.release.torchaudio is None:
            warnings.append(
                f"no torchaudio release pairs with torch {best.torch}; torchaudio is null"
            )

    return Selection(
        request=request,
        max_cuda=top,
        candidates=tuple(candidates),
        excluded=tuple(excluded),
        warnings=tuple(dict.fromkeys(warnings)),  # one each: several releases may add one
        reasons=tuple(reasons),
    )


def _candidate(release: Release, platform: Platform, variant: Variant) -> Candidate:
    return Candidate(
        release=release,
        variant=variant,
        index_url=variant.index_url,
        default_index_has_it=release.default_variant.get(platform.key) == variant.name,
    )


def _why_best(best: Candidate, request: Request, considered: list[Release]) -> str:
    newer = [r for r in considered if r.torch > best.torch]
    what = f"torch {best.torch} ({best.variant.name})"
    if not newer:
        text = f"{what} is the newest matching release with wheels for Python {request.python}"
    else:
        text = f"{what} is the newest matching release that fits; {len(newer)} newer excluded"
    if best.default_index_has_it:
        text += "; the default index serves this same build"
    return text


def _span(pythons: tuple[PythonVersion, ...]) -> str:
    plain = [p for p in pythons if not p.freethreaded]
    if not plain:
        return ", ".join(str(p) for p in pythons)
    return f"{plain[0]} to {plain[-1]}" if len(plain) > 1 else str(plain[0])
