"""The documented JSON shape of a selection (``torchlock matrix --json``)."""

from __future__ import annotations

from typing import Any

from torchlock.matrix.select import Candidate, Exclusion, Selection


def candidate_doc(candidate: Candidate) -> dict[str, Any]:
    release = candidate.release
    return {
        "torch": str(release.torch),
        "torchvision": None if release.torchvision is None else str(release.torchvision),
        "torchaudio": None if release.torchaudio is None else str(release.torchaudio),
        "variant": candidate.variant.name,
        "cuda": candidate.variant.cuda_version,
        "index_url": candidate.index_url,
        "default_index_has_it": candidate.default_index_has_it,
    }


def selection_doc(selection: Selection) -> dict[str, Any]:
    request = selection.request
    best = selection.recommended
    return {
        "input": {
            "driver": None if request.driver is None else str(request.driver),
            "os": request.platform.os.value,
            "arch": request.platform.arch.value,
            "gpu_cc": [str(cc) for cc in request.gpus],
            "python": str(request.python),
            "torch": None if request.torch is None else str(request.torch),
            "variant": request.variant,
            "policy": request.policy.value,
        },
        "max_cuda": selection.max_cuda_version,
        "recommended": None if best is None else candidate_doc(best),
        "candidates": [candidate_doc(c) for c in selection.candidates],
        "excluded": [
            {"torch": str(e.torch), "variant": e.variant, "reason": e.reason}
            for e in selection.excluded
        ],
        "warnings": list(selection.warnings),
        "reasons": list(selection.reasons),
    }


def summarize_exclusions(excluded: tuple[Exclusion, ...], limit: int = 6) -> list[str]:
    """One line per distinct reason, naming the torch releases it hit, most frequent first."""
    groups: dict[tuple[str | None, str], list[str]] = {}
    for item in excluded:
        groups.setdefault((item.variant, item.reason), []).append(str(item.torch))
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    lines = []
    for (variant, reason), torches in ranked[:limit]:
        span = (
            f"torch {torches[0]}"
            if len(torches) == 1
            else f"{len(torches)} releases, {torches[-1]} ... {torches[0]}"
        )
        lines.append(f"{variant or 'any variant'} ({span}): {reason}")
    if len(ranked) > limit:
        lines.append(f"... and {len(ranked) - limit} more (--json lists every exclusion)")
    return lines
