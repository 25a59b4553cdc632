"""``torchlock system plan|apply COMPONENT``: the host steps before any environment exists."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import click

from torchlock.errors import InputError
from torchlock.system.components import COMPONENTS, SOURCES, plan
from torchlock.system.steps import Plan, TargetOs, target_os_for

STATE_ENV = "TORCHLOCK_STATE_DIR"


def host_target_os() -> TargetOs | None:
    """This host as a :class:`TargetOs`, None when torchlock does not plan for it."""
    if platform.system() == "Windows":
        return TargetOs.WINDOWS
    if platform.system() != "Linux":
        return None
    from torchlock.system.files import read_text
    from torchlock.system.os_release import parse_os_release

    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = read_text(path)
        if text is not None:
            release = parse_os_release(text)
            return target_os_for(release.id, release.version_id, windows=False)
    return None


def _target(os_name: str | None) -> TargetOs:
    if os_name is not None:
        return TargetOs.parse(os_name)
    found = host_target_os()
    if found is None:
        raise InputError(
            "torchlock does not plan for this host's operating system",
            hint="give --os " + "|".join(t.value for t in TargetOs),
        )
    return found


def default_state_dir() -> Path:
    """$TORCHLOCK_STATE_DIR, else the user state directory (~/.local/state/torchlock)."""
    explicit = os.environ.get(STATE_ENV, "").strip()
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "torchlock" / "state"
    base = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(base) / "torchlock"


def _build(component: str, os_name: str | None, version: str | None, source: str | None) -> Plan:
    return plan(component, _target(os_name), version, source=source)


_component = click.argument("component", metavar="COMPONENT")
_os = click.option(
    "--os",
    "os_name",
    metavar="OS",
    default=None,
    help="Target OS: " + ", ".join(t.value for t in TargetOs) + ". Default: this host.",
)
_version = click.option(
    "--version",
    "version",
    metavar="V",
    default=None,
    help="What to install, e.g. 525.85.05 (driver), 12.0.1 (cuda), 1.30.4 (nginx).",
)
_source = click.option(
    "--source",
    "source",
    metavar="NAME",
    default=None,
    help="Where from: "
    + "; ".join(f"{name}: {'|'.join(srcs)}" for name, srcs in SOURCES.items())
    + " (the first is the default).",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")


@click.group("system")
def system() -> None:
    """Plan and apply the host components: COMPONENT is one of driver, cuda, conda, nginx, git.

    `plan` prints the steps; `apply --yes` runs them, skipping the ones already done.
    """


@system.command("plan")
@_component
@_os
@_version
@_source
@_json
def plan_command(
    component: str, os_name: str | None, version: str | None, source: str | None, as_json: bool
) -> None:
    """Print the ordered steps that install COMPONENT, with their checks and downloads."""
    from torchlock.system.render import render_json, render_text

    built = _build(component, os_name, version, source)
    click.echo(render_json(built) if as_json else render_text(built), nl=False)


def _privilege() -> tuple[bool, str | None]:
    import shutil

    if sys.platform == "win32":
        import ctypes

        try:
            admin = bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined,unused-ignore]
        except (AttributeError, OSError):
            admin = False
        return admin, None
    return os.geteuid() == 0, shutil.which("sudo")


def _clock() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@system.command("apply")
@_component
@_os
@_version
@_source
@click.option("--yes", is_flag=True, help="Really change this host (required).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where the log and state file go. Default: ${STATE_ENV}, else ~/.local/state/torchlock.",
)
@_json
def apply_command(
    component: str,
    os_name: str | None,
    version: str | None,
    source: str | None,
    yes: bool,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Run COMPONENT's steps on this host, in order; satisfied steps are skipped.

    Stops at the first failure with the command, its exit status and the end of its
    output; run it again after a fix and it continues where it stopped.
    """
    built = _build(component, os_name, version, source)
    host = host_target_os()
    if host is not built.os:
        raise InputError(
            f"apply runs on this host, which is not {built.os.value}"
            + (f" (it is {host.value})" if host else ""),
            hint="leave out --os, or use `torchlock system plan` to see another OS's steps",
        )
    if not yes:
        raise InputError(
            f"apply changes this host ({len(built.steps)} steps for {built.component}): "
            "give --yes to run it",
            hint=f"`torchlock system plan {built.component}` shows the steps first",
        )
    from torchlock.system.apply import Privilege, apply_plan
    from torchlock.system.runner import SubprocessStreamingRunner

    is_root, sudo = _privilege()

    def report(line: str) -> None:
        click.echo(line, err=as_json)

    result = apply_plan(
        built,
        runner=SubprocessStreamingRunner(),
        state_dir=state_dir or default_state_dir(),
        privilege=Privilege(is_root=is_root, sudo=sudo),
        clock=_clock,
        report=report,
    )
    if as_json:
        document = {
            "component": result.component,
            "os": built.os.value,
            "version": built.version,
            "steps": [{"id": o.id, "status": o.status.value} for o in result.outcomes],
            "reboot_required": result.reboot_required,
            "log": str(result.log),
        }
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    elif result.reboot_required:
        click.echo(
            f"reboot required: reboot this machine, then run `torchlock system apply "
            f"{built.component} --yes` again to continue (log: {result.log})"
        )
    else:
        click.echo(f"{built.component}: every step satisfied (log: {result.log})")


__all__ = ["COMPONENTS", "apply_command", "plan_command", "system"]
