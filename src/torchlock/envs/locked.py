"""What the environment builders read from a lock, as protocols.

envs sits beside lockfiles, not above it (see DESIGN.md), so the builders name only
the shape they use; :class:`torchlock.lockfiles.model.Lock` has it, and tests can hand
plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from packaging.version import Version


class FileLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int | None: ...


class PackageLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> Version: ...
    @property
    def index(self) -> str: ...
    @property
    def files(self) -> Sequence[FileLike]: ...
    def files_for(self, platform: str, python: str) -> Sequence[FileLike]: ...


class CondaLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...  # the lock target (conda subdir) whose base it is
    @property
    def version(self) -> str: ...
    @property
    def build(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def md5(self) -> str: ...


class TargetLike(Protocol):
    @property
    def variant(self) -> str: ...


class InputsLike(Protocol):
    @property
    def conda_channels(self) -> Sequence[str]: ...


class LockLike(Protocol):
    @property
    def python(self) -> str: ...
    @property
    def conda(self) -> Sequence[CondaLike]: ...
    @property
    def inputs(self) -> InputsLike: ...
    def target(self, platform: str) -> TargetLike: ...
    def packages_for(self, platform: str) -> Sequence[PackageLike]: ...
