"""From solved targets to the neutral :class:`Lock`.

The solved targets are described by protocols declared here (the resolver's ``Pin`` and
the workflow's ``TargetSolution`` fit them), so this package needs neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Protocol

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.artifacts import Artifact, ArtifactKind
from torchlock.credentials import without_credentials
from torchlock.errors import InputError, PackageIndexError
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
from torchlock.matrix.select import Candidate, Selection
from torchlock.target import Platform


class PinLike(Protocol):
    @property
    def name(self) -> NormalizedName: ...
    @property
    def version(self) -> Version: ...
    @property
    def artifacts(self) -> tuple[Artifact, ...]: ...
    @property
    def index(self) -> str: ...
    @property
    def requires_python(self) -> SpecifierSet | None: ...
    @property
    def dependencies(self) -> tuple[NormalizedName, ...]: ...


class ResolutionLike(Protocol):
    @property
    def pins(self) -> Sequence[PinLike]: ...


class CondaRecordLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def build(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def subdir(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def md5(self) -> str: ...
    @property
    def size(self) -> int | None: ...
    @property
    def depends(self) -> tuple[str, ...]: ...


class TargetLike(Protocol):
    @property
    def platform(self) -> Platform: ...
    @property
    def python(self) -> str: ...
    @property
    def candidate(self) -> Candidate: ...
    @property
    def torch_index(self) -> str: ...
    @property
    def default_index(self) -> str: ...
    @property
    def resolution(self) -> ResolutionLike: ...
    @property
    def conda(self) -> Sequence[CondaRecordLike]: ...


def build_lock(
    *,
    inputs: LockInputs,
    selection: Selection,
    targets: Sequence[TargetLike],
    conda: Sequence[CondaPackage] = (),
) -> Lock:
    """The lock of solved targets: one entry per (project, version, index), with markers.

    The conda base is each target's ``conda`` records, plus ``conda`` (a base carried over
    from an earlier lock) for the targets that solved none.
    """
    if not targets:
        raise InputError("nothing to lock: the solution has no target")
    best = selection.recommended
    assert best is not None
    request = selection.request
    subdirs = [t.platform.conda_subdir for t in targets]
    if len(set(subdirs)) != len(subdirs):
        raise InputError("a platform is named twice", evidence=[", ".join(subdirs)])
    grouped: dict[tuple[NormalizedName, Version, str], list[tuple[str, PinLike]]] = {}
    for target, subdir in zip(targets, subdirs, strict=True):
        for pin in target.resolution.pins:
            grouped.setdefault((pin.name, pin.version, pin.index), []).append((subdir, pin))
    packages = [_package(key, found, subdirs) for key, found in grouped.items()]
    packages.sort(key=lambda p: (p.name, p.version, p.platforms, p.index))
    lock_targets = tuple(
        LockTarget(
            platform=subdir,
            torch=t.candidate.torch,
            variant=t.candidate.variant.name,
            cuda=t.candidate.variant.cuda_version,
            torch_index=t.torch_index,
            default_index=t.default_index,
        )
        for t, subdir in zip(targets, subdirs, strict=True)
    )
    return Lock(
        python=targets[0].python,
        inputs=inputs,
        selection=LockSelection(
            torch=best.torch,
            variant=best.variant.name,
            policy=request.policy.value,
            driver=None if request.driver is None else str(request.driver),
            max_cuda=selection.max_cuda_version,
            gpu_archs=tuple(str(g) for g in request.gpus),
            reasons=selection.reasons,
            warnings=selection.warnings,
        ),
        targets=lock_targets,
        packages=tuple(packages),
        conda=_conda_base(targets, subdirs, conda),
    )


def conda_package(record: CondaRecordLike, platform: str) -> CondaPackage:
    """The lock's entry for one solved conda record of ``platform``."""
    return CondaPackage(
        name=record.name,
        version=record.version,
        build=record.build,
        platform=platform,
        subdir=record.subdir,
        channel=record.channel,
        url=record.url,
        sha256=record.sha256,
        md5=record.md5,
        size=record.size,
        depends=tuple(record.depends),
    )


def _conda_base(
    targets: Sequence[TargetLike], subdirs: list[str], carried: Sequence[CondaPackage]
) -> tuple[CondaPackage, ...]:
    found: list[CondaPackage] = []
    for target, subdir in zip(targets, subdirs, strict=True):
        if target.conda:
            found.extend(conda_package(r, subdir) for r in target.conda)
        else:
            found.extend(c for c in carried if c.platform == subdir)
    names = [(c.platform, c.name) for c in found]
    if len(set(names)) != len(names):
        raise InputError("a conda package is locked twice for one platform")
    return tuple(sorted(found, key=lambda c: (c.platform, c.name)))


def _package(
    key: tuple[NormalizedName, Version, str],
    found: list[tuple[str, PinLike]],
    subdirs: list[str],
) -> LockedPackage:
    name, version, index = key
    platforms = tuple(s for s in subdirs if any(s == f[0] for f in found))
    wheels: dict[str, LockedFile] = {}
    sdist: LockedFile | None = None
    dependencies: set[NormalizedName] = set()
    requires_python: SpecifierSet | None = None
    for _, pin in found:
        dependencies.update(pin.dependencies)
        requires_python = requires_python or pin.requires_python
        for artifact in pin.artifacts:
            file = _file(artifact)
            if artifact.kind is ArtifactKind.SDIST:
                sdist = file
            else:
                wheels[file.name] = file
    return LockedPackage(
        name=name,
        version=version,
        index=index,
        platforms=platforms,
        marker=None if len(platforms) == len(subdirs) else platforms_marker(platforms),
        requires_python=requires_python,
        dependencies=tuple(sorted(dependencies)),
        wheels=tuple(wheels[n] for n in sorted(wheels)),
        sdist=sdist,
    )


def _file(artifact: Artifact) -> LockedFile:
    if not artifact.sha256:  # what the index said: exit 6, as its other faults
        raise PackageIndexError(
            f"{artifact.filename} has no sha256: the index did not give one",
            evidence=[f"listed by {artifact.index}"],
            hint="a lock pins every file by its hash; use an index that publishes hashes",
        )
    # an index may hand out file URLs with user:password@ in them: a lock is checked into
    # a repository, so they are left out (create sends the netrc login for that host)
    return LockedFile(
        name=artifact.filename,
        url=without_credentials(artifact.url),
        sha256=artifact.sha256,
        size=artifact.size,
        upload_time=upload_time(artifact.upload_time),
    )


def upload_time(text: str | None) -> datetime | None:
    """PEP 700's upload-time (ISO 8601, UTC, "2024-01-01T00:00:00.123456Z") as a datetime
    for PEP 751's upload-time, to the second; None when absent or not a date."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).replace(microsecond=0)
