"""The one exception tree of torchlock.

Every error carries data; ``str()`` builds the message: a first line naming what
failed and the offending value, optional indented evidence, and an optional
``hint:`` line. The CLI prints ``error: <message>`` and exits with ``exit_code``.
This module imports nothing from torchlock.
"""

from __future__ import annotations

from collections.abc import Sequence


class TorchlockError(Exception):
    """Base of every error torchlock raises on purpose."""

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        evidence: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = tuple(evidence)
        self.hint = hint

    def __str__(self) -> str:
        lines = [self.message]
        lines.extend(f"  {line}" for line in self.evidence)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class InputError(TorchlockError):
    """A value the user gave is malformed or outside what torchlock accepts."""

    exit_code = 2


class DataError(TorchlockError):
    """A data file shipped with torchlock (the compatibility matrix) is broken."""

    exit_code = 3


class NoCandidateError(TorchlockError):
    """Nothing in the compatibility matrix satisfies the request."""

    exit_code = 4


class DetectionError(TorchlockError):
    """The host could not be inspected at all (not: 'no GPU', which is a finding)."""

    exit_code = 5


class PackageIndexError(TorchlockError):
    """A package index (or find-links folder, or the HTTP cache) could not give what was asked.

    Messages name the URL with credentials redacted, the status or failure, and a hint.
    """

    exit_code = 6


class DownloadInterrupted(PackageIndexError):
    """A download failed part way (a reset, a timeout, a cut body): worth resuming."""


class ResolutionError(TorchlockError):
    """The requirements cannot be satisfied together; the message says through which chain."""

    exit_code = 7


class SdistBuildError(TorchlockError):
    """An sdist's build backend could not say (or make) what the sdist builds.

    The message names the project, the version and the backend's last words; a project
    that needs torch or a CUDA toolkit at build time is named as such, with what to do.
    """

    exit_code = 8


class LockfileError(TorchlockError):
    """A lockfile or project spec is missing, unreadable or not what torchlock wrote.

    The message names the file, the place in it (a key path such as
    ``packages[3].wheels[0].hashes``, or a line and column) and what is wrong.
    """

    exit_code = 2

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        place: str | None = None,
        evidence: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        where = f"{path}: {place}" if place else path
        super().__init__(f"{where}: {problem}", evidence=evidence, hint=hint)
        self.path = path
        self.place = place
        self.problem = problem
