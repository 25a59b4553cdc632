"""Options shared by several commands, and the host defaults they fall back to."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from torchlock.errors import InputError

if TYPE_CHECKING:
    from typing import IO

    from torchlock.artifacts import Artifact, BuildTorch
    from torchlock.index.sdists import SdistBuilder
    from torchlock.system.model import HostReport
    from torchlock.target import Platform
    from torchlock.workflows.solving import IndexSettings

F = TypeVar("F", bound=Callable[..., Any])

DRIVER_ENV = "TORCHLOCK_DRIVER"


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse a value given as an empty string (`--python ""`): it would read as not given."""
    values = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, str) and not v.strip() for v in values):
        raise click.BadParameter("an empty value; leave the option out for its default")
    return value


def driver_option(func: F) -> F:
    return click.option(
        "--driver",
        metavar="VERSION|none|auto",
        default=None,
        callback=not_empty,
        help=(
            "NVIDIA driver version to plan for (e.g. 525.85.05), 'none' for a host "
            f"without one, or 'auto' to detect it. Default: ${DRIVER_ENV}, else auto."
        ),
    )(func)


def selection_options(*, policy_default: str | None) -> Callable[[F], F]:
    """The flags that describe the target and steer the build selection (matrix, solve).

    ``policy_default`` None leaves --policy unset, for commands where a spec may give it.
    """
    policy_help = (
        "compat admits CUDA variants through minor version compatibility; "
        "strict needs each variant's own minimum driver."
    )
    if policy_default is None:
        policy_help += " Default: the spec's, else compat."
    options = [
        driver_option,
        click.option(
            "--os",
            "os_name",
            callback=not_empty,
            metavar="linux|windows|macos",
            help="Target OS. Default: this host's.",
        ),
        click.option(
            "--arch",
            metavar="x86_64|aarch64",
            callback=not_empty,
            help="Target architecture. Default: this host's.",
        ),
        click.option(
            "--gpu-cc",
            multiple=True,
            callback=not_empty,
            metavar="X.Y",
            help="Compute capability of a target GPU (repeat for several). "
            "Default: the detected GPUs.",
        ),
        click.option(
            "--python",
            metavar="X.Y",
            callback=not_empty,
            help="Target Python. Default: the Python torchlock runs on.",
        ),
        click.option(
            "--torch",
            "torch_spec",
            callback=not_empty,
            metavar="SPEC",
            help="torch version or range, e.g. 2.1.2, 2.1, '>=2.1,<2.4'.",
        ),
        click.option(
            "--variant",
            metavar="NAME",
            callback=not_empty,
            help="Force a build variant: cpu, cu118, cu121, ...",
        ),
        click.option(
            "--policy",
            default=policy_default,
            show_default=policy_default is not None,
            metavar="compat|strict",
            help=policy_help,
        ),
    ]

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def driver_setting(value: str | None) -> str:
    """The effective --driver value: the option, else $TORCHLOCK_DRIVER, else 'auto'."""
    if value is not None:
        return value.strip()
    env = os.environ.get(DRIVER_ENV, "").strip()
    if env and env.lower() not in ("auto", "none"):
        from torchlock.target import DriverVersion

        try:
            DriverVersion.parse(env)
        except InputError:  # said here: the message would not say where the value came from
            raise InputError(
                f"${DRIVER_ENV} is {env!r}, not an NVIDIA driver version",
                hint=f"set {DRIVER_ENV} as nvidia-smi prints the driver (e.g. 525.85.05), "
                "to none or auto, or unset it",
            ) from None
    return env or "auto"


def default_python() -> str:
    """The target Python when none is given: the one torchlock runs on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def detect_gpus(driver: str | None) -> HostReport:
    """Detection limited to the OS, driver and GPUs (what variant selection needs)."""
    from torchlock.system.detect import detect_from_environment

    return detect_from_environment(driver, gpu_only=True)


def host_platform(os_name: str | None, arch_name: str | None) -> Platform:
    """The target platform: the options when given, else this host's."""
    from torchlock.target import OS, Arch, Platform

    if os_name is not None:
        target_os = OS.parse(os_name)
    else:
        system = platform.system().lower()
        try:
            target_os = OS.parse(system)
        except InputError:
            raise InputError(
                f"torchlock does not know this host's operating system {platform.system()!r}",
                hint="give --os linux|windows|macos",
            ) from None
    if arch_name is not None:
        target_arch = Arch.parse(arch_name)
    else:
        try:
            target_arch = Arch.parse(platform.machine() or "unknown")
        except InputError:
            raise InputError(
                f"torchlock does not know this host's architecture {platform.machine()!r}",
                hint="give --arch x86_64|aarch64",
            ) from None
    return Platform(os=target_os, arch=target_arch)


def sdist_builder(settings: IndexSettings, with_torch: Sequence[str] = ()) -> SdistBuilder:
    """The builder that asks an sdist's build backend for its wheel's metadata.

    The backend runs on the Python torchlock runs on, in a fresh venv whose build
    requirements come from the solve's default index (by uv when it is on PATH, else by
    pip); the projects in ``with_torch`` get the target's torch there too. The machinery
    (build, tarfile, subprocess) is imported when an sdist first needs it: most solves
    meet none, and every cold solve would pay for the imports.
    """
    return _OnFirstSdist(settings, frozenset(with_torch))


class _OnFirstSdist:
    def __init__(self, settings: IndexSettings, with_torch: frozenset[str]) -> None:
        self._settings = settings
        self._with_torch = with_torch
        self._real: SdistBuilder | None = None

    def uses_torch(self, project: str) -> bool:
        from packaging.utils import canonicalize_name

        return canonicalize_name(project) in self._with_torch

    def wheel_metadata(
        self, sdist: IO[bytes], artifact: Artifact, *, torch: BuildTorch | None = None
    ) -> str:
        if self._real is None:
            import shutil

            from torchlock.envs.sdist_build import IsolatedBuilder
            from torchlock.system.runner import SubprocessRunner

            self._real = IsolatedBuilder(
                runner=SubprocessRunner(),
                python=sys.executable,
                index_url=self._settings.default_index,
                find_links=self._settings.find_links,
                environ=os.environ,
                uv=shutil.which("uv"),
                with_torch=self._with_torch,
            )
        return self._real.wheel_metadata(sdist, artifact, torch=torch)


class _Size(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A size in bytes: ``65536``, or with a binary suffix ``64K``, ``64M``, ``1G``."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in ("K", "M", "G") else ""
        digits = text[: len(text) - len(unit)]
        if not digits.isdigit() or int(digits) == 0:
            self.fail(f"{value!r} is not a size (give bytes, or e.g. 64M)", param, ctx)
        return int(digits) * self._UNITS[unit]


SIZE = _Size()
