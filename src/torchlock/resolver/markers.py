"""Environment markers, evaluated for the target and never for the host.

``Marker.evaluate`` fills every key it is not given from the running interpreter.
To keep the host out, the target's mapping is completed with every standard key
before evaluation: a key the target does not state is the empty string, not the
host's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import NormalizedName

from torchlock.errors import ResolutionError

MARKER_KEYS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)


def target_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The target's marker environment with every standard key present."""
    full = dict.fromkeys(MARKER_KEYS, "")
    full.update(environment)
    full["extra"] = ""
    return full


def applies(
    marker: Marker | None,
    environment: Mapping[str, str],
    *,
    extras: Iterable[NormalizedName] = (),
    owner: str = "",
) -> bool:
    """Whether ``marker`` holds for the target (``environment`` from :func:`target_environment`).

    With ``extras``, whether it holds for at least one of them; without, for no extra.
    """
    if marker is None:
        return True
    choices = tuple(extras) or ("",)
    try:
        return any(marker.evaluate({**environment, "extra": extra}) for extra in choices)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as error:
        where = f" of {owner}" if owner else ""
        raise ResolutionError(
            f"cannot evaluate the environment marker{where}: {marker}",
            evidence=[str(error)],
            hint="state that value in the target environment, or report the marker to the package",
        ) from error
