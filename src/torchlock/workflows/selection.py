"""The build selection use case: the matrix asked for one target's torch builds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from msgspec import Struct

from torchlock.errors import DetectionError, NoCandidateError
from torchlock.matrix.load import load_matrix
from torchlock.matrix.request import build_request
from torchlock.matrix.select import Selection, select
from torchlock.target import DriverVersion, Platform

if TYPE_CHECKING:
    from torchlock.system.model import HostReport

Detect = Callable[[str | None], "HostReport"]


class SelectionInputs(Struct, frozen=True, kw_only=True):
    """What the user asked for; None means 'from this host'."""

    platform: Platform
    python: str
    driver: str = "auto"  # VERSION, "none" or "auto"
    gpu_cc: Sequence[str] = ()
    torch: str | None = None
    variant: str | None = None
    policy: str = "compat"


def choose_build(inputs: SelectionInputs, *, detect: Detect) -> Selection:
    """Run the selection, detecting the driver and GPUs only when they were not given.

    Raises NoCandidateError (with one line per distinct exclusion) when nothing fits.
    """
    key = inputs.driver.strip().lower()
    explicit = key != "auto"
    version = None if key in ("auto", "none") else DriverVersion.parse(inputs.driver)
    gpus = list(inputs.gpu_cc)
    if not explicit or (version is not None and not gpus):
        report = detect(None if version is None else str(version))
        if not explicit:
            if report.driver.status.value == "broken":  # a CPU build would hide the fault
                raise DetectionError(
                    "the NVIDIA driver is installed but not answering",
                    evidence=[report.driver.detail] if report.driver.detail else [],
                    hint="mend the driver first (torchlock doctor says what is wrong), or "
                    "plan anyway with --driver VERSION, or --driver none for a CPU build",
                )
            version = report.driver.version
        if not gpus:
            gpus = [str(g.compute_capability) for g in report.gpus if g.compute_capability]
    matrix = load_matrix()
    request = build_request(
        matrix,
        platform=inputs.platform,
        python=inputs.python,
        driver=version,
        gpu_cc=gpus,
        torch=inputs.torch,
        variant=inputs.variant,
        policy=inputs.policy,
    )
    selection = select(matrix, request)
    if not selection.candidates:
        raise NoCandidateError(
            "no torch build fits the request",
            evidence=_summary(selection),
            hint="relax --torch, --variant or --python, or use a newer driver",
        )
    return selection


def _summary(selection: Selection) -> list[str]:
    from torchlock.matrix.report import summarize_exclusions  # only a failure needs it

    return summarize_exclusions(selection.excluded)
